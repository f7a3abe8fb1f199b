"""Hostile or broken input files: exit 2 (1 for the run's own journal), a message with file
and line, within 1 s and 100 MB, never a traceback; through `main` and the installed command.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from harbor_wizard.answers.bounded import MAX_BYTES
from harbor_wizard.cli import main
from tests.support.deployment import ANSWERS, SECRETS, render_args, write_deployment

HARBOR_WIZARD = Path(sys.executable).parent / "harbor-wizard"
"""The installed console script of this venv (what an operator runs)."""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("HARBOR_WIZARD_STATE_DIR", str(tmp_path / "state"))
    for name in list(os.environ):
        if name.startswith("HARBOR_WIZARD_") and name != "HARBOR_WIZARD_STATE_DIR":
            monkeypatch.delenv(name)


def alias_bomb() -> str:
    """Nine levels of nine aliases: 1.3 KB that expands to 9**9 strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        previous, current = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{current}: &{current} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth + "\n"


def block_nested(depth: int) -> str:
    return "".join(" " * level + f"k{level}:\n" for level in range(depth))


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    path.chmod(0o600)
    return path


# name -> (which file is bad, how to make it, words the message must hold, line or None)
Maker = Callable[[Path], Path]
CASES: dict[str, tuple[str, Maker, str, int | None]] = {
    "alias bomb (answers)": (
        "answers", lambda d: write(d / "a.yaml", alias_bomb()), "alias", 2
    ),
    "alias bomb (secrets)": (
        "secrets", lambda d: write(d / "s.yaml", alias_bomb()), "alias", 2
    ),
    "latin-1 (answers)": (
        "answers",
        lambda d: write(d / "a.yaml", ANSWERS.replace("# Harbor HA", "# Harbor HA caf\xe9", 1)
                        .encode("latin-1")),
        "not UTF-8",
        1,
    ),
    "utf-16 (answers)": (
        "answers", lambda d: write(d / "a.yaml", ANSWERS.encode("utf-16")), "UTF-16", None
    ),
    "utf-16 (secrets)": (
        "secrets",
        lambda d: write(d / "s.yaml", codecs.BOM_UTF16_LE + "a: b\n".encode("utf-16-le")),
        "UTF-16",
        None,
    ),
    "NUL byte (secrets)": (
        "secrets",
        lambda d: write(d / "s.yaml", b"database.password: ab\x00cdef\n"),
        "NUL byte",
        1,
    ),
    "NUL byte (answers)": (
        "answers", lambda d: write(d / "a.yaml", ANSWERS + "\x00\n"), "NUL byte", 45
    ),
    "nesting 5000 deep (answers)": (
        "answers", lambda d: write(d / "a.yaml", nested(5000)), "nested deeper", 1
    ),
    "nesting 5000 deep (secrets)": (
        "secrets",
        lambda d: write(d / "s.yaml", "a: " + "{b: " * 5000 + "}" * 5000 + "\n"),
        "nested deeper",
        1,
    ),
    "block nesting 100 deep (secrets)": (
        "secrets", lambda d: write(d / "s.yaml", block_nested(100)), "nested deeper", 32
    ),
    "5000-digit integer (answers)": (
        "answers",
        lambda d: write(d / "a.yaml", ANSWERS.replace("port: 3306", "port: " + "7" * 5000)),
        "cannot be read",
        31,
    ),
    "secrets naming a directory": (
        "secrets", lambda d: (d / "secrets.d").mkdir() or d / "secrets.d", "is a folder", None
    ),
    "answers naming a directory": (
        "answers", lambda d: (d / "answers.d").mkdir() or d / "answers.d", "is a folder", None
    ),
    "missing answers": ("answers", lambda d: d / "nope.yaml", "No such file", None),
    "missing secrets": ("secrets", lambda d: d / "nope.yaml", "No such file", None),
    "empty answers": ("answers", lambda d: write(d / "a.yaml", ""), "is empty", None),
    "too big (answers)": (
        "answers",
        lambda d: write(d / "a.yaml", ANSWERS + "#" * MAX_BYTES + "\n"),
        f"at most {MAX_BYTES // 1024} KiB",
        None,
    ),
    "a FIFO as secrets": (
        "secrets", lambda d: os.mkfifo(d / "fifo") or d / "fifo", "not a regular file", None
    ),
    "many values (answers)": (
        "answers",
        lambda d: write(d / "a.yaml", "a: [" + ",".join(["x"] * 20000) + "]\n"),
        "more than",
        1,
    ),
}  # fmt: skip


