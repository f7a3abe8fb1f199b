"""Probe commands: the shared remote runner, with a probe's shorter time limit."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from fabric import Connection

from harbor_wizard import remote
from harbor_wizard.remote import Arg, Output, Read

PROBE_TIMEOUT = 10.0
ACROSS_AT_ONCE = 32
"""Hosts a check across nodes asks at the same time."""

__all__ = ["Output", "Read", "ask", "each", "prefetch", "run"]

T = TypeVar("T")


def run(
    connection: Connection,
    script: str,
    *args: Arg,
    sudo: bool = False,
    timeout: float = PROBE_TIMEOUT,
) -> Output:
    return remote.run(connection, script, *args, sudo=sudo, timeout=timeout)


def each(
    connections: Mapping[str, Connection], work: Callable[[str, Connection], T]
) -> dict[str, T]:
    """`work` on every host at once, its answers in the hosts' order: a check across
    twenty nodes then takes about one round trip, not twenty."""
    if not connections:
        return {}
    with ThreadPoolExecutor(max_workers=min(ACROSS_AT_ONCE, len(connections))) as pool:
        answers = list(pool.map(lambda item: work(*item), connections.items()))
    return dict(zip(connections, answers, strict=True))


_prefetched: weakref.WeakKeyDictionary[Connection, dict[Read, Output]] = weakref.WeakKeyDictionary()
_prefetched_lock = threading.Lock()


def prefetch(connection: Connection, reads: Sequence[Read]) -> None:
    """Ask a host's probes' reads now, side by side in one round trip (as root); `ask`
    then answers each of them once from here. A host's probes cost one command, and
    about the time of the slowest read."""
    found = remote.gather(connection, reads, timeout=PROBE_TIMEOUT, side_by_side=True)
    with _prefetched_lock:
        _prefetched.setdefault(connection, {}).update(found)


def ask(
    connection: Connection, read: Read, *, sudo: bool = False, timeout: float = PROBE_TIMEOUT
) -> Output:
    """A probe's read: prefetched with the host's others (as root, once sudo is known to
    work), or asked now (as root with `sudo`)."""
    with _prefetched_lock:
        found = _prefetched.get(connection, {}).pop(read, None)
    if found is not None:
        return found
    return remote.run(connection, read.script, *read.args, sudo=sudo, timeout=timeout)
