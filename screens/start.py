"""The start screen: a new deployment, the deployments known here, or a file to open.

The list holds the answers files of the current folder and the deployments this machine
has journals for, each with its last run (when, and completed / stopped after a step /
failed at a host's step). Enter opens one: a deployment run from here shows its status
first (F2 there edits it, F4 resumes a run that stopped), any other file opens for editing.

Why it imports so little: it is the first frame the operator waits for, so the answers
model (pydantic) is imported only once a choice is made (views.resume reads the journals
and the files' names without it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, OptionList, Static

from harbor_wizard.views.fields import MarkedButton
from harbor_wizard.views.resume import Known, installed, known_deployments

if TYPE_CHECKING:
    from harbor_wizard.views.app import WizardApp


class DeploymentList(OptionList):
    """One line per known deployment; the highlighted one is marked '> ' in text while the
    list has the focus, as buttons mark theirs (NO_COLOR, TERM=linux)."""

    def __init__(self, known: list[Known], **kwargs: Any) -> None:
        self.known = known
        super().__init__(*[self._prompt(k, False) for k in known], compact=True, **kwargs)
        self.highlighted = 0 if known else None

    @staticmethod
    def _prompt(known: Known, marked: bool) -> Text:
        return Text(("> " if marked else "  ") + known.row(), no_wrap=True, overflow="ellipsis")

    def mark(self) -> None:
        for index, known in enumerate(self.known):
            marked = self.has_focus and index == self.highlighted
            self.replace_option_prompt_at_index(index, self._prompt(known, marked))
        self.refresh()

    def watch_has_focus(self, _has_focus: bool) -> None:
        super().watch_has_focus(_has_focus)
        self.mark()

    def on_option_list_option_highlighted(self) -> None:
        self.mark()

    @property
    def chosen(self) -> Known | None:
        index = self.highlighted
        return self.known[index] if index is not None and index < len(self.known) else None


class StartScreen(Screen[None]):
    CSS_PATH = "start.tcss"

    def compose(self) -> ComposeResult:
        known = known_deployments(Path.cwd())
        yield Static("harbor-wizard: Harbor 1.4 or 2.15 in high availability", classes="title")
        with Vertical(classes="choices"):
            yield Static("Start a new deployment: its answers are checked as you type.")
            yield MarkedButton("New deployment", id="new")
            yield Static(
                "Deployments here (Enter opens one):"
                if known
                else "Deployments here: none (no answers file in this folder, no run "
                "recorded on this machine).",
                id="known-text",
            )
            if known:
                yield DeploymentList(known, id="deployments")
                yield Static(Text(known[0].detail()), id="detail")
            yield Static("Open another answers file:")
            with Horizontal(classes="open"):
                yield Input("", placeholder="path/to/answers.yaml", id="path", compact=True)
                yield MarkedButton("Open", id="open")
            yield Static("", id="problem")
        yield Footer()

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.query_one("#new", Button).focus()

    def on_input_submitted(self) -> None:
        self.open_file()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "new":
            from harbor_wizard.views.draft import Draft

            self.wizard.draft = Draft.new()
            self.wizard.go("topology")
        elif event.button.id == "open":
            self.open_file()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        chosen = self.query_one(DeploymentList).chosen
        if chosen is not None:
            self.query_one("#detail", Static).update(Text(chosen.detail()))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = self.query_one(DeploymentList).chosen
        if chosen is None:
            return
        if chosen.answers is None:
            self.query_one("#problem", Static).update(Text(f"error: {chosen.detail()}"))
            self.query_one("#path", Input).focus()
            return
        self.open_file(chosen.answers)

    def open_file(self, path: Path | None = None) -> None:
        """Load the file and its secrets; a deployment this machine ran shows its status
        first (its last run, F2 to edit, F4 to resume one that stopped)."""
        from harbor_wizard.answers import InvalidInput
        from harbor_wizard.views.draft import Draft

        target = path or Path(self.query_one("#path", Input).value.strip()).expanduser()
        try:
            self.wizard.draft = Draft.from_file(target)
            self.wizard.draft.find_secrets()
        except InvalidInput as error:
            lines = [f"error: {problem}" for problem in error.problems]
            self.query_one("#problem", Static).update(Text("\n".join(lines)))
            return
        shown = installed(self.wizard.draft.get("name"))
        self.wizard.go("status" if shown else "topology")
