"""In a real terminal (tmux): no error before a field is left, and a duplicate address typed
on screen 1 is marked on screen 1 before Next (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tmux import Terminal
from tests.tui.test_terminal import FIRST_FRAME, terminals, wizard

pytestmark = pytest.mark.slow

__all__ = ["terminals"]  # the fixture, used by name


def test_a_duplicate_address_is_marked_on_screen_1_before_next(
    terminals: list[Terminal], tmp_path: Path
) -> None:
    term = wizard(terminals, tmp_path)
    term.wait_for("New deployment", FIRST_FRAME)
    term.press("Enter")
    screen = term.wait_for(r"1 Topology.*> Harbor release")
    assert "error:" not in screen  # nothing typed, nothing left yet
    term.press(*["Tab"] * 9)  # to Node 1 address, leaving the first fields empty
    term.wait_for("> Node 1 address")
    term.type("198.51.100.21\t\t198.51.100.21")
    screen = term.wait_for(r"> Node 2 address +198\.51\.100\.21")
    assert "is also Harbor node 1" not in screen  # still being typed
    term.press("BTab")  # leave it for the field above: both stay in view
    screen = term.wait_for(r"error: 198\.51\.100\.21 is also Harbor node 1's address")
    assert "1 Topology" in screen
    assert "Next refused" not in screen
    lines = screen.splitlines()
    marked = next(i for i, line in enumerate(lines) if "is also Harbor node 1" in line)
    assert "Node 2 address" in lines[marked - 1]
