"""The install, end to end on the lab: fresh, re-run, dry runs, failover, failures, lvs-dr.

The tests of this module run in order on the session lab, which the module resets to
fresh before and after (other modules expect a lab with nothing installed).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import time
from pathlib import Path

import pymysql
import pytest
from ruamel.yaml import YAML

from harbor_wizard.cli import main
from harbor_wizard.events import Event, Outcome, PhaseStarted, StepFinished
from harbor_wizard.inputs import load_inputs
from harbor_wizard.plan import Plan, build_plan
from harbor_wizard.runner import Runner, RunOptions
from harbor_wizard.steps.verify import http_get
from tests.install.conftest import install
from tests.lab import Lab
from tests.support.deployment import write_secrets
from tests.support.lab_state import files, kill_ssh, reset, snapshot

pytestmark = pytest.mark.lab


def last_log(state: Path) -> list[dict[str, object]]:
    log = sorted((state / "lab" / "logs").glob("*.jsonl"))[-1]
    return [json.loads(line) for line in log.read_text().splitlines()]


def outcomes(log: list[dict[str, object]]) -> dict[tuple[str, str], str]:
    return {
        (str(e["host"]), str(e["step"])): str(e["outcome"])
        for e in log
        if e["event"] == "StepFinished"
    }


def nodes_behind_vip(lab: Lab) -> set[str]:
    """Which nodes answer through the VIP, asked from every free address of the lab's
    subnet as a client (HAProxy keeps each client on one node: `balance source`)."""
    base = lab.subnet.network.network_address
    free = [base + i for i in (*range(34, 50), *range(51, 63))]  # not hosts, not the VIP
    seen: set[str] = set()
    for address in free:
        source = str(address)
        subprocess.run(["ip", "addr", "add", f"{source}/32", "dev", lab.bridge], check=False)
        conn = http.client.HTTPConnection(lab.vip, 80, timeout=3, source_address=(source, 0))
        try:
            conn.request("GET", "/api/systeminfo")
            seen.add(json.loads(conn.getresponse().read())["node"])
        finally:
            conn.close()
            subprocess.run(["ip", "addr", "del", f"{source}/32", "dev", lab.bridge], check=False)
    return seen


# --- before anything is installed -------------------------------------------------------


def test_bad_input_or_failed_preflight_changes_nothing(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    before = snapshot(fresh)
    bad = answers.with_name("bad.yaml")
    bad.write_text(answers.read_text().replace("virtual_router_id: 51", "virtual_router_id: 300"))
    assert install(bad, secrets) == 2
    missing = secrets.with_name("missing.yaml")
    write_secrets(
        missing, {k: v for k, v in fresh.secrets_dict().items() if k != "database.password"}
    )
    assert install(answers, missing) == 2
    fresh.redis.stop()
    try:
        assert install(answers, secrets) == 1
    finally:
        fresh.redis.start()
    err = capsys.readouterr().err
    assert "load_balancer.virtual_router_id" in err
    assert "database.password: missing secret" in err
    assert "phase 'preflight' failed" in err
    assert snapshot(fresh) == before


def test_dry_run_on_a_fresh_lab_lists_changes_and_changes_nothing(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    before = snapshot(fresh)
    assert install(answers, secrets, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "Plan for deployment 'lab':" in out
    assert "lb01 file:/etc/keepalived/keepalived.conf: changed - would change: missing" in out
    assert "harbor02 install.sh: changed - would change: never installed" in out
    assert "database schema: changed - would change: no database" in out
    assert "lb01 service:keepalived: changed - would change: start" in out
    assert "+registry_storage_provider_name = filesystem" in out  # a diff, secrets masked
    for value in fresh.secrets_dict().values():
        assert value not in out
    assert "Nothing would change" not in out
    assert snapshot(fresh) == before


# --- the install -------------------------------------------------------------------------


def test_fresh_install_in_haproxy_mode(fresh: Lab, deployment: tuple[Path, Path]) -> None:
    answers, secrets = deployment
    assert install(answers, secrets) == 0
    log = last_log(answers.parent / "state")
    assert outcomes(log)[("database", "schema")] == "changed"
    assert all(o != "failed" for o in outcomes(log).values())
    everyone = {h.name for h in fresh.harbor_nodes}
    deadline = time.monotonic() + 20  # HAProxy marks a node up after two health checks
    while (reached := nodes_behind_vip(fresh)) != everyone and time.monotonic() < deadline:
        time.sleep(1)
    assert reached == everyone
    assert fresh.vip_holder() == "lb01"
    rendered = load_inputs(answers, secrets).render()
    for host in {r.host for r in rendered}:
        on_host = files(fresh, host)
        for r in (r for r in rendered if r.host == host):
            digest = hashlib.sha256(r.content.encode()).hexdigest()[:16]
            assert on_host[str(r.path)] == (digest, f"{r.mode:o}", "root:root"), (host, r.path)
    ha = [
        {p: v for p, v in files(fresh, node.name).items() if p.startswith("/opt/harbor/ha/")}
        for node in fresh.harbor_nodes
    ]
    assert ha[0]
    assert all(h == ha[0] for h in ha)
    for node in fresh.harbor_nodes:
        record = json.loads(node.path("/data/harbor-standin/install.json").read_text())
        assert record["args"] == ["--ha", "--with-clair"]


def test_rerun_changes_nothing_and_keeps_data(fresh: Lab, deployment: tuple[Path, Path]) -> None:
    answers, secrets = deployment
    conn = pymysql.connect(
        host=fresh.mariadb.ip, user="root", password=fresh.mariadb.password, autocommit=True
    )
    with conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO registry.properties (k, v) VALUES ('between-runs', 'kept')")
    before = snapshot(fresh)
    assert install(answers, secrets) == 0
    log = last_log(answers.parent / "state")
    changed = [k for k, o in outcomes(log).items() if o == "changed"]
    assert changed == []
    assert snapshot(fresh) == before  # no file rewritten: digests, modes and mtimes equal
    # Each host's steps in a phase read it in one command: nothing more is sent.
    sent = {str(e["phase"]): e["round_trips"] for e in log if e["event"] == "PhaseFinished"}
    one_each = {host.name: 1 for host in (*fresh.lbs, *fresh.harbor_nodes)}
    assert sent["load balancers"] | sent["harbor nodes"] == one_each
    assert sent["install.sh: first node"] | sent["install.sh: other nodes"] == {
        node.name: 1 for node in fresh.harbor_nodes
    }
    assert sent["database"] == {}
    conn = pymysql.connect(host=fresh.mariadb.ip, user="root", password=fresh.mariadb.password)
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT v FROM registry.properties WHERE k = 'between-runs'")
        assert cursor.fetchone() == ("kept",)


def test_a_different_secretkey_is_never_written_over_the_nodes_one(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    values = YAML(typ="safe").load(secrets.read_text())
    other = write_secrets(
        secrets.with_name("other-secrets.yaml"), {**values, "generated.secretkey": "A" * 16}
    )
    before = snapshot(fresh)
    assert install(answers, other) == 1
    err = capsys.readouterr()
    refused = "/data/secretkey and /opt/harbor/ha/secretkey hold another secretkey than"
    assert refused in err.out
    assert snapshot(fresh) == before


def test_dry_run_on_an_installed_lab_says_nothing_would_change(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    assert install(answers, secrets, "--dry-run") == 0
    assert "Nothing would change." in capsys.readouterr().out


def test_failover_moves_the_vip_and_requests_keep_succeeding(fresh: Lab) -> None:
    assert fresh.vip_holder() == "lb01"
    failures = successes = 0
    with fresh.connect("lb01") as lb01:
        lb01.run("systemctl stop keepalived", hide=True)
        stopped = time.monotonic()
        moved_after = None
        while time.monotonic() - stopped < 8:
            if moved_after is None and fresh.vip_holder() == "lb02":
                moved_after = time.monotonic() - stopped
            try:
                status, body = http_get(fresh.vip, "/api/systeminfo", https=False, timeout=1)
                successes += status == 200 and "registry_url" in body
            except OSError:
                failures += 1
            time.sleep(0.1)
        lb01.run("systemctl start keepalived", hide=True)
    assert moved_after is not None
    assert moved_after < 5
    assert successes > 30
    assert failures <= 5
    fresh.wait_vip_holder("lb01", timeout=10)  # the higher priority takes it back


def test_a_node_whose_sshd_stops_mid_run_fails_by_name_and_a_rerun_completes(
    fresh: Lab, deployment: tuple[Path, Path]
) -> None:
    answers, secrets = deployment
    reset(fresh)
    inputs = load_inputs(answers, secrets)
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, PhaseStarted) and event.phase == "harbor nodes":
            kill_ssh(fresh, "harbor02")  # its open connection too

    try:
        result = Runner(build_plan(inputs), inputs, sink).run()
    finally:
        fresh["harbor02"].start_sshd()
    assert not result.ok
    finished = [e for e in events if isinstance(e, StepFinished) and e.phase == "harbor nodes"]
    failed = [e for e in finished if e.outcome is Outcome.FAILED]
    assert [(e.host, e.step) for e in failed] == [("harbor02", "guard:secretkey")]  # its first
    assert f"harbor02 ({fresh['harbor02'].ip}:22): cannot connect over SSH" in failed[0].message
    others = [e for e in finished if e.host != "harbor02"]
    assert others
    assert all(e.outcome in (Outcome.PASSED, Outcome.CHANGED, Outcome.CANCELLED) for e in others)
    assert any(e.outcome is not Outcome.CANCELLED for e in others)  # finished their step
    assert "harbor02" in result.message
    assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0


def test_lvs_dr_mode(fresh: Lab, deployment: tuple[Path, Path]) -> None:
    """LVS-DR as far as the lab can run it: it has no IPVS, so the preflight (which refuses
    lvs-dr without IPVS, correctly) and the request through the VIP are left out."""
    answers, secrets = deployment
    reset(fresh)
    lvs = answers.with_name("lvs.yaml")
    lvs.write_text(answers.read_text().replace("mode: haproxy", "mode: lvs-dr"))
    inputs = load_inputs(lvs, secrets)
    full = build_plan(inputs)
    plan = Plan(
        full.deployment,
        tuple(
            phase.__class__(phase.name, tuple(
                host.__class__(host.host, host.address, tuple(
                    s for s in host.steps if s.step_id != "verify:vip"))
                for host in phase.hosts))
            for phase in full.phases if phase.name != "preflight"
        ),
    )  # fmt: skip
    redirect = f"-d {fresh.vip}/32 -p tcp -m tcp --dport 80 -j REDIRECT"
    rebooted, legacy = fresh.harbor_nodes[0], fresh.harbor_nodes[-1]

    def exactly_once() -> None:
        for node in fresh.harbor_nodes:
            nat = node.run("iptables -t nat -S").stdout
            assert nat.count(redirect) == 1, (node.name, nat)
            assert nat.count("-A PREROUTING -j HARBOR-WIZARD-VIP") == 1, (node.name, nat)

    def run() -> dict[tuple[str, str], Outcome]:
        result = Runner(plan, inputs, lambda event: None, RunOptions()).run()
        assert result.ok, result.message
        return result.outcomes

    run()
    # An older harbor-wizard added its rule straight to PREROUTING: the next run moves it.
    legacy.run(f"iptables -w -t nat -A PREROUTING -p tcp -d {fresh.vip}/32 --dport 80 -j REDIRECT")
    old_list = "/etc/harbor-wizard/vip-redirect.rules"  # where that version listed them
    legacy.run(f"mkdir -p /etc/harbor-wizard && echo '# rules' > {old_list}")
    outcome = run()
    assert not legacy.path(old_list).exists()
    assert outcome[(legacy.name, "iptables:vip-redirect")] is Outcome.CHANGED
    assert outcome[(rebooted.name, "iptables:vip-redirect")] is Outcome.UNCHANGED
    exactly_once()
    for lb in fresh.lbs:
        test = lb.run("keepalived -t -f /etc/keepalived/keepalived.conf", check=False)
        assert test.returncode == 0, test.stderr
        assert "virtual_server" in lb.path("/etc/keepalived/keepalived.conf").read_text()
    assert fresh.vip_holder() == "lb01"

    # A reboot empties the nat table; the boot unit puts the rules back, once.
    rebooted.reboot()
    exactly_once()
    outcome = run()  # nothing to do, and verification finds the rules kept at boot
    assert outcome[(rebooted.name, "iptables:vip-redirect")] is Outcome.UNCHANGED
    assert outcome[(rebooted.name, "verify:vip-redirect")] is Outcome.PASSED

    # Rules lost behind the wizard's back (a firewall reload): verification says so.
    rebooted.run("iptables -w -t nat -F HARBOR-WIZARD-VIP")
    verify = Plan(plan.deployment, tuple(p for p in plan.phases if p.name == "verification"))
    events: list[Event] = []
    assert not Runner(verify, inputs, events.append, RunOptions()).run().ok
    [failed] = [e for e in events if isinstance(e, StepFinished) and e.outcome is Outcome.FAILED]
    assert failed.message.startswith(f"{rebooted.name}: the VIP's traffic may not reach Harbor")
    assert "REDIRECT for port 80 missing" in failed.message
    run()
    exactly_once()

    # A unit disabled by hand: the next run enables it again (it would not run at boot).
    rebooted.run("systemctl disable harbor-wizard-vip-redirect")
    outcome = run()
    assert outcome[(rebooted.name, "service:harbor-wizard-vip-redirect")] is Outcome.CHANGED
    assert rebooted.run("systemctl is-enabled harbor-wizard-vip-redirect").stdout == "enabled\n"
