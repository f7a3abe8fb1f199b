"""Typing while a live check runs: every key is handled at once; stale results never paint."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
from textual.message import Message

from harbor_wizard.checks.result import CheckResult, ok
from harbor_wizard.views.form import FormScreen
from harbor_wizard.views.live import Probes
from tests.lab import Lab
from tests.tui.conftest import SIZE, editor, message
from tests.tui.offline import app_on

MAX_PRESS = 1.0


class GatedVip:
    """The seam: the VIP probe blocks on an Event, as a probe of a silent address does."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[str] = []

    def __call__(self, address: ipaddress.IPv4Address) -> list[CheckResult]:
        self.calls.append(str(address))
        self.gate.wait(10)
        return [ok("vip", "vip", f"the VIP {address} is free")]


def unique(messages: Iterable[Message]) -> list[Any]:
    """The hook sees a bubbling message at each node it reaches: once per message here."""
    return list({id(m): m for m in messages}.values())


async def timed_press(pilot: Any, key: str) -> float:
    started = time.monotonic()
    await pilot.press(key)
    return time.monotonic() - started


async def test_keys_are_handled_while_a_check_blocks_and_stale_results_never_paint() -> None:
    probe = GatedVip()
    painted: list[Message] = []
    app = app_on("topology", probes=Probes(vip=probe), debounce=0.05)
    async with app.run_test(size=SIZE, message_hook=painted.append) as pilot:
        field = editor(pilot, "vip")
        field.focus()
        field.value = ""
        await pilot.pause(0.3)  # a probe of the value the screen opened with may start
        before = len(probe.calls)  # and stay blocked: it must never paint either
        durations = [await timed_press(pilot, key) for key in "198.51.100.9"]
        while len(probe.calls) == before:  # the debounce has passed; the probe now blocks
            await pilot.pause(0.05)
        assert probe.calls[before:] == ["198.51.100.9"]
        durations.append(await timed_press(pilot, "9"))  # a newer value supersedes it
        while len(probe.calls) < before + 2:
            durations.append(await timed_press(pilot, "right"))
        assert probe.calls[before:] == ["198.51.100.9", "198.51.100.99"]
        assert "checking" in message(pilot, "vip")
        durations.append(await timed_press(pilot, "tab"))  # focus moves while both block
        assert app.focused is editor(pilot, "harbor.protocol")
        assert max(durations) < MAX_PRESS, durations
        probe.gate.set()
        await app.workers.wait_for_complete()
        for _ in range(10):
            await pilot.pause(0.05)
        results = unique(m for m in painted if isinstance(m, FormScreen.CheckPainted))
        vip_results = [m.results[0].message for m in results if m.group == "vip"]
        assert vip_results == ["the VIP 198.51.100.99 is free"]
        assert message(pilot, "vip") == "ok: the VIP 198.51.100.99 is free"


@pytest.mark.lab
async def test_real_probe_of_a_silent_address_never_blocks_typing(lab: Lab) -> None:
    """Redis at an address of the lab's subnet that no host has: SYNs go unanswered."""
    silent = lab.subnet.addr(60)
    assert silent not in {host.ip for host in lab.hosts.values()}
    painted: list[Message] = []
    app = app_on("redis", debounce=0.05)
    async with app.run_test(size=SIZE, message_hook=painted.append) as pilot:
        field = editor(pilot, "redis.endpoints[0]")
        field.focus()
        field.value = f"{silent}:6379"
        await pilot.press("end")
        await pilot.pause(0.3)  # the probe is now waiting for an answer
        durations = [await timed_press(pilot, key) for key in ("backspace", "8")]
        assert field.value == f"{silent}:6378"
        assert max(durations) < MAX_PRESS, durations
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        results = unique(m for m in painted if isinstance(m, FormScreen.CheckPainted))
        assert [m.results[0].message.split(":")[0] for m in results] == [f"Redis at {silent}"]
        assert all(":6378" in m.results[0].message for m in results), results
        assert message(pilot, "redis.endpoints[0]").startswith("error: Redis at")
