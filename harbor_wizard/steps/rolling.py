"""install.sh again on nodes that serve, without an outage: a few at a time, each drained.

Why: install.sh does `docker-compose down -v` and `up`, so a node is down for its whole run;
on every node at once that is the registry down. A node that serves is therefore first
taken out of the load balancers' pools (HAProxy through its runtime API, IPVS by weight 0),
its open connections are given time to end, install.sh runs, and the node goes back into
the pools once it answers the health probe on its own address and the LBs see it up. At
most `batch` nodes are out at once (at least one keeps serving); the first that does not
come back stops the roll, and the nodes not yet done keep serving as they are. A node that
does not serve yet (a first install, a new node) has nothing to drain: those run at once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path

from harbor_wizard import remote
from harbor_wizard.profiles import Health, Installer, SharedSetting
from harbor_wizard.render import RenderedFile
from harbor_wizard.steps.base import Change, StepContext, StepFailed
from harbor_wizard.steps.harbor import RunInstall
from harbor_wizard.steps.verify import node_problem, wait_for

DRAIN_WAIT = 60.0
"""Seconds a drained node's open connections get to end before install.sh cuts them."""
SERVE_WAIT = 600.0
"""Seconds a node gets to serve again after install.sh (Harbor 1.4 starts in 1-2 minutes)."""
BACK_WAIT = 60.0
"""Seconds the load balancers get to see a node up again (their health checks' rise)."""


class Roll:
    """What the install steps of one run share: at most `batch` serving nodes out of the
    pools at once, and the node that stopped the roll, if one did."""

    def __init__(self, batch: int) -> None:
        self.batch = max(1, batch)
        self._slots = threading.BoundedSemaphore(self.batch)
        self.stopped_by = ""

    @contextlib.contextmanager
    def slot(self, ctx: StepContext) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            ctx.emit_line(
                f"{ctx.host}: waits its turn: at most {self.batch} serving node(s) out of the "
                "pools at once"
            )
            while not self._slots.acquire(timeout=0.2):
                self._check(ctx)
        try:
            self._check(ctx)
            try:
                yield
            except BaseException:
                if not ctx.cancelled():
                    self.stopped_by = self.stopped_by or ctx.host
                raise
        finally:
            self._slots.release()

    def _check(self, ctx: StepContext) -> None:
        if self.stopped_by:
            raise StepFailed(
                f"{ctx.host}: not re-installed: the roll stopped at {self.stopped_by}, which "
                f"did not come back; {ctx.host} keeps serving as it was"
            )
        if ctx.cancelled():
            raise StepFailed(f"{ctx.host}: not re-installed: the run was stopped")


class Drain(ABC):
    """How a node is taken out of the load balancers' pools and put back."""

    @abstractmethod
    def describe(self) -> str:
        """A few words for the plan: where the node is drained."""

    @abstractmethod
    def out(self, ctx: StepContext) -> None:
        """No new connection reaches the node."""

    @abstractmethod
    def open_connections(self, ctx: StepContext) -> int:
        """How many connections the LBs still hold to the node."""

    @abstractmethod
    def ready(self, ctx: StepContext) -> None:
        """New connections may reach the node again."""

    @abstractmethod
    def not_taking(self, ctx: StepContext) -> str | None:
        """Where the LBs do not send the node traffic yet, or None."""

    def settle(self, ctx: StepContext, wait: float) -> str:
        """Wait (bounded, whatever a stop asks) for its open connections to end."""

        def still_open() -> str | None:
            count = self.open_connections(ctx)
            return f"{count} connection(s) still open" if count else None

        left = wait_for(still_open, wait, ctx, until_cancelled=False)
        return (
            f"{left} after {wait:.0f} s: install.sh cuts them"
            if left
            else ("its connections ended")
        )

    def back(self, ctx: StepContext, wait: float) -> None:
        """Into the pools again; returns once every LB sends it traffic (bounded, whatever
        a stop asks: a node left drained would stay out after it is mended)."""
        self.ready(ctx)
        left = wait_for(lambda: self.not_taking(ctx), wait, ctx, until_cancelled=False)
        if left is not None:
            raise StepFailed(f"{ctx.host} serves on its own address, but after {wait:.0f} s {left}")


# $1 the runtime API socket, then commands: each one's answer, in order. socat ends a
# command whose answer does not come within 5 s.
_HAPROXY = """\
s=$1; shift
for c in "$@"; do printf '%s\\n' "$c" | socat -T 5 - "UNIX-CONNECT:$s" || exit 3; done
"""


