"""Whether the nodes' shared directories sit on storage that survives a node.

Why: `hosts.shared_registry` proves the nodes see one /data/registry, but a directory
exported from one of the nodes (or a bind mount of a local disk) is shared and still a
single point of failure; the guide assumes HA shared storage. And job logs are files
local to the jobservice that ran the job: unless /data/job_logs is shared too, a log
asked for through another node is "not found" (the guide's known issue, goharbor/harbor#3919).
"""

from __future__ import annotations

import secrets

from fabric import Connection

from harbor_wizard.checks.remote import Read, ask, each, run
from harbor_wizard.checks.result import CheckResult, ok, probe, warning
from harbor_wizard.connection import SshTarget

REGISTRY = "/data/registry"
JOB_LOGS = "/data/job_logs"

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "smb2", "ceph", "cephfs", "fuse.cephfs",
        "fuse.ceph-fuse", "glusterfs", "fuse.glusterfs", "gpfs", "lustre", "ocfs2", "gfs2",
        "beegfs", "fuse.beegfs", "afs", "fuse.juicefs", "fuse.mfs", "fuse.lizardfs",
        "fuse.moosefs", "panfs", "pvfs2", "orangefs", "weka", "wekafs", "fuse.weka",
    }
)  # fmt: skip
"""Filesystem types (as findmnt or stat -f name them) served by other machines."""

JOB_LOGS_ISSUE = (
    "job logs stay on the node whose jobservice ran the job, so replication and scan logs "
    "are 'not found' through the other nodes (goharbor/harbor#3919): mount the shared "
    "filesystem at /data/job_logs on every node, writable by 10000:10000"
)


def network_filesystem(fstype: str) -> bool:
    """Whether `fstype` lives on other machines (a cluster or network filesystem)."""
    return fstype.strip().lower() in NETWORK_FILESYSTEMS


REGISTRY_FS = Read.of('findmnt -n -o FSTYPE -T "$1" 2>/dev/null || stat -f -c %T -- "$1"', REGISTRY)


@probe("storage.network_fs")
def registry_filesystem(target: SshTarget, connection: Connection) -> list[CheckResult]:
    name = target.name
    out = ask(connection, REGISTRY_FS)
    fstype = out.stdout.strip().splitlines()[0] if out.ok and out.stdout.strip() else ""
    if not fstype:
        return [warning("storage.network_fs", name, f"{name}: cannot read {REGISTRY}'s filesystem")]
    if network_filesystem(fstype):
        return [ok("storage.network_fs", name, f"{name}: {REGISTRY} is on {fstype}")]
    return [
        warning(
            "storage.network_fs",
            name,
            f"{name}: {REGISTRY} is on {fstype}, not a network or cluster filesystem: if "
            "the machine that holds it stops, every node loses the images. The guide "
            "assumes HA shared storage: mount an HA NFS export or a cluster filesystem "
            "(CephFS, GlusterFS), or use an object store (storage.provider)",
            field_path="storage.provider",
        )
    ]


@probe("storage.job_logs", target_arg="first")
def job_logs(connections: dict[str, Connection], first: str | None = None) -> list[CheckResult]:
    """A marker written in one node's /data/job_logs must show up on every other node."""
    if len(connections) < 2:
        return [ok("storage.job_logs", name, f"{name}: the only node") for name in connections]
    there = each(connections, lambda name, c: run(c, 'test -d "$1"', JOB_LOGS).ok)
    present = {name: connection for name, connection in connections.items() if there[name]}
    results = [
        warning(
            "storage.job_logs",
            name,
            f"{name}: {JOB_LOGS} does not exist, so Harbor will create it on the local disk: "
            + JOB_LOGS_ISSUE,
        )
        for name in connections
        if name not in present
    ]
    if not present:
        return results
    first = first if first in present else next(iter(present))
    marker = f"{JOB_LOGS}/.harbor-wizard-check-{secrets.token_hex(8)}"
    if not run(present[first], 'touch -- "$1"', marker, sudo=True).ok:
        return [
            *results,
            warning("storage.job_logs", first, f"{first}: cannot write in {JOB_LOGS}"),
        ]
    try:
        others = {name: c for name, c in present.items() if name != first}
        seen = each(others, lambda name, c: run(c, 'test -e "$1"', marker).ok)
        sharing = [name for name in others if seen[name]]
    finally:
        run(present[first], 'rm -f -- "$1"', marker, sudo=True)
    for name in present:
        if name == first:
            shared = bool(sharing)
            peers = (
                ", ".join(sharing) if shared else ", ".join(n for n in connections if n != first)
            )
        else:
            shared, peers = name in sharing, first
        if shared:
            results.append(
                ok("storage.job_logs", name, f"{name}: {JOB_LOGS} is shared with {peers}")
            )
        else:
            results.append(
                warning(
                    "storage.job_logs",
                    name,
                    f"{name}: {JOB_LOGS} is not shared with {peers}: " + JOB_LOGS_ISSUE,
                )
            )
    return results
