"""The schema lock on the cluster the tool recommends (a Galera cluster) and on a plain server.

Galera runs in the lab: two MariaDB nodes on db01 (tests/lab/services.py `Galera`), node 1
the bootstrapped one-node cluster, node 2 joined by SST. MariaDB 10.11.19 (Debian 12)
accepts GET_LOCK on a Galera node again (the refusal of MDEV-30473, error 1235, shipped
in 10.4.29/10.5.20/10.6.13/10.11.3 and was reverted in the next releases), but the lock
stays on the node that granted it: two runs that reach two nodes both get it. Both
failures are shown here: the node-local lock for real, the refusal by a server stand-in
that answers GET_LOCK with error 1235 as those releases did.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pymysql
import pytest
from pydantic import SecretStr

from harbor_wizard.answers.model import Database
from harbor_wizard.checks import Status, ha
from harbor_wizard.profiles.harbor_1_4 import PROFILE
from harbor_wizard.steps import database as schema_step
from harbor_wizard.steps.base import StepContext, StepFailed
from harbor_wizard.steps.database import LOCK_TABLE, LoadSchema, SchemaLock
from tests.lab import Lab
from tests.lab.services import Galera

pytestmark = pytest.mark.lab

SCHEMA = PROFILE.installer.schema


@pytest.fixture(scope="module")
def galera(lab: Lab) -> Iterator[Galera]:
    cluster = Galera(lab["db01"], lab.mariadb.password)
    try:
        cluster.setup()
        yield cluster
    finally:
        cluster.stop()


def server(lab: Lab, port: int = 3306) -> Database:
    return Database(host=lab.mariadb.ip, port=port, user="root")  # type: ignore[arg-type]


def sql(lab: Lab, database: Database) -> pymysql.Connection:
    """A root session; on a Galera node its reads wait until the node has applied what
    the cluster committed before (wsrep_sync_wait), so they see the other node's work."""
    return pymysql.connect(
        host=str(database.host), port=database.port, user="root",
        password=lab.mariadb.password, autocommit=True, read_timeout=30,
        init_command="SET SESSION wsrep_sync_wait = 1",
    )  # fmt: skip


def scalar(lab: Lab, database: Database, query: str) -> Any:
    with sql(lab, database) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        row = cursor.fetchone()
        return row[0] if row else None


def registry_tables(lab: Lab, database: Database) -> int:
    return int(
        scalar(
            lab, database,
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'registry'",
        )
    )  # fmt: skip


@pytest.fixture
def servers(
    lab: Lab, galera: Galera, request: pytest.FixtureRequest
) -> Iterator[tuple[Database, Database]]:
    """Two ways to one Harbor DB: the plain server twice, or the two Galera nodes; both
    empty before and after the test."""
    if request.param == "plain":
        pair = (server(lab), server(lab))
    else:
        pair = (server(lab, galera.nodes[0].port), server(lab, galera.nodes[1].port))

    def clean() -> None:
        with sql(lab, pair[0]) as conn, conn.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS registry")
            cursor.execute("DROP DATABASE IF EXISTS harbor_wizard")

    clean()
    try:
        yield pair
    finally:
        clean()


both = pytest.mark.parametrize("servers", ["plain", "galera"], indirect=True)


def context(lab: Lab, database: Database, lines: list[str] | None = None) -> StepContext:
    inputs = SimpleNamespace(
        answers=SimpleNamespace(database=database),
        secrets={"database.password": SecretStr(lab.mariadb.password)},
    )
    emit = lines.append if lines is not None else (lambda line: None)
    return StepContext("database", inputs, emit_line=emit)  # type: ignore[arg-type]


def run_step(
    lab: Lab, database: Database, lock_wait: float = 60, lines: list[str] | None = None
) -> str:
    step = LoadSchema(lab.installer, SCHEMA, lock_wait=lock_wait)
    ctx = context(lab, database, lines)
    change = step.inspect(ctx)
    return "kept" if change is None else step.apply(ctx, change)


def lock_rows(lab: Lab, database: Database) -> int:
    return int(scalar(lab, database, f"SELECT COUNT(*) FROM {LOCK_TABLE}"))


# --- the cluster and what fails today ----------------------------------------------------


