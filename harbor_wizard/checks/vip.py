"""The VIP must be free before install (in use after it, where that is what we expect)."""

from __future__ import annotations

import ipaddress
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from fabric import Connection

from harbor_wizard.answers import Answers
from harbor_wizard.checks.remote import run
from harbor_wizard.checks.result import CheckResult, Status, error, ok, probe
from harbor_wizard.connection import tcp_reachable

PROBE_PORTS = (80, 443, 22)


def answering(vip: ipaddress.IPv4Address, timeout: float) -> str | None:
    """A sign that something holds the address (a port that answers), or None.

    The ports are probed at once: a free address costs one time-out, not three.
    """
    with ThreadPoolExecutor(max_workers=len(PROBE_PORTS)) as pool:
        answers = list(pool.map(lambda port: tcp_reachable(str(vip), port, timeout), PROBE_PORTS))
    for port, why in zip(PROBE_PORTS, answers, strict=True):
        if why is None:
            return f"port {port} accepts connections"
        if why == "connection refused":
            return f"a host answered on port {port} (refused)"
    return None


@probe("vip")
def check(vip: ipaddress.IPv4Address, *, timeout: float = 2.0) -> list[CheckResult]:
    """Before install the VIP must be free; `owned` turns "in use" into ok when our own
    load balancer holds it (a re-run)."""
    sign = answering(vip, timeout)
    if sign is not None:
        return [
            error(
                "vip",
                "vip",
                f"the VIP {vip} is already in use ({sign}): choose a free address",
                field_path="vip",
            )
        ]
    return [
        ok(
            "vip",
            "vip",
            f"the VIP {vip} is free (nothing answers on {', '.join(map(str, PROBE_PORTS))})",
        )
    ]


@dataclass(frozen=True)
class Holder:
    """Which of this deployment's LBs has the VIP: `names` holds it now (one name), or
    their running keepalived is configured with it (it may be moving between them)."""

    names: tuple[str, ...]
    holding: bool

    def __str__(self) -> str:
        if self.holding:
            return f"this deployment's LB {self.names[0]}"
        return f"the keepalived of {' and '.join(self.names)} (this deployment's LBs)"


def holder(lbs: dict[str, Connection], answers: Answers) -> Holder | None:
    """Which of this deployment's load balancers has the VIP, or None: none of them."""
    interface = answers.load_balancer.interface or ""
    vip = re.escape(str(answers.vip))
    managing = []
    for name, connection in lbs.items():
        out = run(connection, 'ip -o -4 addr show dev "$1"', interface)
        if re.search(rf"inet {vip}/", out.stdout):
            return Holder((name,), holding=True)
        configured = run(
            connection,
            'grep -qF -- " $1/32 " /etc/keepalived/keepalived.conf '
            "&& systemctl is-active --quiet keepalived",
            str(answers.vip),
            sudo=True,
        )
        if configured.ok:
            managing.append(name)
    return Holder(tuple(managing), holding=False) if managing else None


def owned(results: list[CheckResult], held_by: Holder | None) -> list[CheckResult]:
    """A VIP in use is expected once installed: when our own LB holds it, say so."""
    if held_by is None:
        return results
    return [
        replace(r, status=Status.OK, message=f"the VIP is held by {held_by}")
        if r.check == "vip" and r.status is Status.ERROR
        else r
        for r in results
    ]
