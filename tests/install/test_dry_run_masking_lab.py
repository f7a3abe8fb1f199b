"""A dry run after a password change, through the installed command: the diff shows which
lines would change, and neither the host's current values nor the new ones, anywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from harbor_wizard.cli import main
from tests.install.test_day_two_lab import answers_for
from tests.lab import Lab

pytestmark = pytest.mark.lab

INSTALLED = Path(sys.executable).parent / "harbor-wizard"
CHANGED = {"harbor.admin_password": "N3w-Adm1n-pw", "load_balancer.auth_pass": "n3wVrrp"}


def test_dry_run_after_a_password_change_masks_old_and_new(
    fresh: Lab, folder: Path, state: Path
) -> None:
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02"])
    assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0
    yaml = YAML()
    values = yaml.load(secrets.read_text())
    old = {path: str(values[path]) for path in CHANGED}
    values.update(CHANGED)
    with secrets.open("w") as out:
        yaml.dump(values, out)
    logs = set((state / "lab" / "logs").glob("*.jsonl"))
    result = subprocess.run(
        [str(INSTALLED), "--answers", str(answers), "--secrets", str(secrets), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    (log,) = set((state / "lab" / "logs").glob("*.jsonl")) - logs
    shown = result.stdout + result.stderr + log.read_text()
    for value in [*old.values(), *CHANGED.values()]:
        assert value not in shown
    assert "would change" in result.stdout
    assert "-harbor_admin_password = ********" in result.stdout
    assert "+harbor_admin_password = ******** (changed)" in result.stdout
    assert "auth_pass ********" in result.stdout


def test_a_service_marker_left_readable_is_made_0600(
    fresh: Lab, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """keepalived.sha256 is a digest of a file holding auth_pass: markers an older version
    wrote 0644 are tightened, without reloading the service."""
    answers, secrets = answers_for(fresh, folder, ["harbor01", "harbor02"])
    assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0
    marker = "/etc/harbor-wizard/applied/keepalived.sha256"
    lb = fresh["lb01"]
    assert lb.run(f"stat -c %a {marker}").stdout.strip() == "600"
    lb.run(f"chmod 644 {marker}")
    capsys.readouterr()
    assert main(["--answers", str(answers), "--secrets", str(secrets)]) == 0
    out = capsys.readouterr().out
    assert f"lb01 service:keepalived: changed - {marker} made 0600" in out
    assert "keepalived reloaded" not in out
    assert lb.run(f"stat -c %a {marker}").stdout.strip() == "600"
