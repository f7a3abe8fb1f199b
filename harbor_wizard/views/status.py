"""The `status` table: one row per thing a deployment needs, its state, and what was seen."""

from __future__ import annotations

import sys
import time

from rich import box
from rich.console import Console
from rich.table import Table

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


def print_report(report: Report, console: Console | None = None) -> None:
    console = console or Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140)
    table = Table(box=box.SIMPLE, title=f"Deployment '{report.deployment}' ({report.mode})")
    for column in ("what", "name", "state", "detail"):
        table.add_column(column, overflow="fold", no_wrap=column in ("what", "state"))
    for what, name, state, detail in rows(report):
        style = _STYLE.get(state)
        table.add_row(what, name, f"[{style}]{state}[/]" if style else state, redact(detail))
    console.print(table)
    problems = report.problems()
    if problems:
        console.print(f"[bold red]{len(problems)} problem(s)[/] ({report.seconds:.1f}s):")
        for problem in problems:
            console.print(f"  - {redact(problem)}", markup=False)
    else:
        console.print(f"[green]healthy[/] ({report.seconds:.1f}s)")
