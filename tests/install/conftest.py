"""Fixtures of the install tests: a freshly reset lab per module, one deployment folder
per module (its secrets file keeps the generated shared files from run to run, as an
operator's does), and the state folder the runs write their logs and journal to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harbor_wizard.cli import main
from tests.lab import Lab
from tests.support.lab_state import reset


@pytest.fixture(scope="module")
def fresh(lab: Lab) -> Iterator[Lab]:
    """The session lab with nothing installed, before and after the module."""
    reset(lab)
    try:
        yield lab
    finally:
        reset(lab)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(autouse=True)
def state(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(folder / "state"))
    return folder / "state"


@pytest.fixture
def deployment(fresh: Lab, folder: Path) -> tuple[Path, Path]:
    """The lab's own answers and secrets files."""
    answers, secrets = folder / "answers.yaml", folder / "secrets.yaml"
    if not answers.exists():
        fresh.write_answers(folder)
    return answers, secrets


def install(answers: Path, secrets: Path, *extra: str) -> int:
    """The unattended command, in this process."""
    return main(["--answers", str(answers), "--secrets", str(secrets), *extra])
