"""External load balancer mode on the lab: the wizard installs the nodes only and proves
that the operator's LB at the VIP forwards to them.

The "external" LB is HAProxy on lb02, set up by these tests alone (the VIP added to its
eth0, a config the test writes, started through the lab's systemctl stand-in); the wizard
never touches lb02. The module resets the lab before and after, and removes that LB.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from harbor_wizard.inputs import load_inputs
from harbor_wizard.plan import OPERATOR
from harbor_wizard.profiles.harbor_1_4 import PROFILE
from harbor_wizard.steps.base import StepContext, StepFailed
from harbor_wizard.steps.verify import ExternalLbServes
from tests.install.conftest import install
from tests.lab import Lab
from tests.support.deployment import write_secrets
from tests.support.lab_state import snapshot

pytestmark = pytest.mark.lab

LB = "lb02"
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"


def haproxy_config(lab: Lab, port: int) -> str:
    """The test's own HAProxy: VIP:80 to every node's `port`, health-checked like the
    settings the wizard prints (GET /api/systeminfo, registry_url, source affinity)."""
    servers = "".join(
        f"    server {n.name} {n.ip}:{port} check inter 1s fall 2 rise 1\n"
        for n in lab.harbor_nodes
    )
    return (
        "global\n    maxconn 256\n\n"
        "defaults\n    mode tcp\n    timeout connect 3s\n"
        "    timeout client 1m\n    timeout server 1m\n\n"
        f"frontend harbor_80\n    bind {lab.vip}:80\n    default_backend nodes\n\n"
        "backend nodes\n    balance source\n    option httpchk\n"
        f"    http-check send meth GET uri /api/systeminfo ver HTTP/1.1 hdr Host {lab.vip}\n"
        "    http-check expect string registry_url\n" + servers
    )


def start_lb(lab: Lab, port: int = 80) -> None:
    """HAProxy on lb02 (re)started with backends on `port`, the VIP on its eth0."""
    lb = lab[LB]
    if lab.vip not in lb.addresses():
        lb.run(f"ip addr add {lab.vip}/32 dev eth0")
    # The operator may still map the VIP to lb01's MAC (keepalived of an earlier module).
    subprocess.run(["ip", "neigh", "flush", "to", lab.vip, "dev", lab.bridge], check=False)
    lb.path(HAPROXY_CFG).write_text(haproxy_config(lab, port))
    lb.run("systemctl stop haproxy && systemctl start haproxy")


def stop_lb(lab: Lab) -> None:
    lab[LB].run(
        f"systemctl stop haproxy; rm -f {HAPROXY_CFG}; ip addr del {lab.vip}/32 dev eth0",
        check=False,
    )


@pytest.fixture(scope="module", autouse=True)
def no_external_lb_left(fresh: Lab) -> Iterator[None]:
    """The test's own LB on lb02 goes before the lab is reset for the next module."""
    yield
    stop_lb(fresh)


@pytest.fixture
def deployment(fresh: Lab, folder: Path) -> tuple[Path, Path]:
    """The lab's answers in external mode (no LB hosts) and its secrets."""
    answers, secrets = folder / "answers.yaml", folder / "secrets.yaml"
    if not answers.exists():
        data = fresh.answers_dict()
        data["load_balancer"] = {"mode": "external"}
        with answers.open("w") as out:
            YAML().dump(data, out)
        values = fresh.secrets_dict()
        del values["load_balancer.auth_pass"]
        write_secrets(secrets, values)
    return answers, secrets


def outcomes(state: Path) -> dict[tuple[str, str], str]:
    log = sorted((state / "lab" / "logs").glob("*.jsonl"))[-1]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return {
        (str(e["host"]), str(e["step"])): str(e["outcome"])
        for e in events
        if e["event"] == "StepFinished"
    }


