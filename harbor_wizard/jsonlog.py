"""The JSON-lines log every run writes: each event on one line, secrets masked."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from harbor_wizard.events import Event
from harbor_wizard.redact import redact


def masked(value: Any) -> Any:
    """Every string in `value` redacted, at any depth.

    Why before serialising: json.dumps escapes quotes, backslashes and non-ASCII, so a
    secret holding any of them no longer matches its registered text afterwards."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {masked(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


class JsonLog:
    """Every event as one JSON line; the file is its owner's only (0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = json.dumps(masked(event.as_dict()), default=lambda o: redact(str(o)))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
