"""One place that knows every secret value, so every output path can hide them.

Why a process-wide registry: secrets reach messages from many places (a remote command's
output, an exception text from a database driver, a diff of harbor.cfg). Every printer, log
writer and event view passes its text through :func:`redact`, and the resolver registers
each value it hands out, so no path has to know which values are secret.
"""

from __future__ import annotations

import threading

MASK = "********"
MIN_LENGTH = 3
"""Shorter values are not masked in free text: they would hide ordinary words and numbers
(and show the secret by where the masks fall); secrets.value_problem refuses them instead."""
_lock = threading.Lock()
_values: set[str] = set()


def register(value: str) -> None:
    """Hide `value` (and each long line of a multi-line value) in all later output."""
    parts = {value, *(line.strip() for line in value.splitlines())}
    with _lock:
        _values.update(p for p in parts if len(p) >= MIN_LENGTH)


def redact(text: str) -> str:
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def forget_all() -> None:
    """For tests that resolve different secrets in one process."""
    with _lock:
        _values.clear()
