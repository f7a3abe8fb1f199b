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
ARP_WAIT_SECONDS = 0.3
"""A machine on the segment answers ARP within a millisecond: no answer after this long
means nobody has the address (the kernel's own verdict, FAILED, takes 3 s)."""
# $1 the VIP, $2 the load balancer's interface. What the neighbour table knew is dropped
# (a machine that had the VIP a minute ago stays "reachable" there for up to 45 s); then
# any packet to the VIP makes the kernel ask the segment who has it (ARP), and the table
# tells: an answer (lladdr), nobody yet (INCOMPLETE, FAILED), or no entry (the VIP is not
# on this segment, or no bash).
_ASK_SEGMENT = f"""ip -4 neigh flush to "$1" dev "$2" 2>/dev/null
timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/9"' "$1" >/dev/null 2>&1 &
sleep {ARP_WAIT_SECONDS}
ip -4 neigh show "$1" dev "$2"
"""
ANSWERED = ("REACHABLE", "DELAY", "PROBE", "PERMANENT")
NOBODY = ("INCOMPLETE", "FAILED")


def on_segment(connection: Connection, vip: ipaddress.IPv4Address, interface: str) -> str | None:
    """What the VIP's segment says, asked from a load balancer (on it by definition):
    "answered by MAC" when a machine has the address, "" when nobody answered, None when
    it cannot tell (an old entry, no entry, no bash): then only the TCP probe can."""
    out = run(connection, _ASK_SEGMENT, str(vip), interface, sudo=True, timeout=5.0)
    words = out.stdout.split()
    if not out.ok or not words:
        return None
    if words[-1] in NOBODY:
        return ""
    if words[-1] in ANSWERED and "lladdr" in words:
        return f"answered by {words[words.index('lladdr') + 1]}"
    return None


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
def check(
    vip: ipaddress.IPv4Address,
    *,
    timeout: float = 2.0,
    segment: tuple[Connection, str] | None = None,
) -> list[CheckResult]:
    """Before install the VIP must be free; `owned` turns "in use" into ok when our own
    load balancer holds it (a re-run). With `segment` (a load balancer's connection and
    interface) the segment is asked first: nobody answering ARP is a free address at
    once, where a TCP probe waits out its time-out."""
    arp = on_segment(segment[0], vip, segment[1]) if segment is not None else None
    if arp == "":
        return [ok("vip", "vip", f"the VIP {vip} is free (nobody on its segment answers ARP)")]
    sign = answering(vip, timeout)
    if sign is None and arp is not None:
        sign = f"{arp} on its segment, though no port answers"
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
