"""What each host must offer: the LBs' interface, VIP subnet and packages; the nodes'
docker, Python 2.7 for prepare, openssl, free space and shared storage."""

from __future__ import annotations

import ipaddress
import re
import secrets
from pathlib import PurePosixPath

from fabric import Connection

from harbor_wizard.answers import Answers
from harbor_wizard.checks.remote import Read, ask, each, run
from harbor_wizard.checks.result import CheckResult, error, ok, probe, warning
from harbor_wizard.connection import SshTarget
from harbor_wizard.profiles import NodeSoftware
from harbor_wizard.profiles.harbor_1_4 import DATA_UID
from harbor_wizard.remote import Output

MIN_FREE_GIB = 5
WANT_FREE_GIB = 20


def interface_read(interface: str) -> Read:
    return Read.of('ip -o -4 addr show dev "$1"', interface)


@probe("lb.interface")
def lb_interface(target: SshTarget, connection: Connection, answers: Answers) -> list[CheckResult]:
    lb = answers.load_balancer
    interface = lb.interface or ""
    out = ask(connection, interface_read(interface))
    field = "load_balancer.interface"
    if not out.ok:
        listed = run(connection, "ip -o link show | awk -F': ' '{print $2}'").stdout.split()
        names = ", ".join(n.split("@")[0] for n in listed if n != "lo")
        return [
            error(
                "lb.interface",
                target.name,
                f"{target.name} has no interface '{interface}' (it has: {names or 'none'})",
                field_path=field,
            )
        ]
    networks = [
        ipaddress.IPv4Interface(match).network
        for match in re.findall(r"inet (\d+\.\d+\.\d+\.\d+/\d+)", out.stdout)
    ]
    if any(answers.vip in network for network in networks):
        return [
            ok(
                "lb.interface",
                target.name,
                f"{target.name}: {interface} carries the VIP's subnet",
                field_path=field,
            )
        ]
    shown = ", ".join(str(n) for n in networks) or "no IPv4 address"
    return [
        error(
            "lb.interface",
            target.name,
            f"{target.name}: the VIP {answers.vip} is not on {interface}'s subnet ({shown})",
            field_path="vip",
        )
    ]


HAPROXY_OLDEST = (1, 8)
"""The oldest HAProxy the rendered haproxy.cfg is proved with (RHEL 8 ships 1.8)."""
KEEPALIVED_CONFIG_TEST = (2, 0, 4)
"""keepalived -t (a config test) exists from 2.0.4 (Ubuntu 18.04 ships 1.3.9)."""


