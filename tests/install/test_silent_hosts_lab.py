"""Hosts that go silent (every packet dropped: power loss, a partition, a firewall change)
and operators who press Ctrl-C twice: the run names the host within 30 s in every phase,
stops within 3 s when told twice, and leaves nothing of ours running on any host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.install.test_day_two_lab import answers_for, temp_files
from tests.lab import Lab
from tests.support.lab_state import reset

pytestmark = pytest.mark.lab

HARBOR_WIZARD = [sys.executable, "-m", "harbor_wizard"]
NAMED_WITHIN = 30.0
"""From the cut to the failed step's line naming the host."""
ENDED_WITHIN = 60.0
"""From the cut to the end of the run (the other hosts finish their step)."""
OURS = "install.sh|docker-compose|sleep [0-9]|curl|wget|serve_forever"
"""What the wizard (or the stand-ins it runs) may have running on a host."""


@dataclass
class Run:
    code: int
    out: str
    err: str
    named_after: float | None
    """Seconds from the trigger to the first line naming the silent host."""
    ended_after: float
    """Seconds from the trigger to the end of the process."""


def run_until(
    command: list[str], marker: tuple[str, ...], action: Callable[[], None], name: str
) -> Run:
    """Run the CLI; when a line contains every part of `marker`, call `action` (at once,
    in a thread), and time what follows. `name`: the host whose failure line is awaited."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(process.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    out: list[str] = []
    triggered = named = None
    for line in process.stdout:
        out.append(line)
        if triggered is None and all(part in line for part in marker):
            triggered = time.monotonic()
            threading.Thread(target=action).start()
        elif triggered is not None and named is None and name in line and "failed" in line:
            named = time.monotonic() - triggered
    process.wait(timeout=300)
    ended = time.monotonic() - (triggered or time.monotonic())
    reader.join()
    assert triggered is not None, f"never saw {marker!r}:\n{''.join(out)}"
    return Run(process.returncode, "".join(out), "".join(err), named, ended)


def ours_running(lab: Lab, within: float = 6.0) -> dict[str, str]:
    """What of ours still runs on the hosts once `within` seconds have passed (the hosts'
    watchdogs send TERM, then KILL 2 s later)."""
    deadline = time.monotonic() + within
    found = _ours(lab)
    while found and time.monotonic() < deadline:
        time.sleep(0.5)
        found = _ours(lab)
    return found


def _ours(lab: Lab) -> dict[str, str]:
    """Matching processes per host. Lab hosts share this machine's process table, so a
    process belongs to the host whose network namespace it is in."""
    listed = subprocess.run(["pgrep", "-af", "--", OURS], capture_output=True, text=True)
    found: dict[str, str] = {}
    hosts = {_netns(host.holder_pid): host.name for host in [*lab.lbs, *lab.harbor_nodes]}
    for line in listed.stdout.splitlines():
        pid, _, command = line.partition(" ")
        name = hosts.get(_netns(int(pid)))
        if name is not None:
            found[name] = f"{found.get(name, '')}{pid} {command}\n"
    return found


def _netns(pid: int | None) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:  # gone meanwhile
        return ""


def lock_held(lab: Lab) -> bool:
    """Whether the deployment's host lock (on the first LB) is still there."""
    return lab["lb01"].run("test -e /run/lock/harbor-wizard-lab", check=False).returncode == 0


def slow_install(lab: Lab, name: str, seconds: int) -> None:
    """The node's `docker-compose up` (inside install.sh) takes `seconds`."""
    lab[name].run(
        f"mkdir -p /data/harbor-standin && echo {seconds} > /data/harbor-standin/up-seconds"
    )


@pytest.fixture
def lab2(fresh: Lab, folder: Path) -> tuple[Lab, list[str]]:
    """A reset lab and the unattended command for two of its nodes."""
    reset(fresh)
    (Path(os.environ["HARBOR_WIZARD_STATE_DIR"]) / "lab" / "journal.json").unlink(missing_ok=True)
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02"])
    command = [*HARBOR_WIZARD, "--answers", str(answers), "--secrets", str(secrets)]
    yield fresh, command
    for node in ("harbor01", "harbor02"):
        fresh[node].run("rm -f /data/harbor-standin/up-seconds", check=False)


