"""Verdicts on a Harbor 2.x database that the lab's PostgreSQL 15 cannot show: an old
server, a standby, a search_path naming no schema, a schema not owned by
pg_database_owner, no plpgsql."""

from __future__ import annotations

from dataclasses import replace

from harbor_wizard.checks import Status
from harbor_wizard.checks.harbor_db import State, assess, ident

WHERE = "PostgreSQL at db:5432"
READY = State(
    150004, "15.4", True, owner="harbor", schema="public", schema_owner="pg_database_owner",
    usage=True, create=True,
)  # fmt: skip


def verdicts(state: State) -> dict[str, tuple[Status, str, str | None]]:
    return {
        r.check: (r.status, r.message, r.field_path)
        for r in assess(WHERE, "harbor", "registry", state)
    }


def test_a_ready_database_passes() -> None:
    assert {k: v[0] for k, v in verdicts(READY).items()} == {
        "harbor_db.version": Status.OK, "harbor_db.database": Status.OK,
        "harbor_db.rights": Status.OK, "harbor_db.contents": Status.OK,
    }  # fmt: skip


def test_postgresql_11_is_refused() -> None:
    status, message, field = verdicts(replace(READY, version_num=110022, version="11.22"))[
        "harbor_db.version"
    ]
    assert status is Status.ERROR
    assert field == "database.host"
    assert message == (
        "PostgreSQL at db:5432 runs PostgreSQL 11.22: Harbor 2.15 needs PostgreSQL 12 or later "
        "(its migrations call jsonb_path_exists): upgrade the server or use another"
    )


def test_a_standby_is_refused() -> None:
    status, message, field = verdicts(replace(READY, standby=True))["harbor_db.rights"]
    assert status is Status.ERROR
    assert "read-only standby" in message
    assert field == "database.host"


def test_no_schema_in_the_search_path() -> None:
    status, message, _ = verdicts(replace(READY, schema=None))["harbor_db.rights"]
    assert status is Status.ERROR
    assert message.endswith('CREATE SCHEMA "harbor" AUTHORIZATION "harbor";')


def test_a_revoked_schema_of_an_old_server_gets_the_grant_only() -> None:
    """Before 15, public belongs to postgres: a new owner of the database gains nothing."""
    state = replace(READY, version_num=140010, schema_owner="postgres", create=False)
    status, message, _ = verdicts(state)["harbor_db.rights"]
    assert status is Status.ERROR
    assert "ALTER DATABASE" not in message
    assert "PostgreSQL 15" not in message
    assert message.endswith(
        "as a superuser or the schema's owner ('postgres'), connected to database 'registry' "
        '(psql -d "registry"), GRANT USAGE, CREATE ON SCHEMA "public" TO "harbor";'
    )


def test_no_plpgsql() -> None:
    status, message, _ = verdicts(replace(READY, plpgsql=False))["harbor_db.rights"]
    assert status is Status.ERROR
    assert message.endswith('GRANT USAGE ON LANGUAGE plpgsql TO "harbor";')


def test_an_unreadable_migrations_table() -> None:
    state = replace(READY, tables=3, harbor=True, unreadable="permission denied")
    status, message, field = verdicts(state)["harbor_db.contents"]
    assert status is Status.ERROR
    assert field == "database.database"
    assert "may not read it (permission denied)" in message


def test_ident_quotes_always() -> None:
    assert ident("user") == '"user"'
    assert ident('a "b"; c') == '"a ""b""; c"'
