"""An installed deployment reopened through the TUI and scaled out (issue 16, item 1):
installed through the TUI with two nodes, reopened as `--edit` opens it, and through the
start screen's list (after resuming a stopped run there); on both ways the VIP check and
the host checks count what the deployment installed as its own, a third node is added
(F6) and installed: it serves, and nothing else changed (the old nodes' files untouched,
only HAProxy's configuration on the LBs, which now lists the new node).

The module types the first install once (the TUI's own file is what is reopened)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from harbor_wizard.checks.result import CheckResult, Status
from harbor_wizard.deploy import Install
from harbor_wizard.events import Event, Outcome, StepFinished
from harbor_wizard.inputs import load_inputs
from harbor_wizard.runner import RunResult
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from harbor_wizard.views.fields import FieldRow
from harbor_wizard.views.launch import open_draft
from tests.lab import Lab
from tests.support.lab_state import reset, snapshot
from tests.support.tmux import Terminal
from tests.tui.conftest import SIZE, fill, row, screen_name, settle
from tests.tui.lab_values import screens

pytestmark = [pytest.mark.lab, pytest.mark.slow]

OLD, NEW = ["harbor01", "harbor02"], "harbor03"
WATCHED = ["lb01", "lb02", *OLD, NEW]
INSTALL_WAIT = 600.0
COMMAND = str(Path(sys.executable).with_name("harbor-wizard"))
FIRST_FRAME = 30.0


async def until(pilot: Pilot[Any], condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.2)


async def next_screen(pilot: Pilot[WizardApp]) -> list[CheckResult]:
    """Every live check of the screen answered without an error; F2, confirming the
    lab's own warnings (single-machine services). The screen's check results."""
    await settle(pilot)
    screen: Any = pilot.app.screen
    for field in screen.query(FieldRow):
        assert field.error is None, (field.spec.path, field.error)
        assert field.check is None or field.check.status is not Status.ERROR, field.check
    found = [r for results in screen._check_results.values() for r in results]
    assert [r.message for r in found if r.status is Status.ERROR] == []
    await pilot.press("f2")
    await pilot.pause()
    if screen_name(pilot) == "ConfirmScreen":
        await pilot.press("tab", "enter")
        await pilot.pause()
    return found


async def save_and_install(pilot: Pilot[WizardApp]) -> RunResult:
    """Review: F2 saves (replacing the file when asked), F4 installs; the run's result."""
    app = pilot.app
    assert screen_name(pilot) == "ReviewScreen"
    await pilot.press("f2")
    await pilot.pause()
    if screen_name(pilot) == "ConfirmScreen":  # the file exists: replace it
        await pilot.press("tab", "enter")
    await until(pilot, lambda: app.saved is not None, 120, "the save")
    return await installed(pilot, "f4")


async def installed(pilot: Pilot[WizardApp], key: str) -> RunResult:
    """Press `key`, which starts the install screen's run; its result once it ended."""
    await pilot.press(key)
    await until(pilot, lambda: screen_name(pilot) == "InstallScreen", 30, "the install")
    install: Any = pilot.app.screen
    await until(pilot, lambda: install.result is not None, INSTALL_WAIT, "the end of the run")
    assert install.result.ok, install.result.message
    return install.result  # type: ignore[no-any-return]


async def add_node_and_install(pilot: Pilot[WizardApp], lab: Lab) -> RunResult:
    """From the topology screen of the installed deployment: its own VIP is ok, F6 adds
    harbor03, every screen passes (the installed nodes' ports are this Harbor's), install."""
    app = pilot.app
    assert screen_name(pilot) == "TopologyScreen"
    await settle(pilot)
    vip = row(pilot, "vip").check
    assert vip is not None
    assert vip.status is Status.OK, vip.message
    assert vip.message == "the VIP is held by this deployment's LB lb01"
    await pilot.press("f6")
    await pilot.pause()
    assert app.draft.get("harbor_nodes[2].name") == NEW  # the next name is the lab's
    await fill(pilot, {"harbor_nodes[2].address": lab[NEW].ip})
    hosts: list[CheckResult] = []
    while screen_name(pilot) != "ReviewScreen":
        on_ssh = screen_name(pilot) == "SshAccessScreen"
        found = await next_screen(pilot)
        if on_ssh:
            hosts = found
    ports = {r.target: r.message for r in hosts if r.check == "node.ports"}
    for node in OLD:
        assert "held by this deployment's Harbor" in ports[node], ports[node]
    assert "are free for Harbor" in ports[NEW], ports[NEW]
    return await save_and_install(pilot)


def assert_only_the_new_node_changed(
    lab: Lab, result: RunResult, before: dict[str, str], after: dict[str, str]
) -> None:
    """The new node serves on its own address; the old nodes' files and services are as
    they were, and on the LBs only HAProxy's configuration, which names the new node."""
    assert result.outcomes[(NEW, "verify:node")] is Outcome.PASSED
    with urllib.request.urlopen(f"http://{lab[NEW].ip}/api/systeminfo", timeout=5) as answer:
        assert json.loads(answer.read())["node"] == NEW
    changed = {host for (host, _), outcome in result.outcomes.items() if outcome is Outcome.CHANGED}
    assert not changed & set(OLD), sorted(result.outcomes.items())
    for node in OLD:
        assert after[node] == before[node]
    for lb in ("lb01", "lb02"):
        differ = set(after[lb].splitlines()) ^ set(before[lb].splitlines())
        assert {line.split()[0] for line in differ} == {
            "/etc/haproxy/haproxy.cfg",
            "/etc/harbor-wizard/applied/haproxy.sha256",
        }
        assert f"server {NEW} " in lab[lb].path("/etc/haproxy/haproxy.cfg").read_text()
    assert lab.vip_holder() == "lb01"


