"""Running a probe command on a host: bounded, sudo when needed, never an exception.

Why a helper: every remote probe needs the same three things (a time limit, `sudo -n` for
a non-root user so that a password prompt can never hang a check, and the output as text).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from fabric import Connection
from invoke.exceptions import CommandTimedOut

COMMAND_TIMEOUT = 10.0


@dataclass(frozen=True)
class Output:
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def run(
    connection: Connection, command: str, *, sudo: bool = False, timeout: float = COMMAND_TIMEOUT
) -> Output:
    """Run `command` with sh; as root via `sudo -n` when the login user is not root."""
    wrapped = f"sh -c {shlex.quote(command)}"
    if sudo and connection.user != "root":
        wrapped = f"sudo -n {wrapped}"
    try:
        result = connection.run(
            wrapped, hide=True, warn=True, in_stream=False, timeout=timeout, pty=False
        )
    except CommandTimedOut:
        return Output(124, "", f"timed out after {timeout:.0f} s")
    return Output(result.exited, result.stdout, result.stderr)
