"""A yes/no question (overwrite a file, go on with warnings, abort the install)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from harbor_wizard.views.fields import MarkedButton


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,f3", "answer(False)", "No"),
        Binding("left", "move(-1)", "Previous button", show=False),
        Binding("right", "move(1)", "Next button", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question), classes="question")
            with Horizontal(classes="buttons"):
                yield MarkedButton("Yes", id="yes")
                yield MarkedButton("No", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_move(self, step: int) -> None:
        """Left/Right go from button to button, as in most dialogs (Tab does too)."""
        buttons = list(self.query(Button))
        index = buttons.index(self.focused) if self.focused in buttons else 0
        buttons[max(0, min(index + step, len(buttons) - 1))].focus()
