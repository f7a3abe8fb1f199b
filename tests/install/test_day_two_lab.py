"""Day two on the lab: resume after a failure, Ctrl-C, scale out and in, one run at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from harbor_wizard.cli import main
from harbor_wizard.deploy import Install
from harbor_wizard.events import Event, Outcome, OutputLine, StepFinished
from harbor_wizard.inputs import load_inputs
from harbor_wizard.steps.base import StepContext
from harbor_wizard.steps.distribute import DistributeInstaller
from tests.lab import Lab
from tests.support.lab_state import kill_ssh, reset, snapshot

pytestmark = pytest.mark.lab

HARBOR_WIZARD = [sys.executable, "-m", "harbor_wizard"]


def answers_for(lab: Lab, folder: Path, nodes: list[str]) -> tuple[Path, Path]:
    """answers.yaml naming `nodes`; secrets.yaml kept across calls (it holds the
    deployment's generated files)."""
    answers, secrets = folder / "answers.yaml", folder / "secrets.yaml"
    if not secrets.exists():
        lab.write_answers(folder)
    yaml = YAML()
    with answers.open("w") as out:
        yaml.dump(lab.answers_dict(harbor_nodes=nodes), out)
    return answers, secrets


def temp_files(lab: Lab) -> list[str]:
    found = []
    for host in [*lab.lbs, *lab.harbor_nodes]:
        out = host.run(
            "find /etc /opt /data /usr/local/bin /tmp -xdev -name '.harbor-wizard-tmp-*' "
            "2>/dev/null",
            check=False,
        ).stdout.split()
        found += [f"{host.name}:{path}" for path in out]
    return found


def test_killed_ssh_during_install_then_rerun_resumes(
    fresh: Lab, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02"])
    killed: list[str] = []

    def sink(event: Event) -> None:
        ours = isinstance(event, OutputLine) and (event.host, event.step) == (
            "harbor02",
            "install.sh",
        )
        if ours and not killed:
            killed.append("install.sh")
            kill_ssh(fresh, "harbor02")

    install = Install(load_inputs(answers, secrets))
    try:
        result = install.run(sink)
    finally:
        fresh["harbor02"].start_sshd()
    assert killed
    assert not result.ok
    assert "harbor02/install.sh" in result.message
    done_before = {
        (host, step)
        for host, steps in json.loads(install.journal.path.read_text())["steps"].items()
        for step in steps
    }
    assert ("harbor02", "installer:unpack") in done_before
    assert ("harbor02", "install.sh") not in done_before
    capsys.readouterr()
    assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0
    out = capsys.readouterr().out
    for host, step in done_before:
        assert f"{host} {step}: skipped - done in an earlier run" in out, (host, step)
    assert "harbor02 install.sh: changed" in out
    assert "operator verify:vip: passed" in out


def test_sigint_during_the_node_phase(fresh: Lab, folder: Path, state: Path) -> None:
    reset(fresh)
    (state / "lab" / "journal.json").unlink(missing_ok=True)
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02"])
    env = {**os.environ, "HARBOR_WIZARD_STATE_DIR": str(state)}
    command = [*HARBOR_WIZARD, "--answers", str(answers), "--secrets", str(secrets)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "== harbor nodes" in line:
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "stopped by SIGINT after" in err
    assert "Run the same command again to resume" in err
    assert temp_files(fresh) == []
    journal = json.loads((state / "lab" / "journal.json").read_text())
    assert journal["last"]["last_completed"] in err
    # The steps not started yet are cancelled; when the signal came as the phase ended,
    # the run stopped at its boundary instead.
    assert "cancelled" in out or "== install.sh" not in out, out
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "skipped - done in an earlier run" in rerun.stdout


def test_scale_out_then_in(fresh: Lab, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02"])
    assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0
    holder = fresh.vip_holder()
    watched = ["lb01", "lb02", "harbor01", "harbor02", "harbor03"]
    before = snapshot(fresh, watched)
    answers_for(fresh, folder, ["harbor01", "harbor02", "harbor03"])
    assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0
    after = snapshot(fresh, watched)
    assert after["harbor01"] == before["harbor01"]
    assert after["harbor02"] == before["harbor02"]
    assert after["harbor03"] != before["harbor03"]
    for lb in ("lb01", "lb02"):
        changed = set(after[lb].splitlines()) ^ set(before[lb].splitlines())
        paths = {line.split()[0] for line in changed}
        assert paths == {"/etc/haproxy/haproxy.cfg", "/etc/harbor-wizard/applied/haproxy.sha256"}
        assert "server harbor03 " in fresh[lb].path("/etc/haproxy/haproxy.cfg").read_text()
    assert fresh.vip_holder() == holder
    from tests.install.test_install_lab import nodes_behind_vip

    everyone = {"harbor01", "harbor02", "harbor03"}
    deadline = time.monotonic() + 20
    while (reached := nodes_behind_vip(fresh)) != everyone and time.monotonic() < deadline:
        time.sleep(1)
    assert reached == everyone
    capsys.readouterr()
    answers_for(fresh, folder, ["harbor01", "harbor02"])
    assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0
    out = capsys.readouterr().out
    assert "harbor03 is no longer in the answers" in out
    assert "left as it is" in out
    for lb in ("lb01", "lb02"):
        assert "harbor03" not in fresh[lb].path("/etc/haproxy/haproxy.cfg").read_text()
    assert fresh.vip_holder() == holder
    assert fresh["harbor03"].path("/opt/harbor/harbor.cfg").exists()  # left alone


def test_two_runs_at_once_the_second_refuses(fresh: Lab, folder: Path, state: Path) -> None:
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02"])
    env = {**os.environ, "HARBOR_WIZARD_STATE_DIR": str(state)}
    command = [*HARBOR_WIZARD, "--answers", str(answers), "--secrets", str(secrets)]
    # The first run's Harbor takes 20 s to come up: it still holds the lock however long
    # the second takes to start. --from-scratch: install.sh runs (an earlier test of the
    # module installed the nodes; a run with nothing to do could end before the second
    # starts on a loaded machine).
    knob = "/data/harbor-standin/up-seconds"
    fresh["harbor01"].run(f"mkdir -p /data/harbor-standin && echo 20 > {knob}")
    try:
        first = subprocess.Popen(
            [*command, "--from-scratch"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert first.stdout is not None
        for line in first.stdout:
            if "== database" in line:
                break
        second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        _, err = first.communicate(timeout=300)
    finally:
        fresh["harbor01"].run(f"rm -f {knob}")
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert "another harbor-wizard run of deployment 'lab' is in progress" in second.stderr
    assert ": changed" not in second.stdout


def test_the_lock_on_the_first_lb_stops_another_machine(fresh: Lab, folder: Path) -> None:
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02"])
    owner = json.dumps({"operator": "other-workstation", "pid": 4242, "since": 0})
    lock = "/run/lock/harbor-wizard-lab"
    fresh["lb01"].run(f"mkdir -p {lock} && echo '{owner}' > {lock}/owner")
    before = snapshot(fresh)
    events: list[Event] = []
    try:
        result = Install(load_inputs(answers, secrets)).run(events.append)
    finally:
        fresh["lb01"].run("rm -rf /run/lock/harbor-wizard-lab")
    assert not result.ok
    expected = "lb01 holds the lock of deployment 'lab' for other-workstation (pid 4242"
    assert expected in result.message
    assert snapshot(fresh) == before
    steps = [e for e in events if isinstance(e, StepFinished)]
    assert [e.step for e in steps] == ["checks"]
    assert steps[0].outcome is Outcome.PASSED


def test_installer_crosses_the_uplink_once_with_a_fallback(fresh: Lab, folder: Path) -> None:
    reset(fresh)
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02", "harbor03"])
    inputs = load_inputs(answers, secrets)
    lines: list[str] = []
    blocked = f"OUTPUT -d {fresh['harbor01'].ip} -p tcp ! --dport 22 -j REJECT"
    fresh["harbor03"].run(f"iptables -A {blocked}")  # harbor03 cannot reach harbor01
    connections = {n: fresh.connect(n) for n in ("harbor01", "harbor02", "harbor03")}
    try:
        step = DistributeInstaller(inputs.document.base_dir / inputs.answers.harbor.installer,
                                   {n: fresh[n].ip for n in connections})  # fmt: skip
        ctx = StepContext(host="operator", inputs=inputs, emit_line=lines.append,
                          others=connections.get)  # fmt: skip
        change = step.inspect(ctx)
        assert change is not None
        message = step.apply(ctx, change)
        assert step.inspect(ctx) is None  # every node has it, checksum verified
    finally:
        fresh["harbor03"].run(f"iptables -D {blocked}")
        for connection in connections.values():
            connection.close()
    assert "harbor02 fetched it from the seed" in "\n".join(lines)
    assert "harbor03 cannot fetch from harbor01 over the cluster network" in "\n".join(lines)
    assert message == (
        "on harbor01 via the uplink, 1 node(s) fetched it from harbor01; "
        "uploaded directly to harbor03"
    )
    leftovers = fresh["harbor01"].run("ls -a /opt/harbor-wizard").stdout.split()
    assert [name for name in leftovers if "share" in name or "tmp" in name] == []
    assert "python" not in fresh["harbor01"].run("ss -Hltnp").stdout  # server stopped