def assert_named(run: Run, host: str, ended_within: float = ENDED_WITHIN) -> None:
    assert run.code == 1, run.err
    assert run.named_after is not None, run.out
    assert run.named_after < NAMED_WITHIN, run.named_after
    assert run.ended_after < ended_within, run.ended_after
    assert f"{host} (" in run.out
    assert "no answer for" in run.out + run.err


def test_a_silent_node_in_the_node_phase_then_a_rerun_resumes(
    lab2: tuple[Lab, list[str]],
) -> None:
    lab, command = lab2
    slow_install(lab, "harbor02", 60)
    node = lab["harbor02"]
    try:
        run = run_until(command, ("harbor02 |", "starting Harbor"), node.partition, "harbor02")
    finally:
        node.heal()
    assert_named(run, "harbor02")
    assert "no answer for 20 s" in run.out  # during install.sh, on the open connection
    assert "harbor01 install.sh: changed" in run.out  # the other host finished its step
    assert "harbor02" in run.err
    assert not lock_held(lab)
    node.run("rm -f /data/harbor-standin/up-seconds")
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "skipped - done in an earlier run" in rerun.stdout
    assert "harbor02 install.sh: changed" in rerun.stdout


@pytest.mark.parametrize(
    ("marker", "host"),
    [
        (("== installer",), "harbor02"),
        (("== load balancers",), "lb02"),
        # lb02 is idle during the node phase; verification then asks it where the VIP is.
        (("== harbor nodes",), "lb02"),
    ],
)
def test_a_silent_host_is_named_in_every_phase(
    lab2: tuple[Lab, list[str]], marker: tuple[str, ...], host: str
) -> None:
    lab, command = lab2
    silent = lab[host]
    try:
        run = run_until(command, marker, silent.partition, host)
    finally:
        silent.heal()
    # The other hosts finish their step first: in verification that includes the VIP's
    # bounded wait, longer while the silent LB (not hearing its peer) claims the VIP too.
    assert_named(run, host, ended_within=ENDED_WITHIN + 60)  # VipServes waits up to 60 s


def test_a_silent_host_in_the_checks(lab2: tuple[Lab, list[str]]) -> None:
    lab, command = lab2
    check = [*HARBOR_WIZARD, "check", *command[len(HARBOR_WIZARD) :]]
    lab["harbor02"].partition()
    started = time.monotonic()
    try:
        result = subprocess.run(check, capture_output=True, text=True, timeout=120)
    finally:
        lab["harbor02"].heal()
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < NAMED_WITHIN
    words = " ".join(result.stdout.split())  # the table wraps long messages
    assert "harbor02 ssh.reachable error harbor02 (" in words
    assert "answer within 5 s" in words  # "no answer within 5 s", wrapped


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_second_interrupt_stops_within_3_s_and_leaves_nothing_running(
    lab2: tuple[Lab, list[str]], sig: signal.Signals, code: int
) -> None:
    lab, command = lab2
    for node in ("harbor01", "harbor02"):
        slow_install(lab, node, 120)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "starting Harbor" in line:
            break
    time.sleep(1)
    process.send_signal(sig)
    time.sleep(0.5)
    second = time.monotonic()
    process.send_signal(sig)
    _, err = process.communicate(timeout=30)
    took = time.monotonic() - second
    assert process.returncode == code, err
    assert took < 3.0, took
    assert "stopping now" in err
    assert "Run the same command again to resume" in err
    state = Path(os.environ["HARBOR_WIZARD_STATE_DIR"]) / "lab"
    journal = json.loads((state / "journal.json").read_text())
    assert journal["last"]["last_completed"] in err
    assert not lock_held(lab)
    assert ours_running(lab) == {}
    assert temp_files(lab) == []
