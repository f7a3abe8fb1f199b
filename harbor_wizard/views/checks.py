"""The check results as a table: host / check / status / message / time."""

from __future__ import annotations

import sys

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harbor_wizard.checks.result import CheckResult, Status
from harbor_wizard.redact import redact

_STYLE = {Status.OK: "green", Status.WARNING: "yellow", Status.ERROR: "bold red"}


def print_results(
    results: list[CheckResult], console: Console | None = None, *, strict: bool = False
) -> bool:
    """Print the table and a one-line summary; True when any check failed.

    With `strict`, warnings fail too (`--strict`: a deployment must also be HA-ready).
    """
    console = console or Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120)
    table = Table(box=box.SIMPLE, show_lines=False, expand=False)
    for column in ("host", "check", "status", "message", "time"):
        table.add_column(
            column, overflow="fold", no_wrap=column in ("host", "check", "status", "time")
        )
    for result in results:
        table.add_row(
            Text(result.target),
            result.check,
            Text(result.status.value, style=_STYLE[result.status]),
            Text(redact(result.said)),
            f"{result.seconds:.1f}s",
        )
    console.print(table)
    errors = sum(r.status is Status.ERROR for r in results)
    warnings = sum(r.status is Status.WARNING for r in results)
    rule = " (--strict: warnings count as failures)" if strict and warnings else ""
    console.print(f"{len(results)} checks: {errors} error(s), {warnings} warning(s){rule}")
    return errors > 0 or (strict and warnings > 0)
