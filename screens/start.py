"""The start screen: a new deployment, an answers file to open, or a stopped run to resume.

Why it imports so little: it is the first frame the operator waits for, so the answers
model (pydantic) is imported only once a choice is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

from harbor_wizard.views.fields import MarkedButton

if TYPE_CHECKING:
    from harbor_wizard.views.app import WizardApp
    from harbor_wizard.views.resume import Stopped


def answers_files(folder: Path) -> list[Path]:
    """Answers files in `folder`: YAML files that are not secrets files."""
    return sorted(
        p for p in folder.glob("*.yaml") if not p.name.endswith(".secrets.yaml") and p.is_file()
    )


def stopped_runs(folder: Path) -> list[Stopped]:
    """Deployments whose last run stopped before the end (their journals), newest first."""
    from harbor_wizard.views.resume import stopped_runs as find

    return find(folder)


class StartScreen(Screen[None]):
    CSS_PATH = "start.tcss"

    def compose(self) -> ComposeResult:
        cwd = Path.cwd()
        found = answers_files(cwd)
        stopped = stopped_runs(cwd)
        yield Static("harbor-wizard: Harbor 1.4 in high availability", classes="title")
        with Vertical(classes="choices"):
            yield Static("Start a new deployment: its answers are checked as you type.")
            yield MarkedButton("New deployment", id="new")
            yield Static("Open an answers file to review, change or install it:")
            with Horizontal(classes="open"):
                yield Input(
                    str(found[0]) if found else "", placeholder="path", id="path", compact=True
                )
                yield MarkedButton("Open", id="open")
            yield Static(
                Text(
                    "Resume a deployment whose last run stopped: "
                    + ("; ".join(f"{s.deployment} ({s.where})" for s in stopped) or "none found.")
                ),
                id="resume-text",
            )
            yield MarkedButton("Resume", id="resume", disabled=not any(s.answers for s in stopped))
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
        elif event.button.id == "resume":
            resumable = [s.answers for s in stopped_runs(Path.cwd()) if s.answers]
            if resumable:
                self.open_file(resumable[0], status=False)

    def open_file(self, path: Path | None = None, *, status: bool = True) -> None:
        """Load the file and its secrets; a deployment this machine ran shows its status
        first (`status`: False when resuming, which goes on with the run)."""
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
        shown = status and installed(self.wizard.draft.get("name"))
        self.wizard.go("status" if shown else "topology")


def installed(deployment: object) -> bool:
    """Whether this machine ran the deployment (it has a journal)."""
    from harbor_wizard.views.resume import state_root

    return isinstance(deployment, str) and (state_root() / deployment / "journal.json").is_file()
