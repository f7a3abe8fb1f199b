"""Harbor 2.x's own database (external PostgreSQL): what Harbor core needs on its first start.

Core migrates its schema itself: golang-migrate, under PostgreSQL's advisory lock so that
nodes starting together take turns (v2.15.2 `src/common/dao/pgsql.go` UpgradeSchema). So the
database only has to exist; the user must log in the way the server asks (Harbor's pgx v5
speaks SCRAM-SHA-256, MD5 and cleartext), may create tables where its session creates them
(`current_schema()`, as golang-migrate's own `schema_migrations` table), and the database must
be empty or already Harbor's.

The trap: PostgreSQL 15 took CREATE on schema `public` from PUBLIC. A database a superuser
created and "granted" (GRANT ALL ON DATABASE gives CONNECT, TEMP and new schemas, not tables
in public) lets Harbor log in and then fails its first migration with "permission denied for
schema public"; core restarts in a loop. Only the database's owner (public belongs to
pg_database_owner) or an explicit GRANT on the schema may create there.

Names are never spliced into SQL: identifiers go through `psycopg.sql.Identifier`, values are
parameters; the fixes shown to operators quote them the same way (`ident`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import psycopg
from psycopg import sql
from pydantic import SecretStr

from harbor_wizard.checks import pgwire
from harbor_wizard.checks.mariadb import silent
from harbor_wizard.checks.postgres import failure, seconds, session
from harbor_wizard.checks.result import CheckResult, error, ok, probe, warning

TARGET = "database"
MIN_SERVER = 120000
"""server_version_num of the oldest PostgreSQL Harbor 2.15 runs on: 12. The v2.9.0 release
notes: "only PostgreSQL >= 12 is supported for external databases" (goharbor/harbor#19318;
goharbor/website#537 corrected the upgrade guide); the reason is v2.15.2's
make/migrations/postgresql/0120_2.9.0_schema.up.sql, which calls jsonb_path_exists (new in 12)."""
HARBOR_MIGRATION = 180
"""golang-migrate's version once Harbor 2.15 has migrated: its last file is
make/migrations/postgresql/0180_2.15.0_schema.up.sql (v2.15.2)."""
HARBOR_LINE = "2.15"
MIGRATIONS_TABLE = "schema_migrations"
"""golang-migrate's table (its postgres/pgx drivers' default), in the session's current schema."""
MAINTENANCE = ("postgres", "template1")
"""Where to ask, when the database is missing, whether the user may create it."""
PGX_CANNOT = {2: "Kerberos V5", 6: "SCM credentials", 7: "GSSAPI", 9: "SSPI"}
"""Authentication requests Harbor's pgx v5 does not answer (it has GSSAPI only with a provider
registered, and Harbor registers none)."""
SAMPLE = 5


