"""Harbor 2.15 in HA on the lab, unattended: 2 LBs (HAProxy), 3 nodes, the lab's PostgreSQL
as Harbor's database (user `harbor`, which may create databases and owns none) and its Redis
with a password; the stand-in 2.15.2 installer, whose prepare regenerates CSRF_KEY.

The tests run in order on the session lab, reset before and after the module.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from harbor_wizard.cli import main
from harbor_wizard.inputs import load_inputs
from tests.install.conftest import install
from tests.lab import Lab
from tests.support.lab_answers import https_lab_files

pytestmark = pytest.mark.lab

CORE_ENV = "/opt/harbor/common/config/core/env"
SHARED = (
    "/opt/harbor/harbor.yml",
    "/data/secret/keys/secretkey",
    "/data/secret/core/private_key.pem",
    "/data/secret/registry/root.crt",
)


@pytest.fixture
def deployment(fresh: Lab, folder: Path) -> tuple[Path, Path]:
    answers, secrets = folder / "answers.yaml", folder / "secrets.yaml"
    if not answers.exists():
        fresh.write_answers(folder, release="2.15")
    return answers, secrets


def last_log(state: Path) -> list[dict[str, object]]:
    log = sorted((state / "lab" / "logs").glob("*.jsonl"))[-1]
    return [json.loads(line) for line in log.read_text().splitlines()]


def outcomes(state: Path) -> dict[tuple[str, str], str]:
    return {
        (str(e["host"]), str(e["step"])): str(e["outcome"])
        for e in last_log(state)
        if e["event"] == "StepFinished"
    }


def install_message(state: Path, host: str) -> str:
    """What the last run's install.sh step said on `host`."""
    return next(
        str(e["message"])
        for e in last_log(state)
        if e["event"] == "StepFinished" and e["host"] == host and e["step"] == "install.sh"
    )


def sha256_on(lab: Lab, host: str, path: str) -> str:
    return lab[host].run(f"sha256sum {path} | cut -d' ' -f1").stdout.strip()


def csrf_key(lab: Lab, host: str) -> str:
    line = lab[host].run(f"grep '^CSRF_KEY=' {CORE_ENV}").stdout.strip()
    return line.removeprefix("CSRF_KEY=")


