"""The thin Textual App: global keys, the order of screens, and a clean exit on SIGTERM.

Why so thin: state is the draft (answers in the making) and each screen is its own file;
the App only says which screen comes next. The priority Tab bindings make keys typed
ahead land in the field they were meant for (Textual moves focus asynchronously, so a
character read with its Tab would otherwise reach the previous field).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from harbor_wizard.views.live import DEBOUNCE, Probes

EXIT_INTERRUPTED = 130
"""Quit during an install (as Ctrl-C in the unattended mode)."""
EXIT_SIGTERM = 143

FORMS = (
    "topology",
    "load_balancers",
    "database",
    "clair_database",
    "redis",
    "storage",
    "certificates",
    "ssh_access",
    "review",
)
"""The screens in order; Clair DB only with Harbor 1.4's scanning, certificates only with
https."""

AFTER_REVIEW = {"install": 1, "done": 2}
"""The screens after review, counted from it."""


def flow_of(release: str, with_clair: bool, protocol: Any) -> list[str]:
    """The form screens shown, in order, for a release line ("1.4", "2.x") and answers."""
    skip = set()
    if release != "1.4" or not with_clair:
        skip.add("clair_database")
    if protocol != "https":
        skip.add("certificates")
    return [name for name in FORMS if name not in skip]


CLASSES = {
    "start": "StartScreen",
    "status": "StatusScreen",
    "topology": "TopologyScreen",
    "load_balancers": "LoadBalancersScreen",
    "ssh_access": "SshAccessScreen",
    "database": "DatabaseScreen",
    "clair_database": "ClairDatabaseScreen",
    "redis": "RedisScreen",
    "storage": "StorageScreen",
    "certificates": "CertificatesScreen",
    "review": "ReviewScreen",
    "install": "InstallScreen",
    "done": "DoneScreen",
    "help": "HelpScreen",
}


class WizardApp(App[int]):
    """harbor-wizard's guided mode."""

    CSS_PATH = "app.tcss"
    TITLE = "harbor-wizard"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[Any]] = [
        Binding("tab", "focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Previous field", show=False, priority=True),
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        draft: Any = None,
        *,
        ascii_only: bool = False,
        probes: Probes | None = None,
        debounce: float = DEBOUNCE,
        first: str | None = None,
    ) -> None:
        self.first = first or ("start" if draft is None else "topology")
        # The first screen's stylesheet is read with the app's: Textual reads a pushed
        # screen's, not the default screen's (and reading one later parses them all again).
        # Its rules are all under its own class.
        super().__init__(css_path=[self.CSS_PATH, screen_css(self.first)])
        self.draft = draft
        self.ascii_only = ascii_only
        self.probes = probes or Probes()
        self.debounce = debounce
        self.saved: Any = None
        """What review saved: the file's path, its inputs and plan (``views.saving.Saved``)."""
        self.run_result: Any = None
        """The runner's result and the verification outcomes, for the done screen."""
        self.busy: Callable[[], bool] = lambda: False
        """Set by the install screen: quitting then asks first."""
        self.stop_run: Callable[[int], None] = lambda code: None
        """Set by the install screen: cancel the run (a second call: stop it at once), then
        exit with `code` once it has stopped."""
        self.stopping = False
        """Set by the install screen once a stop was asked: asking again stops at once."""
        self.aborted = False
        """Set by the install screen when a stop was asked twice: the process then exits
        as soon as the terminal is restored, whatever a step is still doing."""
        self.farewell = ""
        """Printed on stderr after the app has left the screen (how to resume a run)."""

    def on_mount(self) -> None:
        # Not in the main thread (some tests): there is no terminal to restore there.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._terminated)
        if self.ascii_only:
            self.add_class("-ascii")

    def get_default_screen(self) -> Screen[Any]:
        """The first screen is the bottom of the stack: pushed over Textual's own default
        screen, it was drawn only after that one, styled and laid out twice (start-up took
        about 1.4x a bare Textual app's, 1.2x this way)."""
        screen = self.make(self.first)
        # What push_screen gives a screen and switch_screen takes back: Textual gives the
        # default screen none, so switching away from it failed (textual#2650).
        screen._push_result_callback(self, None)
        return screen

    def on_unmount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)

    def _terminated(self) -> None:
        """SIGTERM: during an install, stop it as the unattended mode does (a second
        SIGTERM stops it at once), then exit 143; otherwise leave at once."""
        if self.busy():
            self.stop_run(EXIT_SIGTERM)
        else:
            self.exit(return_code=EXIT_SIGTERM)

    def make(self, name: str) -> Screen[Any]:
        module = importlib.import_module(f"harbor_wizard.screens.{name}")
        screen: Screen[Any] = getattr(module, CLASSES[name])()
        return self.styled(screen)

    def styled(self, screen: Screen[Any]) -> Screen[Any]:
        """Screens style their ASCII look under their own class (``&.-ascii``)."""
        screen.set_class(self.ascii_only, "-ascii")
        return screen

    def flow(self) -> list[str]:
        draft = self.draft
        return flow_of(
            draft.release(), bool(draft.get("harbor.with_clair")), draft.get("harbor.protocol")
        )

    def number(self, name: str) -> int:
        """The screen's number among those this release and these answers show, so that
        no number is skipped (install and done follow review)."""
        if self.draft is not None:
            order = self.flow()
        elif self.saved is not None:  # an install resumed without the guided screens
            harbor = self.saved.inputs.answers.harbor
            order = flow_of(
                "2.x" if harbor.version.startswith("2.") else "1.4",
                bool(getattr(harbor, "with_clair", False)),
                harbor.protocol,
            )
        else:
            order = list(FORMS)
        if name in order:
            return order.index(name) + 1
        return len(order) + AFTER_REVIEW.get(name, 0)

    def numbered(self, name: str, title: str) -> str:
        """`title` ("Harbor DB: ...") as the screen shows it: "3 Harbor DB: ..."."""
        return f"{self.number(name)} {title}"

    def go(self, name: str) -> None:
        self.switch_screen(self.make(name))

    def forward(self, screen: Screen[Any]) -> None:
        order = self.flow()
        name = name_of(screen)
        if name in order and order.index(name) + 1 < len(order):
            self.go(order[order.index(name) + 1])

    def back(self, screen: Screen[Any]) -> None:
        order = self.flow()
        name = name_of(screen)
        if name in order and order.index(name) > 0:
            self.go(order[order.index(name) - 1])
        elif name == order[0] and self.first == "start":
            self.go("start")

    def confirm(self, question: str, then: Callable[[bool], Any]) -> None:
        confirm = importlib.import_module("harbor_wizard.screens.confirm")
        self.push_screen(self.styled(confirm.ConfirmScreen(question)), lambda yes: then(bool(yes)))

    def action_help(self) -> None:
        if not isinstance(self.screen, self.make("help").__class__):
            self.push_screen(self.make("help"))

    async def action_quit(self) -> None:
        if self.busy() and self.stopping:
            self.stop_run(EXIT_INTERRUPTED)  # asked twice: stop at once
            return
        if self.busy():
            self.confirm(
                "The install is running. Stop it (running steps finish) and quit?",
                lambda yes: self.stop_run(EXIT_INTERRUPTED) if yes else None,
            )
            return
        self.exit(0)


def screen_css(name: str) -> Path:
    """The stylesheet beside a screen's module, named as Textual names it (resolved)."""
    screens = importlib.import_module("harbor_wizard.screens")  # mypy cannot resolve it
    return (Path(screens.__path__[0]) / f"{name}.tcss").resolve()


def name_of(screen: Screen[Any] | type[Screen[Any]]) -> str:
    """The screen's name in the flow (its module's): "database"."""
    return screen.__module__.rsplit(".", 1)[-1]
