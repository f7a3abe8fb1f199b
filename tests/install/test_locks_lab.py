"""Locks and guards on the lab: a stale host lock taken over, a live one refused,
`--break-lock`, the secretkey guard before anything on a node changes, and install.sh
again on a node whose Harbor stopped answering."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from harbor_wizard import lock
from harbor_wizard.artefacts import ALL
from tests.install.conftest import install
from tests.install.test_day_two_lab import answers_for
from tests.lab import Lab
from tests.lab.util import pid_alive, read_pid, wait_until
from tests.support.lab_state import snapshot

pytestmark = pytest.mark.lab

LOCK = "/run/lock/harbor-wizard-lab"
NODES = ["harbor01", "harbor02"]


def plant_lock(lab: Lab, owner: dict[str, object]) -> None:
    text = shlex.quote(json.dumps(owner))
    lab["lb01"].run(f"mkdir -p {LOCK} && printf '%s\\n' {text} > {LOCK}/owner")


def lock_left(lab: Lab) -> bool:
    return lab["lb01"].run(f"test -e {LOCK}", check=False).returncode == 0


@pytest.fixture
def deployment(fresh: Lab, folder: Path) -> Iterator[tuple[Path, Path]]:
    """Two nodes; the lock on lb01 removed after each test."""
    try:
        yield answers_for(fresh, folder, NODES)
    finally:
        fresh["lb01"].run(f"rm -rf {LOCK}")


@pytest.fixture
def alive() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "300"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_lock_left_by_a_gone_run_of_this_machine_is_taken_over(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    child = subprocess.Popen(["true"])
    started = lock.process_start(child.pid)
    child.wait()
    plant_lock(fresh, {**lock._owner(), "pid": child.pid, "started": started})
    assert install(*deployment) == 0
    out = capsys.readouterr().out
    assert f"lb01 | took over the lock {LOCK} on lb01 left by " in out
    assert f"its process {child.pid} no longer exists" in out
    assert not lock_left(fresh)  # released at the end


def test_a_lock_whose_pid_now_names_another_process_is_taken_over(
    fresh: Lab,
    deployment: tuple[Path, Path],
    alive: subprocess.Popen[bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    plant_lock(fresh, {**lock._owner(), "pid": alive.pid, "started": "1"})
    assert install(*deployment, "--dry-run") == 0  # a dry run takes no lock
    assert lock_left(fresh)
    assert install(*deployment) == 0
    out = capsys.readouterr().out
    assert "(the pid now names another process)" in out
    assert not lock_left(fresh)


def test_a_live_run_of_this_machine_is_refused_even_with_break_lock(
    fresh: Lab,
    deployment: tuple[Path, Path],
    alive: subprocess.Popen[bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    owner = {**lock._owner(), "pid": alive.pid, "started": lock.process_start(alive.pid)}
    plant_lock(fresh, owner)
    before = snapshot(fresh)
    for extra in ((), ("--break-lock",)):
        assert install(*deployment, *extra) == 1
        err = capsys.readouterr().err
        assert f"lb01 holds the lock of deployment 'lab' for {owner['operator']} (pid " in err
        assert f"that run is still going on this machine (pid {alive.pid})" in err
    assert snapshot(fresh) == before
    assert json.loads(fresh["lb01"].path(f"{LOCK}/owner").read_text()) == owner


def test_another_machines_lock_is_refused_then_broken(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    owner = {"operator": "other-workstation", "pid": 4242, "since": 1700000000}
    plant_lock(fresh, owner)
    before = snapshot(fresh)
    assert install(*deployment) == 1
    err = capsys.readouterr().err
    assert (
        "lb01 holds the lock of deployment 'lab' for other-workstation (pid 4242, since "
        "2023-11-14 22:13:20 UTC): another run is in progress there, or it stopped without "
        "releasing the lock (it ran on other-workstation). If no run of 'lab' is going on, "
        "run again with --break-lock"
    ) in err
    assert snapshot(fresh) == before
    assert install(*deployment, "--break-lock") == 0
    out = capsys.readouterr().out
    assert f"lb01 | broke the lock {LOCK} on lb01 held by other-workstation (pid 4242" in out
    assert not lock_left(fresh)


def test_another_secretkey_in_data_stops_before_the_node_changes(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert install(*deployment) == 0
    key = fresh["harbor02"].path("/data/secretkey")
    deployments = key.read_bytes()
    key.write_bytes(b"0123456789abcdef")
    try:
        before = snapshot(fresh)
        capsys.readouterr()
        assert install(*deployment) == 1
        after = snapshot(fresh)
    finally:
        key.write_bytes(deployments)
    captured = capsys.readouterr()
    assert "guard:secretkey: failed - harbor02: /data/secretkey holds another" in captured.out
    assert "restore the deployment's generated values" in captured.out
    assert "harbor02/guard:secretkey" in captured.err
    assert after == before
    assert "0123456789abcdef" not in captured.out + captured.err


def test_lost_generated_values_change_no_node(
    fresh: Lab, deployment: tuple[Path, Path], folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """New generated values (a secrets file without its generated.*): the guard stops each
    node before its ha/ files are replaced (the old guard came after private_key.pem)."""
    answers, secrets = deployment
    assert install(answers, secrets) == 0
    yaml = YAML()
    values = yaml.load(secrets.read_text())
    for path in ALL:
        del values[path]
    lost = folder / "lost-secrets.yaml"
    with lost.open("w") as out:
        yaml.dump(values, out)
    os.chmod(lost, 0o600)
    before = snapshot(fresh)
    capsys.readouterr()
    assert install(answers, lost) == 1
    out = capsys.readouterr().out
    assert snapshot(fresh) == before
    for node in NODES:
        assert f"{node} guard:secretkey: failed" in out
        assert f"{node} file:/opt/harbor/ha/private_key.pem: cancelled" in out


def stop_harbor(lab: Lab, name: str) -> None:
    """The stand-in Harbor server stops, as if its containers were gone; marks stay."""
    pid = read_pid(lab[name].path("/data/harbor-standin/server.pid"))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), timeout=10, what="the stand-in server to exit")


def install_runs(lab: Lab, name: str) -> float:
    """When install.sh last ran on the node (the stand-in's record)."""
    record = json.loads(lab[name].path("/data/harbor-standin/install.json").read_text())
    return float(record["time"])


def test_a_node_that_stopped_answering_is_installed_again(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert install(*deployment) == 0
    first = {node: install_runs(fresh, node) for node in NODES}
    stop_harbor(fresh, "harbor02")
    capsys.readouterr()
    assert install(*deployment, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "harbor02 install.sh: changed - would change: installed, but nothing listens" in out
    assert install_runs(fresh, "harbor02") == first["harbor02"]
    assert install(*deployment) == 0
    out = capsys.readouterr().out
    assert "harbor02 install.sh: changed - Harbor installed (installed, but nothing listens" in out
    assert "harbor01 install.sh: changed" not in out
    assert install_runs(fresh, "harbor01") == first["harbor01"]
    assert install_runs(fresh, "harbor02") > first["harbor02"]
    assert "harbor02 verify:node: passed" in out


def test_from_scratch_runs_install_sh_on_every_node(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert install(*deployment) == 0
    first = {node: install_runs(fresh, node) for node in NODES}
    capsys.readouterr()
    assert install(*deployment, "--from-scratch") == 0
    out = capsys.readouterr().out
    for node in NODES:
        assert f"{node} install.sh: changed - Harbor installed (installed; --from-scratch" in out
        assert install_runs(fresh, node) > first[node]