def vip_get(lab: Lab, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(lab.vip, 80, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_bad_2x_answers_are_refused_with_the_field_named(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    yaml = YAML()
    cases = {
        "harbor.with_clair": lambda d: d["harbor"].update(with_clair=True),
        "database.engine": lambda d: d["database"].update(engine="mariadb", port=3306),
        "redis.sentinel_master_set": lambda d: d["redis"].update(
            endpoints=[f"{fresh.redis.ip}:26379", f"{fresh.redis.ip}:26380"]
        ),
        "clair_database": lambda d: d.update(
            clair_database={"host": fresh.postgres.ip, "password": "<secret>"}
        ),
    }
    for field, change in cases.items():
        data = yaml.load(answers.read_text())
        change(data)
        bad = answers.with_name("bad.yaml")
        with bad.open("w") as out:
            yaml.dump(data, out)
        assert install(bad, secrets, "--dry-run") == 2, field
        err = capsys.readouterr().err
        assert "bad.yaml:" in err, (field, err)
        assert f" {field}: " in err, (field, err)
        assert "Traceback" not in err


def test_fresh_2x_install_serves_through_the_vip_with_shared_files(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    assert install(answers, secrets) == 0
    out = capsys.readouterr().out
    assert "/data/job_logs" not in out  # in the database: nothing to share on disk
    assert "has no streaming replica" in out  # Harbor's PostgreSQL, asked before it exists
    state = answers.parent / "state"
    done = outcomes(state)
    assert done[("database", "harbor-database")] == "changed"
    assert all(o != "failed" for o in done.values())
    nodes = [node.name for node in fresh.harbor_nodes]
    status, _, body = vip_get(fresh, "/api/v2.0/systeminfo")
    assert status == 200
    assert "auth_mode" in json.loads(body)
    for path in SHARED:
        digests = {sha256_on(fresh, node, path) for node in nodes}
        assert len(digests) == 1, path
        assert "" not in digests, path
    inputs = load_inputs(answers, secrets)
    assert inputs.artefacts.csrf_key is not None
    keys = {csrf_key(fresh, node) for node in nodes}
    assert keys == {inputs.artefacts.csrf_key}
    # The running cores were recreated with it: every node's answers carry its digest.
    want = hashlib.sha256(inputs.artefacts.csrf_key.encode()).hexdigest()
    for node in nodes:
        conn = http.client.HTTPConnection(fresh[node].ip, 80, timeout=5)
        conn.request("GET", "/api/v2.0/systeminfo")
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.getheader("X-Standin-Csrf-Key-Sha256") == want, node


def test_a_rerun_changes_nothing_and_the_audit_agrees(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    assert install(answers, secrets) == 0
    changed = {k: v for k, v in outcomes(answers.parent / "state").items() if v == "changed"}
    assert changed == {}
    capsys.readouterr()
    assert main(["audit", "--answers", str(answers), "--secrets", str(secrets)]) == 0
    out = capsys.readouterr().out
    assert f"{CORE_ENV} CSRF_KEY: identical on" in out


def test_status_sees_harbor_s_migrated_postgresql_and_its_redis(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The cores migrated the database on their start (the stand-in does what core's
    golang-migrate does, as the user `harbor`): status finds Harbor's schema there."""
    answers, secrets = deployment
    deadline = time.monotonic() + 20  # HAProxy counts a node up after two health checks
    while True:
        capsys.readouterr()
        main(["status", "--answers", str(answers), "--secrets", str(secrets), "--json"])
        report = json.loads(capsys.readouterr().out)
        states = {n["name"]: n["state"] for n in report["nodes"]}
        if set(states.values()) == {"ok"} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert set(states.values()) == {"ok"}, report["nodes"]
    services = {s["name"]: s for s in report["services"]}
    assert services["Harbor DB"]["problem"] is None, services
    assert services["Redis"]["problem"] is None, services
    assert "Clair DB" not in services


def test_a_node_whose_prepare_made_its_own_csrf_key_is_put_right_without_reinstall(
    fresh: Lab, deployment: tuple[Path, Path]
) -> None:
    """What an operator's own `./prepare` (or install.sh) on one node leaves: a random key,
    so that node's UI refuses the others' CSRF tokens. A re-run sets the line and recreates
    only core; install.sh does not run again."""
    answers, secrets = deployment
    node = fresh.harbor_nodes[1].name
    fresh[node].run(
        f"sed -i 's/^CSRF_KEY=.*/CSRF_KEY=0123456789abcdef0123456789abcdef/' {CORE_ENV}"
    )
    assert install(answers, secrets) == 0
    done = outcomes(answers.parent / "state")
    assert done[(node, "install.sh")] == "changed"
    assert [k for k, v in done.items() if v == "changed"] == [(node, "install.sh")]
    summary = install_message(answers.parent / "state", node)
    assert "CSRF_KEY" in summary
    assert "recreated" in summary
    assert csrf_key(fresh, node) == load_inputs(answers, secrets).artefacts.csrf_key
    deadline = time.monotonic() + 30
    while vip_get(fresh, "/api/v2.0/systeminfo")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert vip_get(fresh, "/api/v2.0/systeminfo")[0] == 200


def test_a_csrf_key_written_but_never_started_is_started_on_the_next_run(
    fresh: Lab, deployment: tuple[Path, Path]
) -> None:
    """A run stopped between writing the line and compose's `up`: the file is right, the
    running core is not. The mark of what compose started with tells; the re-run finishes."""
    answers, secrets = deployment
    node = fresh.harbor_nodes[0].name
    fresh[node].run("rm /opt/harbor/.harbor-wizard-shared")
    assert install(answers, secrets) == 0
    done = outcomes(answers.parent / "state")
    assert [k for k, v in done.items() if v == "changed"] == [(node, "install.sh")]
    assert "not recreated with it since" in install_message(answers.parent / "state", node)
    assert install(answers, secrets) == 0
    assert [k for k, v in outcomes(answers.parent / "state").items() if v == "changed"] == []


def test_a_node_holding_1_4_s_secretkey_is_refused_before_anything_changes(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """2.x's prepare moves 1.4's /data/secretkey over the shared one: that node would hold a
    key of its own. The preflight names the file; nothing is installed."""
    answers, secrets = deployment
    node = fresh.harbor_nodes[2].name
    fresh[node].run("printf 1.4-secretkey-xx > /data/secretkey")
    try:
        assert install(answers, secrets) == 1
    finally:
        fresh[node].run("rm -f /data/secretkey")
    out = capsys.readouterr().out
    assert f"{node}: /data/secretkey is left from an older Harbor" in out
    assert "phase 'preflight' failed" in out


def test_https_with_a_chain_as_cas_issue_it(
    fresh: Lab, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same deployment moved to https (root -> intermediate -> leaf): nginx's copy in
    /data/secret/cert is the chain the wizard put in /data/cert, the VIP serves TLS on 443
    and redirects 80 the way 2.x's nginx does."""
    answers, secrets = https_lab_files(fresh, folder / "https", fresh.vip, release="2.15")
    yaml = YAML()
    installed = yaml.load((folder / "secrets.yaml").read_text())
    values = yaml.load(secrets.read_text())
    values.update({k: v for k, v in installed.items() if k.startswith("generated.")})
    with secrets.open("w") as out:  # the deployment installed above: its nodes hold these
        yaml.dump(values, out)
    assert install(answers, secrets) == 0
    nodes = [node.name for node in fresh.harbor_nodes]
    for node in nodes:
        assert sha256_on(fresh, node, "/data/cert/server.crt") == sha256_on(
            fresh, node, "/data/secret/cert/server.crt"
        )
    context = ssl.create_default_context(cafile=str(folder / "https" / "ca.crt"))
    conn = http.client.HTTPSConnection(fresh.vip, 443, timeout=5, context=context)
    conn.request("GET", "/api/v2.0/systeminfo")
    assert conn.getresponse().status == 200
    conn.close()
    status, headers, _ = vip_get(fresh, "/api/v2.0/systeminfo")
    assert status in (301, 308)
    assert headers["Location"].startswith(f"https://{fresh.vip}")
    assert install(answers, secrets) == 0
    changed = {k: v for k, v in outcomes(folder / "state").items() if v == "changed"}
    assert changed == {}
