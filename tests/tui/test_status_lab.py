"""The start screen shows a deployment's status when it opens one this machine installed
(issue 14, item 5): "checking ..." at once, keys answered meanwhile, then the table of
`harbor-wizard status` at 80x24 naming the VIP holder; a silent node is shown as such
within the time-out; missing database passwords are named and their rows left unchecked.

The module installs once on the session lab (reset before and after)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Input

from harbor_wizard.cli import main
from harbor_wizard.health import DEFAULT_TIMEOUT
from harbor_wizard.views.app import WizardApp
from tests.lab import Lab
from tests.support.deployment import write_secrets
from tests.support.lab_state import reset
from tests.tui.conftest import SIZE, screen_name

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def installed(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The lab installed from a folder holding answers.yaml and its state folder."""
    reset(lab)
    folder = tmp_path_factory.mktemp("status_tui")
    answers, secrets = lab.write_answers(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARBOR_WIZARD_STATE_DIR", str(folder / "state"))
        patch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0
    try:
        yield folder
    finally:
        reset(lab)


@pytest.fixture(autouse=True)
def _its_state(_isolated_state: None, installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The install's journal is where the TUI looks (after conftest's isolated state)."""
    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(installed / "state"))


def sidecar(folder: Path, drop: tuple[str, ...] = ()) -> Path:
    """The secrets beside answers.yaml, where the TUI finds them, less `drop`."""
    values = YAML(typ="safe").load((folder / "secrets.yaml").read_text())
    kept = {k: str(v) for k, v in values.items() if k not in drop}
    return write_secrets(folder / "answers.secrets.yaml", kept)


async def until(pilot: Pilot[Any], condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def text(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def table(app: WizardApp) -> list[str]:
    """The status table as drawn on the screen, one line per row."""
    widget = app.screen.query_one("#table")
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return [line.text.rstrip() for line in lines]


def checking(app: WizardApp) -> bool:
    return screen_name_of(app) == "StatusScreen" and text(app, "#state").startswith("checking")


def gathering(app: WizardApp) -> bool:
    return any(w.group == "status" and w.is_running for w in app.workers)


def screen_name_of(app: WizardApp) -> str:
    return type(app.screen).__name__


async def open_deployment(pilot: Pilot[Any], answers: Path) -> float:
    """Type the answers file's path on the start screen and open it; when it was opened."""
    field = pilot.app.screen.query_one("#path", Input)
    field.value = str(answers)
    field.focus()
    await pilot.press("enter")
    return time.monotonic()


async def test_opening_an_installed_deployment_shows_its_status_with_the_vip_holder(
    lab: Lab, installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sidecar(installed)
    monkeypatch.chdir(installed)
    app = WizardApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_deployment(pilot, installed / "answers.yaml")
        await until(pilot, lambda: screen_name_of(app) == "StatusScreen", 5, "the status screen")
        # Just installed: HAProxy's checks may not count every node up yet; F5 asks again.
        deadline = time.monotonic() + 40
        while True:
            await until(pilot, lambda: not checking(app), 3 * DEFAULT_TIMEOUT, "the status")
            if text(app, "#summary").startswith("healthy") or time.monotonic() > deadline:
                break
            await pilot.pause(1.0)
            await pilot.press("f5")
        assert text(app, "#state") == f"VIP {lab.vip} holder: lb01"
        rows = table(app)
        assert rows[0].split() == ["what", "name", "state", "detail"]
        assert all(len(row) <= 78 for row in rows)
        [vip] = [r for r in rows if r.startswith("VIP")]
        assert "held by lb01" in vip
        assert " ok " in vip
        lbs = {r.split()[1]: r for r in rows if r.startswith("LB")}
        assert "holds the VIP" in lbs["lb01"]
        assert "backup" in lbs["lb02"]
        nodes = [r for r in rows if r.startswith("node")]
        assert [r.split()[1] for r in nodes] == ["harbor01", "harbor02", "harbor03"]
        assert all(r.split()[3] == "ok" for r in nodes), nodes
        services = {r.split()[1]: r for r in rows if r.startswith("service")}
        assert set(services) == {"Harbor", "Clair", "Redis"}  # "Harbor DB", "Clair DB"
        assert all(" ok " in r for r in services.values()), services
        [last] = [r for r in rows if r.startswith("last run")]
        assert " ok at " in last
        assert text(app, "#summary").startswith("healthy")
        assert not app.screen.query_one("#missing").display
        # The whole screen fits 80x24: nothing scrolls.
        scroll = app.screen.query_one("#status")
        assert scroll.max_scroll_y == 0, scroll.max_scroll_y
        await pilot.press("escape")
        await pilot.pause()
        assert screen_name(pilot) == "StartScreen"


async def test_a_silent_node_is_shown_within_the_time_out_and_keys_work_meanwhile(
    lab: Lab, installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """harbor02 drops every packet: the check waits for it (bounded) while keys are
    answered at once; Esc during a check goes back without waiting for it."""
    sidecar(installed, drop=("database.password", "clair_database.password"))
    monkeypatch.chdir(installed)
    app = WizardApp()
    lab["harbor02"].partition()
    try:
        async with app.run_test(size=SIZE) as pilot:
            opened = await open_deployment(pilot, installed / "answers.yaml")
            await until(pilot, lambda: screen_name_of(app) == "StatusScreen", 5, "the screen")
            pressed = time.monotonic()
            await pilot.press("down")
            # Handled while the check still waits for harbor02 (>= 3 s): a check on the
            # event loop would have held the key until it ended.
            assert time.monotonic() - pressed < 2.5
            assert checking(app)
            assert gathering(app)
            missing = text(app, "#missing")
            assert "Not found: database.password, clair_database.password" in missing
            assert "HARBOR_WIZARD_DATABASE_PASSWORD" in missing
            await until(pilot, lambda: not checking(app), 3 * DEFAULT_TIMEOUT, "the status")
            took = time.monotonic() - opened
            assert took < 2 * DEFAULT_TIMEOUT + 3, took  # health.gather's bound
            rows = table(app)
            assert text(app, "#state") == f"VIP {lab.vip} holder: lb01"
            states = {r.split()[1]: r.split()[3] for r in rows if r.startswith("node")}
            assert states == {"harbor01": "ok", "harbor02": "down", "harbor03": "ok"}
            summary = text(app, "#summary")
            assert "harbor02" in summary
            assert "does not serve: no answer within" in summary
            services = {r.split()[1]: r for r in rows if r.startswith("service")}
            assert "unknown" in services["Harbor"]
            assert "not checked" in services["Harbor"]
            assert "unknown" in services["Clair"]
            assert " ok " in services["Redis"]

            await pilot.press("f5")  # check again; leave while it waits for harbor02
            await until(pilot, lambda: checking(app), 2, "the second check")
            left = time.monotonic()
            await pilot.press("escape")
            await until(pilot, lambda: screen_name_of(app) == "StartScreen", 2, "the start")
            assert time.monotonic() - left < 1.5
            await pilot.press("ctrl+q")
        assert app.return_code == 0
    finally:
        lab["harbor02"].heal()
