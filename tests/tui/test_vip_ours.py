"""The TUI's VIP check decides "ours" as the preflight does (checks.vip.owned on the holder
its LBs name), with the draft's LBs once it is valid, else the saved file's. Stand-in
probes here; the lab test (test_reopen_lab.py) asks real LBs."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from harbor_wizard.answers import load
from harbor_wizard.checks.result import CheckResult, Status, error, ok
from harbor_wizard.checks.vip import Holder
from harbor_wizard.views.live import Probes, vip_check
from tests.support.deployment import lvs_dr, write_deployment

VIP = ipaddress.IPv4Address("198.51.100.100")
OTHER = ipaddress.IPv4Address("198.51.100.101")


def probes(in_use: bool, name: str | None, asked: list[Any]) -> Probes:
    holder = Holder((name,), holding=True) if name else None

    def vip(address: ipaddress.IPv4Address) -> list[CheckResult]:
        if in_use:
            return [error("vip", "vip", f"the VIP {address} is already in use", field_path="vip")]
        return [ok("vip", "vip", f"the VIP {address} is free")]

    def vip_holder(answers: Any, base_dir: Path, accepted: frozenset[str]) -> Holder | None:
        asked.append((answers.vip, [lb.name for lb in answers.load_balancer.nodes]))
        return holder

    return Probes(vip=vip, vip_holder=vip_holder)


def test_held_by_our_lb_is_ok_and_anyone_elses_is_not(tmp_path: Path) -> None:
    answers = load(write_deployment(tmp_path)[0]).answers
    asked: list[Any] = []
    [held] = vip_check(probes(True, "lb01", asked), VIP, answers, tmp_path, frozenset())
    assert held.status is Status.OK
    assert held.message == "the VIP is held by this deployment's LB lb01"
    [taken] = vip_check(probes(True, None, asked), VIP, answers, tmp_path, frozenset())
    assert taken.status is Status.ERROR
    [free] = vip_check(probes(False, "lb01", asked), VIP, answers, tmp_path, frozenset())
    assert free.status is Status.OK
    assert len(asked) == 2  # a free VIP needs no SSH to the LBs


def test_an_incomplete_draft_asks_the_saved_files_lbs_about_the_typed_vip(
    tmp_path: Path,
) -> None:
    saved = write_deployment(tmp_path, lvs_dr())[0]
    asked: list[Any] = []
    [held] = vip_check(probes(True, "lb02", asked), OTHER, None, tmp_path, frozenset(), saved)
    assert held.status is Status.OK
    assert asked == [(OTHER, ["lb01", "lb02"])]
    # A new draft (no file yet) cannot say whose it is: in use stays an error.
    [taken] = vip_check(probes(True, "lb02", asked), VIP, None, tmp_path, frozenset(), None)
    assert taken.status is Status.ERROR
    saved.write_text("name: [broken\n")
    [taken] = vip_check(probes(True, "lb02", asked), VIP, None, tmp_path, frozenset(), saved)
    assert taken.status is Status.ERROR
    assert len(asked) == 1
