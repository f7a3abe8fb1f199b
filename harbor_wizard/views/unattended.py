"""How an unattended run shows its events: a live tree on a terminal, timestamped lines
without one, a JSON-lines log always, and a summary table at the end.

Every sink here is called from the runner's threads; each keeps its own lock.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import IO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from harbor_wizard.events import (
    Event,
    Outcome,
    OutputLine,
    PhaseStarted,
    RunFinished,
    StepFinished,
    StepStarted,
)
from harbor_wizard.redact import redact

STYLES = {
    Outcome.CHANGED: "yellow",
    Outcome.UNCHANGED: "green",
    Outcome.PASSED: "green",
    Outcome.SKIPPED: "cyan",
    Outcome.FAILED: "bold red",
    Outcome.CANCELLED: "magenta",
}


def _clock(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%H:%M:%S")


class PlainLines:
    """Timestamped lines for logs and pipes: one per finished step, remote output indented."""

    def __init__(self, stream: IO[str] | None = None, *, show_output: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.show_output = show_output
        self._lock = threading.Lock()

    def _print(self, text: str) -> None:
        with self._lock:
            print(redact(text), file=self.stream, flush=True)

    def __call__(self, event: Event) -> None:
        if isinstance(event, PhaseStarted):
            self._print(f"{_clock(event.at)} == {event.phase} ({', '.join(event.hosts)})")
        elif isinstance(event, OutputLine) and self.show_output:
            self._print(f"{_clock(event.at)}    {event.host} | {event.text}")
        elif isinstance(event, StepFinished):
            code = f" [exit {event.exit_code}]" if event.exit_code not in (None, 0) else ""
            self._print(
                f"{_clock(event.at)} {event.host} {event.step}: {event.outcome.value}{code} "
                f"- {event.message} ({event.seconds:.1f}s)"
            )
            for line in event.diff.splitlines():
                self._print(f"      {line}")
        elif isinstance(event, RunFinished):
            verdict = "OK" if event.ok else "STOPPED" if event.stopped else "FAILED"
            self._print(f"{_clock(event.at)} {verdict}: {event.message}")


@dataclass
class _Row:
    title: str
    started: float
    outcome: Outcome | None = None
    note: str = ""


class LiveTree:
    """The run as a tree on a terminal: phase > host > step, status, elapsed time, and the
    last output lines of the steps that are running."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=False)
        self._lock = threading.Lock()
        self._phases: list[str] = []
        self._rows: dict[str, dict[str, dict[str, _Row]]] = {}  # phase > host > step
        self._output: dict[tuple[str, str], deque[str]] = defaultdict(lambda: deque(maxlen=3))
        self._live = Live(
            self._render(), console=self.console, refresh_per_second=4, transient=False
        )
        self._live.__enter__()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, PhaseStarted):
                self._phases.append(event.phase)
                self._rows[event.phase] = {host: {} for host in event.hosts}
            elif isinstance(event, StepStarted):
                host = self._rows[event.phase].setdefault(event.host, {})
                host[event.step] = _Row(event.title, time.monotonic())
            elif isinstance(event, OutputLine):
                self._output[(event.host, event.step)].append(event.text[:100])
            elif isinstance(event, StepFinished):
                host = self._rows[event.phase].setdefault(event.host, {})
                row = host.setdefault(event.step, _Row(event.step, time.monotonic()))
                row.outcome, row.note = event.outcome, f"{event.seconds:.1f}s {event.message}"
            # Output lines wait for the next periodic refresh: floods stay cheap.
            self._live.update(self._render(), refresh=not isinstance(event, OutputLine))
            if isinstance(event, RunFinished):
                self._live.__exit__(None, None, None)

    def _render(self) -> Tree:
        root = Tree("harbor-wizard")
        for phase in self._phases:
            branch = root.add(Text(phase, style="bold"))
            for host, steps in self._rows[phase].items():
                leaf = branch.add(host)
                for step, row in steps.items():
                    if row.outcome is None:
                        node = leaf.add(
                            f"{row.title}  running {time.monotonic() - row.started:.0f}s"
                        )
                        for line in self._output.get((host, step), ()):
                            node.add(Text(line, style="dim"))
                    else:
                        status = (f"{row.outcome.value:9}", STYLES[row.outcome])
                        leaf.add(Text.assemble(status, f" {row.title}  {row.note}"))
        return root


class Summary:
    """Counts per host, printed as a table when the run ends."""

    def __init__(self, *, dry_run: bool = False) -> None:
        self.dry_run = dry_run
        """A dry run changes nothing: its counts are what a run would change."""
        self._lock = threading.Lock()
        self.counts: dict[str, dict[Outcome, int]] = defaultdict(lambda: defaultdict(int))
        self.seconds: dict[str, float] = defaultdict(float)
        self.failures: list[StepFinished] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepFinished):
            with self._lock:
                self.counts[event.host][event.outcome] += 1
                self.seconds[event.host] += event.seconds
                if event.outcome is Outcome.FAILED:
                    self.failures.append(event)

    @property
    def changed(self) -> int:
        return sum(c[Outcome.CHANGED] for c in self.counts.values())

    def table(self) -> Table:
        title = "summary of the dry run: nothing was changed" if self.dry_run else "summary"
        table = Table(box=box.SIMPLE, title=title)
        changed = "would change" if self.dry_run else "changed"
        for column in ("host", changed, "unchanged", "skipped", "passed", "failed", "time"):
            table.add_column(column, justify="left" if column == "host" else "right")
        for host, counts in self.counts.items():
            table.add_row(
                host,
                *(str(counts[o]) for o in (Outcome.CHANGED, Outcome.UNCHANGED, Outcome.SKIPPED,
                                           Outcome.PASSED, Outcome.FAILED)),
                f"{self.seconds[host]:.1f}s",
            )  # fmt: skip
        return table

    def print(self, console: Console) -> None:
        parts: list[RenderableType] = [self.table()]
        for failure in self.failures:
            parts.append(
                Text(
                    f"FAILED {failure.host} / {failure.step}: {redact(failure.message)}",
                    style="bold red",
                )
            )
        console.print(Group(*parts))
