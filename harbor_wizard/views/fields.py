"""One answers field on a screen: label, editor, status beside it, message under it.

Why text for every state: over NO_COLOR, TERM=linux and in a text capture colour says
nothing, so focus is a marker before the label and each state is a word ("error: ...",
"checking", "ok"). Everything drawn here is ASCII, for terminals that are not UTF-8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

if TYPE_CHECKING:
    from harbor_wizard.checks.result import CheckResult

Kind = Literal["text", "int", "secret", "choice", "bool"]


@dataclass(frozen=True)
class Spec:
    path: str
    label: str
    kind: Kind = "text"
    choices: tuple[str, ...] = ()
    placeholder: str = ""
    also: tuple[str, ...] = ()
    """Further problem paths shown under this field (a list's own path, for example)."""
    bound: bool = True
    """False when the screen itself turns the text into answers (``key=value`` lists)."""

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.also)


def slug(path: str) -> str:
    """A field path as a widget id: ``harbor_nodes[0].name`` -> ``harbor_nodes-0-name``."""
    return path.replace("[", "-").replace("]", "").replace(".", "-")


class SecretInput(Input):
    """A password input drawn with '*' (Textual's bullet is not ASCII)."""

    @property
    def _value(self) -> Text:
        return Text("*" * len(self.value), no_wrap=True, overflow="ignore", end="")


class Choice(Widget, can_focus=True):
    """One of a few values, changed with Left/Right (or Space): ``< haproxy >``."""

    DEFAULT_CSS = """
    Choice { width: auto; min-width: 12; height: 1; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[Any]] = [
        Binding("left", "step(-1)", "Previous", show=False),
        Binding("right,space", "step(1)", "Next value", show=False),
    ]
    value: reactive[str] = reactive("")

    class Changed(Message):
        def __init__(self, choice: Choice) -> None:
            super().__init__()
            self.choice = choice

    def __init__(self, choices: tuple[str, ...], value: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.choices = choices
        self.set_reactive(Choice.value, value if value in choices else choices[0])

    def render(self) -> str:
        return f"< {self.value} >"

    def action_step(self, delta: int) -> None:
        index = self.choices.index(self.value) if self.value in self.choices else 0
        self.value = self.choices[(index + delta) % len(self.choices)]

    def watch_value(self) -> None:
        self.post_message(self.Changed(self))


class MarkedButton(Button):
    """A button that says it has the focus in text: ``> Install`` (NO_COLOR, captures)."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(Text(f"  {label}"), compact=True, **kwargs)
        self._text = label

    def on_focus(self) -> None:
        self.label = Text(f"> {self._text}")

    def on_blur(self) -> None:
        self.label = Text(f"  {self._text}")


class FieldRow(Vertical):
    """A field; posts ``Edited`` when the operator changes its value, ``Left`` when the
    focus leaves it.

    Its error is shown only once the field is ``revealed``: it had a value when shown
    (a default, or from a file), the operator left it, or Next was pressed. Nobody is
    told "is required" about a field they have not reached yet.
    """

    class Edited(Message):
        def __init__(self, row: FieldRow) -> None:
            super().__init__()
            self.row = row

    class Left(Message):
        def __init__(self, row: FieldRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, spec: Spec, value: Any) -> None:
        super().__init__(id=f"row-{slug(spec.path)}", classes="field")
        self.spec = spec
        if spec.kind == "bool":
            value = "yes" if value else "no"
        self._initial = "" if value is None else str(value)
        self.error: str | None = None
        """The model's verdict on the current value (shown or not)."""
        self.shown: str | None = None
        """The error on screen: ``error`` once revealed (see ``FormScreen.revalidate``)."""
        self.revealed = self._initial != ""
        self.check: CheckResult | None = None
        self.checking = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="line"):
            yield Label(Text(self._label(False)), classes="label")
            yield self._editor()
            yield Static("", classes="status")
        yield Static("", classes="message")

    def _editor(self) -> Widget:
        spec, ident = self.spec, slug(self.spec.path)
        if spec.kind == "choice":
            return Choice(spec.choices, self._initial, id=ident)
        if spec.kind == "bool":
            return Choice(("no", "yes"), self._initial, id=ident)
        cls = SecretInput if spec.kind == "secret" else Input
        hint = spec.placeholder
        if hint and not hint.startswith("("):
            hint = f"e.g. {hint}"
        editor = cls(self._initial, placeholder=hint, id=ident, compact=True)
        if spec.kind == "int":
            editor.restrict = r"[0-9]*"
        return editor

    def _label(self, focused: bool) -> str:
        marker = ">" if focused else " "
        return f"{marker} {self.spec.label}"

    @property
    def editor(self) -> Widget:
        return self.query_one(f"#{slug(self.spec.path)}")

    @property
    def value(self) -> Any:
        editor = self.editor
        if isinstance(editor, Choice):
            return editor.value == "yes" if self.spec.kind == "bool" else editor.value
        text = editor.value if isinstance(editor, Input) else ""
        if self.spec.kind == "int" and text.isdigit():
            return int(text)
        return text

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Edited(self))

    def on_choice_changed(self, event: Choice.Changed) -> None:
        event.stop()
        self.post_message(self.Edited(self))

    def on_descendant_focus(self, _: events.DescendantFocus) -> None:
        self.query_one(".label", Label).update(Text(self._label(True)))
        self.add_class("-focused")

    def on_descendant_blur(self, _: events.DescendantBlur) -> None:
        self.query_one(".label", Label).update(Text(self._label(False)))
        self.remove_class("-focused")
        self.revealed = True
        self.post_message(self.Left(self))

    def show(self) -> None:
        """Paint the model's message (once shown), else the live check's state, as words."""
        status, message = "", ""
        if self.shown is not None:
            status, message = "error", f"error: {self.shown}"
        elif self.checking:
            status, message = "checking", "checking ..."
        elif self.check is not None:
            status = self.check.status.value
            message = f"{status}: {self.check.message}"
        self.query_one(".status", Static).update(Text(f"[{status}]" if status else ""))
        self.query_one(".message", Static).update(Text(message))
        self.set_class(bool(message), "-has-message")
        for name in ("error", "warning", "ok", "checking"):
            self.set_class(status == name, f"-{name}")
