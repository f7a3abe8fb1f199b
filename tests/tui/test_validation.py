"""Each field's bad value shows the model's message (the loader's words) once the field is
left or Next is pressed, and blocks Next."""

from __future__ import annotations

from typing import Any

import pytest

from harbor_wizard.answers.messages import required as required_message
from harbor_wizard.secrets import value_problem
from harbor_wizard.views.draft import parse_path
from tests.tui.conftest import SIZE, editor, fill, message, screen_name
from tests.tui.offline import app_on, loader_message

CASES: dict[str, list[tuple[str, Any]]] = {
    "topology": [
        ("name", "bad name!"),
        ("harbor.hostname", "reg.mydomain.com"),
        ("vip", "198.51.100.300"),
        ("harbor.installer", ""),
        ("harbor_nodes[0].name", "two words"),
        ("harbor_nodes[1].address", "198.51.100.21"),
    ],
    "load_balancers": [
        ("load_balancer.interface", "lo"),
        ("load_balancer.virtual_router_id", 300),
        ("load_balancer.nodes[0].address", "203.0.113.5"),
        ("load_balancer.nodes[1].priority", 100),
    ],
    "database": [
        ("database.host", "bad host"),
        ("database.port", 70000),
        ("database.user", "1root"),
    ],
    "clair_database": [("clair_database.database", "other")],
    "redis": [("redis.endpoints[0]", "no-port")],
    "ssh_access": [("ssh.user", "bad user"), ("ssh.port", 0)],
}

SECRET_CASES = [
    ("topology", "harbor.admin_password", ""),
    ("load_balancers", "load_balancer.auth_pass", "longer-than-8"),
    ("database", "database.password", "ends with space "),
    ("clair_database", "clair_database.password", "p@ss:word"),
]


async def refused(pilot: Any, screen: str, path: str) -> None:
    before = screen_name(pilot)
    await pilot.press("f2")
    await pilot.pause()
    assert screen_name(pilot) == before, f"{screen}: Next went on with a bad {path}"
    assert pilot.app.focused is editor(pilot, path)
    notice = str(pilot.app.screen.query_one(".notice").render())
    assert notice.startswith("error: Next refused")


@pytest.mark.parametrize("screen", sorted(CASES))
async def test_bad_values_show_the_loaders_words_and_block_next(screen: str) -> None:
    app = app_on(screen)
    async with app.run_test(size=SIZE) as pilot:
        for path, bad in CASES[screen]:
            good = app.draft.get(path)
            await fill(pilot, {path: bad})
            assert message(pilot, path) == "", f"{path}: an error before the field was left"
            await refused(pilot, screen, path)
            expected = loader_message(path, bad)
            assert message(pilot, path) == f"error: {expected}"
            await fill(pilot, {path: good})
            assert not message(pilot, path).startswith("error"), path


@pytest.mark.parametrize(("screen", "path", "bad"), SECRET_CASES)
async def test_bad_secret_values_say_why(screen: str, path: str, bad: str) -> None:
    app = app_on(screen)
    async with app.run_test(size=SIZE) as pilot:
        await fill(pilot, {path: bad})
        await refused(pilot, screen, path)
        expected = value_problem(path, bad) if bad else required_message(parse_path(path))
        assert message(pilot, path) == f"error: {expected}"


async def test_storage_provider_settings_follow_the_model() -> None:
    app = app_on("storage")
    async with app.run_test(size=SIZE) as pilot:
        await fill(pilot, {"storage.provider": "s3"})
        await pilot.press("f2")
        assert message(pilot, "storage.config") == (
            "error: the s3 driver needs 'region', e.g. region: eu-west-1"
        )
        await fill(pilot, {"storage.config.region": "eu-west-1", "storage.config.bucket": "b"})
        assert message(pilot, "storage.config") == ""
        await fill(pilot, {"storage.config.secretkey": "s3cr3t-key"})
        assert message(pilot, "storage.config.secretkey") == ""
        assert app.draft.get("storage.config.secretkey") == "<secret>"
        await fill(pilot, {"storage.config.secretkey": ""})
        assert app.draft.get("storage.config.secretkey") is None
        await fill(pilot, {"storage.provider": "filesystem"})
        assert app.draft.get("storage.config") == {}
