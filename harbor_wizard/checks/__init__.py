"""Live checks: every answer proved against the real world before anything is installed.

Each probe is a small function with its own time limits that returns results and never
raises. ``run_all`` runs them concurrently (each host's SSH checks share one connection),
so the whole set takes about as long as the slowest probe, not the sum.

Besides what would break the install (errors), the HA-readiness probes (``ha``, ``clock``,
``shared_fs``) warn where the deployment would install but not survive losing one machine.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fabric import Connection
from pydantic import SecretStr

from harbor_wizard.answers import Answers
from harbor_wizard.checks import (
    clock,
    docker_proxy,
    hosts,
    installer,
    ports,
    shared_fs,
    ssh,
    storage,
    tls,
    vip,
)
from harbor_wizard.checks.remote import Read, prefetch
from harbor_wizard.checks.result import CheckResult, Status, ok
from harbor_wizard.connection import SshTarget, targets
from harbor_wizard.profiles import profile_for

__all__ = ["CheckOptions", "CheckResult", "Status", "run_all"]


@dataclass(frozen=True)
class CheckOptions:
    timeout: float = 5.0
    """Seconds for each connection attempt and each remote command's answer."""
    accepted_fingerprints: frozenset[str] = field(default_factory=frozenset)
    """Host key fingerprints the operator accepted for hosts not yet in known_hosts."""
    strict: bool = False
    """Warnings count as failures (``--strict``: the deployment must also be HA-ready)."""


HOST_PROBES_AT_ONCE = 6
"""Below sshd's default MaxSessions (10), leaving room for the run's own sessions."""


def host_checks(
    target: SshTarget, answers: Answers, options: CheckOptions
) -> tuple[list[CheckResult], Connection | None]:
    results, connection = ssh.open_host(target, options.accepted_fingerprints, options.timeout)
    if connection is None:
        return results, None
    sudo = ssh.sudo(target, connection)
    results += sudo
    if all(result.status is Status.OK for result in sudo):
        prefetch(connection, _reads(target, answers))
    os_results = ssh.os_check(target, connection)
    results += os_results
    manager = os_results[0].data.get("package_manager") or None if os_results else None
    probes: list[Callable[[], list[CheckResult]]]
    software = profile_for(answers.harbor.version).node_software
    moved = profile_for(answers.harbor.version).moved_by_prepare
    if target.name in {lb.name for lb in answers.load_balancer.nodes}:
        probes = [
            lambda: hosts.lb_interface(target, connection, answers),
            lambda: hosts.lb_packages(target, connection, answers, manager),
        ]
    else:
        probes = [
            lambda: hosts.node_software(target, connection, software),
            lambda: hosts.node_leftovers(target, connection, moved),
            lambda: hosts.node_space(target, connection),
            lambda: ports.check(target, connection, answers),
            lambda: clock.check(target, connection),
        ]
        if answers.load_balancer.mode == "lvs-dr":
            probes.append(lambda: docker_proxy.userland_proxy(target, connection))
        if answers.storage.provider == "filesystem":
            probes.append(lambda: shared_fs.registry_filesystem(target, connection))
    # Side by side on the one connection (each in a session of its own; OpenSSH allows
    # ten at once per connection: MaxSessions).
    with ThreadPoolExecutor(max_workers=HOST_PROBES_AT_ONCE) as pool:
        for found in pool.map(lambda probe: probe(), probes):
            results += found
    return results, connection


def _reads(target: SshTarget, answers: Answers) -> list[Read]:
    """What the host's probes below read, asked in one round trip before they start."""
    lb = answers.load_balancer
    if target.name in {node.name for node in lb.nodes}:
        packages = [hosts.package_read(binary) for binary in hosts.lb_binaries(answers)]
        return [ssh.FACTS, hosts.interface_read(lb.interface or ""), *packages]
    reads = [ssh.FACTS, *hosts.NODE_SOFTWARE, hosts.SPACE, ports.listeners_read(answers)]
    moved = profile_for(answers.harbor.version).moved_by_prepare
    if moved:
        reads.append(hosts.leftovers_read(moved))
    if answers.storage.provider == "filesystem":
        reads.append(shared_fs.REGISTRY_FS)
    return reads


