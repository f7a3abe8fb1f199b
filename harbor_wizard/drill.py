"""The failover drill: cut one piece of the live deployment at a time, measure what clients
see through the VIP, and put the piece back.

Why on demand: HA that was never exercised is a guess. The drill proves, against the real
deployment, that the VIP moves when the LB holding it loses keepalived (and where it
settles once keepalived runs again, compared with what keepalived.conf says), and that
the LBs take a node out when its Harbor stops without drain (as a crash would) and back
once it serves again. It refuses to start on a deployment that is not healthy (the result
would mean nothing and could make an outage), and whatever it stopped is started again
before it exits: at the end, on a failure, on Ctrl-C or SIGTERM.

Clients are simulated from the operator's machine: a GET of the health endpoint through
the VIP every PROBE_INTERVAL from each source address (HAProxy keeps a client on one node,
`balance source`, so several source addresses reach several nodes).
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fabric import Connection
from pydantic import SecretStr

from harbor_wizard import remote
from harbor_wizard.answers import Answers
from harbor_wizard.checks.ssh import open_host
from harbor_wizard.connection import targets
from harbor_wizard.events import Event
from harbor_wizard.health import LbState, Options, Report, gather, lb_state
from harbor_wizard.jsonlog import JsonLog
from harbor_wizard.profiles import profile_for
from harbor_wizard.statedir import state_dir
from harbor_wizard.steps.harbor import PICK_COMPOSE
from harbor_wizard.steps.verify import node_problem

PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 0.5
STABLE = 1.0
"""A source counts as served again after this long of answers without a failure."""
VIP_WAIT = 30.0
"""The longest the VIP may take to move or settle."""
NODE_WAIT = 90.0
"""The longest the LBs may take to notice a node (out or back)."""
START_WAIT = 180.0
"""The longest a node's Harbor may take to serve again after `docker-compose start`."""
COMMAND_TIMEOUT = 120.0
"""Every remote command of the drill; docker stops each container within 10 s."""

_HOLDS = 'ip -o -4 addr show dev "$1" | grep -qF " inet $2/"'
_KEEPALIVED = 'systemctl "$1" keepalived'
# $1 the installer folder, $2 stop|start, then the compose files.
_COMPOSE = f"""dir=$1 verb=$2
shift 2
cd "$dir" || exit 1
for f in "$@"; do set -- "$@" -f "$f"; shift; done
{PICK_COMPOSE}
exec $compose "$@" "$verb"
"""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: restore what was stopped, then leave."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


@dataclass(frozen=True, kw_only=True)
class DrillRow(Event):
    """One cut and what clients saw (also the JSON log's line)."""

    cut: str
    effect: str
    recovered_after: float | None
    """Seconds from the cut until every client was served again; None: it did not recover."""
    failed: int
    requests: int
    restored_after: float | None
    """Seconds from putting it back until it served (or the VIP settled) again."""
    ok: bool
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class DrillFinished(Event):
    ok: bool
    message: str
    seconds: float


