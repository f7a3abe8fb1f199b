"""Harbor 2.15 through the TUI on the lab (issue 15's acceptance "the same through the
TUI"): the release chosen first, by key; 2 LBs, 3 nodes, the lab's PostgreSQL as Harbor's
database (user `harbor`), its Redis with a password; every screen's live checks green;
saved, planned as --answers plans the lab's own 2.15 file, installed, the VIP serving."""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from harbor_wizard.cli import main
from harbor_wizard.inputs import load_inputs
from harbor_wizard.plan import build_plan
from harbor_wizard.render import render
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from tests.install.test_harbor2_lab import SHARED, csrf_key, outcomes, sha256_on
from tests.lab import Lab
from tests.tui.conftest import SIZE, screen_name, settle
from tests.tui.test_lab_flow import fill_to_review

pytestmark = [pytest.mark.lab, pytest.mark.slow]

RELEASE = "2.15"


def assert_no_secret_in(log: Path, values: Iterable[str]) -> None:
    text = log.read_text()
    assert text
    for value in values:
        assert value not in text


def vip_get(lab: Lab, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(lab.vip, 80, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


async def test_harbor_2_fill_review_save_install_done(
    fresh_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = fresh_lab
    monkeypatch.chdir(tmp_path)
    secrets = lab.secrets_dict(RELEASE)
    app = WizardApp(Draft.new())
    async with app.run_test(size=SIZE) as pilot:
        checked: dict[str, str] = {}
        warnings = await fill_to_review(pilot, lab, release=RELEASE, checked=checked)
        assert app.draft.get("harbor.version") == "2.15.2"  # the installer's own
        assert "clair_database" not in app.flow()
        # The 2.x probes answered on their screens (harbor_db, redis_checks_2x, with the
        # password); what was warned of is about the lab's single machines or its storage.
        assert all("HA" in w or "filesystem" in w or "single" in w for w in warnings), warnings
        pg = f"PostgreSQL at {lab.postgres.ip}:{lab.postgres.port}"
        assert checked["database.host"].startswith(f"ok: {pg}: user 'harbor' logged in"), checked
        assert checked["redis.endpoints"].startswith(
            f"ok: Redis at {lab.redis_auth.endpoint}: PONG"
        ), checked

        await pilot.press("f2")
        await settle(pilot)
        review = app.screen
        assert app.saved is not None, str(review.query_one("#status").render())
        written = tmp_path / "lab.yaml"
        assert app.saved.path == written

        # The file: the 2.15 fields only, no secret, and what --answers takes of the lab's
        # own 2.15 file (the same answers, plan and rendered files).
        text = written.read_text()
        for value in secrets.values():
            assert value not in text
        for other in ("with_clair", "clair_database", "mariadb"):
            assert other not in text, other
        (tmp_path / "own").mkdir()
        own_answers, own_secrets = lab.write_answers(tmp_path / "own", release=RELEASE)
        own = load_inputs(own_answers, own_secrets)
        replayed = load_inputs(written)
        assert replayed.answers == own.answers
        assert replayed.answers.database.engine == "postgresql"
        assert replayed.answers.database.user == "harbor"
        assert replayed.answers.redis.password == "<secret>"
        assert build_plan(replayed).describe() == build_plan(own).describe()
        same_artefacts = render(replayed.answers, own.secrets, own.artefacts, own.tls)
        assert same_artefacts == own.render()
        assert str(review.query_one("#plan").render()) == app.saved.plan.describe()

        started = time.monotonic()
        await pilot.press("f4")
        await pilot.pause()
        install = app.screen
        assert screen_name(pilot) == "InstallScreen"
        while install.result is None and time.monotonic() - started < 600:
            await pilot.pause(0.5)
        assert install.result is not None, "the install did not end within 600 s"
        assert install.result.ok, install.result.message
        await pilot.press("f2")
        await pilot.pause()
        assert screen_name(pilot) == "DoneScreen"
        verify = str(app.screen.query_one("#verify").render())
        assert "[ok]" in verify
        assert "[failed]" not in verify
        assert f"http://{lab.vip}/" in str(app.screen.query_one("#url").render())
        shown = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        for value in secrets.values():
            assert value not in shown
        assert_no_secret_in(Path(str(app.run_result[2])), secrets.values())

    # Harbor 2.15 answers through the VIP: its API, and its database reached.
    status, body = vip_get(lab, "/api/v2.0/systeminfo")
    assert status == 200
    assert "auth_mode" in json.loads(body)
    assert vip_get(lab, "/api/v2.0/projects?page_size=1")[0] == 200
    nodes = [node.name for node in lab.harbor_nodes]
    for path in SHARED:
        digests = {sha256_on(lab, node, path) for node in nodes}
        assert len(digests) == 1, path
        assert "" not in digests, path
    assert len({csrf_key(lab, node) for node in nodes}) == 1

    # The saved file (its secrets where the TUI kept them) re-run unattended: nothing to do.
    logs = Path(os.environ["HARBOR_WIZARD_STATE_DIR"]) / "lab" / "logs"
    before = set(logs.glob("*.jsonl"))
    assert main(["--answers", str(written)]) == 0
    assert set(logs.glob("*.jsonl")) - before  # the re-run's own log
    done = outcomes(logs.parent.parent)
    assert done
    assert [step for step, outcome in done.items() if outcome == "changed"] == []
