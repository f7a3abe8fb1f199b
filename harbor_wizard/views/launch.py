"""Starting the guided mode: a terminal check, the ASCII look, and the app itself.

Why a module apart from cli.py: the unattended commands must never import Textual; the
CLI imports this only when it is about to show the TUI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harbor_wizard.views.draft import Draft


def utf8_terminal(environ: Mapping[str, str] = os.environ) -> bool:
    """The locale the operator's terminal decodes: LC_ALL, else LC_CTYPE, else LANG.

    Python writes UTF-8 whatever the locale (PEP 538), but a terminal set to another
    encoding shows box and block glyphs as garbage, so such terminals get ASCII only.
    """
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(name, "")
        if value:
            return "utf-8" in value.lower() or "utf8" in value.lower()
    return False


def ascii_wanted(flag: bool, environ: Mapping[str, str] = os.environ) -> bool:
    setting = environ.get("HARBOR_WIZARD_ASCII", "")
    if flag or setting in ("1", "yes", "true"):
        return True
    if setting in ("0", "no", "false"):
        return False
    return not utf8_terminal(environ)


def open_draft(path: Path, secrets: Path | None = None) -> Draft:
    """The answers file `--edit` opens, with its secrets found as `--answers` finds them:
    the `--secrets` file first when given (else the one beside the answers file), then the
    environment and the keyring. InvalidInput when either file cannot be used."""
    from harbor_wizard import redact
    from harbor_wizard.secrets import SecretResolver
    from harbor_wizard.views.draft import Draft

    draft = Draft.from_file(path)
    draft.secrets_file = secrets
    if secrets is not None:
        resolver = SecretResolver(
            str(draft.get("name") or "deployment"),
            secrets_file=secrets,
            notify=lambda message: None,
        )
        for secret in draft.secret_paths():
            value = resolver.find(secret)
            if value is not None:
                redact.register(value)
                draft.secrets[secret] = value
    draft.find_secrets()  # the rest: what --secrets does not hold
    return draft


def run_tui(
    edit: Path | None = None, *, secrets: Path | None = None, ascii_only: bool = False
) -> int:
    """Run the TUI until the operator leaves it; the exit status of the wizard."""
    from harbor_wizard.views.app import WizardApp

    draft = open_draft(edit, secrets) if edit is not None else None
    app = WizardApp(draft, ascii_only=ascii_wanted(ascii_only))
    result = app.run(mouse=False)
    sys.stdout.flush()
    if app.farewell:
        print(app.farewell, file=sys.stderr)
    if app.aborted:  # a step may still hang in a database call: do not wait for it
        sys.stderr.flush()
        os._exit(app.return_code or 0)
    if isinstance(result, int):
        return result
    return app.return_code or 0
