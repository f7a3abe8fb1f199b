"""Harbor DB: the external MariaDB that holds Harbor 1.4's ``registry`` database, or the
external PostgreSQL of Harbor 2.x (its database name and TLS mode are answers there)."""

from __future__ import annotations

from functools import partial

from pydantic import SecretStr, ValidationError
from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.answers.model import Database
from harbor_wizard.views.fields import Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck

SSL_MODES = ("disable", "require", "verify-ca", "verify-full")


class DatabaseScreen(FormScreen):
    CSS_PATH = "database.tcss"
    TITLE_TEXT = "Harbor DB: the external MariaDB (database 'registry')"
    SECTIONS = ("database",)

    @property
    def postgres(self) -> bool:
        return self.draft.release() != "1.4"

    def title_text(self) -> str:
        if self.postgres:
            return "Harbor DB: the external PostgreSQL (Harbor 2.15)"
        return self.TITLE_TEXT

    def fields(self) -> ComposeResult:
        yield from self._stray_engine()
        if self.postgres:
            yield from self._postgres_fields()
            return
        yield self.row(Spec("database.host", "Host", placeholder="db.example.com"))
        yield self.row(Spec("database.port", "Port", "int"), 3306)
        yield self.row(Spec("database.user", "User"), "root")
        yield self.row(Spec("database.password", "Password", "secret"))
        yield Static(
            "The wizard logs in now to prove it, and asks whether the server is replicated "
            "(alone, it is a warning); Harbor 1.4 names its database 'registry'.",
            classes="explain",
        )

    def _stray_engine(self) -> ComposeResult:
        """An opened file's engine that this release does not use (MariaDB for 2.x,
        PostgreSQL for 1.4): refused on a field that offers the right one."""
        engine = self.draft.get("database.engine")
        right = "postgresql" if self.postgres else "mariadb"
        if engine is not None and engine != right:
            yield self.row(Spec("database.engine", "Engine", "choice", (str(engine), right)))

    def _postgres_fields(self) -> ComposeResult:
        yield self.row(Spec("database.host", "Host", placeholder="pg.example.com"))
        yield self.row(Spec("database.port", "Port", "int"), 5432)
        yield self.row(Spec("database.user", "User"), "postgres")
        yield self.row(Spec("database.database", "Database"), "registry")
        yield self.row(Spec("database.ssl_mode", "TLS (sslmode)", "choice", SSL_MODES))
        yield self.row(Spec("database.password", "Password", "secret"))
        yield Static(
            "Harbor creates its tables itself. The wizard logs in now as Harbor does, and "
            "checks the server (PostgreSQL 12 or later), the database (or the right to "
            "create it) and the right to create tables in it.",
            classes="explain",
        )

    def live_checks(self) -> list[LiveCheck]:
        return [LiveCheck("database", "database.host", ("database",), self._job)]

    def _job(self) -> Job | None:
        try:
            database = Database.model_validate(self.draft.get("database"))
        except ValidationError:
            return None
        password = SecretStr(self.draft.secrets.get("database.password", ""))
        if self.postgres:
            return partial(self.wizard.probes.harbor_db, database, password)
        return partial(self.wizard.probes.mariadb, database, password)
