"""Review's Save: whatever stops it is said at the top of the screen within a second, in
the operator's words, and the warnings gone on with are listed with their screen."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from harbor_wizard.views.app import WizardApp
from tests.tui.conftest import SIZE
from tests.tui.offline import app_on

SOON = 1.0
"""Seconds within which Save must have said what stopped it (issue 16)."""


def status(app: WizardApp) -> str:
    return str(app.screen.query_one("#status").render())


async def save_as(pilot: Pilot[Any], target: Path) -> float:
    """Type the file name, press F2, wait (up to 10 s) until Save says how it went; return
    the seconds it took."""
    app = pilot.app
    app.screen.query_one("#path").value = str(target)
    await pilot.pause()
    app.screen.query_one("#status").update("")
    started = time.monotonic()
    await pilot.press("f2")
    while time.monotonic() - started < 10:
        shown = status(app)
        if shown and not shown.startswith("Saving"):
            break
        await pilot.pause(0.02)
    return time.monotonic() - started


async def test_save_with_an_invalid_draft_lists_its_problems_at_the_top_at_once(
    tmp_path: Path,
) -> None:
    app = app_on("review")
    app.draft.set("database.port", 99999)
    app.draft.set("harbor.hostname", None)
    problems = app.draft.problems()
    assert set(problems) >= {"database.port", "harbor.hostname"}
    async with app.run_test(size=SIZE) as pilot:
        took = await save_as(pilot, tmp_path / "answers.yaml")
        shown = status(app)
        assert took < SOON, (took, shown)
        assert shown.startswith(f"error: not saved: {len(problems)} answer(s) to fix"), shown
        flat = " ".join(shown.split())  # the lines wrap at 80 columns
        assert f"3 Harbor DB, database.port: {' '.join(problems['database.port'].split())}" in flat
        assert "1 Topology, harbor.hostname:" in flat
        for raw in ("type=", "input_value", "validation error", "pydantic"):
            assert raw not in shown
        # At the top: between the file name and the scrolling part, not at the bottom.
        top = app.screen.query_one("#status").region
        assert top.y < app.screen.query_one("#review").region.y
        assert top.y <= 3
        assert not (tmp_path / "answers.yaml").exists()
        assert app.saved is None
        text = str(app.screen.query_one("#answers-text").render())
        assert "Not written" in text
        assert "Input should" not in text


async def test_a_file_that_cannot_be_written_is_said_at_once(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    app = app_on("review")
    async with app.run_test(size=SIZE) as pilot:
        took = await save_as(pilot, tmp_path / "a-file" / "answers.yaml")
        shown = " ".join(status(app).split())
        assert took < SOON, (took, shown)
        assert shown.startswith(f"error: not saved: cannot write {tmp_path}/a-file"), shown
        assert "Choose another folder or file name in 'Save as'" in shown
        assert "Errno" not in shown
        assert app.saved is None


async def test_an_unexpected_failure_ends_saving_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("the planner tripped")

    monkeypatch.setattr("harbor_wizard.screens.review.save", broken)
    app = app_on("review")
    async with app.run_test(size=SIZE) as pilot:
        took = await save_as(pilot, tmp_path / "answers.yaml")
        shown = " ".join(status(app).split())
        assert took < SOON, (took, shown)
        assert shown.startswith("error: saving or planning stopped: the planner tripped"), shown
        assert "Traceback" not in shown


async def test_a_save_that_does_not_return_says_so_and_quitting_does_not_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def stuck(*args: Any) -> Any:  # a keyring waiting for a password nobody types
        release.wait(60)
        raise RuntimeError("released")

    monkeypatch.setattr("harbor_wizard.screens.review.save", stuck)
    monkeypatch.setattr("harbor_wizard.screens.review.SLOW", 0.3)
    app = app_on("review")
    try:
        async with app.run_test(size=SIZE) as pilot:
            app.screen.query_one("#path").value = str(tmp_path / "answers.yaml")
            await pilot.press("f2")
            started = time.monotonic()
            while "Still saving" not in status(app) and time.monotonic() - started < 5:
                await pilot.pause(0.05)
            assert "a keyring may be asking for its password" in " ".join(status(app).split())
            await pilot.press("ctrl+q")
            quitting = time.monotonic()
        assert time.monotonic() - quitting < SOON  # the app did not wait for the save
    finally:
        release.set()


async def test_warnings_gone_on_with_are_listed_with_their_screen() -> None:
    app = app_on("review")
    alone = "Redis at 10.0.0.5:6379 has no replica and no Sentinel watches it"
    app.draft.acknowledged["redis.ha redis"] = alone
    for node in ("harbor01", "harbor02"):
        app.draft.acknowledged[f"storage.job_logs {node}"] = f"{node}: /data/job_logs is local"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        listed = str(app.screen.query_one("#warnings").render())
        assert listed.startswith("Warnings you chose to go on with (3):"), listed
        flat = " ".join(listed.split())
        assert f"warning (5 Redis): {alone}" in flat
        assert "warning (6 Storage): harbor01, harbor02: /data/job_logs is local" in flat


async def test_the_scroll_area_says_when_it_has_the_focus() -> None:
    app = app_on("review")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        hint = app.screen.query_one("#details-focus")
        assert str(hint.render()).startswith("  Details")
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#review")
        assert str(hint.render()).startswith("> Details: Up/Down, PgUp/PgDn scroll")
        assert str(app.screen.query_one("#save-as").render()).startswith("  Save as")
        await pilot.press("shift+tab")
        await pilot.pause()
        assert str(hint.render()).startswith("  Details")
        assert str(app.screen.query_one("#save-as").render()).startswith("> Save as")
