"""`--edit FILE --secrets OTHER`: saving from the TUI reads and keeps the secrets in OTHER,
as `--answers FILE --secrets OTHER` does. It once saved through the sidecar instead, found
no shared token pair and secretkey there and generated new ones, which would not match
what the installed nodes hold."""

from __future__ import annotations

from pathlib import Path

from harbor_wizard.inputs import load_inputs
from harbor_wizard.views.launch import open_draft
from harbor_wizard.views.saving import replay_command, save, secret_places
from tests.support.deployment import write_deployment


def test_saving_an_edited_file_keeps_its_secrets_file(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path, secrets=None)
    other = tmp_path / "elsewhere.yaml"
    secrets.rename(other)
    installed = load_inputs(answers, other)  # the unattended install generated these
    draft = open_draft(answers, other)
    assert set(secret_places(draft, answers).values()) == {
        f"secrets file {other} (given with --secrets)"
    }
    saved = save(draft, answers, frozenset())
    assert not any("Generated" in note for note in saved.notes), saved.notes
    assert saved.inputs.artefacts == installed.artefacts
    assert not (tmp_path / "answers.secrets.yaml").exists()
    assert replay_command(answers, draft.secrets_file) == (
        f"harbor-wizard --answers {answers} --secrets {other}"
    )
    sidecar = tmp_path / "answers.secrets.yaml"
    assert replay_command(answers, sidecar) == f"harbor-wizard --answers {answers}"
