"""The release is the first question: it decides the screens and fields that follow, and
nothing of the other release is shown or written (issue 15 item 3)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from harbor_wizard.answers import loads
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from tests.support.deployment import SECRETS
from tests.tui.conftest import SIZE, editor, message, row, screen_name
from tests.tui.offline import NEVER, draft
from tests.tui.test_operator_words import said


def test_a_new_draft_of_each_release_writes_only_its_own_fields() -> None:
    new = Draft.new()
    new.switch_release("2.15")
    assert new.get("harbor.version") == "2.15.2"
    assert new.get("harbor.with_clair") is None
    assert new.get("harbor.with_trivy") is False
    assert new.get("database") == {
        "engine": "postgresql",
        "port": 5432,
        "user": "postgres",
        "database": "registry",
        "ssl_mode": "disable",
        "password": "<secret>",
    }
    for release, absent in (("2.15", ("with_clair", "clair_database:")), ("1.4", ("with_trivy",))):
        filled = draft()
        filled.tree = None  # as a new deployment: written from the model
        filled.switch_release(release)
        if release == "2.15":
            filled.set("database.host", "198.51.100.30")
            filled.set_secret("database.password", "pg-Secret-91xq")
            filled.set("redis.endpoints", ["198.51.100.32:6379"])
        text = filled.to_document().dump()
        for key in absent:
            assert key not in text, (release, key, text)
        assert loads(text).answers.harbor.version == filled.get("harbor.version")


def test_switching_back_brings_the_values_of_that_release_back() -> None:
    opened = draft()  # Harbor 1.4 with Clair, MariaDB, one Redis
    mariadb, clair = opened.get("database"), opened.get("clair_database")
    opened.switch_release("2.15")
    assert opened.get("clair_database") is None
    assert "database.password" not in opened.secrets  # MariaDB's is not PostgreSQL's
    opened.set("database.host", "pg.example.com")
    opened.switch_release("1.4")
    assert opened.get("harbor.version") == "1.4.0"
    assert opened.get("harbor.with_clair") is True
    assert opened.get("database") == mariadb
    assert opened.get("clair_database") == clair
    assert opened.secrets == SECRETS
    opened.switch_release("2.15")
    assert opened.get("database.host") == "pg.example.com"


async def test_the_release_is_asked_first_and_reshapes_the_screens() -> None:
    app = WizardApp(draft(), first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is editor(pilot, "harbor.version")
        assert "Scanning (Clair)" in said(app)
        assert "clair_database" in app.flow()  # Harbor 1.4 with Clair
        await pilot.press("right")  # keyboard only: < 1.4 > to < 2.15 >
        await pilot.pause()
        assert app.draft.get("harbor.version") == "2.15.2"
        assert app.focused is editor(pilot, "harbor.version")  # the screen was rebuilt
        text = said(app)
        assert "current: PostgreSQL, Redis auth, Trivy" in text
        assert "Scanning (Trivy)" in text
        assert "Clair" not in text
        assert "clair_database" not in app.flow()
        assert not app.screen.query("#row-harbor-with_clair")
        await pilot.press("left")
        await pilot.pause()
        assert app.draft.get("harbor.version") == "1.4.0"
        assert "Scanning (Clair)" in said(app)


async def test_the_installers_file_name_gives_the_version_of_its_release() -> None:
    new = Draft.new()
    new.switch_release("2.15")
    app = WizardApp(new, first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        editor(pilot, "harbor.installer").value = "./harbor-offline-installer-v2.15.3.tgz"
        await pilot.pause()
        assert app.draft.get("harbor.version") == "2.15.3"
        # Another release's installer does not switch the release: its check says so.
        editor(pilot, "harbor.installer").value = "./harbor-offline-installer-v1.4.0.tgz"
        await pilot.pause()
        assert app.draft.get("harbor.version") == "2.15.3"


async def on_screen(name: str, pilot: Pilot[Any]) -> None:
    await pilot.pause()
    assert screen_name(pilot) == name


async def test_harbor_2_database_and_redis_screens() -> None:
    new = Draft.new()
    new.switch_release("2.15")
    app = WizardApp(new, first="database", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen("DatabaseScreen", pilot)
        title = str(app.screen.query_one(".title").render())
        assert title.startswith("3 Harbor DB: the external PostgreSQL")
        assert editor(pilot, "database.port").value == "5432"
        assert editor(pilot, "database.database").value == "registry"
        assert editor(pilot, "database.ssl_mode").value == "disable"
        app.go("redis")
        await on_screen("RedisScreen", pilot)
        endpoints = editor(pilot, "redis.endpoints")
        endpoints.value = "198.51.100.41:26379, 198.51.100.42:26379"
        await pilot.pause()
        assert app.draft.get("redis.endpoints") == ["198.51.100.41:26379", "198.51.100.42:26379"]
        await pilot.press("f2")
        await pilot.pause()
        assert message(pilot, "redis.sentinel_master_set").startswith(
            "error: is required with 2 endpoints: several endpoints are Redis Sentinels"
        )
        editor(pilot, "redis.sentinel_master_set").value = "mymaster"
        password = editor(pilot, "redis.password")
        password.value = "re-dis-Secret-1"
        await pilot.pause()
        assert app.draft.get("redis.password") == "<secret>"
        password.value = ""  # no password: the key goes, it is not "required"
        await pilot.pause()
        assert app.draft.get("redis.password") is None
        editor(pilot, "redis.registry_db_index").value = "2"
        await pilot.press("f2")
        await pilot.pause()
        assert row(pilot, "redis.registry_db_index").error is None
        # The job service's default (2) is now taken: said on the field to change.
        assert message(pilot, "redis.jobservice_db_index").startswith(
            "error: is 2, the same database as redis.registry_db_index"
        )
        assert not app.screen.query("#row-redis-trivy_db_index")  # no Trivy chosen
