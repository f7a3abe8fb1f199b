"""Storage: where the registry keeps image layers, and the settings of that driver.

Besides the driver's own check, the nodes' shared folders (/data/registry for filesystem
storage, /data/job_logs for any) are checked here as ``check`` does, once the wizard can
log in to the nodes (a reopened deployment, or after the SSH access screen); before that
they are checked with the hosts on the SSH access screen.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import ValidationError
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.answers.model import STORAGE_REQUIRED, STORAGE_SECRETS, Storage
from harbor_wizard.checks.result import CheckResult, Status
from harbor_wizard.views.fields import FieldRow, Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck
from harbor_wizard.views.live import merged

PROVIDERS = ("filesystem", "s3", "swift", "azure", "gcs", "oss")
OTHER = "storage.config"
NODES_LATER = (
    "On the nodes: /data/registry and /data/job_logs are checked with the hosts on the "
    "SSH access screen, and here once the wizard can log in to them."
)


def own_keys(provider: str) -> list[str]:
    """The settings that get a field of their own: required ones, then credentials."""
    required = list(STORAGE_REQUIRED[provider])
    return required + sorted(STORAGE_SECRETS[provider] - set(required))


class StorageScreen(FormScreen):
    CSS_PATH = "storage.tcss"
    TITLE_TEXT = "Storage: where the registry keeps image layers"
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
            yield Static(NODES_LATER, id="nodes")
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
        yield Static(NODES_LATER, id="nodes")

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
        probes = self.wizard.probes
        endpoint = None if storage.provider == "filesystem" else partial(probes.storage, storage)
        try:
            answers = self.draft.answers()
        except ValueError:  # the nodes or SSH access are not complete yet
            return endpoint
        base, accepted = self.draft.base_dir, frozenset(self.draft.accepted)

        nodes = frozenset(node.name for node in answers.harbor_nodes)

        def job() -> list[CheckResult]:
            results = endpoint() if endpoint else []
            found = probes.hosts(answers, base, accepted, nodes)  # has storage.network_fs
            if not any(_no_login(r) for r in found):
                found += probes.shared(answers, base, accepted)
            return results + on_the_nodes(found)

        return job

    def results_changed(self, group: str, results: list[CheckResult]) -> None:
        found = [r for r in results if r.check.startswith(NODE_CHECKS)]
        lines = [
            f"{status.value}: {line}"
            for status in (Status.ERROR, Status.WARNING, Status.OK)
            for line in merged([(r.target, r.message) for r in found if r.status is status])
        ]
        text = "On the nodes:\n" + "\n".join(lines) if lines else NODES_LATER
        self.query_one("#nodes", Static).update(Text(text))


NODE_CHECKS = ("storage.network_fs", "storage.shared", "storage.job_logs")
"""The storage checks made on the nodes over SSH (``checks.host_checks`` and
``views.host_checks.shared_storage``, as ``check`` runs them)."""


def _no_login(result: CheckResult) -> bool:
    return result.check.startswith("ssh.") and result.status is Status.ERROR


def on_the_nodes(results: list[CheckResult]) -> list[CheckResult]:
    """The nodes' storage results, when every node let the wizard in; else none (a login
    problem belongs to the SSH access screen, where the hosts are checked again)."""
    if any(_no_login(r) for r in results):
        return []
    return [r for r in results if r.check.startswith(NODE_CHECKS)]


def _scalar(text: str) -> str | int | bool:
    """What YAML would read for the same word: true/false and integers are not strings."""
    if text in ("true", "false"):
        return text == "true"
    if text.isdigit():
        return int(text)
    return text
