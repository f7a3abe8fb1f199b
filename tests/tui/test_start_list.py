"""The start screen's list of known deployments (issue 16, item 1), offline: the answers
files of the folder and the deployments with a journal here, each with its last run in
words, keyboard only at 80x24; Enter opens one (status first when it ran here, where F4
offers to resume a run that stopped); `--edit` honours `--secrets`.

The lab tests (test_reopen_lab.py) open, resume and install through the same list.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from harbor_wizard.cli import main
from harbor_wizard.views import launch
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.resume import known_deployments
from tests.support.deployment import ANSWERS, SECRETS, write_deployment, write_secrets
from tests.tui.conftest import SIZE, screen_name
from tests.tui.offline import NEVER

FAILED = {
    "ok": False,
    "message": "phase 'nodes' failed: harbor02/install.sh",
    "failed": "harbor02 / install.sh: exit 1",
    "last_completed": "harbor01 / install.sh",
}
STOPPED = {
    "ok": False,
    "message": "interrupted during phase 'nodes'",
    "last_completed": "harbor01 / installer:unpack",
}
COMPLETED = {"ok": True, "message": "done", "last_completed": "operator / verify:vip"}


def journal(name: str, last: dict[str, Any], at: float) -> None:
    folder = Path(os.environ["HARBOR_WIZARD_STATE_DIR"]) / name
    folder.mkdir(parents=True, exist_ok=True)
    record = {"started": at - 60, "finished": at, "dry_run": False, **last}
    (folder / "journal.json").write_text(json.dumps({"steps": {}, "hosts": [], "last": record}))


def deployment(folder: Path, name: str, file: str) -> Path:
    """`file` in `folder` naming deployment `name`, its secrets beside it."""
    answers, secrets = write_deployment(
        folder / ".made", ANSWERS.replace("name: harbor-test", f"name: {name}")
    )
    target = folder / file
    answers.rename(target)
    secrets.rename(folder / f"{target.stem}.secrets.yaml")
    return target


def lines(app: WizardApp) -> list[str]:
    return [str(option.prompt) for option in app.screen.query_one("#deployments").options]


def footer_keys(app: WizardApp) -> set[str]:
    return {key for key, b in app.active_bindings.items() if b.enabled and b.binding.show}


def text(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """prod.yaml stopped, stage.yaml failed, new.yaml never run, old completed with its
    file elsewhere; the status check answers at once (no host is asked offline)."""
    now = time.time()
    deployment(tmp_path, "prod", "prod.yaml")
    deployment(tmp_path, "stage", "stage.yaml")
    deployment(tmp_path, "fresh", "new.yaml")
    journal("prod", STOPPED, now - 60)
    journal("stage", FAILED, now - 3600)
    journal("old", COMPLETED, now - 86400)
    monkeypatch.chdir(tmp_path)

    def offline(*args: Any) -> Any:
        raise RuntimeError("offline test: no host is asked")

    monkeypatch.setattr("harbor_wizard.health.gather", offline)
    return tmp_path


async def open_line(pilot: Pilot[WizardApp], index: int) -> None:
    """Tab from 'New deployment' to the list, Down to the line, Enter."""
    await pilot.press("tab", *["down"] * index, "enter")
    await pilot.pause()


async def test_the_list_says_each_deployments_last_run_in_words(folder: Path) -> None:
    app = WizardApp(debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is app.screen.query_one("#new")
        shown = lines(app)
        assert [line.split()[0] for line in shown] == ["prod", "stage", "old", "fresh"]
        prod, stage, old, fresh = shown
        assert prod.endswith("stopped after harbor01 / installer:unpack")
        assert stage.endswith("failed at harbor02 / install.sh: exit 1")
        assert old.endswith("completed; its file is not here")
        assert fresh.endswith("never run here")
        assert all(len(line) <= 76 for line in shown)  # 80 columns less the padding
        assert text(app, "#detail").startswith("prod.yaml: the last run (")
        assert "interrupted" not in prod  # Ctrl-C's own words add nothing to "stopped"
        # Keyboard only: the focused line is marked in text (NO_COLOR), its detail below.
        await pilot.press("tab")
        await pilot.pause()
        assert lines(app)[0].startswith("> prod")
        assert "F4 there resumes the run" in text(app, "#detail")
        await pilot.press("down")
        await pilot.pause()
        assert lines(app)[0].startswith("  prod")
        assert lines(app)[1].startswith("> stage")
        assert "failed at harbor02 / install.sh: exit 1" in text(app, "#detail")
        await pilot.press("down", "enter")  # old: its file is not in this folder
        await pilot.pause()
        assert screen_name(pilot) == "StartScreen"
        assert "not in this folder" in text(app, "#problem")
        assert app.focused is app.screen.query_one("#path")
        # Everything fits 80x24, above the footer's line.
        for widget in app.screen.query(".choices > *"):
            assert widget.region.bottom <= 23, (widget, widget.region)


async def test_enter_on_a_file_never_run_here_opens_it_for_editing(folder: Path) -> None:
    app = WizardApp(debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await open_line(pilot, 3)
        assert screen_name(pilot) == "TopologyScreen"
        assert app.draft.path == folder / "new.yaml"
        assert app.draft.secrets == SECRETS


async def test_a_stopped_run_shows_its_status_with_resume_offered(folder: Path) -> None:
    app = WizardApp(debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await open_line(pilot, 0)
        assert screen_name(pilot) == "StatusScreen"
        assert app.draft.path == folder / "prod.yaml"
        run = text(app, "#run")
        assert "stopped after harbor01 / installer:unpack. F4 resumes it" in run
        assert "skips the steps already done" in run
        keys = footer_keys(app)
        assert {"f2", "f4"} <= keys
        # The secrets resume needs are gone: F4 says which and where, nothing starts.
        (folder / "prod.secrets.yaml").unlink()
        await pilot.press("f4")
        for _ in range(50):
            await pilot.pause(0.05)
            if text(app, "#run").startswith("error"):
                break
        assert screen_name(pilot) == "StatusScreen"
        assert "database.password" in text(app, "#run")
        assert app.saved is None


async def test_a_completed_run_shows_its_status_without_resume(folder: Path) -> None:
    deployment(folder, "old", "old.yaml")
    app = WizardApp(debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        assert lines(app)[2].endswith(" completed")
        await open_line(pilot, 2)
        assert screen_name(pilot) == "StatusScreen"
        assert text(app, "#run").endswith("completed.")
        keys = footer_keys(app)
        assert "f4" not in keys
        await pilot.press("f4")
        await pilot.pause()
        assert screen_name(pilot) == "StatusScreen"
        await pilot.press("f2")
        await pilot.pause()
        assert screen_name(pilot) == "TopologyScreen"


async def test_nothing_known_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = WizardApp(debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        assert "none" in text(app, "#known-text")
        assert not app.screen.query("#deployments")
        await pilot.press("tab")
        assert app.focused is app.screen.query_one("#path")


def test_the_list_is_read_without_the_answers_model(folder: Path) -> None:
    """The start screen is the first frame: listing imports no pydantic, YAML or SSH."""
    probe = (
        "import sys\nfrom pathlib import Path\n"
        "import harbor_wizard.views.app, harbor_wizard.screens.start\n"
        "from harbor_wizard.views.resume import known_deployments\n"
        "rows = [k.row() for k in known_deployments(Path.cwd())]\n"
        "heavy = [m for m in ('pydantic', 'ruamel', 'fabric', 'paramiko') if m in sys.modules]\n"
        "print(len(rows), heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=folder, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "4 []"
    assert len(known_deployments(folder)) == 4


def test_edit_takes_the_secrets_file_given(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)  # secrets.yaml: not beside answers.yaml
    draft = launch.open_draft(answers)
    assert draft.secrets == {}
    draft = launch.open_draft(answers, secrets)
    assert draft.secrets == SECRETS
    # Beside it too: the file given wins, the sidecar is not read.
    write_secrets(tmp_path / "answers.secrets.yaml", {"database.password": "other-Secret-1"})
    assert launch.open_draft(answers, secrets).secrets == SECRETS
    assert launch.open_draft(answers).secrets == {"database.password": "other-Secret-1"}


def test_cli_edit_passes_secrets_and_refuses_them_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(tmp_path)
    opened: list[Any] = []

    def run_tui(edit: Path | None, *, secrets: Path | None, ascii_only: bool) -> int:
        opened.append(launch.open_draft(edit, secrets).secrets if edit else None)
        return 0

    monkeypatch.setattr(launch, "run_tui", run_tui)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert main(["--edit", str(answers), "--secrets", str(secrets)]) == 0
    assert opened == [SECRETS]
    assert main(["--secrets", str(secrets)]) == 2
    assert "--edit FILE" in capsys.readouterr().err
    os.chmod(secrets, 0o644)  # refused as --answers refuses it: exit 2, nothing opened
    assert main(["--edit", str(answers), "--secrets", str(secrets)]) == 2
    assert "chmod 600" in capsys.readouterr().err
