"""The install's progress as data: host > step, status and time, from events alone.

Why apart from the screen: the tree's labels, the totals and each step's output follow
only from the runner's events, so they can be tested without a terminal, and the install
screen just draws them.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from harbor_wizard.events import (
    Event,
    Outcome,
    OutputLine,
    RunFinished,
    StepFinished,
    StepStarted,
)

MAX_LINES = 400
"""Output lines kept per step: the end of a long output is what explains a failure."""


@dataclass
class StepState:
    host: str
    step: str
    title: str
    outcome: Outcome | None = None
    """None while pending or running."""
    started: float | None = None
    seconds: float = 0.0
    message: str = ""
    output: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_LINES))
    lines: int = 0
    """Lines ever added to `output` (it keeps the last MAX_LINES): a view that shows the
    output live appends only those it has not written yet."""

    def add(self, line: str) -> None:
        self.output.append(line)
        self.lines += 1

    @property
    def status(self) -> str:
        if self.outcome is not None:
            return self.outcome.value
        return "running" if self.started is not None else "pending"

    def elapsed(self, now: float) -> float:
        if self.outcome is None and self.started is not None:
            return now - self.started
        return self.seconds

    def label(self, now: float) -> str:
        return f"[{self.status}] {self.title}  {self.elapsed(now):.1f}s"


@dataclass
class Progress:
    steps: dict[tuple[str, str], StepState] = field(default_factory=dict)
    finished: RunFinished | None = None

    def expect(self, host: str, step: str, title: str) -> StepState:
        return self.steps.setdefault((host, step), StepState(host, step, title))

    def apply(self, event: Event) -> StepState | None:
        """Take one event; return the step it changed, if any."""
        if isinstance(event, StepStarted):
            state = self.expect(event.host, event.step, event.title)
            state.outcome, state.started, state.message = None, time.monotonic(), ""
            return state
        if isinstance(event, StepFinished):
            state = self.expect(event.host, event.step, event.step)
            state.outcome, state.seconds, state.message = (
                event.outcome,
                event.seconds,
                event.message,
            )
            if event.message:
                state.add(event.message)
            return state
        if isinstance(event, OutputLine):
            state = self.expect(event.host, event.step, event.step)
            state.add(event.text)
            return state
        if isinstance(event, RunFinished):
            self.finished = event
        return None

    def totals(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in self.steps.values():
            counts[state.status] = counts.get(state.status, 0) + 1
        return counts

    def totals_text(self) -> str:
        counts = self.totals()
        order = ("changed", "unchanged", "passed", "skipped", "running", "failed", "cancelled")
        done = sum(v for k, v in counts.items() if k not in ("pending", "running"))
        parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
        return f"{done}/{len(self.steps)} steps: " + (", ".join(parts) or "starting")

    def failed(self) -> list[StepState]:
        return [s for s in self.steps.values() if s.outcome is Outcome.FAILED]