def stat_rows(text: str) -> list[dict[str, str]]:
    """The rows of HAProxy's `show stat` (CSV whose header starts with `# `)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        return []
    return list(csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]]))))


class HaproxyDrain(Drain):
    """HAProxy's runtime API on each LB: `set server <backend>/<node> state drain`."""

    def __init__(self, lbs: Sequence[str], backends: Sequence[str], socket: str) -> None:
        self.lbs = tuple(lbs)
        self.backends = tuple(backends)
        self.socket = socket

    def describe(self) -> str:
        return f"drained in HAProxy on {', '.join(self.lbs)}"

    def _api(self, ctx: StepContext, lb: str, *commands: str) -> str:
        out = remote.run(ctx.connect(lb), _HAPROXY, self.socket, *commands, sudo=True, timeout=30)
        if not out.ok:
            raise StepFailed(
                f"{lb}: HAProxy's runtime API ({self.socket}) did not answer "
                f"(exit {out.code}): is haproxy running with harbor-wizard's haproxy.cfg?",
                out.code,
                out.tail(),
            )
        return out.stdout

    def _state(self, ctx: StepContext, state: str) -> None:
        commands = [f"set server {b}/{ctx.host} state {state}" for b in self.backends]
        for lb in self.lbs:
            answer = self._api(ctx, lb, *commands).strip()
            if answer:  # HAProxy answers nothing on success
                raise StepFailed(f"{lb}: HAProxy refused '{commands[0]}': {answer}")

    def _rows(self, ctx: StepContext) -> dict[str, list[dict[str, str]]]:
        rows = {}
        for lb in self.lbs:
            found = stat_rows(self._api(ctx, lb, "show stat"))
            rows[lb] = [
                r for r in found if r.get("pxname") in self.backends and r.get("svname") == ctx.host
            ]
        return rows

    def out(self, ctx: StepContext) -> None:
        self._state(ctx, "drain")

    def open_connections(self, ctx: StepContext) -> int:
        return sum(int(r.get("scur") or 0) for rows in self._rows(ctx).values() for r in rows)

    def ready(self, ctx: StepContext) -> None:
        self._state(ctx, "ready")

    def not_taking(self, ctx: StepContext) -> str | None:
        down = [
            f"{lb} ({r.get('pxname')}: {r.get('status')})"
            for lb, rows in self._rows(ctx).items()
            for r in rows
            if r.get("status") != "UP"
        ]
        return f"HAProxy does not see it up: {', '.join(down)}" if down else None


# $1 the weight, then pairs of virtual service (VIP:port) and real server (node:port).
_IPVS_WEIGHT = """\
w=$1; shift; rc=0
while [ $# -ge 2 ]; do ipvsadm -e -t "$1" -r "$2" -g -w "$w" || rc=$?; shift 2; done
exit $rc
"""
# The real servers of each virtual service given, each listing after its own header line.
_IPVS_LIST = 'for s in "$@"; do echo "service $s"; ipvsadm -L -n -t "$s"; done'


def ipvs_real_servers(text: str) -> dict[str, tuple[int, int]]:
    """`ipvsadm -L -n -t VIP:PORT`'s real servers: address:port -> (weight, active conns).

    Lines look like ``  -> 10.0.0.11:80                 Route   10     3          5``."""
    found = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0] == "->" and fields[2] in ("Route", "Masq", "Tunnel"):
            found[fields[1]] = (int(fields[3]), int(fields[4]))
    return found


class IpvsDrain(Drain):
    """LVS-DR: the node's weight 0 in each virtual service (keepalived's checks keep it
    there until it fails; when it serves again, keepalived adds it back at its weight)."""

    def __init__(
        self, lbs: Sequence[str], vip: str, ports: Sequence[int], address: str, weight: int
    ) -> None:
        self.lbs = tuple(lbs)
        self.services = [(f"{vip}:{port}", f"{address}:{port}") for port in ports]
        self.weight = weight

    def describe(self) -> str:
        return f"weight 0 in IPVS on {', '.join(self.lbs)}"

    def _weight(self, ctx: StepContext, weight: int, *, missing_ok: bool) -> None:
        """Every service's weight of the node, one round trip per LB."""
        pairs = [part for pair in self.services for part in pair]
        for lb in self.lbs:
            out = remote.run(ctx.connect(lb), _IPVS_WEIGHT, str(weight), *pairs,
                             sudo=True, timeout=30)  # fmt: skip
            if not out.ok and not missing_ok:
                raise StepFailed(
                    f"{lb}: ipvsadm could not set {ctx.host}'s weight to {weight}",
                    out.code,
                    out.tail(),
                )

    def _table(self, ctx: StepContext) -> list[tuple[str, str, tuple[int, int] | None]]:
        """(LB, service, the node's (weight, active connections) or None when not listed),
        one round trip per LB."""
        found = []
        services = [service for service, _ in self.services]
        for lb in self.lbs:
            out = remote.run(ctx.connect(lb), _IPVS_LIST, *services, sudo=True, timeout=30)
            listings = dict.fromkeys(services, "")
            current = ""
            for line in out.stdout.splitlines():
                if line.startswith("service "):
                    current = line.removeprefix("service ")
                elif current in listings:
                    listings[current] += line + "\n"
            found += [
                (lb, service, ipvs_real_servers(listings[service]).get(real))
                for service, real in self.services
            ]
        return found

    def out(self, ctx: StepContext) -> None:
        self._weight(ctx, 0, missing_ok=False)

    def open_connections(self, ctx: StepContext) -> int:
        return sum(entry[1] for _, _, entry in self._table(ctx) if entry is not None)

    def ready(self, ctx: StepContext) -> None:
        # keepalived removed it while its check failed, and adds it back at its weight
        # once the check passes: set the weight where it is still listed.
        self._weight(ctx, self.weight, missing_ok=True)

    def not_taking(self, ctx: StepContext) -> str | None:
        out = [
            f"{lb} ({service})"
            for lb, service, entry in self._table(ctx)
            if entry is None or entry[0] == 0
        ]
        if not out:
            return None
        self.ready(ctx)  # where keepalived listed it again at weight 0
        return f"IPVS does not send it traffic: {', '.join(out)} (keepalived's check of it fails?)"


