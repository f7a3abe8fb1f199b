"""The whole guided flow against the lab: every screen filled, checks green, saved,
planned exactly as --dry-run plans the written file, installed, verified."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from harbor_wizard.checks.result import Status
from harbor_wizard.inputs import load_inputs
from harbor_wizard.plan import OPERATOR, build_plan
from harbor_wizard.render import render
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from harbor_wizard.views.fields import FieldRow
from tests.lab import Lab
from tests.tui.conftest import SIZE, fill, message, screen_name, settle
from tests.tui.lab_values import screens

pytestmark = [pytest.mark.lab, pytest.mark.slow]


async def fill_to_review(
    pilot: Pilot[WizardApp],
    lab: Lab,
    marked: dict[str, str] | None = None,
    release: str = "1.4",
    checked: dict[str, str] | None = None,
) -> list[str]:
    """Fill every screen; return the warnings acknowledged on the way. `marked` gets each
    field's warning as its screen showed it (field path -> "warning: ..."), `checked` each
    field's live check result (field path -> "ok: ...")."""
    app = pilot.app
    for name, values in screens(lab, release):
        assert screen_name(pilot) == name
        if name == "TopologyScreen":
            if release != app.draft.release_line():  # the first question, by key
                assert app.focused is app.screen.query_one("#harbor-version")
                await pilot.press("right")
                await pilot.pause()
                assert app.draft.release_line() == release
            await pilot.press("f6")  # the lab has three shared nodes; a new draft has two
            await pilot.pause()
        await fill(pilot, values)
        await settle(pilot)
        for row in app.screen.query(FieldRow):
            assert row.error is None, (row.spec.path, row.error)
            assert row.check is None or row.check.status is not Status.ERROR, row.check
            if marked is not None and row.check and row.check.status is Status.WARNING:
                marked[row.spec.path] = message(pilot, row.spec.path)
            if checked is not None and row.check:
                checked[row.spec.path] = f"{row.check.status.value}: {row.check.message}"
        await pilot.press("f2")
        await pilot.pause()
        if screen_name(pilot) == "ConfirmScreen":  # the lab's own HA warnings
            await pilot.press("tab", "enter")
            await pilot.pause()
    assert screen_name(pilot) == "ReviewScreen"
    return list(app.draft.acknowledged.values())


async def test_fill_review_save_install_done(
    fresh_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = fresh_lab
    monkeypatch.chdir(tmp_path)
    app = WizardApp(Draft.new())
    async with app.run_test(size=SIZE) as pilot:
        marked: dict[str, str] = {}
        warnings = await fill_to_review(pilot, lab, marked)
        # Only readiness warnings about the lab's single-machine services may remain.
        assert all("HA" in w or "filesystem" in w or "single" in w for w in warnings), warnings
        # The lab's one MariaDB and one Redis: each screen says so beside the value, as
        # `check` does (mariadb.ha, redis.ha), and Review lists them with their screen.
        lone_db = f"MariaDB at {lab.mariadb.ip}:{lab.mariadb.port} has no Galera cluster"
        lone_redis = f"Redis at {lab.redis.endpoint} has no replica"
        assert marked["database.host"].startswith(f"warning: {lone_db}"), marked
        assert marked["redis.endpoints[0]"].startswith(f"warning: {lone_redis}"), marked
        listed = str(app.screen.query_one("#warnings").render())
        assert f"warning (3 Harbor DB): {lone_db}" in listed, listed
        assert f"warning (5 Redis): {lone_redis}" in listed, listed
        assert "/data/job_logs does not exist" in listed, listed  # storage.job_logs
        await pilot.press("f2")
        await settle(pilot)
        review = app.screen
        assert app.saved is not None, str(review.query_one("#status").render())
        written = tmp_path / "lab.yaml"
        assert app.saved.path == written

        # The file: no secret, and the same plan as the lab's own answers file.
        text = written.read_text()
        for value in lab.secrets_dict().values():
            assert value not in text
        (tmp_path / "own").mkdir()
        own_answers, own_secrets = lab.write_answers(tmp_path / "own")
        own = load_inputs(own_answers, own_secrets)
        replayed = load_inputs(written)
        assert replayed.answers == own.answers
        assert build_plan(replayed).describe() == build_plan(own).describe()
        same_artefacts = render(replayed.answers, own.secrets, own.artefacts, own.tls)
        assert same_artefacts == own.render()
        assert str(review.query_one("#plan").render()) == app.saved.plan.describe()
        assert "harbor-wizard --answers" in str(review.query_one("#replay").render())

        started = time.monotonic()
        await pilot.press("f4")
        await pilot.pause()
        install = app.screen
        assert screen_name(pilot) == "InstallScreen"
        while install.result is None and time.monotonic() - started < 600:
            await pilot.pause(0.5)
        assert install.result is not None, "the install did not end within 600 s"
        assert install.result.ok, install.result.message
        await pilot.pause(1.0)
        assert screen_name(pilot) == "InstallScreen"  # the tree stays until Done is pressed
        await pilot.press("f2")
        await pilot.pause()
        assert screen_name(pilot) == "DoneScreen"
        # Done counts the install's own warnings (as its checks step counted them), and
        # claims no HA it did not see.
        checks = app.run_result[1].steps[(OPERATOR, "checks")].message
        counted = re.fullmatch(r"\d+ checks passed, (\d+) warning\(s\)", checks)
        assert counted, checks
        count = int(counted[1])
        assert count >= 4, checks  # Harbor DB, Clair DB, Redis, job logs, ...
        title = str(app.screen.query_one(".title").render())
        assert title.endswith(f"Harbor is installed; {count} warnings"), title
        assert "high availability" not in title
        done_warnings = " ".join(str(app.screen.query_one("#warnings").render()).split())
        assert done_warnings.startswith(f"Warnings ({count}) the install went on with")
        assert f"warning: database: {lone_db}" in done_warnings, done_warnings
        assert f"warning: redis: {lone_redis}" in done_warnings, done_warnings
        assert "/data/job_logs does not exist" in done_warnings, done_warnings
        verify = str(app.screen.query_one("#verify").render())
        assert "[ok]" in verify
        assert "[failed]" not in verify
        assert f"http://{lab.vip}/" in str(app.screen.query_one("#url").render())
        shown = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        for value in lab.secrets_dict().values():
            assert value not in shown
        assert_no_secret_in(Path(str(app.run_result[2])), lab)


def assert_no_secret_in(log: Path, lab: Lab) -> None:
    text = log.read_text()
    assert text
    for value in lab.secrets_dict().values():
        assert value not in text
