"""Install: the live tree (host > step, status, time) fed only by the runner's events.

The run is ``deploy.Install``, as unattended: the same plan, journal (resume) and log.
The output pane follows the step that started last, live; moving the cursor to another
step stops following (its output stays shown), F8 follows again. The footer offers what
the state allows: F9 Abort while it runs (after asking: no new step starts, running ones
finish, as on Ctrl-C unattended); F4 Retry after a failure or a stop (the same run again:
steps are idempotent and the journal skips what is done); F2 Done after success. The tree
stays until the operator presses Done.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static, Tree
from textual.widgets.tree import TreeNode

from harbor_wizard.deploy import ABORT_GRACE_SECONDS
from harbor_wizard.events import Outcome, StepFinished, StepStarted
from harbor_wizard.views.ascii_tree import AsciiTree
from harbor_wizard.views.live import in_daemon_thread
from harbor_wizard.views.progress import Progress, StepState
from harbor_wizard.views.tui_events import RunEvents, TuiSink

Key = tuple[str, str]


def _visible(lines: Iterable[str]) -> list[str]:
    """Blank lines kept (Log.write_lines drops them): they separate install.sh's steps."""
    return [line or " " for line in lines]


class InstallScreen(Screen[None]):
    CSS_PATH = "install.tcss"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f9", "abort", "Abort"),
        Binding("f4", "retry", "Retry"),
        Binding("f2", "done", "Done"),
        Binding("f8", "follow", "Follow"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.progress = Progress()
        self.nodes: dict[Key, TreeNode[Any]] = {}
        self.install: Any = None
        self.running = False
        self.result: Any = None
        self.log_path: Any = None
        self.exit_after: int | None = None
        """Set when quitting (or SIGTERM) during the run: the exit status once it stops."""
        self.following = True
        """The output pane shows the step that started last; the operator moving the
        cursor turns it off, F8 back on."""
        self.shown: Key | None = None
        """The step whose output the pane shows."""
        self._written = 0
        """How many of the shown step's lines (StepState.lines) the pane holds."""
        self._moves: list[TreeNode[Any]] = []
        """Cursor moves this screen made, not yet reported back by the tree: a highlight
        of any other node is the operator's."""

    @property
    def wizard(self) -> Any:
        return self.app

    def compose(self) -> ComposeResult:
        saved = self.wizard.saved
        yield Static(
            self.wizard.numbered("install", f"Install: {saved.inputs.answers.name}"),
            classes="title",
        )
        yield Static("", id="totals")
        tree: Tree[Any] = AsciiTree("deployment") if self.wizard.ascii_only else Tree("deployment")
        tree.id = "progress"
        yield tree
        yield Static("", id="heading", classes="heading")
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
                    hosts[host.host] = tree.root.add(host.host, data=(host.host, ""), expand=True)
                for action in host.steps:
                    state = self.progress.expect(host.host, action.step_id, action.title)
                    key = (host.host, action.step_id)
                    self.nodes[key] = hosts[host.host].add_leaf(Text(state.label(0)), data=key)
        tree.focus()
        self.wizard.busy = lambda: self.running
        self.wizard.stop_run = self.stop_and_exit
        self.set_interval(1.0, self._tick)
        self._heading()
        self.start()

    # -- the run ----------------------------------------------------------------------
    def start(self) -> None:
        self.install = self.wizard.saved.install
        self.log_path = self.install.log_path
        self.running = True
        self.result = None
        self.following = True
        self._status("Installing ... (F9 aborts)")
        self.refresh_bindings()
        self._heading()
        self.run_worker(self._run(), group="run", exit_on_error=False)

    async def _run(self) -> None:
        install, sink = self.install, TuiSink(self)
        try:
            self.result = await in_daemon_thread(lambda: install.run(sink))
        finally:
            self.running = False
            self.refresh_bindings()
        if self.exit_after is not None:
            self._leave(self.exit_after)
            return
        self.wizard.run_result = (self.result, self.progress, self.log_path)
        if self.result.ok:
            self._status("Installed. F2 Done shows the summary (the tree stays until then).")
        elif self.install.cancelled:
            self._status(f"Stopped after {self.install.last_completed()}. F4 resumes the run.")
        else:
            self._status(f"error: {self.result.message}. Fix it, then F4 retries.")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Footer keys follow the state: Abort while running, Retry after a failure or a
        stop, Done after success, Follow once the operator moved away."""
        if action == "abort":
            return self.running
        if action == "retry":
            return not self.running and self.result is not None and not self.result.ok
        if action == "done":
            return not self.running and self.result is not None and bool(self.result.ok)
        if action == "follow":
            return not self.following
        return True

    # -- events -> tree and output ----------------------------------------------------
    def on_run_events(self, message: RunEvents) -> None:
        target: StepState | None = None
        for event in message.events:
            state = self.progress.apply(event)
            if state is None:
                continue
            node = self.nodes.get((state.host, state.step))
            if node is None:
                continue
            node.set_label(Text(state.label(time.monotonic())))
            failed = isinstance(event, StepFinished) and event.outcome is Outcome.FAILED
            if isinstance(event, StepStarted) or failed:
                target = state  # the step that started last, or the one that failed
        if target is not None and self.following:
            self._go_to(target)
        self._append_output()
        self.query_one("#totals", Static).update(Text(self.progress.totals_text()))
        message.sink.drained()

    def _go_to(self, state: StepState) -> None:
        """The cursor to this step (as ours, not the operator's) and its output shown."""
        key = (state.host, state.step)
        node = self.nodes[key]
        tree = self.query_one("#progress", Tree)
        if tree.cursor_node is not node and node.line != -1:
            self._moves.append(node)
            tree.move_cursor(node)
        self._show(key)

    def _tick(self) -> None:
        now = time.monotonic()
        for key, state in self.progress.steps.items():
            if state.status == "running" and key in self.nodes:
                self.nodes[key].set_label(Text(state.label(now)))

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Any]) -> None:
        if event.node in self._moves:  # ours: drop it and any earlier ones still listed
            del self._moves[: self._moves.index(event.node) + 1]
            return
        if event.node.data is None:  # the hidden root: the tree's own doing when mounted
            return
        if self.following:  # the operator moved: leave the cursor where they put it
            self.following = False
            self.refresh_bindings()
            self._heading()
        key = event.node.data
        if key in self.progress.steps:
            self._show(key)

    def action_follow(self) -> None:
        self.following = True
        self.refresh_bindings()
        running = [s for s in self.progress.steps.values() if s.status == "running"]
        if running:
            self._go_to(max(running, key=lambda s: s.started or 0.0))
        else:
            self._heading()

    def _show(self, key: Key) -> None:
        state = self.progress.steps[key]
        output = self.query_one("#output", Log)
        if key != self.shown:
            output.clear()
            output.write_lines(_visible(state.output))
            self.shown, self._written = key, state.lines
        self._append_output()
        self._heading()

    def _append_output(self) -> None:
        """The shown step's lines that arrived since the pane was last written."""
        if self.shown is None:
            return
        state = self.progress.steps[self.shown]
        new = min(state.lines - self._written, len(state.output))
        if new > 0:
            self.query_one("#output", Log).write_lines(_visible(list(state.output)[-new:]))
        self._written = state.lines

    def _heading(self) -> None:
        """One line: whether the pane follows, then whose output it is (cut at the end)."""
        state = self.progress.steps.get(self.shown) if self.shown else None
        what = f"{state.host}: {state.title}" if state else "none yet"
        how = "following the running step" if self.following else "F8 follows the running step"
        self.query_one("#heading", Static).update(Text(f"Output ({how}): {what}"))

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    # -- keys -------------------------------------------------------------------------
    def action_retry(self) -> None:
        if self.running:
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
        if self.install is not None:
            self.install.cancel()
        self._status(
            "Stopping: the running steps finish, then harbor-wizard exits and says how to "
            "resume (Ctrl+Q again stops at once)."
        )

    def _leave(self, code: int) -> None:
        """Exit once, saying after which step the run stopped and how to resume it."""
        if self.wizard.farewell:
            return
        saved = self.wizard.saved
        self.wizard.farewell = (
            f"harbor-wizard: the install stopped after {self.install.last_completed()}. "
            f"To resume: {saved.replay_command()} (or harbor-wizard --edit "
            f"{shlex.quote(str(saved.path))}); steps already done are skipped."
        )
        self.wizard.exit(return_code=code)

    def action_done(self) -> None:
        if not self.running and self.result is not None and self.result.ok:
            self.wizard.go("done")
