"""What a step is: look at the host, compare with the plan, act only on the difference.

Why this shape (pyinfra's operations, Ansible's check mode): a step that first reads the
host's state can say "unchanged" on a re-run, can show in a dry run what it would change,
and can be resumed after a failure without redoing what is already right.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from fabric import Connection

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

    @property
    def ssh(self) -> Connection:
        if self.connection is None:
            raise StepFailed(f"{self.host}: no SSH connection")
        return self.connection

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

    @abstractmethod
    def inspect(self, ctx: StepContext) -> Change | None:
        """The difference between the host and the plan; None when there is none."""

    @abstractmethod
    def apply(self, ctx: StepContext, change: Change) -> str:
        """Make the host match the plan; return one line saying what was done."""

    def fingerprint(self) -> str:
        """A digest of everything this step's outcome depends on (no secrets in clear)."""
        return hashlib.sha256(f"{type(self).__name__}|{self.step_id}".encode()).hexdigest()
