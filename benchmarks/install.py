"""The unattended install against a fresh lab: 2 nodes vs 6 nodes, first run vs re-run.

Prints the wall time of `harbor-wizard --answers ... --secrets ...` (a subprocess, as an
operator runs it) for a fresh install and for the re-run that follows, on a lab of 2 LBs
+ 2 Harbor nodes and on one of 2 LBs + 6 nodes, each lab built fresh; then where each run
spent its time (per phase, and the slowest steps, from the run's JSON-lines log) and the
ratios against their aims. Figures only, no assertions. Run as root from the repository:
`.venv/bin/python -m benchmarks.install`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab import Lab, LabConfig

SUBNET = "198.51.100.192/26"
STANDIN_SECONDS = 1.0
"""The stand-in Harbor's start-up (up + ready; 30 s + 5 s by default, like a real node):
short, so that the figures measure the wizard, not the containers it waits for."""
SIZES = (2, 6)
AIM_SCALE = 1.3
"""6 nodes within 1.3x the wall time of 2 nodes: nodes install in parallel."""
AIM_RERUN = 0.15
"""A re-run that changes nothing under 0.15x the first run."""


@dataclass(frozen=True)
class Run:
    seconds: float
    exit_code: int
    phases: dict[str, float]
    slowest: list[tuple[float, str]]


def profile(log: Path) -> tuple[dict[str, float], list[tuple[float, str]]]:
    """Seconds per phase and the five slowest steps, from the run's JSON-lines log."""
    events = [json.loads(line) for line in log.read_text().splitlines()]
    started: dict[str, float] = {}
    phases: dict[str, float] = {}
    steps: list[tuple[float, str]] = []
    for event in events:
        if event["event"] == "PhaseStarted":
            started[event["phase"]] = event["at"]
        elif event["event"] == "PhaseFinished":
            phases[event["phase"]] = event["at"] - started[event["phase"]]
        elif event["event"] == "StepFinished":
            steps.append((event["seconds"], f"{event['host']} {event['step']}"))
    return phases, sorted(steps, reverse=True)[:5]


def install(answers: Path, secrets: Path, state: Path) -> Run:
    env = {**os.environ, "HARBOR_WIZARD_STATE_DIR": str(state)}
    command = [sys.executable, "-m", "harbor_wizard", "--answers", str(answers)]
    command += ["--secrets", str(secrets)]
    before = set(state.glob("*/logs/*.jsonl"))
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
    (log,) = set(state.glob("*/logs/*.jsonl")) - before
    phases, slowest = profile(log)
    return Run(seconds, done.returncode, phases, slowest)


def show(label: str, run: Run) -> None:
    phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in run.phases.items())
    print(f"  {label:<9} {run.seconds:6.1f}s  exit {run.exit_code}  [{phases}]")
    print("            slowest steps: " + ", ".join(f"{s} {t:.1f}s" for t, s in run.slowest))


def measure(nodes: int) -> tuple[Run, Run]:
    with (
        Lab.start(
            LabConfig(
                harbor_nodes=nodes,
                subnet=SUBNET,
                up_seconds=STANDIN_SECONDS,
                ready_seconds=STANDIN_SECONDS,
            )
        ) as lab,
        tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp,
    ):
        folder = Path(tmp)
        answers, secrets = lab.write_answers(folder)
        first = install(answers, secrets, folder / "state")
        again = install(answers, secrets, folder / "state")
    print(f"2 LBs + {nodes} nodes:")
    show("first run", first)
    show("re-run", again)
    return first, again


def main() -> None:
    results = {n: measure(n) for n in SIZES}
    small, large = results[SIZES[0]][0], results[SIZES[-1]][0]
    scale = large.seconds / small.seconds
    print(
        f"{SIZES[-1]} nodes / {SIZES[0]} nodes, first run: {scale:.2f}x "
        f"(aim: within {AIM_SCALE}x) {'met' if scale <= AIM_SCALE else 'MISSED'}"
    )
    for n, (first, again) in results.items():
        ratio = again.seconds / first.seconds
        print(
            f"re-run / first run, {n} nodes: {ratio:.2f} "
            f"(aim: under {AIM_RERUN}) {'met' if ratio < AIM_RERUN else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
