"""LVS-DR: a packet for the VIP reaches Harbor on a node only through Docker's userland proxy.

Why: the guide's iptables REDIRECT rewrites a packet for the VIP into one for the node's
own address, in nat PREROUTING. The nat table is traversed once per connection, so
Docker's own DNAT rules (its DOCKER chain) never see that packet: it is delivered to
whatever listens on the node's port 80/443, which is docker-proxy by default. With
``"userland-proxy": false`` nothing listens there, every request through the VIP is
refused, and the LBs' health check (on the node's own address, which Docker's DNAT does
serve) still passes: an outage no check shows.
"""

from __future__ import annotations

from fabric import Connection

from harbor_wizard.checks.remote import run
from harbor_wizard.checks.result import CheckResult, error, ok, probe
from harbor_wizard.connection import SshTarget

DAEMON_JSON = "/etc/docker/daemon.json"

# Prints "file" when daemon.json turns the proxy off, "flag" when a running dockerd was
# started with it off (Go's flag parser takes a false boolean only in the `=` form).
_PROXY_OFF = r"""
f=$1
if [ -r "$f" ] && tr -d ' \t\r\n' <"$f" | grep -qi '"userland-proxy":false'; then
    echo file
fi
for c in /proc/[0-9]*/cmdline; do
    args=$(tr '\0' '\n' <"$c" 2>/dev/null) || continue
    printf '%s\n' "$args" | head -n 2 | grep -q '\(^\|/\)dockerd$' || continue
    printf '%s\n' "$args" | grep -qix -e '--userland-proxy=\(false\|f\|0\)' && echo flag
done
exit 0
"""


@probe("node.docker_proxy")
def userland_proxy(target: SshTarget, connection: Connection) -> list[CheckResult]:
    out = run(connection, _PROXY_OFF, DAEMON_JSON, sudo=True)
    found = set(out.stdout.split())
    where = []
    if "file" in found:
        where.append(f'{DAEMON_JSON} sets "userland-proxy": false')
    if "flag" in found:
        where.append("dockerd runs with --userland-proxy=false")
    if where:
        return [
            error(
                "node.docker_proxy",
                target.name,
                f"{target.name}: {' and '.join(where)}. In lvs-dr mode the VIP's traffic "
                "reaches Harbor through an iptables REDIRECT, which only Docker's userland "
                "proxy answers: every request through the VIP would be refused while the "
                "health checks pass. Remove that setting (or set it to true), restart "
                "Docker, then run again; or use the haproxy mode",
            )
        ]
    return [
        ok(
            "node.docker_proxy",
            target.name,
            f"{target.name}: Docker's userland proxy is on (the VIP's REDIRECT reaches Harbor)",
        )
    ]
