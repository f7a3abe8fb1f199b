"""Harbor DB (MariaDB or MySQL): login, flavour and version, whether Harbor 1.4 itself can
log in, the sql_mode, the right to create `registry`, an existing (or partly loaded) schema.

Every connection has connect, read and write timeouts: a server whose packets are dropped
(power loss, a partition) gives "no answer for N s" instead of a hang.

Why the login is checked twice: pymysql speaks every authentication plugin, Harbor 1.4's
vendored go-sql-driver/mysql does not. It never announces CLIENT_PLUGIN_AUTH, always sends a
mysql_native_password scramble, and fails on an auth switch request (packets.go
`readResultOK`: 0xFE is ErrOldPassword). So the account's first authentication method must
be mysql_native_password, whatever pymysql managed.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import pymysql
from pydantic import SecretStr

from harbor_wizard.answers.model import Database
from harbor_wizard.checks.result import CheckResult, error, ok, probe, warning

HARBOR_DATABASE = "registry"
"""Harbor 1.4 hard-codes the database name."""
HARBOR_TABLES = 17
LOCK_DATABASE = "harbor_wizard"
"""Holds the schema lock (steps/database.py); created only when the schema is loaded."""
LOAD_TABLE = f"`{LOCK_DATABASE}`.schema_load"
"""One row per load of the schema (steps/database.py): 'started' before its first statement,
'finished' after it was verified, and the rows registry.sql inserts into each table."""
NATIVE = "mysql_native_password"
"""The one authentication plugin Harbor 1.4's MySQL driver speaks."""
LOAD_SQL_MODE = "NO_ENGINE_SUBSTITUTION"
"""The session sql_mode the schema is loaded in: no strict mode, no NO_ZERO_DATE (the file's
bare `update_time timestamp` columns get a '0000-00-00' default when
explicit_defaults_for_timestamp is OFF, error 1067 under NO_ZERO_DATE), and never a silent
change of InnoDB into another engine."""
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
    server = server_facts(cursor)
    galera = ", Galera node" if server.galera else ""
    results = [
        ok(
            "mariadb.login",
            "database",
            f"{where}: logged in, server {server.raw} ({server.flavour} {server.version}{galera})",
            data={
                "version": server.raw,
                "flavour": server.flavour,
                "galera": server.galera,
            },
        )
    ]
    results.append(_auth(where, server, *account_methods(cursor)))
    modes, explicit = read_sql_mode(cursor)
    results.append(sql_mode_result(where, modes, explicit))
    cursor.execute("SHOW GRANTS")
    grants = [str(row[0]) for row in cursor.fetchall()]
    exists = _exists(cursor, HARBOR_DATABASE)
    tables, schema = schema_state(cursor) if exists else (0, None)
    partial = partial_load(cursor) if tables and not complete(tables, schema) else None
    results.append(
        _schema(where, tables, schema, partial)
        if exists
        else ok(
            "mariadb.schema",
            "database",
            f"{where}: no '{HARBOR_DATABASE}' database yet; the schema will be loaded",
        )
    )
    loading = tables == 0 or (partial is not None and not partial.data)
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


# --- flavour, version and the login Harbor itself will do --------------------------------


@dataclass(frozen=True)
class Server:
    raw: str
    """VERSION() as the server says it (10.11.19-MariaDB-0+deb12u1, 8.0.36)."""
    flavour: str
    """MariaDB or MySQL (Percona Server and other MySQL builds count as MySQL)."""
    version: str
    """major.minor.patch"""
    galera: bool
    """A Galera node (MariaDB Galera Cluster, Percona XtraDB Cluster): wsrep_on is ON."""

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version.split(".") if part.isdigit())


def server_facts(cursor: pymysql.cursors.Cursor) -> Server:
    cursor.execute("SELECT VERSION(), @@version_comment")
    row = cursor.fetchone()
    assert row is not None
    raw, comment = str(row[0]), str(row[1] or "")
    cursor.execute("SHOW GLOBAL VARIABLES LIKE 'wsrep_on'")
    wsrep = cursor.fetchone()
    number = re.match(r"\d+(?:\.\d+)*", raw)
    return Server(
        raw=raw,
        flavour=flavour(raw, comment),
        version=number.group(0) if number else raw,
        galera=bool(wsrep and str(wsrep[1]).upper() == "ON"),
    )


def flavour(version: str, comment: str) -> str:
    """MariaDB names itself in VERSION() (10.11.19-MariaDB-log); MySQL does not (8.0.36)."""
    return "MariaDB" if "mariadb" in f"{version} {comment}".lower() else "MySQL"


