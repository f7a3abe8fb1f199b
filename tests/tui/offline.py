"""A complete deployment for Pilot tests that need no lab (tests.support.deployment)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from harbor_wizard.answers import InvalidInput, loads
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft, parse_path
from harbor_wizard.views.tree_merge import plain
from tests.support.deployment import ANSWERS, SECRETS, SECRETS_2X

NEVER = 3600.0
"""A debounce no test outlives: the live checks of these tests never start."""


def draft(text: str = ANSWERS, path: Path | None = None) -> Draft:
    result = Draft(plain(YAML().load(text)), path=path)
    result.secrets.update(SECRETS if result.release() == "1.4" else SECRETS_2X)
    return result


def app_on(screen: str, text: str = ANSWERS, **kw: Any) -> WizardApp:
    kw.setdefault("debounce", NEVER)
    return WizardApp(draft(text), first=screen, **kw)


def loader_message(path: str, value: Any, text: str = ANSWERS) -> str:
    """What `--answers` says about this one value: the file loader's words."""
    data = plain(YAML().load(text))
    node = data
    parts = parse_path(path)
    for part in parts[:-1]:
        node = node[part]
    if value in ("", None):
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    stream = io.StringIO()
    YAML().dump(data, stream)
    with pytest.raises(InvalidInput) as raised:
        loads(stream.getvalue())
    messages = [p.message for p in raised.value.problems if p.path == path]
    assert messages, [str(p) for p in raised.value.problems]
    return messages[0]
