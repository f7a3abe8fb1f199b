"""The command line's shape and exit codes, run as an operator would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harbor_wizard import __version__
from harbor_wizard.answers import loads
from harbor_wizard.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def command(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harbor_wizard", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def test_version_and_help() -> None:
    assert command("--version").stdout.strip() == f"harbor-wizard {__version__}"
    helped = command("--help")
    assert helped.returncode == 0
    for word in ("--answers", "--secrets", "--dry-run", "render", "schema", "Exit codes"):
        assert word in helped.stdout


def test_guided_mode_without_a_terminal_points_at_answers() -> None:
    result = command()
    assert result.returncode == 2
    assert "--answers" in result.stderr


def test_missing_answers_file_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--answers", "/nonexistent/answers.yaml", "--dry-run"]) == 2
    assert "/nonexistent/answers.yaml: (top level): cannot read" in capsys.readouterr().err


def test_readme_example_answers_file_is_valid() -> None:
    text = README.read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    examples = [block for block in blocks if block.lstrip().startswith("# yaml-language-server")]
    assert examples, "README has no example answers file"
    answers = loads(examples[0]).answers
    assert answers.name == "harbor-prod"
    assert len(answers.harbor_nodes) == 3


@pytest.mark.parametrize(
    ("argv", "strict", "timeout"),
    [
        (["--strict", "check"], True, 5.0),
        (["check", "--strict"], True, 5.0),
        (["check"], False, 5.0),
        (["--timeout", "2", "status"], False, 2.0),
        (["audit", "--timeout", "3"], False, 3.0),
        (["--accept-host-key", "SHA256:x", "drill"], False, 5.0),
    ],
)
def test_check_options_count_before_or_after_the_command(
    argv: list[str], strict: bool, timeout: float
) -> None:
    """`harbor-wizard --strict check ...` once silently ran without --strict."""
    from harbor_wizard.cli import _parser

    args = _parser().parse_args([*argv, "--answers", "deployment.yaml"])
    assert (args.strict, args.timeout) == (strict, timeout)
    assert args.accept_host_key == (["SHA256:x"] if "--accept-host-key" in argv else [])
