"""The drill's arithmetic, offline: where keepalived.conf says the VIP settles, and when
every client counts as served again."""

from __future__ import annotations

from harbor_wizard.drill import STABLE, Drill, Probes
from harbor_wizard.health import LbState


def lb(name: str, priority: int, preempt: bool = True) -> LbState:
    return LbState(name, "198.51.100.1", priority=priority, preempt=preempt)


def test_the_vip_settles_as_keepalived_conf_says() -> None:
    assert Drill._expected(lb("lb01", 100), lb("lb02", 90)) == "lb01"  # preempts back
    assert Drill._expected(lb("lb01", 100, preempt=False), lb("lb02", 90)) == "lb02"
    assert Drill._expected(lb("lb02", 90), lb("lb01", 100)) == "lb01"  # stays on the higher


def test_served_again_only_when_every_source_was_served_for_a_while() -> None:
    probes = Probes("198.51.100.50", False, "/api/systeminfo", "registry_url", ["a", "b"])
    step = 0.1
    for i in range(40):
        at = i * step
        probes.samples.append((at, "a", True))
        probes.samples.append((at, "b", at >= 2.0))  # b fails for 2 s, then is served
    assert probes.served_since(0.0) == 2.0
    assert probes.failures(0.0, 2.0) == (20, 42)  # 21 rounds of 2 up to 2.0 s
    probes.samples[:] = [s for s in probes.samples if s[0] < 2.0 + STABLE / 2]
    assert probes.served_since(0.0) is None  # b not yet served for STABLE seconds
