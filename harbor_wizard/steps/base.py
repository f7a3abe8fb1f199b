"""What a step is: look at the host, compare with the plan, act only on the difference.

Why this shape (pyinfra's operations, Ansible's check mode): a step that first reads the
host's state can say "unchanged" on a re-run, can show in a dry run what it would change,
and can be resumed after a failure without redoing what is already right.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from fabric import Connection

from harbor_wizard import remote
from harbor_wizard.inputs import Inputs


@dataclass(frozen=True)
class Change:
    """What differs between the host and the plan, said in a few words."""

    summary: str
    diff: str = ""
    """A unified diff with secrets masked, when the step can show one."""
    kind: str = ""
    """Which of its ways to act the step chose, for its own `apply` (never the wording)."""
    items: tuple[str, ...] = ()
    """What it found to act on (missing packages, say), for its own `apply`."""


class StepFailed(Exception):
    """The step could not finish; the message names what went wrong."""

    def __init__(self, message: str, exit_code: int | None = None, output: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.output = output


class HostReads:
    """What a host's steps in one phase read, asked in one round trip when the first of
    them is needed: a re-run that changes nothing then costs one command per host and
    phase, not one per step. A gathered result is only used while the host is as it was
    when it was read: once a step changed the host, the later steps' reads are asked again
    (together), and a step asking the same again (polling) is answered live."""

    def __init__(self, steps: Sequence[tuple[remote.Read, ...]]) -> None:
        self._steps = list(steps)
        self._next = 0
        self._known: dict[remote.Read, remote.Output] = {}
        self._asked: set[remote.Read] = set()

    def result(self, connection: Connection, read: remote.Read) -> remote.Output:
        later = [r for reads in self._steps[self._next :] for r in reads]
        if read in self._asked or read not in later:
            return remote.ask(connection, read)
        self._asked.add(read)
        if read not in self._known:
            self._known = remote.gather(connection, later)
        return self._known[read]

    def step_done(self, changed: bool) -> None:
        """The step ended; `changed`: it acted on the host."""
        self._next += 1
        self._asked.clear()
        if changed:
            self._known = {}


@dataclass
class StepContext:
    """What a step may use: its host's connection (None on the operator's side), the
    validated inputs, a way to report output lines, and whether the run was cancelled."""

    host: str
    inputs: Inputs
    connection: Connection | None = None
    emit_line: Callable[[str], None] = lambda line: None
    cancelled: Callable[[], bool] = lambda: False
    dry_run: bool = False
    facts: dict[str, str] = field(default_factory=dict)
    others: Callable[[str], Connection | None] = lambda host: None
    """Another host's connection, for steps that span hosts (installer distribution)."""
    parallel: int | None = None
    """Hosts at once (`--parallel`); None: all."""
    keep_connection: Callable[[str, Connection], None] = lambda host, c: c.close()
    """Hands over a connection a step opened to a host (the checks'): the run goes on with it."""
    reads: HostReads | None = None
    """The host's reads gathered for this phase; None while a step acts (reads are live)."""

    @property
    def ssh(self) -> Connection:
        if self.connection is None:
            raise StepFailed(f"{self.host}: no SSH connection")
        return self.connection

    def read(self, read: remote.Read) -> remote.Output:
        """A read of this host, as root: from the phase's one round trip when it is among
        the reads the steps named (`Action.reads`), else asked now."""
        if self.reads is None:
            return remote.ask(self.ssh, read)
        return self.reads.result(self.ssh, read)

    def at_once(self, hosts: int) -> int:
        """How many of `hosts` a step that spans hosts works on at the same time."""
        return max(1, min(hosts, self.parallel or hosts))

    def connect(self, host: str) -> Connection:
        connection = self.others(host)
        if connection is None:
            raise StepFailed(f"{host}: no SSH connection")
        return connection


class Action(ABC):
    """One idempotent step of the plan."""

    step_id: str
    """Stable name within its host, recorded by the journal (e.g. ``file:/etc/x``)."""
    title: str
    """What a person reads in the plan and the progress tree."""
    verifies = False
    """A proof, not a change: it passes or fails (never changes the host), and a dry run
    skips it in the verification phase, before anything it proves exists."""
    recorded: Mapping[str, str] = MappingProxyType({})
    """Values the journal keeps with the step once done (no secrets: digests at most), for
    a later plan to compare: what Harbor started with, say (see plan.first_start_notes)."""

    def reads(self) -> tuple[remote.Read, ...]:
        """What `inspect` reads on the host with `ctx.read`: the runner asks for the reads
        of all of a host's steps in a phase at once."""
        return ()

    @abstractmethod
    def inspect(self, ctx: StepContext) -> Change | None:
        """The difference between the host and the plan; None when there is none."""

    @abstractmethod
    def apply(self, ctx: StepContext, change: Change) -> str:
        """Make the host match the plan; return one line saying what was done."""

    def fingerprint(self) -> str:
        """A digest of everything this step's outcome depends on (no secrets in clear)."""
        return hashlib.sha256(f"{type(self).__name__}|{self.step_id}".encode()).hexdigest()
