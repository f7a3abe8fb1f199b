"""Stopped runs the start screen offers to resume: journals whose last run did not finish.

Why it only reads: the journal (``harbor_wizard.journal``, one per deployment in the state
folder) is the runner's record. A re-run of the same answers file skips what the journal
has done, so resuming is opening that file and installing again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stopped:
    deployment: str
    where: str
    """How far it got, in the journal's words."""
    answers: Path | None
    """Its answers file, when one of that name is in the current folder."""


def state_root() -> Path:
    """The folder holding one state folder per deployment (see ``harbor_wizard.statedir``)."""
    root = os.environ.get("HARBOR_WIZARD_STATE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "harbor-wizard"


def stopped_runs(folder: Path) -> list[Stopped]:
    """Deployments whose last run stopped before the end, newest first."""
    found: list[tuple[float, Stopped]] = []
    for journal in state_root().glob("*/journal.json"):
        try:
            last = json.loads(journal.read_text()).get("last", {})
        except (OSError, ValueError):
            continue
        if not last or last.get("dry_run") or last.get("ok"):
            continue
        name = journal.parent.name
        where = last.get("failed") or f"last done: {last.get('last_completed', 'nothing')}"
        candidates = [folder / f"{name}.yaml", folder / "answers.yaml"]
        answers = next((p for p in candidates if p.exists()), None)
        found.append((float(last.get("started", 0)), Stopped(name, str(where), answers)))
    return [stopped for _, stopped in sorted(found, key=lambda x: x[0], reverse=True)]
