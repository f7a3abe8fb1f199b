"""F1: every key, including those the 80-column footer has no room for."""

from __future__ import annotations

import importlib
import textwrap
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = """\
Keys (keyboard only; every screen fits 80x24)
  Tab, Shift+Tab  next / previous field (keys typed ahead land in it)
  Enter           leave a field for the next one; press a focused button
  Left, Right     change a < choice > (Space too); move between buttons
  F1              this help (Escape or F1 closes it)
  F2              Next screen (refused while a field shows "error:"); Save
  F3              Back to the previous screen (values are kept)
  F5              run the live checks of this screen again
  F6, F7          topology: add / remove a Harbor node (at least 2 stay)
                  SSH access: accept / refuse the selected host's key
  F4, F8, F9      install: retry / follow the running step / abort (asks)
  Ctrl+Q          quit (asks first while the install runs)

What you see
  [checking] [ok] [warning] [error]   a live check's state, by its field
  error: ...      what to fix, as --answers would say it; shown once you
                  leave the field or press F2
  > Label         the field that has the focus

{screens}Unattended: harbor-wizard --answers FILE [--secrets FILE] [--dry-run]
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[Any]] = [Binding("escape,f1,f3", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="box"):
            # Not markup: "[ok]" and "[error]" are the words the screens show.
            yield Static(KEYS.format(screens=self.screens()).rstrip("\n"), markup=False)

    def screens(self) -> str:
        """The screens this release and these answers show, numbered as their titles are
        (a skipped screen takes no number); "" before there is a draft (the start)."""
        from harbor_wizard.views.app import CLASSES

        wizard: Any = self.app
        if getattr(wizard, "draft", None) is None:
            return ""
        names = []
        for name in [*wizard.flow(), "install", "done"]:
            module = importlib.import_module(f"harbor_wizard.screens.{name}")
            title = getattr(getattr(module, CLASSES[name]), "TITLE_TEXT", "") or name.title()
            names.append(wizard.numbered(name, title.split(":")[0]).replace(" ", "\xa0"))
        text = "Screens: " + ", ".join(names)
        lines = textwrap.wrap(text, 76, subsequent_indent="  ")
        return "\n".join(lines).replace("\xa0", " ") + "\n"

    def action_close(self) -> None:
        self.dismiss(None)
