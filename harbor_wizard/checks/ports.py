"""The ports Harbor's containers publish are free on each node, or held by this deployment's
own Harbor.

Why before anything changes: Harbor 1.4's compose file publishes 80, 443 and 4443 on every
address (nginx) and 127.0.0.1:1514 (the log container's syslog). A port held by another
service makes `docker-compose up` fail on that node after the schema is loaded and the
installer is uploaded. A node where harbor-wizard already installed this deployment's Harbor
holds them itself: that is expected on every re-run.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from fabric import Connection

from harbor_wizard.answers import Answers
from harbor_wizard.checks.remote import Read, ask
from harbor_wizard.checks.result import CheckResult, error, ok, probe
from harbor_wizard.connection import SshTarget
from harbor_wizard.profiles import profile_for
from harbor_wizard.steps.harbor import INSTALLED_MARK

DOCKER = ("docker-proxy", "dockerd")
"""What holds a published port on a node running Harbor (dockerd itself without the
userland proxy): anything else on the port is not this deployment's Harbor."""

WILDCARD_PORTS = (80, 443, 4443)
"""Published on every address: any IPv4 or dual-stack listener on them is in the way."""
LOOPBACK_PORTS = (1514,)
"""Published on 127.0.0.1 only: a listener there, or on every address, is in the way."""

# $1 the installer's folder, $2 the mark install.sh's success leaves there, $3 the file
# install.sh reads (harbor.cfg's `hostname = x`, harbor.yml's `hostname: "x"`). One round
# trip: whether harbor-wizard installed Harbor here (and the hostname in that file), then
# the TCP listeners: `ss` with processes (-H needs iproute2 4.13; older ones print a header),
# or the kernel's own tables where there is no `ss`.
_LISTENERS = r"""d=$1
if [ -f "$d/$2" ]; then
    echo harbor-wizard
    sed -n 's/^[[:space:]]*hostname[[:space:]]*[=:][[:space:]]*//p' "$3" 2>/dev/null \
        | head -n 1 | sed 's/^"\(.*\)"$/\1/; s/^/hostname /'
fi
if command -v ss >/dev/null 2>&1; then
    echo ss
    ss -Hltnp 2>/dev/null || ss -ltnp | sed 1d
else
    echo proc
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null
fi
"""


@dataclass(frozen=True)
class Listener:
    address: str
    """Without brackets: ``0.0.0.0``, ``*``, ``::``, ``127.0.0.1``."""
    port: int
    process: str = ""
    """``python3 (pid 812)`` when `ss -p` could tell."""
    v6only: bool = False
    """An IPv6 wildcard known to leave IPv4 alone: new `ss` prints it as ``[::]`` (and a
    dual-stack one as ``*``); old `ss` (``:::80``) and /proc/net/tcp6 cannot tell."""
    program: str = ""
    """The process name alone (``docker-proxy``)."""


def parse_ss(text: str) -> list[Listener]:
    """Listeners from `ss -Hltnp` lines (``LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(...)``)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[0].startswith("LISTEN"):
            continue
        raw, _, port = fields[3].rpartition(":")
        if not port.isdigit():
            continue
        host = raw.strip("[]").split("%", 1)[0]
        user = re.search(r'users:\(\("([^"]+)",pid=(\d+)', line)
        process = f"{user.group(1)} (pid {user.group(2)})" if user else ""
        program = user.group(1) if user else ""
        v6only = raw.startswith("[") and host == "::"
        found.append(Listener(host, int(port), process, v6only, program))
    return found


def parse_proc(text: str) -> list[Listener]:
    """Listeners from /proc/net/tcp and tcp6 (state 0A), where a host has no `ss`."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A" or ":" not in fields[1]:
            continue
        raw, _, port = fields[1].partition(":")
        try:
            packed = bytes.fromhex(raw)
        except ValueError:
            continue
        # The kernel prints each 32-bit word in host (little-endian) order.
        words = b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4))
        address = ipaddress.ip_address(words)
        found.append(Listener(str(address), int(port, 16)))
    return found


def in_the_way(listener: Listener, port: int) -> bool:
    """Whether `listener` stops Docker from publishing Harbor's `port`."""
    if listener.port != port:
        return False
    host = listener.address
    if host in ("*", "0.0.0.0"):
        return True
    if port in LOOPBACK_PORTS:
        return host in ("127.0.0.1", "::ffff:127.0.0.1")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    if address.version == 6 and address.is_unspecified:
        return not listener.v6only  # a dual-stack socket holds the IPv4 port too
    # 0.0.0.0:port cannot be bound while any IPv4 address holds the port.
    return address.version == 4 or address.ipv4_mapped is not None


def _shown(port: int) -> str:
    return f"127.0.0.1:{port}" if port in LOOPBACK_PORTS else f"port {port}"


def listeners_read(answers: Answers) -> Read:
    profile = profile_for(answers.harbor.version)
    return Read.of(_LISTENERS, profile.installer.directory, INSTALLED_MARK, profile.config_file)


@probe("node.ports")
def check(target: SshTarget, connection: Connection, answers: Answers) -> list[CheckResult]:
    out = ask(connection, listeners_read(answers), sudo=True)
    lines = out.stdout.splitlines()
    source = next((i for i, line in enumerate(lines) if line in ("ss", "proc")), None)
    head = lines[:source]
    ours = "harbor-wizard" in head
    hostname = next((x[len("hostname ") :] for x in head if x.startswith("hostname ")), "")
    mine = ours and hostname.strip() == answers.harbor.hostname
    config = profile_for(answers.harbor.version).config_file.name
    if source is not None:
        rest = "\n".join(lines[source + 1 :])
        listeners = parse_ss(rest) if lines[source] == "ss" else parse_proc(rest)
    else:
        return [
            error(
                "node.ports",
                target.name,
                f"{target.name}: cannot list the ports in use (no answer from ss or "
                "/proc/net/tcp); install iproute2",
            )
        ]
    held: dict[int, list[Listener]] = {}
    for port in (*WILDCARD_PORTS, *LOOPBACK_PORTS):
        users = [x for x in listeners if in_the_way(x, port)]
        if users:
            held[port] = users
    if not held:
        return [
            ok(
                "node.ports",
                target.name,
                f"{target.name}: ports 80, 443, 4443 and 127.0.0.1:1514 are free for Harbor",
            )
        ]
    names = ", ".join(_shown(port) for port in held)
    by_docker = all(u.program in DOCKER or not u.program for us in held.values() for u in us)
    if mine and by_docker:
        return [
            ok(
                "node.ports",
                target.name,
                f"{target.name}: {names} held by this deployment's Harbor (installed here by "
                "harbor-wizard)",
            )
        ]
    results = []
    if ours and by_docker:  # harbor-wizard's mark, but another deployment's harbor.cfg
        results.append(
            error(
                "node.ports",
                target.name,
                f"{target.name}: {names} held by the Harbor another deployment installed here "
                f"(its {config} names {hostname.strip() or 'no hostname'}, this deployment "
                f"{answers.harbor.hostname}): remove that Harbor, or choose another node",
            )
        )
        return results
    for port, users in held.items():
        who = ", ".join(sorted({u.process for u in users if u.process}))
        where = ", ".join(sorted({f"{u.address}:{u.port}" for u in users}))
        results.append(
            error(
                "node.ports",
                target.name,
                f"{target.name}: {_shown(port)} is in use ({where}{f' by {who}' if who else ''})"
                f"; Harbor's containers publish {_shown(port)} on this node: stop or move "
                "that service, or choose another node",
            )
        )
    return results
