"""Probe commands: the shared remote runner, with a probe's shorter time limit."""

from __future__ import annotations

from fabric import Connection

from harbor_wizard import remote
from harbor_wizard.remote import Arg, Output, Read

PROBE_TIMEOUT = 10.0

__all__ = ["Output", "Read", "gather", "run"]


def run(
    connection: Connection,
    script: str,
    *args: Arg,
    sudo: bool = False,
    timeout: float = PROBE_TIMEOUT,
) -> Output:
    return remote.run(connection, script, *args, sudo=sudo, timeout=timeout)


def gather(
    connection: Connection, reads: list[Read], timeout: float = PROBE_TIMEOUT
) -> dict[Read, Output]:
    """Several reads (as root) in one round trip: see `remote.gather`."""
    return remote.gather(connection, reads, timeout=timeout)
