"""Acceptance: the stand-in installer behaves like Harbor 1.4.0's install.sh --ha."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import fabric
import pytest

from tests.lab import Lab, build_installer
from tests.lab.util import wait_until

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

TABLES = [
    "access",
    "role",
    "user",
    "project",
    "project_member",
    "project_metadata",
    "access_log",
    "repository",
    "replication_policy",
    "replication_target",
    "replication_job",
    "replication_immediate_trigger",
    "img_scan_job",
    "img_scan_overview",
    "clair_vuln_timestamp",
    "properties",
    "alembic_version",
]


def harbor_cfg(lab: Lab, **overrides: str) -> str:
    """The installer's harbor.cfg edited as the HA guide says (keys replaced in place)."""
    with tarfile.open(lab.installer) as tar:
        member = tar.extractfile("harbor/harbor.cfg")
        assert member is not None
        text = member.read().decode()
    values = {
        "hostname": lab.vip,
        "db_host": lab.mariadb.ip,
        "db_password": lab.mariadb.password,
        "redis_url": lab.redis.endpoint,
        "clair_db_host": lab.postgres.ip,
        "clair_db_password": lab.postgres.password,
        **overrides,
    }
    for key, value in values.items():
        text, n = re.subn(rf"^{key} =.*$", f"{key} = {value}", text, flags=re.M)
        assert n == 1, key
    return text


def unpack(lab: Lab, conn: fabric.Connection, cfg: str) -> None:
    conn.put(str(lab.installer), "/root/")
    conn.run("cd /root && tar xzf harbor-offline-installer-v1.4.0.tgz", hide=True)
    conn.run(f"cat > /root/harbor/harbor.cfg <<'EOF'\n{cfg}EOF", hide=True)


def get(url: str, *, insecure: bool = False) -> tuple[int, str, dict[str, str]]:
    ctx = ssl._create_unverified_context() if insecure else None

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))
    try:
        with opener.open(url, timeout=5) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def wait_serving(url: str, timeout: float = 15) -> tuple[int, str, dict[str, str]]:
    """GET `url` until the node no longer answers 502 (its UI is starting)."""
    deadline = time.monotonic() + timeout
    answer = get(url, insecure=True)
    while answer[0] == 502 and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = get(url, insecure=True)
    return answer


@pytest.fixture
def nodes(lab: Lab) -> Iterator[list[str]]:
    names = [h.name for h in lab.harbor_nodes[:2]]
    for name in names:
        lab.reset_harbor_node(name)
    yield names
    for name in names:
        lab.reset_harbor_node(name)


def test_build_installer_is_shaped_like_the_real_one(tmp_path: Path) -> None:
    tgz = build_installer(tmp_path)
    assert tgz.name == "harbor-offline-installer-v1.4.0.tgz"
    with tarfile.open(tgz) as tar:
        names = set(tar.getnames())
        assert {
            "harbor/harbor.cfg",
            "harbor/install.sh",
            "harbor/prepare",
            "harbor/docker-compose.yml",
            "harbor/ha/registry.sql",
            "harbor/harbor.v1.4.0.tar.gz",
        } <= names
        assert all(n.startswith("harbor/") for n in names)
        assert tar.getmember("harbor/install.sh").mode & 0o111
        sql = tar.extractfile("harbor/ha/registry.sql").read().decode()  # type: ignore[union-attr]
        cfg = tar.extractfile("harbor/harbor.cfg").read().decode()  # type: ignore[union-attr]
    assert sql.splitlines()[:2] == [
        "drop database if exists registry;",
        "create database registry charset = utf8;",
    ]
    created = re.findall(r"create table (?:if not exists )?`?(\w+)`?", sql, flags=re.I)
    assert created == TABLES
    assert "/*" in sql
    assert "\n#" in sql
    assert "hostname = reg.mydomain.com" in cfg
    assert "db_host = mysql" in cfg


