"""Every screen at 80x24, as pictures (pytest-textual-snapshot).

Update after a deliberate change, serially: `pytest tests/tui/test_snapshots.py
--snapshot-update -p no:xdist`, then look at each changed SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from harbor_wizard.views.app import WizardApp
from tests.support.deployment import ANSWERS_2X, https
from tests.tui.offline import app_on

FORMS = ["topology", "load_balancers", "database", "clair_database", "redis", "storage",
         "ssh_access"]  # fmt: skip


@pytest.fixture(autouse=True)
def _steady(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    monkeypatch.chdir(tmp_path)


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()  # the first screen is composed after the app is ready
    for widget in pilot.app.screen.query("Input"):
        widget.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.pause()


def at(screen: str, text: str | None = None) -> WizardApp:
    app = app_on(screen) if text is None else app_on(screen, text)
    app.draft.path = Path("/srv/harbor/answers.yaml")
    return app


@pytest.mark.parametrize("screen", FORMS)
def test_form_screens(snap_compare: Any, screen: str) -> None:
    assert snap_compare(at(screen), terminal_size=(80, 24), run_before=_settle)


@pytest.mark.parametrize("screen", ["topology", "database", "redis"])
def test_harbor_2_screens(snap_compare: Any, screen: str) -> None:
    """The screens whose fields follow the release, for Harbor 2.15 (PostgreSQL, Trivy,
    Redis with a password)."""
    assert snap_compare(at(screen, ANSWERS_2X), terminal_size=(80, 24), run_before=_settle)


def test_certificates(snap_compare: Any) -> None:
    assert snap_compare(at("certificates", https()), terminal_size=(80, 24), run_before=_settle)


def test_start(snap_compare: Any) -> None:
    assert snap_compare(WizardApp(), terminal_size=(80, 24), run_before=_settle)


def test_help(snap_compare: Any) -> None:
    assert snap_compare(at("topology"), press=["f1"], terminal_size=(80, 24))


def test_refused_next_shows_errors_as_text(snap_compare: Any) -> None:
    async def break_it(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.screen.query_one("#database-port").value = "99999"
        await pilot.press("f2")
        await _settle(pilot)

    assert snap_compare(at("database"), terminal_size=(80, 24), run_before=break_it)


def test_review(snap_compare: Any) -> None:
    async def places(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await _settle(pilot)

    assert snap_compare(at("review"), terminal_size=(80, 24), run_before=places)


def test_ascii_look(snap_compare: Any) -> None:
    assert snap_compare(
        app_on("load_balancers", ascii_only=True), terminal_size=(80, 24), run_before=_settle
    )
