"""Clair DB (PostgreSQL), when scanning is on: login and the database exists."""

from __future__ import annotations

import psycopg
from pydantic import SecretStr

from harbor_wizard.answers.model import ClairDatabase
from harbor_wizard.checks.result import CheckResult, error, ok, probe


def connect(clair: ClairDatabase, password: SecretStr, timeout: float) -> psycopg.Connection:
    return psycopg.connect(
        host=clair.host,
        port=clair.port,
        user=clair.user,
        password=password.get_secret_value(),
        dbname=clair.database,
        connect_timeout=max(1, round(timeout)),
        sslmode="disable",  # Clair 1.4's DSN disables TLS: prove that path
    )


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
        elif "timeout" in text.lower():
            message, field = f"{where}: no answer (timed out)", "clair_database.host"
        elif "refused" in text:
            message, field = f"{where}: connection refused", "clair_database.host"
        else:
            message, field = f"{where}: {text.strip().splitlines()[-1]}", "clair_database.host"
        return [error("postgres.login", "clair_database", message, field_path=field)]
    return [
        ok(
            "postgres.login",
            "clair_database",
            f"{where}: logged in to '{clair.database}' without TLS, server {version}",
            data={"version": version},
        )
    ]
