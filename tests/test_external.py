"""What the operator's load balancer must be set to, from the answers alone (no lab)."""

from __future__ import annotations

import re

from ruamel.yaml import YAML

from harbor_wizard.answers import Answers
from harbor_wizard.external import describe, instructions, settings
from tests.support.deployment import ANSWERS, https

EXTERNAL = re.sub(r"load_balancer:\n(  .*\n)+", "load_balancer:\n  mode: external\n", ANSWERS)


def answers(text: str) -> Answers:
    return Answers.model_validate(YAML(typ="safe").load(text))


def test_https_needs_80_and_443_passthrough_with_the_check_on_443() -> None:
    lb = settings(answers(https(EXTERNAL)))
    assert [(p.port, p.passthrough) for p in lb.pools] == [(80, False), (443, True)]
    assert [(b.name, b.address, b.port) for b in lb.pools[1].backends] == [
        ("harbor01", "198.51.100.21", 443),
        ("harbor02", "198.51.100.22", 443),
        ("harbor03", "198.51.100.23", 443),
    ]
    text = describe(lb)
    assert "registry.example.com must resolve to 198.51.100.100" in text
    assert "Port 443, TCP passthrough" in text
    assert "    harbor02  198.51.100.22:443\n" in text
    assert "GET /api/systeminfo on each node's port 443 (https" in text
    assert "by client source IP" in text


def test_only_external_mode_prints_settings() -> None:
    assert instructions(answers(ANSWERS)) is None
    text = instructions(answers(EXTERNAL))
    assert text is not None
    assert "Port 443" not in text
    assert "    harbor03  198.51.100.23:80" in text
