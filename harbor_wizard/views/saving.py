"""Saving the draft: the answers file, its secrets where they belong, then the plan.

Why the plan is built from the written file: the review must show exactly what
``harbor-wizard --answers FILE --dry-run`` prints, so it goes through the same
``load_inputs`` and ``deploy.Install`` (plan, journal, log) as the unattended run, from the
file on disk.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harbor_wizard import redact
from harbor_wizard.secrets import KeyringStore, SecretResolver

if TYPE_CHECKING:
    from harbor_wizard.deploy import Install
    from harbor_wizard.inputs import Inputs
    from harbor_wizard.views.draft import Draft


@dataclass
class Saved:
    path: Path
    inputs: Inputs
    install: Install
    """The run of this file: its plan, journal and log (``harbor_wizard.deploy``)."""
    notes: list[str]

    @property
    def plan(self) -> Any:
        return self.install.plan

    def replay_command(self) -> str:
        """The unattended command that runs (or resumes) this deployment, with the secrets
        file the run read when it is not the answers file's own sidecar."""
        file = self.inputs.resolver.file
        return replay_command(self.path, file.path if file is not None else None)


def secret_places(draft: Draft, path: Path) -> dict[str, str]:
    """Where each secret will be kept: the `--secrets` file the draft was opened with,
    else the keyring when one answers, else the 0600 file beside the answers."""
    name = str(draft.get("name") or "deployment")
    sidecar = SecretResolver.sidecar_for(path)
    if draft.secrets_file is not None:
        place = f"secrets file {draft.secrets_file} (given with --secrets)"
    elif sidecar.exists():
        place = f"secrets file {sidecar} (mode 0600)"
    else:
        store = KeyringStore(name)
        place = (
            f"keyring, service {store.service}"
            if store.available()
            else f"secrets file {sidecar} (mode 0600; no keyring here: {store.reason})"
        )
    return {secret: place for secret in draft.secret_paths()}


def replay_command(path: Path, secrets: Path | None = None) -> str:
    """The unattended command that installs the same deployment: its answers file, and its
    secrets file when that is not the file's own sidecar (the keyring and
    ``<name>.secrets.yaml`` beside it are found without being named)."""
    words = ["harbor-wizard", "--answers", str(path)]
    if secrets is not None and secrets != SecretResolver.sidecar_for(path):
        words += ["--secrets", str(secrets)]
    return shlex.join(words)


def save(draft: Draft, path: Path, accepted: frozenset[str]) -> Saved:
    """Write the file atomically, store the secrets, load it back and plan it."""
    from harbor_wizard.checks import CheckOptions
    from harbor_wizard.deploy import Install
    from harbor_wizard.inputs import load_inputs

    draft.path = path
    document = draft.to_document()
    document.save(path)
    draft.tree = document.tree
    notes: list[str] = []
    resolver = SecretResolver(  # the --secrets file opened with, else where --answers looks
        document.answers.name,
        secrets_file=draft.secrets_file,
        sidecar=SecretResolver.sidecar_for(path),
        notify=notes.append,
    )
    for secret in draft.secret_paths():
        value = draft.secrets.get(secret)
        if value:
            redact.register(value)
            if resolver.find(secret) != value:
                resolver.store(secret, value)
    inputs = load_inputs(path, draft.secrets_file, notify=notes.append)
    install = Install(inputs, CheckOptions(accepted_fingerprints=accepted))
    return Saved(path, inputs, install, notes)