def run_all(
    answers: Answers,
    secrets: dict[str, SecretStr],
    base_dir: Path,
    options: CheckOptions | None = None,
    keep: Callable[[str, Connection], None] | None = None,
) -> list[CheckResult]:
    """Every check of a deployment, concurrently; results grouped by what they looked at.
    `keep` takes each host's SSH connection after the checks (the install goes on with
    them); without it they are closed."""
    options = options or CheckOptions()
    timeout = options.timeout
    jobs: list[Callable[[], list[CheckResult]]] = [
        lambda: installer.check(_installer_path(answers, base_dir), answers.harbor.version),
    ]
    if answers.storage.provider != "filesystem":
        jobs.append(lambda: storage.check(answers.storage, timeout))
    if answers.tls is not None:
        passphrase = secrets.get("tls.private_key_passphrase")
        jobs.append(
            lambda: tls.check(
                answers, base_dir, passphrase.get_secret_value() if passphrase else None
            )
        )
    host_targets = targets(answers, base_dir)
    with ThreadPoolExecutor(max_workers=len(jobs) + len(host_targets) + 10) as pool:
        host_futures: list[Future[tuple[list[CheckResult], Connection | None]]] = [
            pool.submit(host_checks, target, answers, options) for target in host_targets
        ]
        service_futures = [pool.submit(job) for job in jobs]
        # The services' probes once their drivers are loaded (see checks.services).
        service_futures += [
            pool.submit(probe)
            for probe in pool.submit(_services, answers, secrets, timeout).result()
        ]
        results: list[CheckResult] = []
        connections: dict[str, Connection] = {}
        for target, future in zip(host_targets, host_futures, strict=True):
            host_results, connection = future.result()
            results += host_results
            if connection is not None:
                connections[target.name] = connection
        try:
            node_names = [node.name for node in answers.harbor_nodes]
            nodes = {name: connections[name] for name in node_names if name in connections}
            lbs = {
                n.name: connections[n.name]
                for n in answers.load_balancer.nodes
                if n.name in connections
            }
            holding = pool.submit(vip.holder, lbs, answers)
            across: list[Future[list[CheckResult]]] = []
            if answers.storage.provider == "filesystem" and len(nodes) >= 1:
                across.append(pool.submit(hosts.shared_registry, nodes))
            if nodes and profile_for(answers.harbor.version).job_logs_on_disk:
                across.append(pool.submit(shared_fs.job_logs, nodes))
            for check in across:
                results += check.result()
            holder = holding.result()
            if answers.load_balancer.mode != "external":
                results += vip.owned(_vip(answers, timeout, holder, lbs), holder)
        finally:
            for name, connection in connections.items():
                if keep is None:
                    connection.close()
                else:
                    keep(name, connection)
        for service in service_futures:
            results += vip.owned(service.result(), holder)
    return results


def _vip(
    answers: Answers, timeout: float, holder: vip.Holder | None, lbs: dict[str, Connection]
) -> list[CheckResult]:
    """Whether the VIP is free: not asked when this deployment's LB holds it (a re-run),
    else asked of the segment from a load balancer, then by TCP when that cannot tell."""
    if holder is not None and holder.holding:
        return [ok("vip", "vip", f"the VIP is held by {holder}")]
    interface = answers.load_balancer.interface or ""
    segment = next(((connection, interface) for connection in lbs.values()), None)
    return vip.check(answers.vip, timeout=min(timeout, 2.0), segment=segment)


def _services(
    answers: Answers, secrets: dict[str, SecretStr], timeout: float
) -> list[Callable[[], list[CheckResult]]]:
    from harbor_wizard.checks import services  # on a worker: see checks.services

    return services.probes(answers, secrets, timeout)


def _installer_path(answers: Answers, base_dir: Path) -> Path:
    from harbor_wizard.certs import resolve_path

    return resolve_path(answers.harbor.installer, base_dir)
