"""One run at a time per deployment: a lock on the operator's side and one on a host.

Why two: the operator-side lock (flock on a file in the state folder) stops a second run
from this machine at once; the host-side lock (a directory made atomically on the first
load balancer, or the first node without our LBs) stops a run from another machine. A
second run refuses with the holder's name, and never writes.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path, PurePosixPath
from typing import IO

from fabric import Connection

from harbor_wizard import remote


class Locked(Exception):
    """Another run holds the deployment; the message says who and how to proceed."""


def _owner() -> dict[str, object]:
    return {"operator": socket.gethostname(), "pid": os.getpid(), "since": int(time.time())}


def _describe(info: dict[str, object]) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(str(info.get("since", 0)))))
    return f"{info.get('operator', '?')} (pid {info.get('pid', '?')}, since {since})"


class OperatorLock:
    def __init__(self, state: Path) -> None:
        self.path = state / "run.lock"
        self._handle: IO[str] | None = None

    def acquire(self, deployment: str) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read()
            handle.close()
            holder = _describe(json.loads(text)) if text.strip() else "another process"
            raise Locked(
                f"another harbor-wizard run of deployment '{deployment}' is in progress on "
                f"this machine: {holder}; wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_owner()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class HostLock:
    def __init__(self, host: str, connection: Connection, deployment: str) -> None:
        self.host = host
        self.connection = connection
        self.path = PurePosixPath(f"/run/lock/harbor-wizard-{deployment}")
        self.deployment = deployment
        self.held = False

    def acquire(self) -> None:
        out = remote.run(
            self.connection,
            'mkdir -p /run/lock && mkdir -- "$1" && printf %s "$2" > "$1/owner"',
            self.path,
            json.dumps(_owner()),
            sudo=True,
        )
        if out.ok:
            self.held = True
            return
        holder = remote.read_file(self.connection, self.path / "owner") or "{}"
        try:
            who = _describe(json.loads(holder))
        except ValueError:
            who = "an unknown run"
        raise Locked(
            f"{self.host} holds the lock of deployment '{self.deployment}' for {who}: another "
            f"run is in progress. If it is not (it crashed), remove {self.path} on {self.host}"
        )

    def release(self, connection: Connection | None = None) -> None:
        """Remove the lock, over `connection` when the one it was taken on is gone."""
        if self.held:
            out = remote.run(
                connection or self.connection, 'rm -rf -- "$1"', self.path, sudo=True, timeout=10
            )
            if not out.ok:
                raise Locked(f"{self.host}: removing {self.path} failed: {out.tail()}")
            self.held = False
