"""The lab's hosts as the install sees them: a snapshot to compare, and a reset to fresh.

Why: "nothing on any host changed" and "no file was rewritten" are claims about host
state, so tests compare snapshots (content digest, mode, owner, mtime of every file the
install could touch, NAT rules, running services) taken before and after.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pymysql

from tests.lab import Lab

WATCHED = (
    "/etc/keepalived /etc/haproxy /etc/sysctl.d /usr/local/bin /opt/harbor /opt/harbor-wizard"
    " /data /etc/harbor-wizard"
)

_SNAPSHOT = (
    f"find {WATCHED} -xdev -type f ! -path '/data/harbor-standin/*' 2>/dev/null"
    " | sort | while read -r f; do"
    ' printf "%s %s %s\\n" "$f" "$(sha256sum < "$f" | cut -c1-16)"'
    ' "$(stat -c "%a %U:%G %Y" "$f")"; done;'
    " echo '-- nat'; iptables -t nat -S PREROUTING 2>/dev/null;"
    " echo '-- services'; for s in keepalived haproxy; do"
    ' echo "$s $(systemctl is-active $s 2>/dev/null)"; done'
)


def snapshot(lab: Lab, hosts: list[str] | None = None) -> dict[str, str]:
    """Per host: every watched file with digest, mode, owner and mtime; rules; services."""
    names = hosts or [h.name for h in lab.lbs] + [h.name for h in lab.harbor_nodes]
    return {name: lab[name].run(_SNAPSHOT).stdout for name in names}


def files(lab: Lab, host: str) -> dict[str, tuple[str, str, str]]:
    """path -> (digest, mode, owner:group) for one host, from its snapshot."""
    found = {}
    for line in snapshot(lab, [host])[host].splitlines():
        if line.startswith("--"):
            break
        path, digest, mode, owner, _ = line.split()
        found[path] = (digest, mode, owner)
    return found


def reset(lab: Lab) -> None:
    """Undo an install: LB services and files, node files and rules, the Harbor DB."""
    for lb in lab.lbs:
        lb.run(
            "systemctl stop keepalived haproxy; rm -rf /etc/keepalived/* /etc/haproxy/haproxy.cfg"
            " /usr/local/bin/check*.sh /etc/sysctl.d/90-harbor-wizard.conf /etc/harbor-wizard",
            check=False,
        )
    lab.clear_vip()
    for node in lab.harbor_nodes + lab.unshared_nodes:
        lab.reset_harbor_node(node.name)
        node.run(
            "rm -rf /opt/harbor /opt/harbor-wizard /etc/harbor-wizard /data/job_logs"
            " /data/secret /data/ca_download /data/cert /var/lib/docker/harbor-standin"
            " && find /data/registry -mindepth 1 -delete && chown root:root /data/registry"
            " && iptables -t nat -F PREROUTING",
            check=False,
        )
    conn = pymysql.connect(host=lab.mariadb.ip, user="root", password=lab.mariadb.password)
    with conn, conn.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS registry")
    with lab.postgres.sql() as pg:  # Harbor 2.x's
        pg.execute("DROP DATABASE IF EXISTS registry WITH (FORCE)")


def kill_ssh(lab: Lab, name: str) -> None:
    """Every sshd of the host, the sessions too: its SSH connections drop at once."""
    host = lab[name]
    pids = subprocess.run(
        ["ip", "netns", "pids", host.netns], capture_output=True, text=True, check=True
    ).stdout.split()
    for pid in pids:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm == "sshd":
            os.kill(int(pid), signal.SIGKILL)
    (host.dir / "sshd.pid").unlink(missing_ok=True)
