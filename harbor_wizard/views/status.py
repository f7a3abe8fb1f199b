"""The `status` table: one row per thing a deployment needs, its state, and what was seen."""

from __future__ import annotations

import sys
import time

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harbor_wizard.health import DEGRADED, DOWN, OK, Report
from harbor_wizard.redact import redact

_STYLE = {OK: "green", DEGRADED: "yellow", DOWN: "bold red"}


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "?"


def rows(report: Report) -> list[tuple[str, str, str, str]]:
    """(what, name, state, detail) for every row of the table (the TUI shows these too)."""
    found: list[tuple[str, str, str, str]] = []
    if report.mode == "external":
        where = "through the external load balancer"
    elif report.holder:
        expected = (
            "" if report.holder == report.expected_holder else
            f", expected {report.expected_holder}"
        )  # fmt: skip
        where = f"held by {report.holder}{expected}"
    else:
        where = "held by no load balancer"
    held = report.holder is not None or report.mode == "external"
    vip_state = OK if report.vip_problem is None and held else DOWN
    found.append(("VIP", report.vip, vip_state, f"{where}; " + (report.vip_problem or "answers")))
    for lb in report.lbs:
        if lb.problem:
            found.append(("LB", lb.name, DOWN, lb.problem))
            continue
        parts = ["holds the VIP" if lb.holds_vip else "backup", f"keepalived {lb.keepalived}"]
        if lb.haproxy is not None:
            parts.append(f"HAProxy {lb.haproxy}")
        if lb.priority is not None:
            parts.append(f"priority {lb.priority}" + ("" if lb.preempt else ", nopreempt"))
        found.append(("LB", lb.name, lb.state, ", ".join(parts)))
    for node in report.nodes:
        own = "serves on its address" if node.own is None else node.own
        if node.via_lb is None:
            via = f"; {report.holder} reaches it"
        elif node.via_lb:
            via = f"; {node.via_lb}"
        else:
            via = ""
        found.append(("node", f"{node.name} ({node.address})", node.state, own + via))
    for service in report.services:
        found.append(
            ("service", service.name, service.state, service.problem or f"{service.endpoint}")
        )
    cert = report.certificate
    if cert is not None:
        detail = cert.problem or f"valid until {cert.not_after} ({cert.days_left} days)"
        found.append(("certificate", cert.source or "?", cert.state, detail))
    run = report.last_run
    if run is None:
        found.append(("last run", "-", "", "no run recorded on this machine"))
    else:
        outcome = {True: "ok", False: "failed", None: "unfinished"}[run.ok]
        at = _when(run.finished or run.started)
        detail = f"{outcome} at {at}" + (f": {run.message}" if run.message else "")
        found.append(("last run", run.log or "-", "", detail))
    return found


def table(report: Report, *, compact: bool = False, ascii_only: bool = False) -> Table:
    """The one status table, for `status` and the TUI. `compact` (80 columns): no lines,
    one line per row, what does not fit is cut (with an ellipsis unless `ascii_only`);
    `summary` under it repeats every problem in full."""
    table = Table(
        box=None if compact else box.SIMPLE,
        title=None if compact else f"Deployment '{report.deployment}' ({report.mode})",
        header_style="bold",
        pad_edge=not compact,
        expand=compact,
    )
    for column in ("what", "name", "state", "detail"):
        table.add_column(
            column,
            overflow=("crop" if ascii_only else "ellipsis") if compact else "fold",
            no_wrap=compact or column in ("what", "state"),
            ratio=1 if compact and column == "detail" else None,
            max_width=26 if compact and column == "name" else None,
        )
    for what, name, state, detail in rows(report):
        # Text, not markup: a detail quotes what hosts said, brackets and all.
        table.add_row(what, Text(name), Text(state, _STYLE.get(state, "")), Text(redact(detail)))
    return table


def summary(report: Report) -> str:
    """The verdict under the table: healthy, or each problem on its own line."""
    problems = report.problems()
    if not problems:
        return f"healthy ({report.seconds:.1f}s)"
    lines = [f"{len(problems)} problem(s) ({report.seconds:.1f}s):"]
    return "\n".join([*lines, *(f"  - {redact(problem)}" for problem in problems)])


def print_report(report: Report, console: Console | None = None) -> None:
    console = console or Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140)
    console.print(table(report))
    head, _, rest = summary(report).partition("\n")
    console.print(head, style="bold red" if rest else "green", markup=False)
    if rest:
        console.print(rest, markup=False)