def arguments(tmp_path: Path, case: str, command: str = "render") -> tuple[list[str], Path]:
    """The command's arguments with the case's bad file in place; and that file."""
    which, make, _, _ = CASES[case]
    answers, secrets = write_deployment(tmp_path / "deployment")
    bad = make(tmp_path)
    if which == "answers":
        answers = bad
    else:
        secrets = bad
    if command == "render":
        return render_args(answers, secrets, tmp_path / "out"), bad
    if command == "check":
        return ["check", "--answers", str(answers), "--secrets", str(secrets)], bad
    return ["--answers", str(answers), "--secrets", str(secrets), "--dry-run"], bad


def assert_operator_message(err: str, case: str, bad: Path) -> None:
    _, _, words, line = CASES[case]
    assert "Traceback" not in err
    assert words in err, err
    where = f"{bad}:{line}:" if line else f"{bad}:"
    assert where in err, err
    for internal in ("ruamel", "yaml.org", "0x", "Error:"):
        assert internal not in err


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_ends_with_exit_2_quickly_and_says_where(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, bad = arguments(tmp_path, case)
    main(render_args(tmp_path / "none", tmp_path / "none", tmp_path / "none"))  # imports warm
    capsys.readouterr()
    started = time.monotonic()
    code = main(args)
    elapsed = time.monotonic() - started
    assert code == 2
    assert elapsed < 1.0, f"{case}: {elapsed:.2f} s"
    assert_operator_message(capsys.readouterr().err, case, bad)
    tracemalloc.start()
    try:
        main(args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"{case}: {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("command", ["check", "install"])
def test_every_command_refuses_the_bomb_before_anything_else(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, bad = arguments(tmp_path, "alias bomb (answers)", command)
    assert main(args) == 2
    assert_operator_message(capsys.readouterr().err, "alias bomb (answers)", bad)


MEASURE = """\
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(f"\\nMEASURED {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss * 1024}", file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs the command from a small process: a child forked from pytest itself would count
pytest's own memory in its peak (ru_maxrss includes the pages it had before exec)."""


def run_installed(args: list[str]) -> tuple[int, str, float, float, int]:
    """Exit code, stderr, wall and CPU seconds, and peak memory (bytes) of the command."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-I", "-c", MEASURE, str(HARBOR_WIZARD), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    err, _, measured = result.stderr.rpartition("\nMEASURED ")
    cpu, peak = measured.split()
    return result.returncode, err, elapsed, float(cpu), int(peak)


@pytest.mark.parametrize(
    "case",
    [
        "alias bomb (answers)",
        "alias bomb (secrets)",
        "utf-16 (answers)",
        "NUL byte (secrets)",
        "nesting 5000 deep (answers)",
        "5000-digit integer (answers)",
        "secrets naming a directory",
        "empty answers",
    ],
)
def test_installed_command_on_bad_files(case: str, tmp_path: Path) -> None:
    """The whole process, start-up included: under 1 s of CPU and 100 MB (wall time is
    bounded loosely: the test machine runs other tests on its two cores)."""
    args, bad = arguments(tmp_path, case, "install")
    code, err, elapsed, cpu, peak = run_installed(args)
    assert code == 2, err
    assert_operator_message(err, case, bad)
    assert cpu < 1.0, f"{case}: {cpu:.2f} s of CPU ({elapsed:.2f} s wall)"
    assert elapsed < 5.0, f"{case}: {elapsed:.2f} s wall"
    assert peak < 100 * 2**20, f"{case}: {peak / 2**20:.0f} MiB"


# --- the run's own state: journal.json ------------------------------------------------------

CORRUPT_JOURNALS: dict[str, bytes] = {
    "not JSON": b'{"steps": {"lb01": ',
    "not UTF-8": b'{"steps": {}, "hosts": ["caf\xe9"]}',
    "a list": b"[1, 2, 3]",
    "steps of the wrong shape": b'{"steps": {"lb01": ["file:/x"]}, "hosts": [], "last": {}}',
    "hosts of the wrong shape": b'{"steps": {}, "hosts": "lb01", "last": {}}',
    "a directory": b"",
}


@pytest.mark.parametrize("case", list(CORRUPT_JOURNALS))
def test_corrupt_journal_ends_with_exit_1_and_what_to_do(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(tmp_path / "deployment")
    journal = tmp_path / "state" / "harbor-test" / "journal.json"
    journal.parent.mkdir(parents=True)
    if case == "a directory":
        journal.mkdir()
    else:
        journal.write_bytes(CORRUPT_JOURNALS[case])
    code = main(["--answers", str(answers), "--secrets", str(secrets), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err
    assert str(journal) in err
    assert "move it aside" in err
    assert "--from-scratch" in err


def test_secrets_values_of_the_bad_file_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad file that is otherwise full of passwords: none of them in the message."""
    answers, secrets = write_deployment(tmp_path)
    text = secrets.read_text() + "\x00"
    secrets.write_text(text)
    assert main(render_args(answers, secrets, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    for value in SECRETS.values():
        assert value not in err
