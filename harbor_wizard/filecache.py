"""What was learnt about a local file, kept between runs while the file stays the same.

Why: a Harbor offline installer is about 600 MB. Its checksum and its member list (a
listing reads the whole gzip stream: the image tarball comes early in the archive) cost
seconds of every run, re-runs included, for an answer that only changes with the file.
The answers are kept under ``$XDG_CACHE_HOME/harbor-wizard/files.json`` (default
``~/.cache``), keyed by the file's path, device, inode, size and modification time: a
file replaced or rewritten is read again. Nothing kept there is a secret.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "harbor-wizard" / "files.json"


def _identity(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"


def _load(where: Path) -> dict[str, Any]:
    try:
        found = json.loads(where.read_text())
    except (OSError, ValueError):  # none yet, or unreadable: start over
        return {}
    return found if isinstance(found, dict) else {}


def _store(where: Path, entries: dict[str, Any]) -> None:
    try:
        where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(dir=where.parent, prefix=".files-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(entries, handle)
        os.replace(temp, where)
    except OSError:  # a read-only home: the answer is simply not kept
        pass


def remembered(path: Path, question: str, answer: Callable[[], Any]) -> Any:
    """`answer()` (a JSON value) about `path`, asked once while the file stays the same."""
    key = f"{question}|{_identity(path)}"
    where = cache_file()
    with _lock:
        entries = _load(where)
        if key in entries:
            return entries[key]
    value = answer()
    with _lock:
        entries = _load(where)
        earlier = f"{question}|{path.resolve()}|"  # the same question about an older file
        entries = {k: v for k, v in entries.items() if not k.startswith(earlier)}
        entries[key] = value
        _store(where, entries)
    return value
