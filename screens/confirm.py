"""A yes/no question (overwrite a file, go on with warnings, abort the install)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from harbor_wizard.views.fields import MarkedButton


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,f3", "answer(False)", "No"),
        # Priority, all three: Textual handles priority keys at once and forwards the others
        # to the focused widget's queue, so typed ahead they would come after Enter.
        Binding("left", "move(-1)", "Previous button", show=False, priority=True),
        Binding("right", "move(1)", "Next button", show=False, priority=True),
        Binding("enter", "choose", "Answer", show=False, priority=True),
        Binding("up", "scroll(-1)", "Scroll up", show=False),
        Binding("down", "scroll(1)", "Scroll down", show=False),
        Binding("pageup", "scroll(-10)", "Page up", show=False),
        Binding("pagedown", "scroll(10)", "Page down", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # A long question (many warnings) scrolls; the buttons always stay in view.
            with VerticalScroll(classes="question-box", can_focus=False):
                yield Static(Text(self.question), classes="question")
            yield Static("", classes="more")
            with Horizontal(classes="buttons"):
                yield MarkedButton("Yes", id="yes")
                yield MarkedButton("No", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()
        self.call_after_refresh(self._say_more)

    def _say_more(self) -> None:
        box = self.query_one(".question-box", VerticalScroll)
        if box.max_scroll_y > 0:
            self.query_one(".more", Static).update("(more: Up/Down or PageUp/PageDown)")

    def action_scroll(self, lines: int) -> None:
        box = self.query_one(".question-box", VerticalScroll)
        box.scroll_to(y=box.scroll_y + lines, animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_move(self, step: int) -> None:
        """Left/Right go from button to button, as in most dialogs (Tab does too). Focus is
        set at once (``Widget.focus`` waits a message), so an Enter typed right after it
        answers with the button moved to."""
        buttons = list(self.query(Button))
        index = buttons.index(self.focused) if self.focused in buttons else 0
        self.set_focus(buttons[max(0, min(index + step, len(buttons) - 1))])

    def action_choose(self) -> None:
        """Enter: the focused button's answer (Tab and Left/Right set focus at once)."""
        self.dismiss(self.focused is not None and self.focused.id == "yes")
