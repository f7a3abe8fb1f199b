"""A service host that goes silent (every packet dropped both ways: power loss, a partition)
is named within 30 s by the checks and the schema step, never waited on for ever.

Each test partitions one lab host (tests/lab/hosts.py `partition`) and heals it in a
finally. Silent before the connection: the connect timeout answers; silent after the
login: the read timeout (MariaDB, Redis) or the kernel's TCP_USER_TIMEOUT and keepalives
(PostgreSQL, whose client has no read timeout) do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import psycopg
import pymysql
import pytest
import redis as redis_client
from pydantic import SecretStr

from harbor_wizard.answers.model import ClairDatabase, Database
from harbor_wizard.checks import CheckOptions, Status, mariadb, postgres, redis, run_all
from harbor_wizard.profiles.harbor_1_4 import PROFILE
from harbor_wizard.steps import database as schema_step
from harbor_wizard.steps.base import StepContext, StepFailed
from harbor_wizard.steps.database import LoadSchema
from tests.lab import Lab
from tests.support.lab_answers import lab_answers, lab_secrets

pytestmark = pytest.mark.lab

SCHEMA = PROFILE.installer.schema

BOUND = 30.0
SILENT = "no answer for 5 s (host down or its packets dropped)"


@contextmanager
def silent(lab: Lab, *names: str) -> Iterator[None]:
    for name in names:
        lab[name].partition()
    try:
        yield
    finally:
        for name in names:
            lab[name].heal()


def timed(call: Callable[[], object]) -> tuple[object, float]:
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def db(lab: Lab) -> Database:
    return Database(host=lab.mariadb.ip, port=lab.mariadb.port, user="root")  # type: ignore[arg-type]


def clair(lab: Lab) -> ClairDatabase:
    return ClairDatabase(
        host=lab.postgres.ip, port=lab.postgres.port, user="postgres", database="postgres"
    )  # type: ignore[arg-type]


# --- the checks, silent from the start ------------------------------------------------------


def test_silent_mariadb_is_named(lab: Lab) -> None:
    with silent(lab, "db01"):
        results, took = timed(lambda: mariadb.check(db(lab), SecretStr(lab.mariadb.password)))
    assert took < BOUND
    assert [(r.check, r.status, r.message) for r in results] == [  # type: ignore[attr-defined]
        ("mariadb.login", Status.ERROR, f"MariaDB at {lab.mariadb.ip}:3306: {SILENT}")
    ]


def test_silent_postgres_is_named(lab: Lab) -> None:
    with silent(lab, "pg01"):
        results, took = timed(lambda: postgres.check(clair(lab), SecretStr(lab.postgres.password)))
    assert took < BOUND
    assert [(r.check, r.status, r.message) for r in results] == [  # type: ignore[attr-defined]
        ("postgres.login", Status.ERROR, f"PostgreSQL at {lab.postgres.ip}:5432: {SILENT}")
    ]


def test_silent_redis_is_named(lab: Lab) -> None:
    with silent(lab, "redis01"):
        results, took = timed(lambda: redis.check(lab.redis.endpoint))
    assert took < BOUND
    assert [(r.check, r.status, r.message) for r in results] == [  # type: ignore[attr-defined]
        ("redis.ping", Status.ERROR, f"Redis at {lab.redis.endpoint}: {SILENT}")
    ]


def test_run_all_names_every_silent_service(lab: Lab) -> None:
    """The preflight's way: all checks at once; the three services are errors naming their
    hosts, their HA probes say why they cannot tell, the rest of the lab is fine."""
    answers = lab_answers(lab)
    with silent(lab, "db01", "pg01", "redis01"):
        results, took = timed(
            lambda: run_all(answers, lab_secrets(lab), lab.dir, CheckOptions(timeout=5.0))
        )
    assert took < BOUND
    errors = {r.check: r.message for r in results if r.status is Status.ERROR}  # type: ignore[attr-defined]
    assert errors == {
        "mariadb.login": f"MariaDB at {lab.mariadb.ip}:3306: {SILENT}",
        "postgres.login": f"PostgreSQL at {lab.postgres.ip}:5432: {SILENT}",
        "redis.ping": f"Redis at {lab.redis.endpoint}: {SILENT}",
    }
    ha = {r.check: r.message for r in results if r.check.endswith(".ha")}  # type: ignore[attr-defined]
    for check in ("mariadb.ha", "postgres.ha", "redis.ha"):
        assert ha[check].endswith(f"cannot tell whether it is highly available: {SILENT}")


# --- silent after the login ------------------------------------------------------------------


def test_mariadb_silent_after_login(lab: Lab) -> None:
    conn = mariadb.connect(db(lab), SecretStr(lab.mariadb.password), 5.0)
    with conn, conn.cursor() as cursor, silent(lab, "db01"):
        start = time.monotonic()
        with pytest.raises(pymysql.MySQLError) as failed:
            cursor.execute("SELECT 1")
        took = time.monotonic() - start
    assert took < BOUND
    assert mariadb.failure(failed.value, 5.0) == SILENT


def test_postgres_silent_after_login(lab: Lab) -> None:
    """libpq has no read timeout: TCP_USER_TIMEOUT ends the wait."""
    conn = postgres.connect(clair(lab), SecretStr(lab.postgres.password), 5.0)
    with conn, silent(lab, "pg01"):
        start = time.monotonic()
        with pytest.raises(psycopg.OperationalError) as failed:
            conn.execute("SELECT 1")
        took = time.monotonic() - start
    assert took < BOUND
    assert postgres.failure(failed.value, 5.0) == SILENT


def test_redis_silent_after_login(lab: Lab) -> None:
    client = redis.connect(lab.redis.endpoint, None, 5.0)
    assert client.ping()
    try:
        with silent(lab, "redis01"):
            start = time.monotonic()
            with pytest.raises(redis_client.TimeoutError):
                client.ping()
            took = time.monotonic() - start
    finally:
        client.close()
    assert took < 2 * 5.0  # one try, no retries that multiply the wait


# --- the schema step --------------------------------------------------------------------------


def context(lab: Lab, lines: list[str] | None = None) -> StepContext:
    inputs = SimpleNamespace(
        answers=SimpleNamespace(database=db(lab)),
        secrets={"database.password": SecretStr(lab.mariadb.password)},
    )
    emit = lines.append if lines is not None else (lambda line: None)
    return StepContext("database", inputs, emit_line=emit)  # type: ignore[arg-type]


@pytest.fixture
def empty_db(lab: Lab) -> Iterator[None]:
    def clean() -> None:
        conn = mariadb.connect(db(lab), SecretStr(lab.mariadb.password), 30)
        with conn, conn.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS registry")
            cursor.execute("DROP DATABASE IF EXISTS harbor_wizard")

    clean()
    try:
        yield
    finally:
        clean()


def test_schema_step_against_a_silent_db(lab: Lab, empty_db: None) -> None:
    step = LoadSchema(lab.installer, SCHEMA)
    with silent(lab, "db01"):
        start = time.monotonic()
        with pytest.raises(StepFailed) as failed:
            step.inspect(context(lab))
        took = time.monotonic() - start
    assert took < BOUND
    assert str(failed.value) == (
        f"MariaDB at {lab.mariadb.ip}:3306: no answer for 20 s (host down or its packets dropped)"
    )


def test_schema_step_db_silent_mid_load_then_back(
    lab: Lab, empty_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DB goes silent once the lock is taken: the step fails within 30 s naming it,
    its lock row stays behind (nobody could delete it); after the heal a re-run of this
    process takes that row over and loads the schema."""
    step = LoadSchema(lab.installer, SCHEMA)
    ctx = context(lab)
    change = step.inspect(ctx)
    assert change is not None
    acquire = schema_step.SchemaLock.acquire

    def acquire_then_cut(lock: schema_step.SchemaLock, *args: object) -> None:
        acquire(lock, *args)  # type: ignore[arg-type]
        lab["db01"].partition()

    monkeypatch.setattr(schema_step.SchemaLock, "acquire", acquire_then_cut)
    start = time.monotonic()
    try:
        with pytest.raises(StepFailed) as failed:
            step.apply(ctx, change)
        took = time.monotonic() - start
    finally:
        lab["db01"].heal()
    monkeypatch.undo()
    assert took < BOUND
    assert f"MariaDB at {lab.mariadb.ip}:3306: no answer for 20 s" in str(failed.value)
    lines: list[str] = []
    retry = context(lab, lines)
    change = step.inspect(retry)
    assert change is not None
    assert step.apply(retry, change) == "loaded Harbor schema 1.4.0 (17 tables)"
    assert len(lines) == 1
    assert lines[0].startswith("took over the schema lock of ")
    assert lines[0].endswith(": an earlier attempt of this process")
