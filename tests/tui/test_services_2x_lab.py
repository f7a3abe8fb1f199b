"""Harbor 2.15's Harbor DB and Redis screens against the lab's PostgreSQL and its Redis with
a password: each refusal is marked on the field to change, as the preflight words it."""

from __future__ import annotations

import pytest

from harbor_wizard.checks.result import Status
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from tests.lab import Lab
from tests.tui.conftest import SIZE, fill, message, row, settle
from tests.tui.lab_values import screens

pytestmark = pytest.mark.lab


def harbor_2() -> Draft:
    draft = Draft.new()
    draft.switch_release("2.15")
    return draft


async def test_postgresql_refusing_the_password_is_marked_on_password(lab: Lab) -> None:
    values = dict(screens(lab, "2.15"))["DatabaseScreen"]
    app = WizardApp(harbor_2(), first="database", debounce=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await fill(pilot, {**values, "database.password": "not-the-password"})
        await settle(pilot)
        assert message(pilot, "database.password") == (
            f"error: PostgreSQL at {lab.postgres.ip}:{lab.postgres.port} refused the password "
            "of user 'harbor'"
        )
        assert row(pilot, "database.host").check is None

        await fill(pilot, {"database.password": values["database.password"]})
        await settle(pilot)
        assert row(pilot, "database.password").check is None
        login = row(pilot, "database.host").check
        assert login is not None
        assert login.status is Status.OK, login
        assert login.check == "harbor_db.login"


async def test_redis_without_its_password_names_noauth_on_password(lab: Lab) -> None:
    values = dict(screens(lab, "2.15"))["RedisScreen"]
    app = WizardApp(harbor_2(), first="redis", debounce=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await fill(pilot, {"redis.endpoints": values["redis.endpoints"]})
        await settle(pilot)
        where = f"Redis at {lab.redis_auth.endpoint}"
        assert message(pilot, "redis.password").startswith(
            f"error: {where} requires a password (NOAUTH Authentication required)"
        )
        await fill(pilot, {"redis.password": "not-the-password"})
        await settle(pilot)
        assert message(pilot, "redis.password").startswith(f"error: {where} refused the password")

        await fill(pilot, {"redis.password": values["redis.password"]})
        await settle(pilot)
        assert row(pilot, "redis.password").check is None
        served = row(pilot, "redis.endpoints").check
        assert served is not None
        assert served.status is Status.OK, served
        assert message(pilot, "redis.endpoints").startswith(f"ok: {where}: PONG")


async def test_postgresql_refused_at_its_port_and_a_silent_host_at_its_host(lab: Lab) -> None:
    """harbor_db says a refused connection at database.port and a silent host at
    database.host: each shows on that field of the 2.x Harbor DB screen, the other clear."""
    values = dict(screens(lab, "2.15"))["DatabaseScreen"]
    app = WizardApp(harbor_2(), first="database", debounce=0.05)
    async with app.run_test(size=SIZE) as pilot:
        closed = lab.postgres.port + 1  # nothing listens there: refused
        await fill(pilot, {**values, "database.port": closed})
        await settle(pilot)
        port = row(pilot, "database.port").check
        assert port is not None
        assert port.status is Status.ERROR, port
        assert "refused" in message(pilot, "database.port"), message(pilot, "database.port")
        assert row(pilot, "database.host").check is None

        silent = lab.subnet.addr(61)  # no host answers there
        await fill(pilot, {"database.port": lab.postgres.port, "database.host": str(silent)})
        await settle(pilot)
        host = row(pilot, "database.host").check
        assert host is not None
        assert host.status is Status.ERROR, host
        assert message(pilot, "database.host").startswith(f"error: PostgreSQL at {silent}:")
        assert row(pilot, "database.port").check is None
