"""The event adapter: thread-safe, in order, and a flood of output becomes a few batches."""

from __future__ import annotations

import threading

from textual.app import App, ComposeResult
from textual.widgets import Static

from harbor_wizard.events import Outcome, OutputLine, RunFinished, StepFinished, StepStarted
from harbor_wizard.views.progress import Progress
from harbor_wizard.views.tui_events import RunEvents, TuiSink


class Collector(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.progress = Progress()

    def compose(self) -> ComposeResult:
        yield Static("")

    def on_run_events(self, message: RunEvents) -> None:
        self.batches.append(len(message.events))
        for event in message.events:
            self.progress.apply(event)
        message.sink.drained()


async def test_a_flood_from_threads_arrives_whole_in_order_and_in_few_batches() -> None:
    app = Collector()
    async with app.run_test() as pilot:
        sink = TuiSink(app)

        def host(name: str) -> None:
            sink(StepStarted(phase="p", host=name, step="install", title="install.sh"))
            for i in range(2000):
                sink(OutputLine(host=name, step="install", text=f"line {i}"))
            sink(StepFinished(phase="p", host=name, step="install", outcome=Outcome.CHANGED,
                              message="installed", seconds=1.0))  # fmt: skip

        threads = [threading.Thread(target=host, args=(f"h{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sink(RunFinished(ok=True, message="done", seconds=3.0))
        while app.progress.finished is None:
            await pilot.pause(0.01)
        assert sum(app.batches) == 3 * 2002 + 1
        assert len(app.batches) < 3 * 2002 / 10  # coalesced, not one message per line
        for i in range(3):
            state = app.progress.steps[(f"h{i}", "install")]
            assert state.status == "changed"
            assert list(state.output)[-2:] == ["line 1999", "installed"]
        assert app.progress.totals_text() == "3/3 steps: 3 changed"
