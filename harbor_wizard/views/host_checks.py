"""The SSH-side checks for the TUI: every host at once, and the shared registry folder.

Why here: the SSH screen shows one line per host (and each unknown host key to accept),
and the storage screen needs connections to the Harbor nodes. Both call the same probes
as ``harbor-wizard check`` (``checks.host_checks`` and ``hosts.shared_registry``), and
the VIP check asks the LBs whose VIP it is as the preflight does (``vip.holder``): what
this deployment installed is its own, never "in use".
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fabric import Connection

from harbor_wizard.answers import Answers
from harbor_wizard.checks import CheckOptions, host_checks, hosts, shared_fs, ssh, vip
from harbor_wizard.checks.result import CheckResult
from harbor_wizard.checks.vip import Holder
from harbor_wizard.connection import targets


def host_results(
    answers: Answers,
    base_dir: Path,
    accepted: frozenset[str],
    timeout: float,
    only: frozenset[str] | None = None,
) -> list[CheckResult]:
    """Every host's checks (login, host key, sudo, OS, role), concurrently."""
    options = CheckOptions(timeout=timeout, accepted_fingerprints=accepted)
    chosen = [t for t in targets(answers, base_dir) if only is None or t.name in only]
    if not chosen:
        return []
    results: list[CheckResult] = []
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = [pool.submit(host_checks, target, answers, options) for target in chosen]
        for future in futures:
            host, connection = future.result()
            results += host
            if connection is not None:
                connection.close()
    return results


def shared_storage(
    answers: Answers, base_dir: Path, accepted: frozenset[str], timeout: float
) -> list[CheckResult]:
    """The nodes' shared folders, as ``check`` sees them: /data/registry shared by every
    Harbor node (filesystem storage), and /data/job_logs shared too (any storage)."""
    names = {node.name for node in answers.harbor_nodes}
    chosen = [t for t in targets(answers, base_dir) if t.name in names]
    connections: dict[str, Connection] = {}
    results: list[CheckResult] = []
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        opened = list(pool.map(lambda t: ssh.open_host(t, accepted, timeout), chosen))
    try:
        for target, (found, connection) in zip(chosen, opened, strict=True):
            if connection is None:
                results += found
            else:
                connections[target.name] = connection
        if connections and answers.storage.provider == "filesystem":
            results += hosts.shared_registry(connections)
        if connections:
            results += shared_fs.job_logs(connections)
    finally:
        for connection in connections.values():
            connection.close()
    return results


def vip_holder(
    answers: Answers, base_dir: Path, accepted: frozenset[str], timeout: float
) -> Holder | None:
    """Which of this deployment's LBs holds the VIP (``checks.vip.holder``, as ``check``
    and the install's preflight ask it), or None: none of them, or none answered."""
    names = {lb.name for lb in answers.load_balancer.nodes}
    chosen = [t for t in targets(answers, base_dir) if t.name in names]
    if not chosen:
        return None
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        opened = list(pool.map(lambda t: ssh.open_host(t, accepted, timeout), chosen))
    connections = {t.name: c for t, (_, c) in zip(chosen, opened, strict=True) if c is not None}
    try:
        return vip.holder(connections, answers) if connections else None
    finally:
        for connection in connections.values():
            connection.close()
