"""`status` and `drill` on the lab (haproxy mode): the VIP holder before and after a manual
failover, a stopped node marked, the JSON shape; the drill on a healthy lab (every cut
recovers, everything as before), its refusal on an unhealthy one, and Ctrl-C restoring.

The module installs once and runs in order on the session lab (reset before and after).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harbor_wizard.cli import main
from tests.install.conftest import install
from tests.lab import Lab

pytestmark = pytest.mark.lab

COMPOSE = "cd /opt/harbor && docker-compose -f docker-compose.yml -f docker-compose.clair.yml"
SOURCES = (40, 41, 42, 43, 44, 45)
"""Offsets of extra client addresses on the lab bridge (hosts are .11-.33, the VIP .50)."""


def status(answers: Path, secrets: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["status", "--answers", str(answers), "--secrets", str(secrets), "--json"])
    return code, json.loads(capsys.readouterr().out)


def wait_healthy(answers: Path, secrets: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    deadline = time.monotonic() + 30
    while True:
        code, report = status(answers, secrets, capsys)
        if code == 0 or time.monotonic() > deadline:
            assert code == 0, report["problems"]
            return report
        time.sleep(1)


@pytest.fixture(scope="module")
def sources(fresh: Lab) -> Iterator[list[str]]:
    """Client addresses on the bridge: HAProxy (balance source) spreads them over the nodes."""
    base = fresh.subnet.network.network_address
    found = [str(base + offset) for offset in SOURCES]
    for address in found:
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", fresh.bridge], check=False)
    yield found
    for address in found:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", fresh.bridge], check=False)


def drill_log(state: Path) -> list[dict]:
    log = sorted((state / "lab" / "logs").glob("*-drill.jsonl"))[-1]
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_install(fresh: Lab, deployment: tuple[Path, Path]) -> None:
    assert install(*deployment) == 0


def test_status_names_the_vip_holder_before_and_after_a_manual_failover(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    started = time.monotonic()
    report = wait_healthy(answers, secrets, capsys)
    assert report["vip"]["holder"] == "lb01" == report["vip"]["expected_holder"]
    assert report["seconds"] < 5
    assert set(report) >= {"healthy", "vip", "load_balancers", "nodes", "services", "problems"}
    assert [lb["name"] for lb in report["load_balancers"]] == ["lb01", "lb02"]
    assert {lb["keepalived"] for lb in report["load_balancers"]} == {"active"}
    assert {lb["haproxy"] for lb in report["load_balancers"]} == {"active"}
    assert [n["state"] for n in report["nodes"]] == ["ok"] * len(fresh.harbor_nodes)
    assert {s["name"]: s["state"] for s in report["services"]} == {
        "Harbor DB": "ok", "Redis": "ok", "Clair DB": "ok",
    }  # fmt: skip
    assert report["last_run"]["ok"] is True
    assert time.monotonic() - started < 30

    fresh["lb01"].run("systemctl stop keepalived")
    try:
        fresh.wait_vip_holder("lb02")
        code, report = status(answers, secrets, capsys)
        assert code == 1
        assert report["vip"]["holder"] == "lb02"
        assert report["vip"]["answers"] is True
        assert "lb01: keepalived is inactive" in report["problems"]
    finally:
        fresh["lb01"].run("systemctl start keepalived")
    fresh.wait_vip_holder("lb01", timeout=20)
    assert wait_healthy(answers, secrets, capsys)["vip"]["holder"] == "lb01"


def test_a_stopped_node_is_marked_and_the_drill_refuses(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    fresh["harbor02"].run(f"{COMPOSE} stop")
    try:
        capsys.readouterr()
        args = ["--answers", str(answers), "--secrets", str(secrets)]
        assert main(["status", *args]) == 1
        table = capsys.readouterr().out
        [row] = [line for line in table.splitlines() if "harbor02" in line and "node" in line]
        assert "down" in row
        code, report = status(answers, secrets, capsys)
        assert code == 1
        states = {n["name"]: n["state"] for n in report["nodes"]}
        assert states == {"harbor01": "ok", "harbor02": "down", "harbor03": "ok"}
        before = fresh["lb01"].run("systemctl is-active keepalived").stdout
        assert main(["drill", *args]) == 1
        err = capsys.readouterr().err
        assert "the drill runs only on a healthy deployment" in err
        assert f"harbor02 ({fresh['harbor02'].ip}) does not serve" in err
        assert fresh["lb01"].run("systemctl is-active keepalived").stdout == before
        assert not list((answers.parent / "state" / "lab" / "logs").glob("*-drill.jsonl"))
    finally:
        fresh["harbor02"].run(f"{COMPOSE} start")
    wait_healthy(answers, secrets, capsys)


def test_drill_on_a_healthy_lab(
    fresh: Lab,
    deployment: tuple[Path, Path],
    sources: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers, secrets = deployment
    wait_healthy(answers, secrets, capsys)
    extra = [arg for source in sources for arg in ("--source", source)]
    code = main(["drill", "--answers", str(answers), "--secrets", str(secrets), *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [e for e in drill_log(answers.parent / "state") if e["event"] == "DrillRow"]
    cuts = [r["cut"] for r in rows]
    assert cuts == [
        "keepalived on lb01",
        "keepalived on lb01 started again",
        *(f"Harbor on {n.name}" for n in fresh.harbor_nodes),
    ]
    assert all(r["ok"] for r in rows), rows
    lb_rows = rows[:2]
    assert [r["effect"] for r in lb_rows] == ["VIP to lb02", "VIP back to lb01"]
    assert lb_rows[0]["recovered_after"] < 5
    for row in rows[2:]:  # HAProxy retries a refused connection on another node
        assert row["recovered_after"] < 5
        assert row["restored_after"] is not None
    assert fresh.vip_holder() == "lb01"
    report = wait_healthy(answers, secrets, capsys)
    assert report["vip"]["holder"] == "lb01"


@pytest.mark.parametrize("cut", ["keepalived on lb01", "Harbor on harbor01"])
def test_ctrl_c_during_the_drill_restores_what_it_stopped(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str], cut: str
) -> None:
    answers, secrets = deployment
    wait_healthy(answers, secrets, capsys)
    args = ["drill", "--answers", str(answers), "--secrets", str(secrets)]
    if cut.startswith("Harbor"):
        args += ["--nodes-only"]
    process = subprocess.Popen(
        [sys.executable, "-m", "harbor_wizard", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(f"drill: stopping {cut.split(' on ')[0]}"):
            break
    time.sleep(0.5)  # mid-cut: keepalived stopped, or Harbor stopping
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "restoring" in out
    assert "drill stopped by SIGINT" in err
    for lb in fresh.lbs:
        assert lb.run("systemctl is-active keepalived", check=False).stdout.strip() == "active"
    fresh.wait_vip_holder("lb01", timeout=20)
    assert wait_healthy(answers, secrets, capsys)["vip"]["holder"] == "lb01"
