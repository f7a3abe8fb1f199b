"""`harbor-wizard check` and the unattended preflight, run as an operator would, on the lab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harbor_wizard.cli import main
from tests.lab import Lab
from tests.support.deployment import write_secrets

pytestmark = pytest.mark.lab


@pytest.fixture
def lab_files(lab: Lab, tmp_path: Path) -> tuple[Path, Path]:
    answers, secrets = lab.write_answers(tmp_path)
    return answers, secrets


def test_check_on_a_healthy_lab(
    lab: Lab, lab_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = lab_files
    assert main(["check", "--answers", str(answers), "--secrets", str(secrets)]) == 0
    out = capsys.readouterr().out
    for host in ("lb01", "lb02", "harbor01", "harbor03", "database", "redis", "clair_database"):
        assert host in out
    assert "0 error(s)" in out
    for value in lab.secrets_dict().values():
        assert value not in out
    # Said once: the host column names the host; versions as the tools print them.
    assert "lb01: lb01" not in out
    assert "  lb01: " not in out
    assert "no URL specified" not in out
    assert "curl installed (curl " in " ".join(out.split())


def test_checks_run_side_by_side_keep_their_connections(
    lab: Lab, lab_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """Several `check` runs at once, each with a host's probes side by side on one SSH
    connection: no connection is dropped. sshd drops one for data on a channel it has
    freed (a heartbeat crossing a command's end), and a watchdog that signals a reaped
    command's process group may end someone else's session; under load both happened."""
    answers, secrets = lab_files
    command = [sys.executable, "-m", "harbor_wizard", "check", "--answers", str(answers)]
    command += ["--secrets", str(secrets)]
    env = {**os.environ, "HARBOR_WIZARD_STATE_DIR": str(tmp_path / "state")}
    for _ in range(3):
        runs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(3)
        ]
        for run in runs:
            out, _ = run.communicate(timeout=120)
            assert "connection was closed" not in out, out
            assert run.returncode == 0, out


def test_check_names_what_is_wrong_and_exits_1(
    lab: Lab, lab_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = lab_files
    wrong = {**lab.secrets_dict(), "database.password": "Wrong-Pw-123"}
    write_secrets(secrets, wrong)
    assert main(["check", "--answers", str(answers), "--secrets", str(secrets)]) == 1
    out = capsys.readouterr().out
    assert f"MariaDB at {lab.mariadb.ip}:3306 refused the password" in out
    assert "Wrong-Pw-123" not in out


def test_unattended_stops_on_failed_checks_and_changes_nothing(
    lab: Lab, lab_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = lab_files
    lab.redis.stop()
    try:
        code = main(["--answers", str(answers), "--secrets", str(secrets)])
    finally:
        lab.redis.start()
    captured = capsys.readouterr()
    assert code == 1
    assert f"Redis at {lab.redis.endpoint}: connection refused" in captured.out
    assert "phase 'preflight' failed: operator/checks" in captured.err
    assert not lab["lb01"].path("/etc/keepalived/keepalived.conf").exists()
    assert not lab["harbor01"].path("/opt/harbor").exists()