def test_dry_run_plans_the_nodes_only_and_prints_the_lb_settings(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    before = snapshot(fresh)
    assert install(answers, secrets, "--dry-run") == 0
    out = capsys.readouterr().out
    assert ". load balancers" not in out  # no LB phase
    assert "lb01" not in out
    assert LB not in out
    assert "vip-redirect" not in out
    assert f"the external load balancer at {fresh.vip} answers /api/systeminfo" in out
    assert "The external load balancer must be set to" in out
    for node in fresh.harbor_nodes:
        assert f"    {node.name}  {node.ip}:80\n" in out
    assert "Port 443" not in out  # http: one pool
    assert "GET /api/systeminfo on each node's port 80" in out
    assert "HTTP 200 with 'registry_url' in the body" in out
    assert "by client source IP" in out
    assert "not by cookie" in out
    assert snapshot(fresh) == before


def test_install_behind_the_external_lb_passes_verification(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    start_lb(fresh)
    lb_before = snapshot(fresh, [LB])
    assert install(answers, secrets, "--lb-wait", "60") == 0
    out = capsys.readouterr().out
    found = outcomes(answers.parent / "state")
    assert found[(OPERATOR, "verify:external-lb")] == "passed"
    assert all(o != "failed" for o in found.values())
    assert {host for host, _ in found} == {OPERATOR, "database"} | {
        n.name for n in fresh.harbor_nodes
    }
    assert "The external load balancer must be set to" in out  # in the run's summary too
    for node in fresh.harbor_nodes:
        assert "REDIRECT" not in node.run("iptables -t nat -S").stdout
        assert not node.path("/usr/local/sbin/harbor-wizard-vip-redirect").exists()
    assert snapshot(fresh, [LB]) == lb_before  # the wizard never touched the LB
    assert fresh[LB].path(HAPROXY_CFG).read_text() == haproxy_config(fresh, 80)


@pytest.mark.parametrize(
    ("how", "symptom"),
    [
        # In TCP mode, HAProxy with every backend down accepts and closes at once.
        ("wrong backend ports", "Remote end closed connection without response"),
        ("nothing listening", "Connection refused"),
    ],
)
def test_verification_fails_while_the_lb_does_not_forward(
    fresh: Lab,
    deployment: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    how: str,
    symptom: str,
) -> None:
    answers, secrets = deployment
    if how == "wrong backend ports":
        start_lb(fresh, port=8080)  # every backend fails its health check
    else:
        fresh[LB].run("systemctl stop haproxy")  # the VIP is there, nothing behind it
    try:
        assert install(answers, secrets, "--lb-wait", "3") == 1
    finally:
        start_lb(fresh)
    captured = capsys.readouterr()
    names = ", ".join(n.name for n in fresh.harbor_nodes)
    message = next(
        line for line in captured.out.splitlines() if "operator verify:external-lb" in line
    )
    assert f"the external load balancer at {fresh.vip} did not answer" in message
    assert "within 3s" in message
    assert f"the VIP ({fresh.vip}:80)" in message
    assert symptom in message
    assert (
        f"the nodes answer on their own addresses ({names}), so the load balancer at "
        f"{fresh.vip} is not forwarding to them yet" in message
    )
    assert "phase 'verification' failed: operator/verify:external-lb" in captured.err
    assert "The external load balancer must be set to" in captured.out


def test_a_node_that_does_not_answer_is_named(fresh: Lab, deployment: tuple[Path, Path]) -> None:
    """The diagnosis alone (a whole run would also wait for harbor03's own check): with
    harbor03 refusing port 80 and the LB down, harbor03 is named as unreachable and the
    others as answering."""
    answers, secrets = deployment
    inputs = load_inputs(answers, secrets)
    silent = fresh["harbor03"]
    nodes = {n.name: n.ip for n in fresh.harbor_nodes}
    rule = "INPUT -p tcp --dport 80 -j REJECT --reject-with tcp-reset"
    silent.run(f"iptables -A {rule}")
    fresh[LB].run("systemctl stop haproxy")
    try:
        step = ExternalLbServes(fresh.vip, False, nodes, PROFILE.health, wait=1)
        with pytest.raises(StepFailed) as failed:
            step.inspect(StepContext(host=OPERATOR, inputs=inputs))
    finally:
        silent.run(f"iptables -D {rule}")
        start_lb(fresh)
    message = str(failed.value)
    assert (
        f"harbor03 ({silent.ip}:80): [Errno 111] Connection refused: it does not answer on "
        "its own address, so the load balancer cannot reach it either" in message
    )
    assert (
        f"harbor01, harbor02 answer on their own addresses, so the load balancer at "
        f"{fresh.vip} is not forwarding to them yet either" in message
    )
