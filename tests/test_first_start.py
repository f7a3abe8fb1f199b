"""Values Harbor 1.4 reads only on its first start: a re-install that changes one says so
in the plan and where the file is written; one that changes only values Harbor re-reads
(a database password) says nothing. The journal keeps keyed digests, never the values.
The same on the lab, with the run's output: tests/install/test_first_start_lab.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from harbor_wizard.deploy import Install
from harbor_wizard.events import Outcome, StepFinished
from harbor_wizard.inputs import load_inputs
from harbor_wizard.plan import Plan
from harbor_wizard.steps.files import PutFile
from tests.support.deployment import SECRETS, write_deployment, write_secrets

ADMIN_NOTE = (
    "harbor.admin_password changed: Harbor 1.4 reads it only on its first start; change it "
    "in Harbor's UI instead (signed in as admin: the user menu at the top right > Change "
    "Password; or PUT /api/users/1/password)"
)


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    # The steps' fingerprints read the installer; its content does not matter here.
    (tmp_path / "harbor-offline-installer-v1.4.0.tgz").write_bytes(b"stand-in")


def installed(answers: Path, secrets: Path) -> Install:
    """The run of these files, recorded in the journal as if install.sh had run on every
    node (the journal records what the runner's events say: here, those events)."""
    install = Install(load_inputs(answers, secrets, notify=lambda _: None))
    for phase in install.plan.phases:
        for host in phase.hosts:
            for action in host.steps:
                install.journal.remember(host.host, action)
                install.journal(
                    StepFinished(
                        phase=phase.name, host=host.host, step=action.step_id,
                        outcome=Outcome.CHANGED, message="", seconds=0.0,
                    )
                )  # fmt: skip
    return install


def replanned(answers: Path, secrets: Path, **changes: str) -> Plan:
    """The plan of the same deployment with some secrets changed."""
    values = YAML(typ="safe").load(secrets.read_text())
    changed = write_secrets(secrets.with_name("changed.yaml"), {**values, **changes})
    return Install(load_inputs(answers, changed, notify=lambda _: None)).plan


def harbor_cfg_notes(plan: Plan) -> dict[str, tuple[str, ...]]:
    return {
        host.host: step.notes
        for phase in plan.phases
        for host in phase.hosts
        for step in host.steps
        if isinstance(step, PutFile) and str(step.rendered.path) == "/opt/harbor/harbor.cfg"
    }


def test_a_changed_admin_password_is_said_to_be_ignored(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)
    first = installed(answers, secrets)
    assert first.plan.notes == ()  # nothing installed before: Harbor reads it now

    plan = replanned(answers, secrets, **{"harbor.admin_password": "An0ther-Passw0rd"})
    assert plan.notes == (ADMIN_NOTE,)
    assert plan.describe().endswith(f"\nNote: {ADMIN_NOTE}")
    assert harbor_cfg_notes(plan) == {f"harbor0{n}": (ADMIN_NOTE,) for n in (1, 2, 3)}

    journal = first.journal.path.read_text()
    for value in (SECRETS["harbor.admin_password"], "An0ther-Passw0rd"):
        assert value not in journal


def test_values_harbor_reads_again_or_unchanged_ones_say_nothing(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)
    installed(answers, secrets)
    assert replanned(answers, secrets).notes == ()
    plan = replanned(answers, secrets, **{"database.password": "other-Db-pass-1"})
    assert plan.notes == ()  # MYSQL_PWD is re-read on every start
    assert "Note:" not in plan.describe()
    assert set(harbor_cfg_notes(plan).values()) == {()}


def test_a_moved_clair_database_is_said_to_be_kept_by_harbors_ui(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)
    installed(answers, secrets)
    moved = answers.with_name("moved.yaml")
    moved.write_text(answers.read_text().replace("host: 198.51.100.31", "host: 198.51.100.41"))
    plan = Install(load_inputs(moved, secrets, notify=lambda _: None)).plan
    assert plan.notes == (
        "clair_database.host changed: Harbor 1.4 reads it only on its first start; Clair "
        "itself follows the change, but Harbor's UI keeps the first value in the Harbor DB "
        "(only a start with reload_config = true re-reads it, which also undoes settings "
        "changed in the UI)",
    )


def test_from_scratch_still_compares_with_what_harbor_started_with(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)
    installed(answers, secrets)
    values = YAML(typ="safe").load(secrets.read_text())
    changed = write_secrets(
        secrets.with_name("changed.yaml"), {**values, "harbor.admin_password": "An0ther-Passw0rd"}
    )
    inputs = load_inputs(answers, changed, notify=lambda _: None)
    assert Install(inputs, from_scratch=True).plan.notes == (ADMIN_NOTE,)
