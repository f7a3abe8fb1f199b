"""The install screen without a lab: footer keys that match the state, the running step's
output followed live until the operator moves the cursor, and Done pressed, never jumped to.

The run here plays events the test hands it (`Scripted`): the screen sees only events, as
from the runner. The real runner's events on the lab: test_install_stop_lab, test_lab_flow.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Log, Static
from textual.widgets._footer import FooterKey

from harbor_wizard.deploy import Install
from harbor_wizard.events import Event, Outcome, OutputLine, StepFinished, StepStarted
from harbor_wizard.inputs import load_inputs
from harbor_wizard.runner import RunResult
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.saving import Saved
from tests.support.deployment import write_deployment
from tests.tui.conftest import SIZE, screen_name


class Scripted(Install):
    """deploy.Install whose run emits what the test feeds it, until a RunResult."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.feed: queue.Queue[Event | RunResult] = queue.Queue()
        self.stopped = False

    def run(self, sink: Any) -> RunResult:
        while True:
            item = self.feed.get(timeout=60)
            if isinstance(item, RunResult):
                return item
            sink(item)

    def cancel(self) -> None:
        self.stopped = True

    @property
    def cancelled(self) -> bool:
        return self.stopped


@pytest.fixture
def app(tmp_path: Path) -> Iterator[WizardApp]:
    answers, secrets = write_deployment(tmp_path)
    inputs = load_inputs(answers, secrets, notify=lambda _: None)
    wizard = WizardApp(first="install")
    wizard.saved = Saved(answers, inputs, Scripted(inputs), [])
    yield wizard
    wizard.saved.install.feed.put(RunResult(ok=False, message="test over"))


def feed(app: WizardApp, *items: Event | RunResult) -> None:
    for item in items:
        app.saved.install.feed.put(item)


def keys(pilot: Pilot[Any]) -> set[str]:
    """What the footer offers now."""
    return {key.description for key in pilot.app.screen.query(FooterKey) if not key.disabled}


def output(pilot: Pilot[Any]) -> list[str]:
    return list(pilot.app.screen.query_one("#output", Log).lines)


def text(pilot: Pilot[Any], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).render())


async def until(pilot: Pilot[Any], condition: Any, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def started(key: tuple[str, str], title: str = "") -> StepStarted:
    return StepStarted(phase="p", host=key[0], step=key[1], title=title or key[1])


def finished(key: tuple[str, str], outcome: Outcome = Outcome.CHANGED, message: str = "") -> Any:
    return StepFinished(
        phase="p", host=key[0], step=key[1], outcome=outcome, message=message, seconds=0.1
    )


async def test_footer_keys_match_the_state_and_done_is_a_key_not_a_jump(app: WizardApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.running, "the run")
        await pilot.pause()
        assert keys(pilot) >= {"Abort"}
        assert not keys(pilot) & {"Retry", "Done"}, keys(pilot)

        first = next(iter(screen.nodes))
        feed(app, started(first), OutputLine(host=first[0], step=first[1], text="boom"))
        feed(app, finished(first, Outcome.FAILED, "it broke"))
        feed(app, RunResult(ok=False, message="phase 'preflight' failed"))
        await until(pilot, lambda: not screen.running, "the failure")
        await pilot.pause()
        assert "Retry" in keys(pilot)
        assert not keys(pilot) & {"Abort", "Done"}, keys(pilot)
        assert "error: phase 'preflight' failed" in text(pilot, "#status")
        assert output(pilot)[-2:] == ["boom", "it broke"]  # the failed step's output

        await pilot.press("f2")  # Done is not offered after a failure
        await pilot.pause()
        assert screen_name(pilot) == "InstallScreen"
        await pilot.press("f4")
        await until(pilot, lambda: screen.running, "the retry")
        await pilot.pause()
        assert "Abort" in keys(pilot)
        assert not keys(pilot) & {"Retry", "Done"}, keys(pilot)

        feed(app, started(first), finished(first), RunResult(ok=True, message="done"))
        await until(pilot, lambda: not screen.running, "the end")
        await pilot.pause(1.0)
        assert screen_name(pilot) == "InstallScreen"  # the tree stays
        assert "Done" in keys(pilot)
        assert not keys(pilot) & {"Abort", "Retry"}, keys(pilot)
        assert "F2 Done" in text(pilot, "#status")
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(pilot) == "DoneScreen", "the Done screen")


async def test_the_running_steps_output_is_followed_until_the_cursor_moves(
    app: WizardApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.running, "the run")
        tree = screen.query_one("#progress")
        lb01 = [key for key in screen.nodes if key[0] == "lb01"]
        lb02 = [key for key in screen.nodes if key[0] == "lb02"]
        one, two, three = lb01[0], lb01[1], lb02[0]  # one is just above two in the tree

        feed(app, started(one, "step one"), OutputLine(host=one[0], step=one[1], text="one 1"))
        await until(pilot, lambda: output(pilot) == ["one 1"], "the first line")
        assert tree.cursor_node is screen.nodes[one]
        assert "(following the running step)" in text(pilot, "#heading")
        assert "Follow" not in keys(pilot)

        for n in range(2, 40):  # each line as it arrives, none twice
            feed(app, OutputLine(host=one[0], step=one[1], text=f"one {n}"))
        await until(pilot, lambda: len(output(pilot)) == 39, "the flood")
        assert output(pilot) == [f"one {n}" for n in range(1, 40)]

        feed(app, finished(one), started(two, "step two"))
        feed(app, OutputLine(host=two[0], step=two[1], text="two 1"))
        await until(pilot, lambda: output(pilot) == ["two 1"], "the next step's output")
        await pilot.pause()
        assert tree.cursor_node is screen.nodes[two]

        await pilot.press("up")  # the operator looks at the step before
        await until(pilot, lambda: not screen.following, "following to stop")
        await pilot.pause()
        assert tree.cursor_node is screen.nodes[one]
        assert output(pilot)[-1] == "one 39"
        assert "Follow" in keys(pilot)
        assert "F8 follows the running step" in text(pilot, "#heading")

        feed(app, OutputLine(host=two[0], step=two[1], text="two 2"), started(three, "three"))
        feed(app, OutputLine(host=three[0], step=three[1], text="three 1"))
        await until(pilot, lambda: screen.progress.steps[three].lines == 1, "step three")
        await pilot.pause(0.2)
        assert tree.cursor_node is screen.nodes[one]  # not moved away from the operator
        assert output(pilot)[-1] == "one 39"

        await pilot.press("f8")
        await until(pilot, lambda: output(pilot) == ["three 1"], "following again")
        await pilot.pause()
        assert tree.cursor_node is screen.nodes[three]
        assert screen.following
        assert "Follow" not in keys(pilot)

        await pilot.press("up")  # onto lb02's own line: not a step, still the operator's move
        await until(pilot, lambda: not screen.following, "following to stop on a host")
        assert str(tree.cursor_node.label) == "lb02"
        assert output(pilot) == ["three 1"]  # the last step shown stays
