"""The Harbor 2.x database phase: the database exists and is ready for Harbor's own migration.

Unlike 1.4 (steps/database.py loads a schema file under a lock), Harbor 2.x core migrates
its schema itself on start, under golang-migrate's advisory lock, so the nodes may start
together. What is left to the wizard is the database: created when missing (owned by
Harbor's user, so that on PostgreSQL 15+ it may create tables in schema public) if that user
may CREATEDB; otherwise the step stops naming the statement a superuser must run. Everything
else Harbor needs of it (version, rights, contents: checks/harbor_db.py) is proved before
the step says it is ready; nothing here ever drops or alters what a database holds.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql

from harbor_wizard.checks.harbor_db import (
    MAINTENANCE,
    CannotTell,
    State,
    assess,
    create_database_sql,
    database_result,
    login_failure,
    survey,
)
from harbor_wizard.checks.postgres import failure, session
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed

ANSWER_TIMEOUT = 20.0
"""Connect and answer time-out of the step's sessions: only a silent server reaches it."""


class PrepareHarborDatabase(Action):
    """Idempotent: `inspect` is None once the database exists and is ready for Harbor."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        database: str,
        ssl_mode: str = "disable",
        password_key: str = "database.password",
        timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self.host, self.port, self.user, self.database = host, port, user, database
        self.ssl_mode = ssl_mode
        self.password_key = password_key
        """Where the password is in the run's secrets (never kept by the step)."""
        self.timeout = timeout
        self.step_id = "harbor-database"
        self.title = (
            f"Harbor database '{database}' on {host}:{port} "
            "(created if missing; Harbor migrates its schema itself)"
        )

    @property
    def where(self) -> str:
        return f"PostgreSQL at {self.host}:{self.port}"

    def fingerprint(self) -> str:
        parts = (type(self).__name__, self.host, str(self.port), self.user, self.database,
                 self.ssl_mode)  # fmt: skip
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def _session(self, ctx: StepContext, database: str) -> psycopg.Connection:
        password = ctx.inputs.secrets[self.password_key]
        return session(
            self.host, self.port, self.user, password, database, self.timeout, self.ssl_mode, True
        )

    def _state(self, ctx: StepContext) -> State:
        """The database's State; StepFailed in the check's words when it cannot be read."""
        try:
            return survey(
                self.host,
                self.port,
                self.user,
                ctx.inputs.secrets[self.password_key],
                self.database,
                self.ssl_mode,
                self.timeout,
            )
        except CannotTell as exc:
            raise StepFailed(
                f"{self.where}: database '{self.database}' does not exist, and user "
                f"'{self.user}' may not log in to {' or '.join(MAINTENANCE)} to create it "
                f"({exc.reason}): as a superuser run "
                f"{create_database_sql(self.database, self.user)}"
            ) from None
        except psycopg.Error as exc:
            message, _ = login_failure(self.where, self.user, self.database, exc, self.timeout)
            raise StepFailed(message) from None

    def _ready(self, state: State) -> None:
        """StepFailed naming every fix still needed; nothing when Harbor may start on it."""
        results = assess(self.where, self.user, self.database, state)
        failed = [r.message for r in results if r.failed]
        if failed:
            raise StepFailed("; ".join(failed))

    def inspect(self, ctx: StepContext) -> Change | None:
        state = self._state(ctx)
        if state.exists:
            self._ready(state)
            return None
        verdict = database_result(self.where, self.user, self.database, state)
        if verdict.failed:
            raise StepFailed(verdict.message)
        self._ready(state)  # the server's version
        return Change(
            f"no database '{self.database}': create it, owned by '{self.user}'", kind="create"
        )

    def apply(self, ctx: StepContext, change: Change) -> str:
        statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(self.database), sql.Identifier(self.user)
        )
        done = f"created database '{self.database}', owned by '{self.user}'"
        reason = ""
        for other in MAINTENANCE:
            if other == self.database:
                continue
            try:
                with self._session(ctx, other) as conn:
                    conn.execute(statement)  # autocommit: CREATE DATABASE takes no transaction
                break
            except psycopg.errors.DuplicateDatabase:
                done = f"database '{self.database}' was created meanwhile (another run)"
                break
            except psycopg.OperationalError as exc:
                reason = failure(exc, self.timeout)
            except psycopg.Error as exc:
                raise StepFailed(
                    f"{self.where}: creating database '{self.database}' failed "
                    f"({failure(exc, self.timeout)}): as a superuser run "
                    f"{create_database_sql(self.database, self.user)}"
                ) from None
        else:
            raise StepFailed(
                f"{self.where}: user '{self.user}' may not log in to "
                f"{' or '.join(MAINTENANCE)} to create database '{self.database}' ({reason}): "
                f"as a superuser run {create_database_sql(self.database, self.user)}"
            )
        state = self._state(ctx)
        if not state.exists:
            raise StepFailed(f"{self.where}: database '{self.database}' is still missing")
        self._ready(state)
        return f"{done}; Harbor creates its schema on first start"