def test_the_lab_runs_a_galera_cluster(lab: Lab, galera: Galera) -> None:
    node = server(lab, galera.nodes[0].port)
    assert scalar(lab, node, "SELECT @@wsrep_on") == 1
    result = ha.mariadb_ha(node, SecretStr(lab.mariadb.password))[0]
    assert result.status is Status.OK
    assert "is in a Galera cluster of 2 nodes" in result.message


def test_get_lock_does_not_guard_a_galera_cluster(lab: Lab, galera: Galera) -> None:
    """What the schema step relied on: on a Galera node GET_LOCK is either refused
    (MDEV-30473 releases) or held by one node only, so a run on another node gets it too."""
    first, second = (server(lab, node.port) for node in galera.nodes)
    with sql(lab, first) as a, a.cursor() as on_a, sql(lab, second) as b, b.cursor() as on_b:
        on_a.execute("SELECT GET_LOCK('harbor-wizard-schema', 0)")
        assert on_a.fetchone() == (1,)
        refused = None
        try:
            on_b.execute("SELECT GET_LOCK('harbor-wizard-schema', 0)")
        except pymysql.err.OperationalError as exc:
            refused = exc.args[0]
        if refused is None:
            assert on_b.fetchone() == (1,)  # granted twice: no lock across the cluster
        else:
            assert refused == 1235  # refused outright


class _RefusesGetLock:
    """A connection to a MariaDB of the MDEV-30473 releases on a Galera node: GET_LOCK
    and RELEASE_LOCK end in error 1235, as 10.11.3 answered them."""

    def __init__(self, conn: pymysql.Connection) -> None:
        self._conn = conn

    def cursor(self) -> Any:
        real = self._conn.cursor()

        class Cursor:
            def execute(self, query: str, args: object = None) -> int:
                if "GET_LOCK" in query.upper() or "RELEASE_LOCK" in query.upper():
                    raise pymysql.err.OperationalError(
                        1235,
                        "This version of MariaDB doesn't yet support 'GET_LOCK in cluster "
                        "(WSREP_ON=ON)'",
                    )
                return real.execute(query, args)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def __enter__(self) -> Any:
                return self

            def __exit__(self, *exc: object) -> None:
                real.close()

        return Cursor()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