def _server_refused(exc: pymysql.MySQLError) -> bool:
    """The server refused a statement (syntax, privilege): not a lost connection."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return 1000 <= code < 2000 or code >= 3000


def account_methods(cursor: pymysql.cursors.Cursor) -> tuple[str, list[str] | None]:
    """The account the server matched (CURRENT_USER(), not the name typed: an anonymous or
    a wildcard-host account may be the one) and its authentication methods in the order
    the server tries them; None when the server shows neither.

    SHOW CREATE USER first: one's own account needs no privilege (MySQL 5.7+, MariaDB
    10.2+), and on MariaDB 10.4+ it shows a whole `VIA a OR b` chain where the mysql.user
    view shows one plugin of it. mysql.user (readable with SELECT on mysql) for older
    servers."""
    cursor.execute("SELECT CURRENT_USER()")
    account = str(_one(cursor))
    try:
        cursor.execute("SHOW CREATE USER CURRENT_USER()")
        row = cursor.fetchone()
        if row is not None:
            return account, methods_of(str(row[0]))
    except pymysql.MySQLError as exc:
        if not _server_refused(exc):
            raise
    user, _, host = account.rpartition("@")
    try:
        cursor.execute("SELECT plugin FROM mysql.user WHERE User = %s AND Host = %s", (user, host))
        row = cursor.fetchone()
        if row is not None:
            return account, [str(row[0] or "") or NATIVE]  # '' is native on old servers
    except pymysql.MySQLError as exc:
        if not _server_refused(exc):
            raise
    return account, None


_SECRET = re.compile(
    r"\b(AS|USING)\s+(?:PASSWORD\s*\(\s*)?(?:'(?:[^'\\]|\\.|'')*'|0x[0-9A-Fa-f]*)\s*\)?",
    re.I,
)
_END = re.compile(
    r"\b(?:REQUIRE|PASSWORD\s+EXPIRE|ACCOUNT|WITH\s+MAX_|DEFAULT\s+ROLE|COMMENT|ATTRIBUTE|"
    r"FAILED_LOGIN_ATTEMPTS|PASSWORD_LOCK_TIME|PASSWORD\s+HISTORY|PASSWORD\s+REUSE)\b",
    re.I,
)


def methods_of(create_user: str) -> list[str]:
    """The authentication plugins of a SHOW CREATE USER statement, first tried first.

    MySQL: `IDENTIFIED WITH 'caching_sha2_password' AS '...'`; MariaDB: `IDENTIFIED BY
    PASSWORD '*...'` (native), `IDENTIFIED VIA ed25519 USING '...' OR
    mysql_native_password USING '...'`; no IDENTIFIED at all is an account without a
    password, which logs in the native way."""
    text = _SECRET.sub(lambda m: f"{m.group(1)} ''", create_user)  # hashes may hold anything
    text = text[: m.start()] if (m := _END.search(text)) else text
    if re.search(r"\bIDENTIFIED\s+BY\s+PASSWORD\b", text, re.I):
        return [NATIVE]
    found = re.search(r"\bIDENTIFIED\s+(?:WITH|VIA)\s+(.*)", text, re.I | re.S)
    if not found:
        return [NATIVE]
    rest = found.group(1)
    first = re.match(r"\s*['`\"]?(\w+)", rest)
    chain = [first.group(1)] if first else []
    chain += re.findall(r"\bOR\s+['`\"]?(\w+)", rest, re.I)
    return [name.lower() for name in chain] or [NATIVE]


def quoted(account: str) -> str:
    """CURRENT_USER()'s `harbor@%` as SQL names it: 'harbor'@'%'."""
    user, _, host = account.rpartition("@")
    return f"'{user}'@'{host}'"


def login_refusal(server: Server, account: str, methods: list[str]) -> str | None:
    """Why Harbor 1.4's driver cannot log in to this account, with the fix; None if it can.

    The driver answers the server's greeting with a native scramble and nothing else: an
    account whose first method is another plugin asks it to switch (or fails outright),
    which it cannot (see the module's docstring)."""
    if methods and methods[0] == NATIVE:
        return None
    account = quoted(account)
    method = methods[0] if methods else "?"
    then = f" (then {', '.join(methods[1:])})" if len(methods) > 1 else ""
    why = (
        f"account {account} logs in with {method}{then}; Harbor 1.4's MySQL driver speaks "
        f"{NATIVE} only, so Harbor could not log in (harbor-wizard's own driver could)"
    )
    if server.flavour == "MariaDB":
        fix = f"ALTER USER {account} IDENTIFIED VIA {NATIVE} USING PASSWORD('<database.password>')"
    elif server.numbers >= (9,):
        return (
            f"{why}, and MySQL {server.version} has no {NATIVE} at all: "
            "use MariaDB or MySQL 8.0 for Harbor 1.4"
        )
    else:
        fix = f"ALTER USER {account} IDENTIFIED WITH {NATIVE} BY '<database.password>'"
        if server.numbers >= (8, 4):
            fix += f" (MySQL {server.version} also needs {NATIVE}=ON in its configuration)"
    return f"{why}: {fix}"


