"""Redis: the one endpoint Harbor 1.4 uses for sessions and the job service."""

from __future__ import annotations

from functools import partial

from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.views.fields import FieldRow, Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck

ENDPOINT = "redis.endpoints[0]"


class RedisScreen(FormScreen):
    CSS_PATH = "redis.tcss"
    TITLE_TEXT = "5 Redis: one endpoint, without a password (Harbor 1.4 sends none)"
    SECTIONS = ("redis",)

    def fields(self) -> ComposeResult:
        yield self.row(
            Spec(ENDPOINT, "Endpoint", placeholder="host:6379", also=("redis.endpoints", "redis"))
        )
        yield Static(
            "Harbor 1.4's registry connects to one host:port with no password: keep this "
            "Redis on a protected network. The wizard asks it for its replicas and "
            "Sentinels (alone, it is a warning).",
            classes="explain",
        )

    def edited(self, row: FieldRow) -> None:
        if row.spec.path == ENDPOINT:
            value = str(row.value)
            self.draft.set("redis.endpoints", [value] if value else [])

    def live_checks(self) -> list[LiveCheck]:
        return [LiveCheck("redis", ENDPOINT, ("redis",), self._job)]

    def _job(self) -> Job | None:
        return partial(self.wizard.probes.redis, str(self.draft.get(ENDPOINT)))
