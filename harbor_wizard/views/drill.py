"""The drill's table: what was cut, how long clients waited, how many requests failed."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from harbor_wizard.drill import DrillRow
from harbor_wizard.redact import redact


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def print_rows(rows: Sequence[DrillRow], console: Console | None = None) -> None:
    console = console or Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140)
    table = Table(box=box.SIMPLE)
    for column in ("cut", "effect", "recovered", "failed", "back", "result", "note"):
        table.add_column(column, overflow="fold", no_wrap=column != "note")
    for row in rows:
        table.add_row(
            row.cut,
            row.effect,
            _seconds(row.recovered_after),
            f"{row.failed}/{row.requests}",
            _seconds(row.restored_after),
            "[green]ok[/]" if row.ok else "[bold red]failed[/]",
            redact(row.note),
        )
    console.print(table)
    console.print(
        "recovered: from the cut until every client was served through the VIP again; "
        "failed: requests that failed meanwhile / sent; back: from putting it back until "
        "it served (or the VIP settled) again"
    )
