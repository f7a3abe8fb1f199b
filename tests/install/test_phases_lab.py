"""The load balancers and the nodes' files are installed at the same time (issue 17): the
events of one run show the two phases overlapping, and a failure in one still stops the
run at the boundary, with the other phase's steps finished (none cancelled), and a re-run
completes.

The tests of this module run in order on the session lab (reset before and after).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.install.conftest import install
from tests.lab import Lab

pytestmark = pytest.mark.lab

LBS, NODES = "load balancers", "harbor nodes"


def last_log(state: Path) -> list[dict[str, object]]:
    log = sorted((state / "lab" / "logs").glob("*.jsonl"))[-1]
    return [json.loads(line) for line in log.read_text().splitlines()]


def index(log: list[dict[str, object]], event: str, phase: str) -> int:
    return next(i for i, e in enumerate(log) if e["event"] == event and e["phase"] == phase)


def phase_steps(log: list[dict[str, object]], phase: str) -> dict[tuple[str, str], str]:
    return {
        (str(e["host"]), str(e["step"])): str(e["outcome"])
        for e in log
        if e["event"] == "StepFinished" and e["phase"] == phase
    }


def test_a_failed_load_balancer_stops_the_run_after_the_nodes_files_are_written(
    fresh: Lab, deployment: tuple[Path, Path], state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lb02 = fresh["lb02"]
    lb02.run("rm -rf /etc/haproxy && echo 'not a folder' > /etc/haproxy")  # writes fail here
    try:
        assert install(*deployment) == 1
    finally:
        lb02.run("rm -f /etc/haproxy && mkdir -p /etc/haproxy")
    log = last_log(state)
    assert index(log, "PhaseStarted", NODES) < index(log, "PhaseFinished", LBS)
    lbs, nodes = phase_steps(log, LBS), phase_steps(log, NODES)
    assert "failed" in {o for (host, _), o in lbs.items() if host == "lb02"}
    assert nodes, "the nodes' phase ran"
    assert set(nodes.values()) <= {"changed", "unchanged", "passed"}  # none cancelled
    assert not any(e["event"] == "PhaseStarted" and "install.sh" in str(e["phase"]) for e in log)
    [finished] = [e for e in log if e["event"] == "RunFinished"]
    assert str(finished["message"]).startswith(f"phase '{LBS}' failed: lb02/")
    failed = " ".join(capsys.readouterr().out.split())
    # The summary says the host's own why, not only an exit status.
    assert (
        "FAILED lb02 / file:/etc/haproxy/haproxy.cfg: lb02: writing /etc/haproxy/haproxy.cfg"
        in failed
    )
    assert "failed (exit 1): " in failed


def test_the_re_run_completes_and_the_two_phases_overlap(
    fresh: Lab, deployment: tuple[Path, Path], state: Path
) -> None:
    assert install(*deployment) == 0
    log = last_log(state)
    assert index(log, "PhaseStarted", NODES) < index(log, "PhaseFinished", LBS)
    assert index(log, "PhaseStarted", LBS) < index(log, "PhaseFinished", NODES)
    assert set(phase_steps(log, NODES).values()) <= {"skipped", "unchanged", "passed"}
    assert fresh.vip_holder() == "lb01"


def test_parallel_one_works_on_one_host_at_a_time(
    fresh: Lab, deployment: tuple[Path, Path], state: Path
) -> None:
    """`--parallel 1`: within a phase, a host's steps all end before the next host's
    start (a dry run: it looks at every host and changes nothing)."""
    assert install(*deployment, "--dry-run", "--parallel", "1") == 0
    log = last_log(state)
    for phase in (LBS, NODES):
        order = [str(e["host"]) for e in log if e["event"] == "StepStarted" and e["phase"] == phase]
        hosts = list(dict.fromkeys(order))
        assert len(hosts) >= 2
        assert order == sorted(order, key=hosts.index), phase
