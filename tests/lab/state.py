"""What a lab run created, and how to remove it again: by its record or by its names.

Every run gets a prefix `hw` + 4 hex digits. Its state directory
`/run/harbor-wizard-lab/<prefix>/` is written before anything else is created, and every
namespace and link it creates starts with the prefix. Teardown therefore works from the
record AND by a sweep over names of that family, so a crash at any point leaves nothing
that `down` cannot find; names outside the family are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .net import LINK_RE, NETNS_RE, PREFIX_RE, list_links, list_netns
from .util import LabError, pid_alive, proc_start_time, sh

LAB_ROOT = Path(os.environ.get("HW_LAB_ROOT", "/run/harbor-wizard-lab"))


@dataclass
class LabRecord:
    """state.json: who owns the lab and whether it outlives its owner (`up`)."""

    prefix: str
    subnet: str
    owner_pid: int
    owner_start: int | None
    persistent: bool
    created: float

    @classmethod
    def load(cls, prefix: str, root: Path = LAB_ROOT) -> LabRecord | None:
        try:
            return cls(**json.loads((root / prefix / "state.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, root: Path = LAB_ROOT) -> None:
        path = root / self.prefix / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @property
    def owner_alive(self) -> bool:
        return pid_alive(self.owner_pid) and proc_start_time(self.owner_pid) == self.owner_start


def new_prefix(root: Path = LAB_ROOT) -> str:
    """A prefix used by no state dir, namespace or link on this machine."""
    taken = known_prefixes(root)
    while True:
        prefix = f"hw{secrets.token_hex(2)}"
        if prefix not in taken:
            return prefix


def known_prefixes(root: Path = LAB_ROOT) -> set[str]:
    """Every lab prefix on this machine: state dirs, namespaces and links of the family."""
    found = (
        {p.name for p in root.glob("hw*") if PREFIX_RE.match(p.name)} if root.is_dir() else set()
    )
    found |= {m.group(1) for ns in list_netns() if (m := NETNS_RE.match(ns))}
    found |= {m.group(1) for link in list_links() if (m := LINK_RE.match(link))}
    return found


def stale_prefixes(root: Path = LAB_ROOT, *, include_persistent: bool) -> list[str]:
    """Labs nobody owns: a dead owner, or no record at all. A live owner is never stale.

    `up` labs (persistent) are left alone unless `include_persistent` (what `down` does).
    """
    stale = []
    for prefix in sorted(known_prefixes(root)):
        record = LabRecord.load(prefix, root)
        if record is None:
            stale.append(prefix)
        elif record.owner_alive:
            continue
        elif include_persistent or not record.persistent:
            stale.append(prefix)
    return stale


def _netns_pids(names: list[str]) -> set[int]:
    pids: set[int] = set()
    for ns in names:
        out = sh(["ip", "netns", "pids", ns], check=False).stdout
        pids |= {int(p) for p in out.split()}
    return pids


def _kill(pids: set[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(pids: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while (alive := {p for p in pids if pid_alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def destroy(prefix: str, root: Path = LAB_ROOT) -> None:
    """Remove everything of one lab: processes, namespaces, links, mounts, files.

    Order matters: a namespace lives on while a process is inside it, so processes go
    first (SIGTERM, then SIGKILL), then `ip netns del`, then links, then files.
    Idempotent, and safe on a half-built lab.
    """
    if not PREFIX_RE.match(prefix):
        raise LabError(f"not a lab prefix: {prefix!r}")
    namespaces = [ns for ns in list_netns() if (m := NETNS_RE.match(ns)) and m.group(1) == prefix]
    for _ in range(5):
        pids = _netns_pids(namespaces)
        if not pids:
            break
        _kill(pids, signal.SIGTERM)
        alive = _wait_gone(pids, 3)
        _kill(alive, signal.SIGKILL)
        _wait_gone(alive, 5)
    else:
        raise LabError(f"processes of lab {prefix} do not die: {_netns_pids(namespaces)}")
    for ns in namespaces:
        sh(["ip", "netns", "del", ns], check=False)
    for link in list_links():
        if (m := LINK_RE.match(link)) and m.group(1) == prefix:
            sh(["ip", "link", "del", link], check=False)
    labdir = root / prefix
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(f"{labdir}/")
    ]
    for mnt in sorted(mounts, key=len, reverse=True):
        sh(["umount", "-l", mnt], check=False)
    shutil.rmtree(labdir, ignore_errors=True)
    if labdir.exists():
        raise LabError(f"could not remove {labdir}")


def sweep(root: Path = LAB_ROOT, *, include_persistent: bool) -> list[str]:
    """Destroy every stale lab (see `stale_prefixes`); returns the prefixes removed."""
    removed = stale_prefixes(root, include_persistent=include_persistent)
    for prefix in removed:
        destroy(prefix, root)
    return removed
