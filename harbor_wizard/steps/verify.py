"""Proof that the deployment works: each node answers the LBs' health probe on its own
address, the VIP answers /api/systeminfo from the operator's side, and the expected LB
holds the VIP (with an external LB: that it forwards to the nodes). Bounded waits:
services take a moment to come up after install, an operator's LB longer.
"""

from __future__ import annotations

import http.client
import re
import ssl
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from harbor_wizard import remote
from harbor_wizard.connection import NO_ANSWER_SECONDS, SILENT
from harbor_wizard.profiles import Health
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed

POLL = 1.0
HTTP_TIMEOUT = 3.0


def wait_for(
    probe: Callable[[], str | None],
    seconds: float,
    ctx: StepContext,
    *,
    until_cancelled: bool = True,
) -> str | None:
    """Call `probe` until it returns None (success) or time runs out; the last problem.
    A stop asked for ends the wait too, unless `until_cancelled` is False (a wait that
    must finish for the host to be left as it was)."""
    deadline = time.monotonic() + seconds
    problem = probe()
    while (
        problem is not None
        and time.monotonic() < deadline
        and not (until_cancelled and ctx.cancelled())
    ):
        time.sleep(POLL)
        problem = probe()
    return problem


def http_get(
    address: str, path: str, *, https: bool, timeout: float = HTTP_TIMEOUT
) -> tuple[int, str]:
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


def node_problem(address: str, health: Health) -> str | None:
    """check.sh's probe, from here: what is wrong with the node, or None."""
    try:
        status, _ = http_get(address, "/", https=False)
        if status not in (200, 301, 302, 307, 308):
            return f"http://{address}/ answered {status}"
        https = status != 200
        status, body = http_get(address, health.path, https=https)
        if status != 200 or health.field not in body:
            return f"{health.path} answered {status} without {health.field}"
        status, _ = http_get(address, health.database_path, https=https)
        if status != 200:
            return f"{health.database_path} answered {status} (the UI cannot reach its DB?)"
    except TimeoutError:
        raise  # the caller tells a node still starting from one that went silent
    except (OSError, http.client.HTTPException) as exc:
        return f"{address}: {exc}"
    return None


def health_problem(address: str, https: bool, label: str, health: Health) -> str | None:
    """What is wrong with `address`'s health endpoint (200 naming `health.field`), or None."""
    port = 443 if https else 80
    try:
        status, body = http_get(address, health.path, https=https)
    except (OSError, http.client.HTTPException) as exc:
        return f"{label} ({address}:{port}): {exc or type(exc).__name__}"
    if status != 200 or health.field not in body:
        return f"{label} ({address}:{port}) answered {status} without {health.field}"
    return None


class NodeServes(Action):
    verifies = True

    def __init__(self, address: str, health: Health, wait: float = 120.0) -> None:
        self.address = address
        self.health = health
        self.wait = wait
        self.step_id = "verify:node"
        self.title = f"answers the LBs' health probe on {address}"

    def inspect(self, ctx: StepContext) -> Change | None:
        """Waits while the node starts (it refuses, or answers wrongly), but not for a
        node that answers nothing at all for NO_ANSWER_SECONDS: that one went silent."""
        quiet_since: float | None = None

        def probe() -> str | None:
            nonlocal quiet_since
            try:
                problem = node_problem(self.address, self.health)
            except TimeoutError:
                now = time.monotonic()
                quiet_since = quiet_since or now
                if now - quiet_since + HTTP_TIMEOUT >= NO_ANSWER_SECONDS:
                    raise StepFailed(
                        f"{ctx.host} ({self.address}): no answer for {NO_ANSWER_SECONDS} s "
                        f"({SILENT})"
                    ) from None
                return f"{self.address}: no answer"
            quiet_since = None
            return problem

        problem = wait_for(probe, self.wait, ctx)
        if problem is not None:
            raise StepFailed(f"{ctx.host}: {problem}")
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("verification changes nothing")


REDIRECTS = (301, 302, 307, 308)


def redirect_problem(address: str, label: str) -> str | None:
    """What is wrong with `address`'s port 80 under https, or None: Harbor's nginx answers
    every plain-HTTP request there with a redirect to https (nginx.https.conf's
    ``return 301 https://$host$request_uri``); an LB whose port-80 pool is down answers
    nothing at all."""
    try:
        conn = http.client.HTTPConnection(address, timeout=HTTP_TIMEOUT)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            location = response.getheader("Location") or ""
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return f"{label} ({address}:80): {exc or type(exc).__name__}"
    if response.status not in REDIRECTS or not location.startswith("https://"):
        shown = f" to {location}" if location else ""
        return (
            f"{label} ({address}:80) answered {response.status}{shown}, not the redirect to "
            "https that Harbor answers on port 80"
        )
    return None


