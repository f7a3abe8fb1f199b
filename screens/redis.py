"""Redis: the one endpoint Harbor 1.4 uses for sessions and the job service; for Harbor
2.x, one server or its Sentinels, with a password and (advanced) each component's index."""

from __future__ import annotations

import re
from functools import partial

from pydantic import SecretStr, ValidationError
from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.answers.rules import REDIS_DB_INDEXES
from harbor_wizard.views.fields import FieldRow, Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck

ENDPOINT = "redis.endpoints[0]"
ENDPOINTS = "redis.endpoints"
INDEX_LABELS = {
    "registry_db_index": "Registry DB index",
    "jobservice_db_index": "Job service DB index",
    "trivy_db_index": "Trivy DB index",
}


class RedisScreen(FormScreen):
    CSS_PATH = "redis.tcss"
    TITLE_TEXT = "Redis: one endpoint, without a password (Harbor 1.4 sends none)"
    SECTIONS = ("redis",)

    @property
    def harbor_2(self) -> bool:
        return self.draft.release() != "1.4"

    def title_text(self) -> str:
        if self.harbor_2:
            return "Redis: a server or its Sentinels, with a password (Harbor 2.15)"
        return self.TITLE_TEXT

    def fields(self) -> ComposeResult:
        if self.harbor_2:
            yield from self._harbor_2_fields()
            return
        yield self.row(
            Spec(ENDPOINT, "Endpoint", placeholder="host:6379", also=("redis.endpoints", "redis"))
        )
        yield Static(
            "Harbor 1.4's registry connects to one host:port with no password: keep this "
            "Redis on a protected network. The wizard asks it for its replicas and "
            "Sentinels (alone, it is a warning).",
            classes="explain",
        )

    def _harbor_2_fields(self) -> ComposeResult:
        endpoints = self.draft.get(ENDPOINTS) or []
        spec = Spec(
            ENDPOINTS,
            "Endpoints",
            placeholder="(host:6379, or several Sentinels)",
            also=("redis",),  # each endpoint's problem shows here, named
            bound=False,
        )
        yield FieldRow(spec, ", ".join(str(e) for e in endpoints if e))
        yield self.row(
            Spec(
                "redis.sentinel_master_set",
                "Sentinel master set",
                placeholder="(only with Sentinels, e.g. mymaster)",
            )
        )
        yield self.row(Spec("redis.password", "Password", "secret", placeholder="(none)"))
        yield Static(
            "Several endpoints are Sentinels: Harbor asks them for the master set's "
            "address. The wizard logs in now as Harbor does, and checks the server's role.",
            classes="explain",
        )
        yield Static(
            "Advanced: each component's Redis database (empty: Harbor's default)",
            classes="section",
        )
        for key, default in REDIS_DB_INDEXES.items():
            if key == "trivy_db_index" and not self.draft.get("harbor.with_trivy"):
                continue
            yield self.row(
                Spec(f"redis.{key}", INDEX_LABELS[key], "int", placeholder=f"({default})")
            )

    def edited(self, row: FieldRow) -> None:
        path = row.spec.path
        if path == ENDPOINT:
            value = str(row.value)
            self.draft.set(ENDPOINTS, [value] if value else [])
        elif path == ENDPOINTS:
            self.draft.set(ENDPOINTS, split_endpoints(str(row.value)))
        elif path == "redis.password" and not row.value:
            self.draft.set(path, None)  # no password: Redis without requirepass

    def live_checks(self) -> list[LiveCheck]:
        if self.harbor_2:
            return [LiveCheck("redis", ENDPOINTS, ("redis",), self._job_2x)]
        return [LiveCheck("redis", ENDPOINT, ("redis",), self._job)]

    def _job(self) -> Job | None:
        return partial(self.wizard.probes.redis, str(self.draft.get(ENDPOINT)))

    def _job_2x(self) -> Job | None:
        from harbor_wizard.answers.model import Redis

        try:
            redis = Redis.model_validate(self.draft.get("redis"))
        except ValidationError:
            return None
        secret = self.draft.secrets.get("redis.password")
        password = SecretStr(secret) if secret else None
        return partial(self.wizard.probes.redis_2x, redis, password)


def split_endpoints(text: str) -> list[str]:
    """`host:26379, host2:26379` (commas or spaces between them) as the answers' list."""
    return [part for part in re.split(r"[,\s]+", text) if part]
