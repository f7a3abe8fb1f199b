"""Where harbor-wizard keeps what outlives a run: logs and the journal, per deployment.

``$HARBOR_WIZARD_STATE_DIR/<name>`` when set, else ``$XDG_STATE_HOME/harbor-wizard/<name>``
(default ``~/.local/state/harbor-wizard/<name>``). Nothing kept there holds a secret.
"""

from __future__ import annotations

import os
from pathlib import Path


def state_dir(deployment: str) -> Path:
    root = os.environ.get("HARBOR_WIZARD_STATE_DIR")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        base = Path(xdg) / "harbor-wizard"
    path = base / deployment
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
