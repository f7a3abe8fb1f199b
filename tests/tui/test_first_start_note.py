"""The admin password's field says Harbor ignores a new value once the deployment's journal
shows Harbor started with one (the plan's note: tests/test_first_start.py)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import Static

from harbor_wizard.events import Outcome, StepFinished
from harbor_wizard.journal import Journal
from tests.tui.conftest import SIZE
from tests.tui.offline import app_on


class StartedHarbor:
    """What the journal needs of the install.sh step that ran: its id, fingerprint and
    the values it recorded (plan.first_start_values gives the real ones)."""

    step_id = "install.sh"
    recorded = {"harbor.admin_password": "0" * 64}  # noqa: RUF012

    def fingerprint(self) -> str:
        return "f" * 64


def record_install(deployment: str) -> None:
    journal = Journal(Path(os.environ["HARBOR_WIZARD_STATE_DIR"]) / deployment / "journal.json")
    journal.remember("harbor01", StartedHarbor())  # type: ignore[arg-type]
    journal(
        StepFinished(
            phase="install.sh: first node", host="harbor01", step="install.sh",
            outcome=Outcome.CHANGED, message="installed", seconds=1.0,
        )
    )  # fmt: skip


async def test_the_admin_password_of_an_installed_deployment_says_harbor_ignores_it() -> None:
    record_install("harbor-test")
    app = app_on("topology")
    async with app.run_test(size=SIZE):
        note = str(app.screen.query_one("#admin-password-note", Static).render())
    assert note == (
        "note: harbor-test is installed, and Harbor 1.4 reads it only on its first start; "
        "change it in Harbor's UI instead (signed in as admin: the user menu at the top "
        "right > Change Password; or PUT /api/users/1/password)"
    )


async def test_a_deployment_never_installed_has_no_such_note() -> None:
    record_install("another-deployment")
    app = app_on("topology")
    async with app.run_test(size=SIZE):
        assert not app.screen.query("#admin-password-note")
