"""`python -m tests.lab up` / `down`: a second lab beside the session's, removed fully."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.lab.net import Subnet, list_links, list_netns
from tests.lab.state import LAB_ROOT
from tests.lab.util import pid_alive, wait_until

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

REPO = Path(__file__).resolve().parents[2]
#: Beside the session's lab; HW_LAB_CLI_SUBNET moves it (two sessions on one machine).
SUBNET = os.environ.get("HW_LAB_CLI_SUBNET") or "198.51.100.64/26"


def lab_cli(*args: str, prefix: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HW_LAB_SUBNET": SUBNET, "HW_LAB_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, "-m", "tests.lab", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def lab_pids(prefix: str) -> set[int]:
    pids: set[int] = set()
    for ns in list_netns():
        if ns.startswith(f"{prefix}-"):
            out = subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10
            ).stdout
            pids |= {int(p) for p in out.split()}
    return pids


def assert_gone(prefix: str, pids: set[int]) -> None:
    assert not [ns for ns in list_netns() if ns.startswith(prefix)]
    assert not [link for link in list_links() if link.startswith(prefix)]
    assert not (LAB_ROOT / prefix).exists()
    # init reaps the daemons' zombies a moment later; a live process is a leak
    wait_until(lambda: not any(pid_alive(p) for p in pids), timeout=5, what="lab processes")
    ps = subprocess.run(
        ["ps", "-eo", "stat=,args="], capture_output=True, text=True, timeout=10
    ).stdout
    leaked = [
        line
        for line in ps.splitlines()
        if str(LAB_ROOT / prefix) in line and not line.startswith("Z")
    ]
    assert not leaked


def test_up_writes_answers_and_down_removes_everything(lab: object) -> None:
    prefix = f"hw{secrets.token_hex(2)}"
    up = lab_cli("up", "--harbor-nodes", "2", prefix=prefix)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"lab {prefix} is up" in up.stdout
        assert re.search(r"ssh -i \S+id_ed25519 -o UserKnownHostsFile=\S+known_hosts", up.stdout)
        answers_path = LAB_ROOT / prefix / "answers.yaml"
        secrets_path = LAB_ROOT / prefix / "secrets.yaml"
        answers = YAML(typ="safe").load(answers_path.read_text())
        secret_values = YAML(typ="safe").load(secrets_path.read_text())
        assert secrets_path.stat().st_mode & 0o777 == 0o600
        assert answers["version"] == 1
        assert answers["harbor"]["version"] == "1.4.0"
        assert answers["vip"] == answers["harbor"]["hostname"] == Subnet.parse(SUBNET).vip
        assert [n["name"] for n in answers["harbor_nodes"]] == ["harbor01", "harbor02"]
        assert answers["load_balancer"]["interface"] == "eth0"
        assert Path(answers["harbor"]["installer"]).is_file()
        assert set(secret_values) == {
            "harbor.admin_password",
            "load_balancer.auth_pass",
            "database.password",
            "clair_database.password",
        }
        assert len(secret_values["load_balancer.auth_pass"]) <= 8
        text = answers_path.read_text()
        assert all(v not in text for v in secret_values.values())
        assert text.count("<secret>") == 4
        pids = lab_pids(prefix)
        assert len(pids) >= 2 * 7  # a holder and an sshd per host, and the services
    finally:
        down = lab_cli("down", "--prefix", prefix, prefix=prefix)
    assert down.returncode == 0, down.stdout + down.stderr
    assert_gone(prefix, pids)


def test_down_cleans_up_after_a_crashed_up(lab: object) -> None:
    prefix = f"hw{secrets.token_hex(2)}"
    env = {**os.environ, "HW_LAB_SUBNET": SUBNET, "HW_LAB_PREFIX": prefix}
    up = subprocess.Popen(
        [sys.executable, "-m", "tests.lab", "up"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        started = lambda: any(ns.startswith(f"{prefix}-") for ns in list_netns())  # noqa: E731
        wait_until(
            lambda: started() or up.poll() is not None,
            timeout=30,
            interval=0.01,
            what="up to create namespaces",
        )
        assert up.poll() is None, up.communicate()[0]
        time.sleep(0.3)  # let it get a few hosts further
    finally:
        up.send_signal(signal.SIGKILL)
        up.wait(timeout=10)
    pids = lab_pids(prefix)
    down = lab_cli("down", "--prefix", prefix, prefix=prefix)
    assert down.returncode == 0, down.stdout + down.stderr
    assert_gone(prefix, pids)
