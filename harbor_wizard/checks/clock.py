"""Each Harbor node's clock against the operator's, within 2 seconds.

Why: a token issued by one node is checked by another (the LB spreads `/service/token`
and `/v2/` requests), and tokens carry issued-at and expiry times: nodes whose clocks
disagree reject each other's tokens (goharbor/harbor#1293, "keep the date/clock the same
on all nodes"). Nodes within 2 s of the operator are within 4 s of each other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fabric import Connection

from harbor_wizard.checks.remote import run
from harbor_wizard.checks.result import CheckResult, ok, probe, warning
from harbor_wizard.connection import SshTarget

MAX_SKEW = 2.0
"""Seconds a node's clock may differ from the operator's."""


@dataclass(frozen=True)
class Skew:
    seconds: float
    """The node's clock minus the operator's at the same instant (positive: node ahead)."""
    uncertainty: float
    """Half the round trip: the remote reading happened somewhere inside it."""


def measure(operator_before: float, remote: float, operator_after: float) -> Skew:
    """The remote clock read between two operator readings, compared with their midpoint."""
    midpoint = (operator_before + operator_after) / 2
    return Skew(remote - midpoint, (operator_after - operator_before) / 2)


def clock_skew_problem(
    operator_before: float, remote: float, operator_after: float, limit: float = MAX_SKEW
) -> str | None:
    """Why the node's clock is not proved within `limit` seconds; None when it is."""
    skew = measure(operator_before, remote, operator_after)
    way = "ahead of" if skew.seconds > 0 else "behind"
    if abs(skew.seconds) - skew.uncertainty > limit:
        return f"its clock is {abs(skew.seconds):.1f} s {way} the operator's (limit {limit:g} s)"
    if abs(skew.seconds) + skew.uncertainty > limit:
        return (
            f"its clock could not be compared within {limit:g} s: the reading took "
            f"{2 * skew.uncertainty:.1f} s (measured {skew.seconds:+.1f} s)"
        )
    return None


def parse_date(text: str) -> float:
    """`date +%s.%N`; a date without %N (busybox) prints it literally: whole seconds then."""
    value = text.strip()
    seconds, _, fraction = value.partition(".")
    return float(f"{seconds}.{fraction}") if fraction.isdigit() else float(seconds)


@probe("node.clock")
def check(target: SshTarget, connection: Connection) -> list[CheckResult]:
    before = time.time()
    out = run(connection, "date -u +%s.%N")
    after = time.time()
    if not out.ok:
        return [warning("node.clock", target.name, f"{target.name}: cannot read its clock (date)")]
    remote = parse_date(out.stdout)
    problem = clock_skew_problem(before, remote, after)
    if problem is None:
        skew = measure(before, remote, after)
        return [
            ok(
                "node.clock",
                target.name,
                f"{target.name}: clock within {MAX_SKEW:g} s of the operator's "
                f"({skew.seconds:+.2f} s)",
            )
        ]
    return [
        warning(
            "node.clock",
            target.name,
            f"{target.name}: {problem}: nodes reject each other's tokens when clocks differ "
            "(goharbor/harbor#1293); run NTP (chrony or systemd-timesyncd) on every node",
        )
    ]
