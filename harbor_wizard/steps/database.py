"""The Harbor DB schema: loaded once, only into an empty database, under a lock.

Why so careful: Harbor 1.4's ``ha/registry.sql`` begins with ``drop database if exists
registry;``. Loading it into a database that holds data wipes every user, project and
repository. So the drop is never executed, a database with any table is never loaded
into, and two runs cannot race (``SchemaLock``).

The one exception is a load of ours that stopped half-way (DDL commits as it goes, so a
failure leaves some tables): a row in ``harbor_wizard.schema_load`` says 'started' before
the first statement and 'finished' after the check, and keeps how many rows the file
inserts into each table. A database whose marker says 'started' and that holds nothing
beyond those rows (checks/mariadb.py ``partial_load``) has its tables dropped and is
loaded again; one that holds anything more is never touched.

The load runs in a session with sql_mode ``LOAD_SQL_MODE``: the file was written for a
lenient server and stops under NO_ZERO_DATE (checks/mariadb.py says what that mode does
to Harbor itself).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import secrets
import socket
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import pymysql

from harbor_wizard.checks.mariadb import (
    HARBOR_DATABASE,
    LOAD_SQL_MODE,
    LOAD_TABLE,
    LOCK_DATABASE,
    PartialLoad,
    complete,
    connect,
    failure,
    partial_load,
    schema_state,
)
from harbor_wizard.lock import process_start
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed

LOCK_TABLE = f"`{LOCK_DATABASE}`.schema_lock"
LOCK_NAME = "harbor-schema"
LOCK_WAIT = 60.0
"""Seconds a second run waits for the first one's load (seconds of work) before refusing."""
LOCK_STALE = 120
"""Seconds without a heartbeat after which a lock's holder counts as gone (a crash, a
power loss): every statement of a load refreshes it and none may take longer than
ANSWER_TIMEOUT, so a live holder is never this quiet."""
SERVER_WAIT = 10
"""The session's innodb_lock_wait_timeout and lock_wait_timeout: the server gives up
waiting for a row or table lock (and says so) before the client gives up on the server."""
ANSWER_TIMEOUT = 20.0
"""Connect, read and write timeout of the schema connection: longer than any wait the
server may do for us (SERVER_WAIT), so only a silent server reaches it; short enough that
the step names a silent server within 30 s."""
_CONTENDED = {1062, 1205, 1213}
"""Duplicate key (held), lock wait timeout, deadlock (Galera: another node's insert won
certification): someone else got there first."""
_HELD: set[str] = set()
"""Tokens of the locks this process holds now: a row with this machine, this pid and
another token was left by an earlier attempt of this process (the TUI's retry)."""


