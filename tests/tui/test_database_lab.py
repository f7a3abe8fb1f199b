"""The Harbor DB screen against the lab's real MariaDB: a refused password is marked on
Password (not Host), and the lab's single server gets check's HA warning on Host."""

from __future__ import annotations

import pytest

from harbor_wizard.checks.result import Status
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from tests.lab import Lab
from tests.tui.conftest import SIZE, fill, message, row, settle
from tests.tui.lab_values import screens

pytestmark = pytest.mark.lab


async def test_a_wrong_password_is_marked_on_password_and_a_lone_server_warned_on_host(
    lab: Lab,
) -> None:
    values = dict(screens(lab))["DatabaseScreen"]
    app = WizardApp(Draft.new(), first="database", debounce=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await fill(pilot, {**values, "database.password": "not-the-password"})
        await settle(pilot)
        refused = row(pilot, "database.password").check
        assert refused is not None
        assert refused.status is Status.ERROR, refused
        assert message(pilot, "database.password") == (
            f"error: MariaDB at {lab.mariadb.ip}:{lab.mariadb.port} refused the password "
            f"for user '{lab.mariadb.user}'"
        )
        assert row(pilot, "database.host").check is None  # nothing wrong with the host

        await fill(pilot, {"database.password": values["database.password"]})
        await settle(pilot)
        assert row(pilot, "database.password").check is None  # the old refusal is gone
        alone = row(pilot, "database.host").check
        assert alone is not None
        assert alone.check == "mariadb.ha", alone
        assert alone.status is Status.WARNING
        assert message(pilot, "database.host").startswith(
            f"warning: MariaDB at {lab.mariadb.ip}:{lab.mariadb.port} has no Galera cluster"
        )
