"""The unattended paths never import Textual (a headless run must not pay for, or depend on,
the TUI), and the TUI adds no rule of its own (it only imports the layers below it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.deployment import write_deployment

HEADLESS = ("answers", "secrets", "render", "checks", "plan", "runner", "events", "inputs",
            "connection")  # fmt: skip

PROBE = """
import sys
from harbor_wizard.cli import main
for name in {modules!r}:
    __import__("harbor_wizard." + name)
codes = [main(argv) for argv in {runs!r}]
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "textual")
print(codes, loaded)
"""


def test_answers_and_check_paths_never_import_textual(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(answers.read_text().replace("name: harbor-test", "name: bad name"))
    runs = [
        ["--answers", str(bad), "--secrets", str(secrets), "--dry-run"],
        ["check", "--answers", str(bad), "--secrets", str(secrets)],
        [
            "render",
            "--answers",
            str(answers),
            "--secrets",
            str(secrets),
            "--out",
            str(tmp_path / "out"),
        ],
        ["schema"],
    ]
    code = PROBE.format(modules=HEADLESS, runs=runs)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[2, 2, 0, 0] []"