def ident(name: str) -> str:
    """`name` as an SQL identifier in a fix an operator pastes: always double-quoted, an
    embedded quote doubled (quote_ident's rule; bare words may be reserved, `user`)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class State:
    """What the server says of the user and the database, read in one statement."""

    version_num: int
    version: str
    exists: bool
    superuser: bool = False
    createdb: bool = False
    owner: str = ""
    schema: str | None = None
    """current_schema(): where Harbor's tables and golang-migrate's table go; None: the
    search_path names no existing schema."""
    schema_owner: str = ""
    usage: bool = False
    create: bool = False
    plpgsql: bool = True
    """USAGE on plpgsql (0001_initial_schema creates a plpgsql trigger function)."""
    standby: bool = False
    tables: int = 0
    sample: tuple[str, ...] = ()
    """Up to SAMPLE of the tables, schema.name, for the operator to recognise."""
    harbor: bool = False
    """schema_migrations is in the current schema."""
    migration: int | None = None
    dirty: bool = False
    unreadable: str = ""
    """Why schema_migrations could not be read (another user's table)."""


INSIDE_SQL = """
SELECT current_setting('server_version_num')::int, current_setting('server_version'),
       r.rolsuper, r.rolcreatedb, pg_catalog.pg_get_userbyid(d.datdba),
       current_schema(),
       coalesce((SELECT pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace n
                 WHERE n.nspname = current_schema()), ''),
       coalesce(has_schema_privilege(current_schema(), 'USAGE'), false),
       coalesce(has_schema_privilege(current_schema(), 'CREATE'), false),
       coalesce((SELECT has_language_privilege(l.oid, 'USAGE') FROM pg_catalog.pg_language l
                 WHERE l.lanname = 'plpgsql'), false),
       pg_is_in_recovery(),
       (SELECT count(*) FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname !~ '^pg_(toast|temp_)'),
       ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname !~ '^pg_(toast|temp_)'
              ORDER BY 1 LIMIT %(sample)s),
       EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relname = %(table)s
                  AND c.relkind IN ('r', 'p'))
  FROM pg_catalog.pg_roles r, pg_catalog.pg_database d
 WHERE r.rolname = current_user AND d.datname = current_database()
"""
"""pg_catalog, not information_schema: the latter hides tables the user has no right on,
which are exactly another application's."""

OUTSIDE_SQL = (
    "SELECT current_setting('server_version_num')::int, current_setting('server_version'),"
    " rolsuper, rolcreatedb FROM pg_catalog.pg_roles WHERE rolname = current_user"
)


def _inside(conn: psycopg.Connection) -> State:
    row = conn.execute(INSIDE_SQL, {"sample": SAMPLE, "table": MIGRATIONS_TABLE}).fetchone()
    assert row is not None  # current_user and current_database() always exist
    (num, version, superuser, createdb, owner, schema, schema_owner, usage, create, plpgsql,
     standby, tables, sample, harbor) = row  # fmt: skip
    state = State(
        int(num), str(version), True, bool(superuser), bool(createdb), str(owner),
        schema, str(schema_owner), bool(usage), bool(create), bool(plpgsql), bool(standby),
        int(tables), tuple(sample), bool(harbor),
    )  # fmt: skip
    if not harbor:
        return state
    table = sql.SQL("SELECT version, dirty FROM {}.{} LIMIT 1").format(
        sql.Identifier(str(schema)), sql.Identifier(MIGRATIONS_TABLE)
    )
    try:
        with conn.transaction():
            found = conn.execute(table).fetchone()
    except psycopg.Error as exc:
        return replace(state, unreadable=failure(exc, 0) or type(exc).__name__)
    if found is None:
        return state
    return replace(state, migration=int(found[0]), dirty=bool(found[1]))


def _outside(conn: psycopg.Connection) -> State:
    row = conn.execute(OUTSIDE_SQL).fetchone()
    if row is None:  # pg_roles always shows current_user; defensive
        raise psycopg.OperationalError("the server does not show the current user")
    return State(int(row[0]), str(row[1]), False, bool(row[2]), bool(row[3]))


def missing_database(exc: psycopg.Error) -> bool:
    """The login was accepted and the database is not there (SQLSTATE 3D000)."""
    return getattr(exc, "sqlstate", None) == "3D000" or (
        "database" in str(exc) and "does not exist" in str(exc)
    )


class CannotTell(Exception):
    """The database is missing, and no maintenance database lets the user in to ask more."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def survey(
    host: str,
    port: int,
    user: str,
    password: SecretStr,
    database: str,
    ssl_mode: str,
    timeout: float,
) -> State:
    """Log in to `database` and read its State; when it does not exist, read the user's
    rights from a maintenance database instead (State.exists False).

    Raises psycopg.Error for a login that fails, CannotTell when only the database is missing
    and nothing else lets the user in."""
    try:
        with session(host, port, user, password, database, timeout, ssl_mode, True) as conn:
            return _inside(conn)
    except psycopg.OperationalError as exc:
        if not missing_database(exc):
            raise
        reason = str(exc)
    for other in MAINTENANCE:
        if other == database:
            continue
        try:
            with session(host, port, user, password, other, timeout, ssl_mode, True) as conn:
                return _outside(conn)
        except psycopg.OperationalError as exc:
            reason = failure(exc, timeout)
    raise CannotTell(reason)


# --- verdicts (no I/O) ------------------------------------------------------------------------


def version_result(where: str, state: State) -> CheckResult:
    data = {"version": state.version, "version_num": str(state.version_num)}
    if state.version_num < MIN_SERVER:
        return error(
            "harbor_db.version",
            TARGET,
            f"{where} runs PostgreSQL {state.version}: Harbor {HARBOR_LINE} needs PostgreSQL 12 "
            "or later (its migrations call jsonb_path_exists): upgrade the server or use another",
            field_path="database.host",
            data=data,
        )
    return ok(
        "harbor_db.version",
        TARGET,
        f"{where} runs PostgreSQL {state.version} (Harbor {HARBOR_LINE} needs 12 or later)",
        data=data,
    )


def create_database_sql(database: str, user: str) -> str:
    return f"CREATE DATABASE {ident(database)} OWNER {ident(user)};"


def database_result(where: str, user: str, database: str, state: State) -> CheckResult:
    if state.exists:
        return ok(
            "harbor_db.database",
            TARGET,
            f"{where}: database '{database}' exists (owner '{state.owner}')",
            data={"exists": "yes", "owner": state.owner},
        )
    if state.createdb or state.superuser:
        return ok(
            "harbor_db.database",
            TARGET,
            f"{where}: database '{database}' does not exist yet; user '{user}' may create it "
            "(CREATEDB): the install creates it, owned by that user",
            data={"exists": "no", "create": "yes"},
        )
    return error(
        "harbor_db.database",
        TARGET,
        f"{where}: database '{database}' does not exist and user '{user}' may not create it "
        f"(no CREATEDB): as a superuser (e.g. sudo -u postgres psql) run "
        f"{create_database_sql(database, user)} then run the check again",
        field_path="database.database",
        data={"exists": "no", "create": "no"},
    )


def schema_fix(user: str, database: str, state: State) -> str:
    """The fix for a user who may not create tables in its current schema: the database
    made theirs (PostgreSQL 15+: public belongs to pg_database_owner, so to the database's
    owner), or the rights on the schema granted in that database."""
    schema = state.schema or "public"
    grant = (
        f"connected to database '{database}' (psql -d {ident(database)}), "
        f"GRANT USAGE, CREATE ON SCHEMA {ident(schema)} TO {ident(user)};"
    )
    if state.schema_owner == "pg_database_owner":
        return (
            "as a superuser or the database's owner run "
            f"ALTER DATABASE {ident(database)} OWNER TO {ident(user)}; "
            f"(the owner may create in schema {schema}) or, {grant}"
        )
    return f"as a superuser or the schema's owner ('{state.schema_owner}'), {grant}"


def rights_result(where: str, user: str, database: str, state: State) -> CheckResult:
    extra = {"field_path": "database.user"}
    if state.standby:
        return error(
            "harbor_db.rights",
            TARGET,
            f"{where} is a read-only standby (in recovery): Harbor must write; point "
            "database.host at the primary",
            field_path="database.host",
        )
    if state.schema is None:
        return error(
            "harbor_db.rights",
            TARGET,
            f"{where}: in database '{database}', no schema of user '{user}'s search_path "
            "exists, so Harbor has nowhere to create its tables: connected to that database as "
            f"its owner, run CREATE SCHEMA {ident(user)} AUTHORIZATION {ident(user)};",
            **extra,
        )
    if not (state.usage and state.create):
        newer = (
            " (PostgreSQL 15 and later no longer let every user create in schema public)"
            if state.schema == "public" and state.version_num >= 150000
            else ""
        )
        return error(
            "harbor_db.rights",
            TARGET,
            f"{where}: user '{user}' may not create tables in schema '{state.schema}' of "
            f"database '{database}' (owner '{state.owner}'){newer}: Harbor's first migration "
            f'would fail with "permission denied for schema {state.schema}"; '
            + schema_fix(user, database, state),
            data={"schema": state.schema},
            **extra,
        )
    if not state.plpgsql:
        return error(
            "harbor_db.rights",
            TARGET,
            f"{where}: user '{user}' may not use language plpgsql in database '{database}' "
            "(Harbor's first migration creates a plpgsql trigger function): as a superuser, "
            f"connected to that database, run GRANT USAGE ON LANGUAGE plpgsql TO {ident(user)};",
            **extra,
        )
    return ok(
        "harbor_db.rights",
        TARGET,
        f"{where}: user '{user}' may create tables in schema '{state.schema}' of database "
        f"'{database}'",
        data={"schema": state.schema},
    )


def contents_result(where: str, database: str, state: State) -> CheckResult:
    extra = {"field_path": "database.database"}
    if state.harbor and state.unreadable:
        return error(
            "harbor_db.contents",
            TARGET,
            f"{where}: database '{database}' has Harbor's {MIGRATIONS_TABLE} table, but the "
            f"user may not read it ({state.unreadable}): Harbor's tables must be its user's "
            "(ALTER TABLE ... OWNER TO, or use the user that created them)",
            **extra,
        )
    if state.harbor:
        at = state.migration
        data = {"migration": "" if at is None else str(at)}
        if state.dirty:
            return error(
                "harbor_db.contents",
                TARGET,
                f"{where}: database '{database}' holds Harbor's schema at migration {at}, "
                "marked dirty (a migration stopped half-way): Harbor core refuses to start "
                "on it; restore the database from a backup",
                data=data,
                **extra,
            )
        if at is not None and at > HARBOR_MIGRATION:
            return error(
                "harbor_db.contents",
                TARGET,
                f"{where}: database '{database}' holds a newer Harbor's schema (migration "
                f"{at}; Harbor {HARBOR_LINE}'s last is {HARBOR_MIGRATION}): Harbor "
                f"{HARBOR_LINE} cannot start on it",
                data=data,
                **extra,
            )
        if at is None or at < HARBOR_MIGRATION:
            return warning(
                "harbor_db.contents",
                TARGET,
                f"{where}: database '{database}' holds an older Harbor's schema (migration "
                f"{at if at is not None else 'none'}; Harbor {HARBOR_LINE}'s last is "
                f"{HARBOR_MIGRATION}): Harbor core migrates it on its first start, which "
                "cannot be undone: back the database up first",
                data=data,
                **extra,
            )
        return ok(
            "harbor_db.contents",
            TARGET,
            f"{where}: database '{database}' holds Harbor {HARBOR_LINE}'s schema "
            f"(migration {at}): Harbor goes on with its data",
            data=data,
        )
    if state.tables:
        shown = ", ".join(state.sample) + (", ..." if state.tables > len(state.sample) else "")
        return error(
            "harbor_db.contents",
            TARGET,
            f"{where}: database '{database}' holds {state.tables} table(s) of another "
            f"application ({shown}) and no Harbor schema ({MIGRATIONS_TABLE}): give Harbor a "
            "database of its own",
            data={"tables": str(state.tables)},
            **extra,
        )
    return ok(
        "harbor_db.contents",
        TARGET,
        f"{where}: database '{database}' is empty: Harbor creates its schema on first start",
        data={"tables": "0"},
    )


def assess(where: str, user: str, database: str, state: State) -> list[CheckResult]:
    """Every verdict on a State, in the order an operator fixes them."""
    results = [version_result(where, state), database_result(where, user, database, state)]
    if state.exists:
        results.append(rights_result(where, user, database, state))
        results.append(contents_result(where, database, state))
    return results


def login_failure(
    where: str, user: str, database: str, exc: psycopg.Error, timeout: float
) -> tuple[str, str]:
    """A refused login in the operator's words, and the field it is about."""
    text = str(exc)
    if "password authentication failed" in text:
        return f"{where} refused the password of user '{user}'", "database.password"
    if "no pg_hba.conf entry" in text:
        return (
            f"{where} has no pg_hba.conf line that lets user '{user}' into database "
            f"'{database}' from this machine ({failure(exc, timeout)}): add "
            f"`host {database} {user} <each Harbor node's address>/32 scram-sha-256` (and this "
            "machine's) to pg_hba.conf, then SELECT pg_reload_conf();",
            "database.host",
        )
    if "role" in text and "does not exist" in text:
        return f"{where}: user '{user}' does not exist", "database.user"
    if "certificate verify failed" in text or "self-signed" in text:
        return (
            f"{where}: {failure(exc, timeout)}: its certificate is not from a CA this machine "
            "trusts, and Harbor's core verifies it against its container's public CAs the "
            "same way; use a certificate from a public CA, or ssl_mode: require (encrypted, "
            "not verified)",
            "database.ssl_mode",
        )
    if "SSL" in text or "certificate" in text or "GSSAPI" in text:
        return f"{where}: {failure(exc, timeout)}", "database.ssl_mode"
    return f"{where}: {failure(exc, timeout)}", "database.host"


PORT_REASONS = ("refused", "not PostgreSQL", "closed the connection", "reset", "truncated")
"""The host answered, but not as PostgreSQL on that port: the port is what to look at."""


def unreachable(where: str, port: int, exc: pgwire.Unreachable, timeout: float) -> CheckResult:
    """No PostgreSQL start-up answer, said at the field to look at: a silent host at the
    host, a host that answers otherwise at the port (MariaDB's 3306 named as such)."""
    if exc.silent or not any(reason in exc.reason for reason in PORT_REASONS):
        why = silent(seconds(timeout)) if exc.silent else exc.reason
        return error("harbor_db.login", TARGET, f"{where}: {why}", field_path="database.host")
    if port == 3306:
        hint = "3306 is MariaDB's port: Harbor 2.x keeps its data in PostgreSQL, usually on 5432"
    elif "refused" in exc.reason:
        hint = f"nothing listens on port {port} there (PostgreSQL's default port is 5432)"
    else:
        hint = f"what answers on port {port} is not PostgreSQL (its default port is 5432)"
    message = f"{where}: {exc.reason}: {hint}"
    return error("harbor_db.login", TARGET, message, field_path="database.port")


@probe("harbor_db")
def harbor_database_checks(
    host: str,
    port: int,
    user: str,
    password: SecretStr,
    database: str,
    ssl_mode: str = "disable",
    timeout: float = 5.0,
) -> list[CheckResult]:
    """Results `harbor_db.login`, then (once logged in) `harbor_db.version`,
    `harbor_db.database` and, when the database exists, `harbor_db.rights` and
    `harbor_db.contents`."""
    where = f"PostgreSQL at {host}:{port}"
    try:  # bounded, and says what the server asks: libpq does not tell
        asked = pgwire.ask(host, port, user, database, seconds(timeout))
    except pgwire.Unreachable as exc:
        return [unreachable(where, port, exc, timeout)]
    method = ""
    if isinstance(asked, pgwire.AuthRequest):
        if asked.code in PGX_CANNOT:
            return [
                error(
                    "harbor_db.login",
                    TARGET,
                    f"{where} asks user '{user}' for {asked.name}, which Harbor's PostgreSQL "
                    "driver (pgx) cannot answer: give the Harbor nodes a scram-sha-256 (or "
                    "md5) line in pg_hba.conf, then SELECT pg_reload_conf();",
                    field_path="database.user",
                    data={"auth": asked.method},
                )
            ]
        method = asked.name
    try:
        state = survey(host, port, user, password, database, ssl_mode, timeout)
    except CannotTell as exc:
        login = ok(
            "harbor_db.login",
            TARGET,
            f"{where}: user '{user}' logged in{_how(method)}",
            data={"auth": _method(asked)},
        )
        missing = error(
            "harbor_db.database",
            TARGET,
            f"{where}: database '{database}' does not exist, and user '{user}' may not log in "
            f"to {' or '.join(MAINTENANCE)} to tell whether they may create it "
            f"({exc.reason}): as a superuser run {create_database_sql(database, user)} then "
            "run the check again",
            field_path="database.database",
            data={"exists": "no"},
        )
        return [login, missing]
    except psycopg.Error as exc:
        message, field = login_failure(where, user, database, exc, timeout)
        return [error("harbor_db.login", TARGET, message, field_path=field)]
    into = f" to '{database}'" if state.exists else ""
    login = ok(
        "harbor_db.login",
        TARGET,
        f"{where}: user '{user}' logged in{into}{_how(method)}, server {state.version}",
        data={"auth": _method(asked), "version": state.version},
    )
    return [login, *assess(where, user, database, state)]


def _how(method: str) -> str:
    return f" ({method})" if method else ""


def _method(asked: pgwire.AuthRequest | pgwire.Refusal) -> str:
    return asked.method if isinstance(asked, pgwire.AuthRequest) else ""
