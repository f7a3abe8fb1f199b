"""Storage: where the registry keeps image layers, and the settings of that driver."""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.answers.model import STORAGE_REQUIRED, STORAGE_SECRETS, Storage
from harbor_wizard.views.fields import FieldRow, Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck

PROVIDERS = ("filesystem", "s3", "swift", "azure", "gcs", "oss")
OTHER = "storage.config"


def own_keys(provider: str) -> list[str]:
    """The settings that get a field of their own: required ones, then credentials."""
    required = list(STORAGE_REQUIRED[provider])
    return required + sorted(STORAGE_SECRETS[provider] - set(required))


class StorageScreen(FormScreen):
    CSS_PATH = "storage.tcss"
    TITLE_TEXT = "6 Storage: where the registry keeps image layers"
    SECTIONS = ("storage",)

    def fields(self) -> ComposeResult:
        provider = str(self.draft.get("storage.provider") or "filesystem")
        yield self.row(Spec("storage.provider", "Provider", "choice", PROVIDERS, bound=False))
        if provider == "filesystem":
            yield Static(
                "filesystem: mount one shared filesystem (NFS, CephFS, ...) at /data/registry "
                "on every Harbor node. The SSH access screen proves it is shared.",
                classes="explain",
            )
            return
        secrets = STORAGE_SECRETS[provider]
        for key in own_keys(provider):
            kind = "secret" if key in secrets else "text"
            yield self.row(Spec(f"storage.config.{key}", key, kind))  # type: ignore[arg-type]
        yield FieldRow(
            Spec(OTHER, "Other settings", placeholder="key=value key=value", bound=False),
            self._others_text(provider),
        )
        yield Static("Settings as in the Docker registry storage driver docs.", classes="explain")

    def _others_text(self, provider: str) -> str:
        config = self.draft.get(OTHER) or {}
        mine = set(own_keys(provider))
        return " ".join(f"{k}={v}" for k, v in config.items() if k not in mine)

    async def edited(self, row: FieldRow) -> None:
        if row.spec.path == "storage.provider":
            self.draft.switch_storage(str(row.value))
            await self.recompose()
            self.query_one("#storage-provider").focus()
        elif row.spec.path == OTHER:
            self._set_others(str(row.value))
        elif row.spec.kind == "secret" and not row.value:
            self.draft.set(row.spec.path, None)  # an optional credential left empty

    def _set_others(self, text: str) -> None:
        provider = str(self.draft.get("storage.provider"))
        config: dict[str, Any] = dict(self.draft.get(OTHER) or {})
        mine = set(own_keys(provider))
        config = {k: v for k, v in config.items() if k in mine}
        for word in text.split():
            key, _, value = word.partition("=")
            config[key] = _scalar(value)
        self.draft.set(OTHER, config)
        if not config:
            self.draft.data["storage"]["config"] = {}

    def live_checks(self) -> list[LiveCheck]:
        return [LiveCheck("storage", "storage.provider", ("storage",), self._job)]

    def _job(self) -> Job | None:
        try:
            storage = Storage.model_validate(self.draft.get("storage"))
        except ValidationError:
            return None
        if storage.provider == "filesystem":
            return None
        return partial(self.wizard.probes.storage, storage)


def _scalar(text: str) -> str | int | bool:
    """What YAML would read for the same word: true/false and integers are not strings."""
    if text in ("true", "false"):
        return text == "true"
    if text.isdigit():
        return int(text)
    return text
