"""The journal: which steps of a deployment are done, with the fingerprint of their inputs.

Why: an install that fails at node 5 of 6, or is interrupted, must resume with one re-run.
The journal is kept per deployment in the state folder (``journal.json``, no secrets: step
names, input digests, outcomes, times), written after every step (atomically), and read by
the next run, which skips a step only when the journal has it done with the same inputs
and the host still matches (the step's own look at the host finds nothing to change).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harbor_wizard.answers.document import atomic_write
from harbor_wizard.events import Event, Outcome, RunFinished, RunStarted, StepFinished
from harbor_wizard.steps.base import Action

DONE = {Outcome.CHANGED.value, Outcome.UNCHANGED.value, Outcome.SKIPPED.value}


@dataclass
class Journal:
    path: Path
    steps: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """host -> step id -> {fingerprint, outcome, at}."""
    hosts: list[str] = field(default_factory=list)
    """Hosts of the last completed plan: what a later run compares to see removed nodes."""
    last: dict[str, Any] = field(default_factory=dict)
    """How the last run ended: ok, message, last completed step, time."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _fingerprints: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path) -> Journal:
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(path, data.get("steps", {}), data.get("hosts", []), data.get("last", {}))

    def save(self) -> None:
        data = {"steps": self.steps, "hosts": self.hosts, "last": self.last}
        atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)

    def remember(self, host: str, action: Action) -> None:
        """The fingerprint of a step about to run, recorded when it finishes."""
        with self._lock:
            self._fingerprints[(host, action.step_id)] = action.fingerprint()

    def done(self, host: str, action: Action) -> bool:
        entry = self.steps.get(host, {}).get(action.step_id)
        if not entry or entry["outcome"] not in DONE:
            return False
        return bool(entry["fingerprint"] == action.fingerprint())

    def __call__(self, event: Event) -> None:
        """An event sink: records finished steps and how the run ended."""
        with self._lock:
            if isinstance(event, RunStarted):
                self.last = {"started": event.at, "dry_run": event.dry_run}
            elif isinstance(event, StepFinished):
                if self.last.get("dry_run"):
                    return
                fingerprint = self._fingerprints.pop((event.host, event.step), "")
                if event.outcome.value in DONE:
                    self.steps.setdefault(event.host, {})[event.step] = {
                        "fingerprint": fingerprint,
                        "outcome": event.outcome.value,
                        "at": event.at,
                    }
                    self.last["last_completed"] = f"{event.host} / {event.step}"
                elif event.outcome is Outcome.FAILED:
                    self.steps.setdefault(event.host, {}).pop(event.step, None)
                    self.last["failed"] = f"{event.host} / {event.step}: {event.message}"
                self.save()
            elif isinstance(event, RunFinished):
                if self.last.get("dry_run"):
                    return
                self.last.update(ok=event.ok, message=event.message, finished=time.time())
                self.save()

    def forget_host(self, host: str) -> None:
        with self._lock:
            self.steps.pop(host, None)