def test_install_ha_serves_systeminfo_and_shares_ha_files(lab: Lab, nodes: list[str]) -> None:
    first, second = nodes
    with lab.connect(first) as conn:
        unpack(lab, conn, harbor_cfg(lab))
        # the answer to prepare's shared-storage question, fed on stdin
        result = conn.run(
            "cd /root/harbor && ./install.sh --ha --with-clair",
            in_stream=io.StringIO("yes\n"),
            hide=True,
            warn=True,
        )
        assert result.ok, result.stdout + result.stderr
        record = json.loads(conn.run("cat /data/harbor-standin/install.json", hide=True).stdout)
        # the guide: ship node 1's installer directory (with its ha/ files) to the others
        conn.run("cd /root && tar czf /root/harbor-node1.tgz harbor", hide=True)
        conn.get("/root/harbor-node1.tgz", str(lab.dir / "harbor-node1.tgz"))
    assert record["args"] == ["--ha", "--with-clair"]
    assert record["shared_storage_answer"] == "yes"
    assert record["hostname"] == lab.vip

    status, body, _ = wait_serving(f"http://{lab[first].ip}/api/systeminfo")
    assert status == 200
    assert json.loads(body)["registry_url"] == lab.vip
    assert json.loads(body)["node"] == first
    assert get(f"http://{lab[first].ip}/api/repositories/top")[:2] == (200, "[]")

    with lab.connect(second) as conn:
        conn.put(str(lab.dir / "harbor-node1.tgz"), "/root/")
        conn.run("cd /root && tar xzf harbor-node1.tgz", hide=True)
        conn.run("cd /root/harbor && echo yes | ./install.sh --ha --with-clair", hide=True)
        record2 = json.loads(conn.run("cat /data/harbor-standin/install.json", hide=True).stdout)
    assert record2["sha256"] == record["sha256"]
    assert json.loads(wait_serving(f"http://{lab[second].ip}/api/systeminfo")[1])["node"] == second


def test_install_refuses_what_prepare_refuses(lab: Lab, nodes: list[str]) -> None:
    node = nodes[0]
    with lab.connect(node) as conn:
        unpack(lab, conn, harbor_cfg(lab, db_host="mysql"))
        run = lambda cmd: conn.run(f"cd /root/harbor && {cmd}", hide=True, warn=True)  # noqa: E731
        refused = run("echo yes | ./install.sh --ha")
        assert refused.exited != 0
        assert "db_host in harbor.cfg needs to point to an external DB" in refused.stderr
        conn.run(f"sed -i 's/^db_host = .*/db_host = {lab.mariadb.ip}/' /root/harbor/harbor.cfg")
        for answer in ("echo no |", "true |", "</dev/null"):
            refused = run(f"{answer} ./install.sh --ha")
            assert refused.exited != 0, answer
        assert "shared storage" in refused.stderr or "EOF" in refused.stderr
        # Harbor 1.4.0's install.sh drops --with-notary under --ha: prepare's "HA mode
        # doesn't support Notary" never fires, Harbor comes up without Notary.
        assert run("echo yes | ./install.sh --ha --with-notary").ok
        record = json.loads(conn.run("cat /data/harbor-standin/install.json", hide=True).stdout)
        assert record["args"] == ["--ha", "--with-notary"]
        assert record["with_notary"] is False
        conn.run("cd /root/harbor && docker-compose down -v", hide=True)
        assert run("./install.sh --bogus").exited == 1
        conn.run("sed -i 's/^redis_url = .*/redis_url =/' /root/harbor/harbor.cfg")
        assert "redis_url" in run("echo yes | ./install.sh --ha").stderr
        conn.run("sed -i 's/^hostname = .*/hostname = reg.mydomain.com/' /root/harbor/harbor.cfg")
        sample = run("echo yes | ./install.sh --ha")
        assert sample.exited == 1
        assert "Please set hostname" in sample.stdout
    assert get_refused(lab, node)


def get_refused(lab: Lab, node: str) -> bool:
    try:
        get(f"http://{lab[node].ip}/")
    except urllib.error.URLError:
        return True
    return False


def test_host_variable_rewrites_hostname(lab: Lab, nodes: list[str]) -> None:
    with lab.connect(nodes[0]) as conn:
        unpack(lab, conn, harbor_cfg(lab))
        conn.run("cd /root/harbor && echo yes | host=trap.example ./install.sh --ha", hide=True)
        record = json.loads(conn.run("cat /data/harbor-standin/install.json", hide=True).stdout)
    assert record["hostname"] == "trap.example"
    assert record["host_env"] == "trap.example"


