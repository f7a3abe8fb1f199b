"""Leaving the guided mode during an install stops the run as the unattended Ctrl-C does:
Ctrl+Q (answered) lets the running steps finish, then exits 130 saying how to resume, and
that command, run unattended, completes the install; SIGTERM does the same with 143, and a
second SIGTERM stops at once. Meanwhile the screen follows install.sh's output live and
offers Abort, not Retry or Done."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Log, Static
from textual.widgets._footer import FooterKey

from harbor_wizard.deploy import Install
from harbor_wizard.inputs import load_inputs
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.saving import Saved
from tests.install.test_silent_hosts_lab import ours_running, slow_install
from tests.lab import Lab
from tests.tui.conftest import SIZE, screen_name

pytestmark = [pytest.mark.lab, pytest.mark.slow]

COMMAND = str(Path(sys.executable).with_name("harbor-wizard"))


def installing(answers: Path, secrets: Path) -> WizardApp:
    """The app on its install screen with a saved deployment, as after Review's Save."""
    inputs = load_inputs(answers, secrets)
    app = WizardApp(first="install")
    app.saved = Saved(answers, inputs, Install(inputs), [])
    return app


async def until(pilot: Pilot[Any], condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.1)


def running(app: WizardApp, host: str, step: str) -> bool:
    state = app.screen.progress.steps.get((host, step)) if hasattr(app.screen, "progress") else None
    return state is not None and state.status == "running"


def unattended(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`harbor-wizard ARGS` with this test's state folder: the journal skips what is done."""
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture
def deployment(fresh_lab: Lab, tmp_path: Path) -> tuple[Path, Path]:
    return fresh_lab.write_answers(tmp_path)


async def test_quit_during_the_install_finishes_the_step_and_says_how_to_resume(
    fresh_lab: Lab, deployment: tuple[Path, Path]
) -> None:
    slow_install(fresh_lab, "harbor01", 6)
    app = installing(*deployment)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: running(app, "harbor01", "install.sh"), 120, "install.sh")
            screen = app.screen
            state = screen.progress.steps[("harbor01", "install.sh")]
            output = screen.query_one("#output", Log)
            await until(pilot, lambda: "starting Harbor" in "".join(output.lines), 30, "output")
            heading = str(screen.query_one("#heading", Static).render())
            assert "following the running step" in heading
            assert "harbor01: ./install.sh" in heading
            assert [line.strip() for line in output.lines] == [
                line.strip() for line in state.output
            ]  # live, while it runs
            offered = {k.description for k in screen.query(FooterKey) if not k.disabled}
            assert "Abort" in offered
            assert not offered & {"Retry", "Done"}, offered
            await pilot.press("ctrl+q")
            await until(pilot, lambda: screen_name(pilot) == "ConfirmScreen", 5, "the question")
            await pilot.press("tab", "enter")  # Yes
            await until(pilot, lambda: app.return_code is not None, 60, "the exit")
            install = app.saved.install
            assert app.return_code == 130
            done = install.journal.steps.get("harbor01", {})
            assert "install.sh" in done  # the running step finished
    finally:
        fresh_lab["harbor01"].run("rm -f /data/harbor-standin/up-seconds")
    assert install.last_completed() in app.farewell
    assert ours_running(fresh_lab) == {}
    resume = re.search(r"To resume: (.+?) \(or", app.farewell)
    assert resume is not None, app.farewell
    words = shlex.split(resume.group(1))
    assert words == ["harbor-wizard", "--answers", str(deployment[0]), "--secrets",
                     str(deployment[1])]  # fmt: skip
    done = unattended(words[1:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"harbor01 install.sh: (skipped|unchanged)", done.stdout), done.stdout


async def test_sigterm_twice_during_the_install_stops_at_once(
    fresh_lab: Lab, deployment: tuple[Path, Path]
) -> None:
    for node in ("harbor01", "harbor02", "harbor03"):
        slow_install(fresh_lab, node, 120)
    app = installing(*deployment)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: running(app, "harbor01", "install.sh"), 120, "install.sh")
            app._terminated()  # what the loop's SIGTERM handler calls
            await pilot.pause(0.5)
            assert app.return_code is None  # the first one waits for the running steps
            second = time.monotonic()
            app._terminated()
            await until(pilot, lambda: app.return_code is not None, 10, "the exit")
            took = time.monotonic() - second
    finally:
        for node in ("harbor01", "harbor02", "harbor03"):
            fresh_lab[node].run("rm -f /data/harbor-standin/up-seconds")
    assert app.return_code == 143
    assert took < 3.0
    assert "To resume: harbor-wizard --answers" in app.farewell
    assert ours_running(fresh_lab) == {}
