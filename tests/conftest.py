"""Test-session fixtures: the network-namespace lab (tests/lab).

The lab is started once per session, on the one xdist worker that runs the lab tests
(every test that uses `lab` gets the `lab` mark and `xdist_group("lab")`, and `-n`
runs are switched to `--dist loadgroup`), and is always torn down: by the fixture's
finally, and by atexit / SIGTERM if the session dies.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab import Lab, LabConfig, LabError, preflight
from tests.lab.state import sweep

#: The session lab's subnet: half of the documentation range, so that `python -m
#: tests.lab up` (tests/lab/test_cli.py uses 198.51.100.64/26) can run beside it.
SESSION_SUBNET = "198.51.100.0/26"
#: How long the stand-in `docker-compose up -d` takes on the session lab's Harbor nodes,
#: and how long the started node answers 502 (see tests/lab/doubles/docker-compose).
STANDIN_UP_SECONDS = 1.0
STANDIN_READY_SECONDS = 1.0


def pytest_configure(config: pytest.Config) -> None:
    # xdist_group only groups under --dist loadgroup; plain `-n 2` would give each
    # worker a lab of its own (and the second would be refused: same subnet).
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    # Workers re-parse the command line: tell them (see pytest_configure_node).
    if getattr(config, "workerinput", {}).get("hw_loadgroup"):
        config.option.loadgroup = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["hw_loadgroup"] = node.config.getvalue("dist") == "loadgroup"


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Any:
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()) or item.get_closest_marker("lab"):
            item.add_marker(pytest.mark.lab)
            item.add_marker(pytest.mark.xdist_group("lab"))
    result = yield
    if getattr(config.option, "loadgroup", False):
        _suffix_group_names(items)
    return result


def _suffix_group_names(items: list[pytest.Item]) -> None:
    """Make `--dist loadgroup` group on pytest >= 9.2 too.

    xdist (3.8) marks a group by appending `@group` to `item._nodeid`, which pytest 9.2
    no longer reads (the id lives in `item._id`): without this, the lab tests spread over
    the workers and each worker would build a lab.
    """
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # older pytest: xdist's own renaming works
        return
    for item in items:
        groups = sorted(
            {
                str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                for m in item.iter_markers("xdist_group")
            }
        )
        suffix = "@" + "_".join(groups)
        if groups and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture(scope="session", autouse=True)
def _state_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs write logs and journals under the session's temp folder, never the tester's
    ~/.local/state, and what they learn about installer files (harbor_wizard.filecache)
    not in ~/.cache (subprocesses inherit both; tests may point elsewhere)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARBOR_WIZARD_STATE_DIR", str(tmp_path_factory.mktemp("state")))
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The session lab: lb01-02, harbor01..N (N = HW_LAB_HARBOR_NODES, default 3) sharing
    /data/registry, one more Harbor node with its own /data/registry (the last one, see
    `lab.unshared_nodes`), db01 (MariaDB), pg01 (PostgreSQL), redis01 (Redis :6379, and
    :6380 with a password)."""
    problems = preflight()
    if problems:
        pytest.fail("the lab cannot run: " + "; ".join(problems), pytrace=False)
    shared = int(os.environ.get("HW_LAB_HARBOR_NODES", "3"))
    config = LabConfig(
        harbor_nodes=shared + 1,
        unshared_nodes=frozenset({f"harbor{shared + 1:02d}"}),
        subnet=os.environ.get("HW_LAB_SUBNET") or SESSION_SUBNET,
        # Short stand-in Harbor start times (defaults 30 s + 5 s) keep the suite fast while
        # every wait for a node still starting is exercised.
        up_seconds=STANDIN_UP_SECONDS,
        ready_seconds=STANDIN_READY_SECONDS,
    )
    sweep(include_persistent=False)  # labs of crashed sessions
    try:
        the_lab = Lab.start(config)
    except LabError as exc:
        pytest.fail(f"the lab did not start: {exc}", pytrace=False)
    atexit.register(the_lab.stop)
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        yield the_lab
    finally:
        the_lab.stop()
        atexit.unregister(the_lab.stop)
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
