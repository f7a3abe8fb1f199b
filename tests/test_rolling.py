"""The rolling re-install's pieces that need no lab: what HAProxy and ipvsadm print, the
order the plan shows, and a roll that stops at the first node that does not come back."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, cast

import pytest

from harbor_wizard.inputs import Inputs, load_inputs
from harbor_wizard.plan import build_plan
from harbor_wizard.steps.base import StepContext, StepFailed
from harbor_wizard.steps.rolling import Roll, ipvs_real_servers, stat_rows
from tests.support.deployment import ANSWERS, lvs_dr, write_deployment

# `show stat` of HAProxy 2.6 (first columns of its header as it prints them), one backend
# with two servers, harbor01 drained and still carrying 2 connections.
SHOW_STAT = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
    "wretr,wredis,status,weight,act,bck,\n"
    "harbor_443,FRONTEND,,,3,9,4096,120,0,0,0,0,0,,,,,OPEN,,,,\n"
    "harbor_nodes_443,harbor01,0,0,2,4,,60,0,0,,0,,0,0,0,0,DRAIN,0,1,0,\n"
    "harbor_nodes_443,harbor02,0,0,1,5,,60,0,0,,0,,0,0,0,0,UP,1,1,0,\n"
    "harbor_nodes_443,BACKEND,0,0,3,9,410,120,0,0,0,0,,0,0,0,0,UP,1,1,0,\n"
    "\n"
)

# `ipvsadm -L -n -t 198.51.100.100:80` while harbor01 is drained (weight 0).
IPVSADM = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  198.51.100.100:80 sh
  -> 198.51.100.20:80             Route   0      2          7
  -> 198.51.100.21:80             Route   10     5          3
"""


def test_show_stat_rows() -> None:
    rows = {(r["pxname"], r["svname"]): r for r in stat_rows(SHOW_STAT)}
    assert rows[("harbor_nodes_443", "harbor01")]["status"] == "DRAIN"
    assert rows[("harbor_nodes_443", "harbor01")]["scur"] == "2"
    assert rows[("harbor_nodes_443", "harbor02")]["status"] == "UP"
    assert stat_rows("Unknown command.\n") == []


def test_ipvsadm_real_servers() -> None:
    assert ipvs_real_servers(IPVSADM) == {
        "198.51.100.20:80": (0, 2),
        "198.51.100.21:80": (10, 5),
    }


def inputs_of(tmp_path: Path, answers: str) -> Inputs:
    return load_inputs(*write_deployment(tmp_path, answers))


@pytest.mark.parametrize(
    ("answers", "drained"),
    [(ANSWERS, "drained in HAProxy on lb01, lb02"), (lvs_dr(), "weight 0 in IPVS on lb01, lb02")],
)
def test_the_plan_shows_the_order(tmp_path: Path, answers: str, drained: str) -> None:
    text = build_plan(inputs_of(tmp_path, answers)).describe()
    first = text.index("install.sh: first node")
    others = text.index("install.sh: other nodes")
    assert text.index("harbor nodes") < first < others < text.index("verification")
    assert f"where Harbor already serves: {drained} first, back once it serves again" in text
    assert "one at a time where Harbor already serves" in text
    assert "nodes not serving yet all at once" in text


def test_a_batch_always_leaves_one_node_serving(tmp_path: Path) -> None:
    inputs = inputs_of(tmp_path, ANSWERS)
    nodes = len(inputs.answers.harbor_nodes)
    text = build_plan(inputs, batch=99).describe()
    assert f"{nodes - 1} at a time where Harbor already serves" in text


def context(host: str) -> StepContext:
    return StepContext(host, cast(Any, None))


def test_a_roll_stops_at_the_first_node_that_does_not_come_back() -> None:
    roll = Roll(1)
    inside = threading.Event()
    release = threading.Event()
    errors: dict[str, str] = {}

    def first() -> None:
        try:
            with roll.slot(context("harbor02")):
                inside.set()
                release.wait(5)
                raise StepFailed("harbor02: does not serve after install.sh")
        except StepFailed as exc:
            errors["harbor02"] = str(exc)

    def second() -> None:
        try:
            with roll.slot(context("harbor03")):
                errors["harbor03"] = "ran"
        except StepFailed as exc:
            errors["harbor03"] = str(exc)

    one = threading.Thread(target=first)
    one.start()
    assert inside.wait(5)
    two = threading.Thread(target=second)
    two.start()  # waits for the slot harbor02 holds
    release.set()
    one.join(5)
    two.join(5)
    assert errors["harbor02"] == "harbor02: does not serve after install.sh"
    assert errors["harbor03"] == (
        "harbor03: not re-installed: the roll stopped at harbor02, which did not come back; "
        "harbor03 keeps serving as it was"
    )
