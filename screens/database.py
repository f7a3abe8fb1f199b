"""Harbor DB: the external MariaDB that holds Harbor's ``registry`` database."""

from __future__ import annotations

from functools import partial

from pydantic import SecretStr, ValidationError
from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.answers.model import Database
from harbor_wizard.views.fields import Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck


class DatabaseScreen(FormScreen):
    CSS_PATH = "database.tcss"
    TITLE_TEXT = "3 Harbor DB: the external MariaDB (database 'registry')"
    SECTIONS = ("database",)

    def fields(self) -> ComposeResult:
        yield self.row(Spec("database.host", "Host", placeholder="db.example.com"))
        yield self.row(Spec("database.port", "Port", "int"), 3306)
        yield self.row(Spec("database.user", "User"), "root")
        yield self.row(Spec("database.password", "Password", "secret"))
        yield Static(
            "The wizard logs in now to prove it, and asks whether the server is replicated "
            "(alone, it is a warning); Harbor 1.4 names its database 'registry'.",
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
        return partial(self.wizard.probes.mariadb, database, password)