@pytest.mark.parametrize("servers", ["galera"], indirect=True)
def test_schema_loads_where_get_lock_is_refused(
    lab: Lab, servers: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = schema_step.connect
    monkeypatch.setattr(schema_step, "connect", lambda *a: _RefusesGetLock(real(*a)))
    assert run_step(lab, servers[0]) == "loaded Harbor schema 1.4.0 (17 tables)"


# --- the lock on both kinds of server -------------------------------------------------------


@both
def test_schema_loads(lab: Lab, servers: tuple[Database, Database]) -> None:
    first, other = servers
    assert run_step(lab, first) == "loaded Harbor schema 1.4.0 (17 tables)"
    assert registry_tables(lab, other) == 17  # on the other node too
    assert lock_rows(lab, other) == 0  # released
    assert run_step(lab, other) == "kept"


@pytest.mark.parametrize("servers", ["galera"], indirect=True)
def test_schema_loads_through_any_galera_node(lab: Lab, servers: tuple[Database, Database]) -> None:
    """Node 2 numbers new rows 2, 4, 6... (Galera's auto-increment control); the seed rows
    of registry.sql must still get the ids Harbor knows them by."""
    first, second = servers
    assert scalar(lab, second, "SELECT @@auto_increment_offset") == 2
    assert run_step(lab, second) == "loaded Harbor schema 1.4.0 (17 tables)"
    assert scalar(lab, first, "SELECT user_id FROM registry.user WHERE username = 'admin'") == 1
    assert (
        scalar(lab, first, "SELECT GROUP_CONCAT(role_id ORDER BY role_id) FROM registry.role")
        == "1,2,3"
    )
    assert scalar(lab, first, "SELECT owner_id FROM registry.project WHERE name = 'library'") == 1


@both
def test_concurrent_runs_load_once(lab: Lab, servers: tuple[Database, Database]) -> None:
    """Two runs that both saw an empty database, one on each node: one loads, the other
    waits for it and keeps what it loaded (with GET_LOCK on Galera both loaded, and the
    second failed half-way)."""
    steps = [LoadSchema(lab.installer, SCHEMA, lock_wait=60) for _ in servers]
    contexts = [context(lab, database) for database in servers]
    changes = [step.inspect(ctx) for step, ctx in zip(steps, contexts, strict=True)]
    assert all(change is not None for change in changes)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes.append(steps[i].apply(contexts[i], changes[i]))  # type: ignore[arg-type]
        except Exception as exc:
            outcomes.append(f"failed: {exc!r}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(outcomes) == [
        "Harbor schema 1.4.0 was loaded meanwhile; kept",
        "loaded Harbor schema 1.4.0 (17 tables)",
    ]
    assert registry_tables(lab, servers[1]) == 17
    assert lock_rows(lab, servers[0]) == 0


@both
def test_a_held_lock_makes_another_run_wait_then_refuse(
    lab: Lab, servers: tuple[Database, Database]
) -> None:
    holder_side, other = servers
    with sql(lab, holder_side) as conn, conn.cursor() as cursor:
        held = SchemaLock(cursor, "holder")
        held.acquire()
        lines: list[str] = []
        start = time.monotonic()
        with pytest.raises(StepFailed) as failed:
            run_step(lab, other, lock_wait=3, lines=lines)
        took = time.monotonic() - start
        held.release()
    message = str(failed.value)
    assert f"MariaDB at {other.host}:{other.port}: another run holds the schema lock" in message
    assert held.holder in message
    assert 3 <= took < 10
    assert lines == [f"waiting up to 3 s for the schema lock held by {held.holder}"]
    assert scalar(lab, other, "SHOW DATABASES LIKE 'registry'") is None  # nothing loaded


@both
def test_a_waiting_run_goes_on_when_the_holder_finishes(
    lab: Lab, servers: tuple[Database, Database]
) -> None:
    holder_side, other = servers
    with sql(lab, holder_side) as conn, conn.cursor() as cursor:
        held = SchemaLock(cursor, "holder")
        held.acquire()
        release = threading.Timer(2.0, held.release)
        start = time.monotonic()
        release.start()
        try:
            outcome = run_step(lab, other, lock_wait=30)
        finally:
            release.join()
    assert outcome == "loaded Harbor schema 1.4.0 (17 tables)"
    assert time.monotonic() - start >= 2.0


def _plant(lab: Lab, database: Database, machine: str, pid: int, silent_for: int) -> None:
    """A lock row as a run that is gone would leave it."""
    with sql(lab, database) as conn, conn.cursor() as cursor:
        SchemaLock(cursor, "setup").acquire()  # creates the table; then replace the row
        cursor.execute(
            f"UPDATE {LOCK_TABLE} SET token = 'feedfeedfeedfeed', holder = %s, machine = %s,"
            " pid = %s, beat = UNIX_TIMESTAMP() - %s",
            (f"root@{machine} pid {pid}", machine, pid, silent_for),
        )


@both
def test_a_lock_of_a_process_that_is_gone_is_taken_over(
    lab: Lab, servers: tuple[Database, Database]
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    _plant(lab, servers[0], socket.gethostname(), gone.pid, 0)
    lines: list[str] = []
    start = time.monotonic()
    assert run_step(lab, servers[1], lines=lines) == "loaded Harbor schema 1.4.0 (17 tables)"
    assert time.monotonic() - start < 10
    assert lines[-1].endswith(f"its process {gone.pid} no longer exists on this machine")
    assert lock_rows(lab, servers[0]) == 0


@both
def test_a_silent_holder_on_another_machine_is_taken_over(
    lab: Lab, servers: tuple[Database, Database]
) -> None:
    _plant(lab, servers[0], "elsewhere", os.getpid(), schema_step.LOCK_STALE + 5)
    lines: list[str] = []
    assert run_step(lab, servers[1], lines=lines) == "loaded Harbor schema 1.4.0 (17 tables)"
    assert "took over the schema lock of root@elsewhere" in lines[-1]
    assert "no sign of life for" in lines[-1]


@pytest.mark.parametrize("servers", ["plain"], indirect=True)
def test_a_live_holder_on_another_machine_is_not_taken_over(
    lab: Lab, servers: tuple[Database, Database]
) -> None:
    _plant(lab, servers[0], "elsewhere", os.getpid(), 5)
    with pytest.raises(StepFailed, match="root@elsewhere pid"):
        run_step(lab, servers[1], lock_wait=1)
