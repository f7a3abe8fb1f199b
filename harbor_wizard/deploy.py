"""One install run of a deployment, the same for the unattended mode and the TUI.

Why here and not in a view: the plan, the journal (resume), the lock folder, the JSON-lines
log and what a re-run learns about removed nodes are the same whoever shows the progress.
A view only passes its own event sink and, when the operator asks, calls ``cancel``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from harbor_wizard.checks import CheckOptions
from harbor_wizard.events import EventSink, Tee
from harbor_wizard.inputs import Inputs
from harbor_wizard.journal import Journal
from harbor_wizard.jsonlog import JsonLog
from harbor_wizard.plan import DATABASE, EXTERNAL_LB_WAIT, OPERATOR, Plan, build_plan
from harbor_wizard.problems import StateFileError
from harbor_wizard.runner import HOSTS_AT_ONCE, Runner, RunOptions, RunResult
from harbor_wizard.statedir import state_dir
from harbor_wizard.steps.rolling import DRAIN_WAIT

ABORT_GRACE_SECONDS = 2.5
"""After `abort`, the longest a view waits for the run to end by itself before leaving."""


@dataclass
class Install:
    inputs: Inputs
    check_options: CheckOptions = field(default_factory=CheckOptions)
    dry_run: bool = False
    from_scratch: bool = False
    """Ignore the journal: every step looks at its host again, install.sh runs again."""
    lb_wait: float = EXTERNAL_LB_WAIT
    """External LB mode: seconds to wait for the VIP to answer through it."""
    break_lock: bool = False
    """Remove the host lock of a run the operator knows is gone (`--break-lock`)."""
    batch: int = 1
    """Nodes that serve re-installed at a time (`--batch`); at most all but one."""
    drain_wait: float = DRAIN_WAIT
    """Seconds a drained node's connections get to end (`--drain-wait`)."""
    parallel: int | None = None
    """Hosts worked on at the same time (`--parallel`; None: HOSTS_AT_ONCE)."""

    def __post_init__(self) -> None:
        self.state: Path = state_dir(self.inputs.answers.name)
        journal_path = self.state / "journal.json"
        if self.from_scratch:  # steps start over; Harbor's DB still holds what it started with
            self.journal = Journal(journal_path)
            try:
                previous = Journal.load(journal_path)
            except StateFileError:  # --from-scratch is the way past a damaged journal
                previous = self.journal
        else:
            self.journal = previous = Journal.load(journal_path)
        self.plan: Plan = build_plan(
            self.inputs,
            self.check_options,
            lb_wait=self.lb_wait,
            reinstall=self.from_scratch,
            batch=self.batch,
            drain_wait=self.drain_wait,
            previous=previous,
        )
        managed = set(self.managed_hosts())
        self.removed = [host for host in self.journal.hosts if host not in managed]
        """Hosts of an earlier run that the answers no longer name: left as they are."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.log_path = self.state / "logs" / f"{stamp}.jsonl"
        self._runner: Runner | None = None

    def managed_hosts(self) -> list[str]:
        return [h for h in self.plan.hosts() if h not in (OPERATOR, DATABASE)]

    def run(self, sink: EventSink) -> RunResult:
        log = JsonLog(self.log_path)
        options = RunOptions(
            dry_run=self.dry_run,
            accepted_fingerprints=self.check_options.accepted_fingerprints,
            lock_dir=self.state,
            journal=self.journal,
            resume=not self.from_scratch,
            break_lock=self.break_lock,
            parallel=self.parallel or HOSTS_AT_ONCE,
        )
        self._runner = Runner(self.plan, self.inputs, Tee(self.journal, log, sink), options)
        try:
            result = self._runner.run()
        finally:
            log.close()
        if result.ok and not self.dry_run:
            for host in self.removed:
                self.journal.forget_host(host)
            self.journal.hosts = self.managed_hosts()
            self.journal.save()
        return result

    def cancel(self) -> None:
        """Start no new step; running steps end (every remote command has a time limit)."""
        if self._runner is not None:
            self._runner.cancel()

    def abort(self) -> None:
        """Stop now: the connections close, which ends the remote commands on the hosts."""
        if self._runner is not None:
            self._runner.abort()

    def last_completed(self) -> str:
        return str(self.journal.last.get("last_completed", "nothing"))

    def resume_hint(self) -> str:
        """How to resume after a stop, in a few words (never a hint that reinstalls)."""
        if self.from_scratch:
            return (
                "Run the same command WITHOUT --from-scratch to resume (with it, install.sh "
                "runs again on every node): steps already done are skipped."
            )
        return "Run the same command again to resume: steps already done are skipped."

    @property
    def cancelled(self) -> bool:
        return self._runner is not None and self._runner.cancelled
