"""Done: where Harbor answers, the warnings the install went on with, what verification
proved, where the records are.

Why the warnings come from the install's own preflight: they are what ``check`` says of the
deployment as installed (a single Redis, job logs on local disks), so the title counts them
instead of claiming a high availability the checks did not see.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from harbor_wizard.events import Outcome
from harbor_wizard.plan import OPERATOR
from harbor_wizard.steps.preflight import Preflight
from harbor_wizard.views.live import merged
from harbor_wizard.views.progress import Progress
from harbor_wizard.views.saving import Saved


class DoneScreen(Screen[None]):
    CSS_PATH = "done.tcss"
    BINDINGS: ClassVar[list[Any]] = [Binding("f10", "finish", "Finish")]

    @property
    def wizard(self) -> Any:
        return self.app

    def compose(self) -> ComposeResult:
        saved = self.wizard.saved
        result, progress, log_path = self.wizard.run_result
        answers = saved.inputs.answers
        url = f"{answers.harbor.protocol}://{answers.harbor.hostname}/"
        verification = [
            (host.host, action.step_id)
            for phase in saved.plan.phases
            if phase.name == "verification"
            for host in phase.hosts
            for action in host.steps
        ]
        lines = []
        for key in verification:
            state = progress.steps.get(key)
            if state is not None:
                word = "ok" if state.outcome is Outcome.PASSED else state.status
                lines.append(f"  [{word}] {state.host}: {state.title}: {state.message}")
        warnings = preflight_warnings(saved, progress)
        yield Static(
            self.wizard.numbered("done", f"Done: Harbor is installed{_count(warnings)}"),
            classes="title",
        )
        with VerticalScroll(id="done"):
            yield Static(Text(f"Harbor answers at {url} (the VIP {answers.vip})."), id="url")
            if warnings:
                yield Static(
                    Text(
                        f"Warnings ({len(warnings)}) the install went on with; each says "
                        "what to do:\n" + "\n".join(f"warning: {line}" for line in merged(warnings))
                    ),
                    id="warnings",
                )
            yield Static(Text("Verification:\n" + ("\n".join(lines) or "  none ran")), id="verify")
            yield Static(
                Text(
                    f"Answers file: {saved.path}\n"
                    f"Log:          {log_path}\n"
                    f"Journal:      {saved.install.journal.path}\n"
                    f"Run again unattended (safe: steps are idempotent):\n"
                    f"  {saved.replay_command()}"
                ),
                id="paths",
            )
            yield Static(Text(f"{progress.totals_text()} in {result.seconds:.0f}s"), id="totals")
        yield Footer()

    def action_finish(self) -> None:
        self.wizard.exit(0)


def preflight_warnings(saved: Saved, progress: Progress) -> list[tuple[str, str]] | None:
    """The warnings of this run's live checks as (target, "target: message"), as the
    Preflight step kept them (its output is cut at a few hundred lines); None when they did
    not run (or failed)."""
    state = progress.steps.get((OPERATOR, "checks"))
    if state is None or state.outcome is not Outcome.PASSED:
        return None
    checks = [
        action
        for phase in saved.plan.phases
        for host in phase.hosts
        for action in host.steps
        if isinstance(action, Preflight)
    ]
    if not checks or checks[0].warnings is None:
        return None
    return [(r.target, r.line) for r in checks[0].warnings]


def _count(warnings: list[tuple[str, str]] | None) -> str:
    if warnings is None:
        return ""
    if not warnings:
        return "; no warnings"
    return f"; {len(warnings)} warning{'s' if len(warnings) > 1 else ''}"