async def type_two_nodes(lab: Lab) -> None:
    """The lab's deployment typed screen by screen with two nodes; installed; quit."""
    app = WizardApp(Draft.new())
    async with app.run_test(size=SIZE) as pilot:
        for name, values in screens(lab):
            assert screen_name(pilot) == name
            await fill(pilot, {k: v for k, v in values.items() if "harbor_nodes[2]" not in k})
            await next_screen(pilot)
        await save_and_install(pilot)
        await pilot.press("ctrl+q")
    assert app.return_code == 0


@pytest.fixture(scope="module")
def typed(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder where the TUI saved lab.yaml (2 nodes) and installed it: its state folder
    beside it, and a copy of the two-node file in two-nodes/."""
    reset(lab)
    folder = tmp_path_factory.mktemp("reopen")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARBOR_WIZARD_STATE_DIR", str(folder / "state"))
        patch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        patch.chdir(folder)
        asyncio.run(type_two_nodes(lab))
    (folder / "two-nodes").mkdir()
    for name in ("lab.yaml", "lab.secrets.yaml"):
        shutil.copy2(folder / name, folder / "two-nodes" / name)
    try:
        yield folder
    finally:
        reset(lab)


def test_edit_in_a_terminal_takes_the_secrets_given_and_the_own_vip(
    lab: Lab, typed: Path, tmp_path: Path
) -> None:
    """`harbor-wizard --edit FILE --secrets OTHER` in tmux: screen 1 says the VIP is this
    deployment's, and the Harbor DB's password comes from OTHER (its check logs in)."""
    (tmp_path / "files").mkdir()
    answers = Path(shutil.copy2(typed / "two-nodes" / "lab.yaml", tmp_path / "files"))
    secrets = Path(shutil.copy2(typed / "two-nodes" / "lab.secrets.yaml", tmp_path / "s.yaml"))
    environment = {
        "LANG": "C.UTF-8",
        "HARBOR_WIZARD_STATE_DIR": str(typed / "state"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    command = [COMMAND, "--edit", str(answers), "--secrets", str(secrets)]
    term = Terminal(command, env=environment, unset=["NO_COLOR"], cwd=tmp_path)
    try:
        term.wait_for("1 Topology", FIRST_FRAME)
        term.wait_for(r"ok: the VIP is held by this deployment's LB lb01", 30)
        term.press("F2")
        term.wait_for("2 Load balancers")
        term.press("F2")
        term.wait_for("3 Harbor DB")
        screen = term.wait_for(r"> Host +\S+ +\[(ok|warning)\]", 30)  # logged in
        assert "error" not in screen, screen
        term.press("C-q")
        term.wait_for(r"\[exit 0\]", 10, exit_ok=True)
    finally:
        term.stop()


async def test_edit_reopens_the_saved_file_and_adds_a_node(
    lab: Lab, typed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(typed / "state"))
    monkeypatch.chdir(typed)
    before = snapshot(lab, WATCHED)
    app = WizardApp(open_draft(typed / "lab.yaml"))  # as `--edit lab.yaml` opens it
    async with app.run_test(size=SIZE) as pilot:
        result = await add_node_and_install(pilot, lab)
    assert_only_the_new_node_changed(lab, result, before, snapshot(lab, WATCHED))


async def test_the_start_list_resumes_a_stopped_run_then_adds_a_node(
    lab: Lab, typed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reset(lab)
    for name in ("lab.yaml", "lab.secrets.yaml"):
        shutil.copy2(typed / "two-nodes" / name, tmp_path / name)
    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    # The TUI's file run unattended, stopped (as Ctrl-C stops it) once harbor01 unpacked.
    install = Install(load_inputs(tmp_path / "lab.yaml"))
    unpacked = ("harbor01", "installer:unpack")

    def stop_after_unpack(event: Event) -> None:
        if isinstance(event, StepFinished) and (event.host, event.step) == unpacked:
            install.cancel()

    assert not install.run(stop_after_unpack).ok

    app = WizardApp()
    async with app.run_test(size=SIZE) as pilot:
        first = str(app.screen.query_one("#deployments").options[0].prompt)
        assert first.split()[0] == "lab"
        assert "stopped after" in first
        await pilot.press("tab", "enter")
        await until(pilot, lambda: screen_name(pilot) == "StatusScreen", 10, "the status")
        assert "F4 resumes it" in str(app.screen.query_one("#run").render())
        resumed = await installed(pilot, "f4")
        assert resumed.outcomes[unpacked] is Outcome.SKIPPED  # the journal had it done
        await pilot.press("ctrl+q")

    before = snapshot(lab, WATCHED)
    app = WizardApp()
    async with app.run_test(size=SIZE) as pilot:
        first = str(app.screen.query_one("#deployments").options[0].prompt)
        assert first.split()[0] == "lab"
        assert first.endswith(" completed")
        await pilot.press("tab", "enter")
        await until(pilot, lambda: screen_name(pilot) == "StatusScreen", 10, "the status")
        await pilot.press("f2")
        await pilot.pause()
        result = await add_node_and_install(pilot, lab)
    assert_only_the_new_node_changed(lab, result, before, snapshot(lab, WATCHED))
