"""Issue 16: mistakes are marked where they are, when the operator has left the field, in
the operator's words on every screen; F7 keeps the minimum of nodes; dialogs take
Left/Right; NO_COLOR errors are bold."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Static

from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from tests.answers.test_messages import operator_words
from tests.support.deployment import ANSWERS, SECRETS, https, write_deployment
from tests.tui.conftest import SIZE, editor, message, row, screen_name
from tests.tui.offline import NEVER, app_on

SCREENS = ["topology", "load_balancers", "database", "clair_database", "redis", "storage",
           "certificates", "ssh_access", "review"]  # fmt: skip


def screen_text(app: WizardApp) -> str:
    """The screen as the terminal shows it (what a snapshot holds), as text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def said(app: WizardApp) -> str:
    """Every message of the screen, also the ones scrolled out of sight."""
    texts = [str(widget.render()) for widget in app.screen.query(Static)]
    return "\n".join(texts)


async def look(pilot: Pilot[Any], where: str, seen: dict[str, str]) -> None:
    await pilot.pause()
    text = screen_text(pilot.app)  # type: ignore[arg-type]
    assert len(text.splitlines()) <= SIZE[1]
    seen[where] = text + "\n" + said(pilot.app)  # type: ignore[arg-type]


def saving(app: WizardApp) -> list[Any]:
    """Review's workers (the live checks of these apps never start: their debounce)."""
    return [worker for worker in app.workers if worker.name != "run_check"]


async def walk(app: WizardApp, tmp_path: Path) -> dict[str, str]:
    """Every screen as it opens and after F2 (Next refused, or Save on Review), help, and a
    dialog; returns what each showed."""
    seen: dict[str, str] = {}
    async with app.run_test(size=SIZE) as pilot:
        for name in SCREENS:
            app.go(name)
            await pilot.pause()
            await look(pilot, name, seen)
            if name == "review":
                target = tmp_path / "saved.yaml"
                app.screen.query_one("#path").value = str(target)  # type: ignore[attr-defined]
                await pilot.pause()
            await pilot.press("f2")
            if saving(app):  # (none: wait_for_complete would wait for all of them)
                await app.workers.wait_for_complete(saving(app))
            await pilot.pause()
            assert screen_name(pilot) not in ("", "ConfirmScreen")
            await look(pilot, f"{name} after F2", seen)
        await pilot.press("f1")
        await look(pilot, "help", seen)
        await pilot.press("escape")
        app.confirm("Go on with these warnings?\nwarning: something", lambda yes: None)
        await look(pilot, "dialog", seen)
    return seen


def new_deployment() -> WizardApp:
    draft = Draft.new()
    draft.set("harbor.with_clair", True)
    draft.enable("clair_database", True)
    draft.set("harbor.protocol", "https")
    draft.enable("tls", True)
    return WizardApp(draft, first="topology", debounce=NEVER)


BROKEN = {
    'version: "1.4.0"': 'version: "1.5"',
    "hostname: registry.example.com": "hostname: reg.mydomain.com",
    "address: 198.51.100.12,": "address: 198.51.101.12,",
    "priority: 90}": "priority: high}",
    "address: 198.51.100.23}": "address: 198.51.100.21}",
    "  port: 3306\n": "  port: 70000\n",
    "  database: postgres\n": "  database: clair\n",
    '["198.51.100.32:6379"]': '["no-port"]',
    "config: {}": "config: {Root-Dir: x, rootdirectory: /data}",
    "  port: 22\n": "  port: 0\n",
    "interface: eth0": "interface: lo",
}


def invalid_file(tmp_path: Path) -> WizardApp:
    text = https(ANSWERS)
    for old, new in BROKEN.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path, _ = write_deployment(tmp_path / "opened", text)
    draft = Draft.from_file(path)
    draft.secrets.update(SECRETS)
    return WizardApp(draft, first="topology", debounce=NEVER)


