"""Screens are numbered as the chosen release and answers show them: a skipped screen
(Clair DB without Clair or on 2.x, Certificates over http) takes no number, in the titles,
in help (F1) and where review says which screen fixes a field."""

from __future__ import annotations

import re

import pytest

from harbor_wizard.views.app import WizardApp
from tests.support.deployment import ANSWERS, ANSWERS_2X, https
from tests.tui.conftest import SIZE
from tests.tui.offline import NEVER, draft

CASES = {
    "2.15 http": (
        ANSWERS_2X,
        ["Topology", "Load balancers", "Harbor DB", "Redis", "Storage", "SSH access", "Review"],
    ),
    "1.4 Clair http": (
        ANSWERS,
        ["Topology", "Load balancers", "Harbor DB", "Clair DB", "Redis", "Storage",
         "SSH access", "Review"],
    ),
    "2.15 https": (
        https(ANSWERS_2X),
        ["Topology", "Load balancers", "Harbor DB", "Redis", "Storage", "Certificates",
         "SSH access", "Review"],
    ),
}  # fmt: skip


def title(app: WizardApp) -> str:
    return str(app.screen.query_one(".title").render())


@pytest.mark.parametrize("case", list(CASES))
async def test_titles_help_and_review_count_the_screens_shown(case: str) -> None:
    text, names = CASES[case]
    app = WizardApp(draft(text), first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        titles = []
        for name in app.flow():
            app.go(name)
            await pilot.pause()
            titles.append(title(app).split(":")[0])
        expected = [f"{number} {name}" for number, name in enumerate(names, 1)]
        assert titles == expected
        await pilot.press("f1")
        await pilot.pause()
        helped = " ".join(str(app.screen.query("Static").first().render()).split())
        listed = re.search(r"Screens: (.*?) Unattended", helped)
        assert listed, helped
        after = [f"{len(names) + 1} Install", f"{len(names) + 2} Done"]
        assert listed[1].split(", ") == expected + after
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.screen_of("storage.provider") == expected[names.index("Storage")]
        assert app.screen.screen_of("ssh.user") == expected[names.index("SSH access")]


async def test_a_screen_skipped_on_screen_1_renumbers_the_next_ones() -> None:
    app = WizardApp(draft(), first="topology", debounce=NEVER)  # 1.4 with Clair
    async with app.run_test(size=SIZE) as pilot:
        assert app.number("redis") == 5
        app.screen.query_one("#harbor-with_clair").value = "no"
        await pilot.pause()
        assert app.number("redis") == 4
        app.go("redis")
        await pilot.pause()
        assert title(app).startswith("4 Redis:")