def _auth(where: str, server: Server, account: str, methods: list[str] | None) -> CheckResult:
    if methods is None:
        return warning(
            "mariadb.auth",
            "database",
            f"{where}: could not read how account {quoted(account)} logs in (no SHOW CREATE USER, "
            f"no access to mysql.user); Harbor 1.4 logs in with {NATIVE} only: make sure "
            "the account uses it",
            field_path="database.user",
        )
    refusal = login_refusal(server, account, methods)
    if refusal:
        return error("mariadb.auth", "database", f"{where}: {refusal}", field_path="database.user")
    return ok(
        "mariadb.auth",
        "database",
        f"{where}: account {quoted(account)} logs in with {NATIVE}, as Harbor 1.4 does",
        data={"methods": methods},
    )


# --- sql_mode: the schema load adapts, Harbor's own sessions do not ----------------------


def read_sql_mode(cursor: pymysql.cursors.Cursor) -> tuple[list[str], bool]:
    """The global sql_mode (what Harbor's sessions get: Harbor 1.4's DSN
    `user:pw@tcp(host:port)/registry` sets none) and explicit_defaults_for_timestamp
    (absent before MySQL 5.6.6: OFF)."""
    cursor.execute("SELECT @@GLOBAL.sql_mode")
    modes = [m for m in str(_one(cursor) or "").upper().split(",") if m]
    try:
        cursor.execute("SELECT @@GLOBAL.explicit_defaults_for_timestamp")
        explicit = str(_one(cursor)).upper() in ("1", "ON")
    except pymysql.MySQLError as exc:
        if not _server_refused(exc):
            raise
        explicit = False
    return modes, explicit


def _expanded(modes: list[str]) -> set[str]:
    found = set(modes)
    if "TRADITIONAL" in found:
        found |= {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "NO_ZERO_DATE", "NO_ZERO_IN_DATE"}
    if "ANSI" in found:
        found |= {"ANSI_QUOTES"}
    return found


def zero_date_defaults(modes: list[str], explicit: bool) -> bool:
    """Whether registry.sql stops under this mode: with explicit_defaults_for_timestamp OFF
    the second bare `timestamp` column of a table (user.update_time) gets the default
    '0000-00-00 00:00:00', which NO_ZERO_DATE refuses (error 1067), strict or not."""
    return not explicit and "NO_ZERO_DATE" in _expanded(modes)


def sql_mode_result(where: str, modes: list[str], explicit: bool) -> CheckResult:
    """What the global sql_mode does to the schema load (adapted: LOAD_SQL_MODE) and to
    Harbor 1.4 at run time (not adaptable: it uses the global mode)."""
    found = _expanded(modes)
    strict = bool(found & {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES"})
    zero = zero_date_defaults(modes, explicit)
    errors: list[str] = []
    warnings: list[str] = []
    drop: set[str] = set()
    if zero and strict:
        errors.append(
            "Harbor's own sessions run in it, and the tables get '0000-00-00' defaults "
            "(explicit_defaults_for_timestamp is OFF): creating a project fails, as Harbor "
            "adds its owner with `insert into project_member (project_id, user_id, role)` "
            "and that default is refused (MariaDB error 1978), and every later ALTER TABLE "
            "of user, project or project_member (an upgrade) fails (error 1067)"
        )
        drop |= {"NO_ZERO_DATE", "TRADITIONAL"}
    elif zero:
        warnings.append(
            "the tables get '0000-00-00' defaults (explicit_defaults_for_timestamp is OFF) "
            "and every later ALTER TABLE of user, project or project_member (an upgrade) "
            "fails with error 1067 while NO_ZERO_DATE is set"
        )
        drop |= {"NO_ZERO_DATE", "TRADITIONAL"}
    if "ONLY_FULL_GROUP_BY" in found:
        warnings.append(
            "Harbor 1.4 lists replication policies with `group by rp.id` and columns of "
            "other tables, which MariaDB refuses under ONLY_FULL_GROUP_BY (error 1055)"
        )
        drop |= {"ONLY_FULL_GROUP_BY"}
    if "ANSI_QUOTES" in found:
        warnings.append(
            'Harbor 1.4 writes string literals in double quotes (rj.status="error"), '
            "which ANSI_QUOTES turns into column names (error 1054)"
        )
        drop |= {"ANSI_QUOTES", "ANSI"}
    shown = ",".join(modes) or "(empty)"
    load = (
        f"registry.sql stops under it (Invalid default value for 'update_time'): harbor-wizard "
        f"loads the schema in a session with sql_mode '{LOAD_SQL_MODE}'. "
        if zero
        else ""
    )
    if not errors and not warnings:
        return ok(
            "mariadb.sql_mode",
            "database",
            f"{where}: global sql_mode '{shown}': {load}Harbor 1.4 and its schema work with it",
            data={"sql_mode": shown, "load_sql_mode": LOAD_SQL_MODE if zero else None},
        )
    kept = ",".join(m for m in modes if m not in drop)
    fix = (
        f"SET GLOBAL sql_mode = '{kept}' on the server, and the same sql_mode in its "
        "configuration file ([mysqld]) so that it survives a restart"
    )
    message = f"{where}: global sql_mode '{shown}': {load}" + "; ".join(errors + warnings)
    result = error if errors else warning
    return result(
        "mariadb.sql_mode",
        "database",
        f"{message}: {fix}",
        data={"sql_mode": shown, "load_sql_mode": LOAD_SQL_MODE if zero else None},
    )


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


def complete(tables: int, version: str | None) -> bool:
    """A whole Harbor 1.4 schema: kept as it is, never reloaded."""
    return version is not None and version.startswith("1.4") and tables >= HARBOR_TABLES


# --- a load that stopped half-way ---------------------------------------------------------


@dataclass(frozen=True)
class PartialLoad:
    """A load of registry.sql by harbor-wizard that started and never finished."""

    holder: str
    started: int
    """Unix time of the server's clock."""
    data: list[str]
    """What `registry` holds beyond the rows registry.sql itself inserts; empty: no data."""

    def words(self, tables: int) -> str:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started))
        head = (
            f"'{HARBOR_DATABASE}' was partly loaded by harbor-wizard ({self.holder}, "
            f"{when}; {tables} tables)"
        )
        if not self.data:
            return (
                f"{head} and holds no data beyond registry.sql's own rows: its tables will be "
                "dropped and the schema loaded again"
            )
        return (
            f"{head} and now holds data ({'; '.join(self.data)}): harbor-wizard will not "
            "touch it; check it by hand (drop the database if nothing in it is needed)"
        )


