"""What every form screen shares: fields bound to the draft, problems, live checks, Next.

Why one base: each screen only says which fields it shows and which live check guards
them. The rules (the model's messages), the debounced and superseding checks, and the
refusal of Next while a field has an error behave the same on every screen.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from harbor_wizard.checks.result import CheckResult, Status
from harbor_wizard.views import live
from harbor_wizard.views.app import name_of
from harbor_wizard.views.draft import Draft, field_of
from harbor_wizard.views.fields import FieldRow, Spec

if TYPE_CHECKING:
    from harbor_wizard.views.app import WizardApp

Job = Callable[[], list[CheckResult]]


@dataclass(frozen=True)
class LiveCheck:
    group: str
    anchor: str
    """The field whose row shows the check's state."""
    triggers: tuple[str, ...]
    """Field paths (or their parents) whose change re-runs the check."""
    job: Callable[[], Job | None]
    """The probe call for the current values; None when it cannot run."""


class Form(VerticalScroll, can_focus=False):
    """The scrolling body: focus goes to the fields, never to the container."""


class FormScreen(Screen[None]):
    """A screen of fields; subclasses give ``TITLE_TEXT`` (numbered as the flow shows it),
    ``SECTIONS``, ``fields()``."""

    TITLE_TEXT: ClassVar[str] = ""
    SECTIONS: ClassVar[tuple[str, ...]] = ()
    """Answers paths this screen owns: their problems without a field show in the notice."""
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f2", "next", "Next"),
        Binding("f3", "back", "Back"),
        Binding("f5", "recheck", "Re-check", show=False),
    ]

    class CheckDone(Message):
        def __init__(self, group: str, generation: int, results: list[CheckResult]) -> None:
            super().__init__()
            self.group, self.generation, self.results = group, generation, results

    class CheckPainted(Message):
        """A check's result reached the screen (stale ones never do)."""

        def __init__(self, group: str, generation: int, results: list[CheckResult]) -> None:
            super().__init__()
            self.group, self.generation, self.results = group, generation, results

    def __init__(self) -> None:
        super().__init__()
        self._check_gen: dict[str, int] = {}
        self._check_results: dict[str, list[CheckResult]] = {}
        self._checking: set[str] = set()
        self._painted: dict[str, set[str]] = {}
        """The rows each check group marked last time (cleared before it marks again)."""
        self._loose_problems: list[str] = []
        self._revealed = False
        """Every error shows: Next was pressed, or the answers came from a file."""
        self._refusal: list[str] = []
        """Why Next was refused: stays in the notice until a value or a check changes."""

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    @property
    def draft(self) -> Draft:
        draft: Draft = self.wizard.draft
        return draft

    # -- building -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self.wizard.numbered(name_of(self), self.title_text()), classes="title")
        with Form(classes="form"):
            yield from self.fields()
            yield Static("", classes="notice")
        yield Footer()

    @classmethod
    def sections_for(cls, line: str) -> tuple[str, ...]:
        """The answers paths this screen owns for release `line` ("1.4", "2.15")."""
        return cls.SECTIONS

    def title_text(self) -> str:
        """The title for the draft's release, without its number (the part before ':'
        names the screen)."""
        return self.TITLE_TEXT

    def fields(self) -> ComposeResult:
        yield from ()

    def row(self, spec: Spec, default: Any = None) -> FieldRow:
        value = self.draft.get(spec.path, default)
        if spec.kind == "secret":
            value = self.draft.secrets.get(spec.path, "")
        return FieldRow(spec, value)

    def live_checks(self) -> list[LiveCheck]:
        return []

    def on_mount(self) -> None:
        rows = self.rows()
        if rows:
            rows[0].editor.focus()
        self._revealed = self.draft.tree is not None
        self.revalidate()
        for check in self.live_checks():
            self.schedule(check)

    # -- editing --------------------------------------------------------------------
    async def on_field_row_edited(self, event: FieldRow.Edited) -> None:
        row = event.row
        if row.spec.kind == "secret":
            self.draft.set_secret(row.spec.path, row.value)
        elif row.spec.bound:
            self.draft.set(row.spec.path, row.value)
        changed = self.edited(row)
        if inspect.isawaitable(changed):
            await changed
        # A choice is made in one key; typed text is judged once the field is left.
        self._refusal = []
        self.revalidate(commit=row.spec.kind in ("choice", "bool"))
        for check in self.live_checks():
            if any(_under(row.spec.path, t) for t in check.triggers):
                self.schedule(check)

    def edited(self, row: FieldRow) -> Awaitable[None] | None:
        """Hook for screens whose layout follows a value (provider, mode)."""
        return None

    def on_field_row_left(self, event: FieldRow.Left) -> None:
        if self.is_current:  # not while a dialog opens over it, nor once switched away
            self.revalidate()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def rows(self) -> list[FieldRow]:
        return list(self.query(FieldRow))

    def revalidate(self, commit: bool = True) -> dict[str, str]:
        """Paint the model's verdict; return this screen's problems by path.

        `commit`: show every revealed field's error. While a value is being typed
        (not `commit`), errors on screen follow the value (and go once it is right),
        but none appears until the field is left."""
        problems = self.draft.problems()
        line = self.draft.release_line()
        rows = self.rows()
        known = {path: row for row in rows for path in row.spec.paths}
        mine: dict[str, str] = {}
        loose: list[str] = []
        for row in rows:
            row.error = None
        for path, message in problems.items():
            owner = field_of(path, set(known))
            if owner is not None:
                row = known[owner]
                row.error = row.error or (message if owner == path else f"{path}: {message}")
                mine[path] = message
            elif any(_under(path, section) for section in self.sections_for(line)):
                loose.append(f"error: {path or 'answers'}: {message}")
                mine[path] = message
        for row in rows:
            row.revealed = row.revealed or self._revealed
            if commit or row.shown is not None:
                row.shown = row.error if row.revealed else None
            row.show()
        self._loose_problems = loose
        shown = self._refusal or (loose if self._revealed else [])
        self.query_one(".notice", Static).update(Text("\n".join(shown)))
        return mine

    def elsewhere(self) -> list[str]:
        """The other screens with problems, and their fields: what to fix before a check
        that needs the whole deployment can run ("1 Topology: vip")."""
        import importlib

        from harbor_wizard.views.app import CLASSES

        problems = list(self.draft.problems())
        mine = type(self)
        found: list[str] = []
        for name in self.wizard.flow():
            module = importlib.import_module(f"harbor_wizard.screens.{name}")
            screen = getattr(module, CLASSES[name])
            sections = owned(screen, self.draft.release_line())
            paths = [p for p in problems if any(_under(p, s) for s in sections)]
            problems = [p for p in problems if p not in paths]
            if paths and screen is not mine:
                title = str(getattr(screen, "TITLE_TEXT", name)).split(":")[0]
                found.append(f"{self.wizard.numbered(name, title)}: {', '.join(paths)}")
        return found

    # -- live checks ----------------------------------------------------------------
    def schedule(self, check: LiveCheck) -> None:
        """Start (after the debounce) the check for the current values; older ones lapse."""
        generation = self._check_gen.get(check.group, 0) + 1
        self._check_gen[check.group] = generation
        problems = self.draft.problems()
        blocked = any(_under(p, t) for p in problems for t in check.triggers)
        job = None if blocked else check.job()
        self._check_results.pop(check.group, None)
        self.workers.cancel_group(self, check.group)
        if job is None:
            self._checking.discard(check.group)
        else:
            self._checking.add(check.group)
            group = check.group

            async def run_check() -> None:
                await self._run(group, generation, job)

            # A function, not a coroutine: one cancelled before it starts is never created.
            self.run_worker(
                run_check,  # type: ignore[arg-type]  # Textual's WorkType infers Never here
                group=check.group,
                exclusive=True,
                exit_on_error=False,
            )
        self.paint_check(check)

    async def _run(self, group: str, generation: int, job: Job) -> None:
        import asyncio

        await asyncio.sleep(self.wizard.debounce)
        results = await live.in_daemon_thread(job)
        self.post_message(self.CheckDone(group, generation, results))

    def on_form_screen_check_done(self, event: CheckDone) -> None:
        if event.generation != self._check_gen.get(event.group):
            return  # a newer value superseded this check
        self._checking.discard(event.group)
        self._check_results[event.group] = event.results
        forget_changed_warnings(self.draft.acknowledged, event.results)
        self._refusal = []
        self.revalidate(commit=False)  # also clears a "still running" refusal
        for check in self.live_checks():
            if check.group == event.group:
                self.paint_check(check)
        self.post_message(self.CheckPainted(event.group, event.generation, event.results))

    def paint_check(self, check: LiveCheck) -> None:
        """Mark each result on the field it names (a refused password on Password), the
        rest on the check's anchor; the anchor also says while the check runs."""
        rows = {path: row for row in self.rows() for path in row.spec.paths}
        anchor = rows.get(check.anchor)
        if anchor is None:
            return
        results = self._check_results.get(check.group, [])
        placed: dict[str, list[CheckResult]] = {}
        for result in results:
            owner = field_of(result.field_path, set(rows)) if result.field_path else None
            path = rows[owner].spec.path if owner is not None else anchor.spec.path
            placed.setdefault(path, []).append(result)
        marked = self._painted.get(check.group, set()) | set(placed) | {anchor.spec.path}
        for path in marked:
            row = rows.get(path)
            if row is None:
                continue  # a field the screen no longer shows (recomposed)
            row.checking = check.group in self._checking and row is anchor
            row.check = live.worst(placed.get(path, []))
            row.show()
        self._painted[check.group] = set(placed)
        self.results_changed(check.group, results)

    def results_changed(self, group: str, results: list[CheckResult]) -> None:
        """Hook for screens that show more of a check than one line (hosts, certificate)."""

    def action_recheck(self) -> None:
        for check in self.live_checks():
            self.schedule(check)

    # -- moving on ------------------------------------------------------------------
    def action_back(self) -> None:
        self.wizard.back(self)

    def refusals(self) -> list[str]:
        """Hook: further reasons to refuse Next (a host whose checks failed)."""
        return []

    def action_next(self) -> None:
        self._revealed = True
        self._refusal = []
        self.revalidate()
        notice = self.query_one(".notice", Static)
        failing = [row for row in self.rows() if row.shown or _failed(row.check)]
        reasons = self.refusals()
        if failing or self._loose_problems or reasons:
            if failing:
                failing[0].editor.focus()
            count = len(failing) + len(self._loose_problems)
            lines = [
                f"error: Next refused: {count} field(s) need a fix.",
                *self._loose_problems,
                *reasons,
            ]
            self._refusal = lines
            notice.update(Text("\n".join(lines)))
            return
        if self._checking:
            self._refusal = ["Next refused: the live checks are still running (wait, or F5)."]
            notice.update(Text(self._refusal[0]))
            return
        warnings = [
            r
            for results in self._check_results.values()
            for r in results
            if r.status is Status.WARNING
        ]
        acknowledged = self.draft.acknowledged
        if warnings and not all(acknowledged.get(warning_key(w)) == w.message for w in warnings):
            said = live.merged((w.target, w.message) for w in warnings)
            text = "\n".join(f"warning: {line}" for line in said)
            self.wizard.confirm(
                f"Go on with these warnings?\n{text}",
                lambda yes: self._acknowledge(warnings) if yes else None,
            )
            return
        self.wizard.forward(self)

    def _acknowledge(self, warnings: list[CheckResult]) -> None:
        for warning in warnings:
            self.draft.acknowledged[warning_key(warning)] = warning.message
        self.wizard.forward(self)


def owned(screen: type[Any], line: str) -> tuple[str, ...]:
    """The answers paths a screen of the flow owns for release `line` (review: none)."""
    if isinstance(screen, type) and issubclass(screen, FormScreen):
        return screen.sections_for(line)
    return tuple(getattr(screen, "SECTIONS", ()))


def warning_key(result: CheckResult) -> str:
    """How an acknowledged warning is kept in ``Draft.acknowledged``: ``check target``
    (Review names the screen from the check; two warnings about one host stay apart)."""
    return f"{result.check} {result.target}"


def forget_changed_warnings(acknowledged: dict[str, str], results: list[CheckResult]) -> None:
    """A warning acknowledged earlier that is gone or says something else now is no longer
    acknowledged: Review then lists the warnings the operator went on with, as they stand."""
    current = {warning_key(r): r.message for r in results if r.status is Status.WARNING}
    for result in results:
        key = warning_key(result)
        if key in acknowledged and acknowledged[key] != current.get(key):
            del acknowledged[key]


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith((parent + ".", parent + "["))


def _failed(result: CheckResult | None) -> bool:
    return result is not None and result.status is Status.ERROR
