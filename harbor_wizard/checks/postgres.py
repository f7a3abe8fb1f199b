"""Clair DB (PostgreSQL), when scanning is on: the authentication Harbor 1.4 will be asked
for, login, and the database exists.

Harbor 1.4's UI and Clair use an old lib/pq that speaks cleartext and MD5 only; PostgreSQL 14+
stores SCRAM verifiers by default, and then even an `md5` pg_hba.conf line asks for SCRAM. The
UI's start-up ping of the Clair DB fails and every node restarts in a loop. psycopg (libpq)
speaks SCRAM, so its login proves nothing here: `pgwire` asks the server by hand first.

libpq has no read timeout: a query sent to a server whose packets are dropped would wait
for ever. The kernel ends it instead: TCP_USER_TIMEOUT when what we sent stays
unacknowledged, keepalives when we only wait for an answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from pydantic import SecretStr

from harbor_wizard.answers.model import ClairDatabase
from harbor_wizard.checks import pgwire
from harbor_wizard.checks.mariadb import silent
from harbor_wizard.checks.result import CheckResult, error, ok, probe, warning


def seconds(timeout: float) -> int:
    """libpq counts whole seconds and waits at least 2 to connect."""
    return max(2, round(timeout))


def session(
    host: str,
    port: int,
    user: str,
    password: SecretStr,
    database: str,
    timeout: float,
    ssl_mode: str = "disable",
    autocommit: bool = False,
) -> psycopg.Connection:
    """A libpq session whose every wait is bounded: the connection by `connect_timeout`,
    each answer by the kernel (TCP_USER_TIMEOUT, keepalives), a query waiting on a lock
    (a core migrating holds one) or running long by the server's own time-outs. Names are
    passed as parameters, never spliced into a connection string."""
    wait = seconds(timeout)
    limit = wait * 1000
    return psycopg.connect(
        host=host,
        port=port,
        user=user,
        password=password.get_secret_value(),
        dbname=database,
        connect_timeout=wait,
        tcp_user_timeout=wait * 1000,
        keepalives=1,
        keepalives_idle=wait,
        keepalives_interval=1,
        keepalives_count=wait,
        sslmode=ssl_mode,
        autocommit=autocommit,
        options=f"-c statement_timeout={limit} -c lock_timeout={limit}",
        # verify-ca/verify-full: this machine's public CAs, as Harbor's core verifies with
        # its container's (libpq's default would be ~/.postgresql/root.crt).
        sslrootcert="system" if ssl_mode.startswith("verify") else None,
    )


def connect(clair: ClairDatabase, password: SecretStr, timeout: float) -> psycopg.Connection:
    # Clair 1.4's DSN disables TLS: prove that path
    return session(clair.host, clair.port, clair.user, password, clair.database, timeout)


def failure(exc: psycopg.Error, timeout: float) -> str:
    """Why a connection or query failed, in one line; a silent server says so."""
    text = str(exc).strip()
    lowered = text.lower()
    if "timeout expired" in lowered or "timed out" in lowered:
        return silent(seconds(timeout))
    if "refused" in lowered:
        return "connection refused"
    return text.splitlines()[-1] if text else type(exc).__name__


VERIFIER_SQL = (
    "SELECT CASE WHEN rolpassword IS NULL THEN 'none'"
    " WHEN rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'"
    " WHEN rolpassword LIKE 'md5%' THEN 'md5' ELSE 'other' END"
    " FROM pg_authid WHERE rolname = current_user"
)
"""The kind of the stored password, never the verifier itself; pg_authid needs a superuser."""


@dataclass(frozen=True)
class Stored:
    """How the server keeps the user's password, where the login's rights let us read it."""

    encryption: str | None = None
    """`password_encryption`: how a password set from now on is stored."""
    verifier: str | None = None
    """The user's stored password: scram-sha-256, md5, none, other; None: not readable."""


def stored(conn: psycopg.Connection) -> Stored:
    """Read what we may; each query in its own transaction, so a refusal spoils nothing."""
    found: list[str | None] = []
    for query in ("SHOW password_encryption", VERIFIER_SQL):
        try:
            with conn.transaction():
                row = conn.execute(query).fetchone()
            found.append(str(row[0]) if row else None)
        except psycopg.Error:
            found.append(None)
    return Stored(*found)


