"""SSH per host: reachable, host key trusted, login, sudo, and the facts of its OS."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

import paramiko
from fabric import Connection

from harbor_wizard.checks.remote import Read, ask, run
from harbor_wizard.checks.result import CheckResult, error, ok, probe
from harbor_wizard.connection import (
    HostKeyError,
    SshTarget,
    UnknownHostKey,
    connect,
    tcp_reachable,
)
from harbor_wizard.redact import redact


@dataclass(frozen=True)
class OsFacts:
    distribution: str
    package_manager: str | None
    systemd: bool


def open_host(
    target: SshTarget, accepted: frozenset[str] = frozenset(), timeout: float = 5.0
) -> tuple[list[CheckResult], Connection | None]:
    """Reachability, host key and login: the results, and the open connection if any.

    The connection is handed back so that a host's other checks share it.
    """
    start = time.monotonic()
    try:
        results, connection = _open(target, accepted, timeout)
    except Exception as exc:  # the contract: no exception escapes a check
        results = [error("ssh.login", target.name, f"{target.name}: SSH failed: {exc}")]
        connection = None
    seconds = time.monotonic() - start
    return [replace(r, seconds=seconds, message=redact(r.message)) for r in results], connection


def _open(
    target: SshTarget, accepted: frozenset[str], timeout: float
) -> tuple[list[CheckResult], Connection | None]:
    where = f"{target.name} ({target.address}:{target.port})"
    why = tcp_reachable(target.address, target.port, timeout)
    if why is not None:
        message = f"{where} is not reachable over SSH: {why}"
        return [error("ssh.reachable", target.name, message)], None
    try:
        connection = connect(target, accepted_fingerprints=accepted, timeout=timeout)
    except UnknownHostKey as exc:
        return [
            error(
                "ssh.host_key",
                target.name,
                str(exc),
                details=(f"known_hosts: {target.known_hosts}",),
                data={
                    "offered": exc.offered,
                    "key": f"{exc.key.get_name()} {exc.key.get_base64()}",
                },
            )
        ], None
    except HostKeyError as exc:
        return [
            error(
                "ssh.host_key",
                target.name,
                str(exc),
                data={"offered": exc.offered, "known": exc.known or ""},
            )
        ], None
    except paramiko.AuthenticationException:
        key = target.identity_file or "the SSH agent's keys"
        return [
            error(
                "ssh.login",
                target.name,
                f"{where} refused the key {key} for user '{target.user}'",
            )
        ], None
    except (OSError, paramiko.SSHException) as exc:
        return [error("ssh.login", target.name, f"{where}: SSH failed: {exc}")], None
    return [ok("ssh.login", target.name, f"{where}: logged in as {target.user}")], connection


@probe("ssh.sudo")
def sudo(target: SshTarget, connection: Connection) -> list[CheckResult]:
    if target.user == "root":
        return [ok("ssh.sudo", target.name, f"{target.name}: logged in as root")]
    result = run(connection, "sudo -n true")
    if result.ok:
        return [ok("ssh.sudo", target.name, f"{target.name}: '{target.user}' can sudo")]
    return [
        error(
            "ssh.sudo",
            target.name,
            f"{target.name}: user '{target.user}' cannot sudo without a password; "
            "allow it (NOPASSWD) or connect as root",
            details=(result.stderr.strip(),),
        )
    ]


def parse_os_release(text: str) -> str:
    fields = dict(
        (key, value.strip('"'))
        for key, _, value in (line.partition("=") for line in text.splitlines())
        if key
    )
    return fields.get("PRETTY_NAME") or fields.get("NAME") or "unknown"


_FACTS = (
    "cat /etc/os-release 2>/dev/null; echo '--'; "
    "for m in apt-get dnf yum zypper; do command -v $m >/dev/null && { echo $m; break; }; done; "
    "echo '--'; command -v systemctl >/dev/null && echo systemctl"
)


FACTS = Read.of(_FACTS)


def os_facts(connection: Connection) -> OsFacts:
    parts = re.split(r"^--$", ask(connection, FACTS).stdout, flags=re.M)
    parts += [""] * (3 - len(parts))
    manager = parts[1].strip() or None
    return OsFacts(parse_os_release(parts[0]), manager, parts[2].strip() == "systemctl")


@probe("ssh.os")
def os_check(target: SshTarget, connection: Connection) -> list[CheckResult]:
    facts = os_facts(connection)
    data = {
        "distribution": facts.distribution,
        "package_manager": facts.package_manager or "",
        "systemd": "yes" if facts.systemd else "no",
    }
    message = (
        f"{target.name}: {facts.distribution}, packages via "
        f"{facts.package_manager or 'no known package manager'}, "
        f"{'systemctl present' if facts.systemd else 'no systemctl'}"
    )
    if not facts.systemd:
        return [error("ssh.os", target.name, message + ": services cannot be managed", data=data)]
    return [ok("ssh.os", target.name, message, data=data)]
