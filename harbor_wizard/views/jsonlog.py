"""The JSON-lines log every run writes: each event on one line, secrets masked."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from harbor_wizard.events import Event
from harbor_wizard.redact import redact


class JsonLog:
    """Every event as one JSON line (text already redacted, redacted again here)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = redact(json.dumps(event.as_dict(), default=str))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
