"""The Harbor DB schema: loaded once, only into an empty database, under a lock.

Why so careful: Harbor 1.4's ``ha/registry.sql`` begins with ``drop database if exists
registry;``. Loading it into a database that holds data wipes every user, project and
repository. So the drop is never executed, a database with any table is never loaded
into, and two runs cannot race (MariaDB's GET_LOCK).
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pymysql

from harbor_wizard.checks.mariadb import HARBOR_DATABASE, HARBOR_TABLES, connect, schema_state
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed

SCHEMA_MEMBER = "harbor/ha/registry.sql"
LOCK = "harbor-wizard-schema"
LOCK_SECONDS = 60


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


def read_schema(installer: Path) -> str:
    with tarfile.open(installer, "r:*") as archive:
        member = archive.extractfile(SCHEMA_MEMBER)
        if member is None:
            raise StepFailed(f"{installer} has no {SCHEMA_MEMBER}")
        return member.read().decode()


class LoadSchema(Action):
    def __init__(self, installer: Path) -> None:
        self.installer = installer
        self.step_id = "schema"
        self.title = f"Harbor schema (ha/registry.sql, only into an empty '{HARBOR_DATABASE}')"

    def _connect(self, ctx: StepContext) -> pymysql.Connection:
        answers = ctx.inputs.answers
        try:
            conn = connect(answers.database, ctx.inputs.secrets["database.password"], 10)
        except pymysql.MySQLError as exc:
            raise StepFailed(f"MariaDB at {answers.database.host}: {exc.args[-1]}") from None
        conn.autocommit(True)
        return conn

    @staticmethod
    def _state(cursor: pymysql.cursors.Cursor) -> tuple[bool, int, str | None]:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            (HARBOR_DATABASE,),
        )
        row = cursor.fetchone()
        exists = bool(row and row[0])
        tables, version = schema_state(cursor) if exists else (0, None)
        return exists, tables, version

    def _judge(self, exists: bool, tables: int, version: str | None) -> Change | None:
        if not exists or tables == 0:
            return Change(
                "empty database: load the schema" if exists else "no database: load the schema"
            )
        if version is not None and version.startswith("1.4") and tables >= HARBOR_TABLES:
            return None
        raise StepFailed(
            f"'{HARBOR_DATABASE}' holds {tables} tables and schema version {version or 'none'}: "
            "neither empty nor a Harbor 1.4 schema; not loading into it (check it by hand)"
        )

    def inspect(self, ctx: StepContext) -> Change | None:
        with self._connect(ctx) as conn, conn.cursor() as cursor:
            exists, tables, version = self._state(cursor)
            change = self._judge(exists, tables, version)
            if change is None:
                ctx.facts["schema_version"] = version or ""
            return change

    def apply(self, ctx: StepContext, change: Change) -> str:
        sql = read_schema(self.installer)
        with self._connect(ctx) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, %s)", (LOCK, LOCK_SECONDS))
            row = cursor.fetchone()
            if not row or row[0] != 1:
                raise StepFailed(f"another run holds the schema lock '{LOCK}'")
            try:
                exists, tables, version = self._state(cursor)
                if self._judge(exists, tables, version) is None:
                    return f"Harbor schema {version} was loaded meanwhile; kept"
                for statement in schema_statements(sql, exists):
                    cursor.execute(statement)
                _, tables, version = self._state(cursor)
            finally:
                cursor.execute("SELECT RELEASE_LOCK(%s)", (LOCK,))
        if tables < HARBOR_TABLES or version is None:
            raise StepFailed(
                f"after loading, '{HARBOR_DATABASE}' has {tables} tables, version {version}"
            )
        return f"loaded Harbor schema {version} ({tables} tables)"
