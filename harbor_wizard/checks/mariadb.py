"""Harbor DB (MariaDB): login, version, the right to create `registry`, an existing schema.

Every connection has connect, read and write timeouts: a server whose packets are dropped
(power loss, a partition) gives "no answer for N s" instead of a hang.
"""

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
LOCK_DATABASE = "harbor_wizard"
"""Holds the schema lock (steps/database.py); created only when the schema is loaded."""
TIMEOUT_CODES = {2003, 2006, 2013}
"""Can't connect, server gone, connection lost: with "timed out", the server went silent."""


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


def silent(timeout: float) -> str:
    """What every service probe says of a server that does not answer at all."""
    return f"no answer for {timeout:g} s (host down or its packets dropped)"


def failure(exc: pymysql.MySQLError, timeout: float) -> str:
    """Why a connection or statement failed: a silent server with the time it was given, a
    refusal, or else the server's own words."""
    code = exc.args[0] if exc.args else 0
    detail = str(exc.args[-1]) if exc.args else type(exc).__name__
    if code in TIMEOUT_CODES and "timed out" in detail:
        return silent(timeout)
    if code == 2003:
        return "connection refused or unreachable"
    return detail


def _one(cursor: pymysql.cursors.Cursor) -> Any:
    """The first column of the next row; the queries here always return one."""
    row = cursor.fetchone()
    assert row is not None
    return row[0]


def can_create(grants: list[str], database: str = HARBOR_DATABASE) -> bool:
    """Whether SHOW GRANTS allows CREATE DATABASE `database`."""
    for grant in grants:
        match = re.match(r"GRANT (.+?) ON (\S+) TO", grant)
        if not match:
            continue
        privileges = {p.strip() for p in match.group(1).upper().split(",")}
        # `harbor\_wizard` (an escaped '_', as careful DBAs grant it) names the same database.
        scope = match.group(2).replace("`", "").replace("\\", "")
        if scope in ("*.*", f"{database}.*") and privileges & {"ALL PRIVILEGES", "CREATE"}:
            return True
    return False


@probe("mariadb")
def check(database: Database, password: SecretStr, timeout: float = 5.0) -> list[CheckResult]:
    where = f"MariaDB at {database.host}:{database.port}"
    try:
        conn = connect(database, password, timeout)
    except pymysql.MySQLError as exc:
        code = exc.args[0] if exc.args else 0
        if code == 1045:
            message = f"{where} refused the password for user '{database.user}'"
            field = "database.password"
        else:
            message, field = f"{where}: {failure(exc, timeout)}", "database.host"
        return [error("mariadb.login", "database", message, field_path=field)]
    try:
        with conn, conn.cursor() as cursor:
            return _facts(cursor, database, where)
    except pymysql.MySQLError as exc:  # it stopped answering after the login
        message = f"{where}: {failure(exc, timeout)}"
        return [error("mariadb.login", "database", message, field_path="database.host")]


def _exists(cursor: pymysql.cursors.Cursor, name: str) -> bool:
    cursor.execute(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,)
    )
    return bool(_one(cursor))


def _facts(cursor: pymysql.cursors.Cursor, database: Database, where: str) -> list[CheckResult]:
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
    exists = _exists(cursor, HARBOR_DATABASE)
    tables, schema = schema_state(cursor) if exists else (0, None)
    results.append(
        _schema(where, tables, schema)
        if exists
        else ok(
            "mariadb.schema",
            "database",
            f"{where}: no '{HARBOR_DATABASE}' database yet; the schema will be loaded",
        )
    )
    loading = tables == 0
    missing: list[str] = []
    if loading:  # the load needs `registry` and the lock's database: there, or creatable
        absent = [] if exists else [HARBOR_DATABASE]
        absent += [] if _exists(cursor, LOCK_DATABASE) else [LOCK_DATABASE]
        missing = [name for name in absent if not can_create(grants, name)]
    if missing:
        names = " nor ".join(f"the '{name}' database" for name in missing)
        lock = (
            f" ('{LOCK_DATABASE}' holds harbor-wizard's schema lock)"
            if LOCK_DATABASE in missing
            else ""
        )
        results.append(
            error(
                "mariadb.privileges",
                "database",
                f"{where}: user '{database.user}' may not CREATE {names}{lock}: GRANT ALL ON "
                + ", ".join(f"{name}.*" for name in missing)
                + " TO it, or create the empty database first",
                field_path="database.user",
            )
        )
    elif loading or can_create(grants):
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


def _schema(where: str, tables: int, version: str | None) -> CheckResult:
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
