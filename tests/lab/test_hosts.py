"""Acceptance: hosts are real SSH hosts with private filesystems and a shared registry."""

from __future__ import annotations

import uuid
from pathlib import Path

import paramiko
import pytest

from tests.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


def test_fabric_reaches_every_host_with_the_lab_key_and_verified_host_key(lab: Lab) -> None:
    for name in lab.hosts:
        with lab.connect(name) as conn:
            result = conn.run("hostname; cat /etc/hostname; id -u", hide=True)
            assert result.stdout.split() == [name, name, "0"]
            assert conn.client.get_host_keys().lookup(lab.hosts[name].ip) is not None


def test_host_key_missing_from_known_hosts_is_rejected(lab: Lab) -> None:
    conn = lab.connect("lb01")
    conn.client.get_host_keys().clear()
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        conn.open()


def test_password_login_is_refused(lab: Lab) -> None:
    client = paramiko.SSHClient()
    client.load_host_keys(str(lab.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(
            lab["lb01"].ip,
            username="root",
            password="root",
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
    client.close()


def test_each_host_has_its_own_etc_keepalived_and_private_dirs(lab: Lab) -> None:
    marker = f"lab-marker-{uuid.uuid4().hex}"
    try:
        with lab.connect("lb01") as conn:
            for d in ("/etc/keepalived", "/etc/haproxy", "/etc/sysctl.d", "/root", "/data"):
                conn.run(f"echo {marker} > {d}/{marker}", hide=True)
        for d in ("/etc/keepalived", "/etc/haproxy", "/etc/sysctl.d", "/root", "/data"):
            assert lab["lb01"].path(f"{d}/{marker}").read_text().strip() == marker
            assert not lab["lb02"].path(f"{d}/{marker}").exists()
            assert not Path(d, marker).exists(), f"{d} leaked to the operator machine"
    finally:
        lab["lb01"].run(
            f"rm -f /etc/keepalived/{marker} /etc/haproxy/{marker}"
            f" /etc/sysctl.d/{marker} /root/{marker} /data/{marker}"
        )


def test_registry_is_shared_by_harbor_nodes_but_not_the_unshared_one(lab: Lab) -> None:
    first, *others = lab.harbor_nodes
    (unshared,) = lab.unshared_nodes
    name = f"blob-{uuid.uuid4().hex}"
    try:
        with lab.connect(first.name) as conn:
            conn.run(f"echo layer > /data/registry/{name}", hide=True)
        for node in others:
            with lab.connect(node.name) as conn:
                assert conn.run(f"cat /data/registry/{name}", hide=True).stdout == "layer\n"
        with lab.connect(unshared.name) as conn:
            assert conn.run(f"test -e /data/registry/{name}", warn=True, hide=True).failed
            assert conn.run("findmnt -n /data/registry", hide=True).ok
    finally:
        first.run(f"rm -f /data/registry/{name}")


def test_doubles_on_path_and_python2_on_harbor_nodes(lab: Lab) -> None:
    node = lab.harbor_nodes[0]
    with lab.connect(node.name) as conn:
        run = lambda cmd: conn.run(cmd, hide=True, warn=True)  # noqa: E731
        assert run("command -v systemctl").stdout.strip() == "/usr/local/bin/systemctl"
        assert run("docker --version").stdout.strip() == "Docker version 24.0.7, build afdd53b"
        assert run("docker info").ok
        assert run("docker info --format '{{.ServerVersion}}'").stdout.strip() == "24.0.7"
        assert run("docker-compose --version").stdout.startswith("docker-compose version 1.29.2")
        refused = run("docker ps")
        assert refused.exited == 1
        assert "stand-in: not supported" in refused.stderr
        python = run("/usr/bin/python -c 'import sys; print(sys.version_info[:2])'")
        assert python.stdout.strip() == "(2, 7)"  # the lab refuses to start without one
    with lab.connect("lb01") as conn:
        assert conn.run("command -v docker", hide=True, warn=True).failed
        assert conn.run("test -e /usr/bin/python", hide=True, warn=True).failed


def test_run_executes_inside_the_host_namespaces(lab: Lab) -> None:
    db = lab["db01"]
    assert db.run("hostname").stdout.strip() == "db01"
    assert db.ip in db.run("ip -o -4 addr show dev eth0").stdout
    assert db.addresses() == [db.ip]
