"""An opened file with the other release's answers (`--edit` of a 2.x file with Clair,
a Clair DB section or MariaDB): each refusal shows on a field that fixes it, and a live
check's result shows on the field its ``field_path`` names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr
from textual.pilot import Pilot

from harbor_wizard.answers.model import Database
from harbor_wizard.checks.result import CheckResult, Status
from harbor_wizard.views.app import WizardApp
from harbor_wizard.views.draft import Draft
from harbor_wizard.views.live import Probes
from tests.support.deployment import ANSWERS, ANSWERS_2X, SECRETS, SECRETS_2X
from tests.tui.conftest import SIZE, editor, message, row, settle, status
from tests.tui.offline import NEVER

CLAIR_DB = "clair_database:\n  host: 198.51.100.31\n  port: 5432\n  user: postgres\n"


def opened(tmp_path: Path, text: str) -> Draft:
    """As `harbor-wizard --edit FILE` opens it (every error shows at once)."""
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    draft = Draft.from_file(path)
    draft.secrets.update(SECRETS_2X if draft.release() == "2.x" else SECRETS)
    return draft


async def _settled(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.pause()


async def test_a_2x_file_with_clair_is_fixed_on_the_scanner_field(tmp_path: Path) -> None:
    text = ANSWERS_2X.replace("with_trivy: true", "with_trivy: true\n  with_clair: true")
    draft = opened(tmp_path, text + CLAIR_DB)
    app = WizardApp(draft, first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await _settled(pilot)
        assert message(pilot, "harbor.with_clair").startswith("error: Harbor 2.x has no Clair")
        assert "clair_database" not in app.flow()
        assert app.number("redis") == 4
        await pilot.press("f2")
        await _settled(pilot)
        assert type(app.screen).__name__ == "TopologyScreen"  # refused
        editor(pilot, "harbor.with_clair").value = "no"
        await _settled(pilot)
        assert row(pilot, "harbor.with_clair").error is None
        assert draft.get("harbor.with_clair") is None
        assert "clair_database" not in draft.data
        assert not draft.problems()
        written = draft.to_document().dump()
        assert "with_clair" not in written
        assert "clair_database" not in written
        editor(pilot, "harbor.with_clair").value = "yes"  # back as the file had it
        await _settled(pilot)
        assert draft.get("harbor.with_clair") is True
        assert draft.get("clair_database.host") == "198.51.100.31"


async def test_a_2x_clair_db_section_alone_is_refused_on_topology(tmp_path: Path) -> None:
    draft = opened(tmp_path, ANSWERS_2X + CLAIR_DB)
    app = WizardApp(draft, first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await _settled(pilot)
        said = message(pilot, "harbor.with_clair")
        assert said.startswith("error: Harbor 2.x has no Clair, so no Clair DB")
        assert (
            "Harbor 2.15 has no Clair: 'no' removes harbor.with_clair and the file's "
            "clair_database section" in str(app.screen.query_one(".stray").render())
        )
        app.go("review")
        await _settled(pilot)
        assert app.screen.screen_of("clair_database") == "1 Topology"  # type: ignore[attr-defined]
        app.go("topology")
        await _settled(pilot)
        editor(pilot, "harbor.with_clair").value = "no"
        await _settled(pilot)
        assert "clair_database" not in draft.data
        assert not draft.problems()


async def test_a_1_4_file_with_trivy_is_fixed_on_the_scanner_field(tmp_path: Path) -> None:
    text = ANSWERS.replace("with_clair: true", "with_clair: true\n  with_trivy: true")
    draft = opened(tmp_path, text)
    app = WizardApp(draft, first="topology", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await _settled(pilot)
        assert message(pilot, "harbor.with_trivy").startswith("error: Harbor 1.4 has no Trivy")
        editor(pilot, "harbor.with_trivy").value = "no"
        await _settled(pilot)
        assert draft.get("harbor.with_trivy") is None
        assert draft.get("clair_database.host") == "198.51.100.31"  # 1.4's own Clair DB kept
        assert not draft.problems()


async def test_a_2x_file_with_mariadb_offers_postgresql_on_the_engine_field(
    tmp_path: Path,
) -> None:
    text = ANSWERS_2X.replace("database:\n", "database:\n  engine: mariadb\n", 1)
    draft = opened(tmp_path, text)
    app = WizardApp(draft, first="database", debounce=NEVER)
    async with app.run_test(size=SIZE) as pilot:
        await _settled(pilot)
        assert editor(pilot, "database.engine").value == "mariadb"
        assert message(pilot, "database.engine").startswith(
            "error: Harbor 2.x keeps its data in PostgreSQL only"
        )
        await pilot.press("right")  # the first field: < mariadb > to < postgresql >
        await _settled(pilot)
        assert draft.get("database.engine") == "postgresql"
        assert row(pilot, "database.engine").error is None
        assert not draft.problems()


async def test_a_2x_harbor_db_check_shows_on_the_field_it_names(tmp_path: Path) -> None:
    """A refused connection is said at database.port, a silent host at database.host."""
    said: list[CheckResult] = []

    def harbor_db(database: Database, password: SecretStr) -> list[CheckResult]:
        return list(said)

    refused = "PostgreSQL at 198.51.100.30:5432 refused the connection"
    said[:] = [CheckResult("harbor_db.login", "database", Status.ERROR, refused, (), 0.0,
                           "database.port")]  # fmt: skip
    draft = opened(tmp_path, ANSWERS_2X)
    app = WizardApp(draft, first="database", probes=Probes(harbor_db=harbor_db), debounce=0.01)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert message(pilot, "database.port") == f"error: {refused}"
        assert status(pilot, "database.port") == "[error]"
        assert status(pilot, "database.host") == ""
        silent = "PostgreSQL at 198.51.100.30:5432 did not answer within 3 s"
        said[:] = [CheckResult("harbor_db.login", "database", Status.ERROR, silent, (), 0.0,
                               "database.host")]  # fmt: skip
        app.screen.action_recheck()  # type: ignore[attr-defined]
        await settle(pilot)
        assert message(pilot, "database.host") == f"error: {silent}"
        assert status(pilot, "database.port") == ""  # the earlier mark is cleared
