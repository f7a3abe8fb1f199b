"""Install: the live tree (host > step, status, time) fed only by the runner's events.

The run is ``deploy.Install``, as unattended: the same plan, journal (resume) and log.
F4 retries after a fix (the same run again: steps are idempotent and the journal skips
what is done); F9 aborts, after asking: no new step starts, running ones finish, as on
Ctrl-C unattended.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static, Tree
from textual.widgets.tree import TreeNode

from harbor_wizard.deploy import ABORT_GRACE_SECONDS
from harbor_wizard.views.ascii_tree import AsciiTree
from harbor_wizard.views.live import in_daemon_thread
from harbor_wizard.views.progress import Progress, StepState
from harbor_wizard.views.tui_events import RunEvents, TuiSink


class InstallScreen(Screen[None]):
    CSS_PATH = "install.tcss"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f4", "retry", "Retry"),
        Binding("f9", "abort", "Abort"),
        Binding("f2", "done", "Done"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.progress = Progress()
        self.nodes: dict[tuple[str, str], TreeNode[Any]] = {}
        self.install: Any = None
        self.running = False
        self.result: Any = None
        self.log_path: Any = None
        self.exit_after: int | None = None
        """Set when quitting (or SIGTERM) during the run: the exit status once it stops."""

    @property
    def wizard(self) -> Any:
        return self.app

    def compose(self) -> ComposeResult:
        saved = self.wizard.saved
        yield Static(f"10 Install: {saved.inputs.answers.name}", classes="title")
        yield Static("", id="totals")
        tree: Tree[Any] = AsciiTree("deployment") if self.wizard.ascii_only else Tree("deployment")
        tree.id = "progress"
        yield tree
        yield Static("Output of the selected step:", classes="heading")
        yield Log(max_lines=400, id="output")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one("#progress", Tree)
        tree.root.expand()
        tree.show_root = False
        hosts: dict[str, TreeNode[Any]] = {}
        for phase in self.wizard.saved.plan.phases:
            for host in phase.hosts:
                if host.host not in hosts:
                    hosts[host.host] = tree.root.add(host.host, expand=True)
                for action in host.steps:
                    state = self.progress.expect(host.host, action.step_id, action.title)
                    key = (host.host, action.step_id)
                    self.nodes[key] = hosts[host.host].add_leaf(Text(state.label(0)), data=key)
        tree.focus()
        self.wizard.busy = lambda: self.running
        self.wizard.stop_run = self.stop_and_exit
        self.set_interval(1.0, self._tick)
        self.start()

    def start(self) -> None:
        self.install = self.wizard.saved.install
        self.log_path = self.install.log_path
        self.running = True
        self._status("Installing ... (F9 aborts)")
        self.run_worker(self._run(), group="run", exit_on_error=False)

    async def _run(self) -> None:
        install, sink = self.install, TuiSink(self)
        try:
            self.result = await in_daemon_thread(lambda: install.run(sink))
        finally:
            self.running = False
        if self.exit_after is not None:
            self._leave(self.exit_after)
            return
        self.wizard.run_result = (self.result, self.progress, self.log_path)
        if self.result.ok:
            self._status("Installed. F2 shows the summary.")
            self.wizard.go("done")
        else:
            self._status(f"error: {self.result.message}. Fix it, then F4 retries.")

    def on_run_events(self, message: RunEvents) -> None:
        for event in message.events:
            state = self.progress.apply(event)
            if state is not None:
                self._paint(state)
        self.query_one("#totals", Static).update(Text(self.progress.totals_text()))
        message.sink.drained()

    def _paint(self, state: StepState) -> None:
        node = self.nodes.get((state.host, state.step))
        if node is None:
            return
        node.set_label(Text(state.label(time.monotonic())))
        tree = self.query_one("#progress", Tree)
        if tree.cursor_node is node:
            self._show_output(state)
        elif state.outcome is None and node.parent is not None:
            tree.move_cursor(node)

    def _tick(self) -> None:
        now = time.monotonic()
        for key, state in self.progress.steps.items():
            if state.status == "running" and key in self.nodes:
                self.nodes[key].set_label(Text(state.label(now)))

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Any]) -> None:
        key = event.node.data
        if key in self.progress.steps:
            self._show_output(self.progress.steps[key])

    def _show_output(self, state: StepState) -> None:
        output = self.query_one("#output", Log)
        output.clear()
        output.write_lines(list(state.output))

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def action_retry(self) -> None:
        if self.running:
            self._status("The install is running; F9 aborts it first.")
            return
        self.start()

    def action_abort(self) -> None:
        if not self.running:
            return
        self.wizard.confirm(
            "Abort the install? No new step starts; running steps finish.",
            lambda yes: self.abort() if yes else None,
        )

    def abort(self) -> None:
        if self.install is not None:
            self.install.cancel()
            self._status("Aborting: waiting for the running steps to finish ...")

    def stop_and_exit(self, code: int) -> None:
        """Quit or SIGTERM during the run: stop it as the unattended Ctrl-C does, then
        leave with `code`; asked again, stop at once (the hosts end our commands)."""
        if self.exit_after is not None:
            self._status("Stopping now ...")
            self.wizard.aborted = True
            self.install.abort()
            self.set_timer(ABORT_GRACE_SECONDS, lambda: self._leave(self.exit_after or code))
            return
        self.exit_after = code
        self.wizard.stopping = True
        self.abort()

    def _leave(self, code: int) -> None:
        """Exit once, saying after which step the run stopped and how to resume it."""
        if self.wizard.farewell:
            return
        path = self.wizard.saved.path
        self.wizard.farewell = (
            f"harbor-wizard: the install stopped after {self.install.last_completed()}. To "
            f"resume: harbor-wizard --answers {path} (or harbor-wizard --edit {path}); "
            "steps already done are skipped."
        )
        self.wizard.exit(return_code=code)

    def action_done(self) -> None:
        if self.result is not None and self.result.ok:
            self.wizard.go("done")
