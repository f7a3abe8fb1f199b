"""An https install in haproxy mode serves port 80 too (issue 13, item 4): `http://<name>`
through the VIP gets Harbor's redirect to https (before, the port-80 pool was checked over
TLS, stayed DOWN, and the VIP answered nothing), and 443 serves the API. Afterwards the
preflight finds Harbor's ports held by this deployment's own Harbor, not by a stranger.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from harbor_wizard.checks import Status, ports
from tests.checks.test_checks_lab import target
from tests.install.conftest import install
from tests.lab import Lab
from tests.support.lab_answers import https_lab_files, lab_answers

pytestmark = pytest.mark.lab

HOSTNAME = "registry.port80.test"


def curl(lab: Lab, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A client that resolves HOSTNAME to the VIP and trusts only the deployment's CA."""
    return subprocess.run(
        [
            "curl", "-sS", "--max-time", "5", "--cacert", str(folder / "ca.crt"),
            "--resolve", f"{HOSTNAME}:80:{lab.vip}", "--resolve", f"{HOSTNAME}:443:{lab.vip}",
            *args,
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_http_through_the_vip_redirects_to_https_and_443_serves(fresh: Lab, folder: Path) -> None:
    answers, secrets = https_lab_files(fresh, folder, HOSTNAME)
    assert install(answers, secrets) == 0  # its verification probes the VIP on 80 and 443
    redirect = curl(fresh, folder, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                    f"http://{HOSTNAME}/")  # fmt: skip
    assert redirect.returncode == 0, redirect.stderr
    assert redirect.stdout == f"301 https://{HOSTNAME}/"
    followed = curl(fresh, folder, "-L", "-o", "/dev/null", "-w", "%{http_code} %{url_effective}",
                    f"http://{HOSTNAME}/")  # fmt: skip
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout == f"200 https://{HOSTNAME}/"
    deadline = time.monotonic() + 10
    while (api := curl(fresh, folder, f"https://{HOSTNAME}/api/systeminfo")).returncode != 0:
        assert time.monotonic() < deadline, api.stderr
        time.sleep(1)
    assert HOSTNAME in api.stdout
    # By address too: the redirect names the host the client asked for, as nginx's $host.
    plain = subprocess.run(
        ["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
         f"http://{fresh.vip}/"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert plain.stdout == f"301 https://{fresh.vip}/", plain.stderr


def test_harbor_ports_on_an_installed_node_are_this_deployments(fresh: Lab, folder: Path) -> None:
    node = fresh.harbor_nodes[0]
    harbor = fresh.answers_dict()["harbor"]  # the protocol plays no part here
    answers = lab_answers(fresh, harbor={**harbor, "hostname": HOSTNAME})
    with fresh.connect(node.name) as conn:
        results = ports.check(target(fresh, node.name), conn, answers)
    assert [r.status for r in results] == [Status.OK], results
    assert "held by this deployment's Harbor" in results[0].message
    other = lab_answers(fresh, harbor={**harbor, "hostname": "other.test"})
    with fresh.connect(node.name) as conn:
        refused = ports.check(target(fresh, node.name), conn, other)
    assert [r.status for r in refused] == [Status.ERROR]
    assert "another deployment" in refused[0].message
