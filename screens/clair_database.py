"""Clair DB: the external PostgreSQL of vulnerability scanning (only with Clair)."""

from __future__ import annotations

from functools import partial

from pydantic import SecretStr, ValidationError
from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.answers.model import ClairDatabase
from harbor_wizard.views.fields import Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck


class ClairDatabaseScreen(FormScreen):
    CSS_PATH = "clair_database.tcss"
    TITLE_TEXT = "Clair DB: the external PostgreSQL for vulnerability scanning"
    SECTIONS = ("clair_database",)

    def fields(self) -> ComposeResult:
        yield self.row(Spec("clair_database.host", "Host", placeholder="pg.example.com"))
        yield self.row(Spec("clair_database.port", "Port", "int"), 5432)
        yield self.row(Spec("clair_database.user", "User"), "postgres")
        yield self.row(Spec("clair_database.database", "Database"), "postgres")
        yield self.row(Spec("clair_database.password", "Password", "secret"))
        yield Static(
            "Clair 1.4 uses the database named after its user. The wizard logs in now, and "
            "asks whether the server streams to a replica (alone, it is a warning).",
            classes="explain",
        )

    def live_checks(self) -> list[LiveCheck]:
        return [LiveCheck("clair", "clair_database.host", ("clair_database",), self._job)]

    def _job(self) -> Job | None:
        try:
            clair = ClairDatabase.model_validate(self.draft.get("clair_database"))
        except ValidationError:
            return None
        password = SecretStr(self.draft.secrets.get("clair_database.password", ""))
        return partial(self.wizard.probes.postgres, clair, password)