def test_https_install_needs_certificate_and_serves_tls(lab: Lab, nodes: list[str]) -> None:
    node = nodes[0]
    with lab.connect(node) as conn:
        unpack(lab, conn, harbor_cfg(lab, ui_url_protocol="https"))
        missing = conn.run("cd /root/harbor && echo yes | ./install.sh --ha", hide=True, warn=True)
        assert missing.failed
        conn.run(
            "mkdir -p /data/cert /data/ca_download && openssl req -x509 -newkey rsa:2048 -nodes"
            f" -days 1 -subj /CN={lab.vip} -keyout /data/cert/server.key"
            " -out /data/cert/server.crt 2>/dev/null && cp /data/cert/server.crt"
            " /data/ca_download/ca.crt",
            hide=True,
        )
        conn.run("cd /root/harbor && echo yes | ./install.sh --ha", hide=True)
        shared = conn.run("ls /root/harbor/ha", hide=True).stdout.split()
    assert {"server.crt", "server.key", "ca.crt", "secretkey", "root.crt"} <= set(shared)
    status, _, headers = get(f"http://{lab[node].ip}/")
    assert status == 301
    assert headers["Location"] == f"https://{lab[node].ip}/"  # nginx's $host: as asked
    status, body, _ = wait_serving(f"https://{lab[node].ip}/api/systeminfo")
    assert status == 200
    assert json.loads(body)["registry_url"] == lab.vip


# -- issue 13 item 8: the stand-in behaves like the real installer -------------------------
INSTALL = "cd /root/harbor && echo yes | ./install.sh --ha"


def refused(lab: Lab, node: str, port: int) -> bool:
    """Whether a TCP connection to the node's `port` is refused (nothing listens)."""
    try:
        with socket.create_connection((lab[node].ip, port), timeout=3):
            return False
    except ConnectionRefusedError:
        return True


def knob(lab: Lab, node: str, name: str, seconds: float) -> None:
    """One node's stand-in time for this test (reset_harbor_node removes it)."""
    lab[node].run(f"mkdir -p /data/harbor-standin && echo {seconds} > /data/harbor-standin/{name}")


def test_prepare_runs_with_the_nodes_python2(lab: Lab, nodes: list[str]) -> None:
    with lab.connect(nodes[0]) as conn:
        unpack(lab, conn, harbor_cfg(lab))
        conn.run(INSTALL, hide=True)
        record = json.loads(conn.run("cat /data/harbor-standin/install.json", hide=True).stdout)
        config = conn.run("cat /root/harbor/common/config/registry/config.yml", hide=True).stdout
    assert record["python"].startswith("2.7.")
    assert "  filesystem:\n    rootdirectory: /storage\n" in config  # as prepare writes it


def test_a_node_without_python2_fails_as_the_real_one_does(lab: Lab, nodes: list[str]) -> None:
    node = lab[nodes[0]]
    node.run("mv /usr/bin/python /usr/bin/python.hw-away")
    try:
        with lab.connect(node.name) as conn:
            unpack(lab, conn, harbor_cfg(lab))
            result = conn.run(INSTALL, hide=True, warn=True)
    finally:
        node.run("mv /usr/bin/python.hw-away /usr/bin/python")
    assert result.exited == 127  # bash: the interpreter is missing (ENOENT)
    # bash 5.2 says "cannot execute: required file not found", older ones "bad interpreter"
    assert re.search(
        r"\./prepare: (cannot execute|/usr/bin/python: bad interpreter)", result.stderr
    )
    assert refused(lab, node.name, 80)


def test_up_takes_its_time_and_the_ui_starts_after_it(lab: Lab, nodes: list[str]) -> None:
    node = nodes[0]
    knob(lab, node, "up-seconds", 3)
    knob(lab, node, "ready-seconds", 3)
    with lab.connect(node) as conn:
        unpack(lab, conn, harbor_cfg(lab))
        started = time.monotonic()
        result = conn.run(INSTALL, hide=True)
        took = time.monotonic() - started
    assert took >= 3
    assert "Creating harbor-ui ... done" in result.stderr
    assert get(f"http://{lab[node].ip}/api/systeminfo")[0] == 502  # nginx, UI still starting
    assert wait_serving(f"http://{lab[node].ip}/api/systeminfo")[0] == 200