def role(name: str) -> str:
    """`name` as SQL and pg_hba.conf write it: double-quoted unless a plain lower-case
    identifier (an embedded quote doubled)."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def remedy(clair: ClairDatabase, clients: Sequence[str], here: str = "") -> str:
    """The exact fix on the server, in an order that never locks the fixing session out:
    md5 in pg_hba.conf for the Harbor nodes (and for `here`, this machine, so that the
    check sees what they will), a reload, then the password again under md5."""
    sources = [f"{client}/32" for client in clients] or ["<each Harbor node's address>/32"]
    extra = bool(here) and f"{here}/32" not in sources
    if extra:
        sources.append(f"{here}/32")
    db, user = role(clair.database), role(clair.user)
    lines = "; ".join(f"host {db} {user} {s} md5" for s in sources)
    note = " (the last is this machine, for the check)" if extra else ""
    return (
        "fix on the server, as a superuser over its local socket (e.g. sudo -u postgres psql): "
        f"1. in pg_hba.conf, above any other line that matches them, add: {lines}{note}; "
        "2. SELECT pg_reload_conf(); "
        "3. SET password_encryption = 'md5'; "
        f"ALTER ROLE {user} PASSWORD '<the Clair DB password>'; then run the check again"
    )


def auth_result(
    clair: ClairDatabase,
    asked: pgwire.AuthRequest | pgwire.Refusal,
    facts: Stored,
    clients: Sequence[str],
) -> CheckResult | None:
    """Harbor 1.4's verdict on what the server asks (None: a refusal the login reports)."""
    where = f"PostgreSQL at {clair.host}:{clair.port}"
    who = f"user '{clair.user}'"
    details = tuple(
        f"{name}: {value}"
        for name, value in (
            ("password_encryption", facts.encryption),
            (f"stored password of {who}", facts.verifier),
        )
        if value
    )
    extra = {"field_path": "clair_database.user", "details": details}
    if isinstance(asked, pgwire.Refusal):
        return None
    data = {"auth": asked.method}
    if asked.code == pgwire.SASL:
        return error(
            "postgres.auth",
            "clair_database",
            f"{where} asks {who} for {asked.name}, which Harbor 1.4's UI and Clair cannot "
            "speak (their lib/pq knows MD5 and cleartext only; every node would restart in "
            f"a loop): {remedy(clair, clients, asked.source)}",
            data=data,
            **extra,
        )
    if not asked.harbor_speaks:
        return error(
            "postgres.auth",
            "clair_database",
            f"{where} asks {who} for {asked.name}, which Harbor 1.4's UI and Clair cannot "
            f"speak (MD5 and cleartext only): {remedy(clair, clients, asked.source)}",
            data=data,
            **extra,
        )
    if facts.verifier == "scram-sha-256":
        return warning(
            "postgres.auth",
            "clair_database",
            f"{where} asks {who} for {asked.name} from this machine, but stores the password "
            "as SCRAM-SHA-256: from a Harbor node that pg_hba.conf gives md5 or "
            "scram-sha-256, Harbor 1.4 would be asked for SCRAM and fail; "
            + remedy(clair, clients, asked.source),
            data=data,
            **extra,
        )
    later = ""
    if facts.encryption == "scram-sha-256" and facts.verifier == "md5":
        later = (
            " (the server's password_encryption is scram-sha-256: a password set again "
            "without SET password_encryption = 'md5' first is stored as SCRAM, and Harbor "
            "can no longer log in)"
        )
    return ok(
        "postgres.auth",
        "clair_database",
        f"{where} asks {who} for {asked.name}: Harbor 1.4's lib/pq can log in{later}",
        data=data,
        **extra,
    )


@probe("postgres")
def check(
    clair: ClairDatabase,
    password: SecretStr,
    timeout: float = 5.0,
    clients: Sequence[str] = (),
) -> list[CheckResult]:
    """`clients`: the Harbor nodes' addresses, for the pg_hba.conf lines of a fix."""
    where = f"PostgreSQL at {clair.host}:{clair.port}"
    try:
        asked = pgwire.ask(clair.host, clair.port, clair.user, clair.database, seconds(timeout))
    except pgwire.Unreachable as exc:
        why = silent(seconds(timeout)) if exc.silent else exc.reason
        return [
            error(
                "postgres.login",
                "clair_database",
                f"{where}: {why}",
                field_path="clair_database.host",
            )
        ]
    try:
        with connect(clair, password, timeout) as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            facts = stored(conn)
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
        login = error("postgres.login", "clair_database", message, field_path=field)
        verdict = auth_result(clair, asked, Stored(), clients)
        return [login] if verdict is None else [verdict, login]
    login = ok(
        "postgres.login",
        "clair_database",
        f"{where}: logged in to '{clair.database}' without TLS, server {version}",
        data={"version": version},
    )
    if isinstance(asked, pgwire.Refusal):  # libpq got in where lib/pq's start-up did not
        refused = error(
            "postgres.auth",
            "clair_database",
            f"{where} refused Harbor 1.4's start-up for user '{clair.user}': {asked.message}",
            field_path="clair_database.host",
        )
        return [refused, login]
    verdict = auth_result(clair, asked, facts, clients)
    assert verdict is not None
    return [verdict, login]
