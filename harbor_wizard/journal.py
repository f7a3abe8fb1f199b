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
from typing import TYPE_CHECKING, Any

from harbor_wizard.answers.document import atomic_write
from harbor_wizard.events import Event, Outcome, RunFinished, RunStarted, StepFinished
from harbor_wizard.problems import StateFileError

if TYPE_CHECKING:  # the TUI reads journals without loading the steps' SSH stack
    from harbor_wizard.steps.base import Action

DONE = {Outcome.CHANGED.value, Outcome.UNCHANGED.value, Outcome.SKIPPED.value}
MAX_BYTES = 16 * 2**20
"""A journal of 100 hosts with 50 steps each is about 1 MiB."""


def _unreadable(path: Path, reason: str) -> StateFileError:
    return StateFileError(
        f"{path} cannot be read: {reason}. It is harbor-wizard's record of the steps earlier "
        f"runs finished, not your input: move it aside (`mv {path} {path}.broken`) and run "
        "again, or run with --from-scratch; every step then looks at its host again and "
        "leaves what is already in place as it is."
    )


def _well_formed(data: Any) -> bool:
    """The shape `save` writes: steps {host: {step: {fingerprint, outcome, ...}}}, hosts
    [str], last {...}."""
    if not isinstance(data, dict):
        return False
    steps, hosts, last = data.get("steps", {}), data.get("hosts", []), data.get("last", {})
    if not (isinstance(steps, dict) and isinstance(hosts, list) and isinstance(last, dict)):
        return False
    if not all(isinstance(host, str) for host in hosts):
        return False
    for entries in steps.values():
        if not isinstance(entries, dict):
            return False
        for entry in entries.values():
            if not isinstance(entry, dict):
                return False
            if not isinstance(entry.get("fingerprint"), str):
                return False
            if not isinstance(entry.get("outcome"), str):
                return False
    return True


@dataclass
class Journal:
    path: Path
    steps: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """host -> step id -> {fingerprint, outcome, at, and the step's `recorded` values}."""
    hosts: list[str] = field(default_factory=list)
    """Hosts of the last completed plan: what a later run compares to see removed nodes."""
    last: dict[str, Any] = field(default_factory=dict)
    """How the last run ended: ok, message, last completed step, time."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _fingerprints: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _recorded: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path) -> Journal:
        """The journal of earlier runs; StateFileError saying what to do when it is damaged
        (a crash of the disk, an edit by hand): the run must not guess what was done."""
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return cls(path)
        except OSError as error:
            raise _unreadable(path, error.strerror or "cannot be read") from None
        if len(raw) > MAX_BYTES:
            raise _unreadable(path, f"it is larger than {MAX_BYTES // 2**20} MiB")
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise _unreadable(path, "it is not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise _unreadable(path, f"it is not valid JSON at line {error.lineno}") from None
        except RecursionError:
            raise _unreadable(path, "it is nested too deep") from None
        if not _well_formed(data):
            raise _unreadable(path, "it does not have the journal's shape")
        return cls(path, data.get("steps", {}), data.get("hosts", []), data.get("last", {}))

    def save(self) -> None:
        data = {"steps": self.steps, "hosts": self.hosts, "last": self.last}
        atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)

    def remember(self, host: str, action: Action) -> None:
        """The fingerprint of a step about to run, recorded when it finishes."""
        with self._lock:
            self._fingerprints[(host, action.step_id)] = action.fingerprint()
            self._recorded[(host, action.step_id)] = dict(action.recorded)

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
                recorded = self._recorded.pop((event.host, event.step), {})
                if event.outcome.value in DONE:
                    entry: dict[str, Any] = {
                        "fingerprint": fingerprint,
                        "outcome": event.outcome.value,
                        "at": event.at,
                    }
                    if recorded:
                        entry["values"] = recorded
                    self.steps.setdefault(event.host, {})[event.step] = entry
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

    def recorded(self) -> dict[str, dict[str, str]]:
        """host -> the values its finished steps recorded (``Action.recorded``), merged
        over the host's steps; what a hand-edited journal holds otherwise is ignored."""
        found: dict[str, dict[str, str]] = {}
        for host, entries in self.steps.items():
            for entry in entries.values():
                values = entry.get("values")
                if isinstance(values, dict):
                    mine = found.setdefault(host, {})
                    mine.update({k: v for k, v in values.items() if isinstance(v, str)})
        return found

    def forget_host(self, host: str) -> None:
        with self._lock:
            self.steps.pop(host, None)
