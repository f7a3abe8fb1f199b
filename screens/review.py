"""Review: warnings, the answers file as written, where secrets go, the plan, the replay.

F2 saves (asking before replacing a file) and then shows the plan exactly as
``--dry-run`` prints it for the written file; F4 installs that plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from harbor_wizard.answers import InvalidInput
from harbor_wizard.problems import StateFileError
from harbor_wizard.redact import redact
from harbor_wizard.views.saving import Saved, replay_command, save, secret_places


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
        yield Static("9 Review: save the answers, read the plan, then install", classes="title")
        with Horizontal(classes="save-as"):
            yield Label("> Save as ", classes="label")
            yield Input(str(default), id="path", compact=True)
        with VerticalScroll(id="review"):
            yield Static(Text(self._warnings()), id="warnings")
            yield Static("Secrets: finding where they will be kept ...", id="secrets")
            yield Static("", id="replay")
            yield Static("The answers file as it will be written:", classes="heading")
            yield Static(self._file_text(), id="answers-text", markup=False)
            yield Static("Plan: F2 saves the file, then the plan shows here.", id="plan")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()
        self._show_places(self._target())

    def _target(self) -> Path:
        return Path(self.query_one("#path", Input).value.strip()).expanduser().absolute()

    def _warnings(self) -> str:
        acknowledged = self.wizard.draft.acknowledged
        if not acknowledged:
            return "Warnings: none."
        return "Warnings you chose to go on with:\n" + "\n".join(
            f"warning: {message}" for message in acknowledged.values()
        )

    def _file_text(self) -> str:
        try:
            return redact(self.wizard.draft.to_document().dump())
        except ValueError as error:
            return f"error: the answers are not complete: {error}"

    def on_input_changed(self, event: Input.Changed) -> None:
        self.saved = None
        self._show_places(self._target())

    @work(thread=True, exclusive=True, group="places", exit_on_error=False)
    def _show_places(self, path: Path) -> None:
        places = secret_places(self.wizard.draft, path)
        lines = ["Secrets (never in the answers file):"]
        lines += [f"  {secret}: {place}" for secret, place in places.items()]
        text = "\n".join(lines)
        replay = f"Replay unattended: {replay_command(path)}"
        self.app.call_from_thread(self._paint_places, text, replay)

    def _paint_places(self, text: str, replay: str) -> None:
        self.query_one("#secrets", Static).update(Text(text))
        self.query_one("#replay", Static).update(Text(replay))

    def action_back(self) -> None:
        self.wizard.back(self)

    def action_save(self) -> None:
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
        self.query_one("#status", Static).update(f"Saving {target} and planning ...")
        self._save_worker(target)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def _save_worker(self, target: Path) -> None:
        try:
            saved = save(self.wizard.draft, target, frozenset(self.wizard.draft.accepted))
        except InvalidInput as error:
            text = "\n".join(f"error: {problem}" for problem in error.problems)
            self.app.call_from_thread(self._paint_status, text)
            return
        except OSError as error:
            self.app.call_from_thread(self._paint_status, f"error: cannot save: {error}")
            return
        except StateFileError as error:  # e.g. a damaged journal: it says what to do
            self.app.call_from_thread(self._paint_status, f"error: {error}")
            return
        except Exception as error:  # never leave "Saving ..." on screen for good
            message = redact(f"error: saving or planning failed: {type(error).__name__}: {error}")
            self.app.call_from_thread(self._paint_status, message)
            return
        self.app.call_from_thread(self._paint_saved, saved)

    def _paint_status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def _paint_saved(self, saved: Saved) -> None:
        self.saved = saved
        self.wizard.saved = saved
        self.query_one("#answers-text", Static).update(Text(redact(saved.path.read_text())))
        self.query_one("#plan", Static).update(Text(saved.plan.describe()))
        notes = "".join(f"\n{note}" for note in saved.notes)
        self._paint_status(f"Saved {saved.path}. F4 installs this plan.{notes}")
        self._show_places(saved.path)

    def action_install(self) -> None:
        if self.saved is None:
            self._paint_status("error: save first (F2): the install runs the saved file's plan")
            return
        self.wizard.go("install")
