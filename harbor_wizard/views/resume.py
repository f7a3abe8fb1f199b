"""The deployments the start screen lists, and resuming a run that stopped.

A deployment is known here when its answers file is in the current folder or this machine
has its journal (``harbor_wizard.journal``, one per deployment in the state folder). The
journal's ``last`` says how the last run ended; resuming is running the file's plan again,
as ``harbor-wizard --answers FILE`` does: the journal skips the steps already done.

Why it reads so little: the start screen is the first frame the operator waits for, so
listing needs no YAML parser, no answers model and no SSH library (only ``resumed`` loads
them, once the operator chose to resume).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harbor_wizard.views.draft import Draft
    from harbor_wizard.views.saving import Saved

COMPLETED, STOPPED, FAILED = "completed", "stopped", "failed"

_NAME = re.compile(r"""^name:[ \t]*(["']?)([A-Za-z0-9][A-Za-z0-9_.-]*)\1[ \t]*(#.*)?$""", re.M)
"""The top-level ``name:`` of an answers file (the model allows these characters only)."""


@dataclass(frozen=True)
class LastRun:
    """How a deployment's last run on this machine ended, from its journal."""

    result: str
    """COMPLETED, STOPPED (Ctrl-C, quit, a lock, a killed process) or FAILED (a step)."""
    where: str
    """"completed", "stopped after harbor01 / install.sh", "failed at harbor02 / ...": why."""
    at: float
    """When it ended (when it started, if its end was never recorded)."""

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.at))


@dataclass(frozen=True)
class Known:
    """One line of the start screen's list."""

    deployment: str
    answers: Path | None
    """Its answers file in the current folder; None: only its journal is here."""
    last: LastRun | None
    """None: never run from this machine."""

    @property
    def resumable(self) -> bool:
        return self.answers is not None and self.last is not None and self.last.result != COMPLETED

    def row(self, width: int = 74) -> str:
        """``lab  2026-12-01 20:05  completed``, cut to `width` with '...' (the detail line
        under the list says it all, with the file's name)."""
        when = self.last.when if self.last else "never run here"
        state = self.last.where if self.last else ""
        if self.answers is None:
            state = f"{state}; its file is not here"
        name = self.deployment if len(self.deployment) <= 14 else self.deployment[:13] + "~"
        text = f"{name:<14} {when:<16} {state}".rstrip()
        return text if len(text) <= width else text[: width - 3] + "..."

    def detail(self) -> str:
        """What Enter does with it, in words."""
        if self.answers is None:
            return (
                f"{self.deployment}: its answers file is not in this folder. Type its path "
                "below, or start harbor-wizard in the file's folder."
            )
        if self.last is None:
            return f"{self.answers.name}: not installed from this machine. Enter opens it."
        if self.last.result == COMPLETED:
            return (
                f"{self.answers.name}: installed; the last run ({self.last.when}) completed. "
                "Enter shows its status; F2 there changes it."
            )
        return (
            f"{self.answers.name}: the last run ({self.last.when}) {self.last.where}. Enter "
            "shows its status; F4 there resumes the run (the steps done are skipped)."
        )


def state_root() -> Path:
    """The folder holding one state folder per deployment (see ``harbor_wizard.statedir``)."""
    root = os.environ.get("HARBOR_WIZARD_STATE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "harbor-wizard"


def last_run(journal: Path) -> LastRun | None:
    """The journal's record of the last run; None when there is none (or it is damaged:
    opening the deployment then says so in the journal's own words)."""
    try:
        last = json.loads(journal.read_text()).get("last", {})
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(last, dict) or not last or last.get("dry_run"):
        return None
    at = float(last.get("finished") or last.get("started") or journal.stat().st_mtime)
    if last.get("ok"):
        return LastRun(COMPLETED, COMPLETED, at)
    if last.get("failed"):
        return LastRun(FAILED, f"failed at {last['failed']}", at)
    where = f"stopped after {last.get('last_completed', 'nothing')}"
    message = str(last.get("message") or "")
    if "ok" not in last:
        where += " (no end recorded: killed, or still running)"
    elif not message.startswith("interrupted"):  # not Ctrl-C or quit: e.g. a lock
        where += f": {message}"
    return LastRun(STOPPED, where, at)


def deployment_name(path: Path) -> str | None:
    """The ``name:`` of an answers file, read cheaply (the loader proves it on opening)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            found = _NAME.search(handle.read(65536))
    except OSError:
        return None
    return found.group(2) if found else None


def answers_files(folder: Path) -> list[Path]:
    """Answers files in `folder`: YAML files that are not secrets files."""
    return sorted(
        p
        for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")]
        if not p.name.endswith((".secrets.yaml", ".secrets.yml")) and p.is_file()
    )


def known_deployments(folder: Path) -> list[Known]:
    """Every answers file in `folder` and every deployment with a journal here: the most
    recent run first, then the files never run from this machine."""
    journals = {j.parent.name: j for j in state_root().glob("*/journal.json")}
    found: list[Known] = []
    named: set[str] = set()
    for path in answers_files(folder):
        name = deployment_name(path)
        if name is None:
            continue
        named.add(name)
        journal = journals.get(name)
        found.append(Known(name, path, last_run(journal) if journal else None))
    for name, journal in journals.items():
        last = last_run(journal)
        if name not in named and last is not None:
            found.append(Known(name, None, last))
    return sorted(found, key=lambda k: (-(k.last.at if k.last else 0.0), k.deployment))


def installed(deployment: object) -> bool:
    """Whether this machine ran the deployment (it has a journal)."""
    return isinstance(deployment, str) and (state_root() / deployment / "journal.json").is_file()


def last_of(deployment: object) -> LastRun | None:
    if not isinstance(deployment, str):
        return None
    return last_run(state_root() / deployment / "journal.json")


def resumed(draft: Draft) -> Saved:
    """The saved file's run, to go on where its journal stopped: the plan of the file on
    disk (not of the draft's unsaved edits), as ``--answers FILE`` would run it again."""
    from harbor_wizard.checks import CheckOptions
    from harbor_wizard.deploy import Install
    from harbor_wizard.inputs import load_inputs
    from harbor_wizard.views.saving import Saved

    assert draft.path is not None
    notes: list[str] = []
    inputs = load_inputs(draft.path, notify=notes.append)
    install = Install(inputs, CheckOptions(accepted_fingerprints=frozenset(draft.accepted)))
    return Saved(draft.path, inputs, install, notes)
