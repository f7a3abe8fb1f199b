"""An https install whose certificate comes from an intermediate CA (issue 13, item 3):
a client that trusts only the root verifies Harbor through the VIP.

Fails when the wizard keeps only the first certificate of tls.certificate: the nodes
then serve the leaf alone and curl reports "unable to get local issuer certificate".
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.install.conftest import install
from tests.lab import Lab
from tests.support.lab_answers import https_lab_files

pytestmark = pytest.mark.lab

HOSTNAME = "registry.lab.test"


def curl(lab: Lab, folder: Path) -> subprocess.CompletedProcess[str]:
    """What a client trusting only the root does: no -k, the name resolved to the VIP."""
    return subprocess.run(
        [
            "curl", "-sS", "--max-time", "5", "--cacert", str(folder / "ca.crt"),
            "--resolve", f"{HOSTNAME}:443:{lab.vip}", f"https://{HOSTNAME}/api/systeminfo",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_a_client_trusting_only_the_root_verifies_through_the_vip(fresh: Lab, folder: Path) -> None:
    answers, secrets = https_lab_files(fresh, folder, HOSTNAME)
    assert install(answers, secrets) == 0
    served = fresh.harbor_nodes[0].path("/data/cert/server.crt").read_text()
    assert served.count("BEGIN CERTIFICATE") == 2  # prepare copied ha/server.crt whole
    deadline = time.monotonic() + 20  # HAProxy marks a node up after two health checks
    while (result := curl(fresh, folder)).returncode != 0 and time.monotonic() < deadline:
        time.sleep(1)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["registry_url"] == HOSTNAME
