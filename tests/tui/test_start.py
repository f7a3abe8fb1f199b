"""Opening a file: --edit keeps comments and finds the secrets beside the file; nothing is
overwritten without asking (the start screen's list: test_start_list.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from tests.support.deployment import SECRETS, write_deployment
from tests.tui.conftest import SIZE, screen_name


def test_an_edit_keeps_the_operators_comments(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)
    secrets.rename(tmp_path / "answers.secrets.yaml")
    original = answers.read_text().replace("  port: 3306\n", "  port: 3306  # the DBA's port\n")
    answers.write_text(original)
    draft = Draft.from_file(answers)
    draft.find_secrets()
    assert draft.secrets == SECRETS
    draft.set("database.port", 3307)
    draft.to_document().save(answers)
    text = answers.read_text()
    assert "  port: 3307  # the DBA's port\n" in text
    assert text.splitlines()[1:] == original.replace("3306  #", "3307  #").splitlines()
    for value in SECRETS.values():
        assert value not in text


async def test_review_asks_before_replacing_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers, secrets = write_deployment(tmp_path)
    secrets.rename(tmp_path / "answers.secrets.yaml")
    before = answers.read_text()
    draft = Draft.from_file(answers)
    draft.find_secrets()
    app = WizardApp(draft, first="review")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        assert screen_name(pilot) == "ConfirmScreen"
        await pilot.press("enter")  # the focus starts on No
        await pilot.pause()
        assert screen_name(pilot) == "ReviewScreen"
        assert answers.read_text() == before
        assert app.saved is None


async def test_save_with_a_damaged_journal_says_so_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers, secrets = write_deployment(tmp_path)
    secrets.rename(tmp_path / "answers.secrets.yaml")
    folder = Path(os.environ["HARBOR_WIZARD_STATE_DIR"]) / "harbor-test"
    folder.mkdir(parents=True)
    (folder / "journal.json").write_text("{not json")
    draft = Draft.from_file(answers)
    draft.find_secrets()
    app = WizardApp(draft, first="review")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press("tab", "enter")  # Yes, replace it
        for _ in range(50):
            await pilot.pause(0.1)
            status = str(app.screen.query_one("#status").render())
            if not status.startswith("Saving"):
                break
        assert status.startswith("error: "), status
        assert "journal.json" in status
        assert app.saved is None
