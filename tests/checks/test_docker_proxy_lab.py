"""LVS-DR's REDIRECT reaches Harbor only through Docker's userland proxy: a node where it is
off (daemon.json, or dockerd's flag) is refused before anything changes."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from harbor_wizard.checks import Status, docker_proxy, ssh
from harbor_wizard.connection import SshTarget
from tests.lab import Lab

pytestmark = pytest.mark.lab


def proxy_check(lab: Lab, name: str) -> list:
    target = SshTarget(name, lab[name].ip, "root", 22, lab.key_path, lab.known_hosts_path)
    _, connection = ssh.open_host(target)
    assert connection is not None
    try:
        return docker_proxy.userland_proxy(target, connection)
    finally:
        connection.close()


def test_daemon_json_without_the_userland_proxy_is_refused(lab: Lab) -> None:
    node = lab.harbor_nodes[0]
    daemon = node.path("/etc/docker/daemon.json")
    daemon.parent.mkdir(parents=True, exist_ok=True)
    try:
        daemon.write_text('{\n  "log-driver": "json-file",\n  "userland-proxy" : false\n}\n')
        [result] = proxy_check(lab, node.name)
        assert result.status is Status.ERROR
        assert result.message.startswith(
            f'{node.name}: /etc/docker/daemon.json sets "userland-proxy": false. In lvs-dr'
        )
        assert "Remove that setting (or set it to true), restart Docker" in result.message
        daemon.write_text('{"userland-proxy": true}\n')
        [result] = proxy_check(lab, node.name)
        assert result.status is Status.OK
    finally:
        daemon.unlink(missing_ok=True)


def test_a_dockerd_started_without_the_userland_proxy_is_refused(lab: Lab) -> None:
    """The flag form: seen in the running dockerd's command line (a systemd drop-in)."""
    with tempfile.TemporaryDirectory() as folder:
        fake = Path(folder, "dockerd")
        fake.write_text("#!/bin/sh\nsleep 30; :\n")
        fake.chmod(0o755)
        process = subprocess.Popen([fake, "-H", "fd://", "--userland-proxy=false"])
        try:
            [result] = proxy_check(lab, lab.harbor_nodes[0].name)
        finally:
            process.kill()
            process.wait()
    assert result.status is Status.ERROR
    assert "dockerd runs with --userland-proxy=false" in result.message
