"""A Tree drawn with ASCII only: its icons and guides are box-drawing glyphs otherwise."""

from __future__ import annotations

from typing import Any

from textual.widgets import Tree

ASCII_LINES = ("  ", "| ", "`-", "|-")


class AsciiTree(Tree[Any]):
    ICON_NODE = "+ "
    ICON_NODE_EXPANDED = "- "
    LINES = {  # noqa: RUF012 (Tree declares it as a plain attribute)
        "default": ASCII_LINES,
        "bold": ASCII_LINES,
        "double": ASCII_LINES,
    }