class SchemaLock:
    """A row in ``harbor_wizard.schema_lock`` (primary key = lock name): who holds it,
    from which machine and process, and when it last showed life (the server's clock).

    Why a row, not GET_LOCK or LOCK TABLES: both are local to one server. On a Galera
    cluster behind one address two runs may reach two nodes and both "hold" the lock, and
    MariaDB 10.4.29/10.5.20/10.6.13/10.11.3 refuse GET_LOCK on a Galera node outright
    (error 1235, MDEV-30473). An INSERT on a primary key is replicated and certified:
    on one server the second insert meets the key (1062); on Galera two concurrent
    inserts on two nodes cannot both commit (the loser gets 1213), and once committed the
    row is on every node. The schema's DDL (replicated in total order) is applied on a
    node before any later change of the lock row, so whoever gets the lock next sees the
    schema its predecessor loaded. A row outlives a crashed holder, so it is taken over
    when provably stale: its process is gone (same machine) or it has been silent for
    LOCK_STALE seconds.
    """

    def __init__(self, cursor: pymysql.cursors.Cursor, where: str) -> None:
        self.cursor = cursor
        self.where = where
        self.token = secrets.token_hex(8)
        self.machine = socket.gethostname()[:255]
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = str(os.getuid())
        self.holder = f"{user}@{self.machine} pid {os.getpid()}"[:255]

    def acquire(
        self,
        wait: float = LOCK_WAIT,
        cancelled: Callable[[], bool] = lambda: False,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        """Take the lock, waiting up to `wait` seconds for its holder; StepFailed when it
        stays held (naming the holder) or the run is cancelled."""
        self.cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{LOCK_DATABASE}`")
        self.cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} ("
            " name VARCHAR(64) NOT NULL PRIMARY KEY,"
            " token CHAR(16) NOT NULL, holder VARCHAR(255) NOT NULL,"
            " machine VARCHAR(255) NOT NULL, pid INT NOT NULL,"
            " taken BIGINT NOT NULL, beat BIGINT NOT NULL) ENGINE=InnoDB"
        )
        _HELD.add(self.token)  # before the row exists: a thread of ours never takes it over
        try:
            self._wait(wait, cancelled, say)
        except BaseException:
            _HELD.discard(self.token)
            raise

    def _wait(self, wait: float, cancelled: Callable[[], bool], say: Callable[[str], None]) -> None:
        deadline = time.monotonic() + wait
        waiting = ""
        while True:
            if self._insert():
                return
            row = self._holder_row()
            if row is not None:
                token, holder, machine, pid, held_for, silent_for = row
                stale = self._stale(token, machine, pid, silent_for)
                if stale and self._take_over(token):
                    say(f"took over the schema lock of {holder}: {stale}")
                    return
                if waiting != token:
                    say(f"waiting up to {wait:g} s for the schema lock held by {holder}")
                    waiting = token
                if time.monotonic() >= deadline:
                    raise StepFailed(
                        f"{self.where}: another run holds the schema lock ({LOCK_TABLE}): "
                        f"{holder}, for {held_for} s; run again when it has finished "
                        f"(a holder silent for {LOCK_STALE} s is taken over)"
                    )
            if cancelled():
                raise StepFailed(f"{self.where}: stopped while waiting for the schema lock")
            time.sleep(0.5)

    def _insert(self) -> bool:
        try:
            self.cursor.execute(
                f"INSERT INTO {LOCK_TABLE} (name, token, holder, machine, pid, taken, beat)"
                " VALUES (%s, %s, %s, %s, %s, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())",
                (LOCK_NAME, self.token, self.holder, self.machine, os.getpid()),
            )
        except pymysql.MySQLError as exc:
            if exc.args and exc.args[0] in _CONTENDED:
                return False
            raise
        return True

    def _holder_row(self) -> tuple[str, str, str, int, int, int] | None:
        self.cursor.execute(
            "SELECT token, holder, machine, pid, UNIX_TIMESTAMP() - taken,"
            f" UNIX_TIMESTAMP() - beat FROM {LOCK_TABLE} WHERE name = %s",
            (LOCK_NAME,),
        )
        row = self.cursor.fetchone()
        if row is None:
            return None  # released meanwhile: insert again
        token, holder, machine, pid, held_for, silent_for = row
        return str(token), str(holder), str(machine), int(pid), int(held_for), int(silent_for)

    def _stale(self, token: str, machine: str, pid: int, silent_for: int) -> str:
        """Why the holder is gone, or "" while it may be alive."""
        if machine == self.machine and token not in _HELD:
            if pid == os.getpid():
                return "an earlier attempt of this process"
            if process_start(pid) is None:  # gone, or only its zombie
                return f"its process {pid} no longer exists on this machine"
        if silent_for >= LOCK_STALE:
            return f"no sign of life for {silent_for} s"
        return ""

    def _take_over(self, token: str) -> bool:
        """Replace the holder only if it is still the one judged stale (compare and swap;
        on Galera a concurrent takeover on another node loses certification)."""
        try:
            self.cursor.execute(
                f"UPDATE {LOCK_TABLE} SET token = %s, holder = %s, machine = %s, pid = %s,"
                " taken = UNIX_TIMESTAMP(), beat = UNIX_TIMESTAMP()"
                " WHERE name = %s AND token = %s",
                (self.token, self.holder, self.machine, os.getpid(), LOCK_NAME, token),
            )
        except pymysql.MySQLError as exc:
            if exc.args and exc.args[0] in _CONTENDED:
                return False
            raise
        return self.cursor.rowcount == 1

    def beat(self) -> None:
        """Show life; StepFailed when the lock was taken over meanwhile."""
        self.cursor.execute(
            f"UPDATE {LOCK_TABLE} SET beat = UNIX_TIMESTAMP() WHERE name = %s AND token = %s",
            (LOCK_NAME, self.token),
        )
        if self.cursor.rowcount == 1:
            return
        self.cursor.execute(f"SELECT holder FROM {LOCK_TABLE} WHERE token = %s", (self.token,))
        if self.cursor.fetchone() is None:  # 0 rows also when beat had the same value
            raise StepFailed(f"{self.where}: the schema lock was taken over by another run")

    def release(self) -> None:
        _HELD.discard(self.token)
        self.cursor.execute(
            f"DELETE FROM {LOCK_TABLE} WHERE name = %s AND token = %s", (LOCK_NAME, self.token)
        )


def split_sql(text: str) -> list[str]:
    """Statements of a MySQL script: comments (#, --, /* */) dropped, quotes respected."""
    statements: list[str] = []
    current: list[str] = []
    i, quote = 0, ""
    while i < len(text):
        char = text[i]
        if quote:
            current.append(char)
            if char == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
            current.append(char)
        elif char == "#" or text.startswith("-- ", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            continue
        elif char == ";":
            statement = "".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
        else:
            current.append(char)
        i += 1
    tail = "".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


_DROP = re.compile(r"^drop\s+database\b", re.I)
_CREATE_DB = re.compile(r"^create\s+database\b", re.I)


def schema_statements(sql: str, database_exists: bool) -> list[str]:
    """The file's statements without any DROP DATABASE, and without CREATE DATABASE when
    an (empty) database is already there."""
    statements = [s for s in split_sql(sql) if not _DROP.match(s)]
    if database_exists:
        statements = [s for s in statements if not _CREATE_DB.match(s)]
    return statements


_CREATE_AUTO = re.compile(r"^create\s+table\s+`?(\w+)`?[^;]*\bauto_increment\b", re.I | re.S)
_INSERT = re.compile(r"^insert\s+into\s+`?(\w+)`?\s*(\([^)]*\))\s*values\s*(.*)$", re.I | re.S)


def _rows(values: str) -> list[str]:
    """The top-level `( ... )` tuples of a VALUES list, quotes and escapes respected."""
    rows: list[str] = []
    depth, start, quote, i = 0, 0, "", 0
    while i < len(values):
        char = values[i]
        if quote:
            i += 1 if char == "\\" else 0  # skip the escaped character
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
            start = i if depth == 1 else start
        elif char == ")":
            depth -= 1
            if depth == 0:
                rows.append(values[start : i + 1])
        i += 1
    return rows


def numbered_rows(statements: list[str]) -> list[str]:
    """The seed rows of tables with an AUTO_INCREMENT key, one INSERT each, with the id a
    fresh table on a single server gives them (``SET insert_id``: 1, 2, 3...).

    Why: Harbor knows its seed rows by id (admin is user 1 and owns project 1, roles 1-3
    are projectAdmin, developer, guest), and Galera numbers new rows of node i of n as
    i, i+n, i+2n (wsrep_auto_increment_control), ignoring the session's own settings.
    """
    auto: set[str] = set()
    numbered: list[str] = []
    for statement in statements:
        create = _CREATE_AUTO.match(statement)
        if create:
            auto.add(create.group(1).lower())
        insert = _INSERT.match(statement)
        if not insert or insert.group(1).lower() not in auto:
            numbered.append(statement)
            continue
        table, columns, values = insert.groups()
        for number, row in enumerate(_rows(values), 1):
            numbered.append(f"SET insert_id = {number}")
            numbered.append(f"INSERT INTO `{table}` {columns} VALUES {row}")
    return numbered


_CREATE_TABLE = re.compile(r"^create\s+table\s+(?:if\s+not\s+exists\s+)?`?(\w+)`?", re.I)
_ANY_INSERT = re.compile(
    r"^insert\s+into\s+`?(\w+)`?\s*(?:\([^)]*\)\s*)?values\s*(.*)$", re.I | re.S
)


def seed_rows(statements: list[str]) -> dict[str, int]:
    """Every table the statements create, with the number of rows they insert into it: what
    a database loaded by them and never used holds (checks/mariadb.py ``partial_load``)."""
    seeds: dict[str, int] = {}
    for statement in statements:
        create = _CREATE_TABLE.match(statement)
        if create:
            seeds.setdefault(create.group(1).lower(), 0)
        insert = _ANY_INSERT.match(statement)
        if insert:
            table = insert.group(1).lower()
            seeds[table] = seeds.get(table, 0) + len(_rows(insert.group(2)))
    return seeds


def read_schema(installer: Path, name: str) -> str:
    """The schema file `name` (a tar member, from the profile) of the offline installer."""
    with tarfile.open(installer, "r:*") as archive:
        member = archive.extractfile(name)
        if member is None:
            raise StepFailed(f"{installer} has no {name}")
        return member.read().decode()


class LoadSchema(Action):
    def __init__(self, installer: Path, schema: str, lock_wait: float = LOCK_WAIT) -> None:
        self.installer = installer
        self.schema = schema
        """The installer's schema file (a tar member, from the profile)."""
        self.lock_wait = lock_wait
        self.step_id = "schema"
        name = PurePosixPath(schema).relative_to(PurePosixPath(schema).parts[0])
        self.title = f"Harbor schema ({name}, only into an empty '{HARBOR_DATABASE}')"

    @contextlib.contextmanager
    def _session(self, ctx: StepContext) -> Iterator[tuple[pymysql.cursors.Cursor, str]]:
        """A cursor on the Harbor DB and the server's name; any failure of it, a silent
        server included, ends the step with a message that names the server.

        """
        database = ctx.inputs.answers.database
        where = f"MariaDB at {database.host}:{database.port}"
        try:
            conn = connect(database, ctx.inputs.secrets["database.password"], ANSWER_TIMEOUT)
            with conn, conn.cursor() as cursor:
                conn.autocommit(True)
                cursor.execute(
                    "SET SESSION innodb_lock_wait_timeout = %s, lock_wait_timeout = %s",
                    (SERVER_WAIT, SERVER_WAIT),
                )
                yield cursor, where
        except pymysql.MySQLError as exc:
            raise StepFailed(f"{where}: {failure(exc, ANSWER_TIMEOUT)}") from None

    @staticmethod
    def _state(cursor: pymysql.cursors.Cursor) -> tuple[bool, int, str | None, PartialLoad | None]:
        """Whether `registry` exists, its tables, schema version and, for a schema neither
        empty nor whole, the marker of our load that stopped half-way."""
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            (HARBOR_DATABASE,),
        )
        row = cursor.fetchone()
        exists = bool(row and row[0])
        tables, version = schema_state(cursor) if exists else (0, None)
        partial = partial_load(cursor) if tables and not complete(tables, version) else None
        return exists, tables, version, partial

    def _judge(
        self, exists: bool, tables: int, version: str | None, partial: PartialLoad | None
    ) -> Change | None:
        if not exists or tables == 0:
            return Change(
                "empty database: load the schema" if exists else "no database: load the schema"
            )
        if complete(tables, version):
            return None
        if partial is not None and not partial.data:
            return Change(
                f"partly loaded by an earlier run ({partial.holder}), no data: drop its "
                f"{tables} tables and load the schema again"
            )
        if partial is not None:
            raise StepFailed(partial.words(tables))
        raise StepFailed(
            f"'{HARBOR_DATABASE}' holds {tables} tables and schema version {version or 'none'}: "
            "neither empty nor a Harbor 1.4 schema; not loading into it (check it by hand)"
        )

    def inspect(self, ctx: StepContext) -> Change | None:
        with self._session(ctx) as (cursor, _):
            exists, tables, version, partial = self._state(cursor)
            change = self._judge(exists, tables, version, partial)
            if change is None:
                ctx.facts["schema_version"] = version or ""
            return change

    @staticmethod
    def _drop_tables(cursor: pymysql.cursors.Cursor) -> None:
        """Drop what a stopped load of ours left (judged under the lock to hold no data)."""
        cursor.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
            (HARBOR_DATABASE,),
        )
        names = [str(row[0]).replace("`", "``") for row in cursor.fetchall()]
        cursor.execute("SET SESSION foreign_key_checks = 0")
        try:
            for name in names:
                cursor.execute(f"DROP TABLE IF EXISTS `{HARBOR_DATABASE}`.`{name}`")
        finally:
            cursor.execute("SET SESSION foreign_key_checks = 1")

    @staticmethod
    def _mark(cursor: pymysql.cursors.Cursor, lock: SchemaLock, seeds: dict[str, int]) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {LOAD_TABLE} ("
            " name VARCHAR(64) NOT NULL PRIMARY KEY, state VARCHAR(16) NOT NULL,"
            " holder VARCHAR(255) NOT NULL, started BIGINT NOT NULL, finished BIGINT NULL,"
            " seeds TEXT NOT NULL) ENGINE=InnoDB"
        )
        cursor.execute(
            f"INSERT INTO {LOAD_TABLE} (name, state, holder, started, finished, seeds)"
            " VALUES (%s, 'started', %s, UNIX_TIMESTAMP(), NULL, %s)"
            " ON DUPLICATE KEY UPDATE state = 'started', holder = VALUES(holder),"
            " started = VALUES(started), finished = NULL, seeds = VALUES(seeds)",
            (HARBOR_DATABASE, lock.holder, json.dumps(seeds, sort_keys=True)),
        )

    def apply(self, ctx: StepContext, change: Change) -> str:
        sql = read_schema(self.installer, self.schema)
        with self._session(ctx) as (cursor, where):
            lock = SchemaLock(cursor, where)
            lock.acquire(self.lock_wait, ctx.cancelled, ctx.emit_line)
            try:
                exists, tables, version, partial = self._state(cursor)
                if self._judge(exists, tables, version, partial) is None:
                    return f"Harbor schema {version} was loaded meanwhile; kept"
                statements = numbered_rows(schema_statements(sql, exists))
                if tables:  # _judge let it through: our stopped load, no data
                    ctx.emit_line(f"dropping the {tables} tables of an earlier stopped load")
                    self._drop_tables(cursor)
                self._mark(cursor, lock, seed_rows(statements))
                cursor.execute("SET SESSION sql_mode = %s", (LOAD_SQL_MODE,))
                for statement in statements:
                    cursor.execute(statement)
                    if not statement.startswith("SET "):  # insert_id is for the next one
                        lock.beat()
                _, tables, version, _ = self._state(cursor)
                if complete(tables, version):
                    cursor.execute(
                        f"UPDATE {LOAD_TABLE} SET state = 'finished', finished = UNIX_TIMESTAMP()"
                        " WHERE name = %s",
                        (HARBOR_DATABASE,),
                    )
            finally:
                with contextlib.suppress(pymysql.MySQLError):  # a dead link: it goes stale
                    lock.release()
        if not complete(tables, version):
            raise StepFailed(
                f"after loading, '{HARBOR_DATABASE}' has {tables} tables, version {version}"
            )
        return f"loaded Harbor schema {version} ({tables} tables)"
