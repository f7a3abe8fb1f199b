"""Small process and polling helpers shared by the lab modules.

Every external command goes through `sh()` so that each has a timeout and a failure
names the command and its output: a lab that hangs or fails silently is worse than none.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Executables the lab needs on the operator machine (Debian package in brackets).
REQUIRED_BINARIES = {
    "ip": "iproute2",
    "tc": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "setsid": "util-linux",
    "setpriv": "util-linux",
    "pivot_root": "util-linux",
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "keepalived": "keepalived",
    "haproxy": "haproxy",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb": "mariadb-client",
    "redis-server": "redis-server",
    "iptables": "iptables",
    "openssl": "openssl",
    "socat": "socat",  # HAProxy's runtime API on the LBs (a rolling re-install drains)
}


class LabError(RuntimeError):
    """The lab cannot be built or used on this machine; the message says why."""


def sh(
    argv: Sequence[str | os.PathLike[str]],
    *,
    timeout: float = 30,
    check: bool = True,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout; on failure raise LabError with its output."""
    args = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            env=env,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(args)}") from exc
    if check and proc.returncode != 0:
        raise LabError(
            f"exit {proc.returncode}: {' '.join(args)}\n{proc.stdout}{proc.stderr}".rstrip()
        )
    return proc


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str | Callable[[], str] = "",
) -> T:
    """Poll `probe` until it returns something truthy; raise LabError after `timeout`
    (`what` it waited for: a callable says it as things stand then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise LabError(f"timed out after {timeout}s waiting for {said or probe}")
        time.sleep(interval)


def tcp_open(ip: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ip:port."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def proc_start_time(pid: int) -> int | None:
    """The process start time (clock ticks since boot), to tell a pid from its reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def read_pid(path: Path) -> int | None:
    """The pid a daemon wrote into `path`, if the file exists and the process lives."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def missing_binaries() -> list[str]:
    """Required executables not found on PATH (or in /usr/sbin), with their package."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [
        f"{name} (Debian package {pkg})"
        for name, pkg in REQUIRED_BINARIES.items()
        if shutil.which(name, path=path) is None
    ]


def which(name: str) -> str:
    """Absolute path of a required executable (daemons are started by absolute path)."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise LabError(f"{name} not found: install its Debian package")
    return found
