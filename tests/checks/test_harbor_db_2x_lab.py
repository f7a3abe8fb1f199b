"""Harbor 2.x's database on the lab's PostgreSQL 15 (its default rights on schema public):
login under SCRAM and md5, the database missing (created by the step, or the statement a
superuser runs), the PostgreSQL 15 trap of a database owned by postgres, another
application's tables, Harbor's own schema, a silent server. Names with quotes and spaces
throughout: every fix the checks print is run here as printed, and must work.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr

from harbor_wizard.checks import Status
from harbor_wizard.checks.harbor_db import HARBOR_MIGRATION, harbor_database_checks
from harbor_wizard.checks.result import CheckResult
from harbor_wizard.steps.base import StepContext, StepFailed
from harbor_wizard.steps.harbor_db import PrepareHarborDatabase
from tests.lab import Lab
from tests.support.tlsfiles import write_tls

pytestmark = pytest.mark.lab

PASSWORD = "Harbor-2x-pw"
USER = 'hw "harbor" user'
"""A user name with quotes and spaces: quoted as an identifier everywhere, or these fail."""
DATABASE = 'hw harbor "db"; x'
SILENT = "no answer for 5 s (host down or its packets dropped)"


def superuser(lab: Lab) -> psycopg.Connection:
    return lab.postgres.sql()


def ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


@contextmanager
def role(
    lab: Lab, name: str = USER, *, createdb: bool = False, encryption: str = "scram-sha-256"
) -> Iterator[str]:
    """A login role with PASSWORD stored under `encryption`; dropped after, with every
    database it owns and `DATABASE`."""
    with superuser(lab) as conn:
        conn.execute(sql.SQL("SET password_encryption = {}").format(sql.Literal(encryption)))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}").format(
                ident(name), sql.SQL("CREATEDB" if createdb else "NOCREATEDB"),
                sql.Literal(PASSWORD),
            )
        )  # fmt: skip
    try:
        yield name
    finally:
        with superuser(lab) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident(DATABASE)))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(ident(name)))


def run(lab: Lab, user: str = USER, password: str = PASSWORD) -> dict[str, CheckResult]:
    results = harbor_database_checks(
        lab.postgres.ip, lab.postgres.port, user, SecretStr(password), DATABASE, "disable", 5.0
    )
    found = {r.check: r for r in results}
    assert len(found) == len(results), results
    return found


def statuses(results: dict[str, CheckResult]) -> dict[str, Status]:
    return {name: r.status for name, r in results.items()}


def as_printed(message: str, before: str, after: str = "") -> str:
    """The SQL a message tells the operator to run, exactly as printed."""
    start = message.index(before) + len(before)
    end = message.index(after, start) if after else len(message)
    return message[start:end].strip()


def create_database(lab: Lab) -> None:
    """What a DBA does by habit: CREATE DATABASE as postgres, GRANT ALL to the user."""
    with superuser(lab) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident(DATABASE)))
        conn.execute(sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(ident(DATABASE), ident(USER)))


def in_database(lab: Lab, user: str = USER, password: str = PASSWORD) -> psycopg.Connection:
    return psycopg.connect(
        host=lab.postgres.ip, port=lab.postgres.port, user=user, password=password,
        dbname=DATABASE, sslmode="disable", connect_timeout=5, autocommit=True,
    )  # fmt: skip


def as_superuser_in_database(lab: Lab) -> psycopg.Connection:
    return in_database(lab, lab.postgres.user, lab.postgres.password)


# --- login -----------------------------------------------------------------------------------


def test_scram_login_under_the_distribution_defaults(lab: Lab) -> None:
    """PostgreSQL 14+'s defaults (SCRAM verifier, scram-sha-256 line): Harbor 2.x's pgx
    logs in; the database is missing and the user may create it."""
    with lab.postgres.auth("scram-sha-256"), role(lab, createdb=True):
        results = run(lab)
    login = results["harbor_db.login"]
    assert login.status is Status.OK, login
    assert login.message.startswith(
        f"PostgreSQL at {lab.postgres.ip}:5432: user '{USER}' logged in (SCRAM-SHA-256), server 15."
    )
    assert login.data["auth"] == "scram-sha-256"
    assert results["harbor_db.version"].status is Status.OK
    assert results["harbor_db.version"].message.endswith("(Harbor 2.15 needs 12 or later)")
    database = results["harbor_db.database"]
    assert database.status is Status.OK
    assert database.message.endswith(
        f"database '{DATABASE}' does not exist yet; user '{USER}' may create it (CREATEDB): "
        "the install creates it, owned by that user"
    )
    assert set(results) == {"harbor_db.login", "harbor_db.version", "harbor_db.database"}


def test_md5_login(lab: Lab) -> None:
    with role(lab, encryption="md5", createdb=True):
        login = run(lab)["harbor_db.login"]
    assert login.status is Status.OK
    assert "logged in (an MD5 password)" in login.message


def test_a_wrong_password_names_the_password(lab: Lab) -> None:
    with role(lab):
        results = run(lab, password="not-it")
    assert list(results) == ["harbor_db.login"]
    login = results["harbor_db.login"]
    assert login.status is Status.ERROR
    assert login.field_path == "database.password"
    assert login.message == (
        f"PostgreSQL at {lab.postgres.ip}:5432 refused the password of user '{USER}'"
    )
    assert "not-it" not in login.message


def test_an_unknown_user_is_named(lab: Lab) -> None:
    login = run(lab, user="hw_nobody")["harbor_db.login"]
    assert login.status is Status.ERROR
    assert login.field_path in {"database.user", "database.password"}  # the server may hide it


def test_a_silent_server_times_out(lab: Lab) -> None:
    lab["pg01"].partition()
    try:
        start = time.monotonic()
        results = run(lab, user="postgres", password=lab.postgres.password)
        took = time.monotonic() - start
    finally:
        lab["pg01"].heal()
    assert took < 15
    assert [(r.check, r.status, r.message, r.field_path) for r in results.values()] == [
        ("harbor_db.login", Status.ERROR, f"PostgreSQL at {lab.postgres.ip}:5432: {SILENT}",
         "database.host")
    ]  # fmt: skip


def test_a_wrong_port_is_said_at_the_port(lab: Lab) -> None:
    """MariaDB's 3306 (an operator moving from 1.4) and a port nothing listens on: the host
    answers, so the port is what to change."""
    password = SecretStr(lab.postgres.password)
    mariadb = harbor_database_checks(lab.mariadb.ip, 3306, "postgres", password, DATABASE)
    assert [(r.check, r.field_path) for r in mariadb] == [("harbor_db.login", "database.port")]
    assert "3306 is MariaDB's port" in mariadb[0].message
    closed = harbor_database_checks(lab.postgres.ip, 5499, "postgres", password, DATABASE)
    assert [(r.check, r.field_path) for r in closed] == [("harbor_db.login", "database.port")]
    assert "connection refused: nothing listens on port 5499" in closed[0].message


# --- the database: missing, created, PostgreSQL 15's public schema -----------------------------


def test_missing_database_without_createdb_gives_the_statement_and_it_works(lab: Lab) -> None:
    with role(lab):
        database = run(lab)["harbor_db.database"]
        assert database.status is Status.ERROR
        assert database.field_path == "database.database"
        statement = as_printed(database.message, "psql) run ", " then run the check again")
        assert statement == 'CREATE DATABASE "hw harbor ""db""; x" OWNER "hw ""harbor"" user";'
        with superuser(lab) as conn:
            conn.execute(statement.encode())  # as printed
        results = run(lab)
        assert statuses(results) == {
            "harbor_db.login": Status.OK, "harbor_db.version": Status.OK,
            "harbor_db.database": Status.OK, "harbor_db.rights": Status.OK,
            "harbor_db.contents": Status.OK,
        }  # fmt: skip
        assert results["harbor_db.database"].data["owner"] == USER
        assert results["harbor_db.contents"].message.endswith(
            f"database '{DATABASE}' is empty: Harbor creates its schema on first start"
        )


def test_postgres_15_public_schema_trap_is_found_and_the_owner_fix_works(lab: Lab) -> None:
    with role(lab):
        create_database(lab)
        # the trap is real: the user logs in, and may not create a table
        with in_database(lab) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE t (a int)")
        rights = run(lab)["harbor_db.rights"]
        assert rights.status is Status.ERROR
        assert rights.field_path == "database.user"
        assert rights.message.startswith(
            f"PostgreSQL at {lab.postgres.ip}:5432: user '{USER}' may not create tables in "
            f"schema 'public' of database '{DATABASE}' (owner 'postgres') (PostgreSQL 15 and "
            "later no longer let every user create in schema public): Harbor's first "
            'migration would fail with "permission denied for schema public"; '
        )
        alter = as_printed(rights.message, "database's owner run ", " (the owner")
        assert alter == 'ALTER DATABASE "hw harbor ""db""; x" OWNER TO "hw ""harbor"" user";'
        with superuser(lab) as conn:
            conn.execute(alter.encode())
        assert run(lab)["harbor_db.rights"].status is Status.OK
        with in_database(lab) as conn:
            conn.execute("CREATE TABLE t (a int)")
            conn.execute("DROP TABLE t")


def test_the_grant_fix_works_too(lab: Lab) -> None:
    with role(lab):
        create_database(lab)
        rights = run(lab)["harbor_db.rights"]
        assert f"connected to database '{DATABASE}' (psql -d " in rights.message
        grant = as_printed(rights.message, "), GRANT", "")
        assert grant == 'USAGE, CREATE ON SCHEMA "public" TO "hw ""harbor"" user";'
        with as_superuser_in_database(lab) as conn:
            conn.execute(("GRANT " + grant).encode())
        assert run(lab)["harbor_db.rights"].status is Status.OK


# --- what the database holds -------------------------------------------------------------------


def test_another_applications_tables_are_refused(lab: Lab) -> None:
    with role(lab, createdb=True):
        create_database(lab)
        with as_superuser_in_database(lab) as conn:
            owner = sql.SQL("ALTER DATABASE {} OWNER TO {}")
            conn.execute(owner.format(ident(DATABASE), ident(USER)))
            conn.execute("CREATE SCHEMA shop")
            conn.execute("CREATE TABLE shop.orders (id int)")
            conn.execute("REVOKE ALL ON SCHEMA shop FROM PUBLIC")  # hidden from the user
        contents = run(lab)["harbor_db.contents"]
    assert contents.status is Status.ERROR
    assert contents.field_path == "database.database"
    assert contents.message.endswith(
        f"database '{DATABASE}' holds 1 table(s) of another application (shop.orders) and no "
        "Harbor schema (schema_migrations): give Harbor a database of its own"
    )


def harbor_schema(lab: Lab, version: int, dirty: bool = False) -> None:
    """golang-migrate's table as Harbor core leaves it, and one of Harbor's tables."""
    with in_database(lab) as conn:
        conn.execute("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY,"
                     " dirty boolean NOT NULL)")  # fmt: skip
        conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (version, dirty))
        conn.execute("CREATE TABLE harbor_user (user_id SERIAL PRIMARY KEY)")


@pytest.mark.parametrize(
    ("version", "dirty", "status", "words"),
    [
        (HARBOR_MIGRATION, False, Status.OK, "holds Harbor 2.15's schema (migration 180)"),
        (100, False, Status.WARNING, "holds an older Harbor's schema (migration 100;"),
        (HARBOR_MIGRATION, True, Status.ERROR, "marked dirty (a migration stopped half-way)"),
        (190, False, Status.ERROR, "holds a newer Harbor's schema (migration 190;"),
    ],
)
def test_harbors_own_schema(
    lab: Lab, version: int, dirty: bool, status: Status, words: str
) -> None:
    with role(lab, createdb=True):
        step = PrepareHarborDatabase(lab.postgres.ip, lab.postgres.port, USER, DATABASE)
        ctx = context()
        step.apply(ctx, step.inspect(ctx))  # type: ignore[arg-type]
        harbor_schema(lab, version, dirty)
        contents = run(lab)["harbor_db.contents"]
        assert contents.status is status, contents
        assert words in contents.message
        assert contents.data["migration"] == str(version)
        if status is Status.ERROR:
            with pytest.raises(StepFailed, match="schema"):
                step.inspect(ctx)
        else:
            assert step.inspect(ctx) is None


# --- the database step -------------------------------------------------------------------------


def context() -> StepContext:
    inputs = SimpleNamespace(secrets={"database.password": SecretStr(PASSWORD)})
    return StepContext("database", inputs)  # type: ignore[arg-type]


def test_the_step_creates_the_database_then_has_nothing_to_do(lab: Lab) -> None:
    with role(lab, createdb=True):
        step = PrepareHarborDatabase(lab.postgres.ip, lab.postgres.port, USER, DATABASE)
        ctx = context()
        change = step.inspect(ctx)
        assert change is not None
        assert change.summary == f"no database '{DATABASE}': create it, owned by '{USER}'"
        assert step.apply(ctx, change) == (
            f"created database '{DATABASE}', owned by '{USER}'; Harbor creates its schema on "
            "first start"
        )
        assert step.inspect(ctx) is None  # a second run: ready, nothing to change
        with superuser(lab) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
        assert owner == (USER,)
        with in_database(lab) as conn:  # owned: may create in public on PostgreSQL 15
            conn.execute("CREATE TABLE t (a int)")  # then it is no longer Harbor's to start on
        with pytest.raises(StepFailed, match="another application"):
            step.inspect(ctx)


def test_the_step_stops_with_the_statement_when_the_user_may_not_create(lab: Lab) -> None:
    with role(lab):
        step = PrepareHarborDatabase(lab.postgres.ip, lab.postgres.port, USER, DATABASE)
        with pytest.raises(StepFailed) as failed:
            step.inspect(context())
    assert str(failed.value).endswith(
        'run CREATE DATABASE "hw harbor ""db""; x" OWNER "hw ""harbor"" user"; '
        "then run the check again"
    )


def test_the_step_stops_on_the_public_schema_trap(lab: Lab) -> None:
    with role(lab):
        create_database(lab)
        step = PrepareHarborDatabase(lab.postgres.ip, lab.postgres.port, USER, DATABASE)
        with pytest.raises(StepFailed, match="may not create tables in schema 'public'"):
            step.inspect(context())


@pytest.mark.parametrize("ssl_mode", ["require", "verify-full"])
def test_tls_asked_of_a_server_without_it_is_said_at_ssl_mode(lab: Lab, ssl_mode: str) -> None:
    password = SecretStr(lab.postgres.password)
    results = harbor_database_checks(
        lab.postgres.ip, lab.postgres.port, "postgres", password, DATABASE, ssl_mode
    )
    login = next(r for r in results if r.check == "harbor_db.login")
    assert login.status is Status.ERROR
    assert login.field_path == "database.ssl_mode"
    assert "SSL" in login.message


@pytest.fixture
def postgres_tls(lab: Lab) -> Iterator[None]:
    """The lab's PostgreSQL serving TLS with a certificate of a private CA (root ->
    intermediate -> leaf), as a DBA sets it up; off again afterwards."""
    datadir = lab.postgres.datadir
    write_tls(datadir, [lab.postgres.ip])
    for name in ("server.crt", "server.key"):
        shutil.chown(datadir / name, "postgres", "postgres")
        (datadir / name).chmod(0o600)
    with superuser(lab) as conn:
        conn.execute("ALTER SYSTEM SET ssl = on")
    lab.postgres.reload()
    time.sleep(1)
    try:
        yield
    finally:
        with superuser(lab) as conn:
            conn.execute("ALTER SYSTEM RESET ssl")
        lab.postgres.reload()
        time.sleep(1)


def test_tls_with_a_private_ca_require_logs_in_verify_says_what_to_do(
    lab: Lab, postgres_tls: None
) -> None:
    password = SecretStr(lab.postgres.password)
    ip, port = lab.postgres.ip, lab.postgres.port
    required = harbor_database_checks(ip, port, "postgres", password, DATABASE, "require")
    assert next(r for r in required if r.check == "harbor_db.login").status is Status.OK
    verified = harbor_database_checks(ip, port, "postgres", password, DATABASE, "verify-full")
    login = next(r for r in verified if r.check == "harbor_db.login")
    assert login.status is Status.ERROR
    assert login.field_path == "database.ssl_mode"
    assert "ssl_mode: require" in login.message
