"""The unattended views, fed with the runner's events as a run would send them."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from harbor_wizard import redact
from harbor_wizard.events import (
    Event,
    Outcome,
    OutputLine,
    PhaseStarted,
    RunFinished,
    StepFinished,
    StepStarted,
    Tee,
)
from harbor_wizard.jsonlog import JsonLog
from harbor_wizard.views.unattended import LiveTree, PlainLines, Summary

SECRET = "s3cret-Value-x9"


def events() -> list[Event]:
    phase, step, title = "harbor nodes", "install.sh", "./install.sh --ha"
    return [
        PhaseStarted(phase=phase, hosts=("harbor01", "harbor02")),
        StepStarted(phase=phase, host="harbor01", step=step, title=title),
        OutputLine(host="harbor01", step=step, text="[Step 2]: preparing environment ..."),
        StepStarted(phase=phase, host="harbor02", step=step, title=title),
        StepFinished(phase="harbor nodes", host="harbor01", step="install.sh",
                     outcome=Outcome.CHANGED, message="Harbor installed", seconds=1.5),
        StepFinished(phase="harbor nodes", host="harbor02", step="install.sh",
                     outcome=Outcome.FAILED, message=f"exited 1 with {SECRET}", seconds=0.4,
                     exit_code=1),
        RunFinished(ok=False, message="phase 'harbor nodes' failed: harbor02/x", seconds=2.0),
    ]  # fmt: skip


def test_live_tree_shows_hosts_steps_status_and_output() -> None:
    stream = io.StringIO()
    tree = LiveTree(Console(file=stream, force_terminal=True, width=100))
    running = events()[:4]
    for event in running:
        tree(event)
    during = stream.getvalue()
    assert "harbor01" in during
    assert "running" in during
    assert "[Step 2]: preparing environment" in during
    for event in events()[4:]:
        tree(event)
    after = stream.getvalue()
    assert "changed" in after
    assert "failed" in after


def test_plain_lines_summary_and_log_hide_secrets(tmp_path: Path) -> None:
    redact.register(SECRET)
    stream = io.StringIO()
    summary = Summary()
    log = JsonLog(tmp_path / "run.jsonl")
    sink = Tee(PlainLines(stream), summary, log)
    for event in events():
        sink(event)
    log.close()
    text = stream.getvalue()
    assert "harbor02 install.sh: failed [exit 1]" in text
    assert "harbor01 | [Step 2]: preparing environment ..." in text
    assert "FAILED: phase 'harbor nodes' failed" in text
    assert SECRET not in text
    lines = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert [line["event"] for line in lines][:2] == ["PhaseStarted", "StepStarted"]
    assert SECRET not in (tmp_path / "run.jsonl").read_text()
    printed = io.StringIO()
    summary.print(Console(file=printed, width=100))
    table = printed.getvalue()
    assert "harbor01" in table
    assert "FAILED harbor02 / install.sh" in table
    assert SECRET not in table
    assert summary.changed == 1


def test_a_run_the_operator_stopped_reads_stopped_not_failed() -> None:
    stream = io.StringIO()
    PlainLines(stream)(RunFinished(ok=False, message="interrupted during phase 'x'", seconds=1.0,
                                   stopped=True))  # fmt: skip
    assert "STOPPED: interrupted during phase 'x'" in stream.getvalue()


def test_a_dry_run_summary_says_would_change() -> None:
    summary = Summary(dry_run=True)
    for event in events():
        summary(event)
    printed = io.StringIO()
    summary.print(Console(file=printed, width=100))
    table = printed.getvalue()
    assert "dry run: nothing was changed" in table
    assert "would change" in table
