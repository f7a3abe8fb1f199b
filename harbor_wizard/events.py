"""What the runner tells its views: small immutable facts, in the past tense.

Why a module of its own: the runner knows nothing about how progress is shown. The
unattended live tree, the plain timestamped lines, the JSON-lines log, the journal and the
TUI's progress tree all consume these same events through an ``EventSink``.
"""

from __future__ import annotations

import enum
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


class Outcome(enum.Enum):
    CHANGED = "changed"
    """The step found the host different from the plan and changed it."""
    UNCHANGED = "unchanged"
    """The host already was as planned; nothing was written."""
    SKIPPED = "skipped"
    """Done by an earlier run with the same inputs (journal), or not needed."""
    PASSED = "passed"
    """A check or a verification held."""
    FAILED = "failed"
    """The step could not finish; the message says why."""
    CANCELLED = "cancelled"
    """Not started, or stopped, because the run was interrupted or an earlier step failed."""


@dataclass(frozen=True, kw_only=True)
class Event:
    at: float = field(default_factory=time.time)
    """Wall-clock time, for logs; durations use the monotonic clock."""

    @property
    def kind(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, Any]:
        data = {"event": self.kind, **asdict(self)}
        for key, value in data.items():
            if isinstance(value, enum.Enum):
                data[key] = value.value
        return data


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    deployment: str
    dry_run: bool


@dataclass(frozen=True, kw_only=True)
class PhaseStarted(Event):
    phase: str
    hosts: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    phase: str
    host: str
    step: str
    """The step's stable id (what the journal records), e.g. ``keepalived.conf``."""
    title: str


@dataclass(frozen=True, kw_only=True)
class OutputLine(Event):
    host: str
    step: str
    text: str
    """One line of remote output, already redacted."""


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    phase: str
    host: str
    step: str
    outcome: Outcome
    message: str
    seconds: float
    diff: str = ""
    """For dry runs: what would change, secrets hidden."""
    exit_code: int | None = None


@dataclass(frozen=True, kw_only=True)
class PhaseFinished(Event):
    phase: str
    failed: bool
    round_trips: dict[str, int] = field(default_factory=dict)
    """Commands and file transfers each host was sent during the phase."""


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    ok: bool
    message: str
    seconds: float
    stopped: bool = False
    """Ended by the operator (Ctrl-C, SIGTERM, quit), not by a failure."""
    round_trips: dict[str, int] = field(default_factory=dict)
    """Commands and file transfers each host was sent during the run."""


class EventSink(Protocol):
    """Anything that takes events; called from the runner's threads, must be thread-safe."""

    def __call__(self, event: Event) -> None: ...


class Tee:
    """One sink that hands each event to several."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def __call__(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)
