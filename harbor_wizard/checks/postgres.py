"""Clair DB (PostgreSQL), when scanning is on: login and the database exists.

libpq has no read timeout: a query sent to a server whose packets are dropped would wait
for ever. The kernel ends it instead: TCP_USER_TIMEOUT when what we sent stays
unacknowledged, keepalives when we only wait for an answer.
"""

from __future__ import annotations

import psycopg
from pydantic import SecretStr

from harbor_wizard.answers.model import ClairDatabase
from harbor_wizard.checks.mariadb import silent
from harbor_wizard.checks.result import CheckResult, error, ok, probe


def seconds(timeout: float) -> int:
    """libpq counts whole seconds and waits at least 2 to connect."""
    return max(2, round(timeout))


def connect(clair: ClairDatabase, password: SecretStr, timeout: float) -> psycopg.Connection:
    wait = seconds(timeout)
    return psycopg.connect(
        host=clair.host,
        port=clair.port,
        user=clair.user,
        password=password.get_secret_value(),
        dbname=clair.database,
        connect_timeout=wait,
        tcp_user_timeout=wait * 1000,
        keepalives=1,
        keepalives_idle=wait,
        keepalives_interval=1,
        keepalives_count=wait,
        sslmode="disable",  # Clair 1.4's DSN disables TLS: prove that path
    )


def failure(exc: psycopg.Error, timeout: float) -> str:
    """Why a connection or query failed, in one line; a silent server says so."""
    text = str(exc).strip()
    lowered = text.lower()
    if "timeout expired" in lowered or "timed out" in lowered:
        return silent(seconds(timeout))
    if "refused" in lowered:
        return "connection refused"
    return text.splitlines()[-1] if text else type(exc).__name__


@probe("postgres")
def check(clair: ClairDatabase, password: SecretStr, timeout: float = 5.0) -> list[CheckResult]:
    where = f"PostgreSQL at {clair.host}:{clair.port}"
    try:
        with connect(clair, password, timeout) as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except psycopg.OperationalError as exc:
        text = str(exc)
        if "password authentication failed" in text:
            message, field = (
                f"{where} refused the password for user '{clair.user}'",
                "clair_database.password",
            )
        elif "does not exist" in text and "database" in text:
            message, field = (
                f"{where}: database '{clair.database}' does not exist: create it",
                "clair_database.database",
            )
        else:
            message, field = f"{where}: {failure(exc, timeout)}", "clair_database.host"
        return [error("postgres.login", "clair_database", message, field_path=field)]
    return [
        ok(
            "postgres.login",
            "clair_database",
            f"{where}: logged in to '{clair.database}' without TLS, server {version}",
            data={"version": version},
        )
    ]
