"""Offline: whose host lock may be taken over, the secretkey guard, and when install.sh
runs again (the lab tests are in tests/install/test_locks_lab.py)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from harbor_wizard import lock
from harbor_wizard.inputs import Inputs, load_inputs
from harbor_wizard.plan import Plan, build_plan
from harbor_wizard.profiles.harbor_1_4 import DATA_SECRETKEY
from harbor_wizard.steps import harbor
from harbor_wizard.steps.files import PutFile
from harbor_wizard.steps.guard import KeepsSecretKey
from harbor_wizard.steps.harbor import RunInstall
from tests.support.deployment import write_deployment

# -- whose lock is stale ---------------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_holder_of_this_machine_whose_process_is_gone_is_gone() -> None:
    mine = lock._owner()
    verdict, reason = lock.judge({**mine, "pid": dead_pid()})
    assert verdict == lock.GONE
    assert "no longer exists" in reason


def test_a_reused_pid_is_not_the_holder() -> None:
    """The pid exists (it is ours) but started at another time: another process."""
    mine = lock._owner()
    verdict, reason = lock.judge({**mine, "started": "1"})
    assert verdict == lock.GONE
    assert "another process" in reason


def test_a_restart_of_this_machine_ends_every_holder() -> None:
    assert lock.judge({**lock._owner(), "boot": "another-boot"})[0] == lock.GONE


def test_a_live_holder_on_this_machine_is_alive() -> None:
    assert lock.judge(lock._owner()) == (lock.ALIVE, f"pid {os.getpid()}")


@pytest.mark.parametrize(
    "change",
    [
        {"operator": "other-workstation"},  # another machine: its processes are not ours to see
        {"machine": "0" * 32},  # same name, another machine
        {"started": None},  # an older record: the pid alone proves nothing
        {"pid": "1"},
    ],
)
def test_what_cannot_be_proven_gone_is_not_taken_over(change: dict[str, object]) -> None:
    assert lock.judge({**lock._owner(), **change})[0] == lock.UNKNOWN


def test_an_unreadable_owner_is_unknown() -> None:
    assert lock.judge({})[0] == lock.UNKNOWN


def test_the_owner_record_names_the_process_by_pid_and_start_time() -> None:
    mine = lock._owner()
    assert mine["pid"] == os.getpid()
    assert mine["started"] == lock.process_start(os.getpid())
    assert mine["started"] is not None
    assert lock.process_start(dead_pid()) is None


def test_the_holder_is_described_with_machine_pid_and_start() -> None:
    text = lock._describe({"operator": "ws7", "pid": 42, "since": 0})
    assert text == "ws7 (pid 42, since 1970-01-01 00:00:00 UTC)"
    assert "unknown time" in lock._describe({"operator": "ws7", "pid": 42, "since": "x"})


# -- the plan: the guard first, install.sh forced by --from-scratch ---------------------


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    answers, secrets = write_deployment(tmp_path_factory.mktemp("deployment"))
    (answers.parent / "harbor-offline-installer-v1.4.0.tgz").write_bytes(b"a stand-in")
    return load_inputs(answers, secrets)


def node_steps(plan: Plan, host: str) -> list[object]:
    phase = next(p for p in plan.phases if p.name == "harbor nodes")
    return list(next(h for h in phase.hosts if h.host == host).steps)


def test_every_node_starts_with_the_secretkey_guard(inputs: Inputs) -> None:
    plan = build_plan(inputs)
    for node in inputs.answers.harbor_nodes:
        steps = node_steps(plan, node.name)
        assert isinstance(steps[0], KeepsSecretKey)
        assert set(steps[0].paths) == {DATA_SECRETKEY, PurePosixPath("/opt/harbor/ha/secretkey")}
        assert not any(isinstance(s, KeepsSecretKey) for s in steps[1:])
        files = [s for s in steps if isinstance(s, PutFile)]
        assert any(f.rendered.guarded for f in files)


def test_from_scratch_forces_install_sh(inputs: Inputs) -> None:
    def installs(plan: Plan) -> list[RunInstall]:
        return [
            s
            for phase in plan.phases
            if phase.name.startswith("install.sh")
            for host in phase.hosts
            for s in host.steps
            if isinstance(s, RunInstall)
        ]

    assert [s.force for s in installs(build_plan(inputs))] == [False] * 3
    assert [s.force for s in installs(build_plan(inputs, reinstall=True))] == [True] * 3
    assert [s.address for s in installs(build_plan(inputs))] == [
        str(n.address) for n in inputs.answers.harbor_nodes
    ]


# -- the guard on a node: on real nodes, tests/install/test_locks_lab.py ------------------


# -- install.sh again when the node does not answer ---------------------------------------
# (the decision on real nodes: tests/install/test_locks_lab.py)


def test_only_a_refused_port_means_a_stopped_harbor() -> None:
    """A refused port: nothing runs there, install.sh brings it back. A listening one (even
    answering errors) is no reason to restart the node."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert not harbor._refused("127.0.0.1", port)
    assert harbor._refused("127.0.0.1", port)


def test_the_cli_passes_break_lock_and_from_scratch_to_the_run(
    inputs: Inputs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from harbor_wizard.cli import _parser
    from harbor_wizard.deploy import Install

    args = _parser().parse_args(["--answers", "a.yaml", "--break-lock", "--from-scratch"])
    assert args.break_lock
    assert args.from_scratch
    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(tmp_path))
    install = Install(inputs, break_lock=True, from_scratch=True)
    seen = {}

    def run(self: object) -> object:
        seen["options"] = self.options  # type: ignore[attr-defined]
        raise SystemExit

    monkeypatch.setattr("harbor_wizard.deploy.Runner.run", run)
    with pytest.raises(SystemExit):
        install.run(lambda event: None)
    assert seen["options"].break_lock is True
    assert seen["options"].resume is False


def test_the_resume_hint_never_repeats_from_scratch(
    inputs: Inputs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--from-scratch re-runs install.sh on every node: "the same command" would do that
    again instead of resuming."""
    from harbor_wizard.deploy import Install

    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(tmp_path))
    assert "Run the same command again to resume" in Install(inputs).resume_hint()
    hint = Install(inputs, from_scratch=True).resume_hint()
    assert "WITHOUT --from-scratch" in hint