def partial_load(cursor: pymysql.cursors.Cursor) -> PartialLoad | None:
    """The marker of a load that started and did not finish, with what the database holds
    beyond the load's own rows; None without such a marker (loaded by hand, by another
    tool, or finished).

    "Holds no data" is concrete: every table of `registry` is one registry.sql creates and
    has no more rows than the file inserts into it (the marker keeps those counts: admin
    and anonymous in user, library in project, the roles, access codes, alembic_version).
    A user, project, repository, log or setting (Harbor's first start fills properties)
    makes it hold data."""
    cursor.execute(
        "SELECT COUNT(*) FROM information_schema.TABLES"
        " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'schema_load'",
        (LOCK_DATABASE,),
    )
    if not _one(cursor):
        return None
    cursor.execute(
        f"SELECT state, holder, started, seeds FROM {LOAD_TABLE} WHERE name = %s",
        (HARBOR_DATABASE,),
    )
    row = cursor.fetchone()
    if row is None or row[0] != "started":
        return None
    seeds = {str(k).lower(): int(v) for k, v in json.loads(str(row[3])).items()}
    cursor.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
        " ORDER BY TABLE_NAME",
        (HARBOR_DATABASE,),
    )
    data: list[str] = []
    for (table,) in cursor.fetchall():
        name = str(table)
        if name.lower() not in seeds:
            data.append(f"table '{name}', which registry.sql does not create")
            continue
        escaped = name.replace("`", "``")
        cursor.execute(f"SELECT COUNT(*) FROM `{HARBOR_DATABASE}`.`{escaped}`")
        rows, seed = int(_one(cursor)), seeds[name.lower()]
        if rows > seed:
            data.append(f"{name}: {rows} rows where registry.sql inserts {seed}")
    return PartialLoad(str(row[1]), int(row[2]), data)


def _schema(
    where: str, tables: int, version: str | None, partial: PartialLoad | None = None
) -> CheckResult:
    if tables == 0:
        return ok(
            "mariadb.schema",
            "database",
            f"{where}: '{HARBOR_DATABASE}' exists and is empty; the schema will be loaded",
        )
    if complete(tables, version):
        return ok(
            "mariadb.schema",
            "database",
            f"{where}: Harbor schema {version} already there ({tables} tables): "
            "kept as it is, never reloaded",
            data={"schema_version": version},
        )
    if partial is not None:
        words = f"{where}: {partial.words(tables)}"
        if not partial.data:
            return ok("mariadb.schema", "database", words)
        return error("mariadb.schema", "database", words, field_path="database.host")
    return error(
        "mariadb.schema",
        "database",
        f"{where}: '{HARBOR_DATABASE}' holds {tables} tables and schema version "
        f"{version or 'none'}: not a Harbor 1.4 schema nor empty; harbor-wizard will not load "
        "into it (the schema file drops the database): check it by hand",
        field_path="database.host",
    )
