"""Items 6 and 9 of issue 13 on real hosts: a node whose Harbor port is taken is refused by
the preflight, naming the host and the port; lvs-dr's check.sh gives up on a silent node
before keepalived's misc_timeout would kill it."""

from __future__ import annotations

import re
import time

import pytest

from harbor_wizard.checks import Status, ports
from harbor_wizard.profiles.harbor_1_4 import PROFILE
from harbor_wizard.render import environment
from tests.checks.test_checks_lab import target
from tests.lab import Lab
from tests.lab.util import wait_until
from tests.support.lab_answers import lab_answers

pytestmark = pytest.mark.lab


def listener_pid(lab: Lab, host: str, port: int) -> int | None:
    out = lab[host].run(f"ss -Hltnp 'sport = :{port}'", check=False).stdout
    found = re.search(r"pid=(\d+)", out)
    return int(found.group(1)) if found else None


def test_a_node_listening_on_4443_is_refused_naming_host_and_port(lab: Lab) -> None:
    node = lab.harbor_nodes[0]
    node.spawn(["/usr/bin/python3", "-m", "http.server", "4443"], lab.dir / "http-4443.log")
    wait_until(lambda: listener_pid(lab, node.name, 4443) is not None, timeout=10,
               what="python3 -m http.server on 4443")  # fmt: skip
    pid = listener_pid(lab, node.name, 4443)
    try:
        with lab.connect(node.name) as conn:
            results = ports.check(target(lab, node.name), conn, lab_answers(lab))
    finally:
        lab[node.name].run(f"kill {pid}", check=False)
    assert [r.status for r in results] == [Status.ERROR]
    message = results[0].message
    assert message.startswith(f"{node.name}: port 4443 is in use (0.0.0.0:4443 by python3 (pid ")
    assert "stop or move that service, or choose another node" in message
    wait_until(lambda: listener_pid(lab, node.name, 4443) is None, timeout=10,
               what="the listener on 4443 to go")  # fmt: skip
    with lab.connect(node.name) as conn:
        again = ports.check(target(lab, node.name), conn, lab_answers(lab))
    assert [r.status for r in again] == [Status.OK], again


def test_check_sh_gives_up_on_a_silent_node_before_misc_timeout(lab: Lab) -> None:
    script = lab.dir / "check.sh"
    script.write_text(environment().get_template("check.sh.j2").render(health=PROFILE.health))
    conf = environment().get_template("keepalived.conf.j2").render(**_lvs_context(lab))
    misc_timeout = int(re.findall(r"misc_timeout (\d+)", conf)[0])
    node = lab.harbor_nodes[0]
    node.partition()
    try:
        started = time.monotonic()
        result = lab["lb01"].run(f"sh {script} {node.ip}", check=False, timeout=60)
        seconds = time.monotonic() - started
    finally:
        node.heal()
    assert result.returncode != 0
    assert seconds < misc_timeout, seconds


def _lvs_context(lab: Lab) -> dict[str, object]:
    answers = lab_answers(lab, load_balancer={**lab.answers_dict()["load_balancer"],
                                              "mode": "lvs-dr"})  # fmt: skip
    from pydantic import SecretStr

    from harbor_wizard.render import _lb_context

    context = _lb_context(answers, {"load_balancer.auth_pass": SecretStr(lab.auth_pass)})
    return {**context, "lb": answers.load_balancer.nodes[0]}
