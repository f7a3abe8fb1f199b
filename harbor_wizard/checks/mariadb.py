"""Harbor DB (MariaDB): login, version, the right to create `registry`, an existing schema."""

from __future__ import annotations

import re
from typing import Any

import pymysql
from pydantic import SecretStr

from harbor_wizard.answers.model import Database
from harbor_wizard.checks.result import CheckResult, error, ok, probe

HARBOR_DATABASE = "registry"
"""Harbor 1.4 hard-codes the database name."""
HARBOR_TABLES = 17


def connect(database: Database, password: SecretStr, timeout: float) -> pymysql.Connection:
    return pymysql.connect(
        host=database.host,
        port=database.port,
        user=database.user,
        password=password.get_secret_value(),
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
    )


def _one(cursor: pymysql.cursors.Cursor) -> Any:
    """The first column of the next row; the queries here always return one."""
    row = cursor.fetchone()
    assert row is not None
    return row[0]


def can_create(grants: list[str]) -> bool:
    """Whether SHOW GRANTS allows CREATE DATABASE registry (or it may already exist)."""
    for grant in grants:
        match = re.match(r"GRANT (.+?) ON (\S+) TO", grant)
        if not match:
            continue
        privileges = {p.strip() for p in match.group(1).upper().split(",")}
        scope = match.group(2).replace("`", "")
        if scope in ("*.*", f"{HARBOR_DATABASE}.*") and privileges & {"ALL PRIVILEGES", "CREATE"}:
            return True
    return False


@probe("mariadb")
def check(database: Database, password: SecretStr, timeout: float = 5.0) -> list[CheckResult]:
    where = f"MariaDB at {database.host}:{database.port}"
    try:
        conn = connect(database, password, timeout)
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else 0
        if code == 1045:
            message = f"{where} refused the password for user '{database.user}'"
            field = "database.password"
        elif code == 2003:
            detail = str(exc.args[1]) if len(exc.args) > 1 else ""
            reason = (
                "no answer (timed out)"
                if "timed out" in detail
                else "connection refused or unreachable"
            )
            message, field = f"{where}: {reason}", "database.host"
        else:
            message, field = f"{where}: {exc.args[-1] if exc.args else exc}", "database.host"
        return [error("mariadb.login", "database", message, field_path=field)]
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        version = str(_one(cursor))
        results = [
            ok(
                "mariadb.login",
                "database",
                f"{where}: logged in, server {version}",
                data={"version": version},
            )
        ]
        cursor.execute("SHOW GRANTS")
        grants = [str(row[0]) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            (HARBOR_DATABASE,),
        )
        exists = _one(cursor) > 0
        results.append(
            _schema(cursor, where, exists)
            if exists
            else ok(
                "mariadb.schema",
                "database",
                f"{where}: no '{HARBOR_DATABASE}' database yet; the schema will be loaded",
            )
        )
        if not exists and not can_create(grants):
            results.append(
                error(
                    "mariadb.privileges",
                    "database",
                    f"{where}: user '{database.user}' may not CREATE the '{HARBOR_DATABASE}' "
                    f"database: GRANT ALL ON {HARBOR_DATABASE}.* TO it, or create the empty "
                    "database first",
                    field_path="database.user",
                )
            )
        elif not exists or can_create(grants):
            results.append(
                ok(
                    "mariadb.privileges",
                    "database",
                    f"{where}: user '{database.user}' has the privileges Harbor needs",
                )
            )
    return results


def schema_state(cursor: pymysql.cursors.Cursor) -> tuple[int, str | None]:
    """(number of tables in `registry`, alembic version or None)."""
    cursor.execute(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
        (HARBOR_DATABASE,),
    )
    tables = int(_one(cursor))
    version = None
    cursor.execute(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = 'alembic_version'",
        (HARBOR_DATABASE,),
    )
    if _one(cursor):
        cursor.execute(f"SELECT version_num FROM `{HARBOR_DATABASE}`.alembic_version")
        row = cursor.fetchone()
        version = str(row[0]) if row else None
    return tables, version


def _schema(cursor: pymysql.cursors.Cursor, where: str, exists: bool) -> CheckResult:
    tables, version = schema_state(cursor)
    if tables == 0:
        return ok(
            "mariadb.schema",
            "database",
            f"{where}: '{HARBOR_DATABASE}' exists and is empty; the schema will be loaded",
        )
    if version is not None and version.startswith("1.4") and tables >= HARBOR_TABLES:
        return ok(
            "mariadb.schema",
            "database",
            f"{where}: Harbor schema {version} already there ({tables} tables): "
            "kept as it is, never reloaded",
            data={"schema_version": version},
        )
    return error(
        "mariadb.schema",
        "database",
        f"{where}: '{HARBOR_DATABASE}' holds {tables} tables and schema version "
        f"{version or 'none'}: not a Harbor 1.4 schema nor empty; harbor-wizard will not load "
        "into it (the schema file drops the database): check it by hand",
        field_path="database.host",
    )
