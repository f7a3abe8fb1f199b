"""The state of a deployment the start screen opened: what `harbor-wizard status` prints,
and how its last run ended. A run that stopped is offered for resuming (F4): the install
screen runs the saved file's plan and the journal skips what is done, as a re-run of
`harbor-wizard --answers FILE` does.

Why a worker: asking every host and service takes up to a few seconds (each bounded by
health.DEFAULT_TIMEOUT), and a silent host must never hold a key up. The screen says
"checking ..." until the worker's result arrives as a message; a result for a screen that
was left, or for a check replaced by F5, is never painted (the worker is cancelled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from harbor_wizard.views.live import in_daemon_thread

if TYPE_CHECKING:
    from harbor_wizard.health import Report
    from harbor_wizard.views.app import WizardApp
    from harbor_wizard.views.resume import LastRun

STATUS_SECRETS = ("database.password", "clair_database.password", "redis.password")
"""The secrets `status` needs: the passwords of the databases it asks."""


class StatusScreen(Screen[None]):
    CSS_PATH = "status.tcss"
    last: LastRun | None = None
    """How the deployment's last run on this machine ended (its journal)."""
    resumable = False
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f2", "edit", "Edit"),
        Binding("escape,f3", "back", "Back"),
        Binding("f5", "check", "Check again"),
        Binding("f4", "resume", "Resume"),
    ]

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        from harbor_wizard.views.resume import COMPLETED, last_of

        draft = self.wizard.draft
        self.last = last_of(draft.get("name"))
        self.resumable = (
            self.last is not None and self.last.result != COMPLETED and draft.path is not None
        )
        name = draft.get("name") or "deployment"
        yield Static(Text(f"Status of '{name}' ({draft.path})"), classes="title")
        with VerticalScroll(id="status"):
            yield Static(Text(self._last_run()), id="run")
            yield Static("", id="state")
            yield Static("", id="table")
            yield Static("", id="summary")
            yield Static(Text(self._missing()), id="missing")
        yield Footer()

    def _last_run(self) -> str:
        """How the last run ended; for one that stopped, what F4 does."""
        last = self.last
        if last is None:
            return ""
        if not self.resumable:
            return f"Last run: {last.when}, {last.where}."
        return (
            f"Last run: {last.when}, {last.where}. F4 resumes it: the saved file's plan runs "
            "again and skips the steps already done (F2 changes the answers first)."
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.resumable if action == "resume" else True

    def on_mount(self) -> None:
        self.query_one("#run").display = bool(self._last_run())
        self.query_one("#missing").display = bool(self._missing())
        self.query_one("#status").focus()
        self.action_check()

    def _missing(self) -> str:
        draft = self.wizard.draft
        missing = [
            p for p in STATUS_SECRETS if p in draft.secret_paths() and not draft.secrets.get(p)
        ]
        if not missing:
            return ""
        from harbor_wizard.secrets import env_name

        where = f"{draft.path.stem}.secrets.yaml" if draft.path else "the secrets file"
        return (
            f"Not found: {', '.join(missing)}. Give {'them' if len(missing) > 1 else 'it'} in "
            f"{where}, the environment ({', '.join(env_name(p) for p in missing)}) or the keyring."
        )

    def action_check(self) -> None:
        from pydantic import ValidationError

        from harbor_wizard.health import DEFAULT_TIMEOUT

        draft = self.wizard.draft
        try:
            answers = draft.answers()
        except ValidationError as error:
            count = error.error_count()
            self._paint(f"Cannot check: the answers have {count} problem(s). F2 edits them.")
            return
        hosts = len(answers.load_balancer.nodes) + len(answers.harbor_nodes)
        self._paint(
            f"checking {hosts} hosts and the databases ... "
            f"(each answer within {DEFAULT_TIMEOUT:g} s; Esc goes back)"
        )
        self._gather(answers)

    def _paint(self, state: str, report: Report | None = None) -> None:
        from harbor_wizard.views.status import summary, table

        self.query_one("#state", Static).update(Text(state))
        self.query_one("#table", Static).update(
            table(report, compact=True, ascii_only=self.wizard.ascii_only) if report else ""
        )
        self.query_one("#summary", Static).update(Text(summary(report)) if report else "")
        self.query_one("#summary").display = report is not None

    @work(exclusive=True, group="status", exit_on_error=False)
    async def _gather(self, answers: Any) -> Report:
        """In a daemon thread (views.live): leaving or quitting never waits for a host."""
        from pydantic import SecretStr

        from harbor_wizard.health import Options, gather

        draft = self.wizard.draft
        secrets = {path: SecretStr(value) for path, value in draft.secrets.items() if value}
        options = Options(accepted_fingerprints=frozenset(draft.accepted))
        return await in_daemon_thread(lambda: gather(answers, secrets, draft.base_dir, options))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "resume" and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            self._resume_ended(event.worker)
            return
        if event.worker.group != "status":
            return
        if event.state is WorkerState.SUCCESS:
            report = event.worker.result
            assert report is not None
            holder = report.holder or ("the external LB" if report.mode == "external" else "none")
            self._paint(f"VIP {report.vip} holder: {holder}", report)
        elif event.state is WorkerState.ERROR:
            from harbor_wizard.redact import redact

            error = event.worker.error
            self._paint(redact(f"error: the check failed: {type(error).__name__}: {error}"))

    def action_resume(self) -> None:
        if not self.resumable:
            return
        self.query_one("#run", Static).update(Text("Loading the saved file and its plan ..."))
        self._resume()

    @work(exclusive=True, group="resume", exit_on_error=False)
    async def _resume(self) -> Any:
        """Off the event loop: loading the file renders every host's files."""
        from harbor_wizard.views.resume import resumed

        draft = self.wizard.draft
        return await in_daemon_thread(lambda: resumed(draft))

    def _resume_ended(self, worker: Worker[Any]) -> None:
        if worker.state is WorkerState.SUCCESS:
            self.workers.cancel_group(self, "status")
            self.wizard.saved = worker.result
            self.wizard.go("install")
            return
        from harbor_wizard.answers import InvalidInput
        from harbor_wizard.redact import redact

        error = worker.error
        if isinstance(error, InvalidInput):
            lines = [f"error: {problem}" for problem in error.problems]
        else:
            lines = [f"error: cannot resume: {error}"]
        self.query_one("#run", Static).update(Text(redact("\n".join(lines))))

    def action_edit(self) -> None:
        self.wizard.go("topology")

    def action_back(self) -> None:
        self.wizard.go("start")