def haproxy_version(text: str) -> tuple[int, ...] | None:
    """From `haproxy -v`: ``HA-Proxy version 1.8.8-1ubuntu0.11 2020/06/22`` (until 2.3)
    or ``HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/``."""
    match = re.search(r"\bHA-?Proxy version (\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def keepalived_version(text: str) -> tuple[int, ...] | None:
    """From `keepalived -v` (on stderr): ``Keepalived v1.3.9 (10/21,2017)``."""
    match = re.search(r"\bKeepalived v(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def package_version(text: str) -> tuple[int, ...] | None:
    """From a package manager's candidate: ``1:1.3.9-1ubuntu0.18.04.2`` (apt, with an
    epoch), ``1.8.27`` (dnf, yum), ``2.0.14-lp152.1.3`` (zypper)."""
    match = re.match(r"(?:\d+:)?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


# $1 the package: the version the host's package manager would install (empty: none).
_CANDIDATES = {
    "apt-get": """apt-cache policy "$1" | awk '/Candidate:/ {print $2}'""",
    "dnf": """dnf -q info "$1" 2>/dev/null | awk -F' *: *' '/^Version/ {print $2; exit}'""",
    "yum": """yum -q info "$1" 2>/dev/null | awk -F' *: *' '/^Version/ {print $2; exit}'""",
    "zypper": """zypper -q info "$1" 2>/dev/null | awk -F' *: *' '/^Version/ {print $2; exit}'""",
}


_VERSION_FLAG = {"curl": "--version"}
"""How a binary prints its version when not `-v` (curl's `-v` means verbose)."""


def package_read(binary: str) -> Read:
    """The binary's path and version, when it is installed."""
    flag = _VERSION_FLAG.get(binary, "-v")
    return Read.of('command -v "$1" && "$1" "$2" 2>&1 | head -n 3', binary, flag)


def lb_binaries(answers: Answers) -> list[str]:
    """The load balancers' binaries, in the order `lb_packages` looks at them."""
    mode = answers.load_balancer.mode
    return ["keepalived", *(["haproxy"] if mode == "haproxy" else []), "curl"]


def _package(
    target: SshTarget, connection: Connection, binary: str, package: str, manager: str | None
) -> CheckResult:
    found = ask(connection, package_read(binary))
    if found.ok:
        return _installed(target, binary, found.stdout)
    if manager in _CANDIDATES:
        candidate = run(connection, _CANDIDATES[manager], package, timeout=20).stdout.strip()
        if candidate and candidate != "(none)":
            return _candidate(target, binary, package, manager, candidate)
    return error(
        f"lb.{binary}",
        target.name,
        f"{target.name}: {package} is not installed and {manager or 'no package manager'} "
        "cannot install it; install it first",
    )


def _installed(target: SshTarget, binary: str, output: str) -> CheckResult:
    """An installed LB package, judged by what its `-v` prints."""
    check = f"lb.{binary}"
    lines = output.strip().splitlines()
    if binary == "haproxy":
        version = haproxy_version(output)
        if version is not None and version < HAPROXY_OLDEST:
            return error(
                check,
                target.name,
                f"{target.name}: HAProxy {_dotted(version)} is older than "
                f"{_dotted(HAPROXY_OLDEST)}, the oldest the rendered haproxy.cfg is proved "
                f"with: upgrade haproxy on {target.name} to {_dotted(HAPROXY_OLDEST)} or later",
            )
    if binary == "keepalived":
        version = keepalived_version(output)
        if version is not None and version < KEEPALIVED_CONFIG_TEST:
            return ok(
                check,
                target.name,
                f"{target.name}: keepalived {_dotted(version)} installed; it has no config "
                f"test (keepalived -t needs {_dotted(KEEPALIVED_CONFIG_TEST)}), so "
                "keepalived.conf is written without one",
                data={"version": _dotted(version)},
            )
    # Line 1 is the path `command -v` printed; of the version line, its first words.
    shown = " ".join(lines[1].split()[:3]) if len(lines) > 1 else ""
    return ok(check, target.name, f"{target.name}: {binary} installed ({shown})")


def _candidate(
    target: SshTarget, binary: str, package: str, manager: str, candidate: str
) -> CheckResult:
    """A package the LB step will install: judged by the version the manager offers."""
    version = package_version(candidate)
    if binary == "haproxy" and version is not None and version < HAPROXY_OLDEST:
        return error(
            f"lb.{binary}",
            target.name,
            f"{target.name}: {manager} would install HAProxy {candidate}, older than "
            f"{_dotted(HAPROXY_OLDEST)}, the oldest the rendered haproxy.cfg is proved with: "
            f"install haproxy {_dotted(HAPROXY_OLDEST)} or later on {target.name} first",
        )
    return ok(
        f"lb.{binary}",
        target.name,
        f"{target.name}: {package} not installed; {manager} can install {candidate}",
        data={"install": manager},
    )


@probe("lb.packages")
def lb_packages(
    target: SshTarget, connection: Connection, answers: Answers, manager: str | None
) -> list[CheckResult]:
    results = [_package(target, connection, b, b, manager) for b in lb_binaries(answers)]
    if answers.load_balancer.mode == "lvs-dr":
        ipvs = run(connection, "test -e /proc/net/ip_vs || modprobe ip_vs", sudo=True)
        if not ipvs.ok:
            results.append(
                error(
                    "lb.ipvs",
                    target.name,
                    f"{target.name}: the kernel has no IPVS: with lvs-dr keepalived's checker "
                    "exits and takes VRRP down with it; choose load_balancer.mode: haproxy",
                    field_path="load_balancer.mode",
                )
            )
    return results


def _version(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in match.groups() if g is not None) if match else ()


NODE_SOFTWARE = (
    Read.of("docker --version"),
    Read.of("docker info --format '{{.ServerVersion}}'"),
    Read.of("docker-compose --version"),
    Read.of("docker compose version"),
    # Works on Python 2 and 3 alike (no print statement or function).
    Read.of(
        '/usr/bin/python -c "$1"', "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])"
    ),
    Read.of("command -v openssl"),
)
SPACE = Read.of("df -Pk /data 2>/dev/null || df -Pk /")


@probe("node.software")
def node_software(
    target: SshTarget, connection: Connection, needs: NodeSoftware
) -> list[CheckResult]:
    docker, engine, compose, plugin, python, openssl = (
        ask(connection, read, sudo=True) for read in NODE_SOFTWARE
    )
    oldest = ".".join(map(str, needs.docker))
    results = []
    if not docker.ok:
        results.append(error("node.docker", target.name, f"{target.name}: docker is not installed"))
    elif _version(docker.stdout) < needs.docker:
        results.append(
            error(
                "node.docker",
                target.name,
                f"{target.name}: docker {docker.stdout.strip()} is older than {oldest}, the "
                "oldest this Harbor release supports; upgrade Docker Engine",
            )
        )
    elif not engine.ok:
        results.append(
            error(
                "node.docker",
                target.name,
                f"{target.name}: the docker engine does not answer (docker info failed)",
            )
        )
    else:
        results.append(
            ok("node.docker", target.name, f"{target.name}: docker engine {engine.stdout.strip()}")
        )
    # install.sh's own choice (2.x's common.sh): the compose plugin when it answers.
    results.append(
        _compose(target, plugin if needs.compose_plugin and plugin.ok else compose, needs)
    )
    if not needs.python2:  # 2.x: prepare runs in its own container, with its own tools
        return results
    results.append(_python2(target, python))
    if openssl.ok:
        results.append(ok("node.openssl", target.name, f"{target.name}: openssl present"))
    else:
        results.append(
            error("node.openssl", target.name, f"{target.name}: prepare needs the openssl binary")
        )
    return results


def _python2(target: SshTarget, python: Output) -> CheckResult:
    if python.stdout.strip() == "2.7":
        return ok("node.python2", target.name, f"{target.name}: /usr/bin/python is Python 2.7")
    return error(
        "node.python2",
        target.name,
        f"{target.name}: Harbor 1.4's prepare needs Python 2.7 as /usr/bin/python "
        "(Ubuntu 20.04/22.04: apt-get install python-is-python2)",
    )


def _compose(target: SshTarget, compose: Output, needs: NodeSoftware) -> CheckResult:
    """The compose install.sh will call: the v2 plugin where the release takes it."""
    text = compose.stdout.strip()
    plugin = text.startswith("Docker Compose version")
    oldest = ".".join(map(str, needs.compose))
    if not compose.ok or not text:
        wanted = (
            "the docker compose plugin or docker-compose"
            if needs.compose_plugin
            else ("docker-compose (v1, which install.sh calls)")
        )
        return error(
            "node.docker_compose", target.name, f"{target.name}: {wanted} is not installed"
        )
    if not plugin and _version(text) < needs.compose:
        return error(
            "node.docker_compose",
            target.name,
            f"{target.name}: docker-compose is older than {oldest}; install.sh refuses it",
        )
    return ok("node.docker_compose", target.name, f"{target.name}: {text}")


def leftovers_read(paths: tuple[PurePosixPath, ...]) -> Read:
    return Read.of('for f in "$@"; do [ -e "$f" ] && echo "$f"; done; true', *paths)


@probe("node.leftovers")
def node_leftovers(
    target: SshTarget, connection: Connection, paths: tuple[PurePosixPath, ...]
) -> list[CheckResult]:
    """An older Harbor's key files, which this release's prepare would move over the
    deployment's shared ones: that node would then hold its own secretkey, and cannot
    decrypt what the others stored (goharbor/harbor#13569)."""
    if not paths:
        return []
    out = ask(connection, leftovers_read(paths), sudo=True)
    found = out.stdout.split()
    if not out.ok:
        return [error("node.leftovers", target.name, f"{target.name}: cannot look for {paths[0]}")]
    if found:
        return [
            error(
                "node.leftovers",
                target.name,
                f"{target.name}: {', '.join(found)} is left from an older Harbor: its prepare "
                "would move it over the secretkey every node shares. Upgrading an older "
                "Harbor is out of scope (use Harbor's migrator); on a node meant to be new, "
                "keep a copy elsewhere and remove it",
            )
        ]
    return [ok("node.leftovers", target.name, f"{target.name}: no older Harbor's key files")]


@probe("node.space")
def node_space(target: SshTarget, connection: Connection) -> list[CheckResult]:
    out = ask(connection, SPACE)
    lines = out.stdout.strip().splitlines()
    if not out.ok or len(lines) < 2:
        return [error("node.space", target.name, f"{target.name}: cannot read free space on /data")]
    free_gib = int(lines[-1].split()[3]) / 1024 / 1024
    message = f"{target.name}: {free_gib:.1f} GiB free on /data"
    if free_gib < MIN_FREE_GIB:
        return [error("node.space", target.name, message + f" (needs at least {MIN_FREE_GIB} GiB)")]
    if free_gib < WANT_FREE_GIB:
        return [warning("node.space", target.name, message + f" (less than {WANT_FREE_GIB} GiB)")]
    return [ok("node.space", target.name, message)]


@probe("storage.shared", target_arg="first")
def shared_registry(
    connections: dict[str, Connection], first: str | None = None
) -> list[CheckResult]:
    """/data/registry is one filesystem on every node, and 10000:10000 can own it.

    Why: with `filesystem` storage each node's registry must see the others' layers, and
    the 1.4.0 registry chowns /storage at every start (root_squash makes it loop).
    """
    names = list(connections)
    first = first or names[0]
    marker = f"/data/registry/.harbor-wizard-check-{secrets.token_hex(8)}"
    results: list[CheckResult] = []
    made = run(connections[first], 'test -d /data/registry && touch -- "$1"', marker, sudo=True)
    if not made.ok:
        return [
            error(
                "storage.shared",
                first,
                f"{first}: /data/registry is missing or not writable: mount the shared "
                "filesystem there on every node",
                field_path="storage.provider",
            )
        ]
    others = {name: c for name, c in connections.items() if name != first}
    try:
        seen = each(others, lambda name, c: run(c, 'test -e "$1"', marker).ok)
        for name in others:
            if seen[name]:
                results.append(
                    ok("storage.shared", name, f"{name}: /data/registry is shared with {first}")
                )
            else:
                results.append(
                    error(
                        "storage.shared",
                        name,
                        f"{name}: /data/registry is not shared with {first} (a file written on "
                        f"{first} is not there): mount the same filesystem on every node",
                        field_path="storage.provider",
                    )
                )
        results += each(connections, _registry_owner).values()
    finally:
        run(connections[first], 'rm -f -- "$1"', marker, sudo=True)
    return results


_CAN_CHOWN = (
    "f=$(mktemp -p /data/registry .harbor-wizard-chown-XXXXXX) || exit 1; "
    'chown "$1" "$f"; rc=$?; rm -f "$f"; exit $rc'
)


def _registry_owner(name: str, connection: Connection) -> CheckResult:
    owner = run(connection, "stat -c %u:%g /data/registry").stdout.strip()
    if owner == DATA_UID:
        return ok("storage.owner", name, f"{name}: /data/registry is owned by {DATA_UID}")
    if run(connection, _CAN_CHOWN, DATA_UID, sudo=True).ok:
        return ok(
            "storage.owner",
            name,
            f"{name}: /data/registry is {owner or 'unreadable'}; will be owned by {DATA_UID}",
        )
    return error(
        "storage.owner",
        name,
        f"{name}: root cannot chown in /data/registry (NFS root_squash?); the 1.4 registry "
        "container chowns it at every start and would restart in a loop: export with "
        f"no_root_squash or pre-own it as {DATA_UID}",
    )
