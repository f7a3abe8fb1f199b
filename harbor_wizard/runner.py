"""Carries out a plan over SSH and says what happens, as events.

One fabric connection per host, opened by the one factory that verifies host keys, and
reused for every step of that host. Phases run in order (those the plan marks to run
beside the next one, at the same time); within a phase, hosts run in parallel (bounded)
and each host's steps in order. When a step fails, the other hosts finish the step they
are in and the run stops at the phase boundary. The runner knows nothing about how events
are shown.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from fabric import Connection

from harbor_wizard import remote
from harbor_wizard.connection import SILENT, SshTarget, connect, targets
from harbor_wizard.events import (
    Event,
    EventSink,
    Outcome,
    OutputLine,
    PhaseFinished,
    PhaseStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from harbor_wizard.inputs import Inputs
from harbor_wizard.journal import Journal
from harbor_wizard.lock import HostLock, Locked, OperatorLock
from harbor_wizard.plan import HostPlan, Phase, Plan
from harbor_wizard.redact import redact
from harbor_wizard.remote import ConnectionLost
from harbor_wizard.steps.base import Action, Change, HostReads, StepContext, StepFailed

HOSTS_AT_ONCE = 32
"""Hosts worked on at the same time by default (`--parallel`): each holds an SSH connection
and a few threads here, and the preflight a handful of sessions on each host."""
LOCK_RELEASE_SECONDS = 2.0
"""How long releasing the host lock may take at the end of a run (also after an abort)."""


@dataclass
class RunOptions:
    dry_run: bool = False
    parallel: int = HOSTS_AT_ONCE
    """Hosts at once within a phase (and in a step that spans hosts)."""
    connect_timeout: float = 10.0
    accepted_fingerprints: frozenset[str] = field(default_factory=frozenset)
    lock_dir: Path | None = None
    """Where the operator-side lock lives (the deployment's state folder); no lock: None."""
    journal: Journal | None = None
    """Records each finished step's inputs (the journal is also an event sink)."""
    resume: bool = True
    """Skip steps the journal has done with the same inputs when the host still matches."""
    break_lock: bool = False
    """Remove the host lock whoever holds it (`--break-lock`: the operator knows it is
    stale); a holder alive on this machine still refuses."""


@dataclass
class RunResult:
    ok: bool
    message: str
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    seconds: float = 0.0


class Runner:
    def __init__(
        self, plan: Plan, inputs: Inputs, sink: EventSink, options: RunOptions | None = None
    ):
        self.plan = plan
        self.inputs = inputs
        self.sink = sink
        self.options = options or RunOptions()
        self._cancel = threading.Event()
        self._abort = threading.Event()
        self._connections: dict[str, Connection] = {}
        self._lock = threading.Lock()
        self._targets: dict[str, SshTarget] = {
            t.name: t for t in targets(inputs.answers, inputs.document.base_dir)
        }
        self._facts: dict[str, dict[str, str]] = {}
        self._lock_problem = ""

    def cancel(self) -> None:
        """Start no new step; running steps end (their commands have time limits)."""
        self._cancel.set()

    def abort(self) -> None:
        """Stop now: every SSH connection is closed, which ends the commands running on
        them (each host then ends their process groups); steps end as cancelled."""
        self._cancel.set()
        self._abort.set()
        # Not here: a signal handler may call this while this thread holds self._lock.
        threading.Thread(target=self._close, daemon=True).start()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def aborted(self) -> bool:
        return self._abort.is_set()

    def emit(self, event: Event) -> None:
        self.sink(event)

    def run(self) -> RunResult:
        start = time.monotonic()
        sent = remote.round_trips.snapshot()
        result = RunResult(ok=True, message="")
        self.emit(RunStarted(deployment=self.plan.deployment, dry_run=self.options.dry_run))
        locks: list[OperatorLock | HostLock] = []
        try:
            for phases in self.plan.rounds():
                if not self.options.dry_run and not self._take_locks(phases[0], locks):
                    result.ok = False
                    result.message = self._lock_problem
                    break
                if not self._run_round(phases, result):
                    break
        finally:
            for lock in reversed(locks):
                self._release(lock)
            self._close()
        result.seconds = time.monotonic() - start
        if result.ok:
            result.message = "dry run: nothing was changed" if self.options.dry_run else "done"
        stopped = self.cancelled and not result.ok
        self.emit(
            RunFinished(
                ok=result.ok, message=result.message, seconds=result.seconds, stopped=stopped,
                round_trips=self._round_trips(sent),
            )
        )  # fmt: skip
        return result

    def _round_trips(self, before: dict[str, int], only: set[str] | None = None) -> dict[str, int]:
        """Commands and transfers per host since `before` (a `remote.round_trips` snapshot);
        `only`: of these hosts."""
        now = remote.round_trips.snapshot()
        named = {target.address: name for name, target in reversed(self._targets.items())}
        counts: dict[str, int] = {}
        for address, total in now.items():
            name = named.get(address, address)
            sent = total - before.get(address, 0)
            if sent and (only is None or name in only):
                counts[name] = counts.get(name, 0) + sent
        return counts

    def _release(self, lock: OperatorLock | HostLock) -> None:
        """Release a lock; the host lock over the run's connection, or a fresh, short-lived
        one when an abort (or the host) closed it. A lock left behind names its holder, and
        a later run from this machine takes it over once this process is gone."""
        if isinstance(lock, OperatorLock):
            lock.release()
            return
        try:
            if lock.connection.is_connected:
                with contextlib.suppress(ConnectionLost):
                    lock.release()
                    return
            with connect(self._targets[lock.host], timeout=LOCK_RELEASE_SECONDS) as fresh:
                lock.release(fresh)
        except Exception as exc:  # the run is ending anyway: say it, do not mask its result
            self.emit(
                OutputLine(
                    host=lock.host, step="lock",
                    text=redact(f"could not release {lock.path} on {lock.host}: {exc}"),
                )
            )  # fmt: skip

    def _take_locks(self, phase: Phase, locks: list[OperatorLock | HostLock]) -> bool:
        """Take the operator lock before the first phase, the host lock before the first
        phase that writes (after the read-only preflight); False when another run has it."""
        try:
            if not locks and self.options.lock_dir is not None:
                operator = OperatorLock(self.options.lock_dir)
                operator.acquire(self.plan.deployment)
                locks.append(operator)
            if phase.name != "preflight" and not any(isinstance(k, HostLock) for k in locks):
                host = self._lock_host()
                connection = self._connection(host)
                assert connection is not None
                host_lock = HostLock(host, connection, self.plan.deployment)
                note = host_lock.acquire(break_lock=self.options.break_lock)
                locks.append(host_lock)
                if note:  # a stale lock taken over, or broken: the operator reads why
                    self.emit(OutputLine(host=host, step="lock", text=redact(note)))
        except (Locked, StepFailed) as exc:
            self._lock_problem = str(exc)
            return False
        return True

    def _resumed(self, host: str, action: Action) -> bool:
        journal = self.options.journal
        return self.options.resume and journal is not None and journal.done(host, action)

    def _lock_host(self) -> str:
        answers = self.inputs.answers
        lbs = answers.load_balancer.nodes
        return lbs[0].name if lbs else answers.harbor_nodes[0].name

    def _run_round(self, phases: tuple[Phase, ...], result: RunResult) -> bool:
        """Phases that run at the same time; a failure in one lets the others end their
        phase, then the run stops there (as hosts within a phase do)."""
        sent = remote.round_trips.snapshot()
        hosts = [{h.host for h in phase.hosts} for phase in phases]
        every = set(self._targets)
        # A phase counts its own hosts; one with a step on this machine (the installer's
        # distribution, the checks) also the hosts that no phase beside it names.
        counted = [
            names | (every - set().union(*hosts)) if names - every else names for names in hosts
        ]
        if len(phases) == 1:
            problems = [self._run_phase(phases[0], result, sent, counted[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(phases)) as pool:
                problems = list(
                    pool.map(
                        lambda pair: self._run_phase(pair[0], result, sent, pair[1]),
                        zip(phases, counted, strict=True),
                    )
                )
        found = [problem for problem in problems if problem]
        if found:
            result.ok, result.message = False, "; ".join(found)
        return not found

    def _run_phase(
        self, phase: Phase, result: RunResult, sent: dict[str, int], counted: set[str]
    ) -> str | None:
        """Run one phase; what stopped it, or None. `sent` and `counted`: the round trips
        it reports are those to the `counted` hosts since `sent`."""
        if self.cancelled:
            return f"interrupted before phase '{phase.name}'"
        self.emit(PhaseStarted(phase=phase.name, hosts=tuple(h.host for h in phase.hosts)))
        failed = threading.Event()
        workers = min(self.options.parallel, len(phase.hosts))
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [
                pool.submit(self._run_host, phase, host, failed, result) for host in phase.hosts
            ]
            for future in futures:
                future.result()
        trips = self._round_trips(sent, counted)
        self.emit(PhaseFinished(phase=phase.name, failed=failed.is_set(), round_trips=trips))
        if failed.is_set():
            mine = {(host.host, action.step_id) for host in phase.hosts for action in host.steps}
            failures = [
                f"{h}/{s}"
                for (h, s), o in list(result.outcomes.items())
                if o is Outcome.FAILED and (h, s) in mine
            ]
            return f"phase '{phase.name}' failed: {', '.join(failures)}"
        if self.cancelled:
            return f"interrupted during phase '{phase.name}'"
        return None

    def _run_host(
        self, phase: Phase, host: HostPlan, failed: threading.Event, result: RunResult
    ) -> None:
        stop_reason: str | None = None
        reads = HostReads([action.reads() for action in host.steps])
        for action in host.steps:
            if stop_reason is None and (self.cancelled or failed.is_set()):
                stop_reason = "interrupted" if self.cancelled else "another host failed"
            if stop_reason is not None:
                self._finish(phase, host.host, action, Outcome.CANCELLED, stop_reason, 0.0, result)
                continue
            outcome = self._run_step(phase, host, action, result, reads)
            reads.step_done(changed=outcome is Outcome.CHANGED and not self.options.dry_run)
            if outcome is Outcome.FAILED:
                failed.set()
                stop_reason = "an earlier step of this host failed"

    def _run_step(
        self, phase: Phase, host: HostPlan, action: Action, result: RunResult, reads: HostReads
    ) -> Outcome:
        self.emit(
            StepStarted(phase=phase.name, host=host.host, step=action.step_id, title=action.title)
        )
        start = time.monotonic()
        dry_run = self.options.dry_run
        verifying = action.verifies
        journal = self.options.journal
        if journal is not None:
            journal.remember(host.host, action)
        if dry_run and verifying and phase.name == "verification":
            return self._finish(
                phase, host.host, action, Outcome.SKIPPED, "after install", 0.0, result
            )
        try:
            ctx, change = self._inspect(host, action, dry_run, reads)
            if verifying:
                outcome, message = Outcome.PASSED, ctx.facts.pop("checks", "verified")
            elif change is None and self._resumed(host.host, action):
                outcome, message = Outcome.SKIPPED, "done in an earlier run; the host still matches"
            elif change is None:
                outcome, message = Outcome.UNCHANGED, "unchanged"
                if "schema_version" in ctx.facts:
                    message = f"Harbor schema {ctx.facts['schema_version']} present: kept"
            elif dry_run:
                outcome, message = Outcome.CHANGED, f"would change: {change.summary}"
            else:
                ctx.reads = None  # what the phase read before no longer holds once we act
                message = action.apply(ctx, change)
                outcome = Outcome.CHANGED
        except ConnectionLost as exc:
            if self.aborted:
                outcome, message = Outcome.CANCELLED, "stopped at once (second interrupt)"
            else:
                where = self._host_at(exc.address)
                outcome, message = Outcome.FAILED, f"{where}: {action.title}: {exc.reason}"
            return self._finish(
                phase, host.host, action, outcome, message, time.monotonic() - start, result
            )
        except StepFailed as exc:
            lines = [line for line in exc.output.splitlines() if line.strip()][-10:]
            for line in lines:
                self.emit(OutputLine(host=host.host, step=action.step_id, text=redact(line)))
            message = str(exc)
            if lines and lines[-1].strip() not in message:  # the host's own why, in the summary
                message = f"{message}: {lines[-1].strip()}"
            return self._finish(
                phase, host.host, action, Outcome.FAILED, redact(message),
                time.monotonic() - start, result, exit_code=exc.exit_code,
            )  # fmt: skip
        except Exception as exc:  # a broken connection, a bug: name the host and step
            if self.aborted:
                return self._finish(
                    phase, host.host, action, Outcome.CANCELLED,
                    "stopped at once (second interrupt)", time.monotonic() - start, result,
                )  # fmt: skip
            return self._finish(
                phase, host.host, action, Outcome.FAILED,
                f"{host.host}: {action.title}: {type(exc).__name__}: {exc}",
                time.monotonic() - start, result,
            )  # fmt: skip
        diff = change.diff if (change is not None and dry_run) else ""
        return self._finish(
            phase, host.host, action, outcome, message, time.monotonic() - start, result, diff=diff
        )

    def _inspect(
        self, host: HostPlan, action: Action, dry_run: bool, reads: HostReads
    ) -> tuple[StepContext, Change | None]:
        """The step's look at its host; a lost SSH connection is reopened once (the look
        is read-only, so trying again is safe), else the step fails naming the host."""
        for attempt in (1, 2):
            ctx = self._context(host, action, dry_run, reads)
            try:
                return ctx, action.inspect(ctx)
            except ConnectionLost as exc:
                if exc.silent or self.aborted:
                    raise  # a silent host would only make us wait again
                lost: Exception = exc
            except (EOFError, OSError, paramiko.SSHException) as exc:
                lost = exc
            target = self._targets.get(host.host)
            if target is None or self.aborted:
                raise lost
            self._forget(host.host)
            if attempt == 2:
                where = f"{host.host} ({target.address}:{target.port})"
                raise StepFailed(f"{where}: the SSH connection was lost: {lost}") from None
        raise AssertionError("unreachable")

    def _host_at(self, address: str) -> str:
        """ "name (address)" of a managed host: a step may span several (the installer)."""
        names = [t.name for t in self._targets.values() if t.address == address]
        return f"{names[0]} ({address})" if names else address

    def _forget(self, host: str) -> None:
        with self._lock:
            connection = self._connections.pop(host, None)
        if connection is not None:
            connection.close()

    def _finish(
        self, phase: Phase, host: str, action: Action, outcome: Outcome, message: str,
        seconds: float, result: RunResult, *, diff: str = "", exit_code: int | None = None,
    ) -> Outcome:  # fmt: skip
        with self._lock:
            result.outcomes[(host, action.step_id)] = outcome
        self.emit(
            StepFinished(
                phase=phase.name, host=host, step=action.step_id, outcome=outcome,
                message=redact(message), seconds=seconds, diff=redact(diff), exit_code=exit_code,
            )
        )  # fmt: skip
        return outcome

    def _context(
        self, host: HostPlan, action: Action, dry_run: bool, reads: HostReads | None = None
    ) -> StepContext:
        facts = self._facts.setdefault(host.host, {})
        return StepContext(
            host=host.host,
            inputs=self.inputs,
            connection=self._connection(host.host),
            emit_line=lambda line: self.emit(
                OutputLine(host=host.host, step=action.step_id, text=line)
            ),
            cancelled=lambda: self.cancelled,
            dry_run=dry_run,
            facts=facts,
            others=self._connection,
            parallel=self.options.parallel,
            keep_connection=self._adopt,
            reads=reads,
        )

    def _connection(self, host: str) -> Connection | None:
        """The host's connection, opened on first use; None for operator-side steps."""
        target = self._targets.get(host)
        if target is None:
            return None
        with self._lock:
            existing = self._connections.get(host)
        if existing is not None and existing.is_connected:
            return existing
        try:
            connection = connect(
                target,
                accepted_fingerprints=self.options.accepted_fingerprints,
                timeout=self.options.connect_timeout,
            )
        except TimeoutError:
            where = f"{host} ({target.address}:{target.port})"
            raise StepFailed(
                f"{where}: no answer for {self.options.connect_timeout:.0f} s when connecting "
                f"over SSH ({SILENT})"
            ) from None
        except Exception as exc:  # refused, host key: say which host
            where = f"{host} ({target.address}:{target.port})"
            raise StepFailed(f"{where}: cannot connect over SSH: {exc}") from None
        with self._lock:
            if not self.aborted:
                self._connections[host] = connection
                return connection
        connection.close()
        raise StepFailed(f"{host}: stopped at once (second interrupt)")

    def _adopt(self, host: str, connection: Connection) -> None:
        """Go on with a connection the checks opened (and proved): no second handshake."""
        with self._lock:
            if host in self._targets and host not in self._connections and not self.aborted:
                self._connections[host] = connection
                return
        connection.close()

    def _close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()
