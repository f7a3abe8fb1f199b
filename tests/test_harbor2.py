"""Harbor 2.15 without hosts: the answers its rules take and refuse, the harbor.yml it
renders (read back the way prepare reads it), the files every node shares, and the plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from ruamel.yaml import YAML

from harbor_wizard.answers import InvalidInput, answers_schema
from harbor_wizard.checks import ha
from harbor_wizard.checks.result import Status
from harbor_wizard.cli import main
from harbor_wizard.inputs import Inputs, load_inputs
from harbor_wizard.plan import build_plan
from harbor_wizard.profiles import DatabasePhase, profile_for
from harbor_wizard.redact import MASK
from harbor_wizard.render import RenderedFile
from harbor_wizard.secrets import value_problem
from harbor_wizard.steps.harbor import RunInstall, with_setting
from harbor_wizard.steps.harbor_db import PrepareHarborDatabase
from tests.support.deployment import (
    ANSWERS,
    ANSWERS_2X,
    SECRETS,
    SECRETS_2X,
    https,
    render_args,
    write_deployment,
)
from tests.support.tlsfiles import write_tls

NODES = ("harbor01", "harbor02", "harbor03")


def load(folder: Path, text: str = ANSWERS_2X, secrets: dict[str, str] | None = None) -> Inputs:
    values = SECRETS_2X if secrets is None else secrets
    answers, secrets_path = write_deployment(folder, text, values)
    return load_inputs(answers, secrets_path)


def problems(folder: Path, text: str, secrets: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        load(folder, text, secrets)
    return {p.path: p.message for p in caught.value.problems}


# --- answers -----------------------------------------------------------------------------

REFUSED = {
    "clair requested": (
        ANSWERS_2X.replace("with_trivy: true", "with_clair: true"),
        "harbor.with_clair",
        "Trivy",
    ),
    "mariadb for the harbor db": (
        ANSWERS_2X.replace("  user: harbor\n", "  engine: mariadb\n  port: 3306\n  user: root\n"),
        "database.engine",
        "PostgreSQL",
    ),
    "sentinels without a master set": (
        ANSWERS_2X.replace(
            '["198.51.100.32:6379"]', '["198.51.100.32:26379", "198.51.100.33:26379"]'
        ),
        "redis.sentinel_master_set",
        "mymaster",
    ),
    "one sentinel without a master set": (
        ANSWERS_2X.replace('["198.51.100.32:6379"]', '["198.51.100.32:26379"]'),
        "redis.sentinel_master_set",
        "Sentinel's port",
    ),
    "a clair db": (
        ANSWERS_2X + "clair_database:\n  host: 198.51.100.31\n  password: <secret>\n",
        "clair_database",
        "no Clair",
    ),
    "two components on one redis db": (
        ANSWERS_2X.replace("  password: <secret>\nstorage", "  password: <secret>\n"
                           "  trivy_db_index: 1\nstorage"),
        "redis.trivy_db_index",
        "redis.registry_db_index",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_2x_answers_are_refused_at_their_field(tmp_path: Path, case: str) -> None:
    text, field, words = REFUSED[case]
    found = problems(tmp_path, text, {**SECRETS_2X, "clair_database.password": "clairSecret8842"})
    assert field in found, found
    assert words in found[field]


REFUSED_14 = {
    "trivy on 1.4": (ANSWERS.replace("with_clair: true", "with_trivy: true"), "harbor.with_trivy"),
    "postgresql on 1.4": (
        ANSWERS.replace("  port: 3306\n", "  engine: postgresql\n  port: 3306\n"),
        "database.engine",
    ),
    "a database name on 1.4": (
        ANSWERS.replace("  port: 3306\n", "  database: harbor\n  port: 3306\n"),
        "database.database",
    ),
    "a sentinel master set on 1.4": (
        ANSWERS.replace('["198.51.100.32:6379"]\n', '["198.51.100.32:6379"]\n'
                        "  sentinel_master_set: mymaster\n"),
        "redis.sentinel_master_set",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED_14))
def test_2x_fields_are_refused_on_1_4(tmp_path: Path, case: str) -> None:
    text, field = REFUSED_14[case]
    assert field in problems(tmp_path, text, SECRETS)


def test_2x_defaults_are_postgresql_and_harbor_yml_s(tmp_path: Path) -> None:
    db = load(tmp_path).answers.database
    assert (db.engine, db.port, db.user, db.database, db.ssl_mode) == (
        "postgresql", 5432, "harbor", "registry", "disable",
    )  # fmt: skip


@pytest.mark.parametrize(
    "value", ["pa$$word-long", "pass#word-long", "'quoted-start", "back\\slash1"]
)
def test_2x_passwords_compose_would_misread_are_refused(value: str) -> None:
    problem = value_problem("database.password", value, "2.15")
    assert problem is not None
    assert "docker compose" in problem
    assert value_problem("database.password", value, "1.4") is None  # harbor.cfg takes them


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("database.password", "pg-pass word1", "connection string"),  # pgx's DSN ends there
        ("redis.password", "redis pass #2", "' #'"),  # cut at the comment in config.yml
        ("redis.password", "&anc hidden1", "'&'"),  # an anchor, not text
        ("redis.password", "p@ss: word12", "': '"),  # a mapping
        ("redis.password", "@dminRedis12", "'@'"),  # reserved
        ("harbor.admin_password", "abcd\u0085efghij", "control characters"),  # YAML's NEL
    ],
)
def test_2x_secrets_harbor_would_read_otherwise_are_refused(
    path: str, value: str, words: str
) -> None:
    problem = value_problem(path, value, "2.15")
    assert problem is not None
    assert words in problem
    assert value_problem("redis.password", "re@dis:pa/ss%20#x", "2.15") is None  # URL-quoted


def test_a_database_name_and_a_master_set_are_named_as_such(tmp_path: Path) -> None:
    found = problems(
        tmp_path, ANSWERS_2X.replace("  user: harbor\n", "  user: harbor\n  database: reg db\n")
    )
    assert "database name, e.g. registry" in found["database.database"]
    text = ANSWERS_2X.replace(
        '  endpoints: ["198.51.100.32:6379"]\n',
        '  endpoints: ["198.51.100.32:26379"]\n  sentinel_master_set: "off"\n',
    )
    assert "mymaster" in problems(tmp_path, text)["redis.sentinel_master_set"]


def test_one_bad_2x_field_brings_no_false_engine_error(tmp_path: Path) -> None:
    found = problems(
        tmp_path, ANSWERS_2X.replace("  user: harbor\n", "  user: harbor\n  ssl_mode: prefer\n")
    )
    assert "database.ssl_mode" in found
    assert "database.engine" not in found


# --- harbor.yml ----------------------------------------------------------------------------


def harbor_yml(folder: Path, text: str = ANSWERS_2X) -> tuple[dict[str, Any], list[RenderedFile]]:
    files = load(folder, text).render()
    yml = next(f for f in files if f.host == "harbor01" and f.path.name == "harbor.yml")
    return YAML(typ="safe").load(yml.content), files


def test_harbor_yml_holds_external_services_as_prepare_reads_them(tmp_path: Path) -> None:
    data, _ = harbor_yml(tmp_path)
    assert data["_version"] == "2.15.0"
    assert data["hostname"] == "registry.example.com"
    assert "https" not in data
    assert "database" not in data  # the internal DB's block: external_database wins anyway
    assert "redis" not in data  # an internal block would silently win over external_redis
    harbor = data["external_database"]["harbor"]
    assert harbor == {
        "host": "198.51.100.30", "port": 5432, "db_name": "registry", "username": "harbor",
        "password": SECRETS_2X["database.password"], "ssl_mode": "disable",
        "max_idle_conns": 2, "max_open_conns": 0,
    }  # fmt: skip
    redis = data["external_redis"]
    assert redis["host"] == "198.51.100.32:6379"
    assert redis["password"] == SECRETS_2X["redis.password"]  # exact: prepare quotes it itself
    assert (redis["registry_db_index"], redis["jobservice_db_index"], redis["trivy_db_index"]) == (
        1, 2, 5,
    )  # fmt: skip
    assert "sentinel_master_set" not in redis
    assert data["jobservice"]["job_loggers"] == ["DB"]
    assert data["harbor_admin_password"] == SECRETS_2X["harbor.admin_password"]
    assert data["storage_service"] == {"filesystem": {"maxthreads": 100}}
    assert data["cache"]["enabled"] is False
    # prepare's URL for core, built from these (utils/configs.py get_redis_url):
    url = f"redis://:{quote(redis['password'], safe='')}@{redis['host']}/1"
    assert "#" not in url.split("@")[0]


def test_harbor_yml_with_sentinels_and_https(tmp_path: Path) -> None:
    write_tls(tmp_path)
    text = https(ANSWERS_2X).replace(
        '  endpoints: ["198.51.100.32:6379"]\n',
        '  endpoints: ["198.51.100.32:26379", "198.51.100.33:26379"]\n'
        "  sentinel_master_set: mymaster\n",
    )
    data, files = harbor_yml(tmp_path, text)
    assert data["https"] == {
        "port": 443, "certificate": "/data/cert/server.crt", "private_key": "/data/cert/server.key",
    }  # fmt: skip
    assert data["external_redis"]["host"] == "198.51.100.32:26379,198.51.100.33:26379"
    assert data["external_redis"]["sentinel_master_set"] == "mymaster"
    paths = {str(f.path) for f in files if f.host == "harbor01"}
    assert {"/data/cert/server.crt", "/data/cert/server.key", "/data/ca_download/ca.crt"} <= paths


def test_every_node_holds_the_same_shared_files_owned_as_prepare_leaves_them(
    tmp_path: Path,
) -> None:
    _, files = harbor_yml(tmp_path)
    by_node = {n: {str(f.path): f for f in files if f.host == n} for n in NODES}
    shared = [str(e.path) for e in profile_for("2.15.2").files if e.shared and e.role == "node"]
    for path in shared[:4]:  # harbor.yml, secretkey, the token pair (no TLS here)
        contents = {by_node[n][path].content for n in NODES}
        assert len(contents) == 1, path
    key = by_node["harbor01"]["/data/secret/keys/secretkey"]
    assert (len(key.content), key.mode, key.owner, key.group) == (16, 0o600, "10000", "10000")
    pem = by_node["harbor01"]["/data/secret/core/private_key.pem"]
    assert (pem.owner, pem.secret) == ("10000", True)


def test_the_diff_of_harbor_yml_hides_every_password(tmp_path: Path) -> None:
    _, files = harbor_yml(tmp_path)
    yml = next(f for f in files if f.host == "harbor01" and f.path.name == "harbor.yml")
    diff = yml.diff("", "harbor01")
    for value in SECRETS_2X.values():
        assert value not in diff
    assert f"password: {MASK}" in diff


def test_render_writes_the_2x_tree(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path, ANSWERS_2X, SECRETS_2X)
    assert main(render_args(answers, secrets, tmp_path / "out")) == 0
    assert (tmp_path / "out/harbor02/opt/harbor/harbor.yml").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "out/harbor02/data/secret/keys/secretkey").read_text().isalnum()


# --- the plan --------------------------------------------------------------------------------


def test_the_2x_plan_creates_the_database_and_shares_csrf_key(tmp_path: Path) -> None:
    inputs = load(tmp_path)
    assert profile_for("2.15.2").database_phase is DatabasePhase.CREATE_DATABASE
    plan = build_plan(inputs)
    steps = {p.name: [s for h in p.hosts for s in h.steps] for p in plan.phases}
    assert [type(s) for s in steps["database"]] == [PrepareHarborDatabase]
    install = steps["install.sh: first node"][0]
    assert isinstance(install, RunInstall)
    assert install.flags == ["--with-trivy"]
    assert install.title == "./install.sh --with-trivy, then the shared CSRF_KEY"
    assert inputs.artefacts.csrf_key is not None
    assert len(inputs.artefacts.csrf_key) == 32
    assert [(s.key, v) for s, v in install.settings] == [("CSRF_KEY", inputs.artefacts.csrf_key)]
    assert inputs.artefacts.csrf_key not in plan.describe()


def test_the_csrf_line_is_replaced_in_place_and_the_rest_kept() -> None:
    env = "CONFIG_PATH=/etc/core/app.conf\nCSRF_KEY=random\nPOSTGRESQL_PASSWORD=x=y\n"
    assert with_setting(env, "CSRF_KEY", "shared") == (
        "CONFIG_PATH=/etc/core/app.conf\nCSRF_KEY=shared\nPOSTGRESQL_PASSWORD=x=y\n"
    )
    assert with_setting("A=1", "CSRF_KEY", "k").endswith("CSRF_KEY=k\n")


def test_1_4_generates_no_csrf_key(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path, ANSWERS, SECRETS)
    inputs = load_inputs(answers, secrets)
    assert inputs.artefacts.csrf_key is None
    assert "generated.csrf_key" not in secrets.read_text()


def test_harbor_s_own_postgresql_without_a_replica_is_a_single_point_of_failure() -> None:
    status, message = ha.postgres_verdict("PostgreSQL at db:5432", False, 0, harbor_db=True)
    assert status is Status.WARNING
    assert "single point of failure for every Harbor node" in message
    status, message = ha.postgres_verdict("PostgreSQL at db:5432", True, 0, harbor_db=True)
    assert status is Status.ERROR
    assert "point database.host at the primary" in message


def test_a_lone_redis_is_told_to_give_harbor_2x_its_sentinels() -> None:
    status, message = ha.redis_verdict("Redis at r:6379", "master", 0, 0, asks_sentinel=True)
    assert status is Status.WARNING
    assert "redis.sentinel_master_set" in message


def test_a_2x_plan_without_trivy_says_so(tmp_path: Path) -> None:
    inputs = load(tmp_path, ANSWERS_2X.replace("with_trivy: true", "with_trivy: false"))
    plan = build_plan(inputs)
    assert any("without a vulnerability scanner" in note for note in plan.notes)
    assert "harbor.with_trivy" in plan.describe()


def test_problems_are_listed_in_the_file_s_order(tmp_path: Path) -> None:
    """Fields' own problems and rules between fields, mixed, top to bottom (a new operator
    saw 8, 34, 40, then 29)."""
    text = (
        ANSWERS_2X.replace("with_trivy: true", "with_clair: true")
        .replace("  user: harbor\n", "  engine: mariadb\n  user: harbor\n")
        .replace('["198.51.100.32:6379"]', '["198.51.100.32:26379", "198.51.100.33:26379"]')
        .replace("vip: 198.51.100.100", "vip: 198.51.100.300")
    )
    answers, secrets = write_deployment(tmp_path, text, SECRETS_2X)
    with pytest.raises(InvalidInput) as caught:
        load_inputs(answers, secrets)
    lines = [p.line for p in caught.value.problems]
    assert len(lines) >= 4
    assert lines == sorted(lines)  # type: ignore[type-var]


def schema_errors(text: str) -> list[str]:
    """What an editor (a JSON Schema validator) says of an answers file."""
    data = json.loads(json.dumps(YAML(typ="safe").load(text)))
    validator = jsonschema.Draft202012Validator(answers_schema())
    return [e.message for e in validator.iter_errors(data)]


def test_the_schema_tells_editors_each_release_s_fields() -> None:
    assert schema_errors(ANSWERS) == []
    assert schema_errors(ANSWERS_2X) == []
    mariadb_2x = ANSWERS_2X.replace("  user: harbor\n", "  engine: mariadb\n  user: harbor\n")
    assert schema_errors(mariadb_2x) == ["'mariadb' is not one of ['postgresql']"]
    clair_2x = ANSWERS_2X + "clair_database:\n  host: 198.51.100.31\n  password: <secret>\n"
    assert schema_errors(clair_2x) != []
    redis_14 = ANSWERS.replace(
        '["198.51.100.32:6379"]\n', '["198.51.100.32:6379"]\n  password: <secret>\n'
    )
    assert schema_errors(redis_14) != []
    port = answers_schema()["allOf"][0]["then"]["properties"]["database"]["properties"]["port"]
    assert port == {"default": 5432}