def test_down_stops_the_node_and_up_starts_it(lab: Lab, nodes: list[str]) -> None:
    node = nodes[0]
    compose = "cd /root/harbor && docker-compose -f docker-compose.yml -f docker-compose.clair.yml"
    with lab.connect(node) as conn:
        unpack(lab, conn, harbor_cfg(lab))
        conn.run(f"{INSTALL} --with-clair", hide=True)
        assert wait_serving(f"http://{lab[node].ip}/")[0] == 200
        assert len(conn.run(f"{compose} ps -q", hide=True).stdout.split()) == 7
        down = conn.run(f"{compose} down -v", hide=True)
        assert "Stopping nginx ... done" in down.stderr
        assert all(refused(lab, node, port) for port in (80, 443, 4443))
        assert conn.run(f"{compose} ps -q", hide=True).stdout == ""
        conn.run(f"{compose} up -d", hide=True)
        assert wait_serving(f"http://{lab[node].ip}/")[0] == 200
        assert not refused(lab, node, 443)  # published, as Docker does, even under http
        # containers that stopped are still listed: install.sh takes them down first
        pid = int(conn.run("cat /data/harbor-standin/server.pid", hide=True).stdout)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: refused(lab, node, 80), timeout=10, what="the server to stop")
        assert len(conn.run(f"{compose} ps -q", hide=True).stdout.split()) == 7
        again = conn.run(f"{INSTALL} --with-clair", hide=True)
    assert "stopping existing Harbor instance" in again.stdout
    assert "Removing nginx ... done" in again.stderr
    assert wait_serving(f"http://{lab[node].ip}/")[0] == 200


def test_a_taken_port_fails_up_as_docker_does(lab: Lab, nodes: list[str]) -> None:
    node = nodes[0]
    holder = lab[node].run(
        'python3 -c \'import socket, time; s = socket.socket(); s.bind(("0.0.0.0", 4443));'
        " s.listen(); time.sleep(120)' >/dev/null 2>&1 </dev/null & echo $!"
    )
    pid = int(holder.stdout)
    try:
        wait_until(lambda: not refused(lab, node, 4443), timeout=10, what="the port holder")
        with lab.connect(node) as conn:
            unpack(lab, conn, harbor_cfg(lab))
            result = conn.run(INSTALL, hide=True, warn=True)
    finally:
        os.kill(pid, signal.SIGKILL)
    assert result.exited == 1
    assert (
        "Error starting userland proxy: listen tcp4 0.0.0.0:4443: bind: address already in use"
        in result.stderr
    )
    assert result.stderr.rstrip().endswith(
        "ERROR: Encountered errors while bringing up the project."
    )
    assert refused(lab, node, 80)


def test_without_the_labs_short_times_up_takes_tens_of_seconds(
    lab: Lab, nodes: list[str], tmp_path: Path
) -> None:
    """The default a test (or a manual lab) gets when nothing sets the stand-in's times."""
    node = lab[nodes[0]]
    with lab.connect(node.name) as conn:
        unpack(lab, conn, harbor_cfg(lab))
        conn.run(INSTALL, hide=True)
        conn.run("cd /root/harbor && docker-compose down -v", hide=True)
    node.run("mv /etc/harbor-standin /etc/harbor-standin.hw-away")
    log = tmp_path / "up.log"
    try:
        with log.open("w") as out:
            up = subprocess.Popen(  # nsenter and bash exec: this is docker-compose itself
                [
                    *node.nsenter(),
                    "/bin/bash",
                    "-c",
                    "cd /root/harbor && exec docker-compose up -d",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            time.sleep(4)
            assert up.poll() is None, log.read_text()  # still creating containers
            assert refused(lab, node.name, 80)
        finally:
            up.kill()
            up.wait()
    finally:
        node.run("mv /etc/harbor-standin.hw-away /etc/harbor-standin")
    # 6 containers one after the other, the first not done after 4 s: 24 s or more
    progress = log.read_text()
    assert "Creating harbor-log ... \n" in progress
    assert "done" not in progress
