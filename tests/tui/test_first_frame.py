"""What the first frame waits for (issue 17 item 4: start-up within 1.3x of a bare Textual
app). Deterministic guards, never timed: benchmarks/tui_startup.py prints the figures.

- The first screen is the bottom of the stack, drawn at once: pushed over Textual's own
  default screen, it was drawn after that one and styled twice.
- Its stylesheet is read with the app's: one read later makes Textual parse them all again.
- Nothing heavy is imported before the operator chooses something.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.css.stylesheet import Stylesheet

from harbor_wizard.views.app import WizardApp
from tests.tui.conftest import SIZE, screen_name
from tests.tui.offline import app_on

HEAVY = ("pydantic", "ruamel", "yaml", "jinja2", "fabric", "invoke", "paramiko", "psycopg",
         "pymysql", "redis", "cryptography", "keyring")  # fmt: skip

PROBE = """
import asyncio, sys
from harbor_wizard.cli import _parser
from harbor_wizard.views.launch import ascii_wanted, run_tui  # what `harbor-wizard` imports
from harbor_wizard.views.app import WizardApp

_parser().parse_args([])

async def first_frame():
    app = WizardApp(ascii_only=ascii_wanted(False))
    async with app.run_test():
        print(type(app.screen).__name__)

asyncio.run(first_frame())
print(sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r})))
"""


def test_the_start_screen_imports_nothing_heavy(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["StartScreen", "[]"]


@pytest.mark.parametrize("first", ["start", "topology"])
async def test_the_first_screen_is_the_bottom_one_and_nothing_is_parsed_again(
    first: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    reparsed: list[Stylesheet] = []
    original = Stylesheet.reparse

    def reparse(self: Stylesheet) -> None:
        reparsed.append(self)
        original(self)

    monkeypatch.setattr(Stylesheet, "reparse", reparse)
    app: Any = WizardApp() if first == "start" else app_on(first)
    async with app.run_test(size=SIZE) as pilot:
        assert [type(s).__name__ for s in app.screen_stack] == [screen_name(pilot)]
        assert reparsed == []
        # Its own rules apply (the first screen's stylesheet is not read when it is shown).
        if first == "start":
            assert app.screen.query_one(".choices").styles.padding.left == 2
        else:
            assert app.screen.query(".section").first().styles.text_style.italic


async def test_leaving_the_first_screen_and_coming_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Textual cannot switch away from its default screen (textual#2650); ours can."""
    monkeypatch.chdir(tmp_path)
    app = WizardApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # New deployment
        await pilot.pause()
        assert screen_name(pilot) == "TopologyScreen"
        await pilot.press("f3")
        await pilot.pause()
        assert screen_name(pilot) == "StartScreen"
        assert len(app.screen_stack) == 1
        assert app.screen.query_one(".choices").styles.padding.left == 2