@pytest.mark.parametrize("make", [new_deployment, invalid_file], ids=["new", "invalid file"])
async def test_every_screen_speaks_the_operators_words(
    make: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make() if make is new_deployment else make(tmp_path)
    seen = await walk(app, tmp_path)
    assert "review after F2" in seen
    for where, text in seen.items():
        try:
            operator_words(text)
        except AssertionError:
            pytest.fail(f"{where}:\n{text}")
    assert "error:" in seen["topology after F2"]  # the walk did show errors
    if make is invalid_file:
        assert "is not in the VIP's network" in seen["load_balancers"]  # shown at once
        assert "'no-port' is not host:port" in seen["redis"]


async def test_a_duplicate_address_is_marked_on_screen_1_before_next() -> None:
    app = WizardApp(Draft.new(), first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        editor(pilot, "harbor_nodes[0].address").focus()
        await pilot.press(*"198.51.100.21", "tab", "tab", *"198.51.100.21")
        assert message(pilot, "harbor_nodes[1].address") == ""  # still being typed
        await pilot.press("tab")
        assert screen_name(pilot) == "TopologyScreen"
        assert message(pilot, "harbor_nodes[1].address") == (
            "error: 198.51.100.21 is also Harbor node 1's address (harbor01): every host "
            "needs its own address"
        )
        assert "198.51.100.21 is also" in screen_text(app)
        await pilot.press("shift+tab", "end", "backspace", "2")
        assert message(pilot, "harbor_nodes[1].address") == ""  # right again: gone at once


async def test_a_clash_with_an_earlier_screen_is_marked_where_it_was_typed() -> None:
    """An LB given a node's address: the LB's field says so (screen 2), not the node's."""
    app = app_on("load_balancers")
    async with app.run_test(size=SIZE) as pilot:
        field = editor(pilot, "load_balancer.nodes[1].address")
        field.focus()
        field.value = "198.51.100.21"
        await pilot.press("tab")
        assert message(pilot, "load_balancer.nodes[1].address") == (
            "error: 198.51.100.21 is also Harbor node 1's address (harbor01): every host "
            "needs its own address"
        )
        assert "harbor_nodes[0].address" not in app.draft.problems()


async def test_a_screen_shows_no_error_before_the_field_is_left() -> None:
    app = WizardApp(Draft.new(), first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is editor(pilot, "harbor.version")  # the release comes first
        assert "error" not in said(app)
        await pilot.press("tab")
        assert app.focused is editor(pilot, "name")
        await pilot.press(*"bad name!")
        assert message(pilot, "name") == ""
        await pilot.press("tab")
        assert message(pilot, "name").startswith("error: 'bad name!' is not a safe name")
        assert message(pilot, "harbor.hostname") == ""  # not reached yet
        await pilot.press("f2")
        assert message(pilot, "harbor.hostname") == (
            "error: is required: the address clients use: an FQDN that resolves to the VIP, "
            "or the VIP, e.g. registry.example.com"
        )


async def test_f7_keeps_the_minimum_of_two_nodes_and_says_why() -> None:
    draft = Draft.new()
    draft.set("harbor_nodes[2]", {"name": "harbor03"})
    app = WizardApp(draft, first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        assert len(app.draft.get("harbor_nodes")) == 2
        await pilot.press("f7")
        await pilot.pause()
        assert len(app.draft.get("harbor_nodes")) == 2
        assert len(app.screen.query("#row-harbor_nodes-1-address")) == 1
        notice = str(app.screen.query_one(".notice").render())
        assert notice == (
            "F7: node 2 not removed: at least 2 Harbor nodes are needed (high availability "
            "needs a second node to take over)."
        )
        assert "F7: node 2 not removed" in screen_text(app)


async def test_the_ssh_screen_says_which_screen_to_fix() -> None:
    app = WizardApp(Draft.new(), first="ssh_access", debounce=0.01)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        waiting = str(app.screen.query_one("#waiting").render())
        assert waiting.startswith("No hosts to check yet")
        assert "1 Topology: name, harbor.installer" in waiting
        assert "2 Load balancers: load_balancer.nodes[0].address" in waiting
        assert "3 Harbor DB: database.host" in waiting


async def test_dialog_buttons_take_left_and_right() -> None:
    app = WizardApp(Draft.new(), first="topology", debounce=NEVER)
    answers: list[bool] = []
    async with app.run_test(size=SIZE) as pilot:
        app.confirm("Replace it?", answers.append)
        await pilot.pause()
        assert app.focused is app.screen.query_one("#no", Button)
        await pilot.press("left")
        assert app.focused is app.screen.query_one("#yes", Button)
        assert "> Yes" in screen_text(app)
        await pilot.press("left")  # stays on the first
        assert app.focused is app.screen.query_one("#yes", Button)
        await pilot.press("right")
        assert app.focused is app.screen.query_one("#no", Button)
        await pilot.press("left", "enter")
        await pilot.pause()
    assert answers == [True]


@pytest.mark.parametrize("move", ["left", "tab", "shift+tab"])
async def test_a_move_then_enter_typed_ahead_answers_yes(move: str) -> None:
    """Both keys in one read (a paste, a fast typist over SSH): Enter must answer with the
    button the move chose, not the one focused before it."""
    app = WizardApp(Draft.new(), first="topology", debounce=NEVER)
    answers: list[bool] = []
    async with app.run_test(size=SIZE) as pilot:
        app.confirm("Go on?", answers.append)
        await pilot.pause()
        app.post_message(events.Key(move, None))
        app.post_message(events.Key("enter", "\r"))
        await pilot.pause()
        await pilot.pause()
    assert answers == [True]


@pytest.mark.parametrize("no_color", [True, False], ids=["NO_COLOR", "colour"])
async def test_errors_are_bold_under_no_color(
    no_color: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = WizardApp(Draft.new(), first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "tab")  # past the release, then leave the name
        field = row(pilot, "name")
        assert message(pilot, "name").startswith("error: is required")
        for part in (field.query_one(".message"), field.query_one(".status")):
            assert bool(part.styles.text_style.bold) is no_color
        await pilot.press("f2")
        assert bool(app.screen.query_one(".notice").styles.text_style.bold) is no_color


async def test_help_keeps_its_brackets_and_fits_80_columns() -> None:
    app = WizardApp(Draft.new(), first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        text = screen_text(app)
        from harbor_wizard.screens.help import KEYS

        shown = KEYS.format(screens=app.screen.screens())  # type: ignore[attr-defined]
    assert "[checking] [ok] [warning] [error]" in text
    assert "Screens: 1 Topology, 2 Load balancers, 3 Harbor DB, 4 Redis," in text
    # Every line of the help is whole on one screen line (nothing wrapped or cut).
    for line in shown.splitlines():
        if line.strip():
            assert line.strip() in text, line


async def test_a_long_question_scrolls_and_its_buttons_stay_in_view() -> None:
    """Six nodes' storage warnings once pushed Yes and No off the bottom of the dialog."""
    app = WizardApp(Draft.new(), first="topology", debounce=NEVER)
    answers: list[bool] = []
    warnings = "\n".join(f"warning: harbor{i:02d}: /data/registry is on ext4" for i in range(40))
    async with app.run_test(size=SIZE) as pilot:
        app.confirm(f"Go on with these warnings?\n{warnings}", answers.append)
        await pilot.pause()
        await pilot.pause()
        shown = screen_text(app)
        assert "> No" in shown
        assert "Yes" in shown
        assert "(more: Up/Down or PageUp/PageDown)" in shown
        assert "harbor39" not in shown
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown")
        assert "harbor39" in screen_text(app)
        await pilot.press("left", "enter")
        await pilot.pause()
    assert answers == [True]


@pytest.mark.parametrize("first", ["start", "review"])
async def test_the_start_and_review_problems_are_bold_text_under_no_color(
    first: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR turns an error colour into a dim grey: these lines keep the text colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = WizardApp(None if first == "start" else Draft.new(), first=first, debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = app.screen.query_one("#problem" if first == "start" else "#status")
        line.add_class("-error")
        await pilot.pause()
        assert line.rich_style.bold
        assert line.rich_style.color == app.screen.rich_style.color