class VipServes(Action):
    verifies = True

    def __init__(self, vip: str, https: bool, health: Health, wait: float = 60.0) -> None:
        self.vip = vip
        self.https = https
        self.health = health
        self.wait = wait
        self.step_id = "verify:vip"
        self.title = (
            f"the VIP {vip} answers {health.path} on 443, and on 80 the redirect to https"
            if https
            else f"the VIP {vip} answers {health.path}"
        )

    def inspect(self, ctx: StepContext) -> Change | None:
        """Under https both ports: clients type http://<hostname> too, and the LB passes
        port 80 through to the nodes as it does 443."""

        def probe() -> str | None:
            problem = health_problem(self.vip, self.https, "the VIP", self.health)
            if problem is None and self.https:
                problem = redirect_problem(self.vip, "the VIP")
            return problem

        problem = wait_for(probe, self.wait, ctx)
        if problem is not None:
            raise StepFailed(problem)
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("verification changes nothing")


class HoldsVip(Action):
    """The LB with the higher priority holds the VIP, and only it."""

    verifies = True

    def __init__(self, vip: str, interface: str, expected: bool, wait: float = 20.0) -> None:
        self.vip = vip
        self.interface = interface
        self.expected = expected
        self.wait = wait
        self.step_id = "verify:vip-holder"
        self.title = "holds the VIP" if expected else "does not hold the VIP"
        self.addresses_read = remote.Read.of('ip -o -4 addr show dev "$1"', interface)

    def reads(self) -> tuple[remote.Read, ...]:
        return (self.addresses_read,)

    def inspect(self, ctx: StepContext) -> Change | None:
        def problem() -> str | None:
            out = ctx.read(self.addresses_read)  # the first from the phase's reads, then live
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


class ExternalLbServes(Action):
    """The operator's load balancer at the VIP forwards to the nodes.

    Why its own step: the wizard cannot look inside someone else's LB, so it waits (longer:
    a person may still be configuring it) until the VIP answers from the operator's side,
    and on failure probes each node directly to tell "the LB does not forward yet" apart
    from "this node does not answer at all", naming the nodes.
    """

    verifies = True

    def __init__(
        self,
        vip: str,
        https: bool,
        nodes: Mapping[str, str],
        health: Health,
        wait: float = 120.0,
    ) -> None:
        self.vip = vip
        self.https = https
        self.nodes = dict(nodes)
        """name -> address of every Harbor node behind the LB."""
        self.health = health
        self.wait = wait
        self.step_id = "verify:external-lb"
        self.title = (
            f"the external load balancer at {vip} answers {health.path} (waits up to {wait:.0f}s)"
        )

    def inspect(self, ctx: StepContext) -> Change | None:
        last: list[str | None] = [None]

        def probe() -> str | None:
            problem = health_problem(self.vip, self.https, "the VIP", self.health)
            if problem is not None and problem != last[0]:
                ctx.emit_line(f"waiting for the load balancer: {problem}")
            last[0] = problem
            return problem

        problem = wait_for(probe, self.wait, ctx)
        if problem is None:
            ctx.facts["checks"] = f"the VIP {self.vip} answers through the external LB"
            return None
        raise StepFailed(
            f"the external load balancer at {self.vip} did not answer /api/systeminfo "
            f"within {self.wait:.0f}s ({problem}); {self.diagnosis()}"
        )

    def diagnosis(self) -> str:
        """Which nodes the LB cannot be reaching, told from each node's own answer."""
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(self.nodes)))) as pool:
            problems = list(
                pool.map(
                    lambda item: health_problem(item[1], self.https, item[0], self.health),
                    self.nodes.items(),
                )
            )
        silent = [problem for problem in problems if problem is not None]
        answering = [name for name, p in zip(self.nodes, problems, strict=True) if p is None]
        parts = [
            f"{problem}: it does not answer on its own address, so the load balancer cannot "
            "reach it either"
            for problem in silent
        ]
        if answering and not silent:
            parts.append(
                f"the nodes answer on their own addresses ({', '.join(answering)}), so the "
                f"load balancer at {self.vip} is not forwarding to them yet: check its "
                "backends, ports and health check (the settings printed after the summary)"
            )
        elif answering:
            one = len(answering) == 1
            verb = "answers on its own address" if one else "answer on their own addresses"
            parts.append(
                f"{', '.join(answering)} {verb}, so the load balancer at {self.vip} is not "
                f"forwarding to {'it' if one else 'them'} yet either"
            )
        return "; ".join(parts)

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("verification changes nothing")