class NoDrain(Drain):
    """An external load balancer: harbor-wizard cannot reach into it; the run says so."""

    def describe(self) -> str:
        return "not drained: the external load balancer's health check takes it out"

    def out(self, ctx: StepContext) -> None:
        ctx.emit_line(
            f"external load balancer: harbor-wizard cannot take {ctx.host} out of its pools; "
            "its health check does once install.sh stops Harbor, and requests reaching "
            f"{ctx.host} in that moment fail. To avoid that, disable {ctx.host} in the load "
            "balancer before the run and enable it again after"
        )

    def open_connections(self, ctx: StepContext) -> int:
        return 0

    def ready(self, ctx: StepContext) -> None:
        return None

    def not_taking(self, ctx: StepContext) -> str | None:
        return None

    def settle(self, ctx: StepContext, wait: float) -> str:
        return "the external load balancer was not drained"


class RollingInstall(RunInstall):
    """install.sh on one node: drained first when the node serves, at most `roll.batch`
    such nodes at a time; it must serve on its own address again before it goes back."""

    def __init__(
        self,
        local: Path,
        layout: Installer,
        inputs: list[RenderedFile],
        flags: list[str],
        address: str,
        *,
        roll: Roll,
        drain: Drain,
        health: Health,
        drain_wait: float = DRAIN_WAIT,
        serve_wait: float = SERVE_WAIT,
        force: bool = False,
        settings: tuple[tuple[SharedSetting, str], ...] = (),
    ) -> None:
        super().__init__(local, layout, inputs, flags, address, force=force, settings=settings)
        self.roll = roll
        self.drain = drain
        self.health = health
        self.drain_wait = drain_wait
        self.serve_wait = serve_wait

    def _problem(self) -> str | None:
        try:
            return node_problem(self.address, self.health)
        except TimeoutError:
            return "no answer"

    def _wait_serving(self, ctx: StepContext, *, drained: bool) -> None:
        """Until the node serves. A stop asked for meanwhile (the first Ctrl-C: running
        steps finish) ends the wait of a node that was not drained, as install.sh is done;
        a drained node is waited for, bounded, so that it goes back into the pools."""
        problem = wait_for(self._problem, self.serve_wait, ctx, until_cancelled=not drained)
        if problem is not None and (drained or not ctx.cancelled()):
            raise StepFailed(
                f"{ctx.host}: install.sh finished, but the node does not serve on "
                f"{self.address} after {self.serve_wait:.0f} s ({problem}); the nodes "
                "not yet re-installed keep serving. See `docker-compose ps` and "
                f"`docker-compose logs` in {self.directory} on {ctx.host}"
            )

    def apply(self, ctx: StepContext, change: Change) -> str:
        if self._problem() is not None:  # a first install, a new or stopped node: nothing to drain
            done = super().apply(ctx, change)
            self._wait_serving(ctx, drained=False)
            return done
        with self.roll.slot(ctx):
            self.drain.out(ctx)
            try:
                ctx.emit_line(f"{ctx.host}: {self.drain.describe()}")
                ctx.emit_line(f"{ctx.host}: {self.drain.settle(ctx, self.drain_wait)}")
                done = super().apply(ctx, change)
                self._wait_serving(ctx, drained=True)
            except BaseException:
                # Back into the pools anyway: their health checks keep a broken node out,
                # and a drained one would stay out after it is mended.
                with contextlib.suppress(Exception):
                    self.drain.back(ctx, BACK_WAIT / 4)
                raise
            self.drain.back(ctx, BACK_WAIT)
        return f"{done}; {self.drain.describe()} and put back once it served"
