"""Proof that the deployment works: each node answers the LBs' health probe on its own
address, the VIP answers /api/systeminfo from the operator's side, and the expected LB
holds the VIP. Bounded waits: services take a moment to come up after install.
"""

from __future__ import annotations

import http.client
import re
import ssl
import time
from collections.abc import Callable

from harbor_wizard import remote
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed

POLL = 1.0


def wait_for(probe: Callable[[], str | None], seconds: float, ctx: StepContext) -> str | None:
    """Call `probe` until it returns None (success) or time runs out; the last problem."""
    deadline = time.monotonic() + seconds
    problem = probe()
    while problem is not None and time.monotonic() < deadline and not ctx.cancelled():
        time.sleep(POLL)
        problem = probe()
    return problem


def http_get(address: str, path: str, *, https: bool, timeout: float = 3.0) -> tuple[int, str]:
    """One GET; certificates are not verified: they name the VIP or FQDN, not each node."""
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection(
            address, timeout=timeout, context=ssl._create_unverified_context()
        )
        if https
        else http.client.HTTPConnection(address, timeout=timeout)
    )
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read(65536).decode(errors="replace")
    finally:
        conn.close()


def node_problem(address: str) -> str | None:
    """check.sh's probe, from here: what is wrong with the node, or None."""
    try:
        status, _ = http_get(address, "/", https=False)
        if status not in (200, 301, 302, 307, 308):
            return f"http://{address}/ answered {status}"
        https = status != 200
        status, body = http_get(address, "/api/systeminfo", https=https)
        if status != 200 or "registry_url" not in body:
            return f"/api/systeminfo answered {status} without registry_url"
        status, _ = http_get(address, "/api/repositories/top", https=https)
        if status != 200:
            return f"/api/repositories/top answered {status} (the UI cannot reach its DB?)"
    except (OSError, http.client.HTTPException) as exc:
        return f"{address}: {exc}"
    return None


class NodeServes(Action):
    def __init__(self, address: str, wait: float = 120.0) -> None:
        self.address = address
        self.wait = wait
        self.step_id = "verify:node"
        self.title = f"answers the LBs' health probe on {address}"

    def inspect(self, ctx: StepContext) -> Change | None:
        problem = wait_for(lambda: node_problem(self.address), self.wait, ctx)
        if problem is not None:
            raise StepFailed(f"{ctx.host}: {problem}")
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("verification changes nothing")


class VipServes(Action):
    def __init__(self, vip: str, https: bool, wait: float = 60.0) -> None:
        self.vip = vip
        self.https = https
        self.wait = wait
        self.step_id = "verify:vip"
        self.title = f"the VIP {vip} answers /api/systeminfo"

    def _problem(self) -> str | None:
        try:
            status, body = http_get(self.vip, "/api/systeminfo", https=self.https)
        except (OSError, http.client.HTTPException) as exc:
            return f"the VIP {self.vip}: {exc}"
        if status != 200 or "registry_url" not in body:
            return f"the VIP {self.vip} answered {status} without registry_url"
        return None

    def inspect(self, ctx: StepContext) -> Change | None:
        problem = wait_for(self._problem, self.wait, ctx)
        if problem is not None:
            raise StepFailed(problem)
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("verification changes nothing")


class HoldsVip(Action):
    """The LB with the higher priority holds the VIP, and only it."""

    def __init__(self, vip: str, interface: str, expected: bool, wait: float = 20.0) -> None:
        self.vip = vip
        self.interface = interface
        self.expected = expected
        self.wait = wait
        self.step_id = "verify:vip-holder"
        self.title = "holds the VIP" if expected else "does not hold the VIP"

    def inspect(self, ctx: StepContext) -> Change | None:
        def problem() -> str | None:
            out = remote.run(ctx.ssh, f"ip -o -4 addr show dev {self.interface}")
            holds = re.search(rf"inet {re.escape(self.vip)}/", out.stdout) is not None
            if holds == self.expected:
                return None
            return f"{ctx.host} {'does not hold' if self.expected else 'holds'} the VIP {self.vip}"

        found = wait_for(problem, self.wait, ctx)
        if found is not None:
            raise StepFailed(found)
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("verification changes nothing")