@dataclass
class Probes:
    """GETs of the health endpoint through the VIP, from each source, every PROBE_INTERVAL."""

    vip: str
    https: bool
    path: str
    expect: str
    sources: Sequence[str | None]
    samples: list[tuple[float, str | None, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Probes:
        for source in self.sources:
            thread = threading.Thread(target=self._run, args=(source,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _get(self, source: str | None) -> bool:
        bind = (source, 0) if source else None
        conn = (
            http.client.HTTPSConnection(
                self.vip,
                timeout=PROBE_TIMEOUT,
                source_address=bind,
                context=ssl._create_unverified_context(),
            )
            if self.https
            else http.client.HTTPConnection(self.vip, timeout=PROBE_TIMEOUT, source_address=bind)
        )
        try:
            conn.request("GET", self.path)
            response = conn.getresponse()
            return response.status == 200 and self.expect in response.read(65536).decode(
                errors="replace"
            )
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def _run(self, source: str | None) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            ok = self._get(source)
            self.samples.append((began, source, ok))
            self._stop.wait(max(0.0, PROBE_INTERVAL - (time.monotonic() - began)))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(PROBE_TIMEOUT * 4)

    def since(self, start: float) -> list[tuple[float, str | None, bool]]:
        return [s for s in list(self.samples) if s[0] >= start]

    def served_since(self, start: float) -> float | None:
        """When every source was served again for STABLE seconds after `start` (the start
        of its last run of successes), or None while one is not."""
        latest = start
        for source in self.sources:
            mine = [s for s in self.since(start) if s[1] == source]
            streak: float | None = None
            for at, _, ok in mine:
                streak = (streak if streak is not None else at) if ok else None
            if streak is None or mine[-1][0] - streak < STABLE:
                return None
            latest = max(latest, streak)
        return latest

    def failures(self, start: float, end: float) -> tuple[int, int]:
        window = [s for s in self.since(start) if s[0] <= end]
        return sum(not ok for _, _, ok in window), len(window)


@dataclass
class Drill:
    answers: Answers
    secrets: dict[str, SecretStr]
    base_dir: Path
    options: Options
    node: str | None = None
    lbs: bool = True
    nodes: bool = True
    sources: Sequence[str | None] = (None,)
    say: Callable[[str], None] = print
    rows: list[DrillRow] = field(default_factory=list)
    _undo: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    _connections: dict[str, Connection] = field(default_factory=dict)
    _inflight: remote.Running | None = None
    """The remote command running now: a restore waits for it (a stop half done)."""
    _interrupted: Interrupted | None = None

    def __post_init__(self) -> None:
        self.health = profile_for(self.answers.harbor.version).health
        self.installer = profile_for(self.answers.harbor.version).installer
        self.https = self.answers.harbor.protocol == "https"
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.log_path = state_dir(self.answers.name) / "logs" / f"{stamp}-drill.jsonl"

    # -- the whole drill -------------------------------------------------------------
    def preflight(self) -> Report:
        return gather(self.answers, self.secrets, self.base_dir, self.options)

    def run(self, report: Report) -> bool:
        """Every cut in turn, restoring as it goes; True when every row held and the
        deployment is as before at the end. Raises Interrupted after restoring."""
        started = time.monotonic()
        log = JsonLog(self.log_path)
        try:
            self._open()
            if self.lbs and self.answers.load_balancer.mode != "external":
                self._lb_rounds(report, log)
            if self.nodes:
                for node in self.answers.harbor_nodes:
                    if self.node in (None, node.name):
                        self._node_round(node.name, str(node.address), log)
            after = self.preflight()
            same = after.holder == report.holder
            ok = all(row.ok for row in self.rows) and after.healthy and same
            problems = after.problems()
            if not same:
                problems.append(
                    f"the VIP is on {after.holder}, it was on {report.holder} before the drill"
                )
            message = "everything is as before" if ok else "; ".join(problems) or "a cut failed"
            log(DrillFinished(ok=ok, message=message, seconds=time.monotonic() - started))
            self.say(f"drill: afterwards: {message}")
            return ok
        except Interrupted as stop:
            log(DrillFinished(ok=False, message=f"stopped by {stop.signal_name}", seconds=0.0))
            raise
        finally:
            self.restore()
            for connection in self._connections.values():
                connection.close()
            log.close()
            if self._interrupted is not None:
                raise self._interrupted

    def restore(self) -> None:
        """Start again what the drill stopped (each bounded in time), newest first, after
        the command in flight ended; a signal meanwhile does not stop the restore."""
        while self._undo:
            what, undo = self._undo[-1]
            try:
                if self._inflight is not None and not self._inflight.done:
                    self.say("drill: waiting for the command in flight to end")
                    self._inflight.wait(COMMAND_TIMEOUT)
                self._inflight = None
                self.say(f"drill: restoring {what}")
                undo()
            except Interrupted as stop:
                self._interrupted = self._interrupted or stop
                continue  # this one again
            except Exception as exc:  # restore the others whatever happens to one
                self.say(f"drill: could not restore {what}: {exc}; do it by hand")
            self._undo.pop()

    def _open(self) -> None:
        wanted = {lb.name for lb in self.answers.load_balancer.nodes}
        wanted |= {n.name for n in self.answers.harbor_nodes if self.node in (None, n.name)}
        for target in targets(self.answers, self.base_dir):
            if target.name not in wanted:
                continue
            results, connection = open_host(
                target, self.options.accepted_fingerprints, self.options.timeout
            )
            if connection is None:
                raise RuntimeError(results[0].message)
            self._connections[target.name] = connection

    def _run(self, host: str, script: str, *args: str, timeout: float = COMMAND_TIMEOUT) -> None:
        self._inflight = remote.start(self._connections[host], script, *args, sudo=True)
        out = self._inflight.wait(timeout)
        self._inflight = None
        if not out.ok:
            raise RuntimeError(f"{host}: {out.tail() or f'exit code {out.code}'}")

    def _holds(self, host: str) -> bool:
        out = remote.run(
            self._connections[host],
            _HOLDS,
            self.answers.load_balancer.interface or "",
            str(self.answers.vip),
            timeout=5.0,
        )
        return out.ok

    def _probes(self) -> Probes:
        health = self.health
        vip = str(self.answers.vip)
        return Probes(vip, self.https, health.path, health.field, self.sources).start()

    # -- the load balancers ------------------------------------------------------------
    def _lb_rounds(self, report: Report, log: JsonLog) -> None:
        """Stop keepalived on the holder; where the VIP settles once it runs again decides
        the next round: back on the first (preempt) covers both directions, staying on the
        other (nopreempt) needs a second round from there."""
        states = {lb.name: lb for lb in report.lbs}
        holder = report.holder
        assert holder is not None
        for _ in range(2):
            other = next(name for name in states if name != holder)
            expected = self._expected(states[holder], states[other])
            settled = self._lb_round(holder, other, expected, states, log)
            if settled == holder:
                break  # it moved back: both directions were measured
            holder = other

    @staticmethod
    def _expected(stopped: LbState, other: LbState) -> str:
        """Where keepalived.conf says the VIP settles once `stopped` runs again: back on it
        when its priority is higher and it may preempt, else it stays on `other`."""
        higher = (stopped.priority or 0) > (other.priority or 0)
        return stopped.name if higher and stopped.preempt else other.name

    def _lb_round(
        self, holder: str, other: str, expected: str, states: dict[str, LbState], log: JsonLog
    ) -> str | None:
        why = (
            f"priority {states[holder].priority} > {states[other].priority}, preempt"
            if expected == holder
            else "the other keeps it (lower priority or nopreempt)"
        )
        self.say(f"drill: stopping keepalived on {holder} (holds the VIP)")
        probes = self._probes()
        try:
            self._undo.append(
                (f"keepalived on {holder}", lambda: self._keepalived(holder, "start"))
            )
            cut = time.monotonic()
            self._keepalived(holder, "stop")
            recovered = self._wait_vip(other, probes, cut)
            failed, total = probes.failures(cut, recovered or time.monotonic())
            row = DrillRow(
                cut=f"keepalived on {holder}",
                effect=f"VIP to {other}",
                recovered_after=None if recovered is None else recovered - cut,
                failed=failed,
                requests=total,
                restored_after=None,
                ok=recovered is not None,
                note="" if recovered else f"the VIP did not answer from {other} in {VIP_WAIT:g} s",
            )
            self.say(f"drill: starting keepalived on {holder} again")
            back = time.monotonic()
            self._keepalived(holder, "start")
            self._undo.pop()
            settled, settled_at = self._settle(expected, probes, back)
            row = replace(row, restored_after=None if settled_at is None else settled_at - back)
            self._record(row, log)
            if expected == holder:
                failed, total = probes.failures(back, settled_at or time.monotonic())
                self._record(
                    DrillRow(
                        cut=f"keepalived on {holder} started again",
                        effect=f"VIP back to {holder}",
                        recovered_after=None if settled_at is None else settled_at - back,
                        failed=failed,
                        requests=total,
                        restored_after=None,
                        ok=settled == expected,
                        note=f"settled on {settled} ({why})"
                        if settled == expected
                        else f"settled on {settled}, keepalived.conf says {expected} ({why})",
                    ),
                    log,
                )
            elif settled != expected:
                self._record(
                    DrillRow(
                        cut=f"keepalived on {holder} started again",
                        effect=f"VIP stays on {other}",
                        recovered_after=None,
                        failed=0,
                        requests=0,
                        restored_after=None,
                        ok=False,
                        note=f"settled on {settled}, keepalived.conf says {expected} ({why})",
                    ),
                    log,
                )
            return settled
        finally:
            probes.stop()

    def _keepalived(self, host: str, verb: str) -> None:
        self._run(host, _KEEPALIVED, verb, timeout=30.0)

    def _wait_vip(self, other: str, probes: Probes, cut: float) -> float | None:
        """When the VIP answered every source from `other` after the cut, or None."""
        moved: float | None = None
        while time.monotonic() - cut < VIP_WAIT:
            if moved is None and self._holds(other):
                moved = time.monotonic()
            if moved is not None:
                answered = [at for at, _, ok in probes.since(moved) if ok]
                sources = {src for at, src, ok in probes.since(moved) if ok}
                if answered and len(sources) == len(probes.sources):
                    return max(
                        min(at for at, src, ok in probes.since(moved) if ok and src == source)
                        for source in probes.sources
                    )
            time.sleep(PROBE_INTERVAL)
        return None

    def _settle(
        self, expected: str, probes: Probes, back: float
    ) -> tuple[str | None, float | None]:
        """Where the VIP is once it stays put for 3 s (keepalived's adverts every 1 s) and
        answers every source; (holder, when it answered from there), bounded by VIP_WAIT."""
        names = [lb.name for lb in self.answers.load_balancer.nodes]
        holder: str | None = None
        since = time.monotonic()
        while time.monotonic() - back < VIP_WAIT:
            now_holding = [name for name in names if self._holds(name)]
            current = now_holding[0] if len(now_holding) == 1 else None
            if current != holder:
                holder, since = current, time.monotonic()
            served = probes.served_since(since) if holder else None
            if holder is not None and served is not None:
                stable = time.monotonic() - since >= 3.0
                if stable and (holder == expected or time.monotonic() - back >= 10.0):
                    return holder, served
            time.sleep(0.2)
        return holder, None

    # -- the Harbor nodes --------------------------------------------------------------
    def _compose(self, host: str, verb: str) -> None:
        files = list(self.installer.compose_files)
        if self.answers.harbor.with_clair and self.installer.clair_flag:
            files.append(self.installer.clair_compose_file)
        self._run(host, _COMPOSE, str(self.installer.directory), verb, *files)

    def _node_round(self, name: str, address: str, log: JsonLog) -> None:
        self.say(f"drill: stopping Harbor on {name} (docker-compose stop, no drain)")
        probes = self._probes()
        try:
            self._undo.append((f"Harbor on {name}", lambda: self._compose(name, "start")))
            cut = time.monotonic()
            self._compose(name, "stop")
            recovered = self._wait(lambda: probes.served_since(cut), NODE_WAIT)
            failed, total = probes.failures(cut, recovered or time.monotonic())
            self.say(f"drill: starting Harbor on {name} again")
            back = time.monotonic()
            self._compose(name, "start")
            self._undo.pop()
            serving = self._wait(lambda: self._serves(address), START_WAIT)
            taken_back = (
                None
                if serving is None
                else self._wait(lambda: self._lbs_take(name, address), NODE_WAIT)
            )
            note = (
                "" if taken_back else
                f"{name} does not serve again" if not serving else
                f"the load balancers do not send {name} traffic again"
            )  # fmt: skip
            self._record(
                DrillRow(
                    cut=f"Harbor on {name}",
                    effect="stopped without drain",
                    recovered_after=None if recovered is None else recovered - cut,
                    failed=failed,
                    requests=total,
                    restored_after=None if taken_back is None else taken_back - back,
                    ok=recovered is not None and taken_back is not None,
                    note=note,
                ),
                log,
            )
        finally:
            probes.stop()

    def _serves(self, address: str) -> float | None:
        try:
            return None if node_problem(address, self.health) else time.monotonic()
        except TimeoutError:
            return None

    def _lbs_take(self, name: str, address: str) -> float | None:
        """When the LB holding the VIP sends the node traffic again: HAProxy's own verdict
        where its runtime API answers, else its health probe from that LB."""
        for lb in self.answers.load_balancer.nodes:
            if not self._holds(lb.name):
                continue
            state = lb_state(
                self._connections[lb.name], lb.name, str(lb.address), self.answers,
                self.health, self.options.timeout,
            )  # fmt: skip
            seen = state.haproxy_up.get(name, state.nodes_seen.get(address, False))
            return time.monotonic() if seen else None
        if self.answers.load_balancer.mode == "external":
            return time.monotonic()
        return None

    @staticmethod
    def _wait(probe: Callable[[], float | None], seconds: float) -> float | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = probe()
            if found is not None:
                return found
            time.sleep(0.2)
        return None

    def _record(self, row: DrillRow, log: JsonLog) -> None:
        self.rows.append(row)
        log(row)
