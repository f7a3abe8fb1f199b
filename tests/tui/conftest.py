"""Pilot helpers: fill fields the way an edit does, wait for live checks, read the screen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from harbor_wizard import redact
from harbor_wizard.views.fields import Choice, FieldRow, slug

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Logs and journals of test runs go to a temp folder; no keyring; no stray secrets."""
    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in [n for n in os.environ if n.startswith("HARBOR_WIZARD_")]:
        if name != "HARBOR_WIZARD_STATE_DIR":
            monkeypatch.delenv(name)
    yield
    redact.forget_all()


def editor(pilot: Pilot[Any], path: str) -> Any:
    return pilot.app.screen.query_one(f"#{slug(path)}")


def row(pilot: Pilot[Any], path: str) -> FieldRow:
    return pilot.app.screen.query_one(f"#row-{slug(path)}", FieldRow)


async def fill(pilot: Pilot[Any], values: dict[str, Any]) -> None:
    """Set each field as an edit would (Input.Changed / Choice.Changed), in order."""
    for path, value in values.items():
        widget = editor(pilot, path)
        if isinstance(widget, Choice):
            if isinstance(value, bool):
                value = "yes" if value else "no"
            widget.value = str(value)
        else:
            assert isinstance(widget, Input)
            widget.value = "" if value is None else str(value)
        await pilot.pause()


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every live check of the screen has answered and been painted."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def message(pilot: Pilot[Any], path: str) -> str:
    return str(row(pilot, path).query_one(".message").render())


def status(pilot: Pilot[Any], path: str) -> str:
    return str(row(pilot, path).query_one(".status").render())


def screen_name(pilot: Pilot[Any]) -> str:
    return type(pilot.app.screen).__name__


@pytest.fixture
def fresh_lab(lab: Any) -> Any:
    """The session lab as before any install (another test may have installed on it)."""
    from tests.support.lab_state import reset

    reset(lab)
    yield lab
    reset(lab)
