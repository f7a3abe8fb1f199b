"""One run at a time per deployment: a lock on the operator's side and one on a host.

Why two: the operator-side lock (flock on a file in the state folder) stops a second run
from this machine at once; the host-side lock (a directory made atomically on the first
load balancer, or the first node without our LBs) stops a run from another machine. A
second run refuses with the holder, its machine and start time, and never writes; a host
lock left by a run of this machine whose process is gone is taken over (said in the run's
output), and `--break-lock` removes one the operator knows is stale.
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


GONE, ALIVE, UNKNOWN = "gone", "alive", "unknown"
"""What `judge` says of a lock's holder."""


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks after boot: /proc/<pid>/stat field 22), or
    None when there is no such process, or only its zombie. With the pid and the boot,
    this names one process: a pid reused later has another start time."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # field 3 onwards: comm may hold spaces
    return None if fields[0] in ("Z", "X") else fields[19]


def _owner() -> dict[str, object]:
    pid = os.getpid()
    return {
        "operator": socket.gethostname(),
        "pid": pid,
        "since": int(time.time()),
        "started": process_start(pid),
        "boot": _read("/proc/sys/kernel/random/boot_id"),
        "machine": _read("/etc/machine-id"),
    }


def _parse(text: str) -> dict[str, object]:
    try:
        info = json.loads(text)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def judge(info: dict[str, object]) -> tuple[str, str]:
    """Is the holder described by `info` (an owner record) gone, alive, or unknown from
    here? With the reason. Gone only when provably so: it ran on this machine (same host
    name, and same machine id when both are known) and its process no longer exists (no
    such pid, another process under its pid, or the machine restarted since)."""
    here = _owner()
    if not info or info.get("operator") != here["operator"]:
        return UNKNOWN, f"it ran on {info.get('operator', 'an unknown machine')}"
    if info.get("machine") and here["machine"] and info["machine"] != here["machine"]:
        return UNKNOWN, "it ran on another machine of the same name"
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return UNKNOWN, "its process is not recorded"
    if info.get("boot") and here["boot"] and info["boot"] != here["boot"]:
        return GONE, "this machine has restarted since"
    started = process_start(pid)
    if started is None:
        return GONE, f"its process {pid} no longer exists"
    if info.get("started") is None:
        return UNKNOWN, f"process {pid} exists; an older harbor-wizard did not record which"
    if str(info["started"]) != started:
        return GONE, f"its process {pid} no longer exists (the pid now names another process)"
    return ALIVE, f"pid {pid}"


def _describe(info: dict[str, object]) -> str:
    """Who holds a lock, on which machine, since when: `machine (pid N, since START)`."""
    try:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(str(info["since"]))))
    except (KeyError, ValueError, OverflowError, OSError):
        since = "an unknown time"
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
    """The lock on a host: the directory `/run/lock/harbor-wizard-<name>` holding `owner`.

    Why a directory made by rename: `mv -T` of a fresh directory (owner already inside)
    onto the lock path succeeds for exactly one run, and the lock is never seen without
    its owner. A lock whose holder is provably gone (see `judge`), or one the
    operator breaks (`--break-lock`), is moved aside under a `flock` on a guard file, and
    only when its owner is still the one judged: two runs can never both take it."""

    def __init__(self, host: str, connection: Connection, deployment: str) -> None:
        self.host = host
        self.connection = connection
        self.path = PurePosixPath(f"/run/lock/harbor-wizard-{deployment}")
        self.deployment = deployment
        self.held = False
        self._owner = json.dumps(_owner())

    def acquire(self, *, break_lock: bool = False) -> str:
        """Take the lock; a line for the operator when a stale lock was taken over or
        broken ("" otherwise). Raises Locked, naming the holder, when it cannot be taken."""
        note = ""
        for _ in range(3):
            out = remote.run(self.connection, _ACQUIRE, self.path, self._owner, sudo=True)
            if out.ok:
                self.held = True
                return note
            if out.code != 1:
                raise Locked(f"{self.host}: creating {self.path} failed: {out.tail()}")
            text = (remote.read_file(self.connection, self.path / "owner") or "").strip()
            info = _parse(text)
            who = _describe(info) if info else "an unknown run (its owner file is unreadable)"
            verdict, reason = judge(info)
            if verdict == ALIVE:
                raise Locked(
                    f"{self.host} holds the lock of deployment '{self.deployment}' for {who}: "
                    f"that run is still going on this machine ({reason}); wait for it to "
                    "finish, or stop it"
                )
            if verdict == GONE:
                note = f"took over the lock {self.path} on {self.host} left by {who}: {reason}"
            elif break_lock:
                note = f"broke the lock {self.path} on {self.host} held by {who} (--break-lock)"
            else:
                raise Locked(
                    f"{self.host} holds the lock of deployment '{self.deployment}' for {who}: "
                    f"another run is in progress there, or it stopped without releasing the "
                    f"lock ({reason}). If no run of '{self.deployment}' is going on, run "
                    "again with --break-lock"
                )
            moved = remote.run(self.connection, _SET_ASIDE, self.path, text, sudo=True)
            if moved.code not in (0, 5):  # 5: the lock changed hands since we read it
                raise Locked(f"{self.host}: taking over {self.path} failed: {moved.tail()}")
        raise Locked(
            f"{self.host}: the lock {self.path} keeps changing hands; another run is "
            "starting at the same time: try again in a moment"
        )

    def release(self, connection: Connection | None = None) -> None:
        """Remove the lock, over `connection` when the one it was taken on is gone; a lock
        that is no longer ours (broken and taken by another run) is left to its holder."""
        if self.held:
            out = remote.run(
                connection or self.connection, _RELEASE, self.path, self._owner,
                sudo=True, timeout=10,
            )  # fmt: skip
            if not out.ok:
                raise Locked(f"{self.host}: removing {self.path} failed: {out.tail()}")
            self.held = False


# $1 the lock, $2 the owner. Exit 1: the lock exists (held); 3: something else failed.
_ACQUIRE = """mkdir -p /run/lock || exit 3
new=$(mktemp -d "$1.new.XXXXXX") || exit 3
if printf '%s\\n' "$2" > "$new/owner" && chmod 755 "$new" && mv -T -- "$new" "$1" 2>/dev/null
then exit 0
fi
rm -rf -- "$new"
[ -d "$1" ] && exit 1
echo "cannot create $1" >&2; exit 3
"""

# $1 the lock, $2 the owner judged stale. Under the guard's flock (released by the kernel
# when this shell ends, however it ends): moved aside only while it still has that owner.
_SET_ASIDE = """exec 9>>"$1.guard" && flock -w 10 9 || { echo "$1.guard stays locked" >&2; exit 3; }
[ "$(cat -- "$1/owner" 2>/dev/null)" = "$2" ] || exit 5
aside=$(mktemp -d "$1.stale.XXXXXX") && mv -T -- "$1" "$aside/lock" && rm -rf -- "$aside"
"""

# $1 the lock, $2 our owner: removed only while it is still ours.
_RELEASE = """exec 9>>"$1.guard" && flock -w 5 9 || { echo "$1.guard stays locked" >&2; exit 3; }
[ "$(cat -- "$1/owner" 2>/dev/null)" = "$2" ] || exit 0
aside=$(mktemp -d "$1.stale.XXXXXX") && mv -T -- "$1" "$aside/lock" && rm -rf -- "$aside"
"""
