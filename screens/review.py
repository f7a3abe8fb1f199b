"""Review: what to fix or to know first, the answers file as written, where secrets go,
the plan, the replay.

F2 saves (asking before replacing a file) and then shows the plan exactly as
``--dry-run`` prints it for the written file; F4 installs that plan. Whatever stops a
save (the draft's problems, a folder that cannot be written, a damaged journal, a bug) is
said at the top, in a line an operator can act on: the save never hangs on "Saving ...".
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from harbor_wizard.answers import InvalidInput
from harbor_wizard.problems import StateFileError
from harbor_wizard.redact import redact
from harbor_wizard.views.live import in_daemon_thread, merged
from harbor_wizard.views.saving import Saved, replay_command, save, secret_places

SLOW = 10.0
"""Seconds after which a save still running says what it may be waiting for."""

SHOWN_PROBLEMS = 6
"""Problems listed at the top; the rest are counted (each screen marks its own)."""

CHECK_SECTIONS = {
    "mariadb": "database",
    "harbor_db": "database",
    "postgres": "clair_database",
    "redis": "redis",
    "storage": "storage",
    "tls": "tls",
    "vip": "vip",
    "installer": "harbor",
}
"""The answers section each family of checks is about; the others (ssh, node, lb) look at
the hosts, which the SSH access screen checks."""

SCROLL_HINT = (
    "  Details below (Tab: scroll them)",
    "> Details: Up/Down, PgUp/PgDn scroll; Tab: back to the file name",
)
"""The line above the scrolling part, without and with its focus (said in words)."""


class Details(VerticalScroll):
    """The scrolling part: says in the line above it when it has the focus."""

    def on_focus(self, _: events.Focus) -> None:
        self.screen.query_one("#details-focus", Static).update(SCROLL_HINT[1])

    def on_blur(self, _: events.Blur) -> None:
        self.screen.query_one("#details-focus", Static).update(SCROLL_HINT[0])


class ReviewScreen(Screen[None]):
    CSS_PATH = "review.tcss"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f2", "save", "Save"),
        Binding("f3", "back", "Back"),
        Binding("f4", "install", "Install"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.saved: Saved | None = None

    @property
    def wizard(self) -> Any:
        return self.app

    def compose(self) -> ComposeResult:
        draft = self.wizard.draft
        default = draft.path or Path.cwd() / f"{draft.get('name')}.yaml"
        title = "Review: save the answers, read the plan, then install"
        yield Static(self.wizard.numbered("review", title), classes="title")
        with Horizontal(classes="save-as"):
            yield Label("> Save as ", classes="label", id="save-as")
            yield Input(str(default), id="path", compact=True)
        yield Static("", id="status")
        yield Static(SCROLL_HINT[0], id="details-focus")
        with Details(id="review"):
            yield Static(Text(self._warnings()), id="warnings")
            yield Static("Secrets: finding where they will be kept ...", id="secrets")
            yield Static("", id="replay")
            yield Static("The answers file as it will be written:", classes="heading")
            yield Static(Text(self._file_text()), id="answers-text")
            yield Static("Plan: F2 saves the file, then the plan shows here.", id="plan")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()
        problems = self._problems()
        self._paint_status(problems or "F2 saves the answers to this file and plans the install.")
        self._show_places(self._target())

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, Input):
            self.query_one("#save-as", Label).update("> Save as ")

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if isinstance(event.widget, Input):
            self.query_one("#save-as", Label).update("  Save as ")

    def _target(self) -> Path:
        return Path(self.query_one("#path", Input).value.strip()).expanduser().absolute()

    # -- where each thing is fixed ----------------------------------------------------
    def screen_of(self, path: str) -> str:
        """The screen ("3 Harbor DB") where the answer at `path` is entered, or ""."""
        from harbor_wizard.views.app import CLASSES
        from harbor_wizard.views.form import owned

        line = self.wizard.draft.release_line()
        for name in self.wizard.flow():
            module = importlib.import_module(f"harbor_wizard.screens.{name}")
            screen = getattr(module, CLASSES[name])
            for section in owned(screen, line):
                if path == section or path.startswith((section + ".", section + "[")):
                    title = str(screen.TITLE_TEXT).split(":")[0]
                    return str(self.wizard.numbered(name, title))
        return ""

    def _where(self, path: str) -> str:
        screen = self.screen_of(path)
        field = path or "the answers as a whole"
        return f"{screen}, {field}" if screen else field

    def _problems(self) -> str:
        """The draft's problems, each with the screen to fix it on; "" when there are none."""
        problems = self.wizard.draft.problems()
        if not problems:
            return ""
        return self._problem_text(list(problems.items()))

    def _problem_text(self, problems: list[tuple[str, str]]) -> str:
        lines = [
            f"error: not saved: {len(problems)} answer(s) to fix first "
            "(F3 goes back; each screen marks its own):"
        ]
        lines += [f"  {self._where(path)}: {message}" for path, message in problems]
        if len(problems) > SHOWN_PROBLEMS:
            lines[SHOWN_PROBLEMS + 1 :] = [f"  ... and {len(problems) - SHOWN_PROBLEMS} more"]
        return "\n".join(lines)

    def _warnings(self) -> str:
        acknowledged = self.wizard.draft.acknowledged
        if not acknowledged:
            return "Warnings: none so far (the install checks everything again)."
        by_screen: dict[str, list[tuple[str, str]]] = {}
        for key, message in acknowledged.items():  # keys: views.form.warning_key
            check, _, target = key.partition(" ")
            screen = self.screen_of(CHECK_SECTIONS.get(check.split(".")[0], "ssh"))
            by_screen.setdefault(screen, []).append((target, message))
        lines = [f"Warnings you chose to go on with ({len(acknowledged)}):"]
        for screen, said in by_screen.items():
            where = f" ({screen})" if screen else ""
            lines += [f"warning{where}: {line}" for line in merged(said)]
        return "\n".join(lines)

    def _file_text(self) -> str:
        if self.wizard.draft.problems():
            return "Not written while answers are to be fixed (listed at the top)."
        try:
            return redact(self.wizard.draft.to_document().dump())
        except Exception as error:  # the draft said it was complete: say what broke
            return f"error: cannot show the file: {_plain(error)}"

    # -- secrets ---------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        self.saved = None
        self._show_places(self._target())

    def _show_places(self, path: Path) -> None:
        self.run_worker(self._places_worker(path), group="places", exclusive=True)

    async def _places_worker(self, path: Path) -> None:
        """Asking the keyring may block: a daemon thread that quitting does not wait for."""
        draft = self.wizard.draft
        try:
            places = await in_daemon_thread(lambda: secret_places(draft, path))
        except Exception as error:  # a keyring that fails to answer: say so
            text = f"Secrets: cannot tell where they will be kept: {_plain(error)}"
        else:
            lines = ["Secrets (never in the answers file):"]
            lines += [f"  {secret}: {place}" for secret, place in places.items()]
            text = "\n".join(lines)
        self._paint_places(text, f"Replay unattended: {replay_command(path, draft.secrets_file)}")

    def _paint_places(self, text: str, replay: str) -> None:
        self.query_one("#secrets", Static).update(Text(text))
        self.query_one("#replay", Static).update(Text(replay))

    # -- saving ----------------------------------------------------------------------
    def action_back(self) -> None:
        self.wizard.back(self)

    def action_save(self) -> None:
        problems = self._problems()
        if problems:  # the model refuses the draft: nothing to write, say why at once
            self._paint_status(problems)
            return
        target = self._target()
        if target.exists():
            self.wizard.confirm(
                f"{target} exists. Replace it? (its comments are kept when it is the file "
                "you opened)",
                lambda yes: self._save(target) if yes else None,
            )
        else:
            self._save(target)

    def _save(self, target: Path) -> None:
        self._paint_status(f"Saving {target} and planning ...")
        self.run_worker(self._save_worker(target), group="save", exclusive=True)

    async def _save_worker(self, target: Path) -> None:
        """Save and plan in a daemon thread (as the live checks run): every failure ends in
        a status line, one that takes long says so, and quitting never waits for it (a
        keyring asking for its password would otherwise hold the exit too)."""
        draft = self.wizard.draft
        slow = self.set_timer(SLOW, lambda: self._paint_status(_still_saving(target)))
        try:
            saved, written, plan = await in_daemon_thread(
                lambda: _save_and_read(draft, target, frozenset(draft.accepted))
            )
        except InvalidInput as error:  # a rule of the file the draft did not see
            problems = [(problem.path, problem.message) for problem in error.problems]
            self._paint_status(self._problem_text(problems))
            return
        except StateFileError as error:  # e.g. a damaged journal: it says what to do
            self._paint_status(f"error: not saved: {error}")
            return
        except OSError as error:
            self._paint_status(_cannot_write(target, error))
            return
        except Exception as error:  # never leave "Saving ..." on screen for good
            self._paint_status(
                f"error: saving or planning stopped: {_plain(error)}. This is a fault of "
                "harbor-wizard: please report it with this line."
            )
            return
        finally:
            slow.stop()
        self._paint_saved(saved, written, plan)

    def _paint_status(self, text: str) -> None:
        status = self.query_one("#status", Static)
        status.update(Text(text))
        status.set_class(text.startswith("error:"), "-error")

    def _paint_saved(self, saved: Saved, written: str, plan: str) -> None:
        self.saved = saved
        self.wizard.saved = saved
        self.query_one("#answers-text", Static).update(Text(written))
        self.query_one("#plan", Static).update(Text(plan))
        notes = "".join(f"\n{note}" for note in saved.notes)
        self._paint_status(f"Saved {saved.path}. F4 installs this plan.{notes}")
        self._show_places(saved.path)

    def action_install(self) -> None:
        if self.saved is None:
            self._paint_status("error: save first (F2): the install runs the saved file's plan")
            return
        self.wizard.go("install")


def _save_and_read(draft: Any, target: Path, accepted: frozenset[str]) -> tuple[Saved, str, str]:
    """Save, then read back what the screen shows (the file as written, the plan), so that
    nothing that can fail runs on the event loop."""
    saved = save(draft, target, accepted)
    return saved, redact(saved.path.read_text()), saved.plan.describe()


def _still_saving(target: Path) -> str:
    return (
        f"Still saving {target} and planning after {SLOW:g} s: storing the secrets (a "
        "keyring may be asking for its password) or reading the journal. Ctrl+Q leaves "
        "without waiting."
    )


def _cannot_write(target: Path, error: OSError) -> str:
    """An OSError as the operator reads it: which file, why, what to do."""
    where = error.filename or target
    why = error.strerror or str(error)
    return (
        f"error: not saved: cannot write {where}: {why}. Choose another folder or file "
        "name in 'Save as' (or fix the folder's permissions), then F2 again."
    )


def _plain(error: Exception) -> str:
    """An unexpected error in one redacted line, with its kind (for a report)."""
    first = (str(error).strip().splitlines() or [""])[0]
    return redact(f"{first} ({type(error).__name__})" if first else type(error).__name__)
