"""The VIP must be free before install (in use after it, where that is what we expect)."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from harbor_wizard.checks.result import CheckResult, error, ok, probe
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
def check(
    vip: ipaddress.IPv4Address, *, installed: bool = False, timeout: float = 2.0
) -> list[CheckResult]:
    sign = answering(vip, timeout)
    if installed:
        if sign is None:
            return [error("vip", "vip", f"the VIP {vip} does not answer", field_path="vip")]
        return [ok("vip", "vip", f"the VIP {vip} answers: {sign}")]
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
