"""Launch to first screen: the installed `harbor-wizard` against a bare Textual app.

Both run in the same private tmux server size (80x24); the clock starts before the launch
and stops when the first screen's text is visible. Aim: the wizard within 1.3x the bare
app. harbor-wizard is a wheel of this checkout installed with pip, as operators run it
(benchmarks/installed.py), and the bare app runs on that install's Python; `--checkout`
measures .venv's editable tree instead. Run:
`.venv/bin/python -m benchmarks.tui_startup [--runs N] [--checkout]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import installed
from tests.support.tmux import Terminal

BARE = """
from textual.app import App
from textual.widgets import Footer, Label

class Bare(App):
    def compose(self):
        yield Label("bare textual ready")
        yield Footer()

Bare().run()
"""


def first_frame(command: list[str], text: str, cwd: Path, unset: tuple[str, ...] = ()) -> float:
    started = time.monotonic()
    terminal = Terminal(command, cwd=cwd, env={"LANG": "C.UTF-8"}, unset=["NO_COLOR", *unset])
    try:
        terminal.wait_for(text, 60)
        return time.monotonic() - started
    finally:
        terminal.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="launches of each (default 9)")
    installed.add_argument(parser)
    args = parser.parse_args()
    with installed.wizard(args.checkout) as wizard, tempfile.TemporaryDirectory() as folder:
        print(f"measuring: {wizard.description}")
        cwd = Path(folder)
        (cwd / "bare.py").write_text(BARE)
        cases = {
            "bare Textual app": ([wizard.python, "bare.py"], "bare textual ready"),
            "harbor-wizard": (wizard.command, "New deployment"),
        }
        for command, text in cases.values():  # warm the file cache
            first_frame(command, text, cwd, wizard.unset)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):  # interleaved, so load changes hit both alike
            for name, (command, text) in cases.items():
                times[name].append(first_frame(command, text, cwd, wizard.unset))
    for name, values in times.items():
        print(
            f"{name:18} min {min(values) * 1000:6.0f} ms  "
            f"median {statistics.median(values) * 1000:6.0f} ms  (n={len(values)})"
        )
    ratio = statistics.median(times["harbor-wizard"]) / statistics.median(times["bare Textual app"])
    print(f"ratio of medians: {ratio:.2f}x (aim: <= 1.3x)")


if __name__ == "__main__":
    main()
