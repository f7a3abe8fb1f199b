"""Changes without an outage: the first node first on a fresh install, then a certificate
renewal rolled over 3 nodes (haproxy mode) while clients keep sending requests."""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from harbor_wizard.events import Event, Outcome, StepFinished, StepStarted
from harbor_wizard.inputs import load_inputs
from harbor_wizard.plan import build_plan
from harbor_wizard.runner import Runner
from tests.install.conftest import install
from tests.lab import Lab
from tests.support.lab_answers import https_lab_files
from tests.support.lab_state import reset
from tests.support.tlsfiles import Ca, write_tls

pytestmark = pytest.mark.lab

NODES = ["harbor01", "harbor02", "harbor03"]
HOSTNAME = "registry.rolling.test"


def windows(events: list[Event], step: str = "install.sh") -> dict[str, tuple[float, float]]:
    """host -> (start, end) of `step` where it changed the host."""
    started = {e.host: e.at for e in events if isinstance(e, StepStarted) and e.step == step}
    return {
        e.host: (started[e.host], e.at)
        for e in events
        if isinstance(e, StepFinished) and e.step == step and e.outcome is Outcome.CHANGED
    }


def output_windows(state: Path, step: str = "install.sh") -> dict[str, tuple[float, float]]:
    """host -> (first, last) line `step` printed in the last run (its JSON-lines log): the
    span of the node's drain, install.sh and return, which a waiting node has not begun."""
    log = sorted((state / "lab" / "logs").glob("*.jsonl"))[-1]
    spans: dict[str, tuple[float, float]] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry["event"] == "OutputLine" and entry["step"] == step:
            if "waits its turn" in entry["text"]:
                continue
            first, _ = spans.get(entry["host"], (entry["at"], entry["at"]))
            spans[entry["host"]] = (first, entry["at"])
    return spans


def with_nodes(answers: Path, nodes: list[str]) -> None:
    yaml = YAML()
    data = yaml.load(answers.read_text())
    data["harbor_nodes"] = [n for n in data["harbor_nodes"] if n["name"] in nodes]
    with answers.open("w") as out:
        yaml.dump(data, out)


def test_a_fresh_install_runs_the_first_node_before_the_others(fresh: Lab, folder: Path) -> None:
    reset(fresh)
    (folder / "fresh").mkdir()
    answers, secrets = fresh.write_answers(folder / "fresh")
    with_nodes(answers, NODES)
    inputs = load_inputs(answers, secrets)
    plan = build_plan(inputs)
    assert "install.sh: first node" in plan.describe()
    events: list[Event] = []
    result = Runner(plan, inputs, events.append).run()
    assert result.ok, result.message
    ran = windows(events)
    assert set(ran) == set(NODES)
    first_end = ran["harbor01"][1]
    assert all(start > first_end for node, (start, _) in ran.items() if node != "harbor01")
    # the others, which did not serve yet, ran at once
    assert ran["harbor02"][0] < ran["harbor03"][1]
    assert ran["harbor03"][0] < ran["harbor02"][1]


class Clients:
    """Requests to https://VIP/ from several source addresses, one after another without
    pause, each on a new connection; counts what failed and why."""

    def __init__(self, lab: Lab, sources: int = 6) -> None:
        base = lab.subnet.network.network_address
        self.vip = lab.vip
        self.bridge = lab.bridge
        self.sources = [str(base + i) for i in range(40, 40 + sources)]
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(s,)) for s in self.sources]

    def __enter__(self) -> Clients:
        for source in self.sources:
            subprocess.run(["ip", "addr", "add", f"{source}/32", "dev", self.bridge], check=True)
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for source in self.sources:
            subprocess.run(["ip", "addr", "del", f"{source}/32", "dev", self.bridge], check=False)

    def _loop(self, source: str) -> None:
        context = ssl._create_unverified_context()
        while not self._stop.is_set():
            conn = http.client.HTTPSConnection(
                self.vip, 443, timeout=10, context=context, source_address=(source, 0)
            )
            try:
                conn.request("GET", "/api/systeminfo", headers={"Host": HOSTNAME})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"{source}: HTTP {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                self.failed.append(f"{source}: {type(exc).__name__}: {exc}")
            finally:
                conn.close()
            time.sleep(0.02)


def served_certificate(vip: str) -> str:
    pem = ssl.get_server_certificate((vip, 443), timeout=10)
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def test_a_certificate_renewal_rolls_over_the_nodes_without_a_failed_request(
    fresh: Lab, folder: Path, state: Path
) -> None:
    reset(fresh)
    deployment = folder / "renewal"
    deployment.mkdir()
    answers, secrets = https_lab_files(fresh, deployment, HOSTNAME)
    with_nodes(answers, NODES)
    assert install(answers, secrets) == 0
    before = served_certificate(fresh.vip)

    # A new certificate for the same name (from a new CA here); the operator replaces the
    # files and runs the same command again.
    write_tls(deployment, [HOSTNAME], ca=Ca.create().intermediate())
    with Clients(fresh) as clients:
        time.sleep(1)
        code = install(answers, secrets)
        time.sleep(1)
    assert code == 0
    assert clients.failed == []
    assert clients.ok > 100
    assert served_certificate(fresh.vip) != before

    ran = sorted(output_windows(state).values())
    assert len(ran) == len(NODES)  # install.sh ran again on every node ...
    for (_, end), (start, _) in itertools.pairwise(ran):
        assert end < start  # ... one after another
