"""The installed `harbor-wizard` in a real terminal (tmux): keys typed ahead, quitting,
SIGTERM, TERM=linux, NO_COLOR, 80x23, and a whole deployment typed for the lab."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.install.test_silent_hosts_lab import slow_install
from tests.lab import Lab
from tests.support.tmux import Terminal

pytestmark = pytest.mark.slow  # tmux is installed by tests/run.sh: its absence fails

COMMAND = str(Path(sys.executable).with_name("harbor-wizard"))
ESSENTIAL = ("f1 Help", "f2 Next", "f3 Back", "^q Quit")
FIRST_FRAME = 30.0


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for terminal in made:
        terminal.stop()


def wizard(made: list[Terminal], cwd: Path, *args: str, height: int = 24, **env: str) -> Terminal:
    environment = {
        "LANG": "C.UTF-8",
        "HARBOR_WIZARD_STATE_DIR": str(cwd / "state"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        **env,
    }
    term = environment.pop("TERM", "xterm-256color")
    unset = [n for n in ("NO_COLOR", "TEXTUAL_THEME", "LC_ALL", "LC_CTYPE") if n not in env]
    terminal = Terminal(
        [COMMAND, *args], height=height, env=environment, unset=unset, cwd=cwd, term=term
    )
    made.append(terminal)
    return terminal


def line_with(screen: str, label: str) -> str:
    return next(line for line in screen.splitlines() if label in line)


def test_without_a_terminal_it_exits_2_and_names_answers() -> None:
    done = subprocess.run(
        [COMMAND], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--answers FILE" in done.stderr


def test_keys_typed_ahead_land_in_the_field_they_were_meant_for(
    terminals: list[Terminal], tmp_path: Path
) -> None:
    term = wizard(terminals, tmp_path)
    term.wait_for("New deployment", FIRST_FRAME)
    term.press("Enter")
    term.wait_for("1 Topology")
    # One write: Tab and text together (the first Tab leaves the release for the name).
    term.type("\tmydep\tharbor.example.com\t198.51.100.7")
    screen = term.wait_for(
        r"Deployment name +mydep *\n.*Harbor hostname +harbor\.example\.com *\n"
        r".*> Virtual IP \(VIP\) +198\.51\.100\.7 "
    )
    assert "mydep" not in line_with(screen, "Harbor hostname")
    assert "harbor.example.com" not in line_with(screen, "Virtual IP")


def test_sigterm_restores_the_terminal(terminals: list[Terminal], tmp_path: Path) -> None:
    term = wizard(terminals, tmp_path)
    term.wait_for("New deployment", FIRST_FRAME)
    assert term.alternate_screen
    pid = term.app_pid()
    assert pid is not None
    os.kill(pid, 15)
    term.wait_for(r"\[exit \d+\]", exit_ok=True)
    assert not term.alternate_screen
    assert term.exit_status() == 143  # as the unattended mode after SIGTERM


@pytest.mark.lab
def test_quit_while_a_check_runs_returns_the_shell_within_a_second(
    terminals: list[Terminal], tmp_path: Path, fresh_lab: Lab
) -> None:
    lab = fresh_lab
    silent = lab.subnet.addr(61)  # no host answers there: the probe waits for its timeout
    term = wizard(terminals, tmp_path)
    term.wait_for("New deployment", FIRST_FRAME)
    term.press("Enter")
    term.wait_for("1 Topology")
    term.type(f"\t\t\t{silent}")  # release, name, hostname, VIP
    term.wait_for(r"Virtual IP.*\[checking\]")
    started = time.monotonic()
    term.press("C-q")
    term.wait_for(r"\[exit 0\]", 5, exit_ok=True)
    assert time.monotonic() - started < 1.0
    assert not term.alternate_screen


def lab_files(lab: Lab, folder: Path) -> Path:
    """The lab's answers file with its secrets file beside it, where --edit finds them."""
    folder.mkdir(parents=True, exist_ok=True)
    answers, secrets = lab.write_answers(folder)
    secrets.rename(folder / "answers.secrets.yaml")
    return answers


SCREENS = [
    ("1 Topology", ("Deployment name", "Harbor hostname", "Virtual IP", "Offline installer")),
    ("2 Load balancers", ("Mode", "Interface", "VRRP router id", "LB 2 priority", "holds the VIP")),
    ("3 Harbor DB", ("Host", "Port", "User", "Password")),
    ("4 Clair DB", ("Host", "Port", "User", "Database", "Password")),
    ("5 Redis", ("Endpoint",)),
    ("6 Storage", ("Provider",)),
    ("7 SSH access", ("User", "Port", "Private key file", "known_hosts file")),
]


@pytest.mark.lab
@pytest.mark.parametrize(
    "setting",
    [
        {"TERM": "linux"},
        {"NO_COLOR": "1"},
        {"LANG": "C", "TERM": "linux"},
    ],
    ids=["term-linux", "no-color", "ascii"],
)
def test_every_screen_shows_its_fields_and_keys_at_80x23(
    terminals: list[Terminal], tmp_path: Path, fresh_lab: Lab, setting: dict[str, str]
) -> None:
    lab = fresh_lab
    answers = lab_files(lab, tmp_path / "files")
    term = wizard(terminals, tmp_path, "--edit", str(answers), height=23, **setting)
    for index, (title, labels) in enumerate(SCREENS):
        term.wait_for(re.escape(title), FIRST_FRAME)
        present = "".join(f"(?=.*{re.escape(text)})" for text in (*labels, *ESSENTIAL))
        screen = term.wait_for(rf"^(?!.*\[checking\]){present}.*$", 30)  # checks answered
        for label in labels:
            assert label in screen, (title, label, screen)
        footer = screen.rstrip("\n").splitlines()[-1]
        for key in ESSENTIAL:
            assert key in footer, (title, key, footer)
        assert "error:" not in screen, screen
        if setting.get("LANG") == "C":
            assert screen.isascii(), screen
        term.press("F2")
        following = SCREENS[index + 1][0] if index + 1 < len(SCREENS) else "8 Review"
        # The lab's single DB servers, Redis and local disks are warned of (as by check).
        if "Go on with" in term.wait_for(f"Go on with these warnings|{re.escape(following)}"):
            term.press("Tab", "Enter")
    keys = ("f2 Save", "f3 Back", "f4 Install", "^q Quit")
    screen = term.wait_for("8 Review" + "".join(f"(?=.*{re.escape(k)})" for k in keys))
    footer = screen.rstrip("\n").splitlines()[-1]
    for key in keys:
        assert key in footer
    term.press("F1")
    assert "Ctrl+Q" in term.wait_for("Keys")


def plan_block(output: str) -> str:
    """The plan as --dry-run prints it first: from 'Plan for deployment' to its last step."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Plan for deployment"))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not re.match(r"\d+\. | ", line):
            break
        block.append(line)
    return "\n".join(block)


def dry_run(answers: Path, *extra: str, cwd: Path) -> str:
    done = subprocess.run(
        [COMMAND, "--answers", str(answers), *extra, "--dry-run"],
        capture_output=True, text=True, timeout=300, cwd=cwd,
        env={**os.environ, "HARBOR_WIZARD_STATE_DIR": str(cwd / "state"),
             "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def next_screen(term: Terminal, ready: str, title: str, secrets: list[str]) -> None:
    """Wait until the screen shows `ready` (its checks answered) with nothing checking,
    make sure no secret shows, press Next, confirm the lab's HA warnings, wait for `title`."""
    screen = term.wait_for(rf"^(?!.*\[checking\])(?!.*error:)(?=.*{ready}).*$", 60)
    for value in secrets:
        assert value not in screen
    term.press("F2")
    screen = term.wait_for(f"{re.escape(title)}|Go on with these warnings", 30)
    if "Go on with" in screen:
        term.press("Tab", "Enter")
        term.wait_for(re.escape(title), 30)


@pytest.mark.lab
def test_a_deployment_typed_in_the_terminal_replays_to_the_labs_plan(
    terminals: list[Terminal], tmp_path: Path, fresh_lab: Lab
) -> None:
    lab = fresh_lab
    data, secrets = lab.answers_dict(), lab.secrets_dict()
    values = list(secrets.values())
    h, lb, db, pg = data["harbor"], data["load_balancer"], data["database"], data["clair_database"]
    nodes, lbs, ssh = data["harbor_nodes"], lb["nodes"], data["ssh"]
    term = wizard(terminals, tmp_path, TERM="linux")
    term.wait_for("New deployment", FIRST_FRAME)
    term.press("Enter")
    term.wait_for("1 Topology")
    term.press("F6")  # a third Harbor node; focus lands on its address
    term.wait_for("Node 3 address")
    term.press(*["BTab"] * 12)
    term.wait_for("> Deployment name")
    term.type(f"{data['name']}\t{h['hostname']}\t{data['vip']}\t\t")
    term.wait_for("> Scanning")
    term.press("Space")  # a < choice > steps on Space or Right
    term.wait_for(r"Clair\) +< yes >")
    term.type(
        f"\t{h['installer']}\t"
        f"{secrets['harbor.admin_password']}\t"
        + "\t".join(f"{n['name']}\t{n['address']}" for n in nodes)
    )
    next_screen(
        term,
        rf"Clair\) +< yes >.*ok: harbor-offline.*Node 3 address +{re.escape(nodes[2]['address'])}",
        "2 Load balancers",
        values,
    )
    term.type(
        f"\t{lb['interface']}\t{lb['virtual_router_id']}\t\t{secrets['load_balancer.auth_pass']}\t"
        + "\t".join(f"{n['name']}\t{n['address']}\t{n['priority']}" for n in lbs)
    )
    next_screen(term, rf"LB 2 address +{re.escape(lbs[1]['address'])}", "3 Harbor DB", values)
    term.type(f"{db['host']}\t{db['port']}\t{db['user']}\t{secrets['database.password']}")
    next_screen(term, r"warning: MariaDB", "4 Clair DB", values)
    term.type(
        f"{pg['host']}\t{pg['port']}\t{pg['user']}\t{pg['database']}\t"
        f"{secrets['clair_database.password']}"
    )
    next_screen(term, r"warning: PostgreSQL", "5 Redis", values)
    term.type(data["redis"]["endpoints"][0])
    next_screen(term, r"warning: Redis", "6 Storage", values)
    next_screen(term, r"Provider", "7 SSH access", values)
    term.type(f"{ssh['user']}\t{ssh['port']}\t{ssh['identity_file']}\t{ssh['known_hosts']}")
    next_screen(term, r"known_hosts file +\S.*\[ok\] lb02", "8 Review", values)
    term.press("F2")
    screen = term.wait_for(r"Saved\s.*F4\s+installs", 120)
    for value in values:
        assert value not in screen
    term.press("C-q")
    term.wait_for(r"\[exit 0\]", 10, exit_ok=True)

    written = tmp_path / f"{data['name']}.yaml"
    text = written.read_text()
    for value in values:
        assert value not in text
    own = tmp_path / "own"
    own.mkdir()
    own_answers, own_secrets = lab.write_answers(own)
    ours = plan_block(dry_run(written, cwd=tmp_path))
    theirs = plan_block(dry_run(own_answers, "--secrets", str(own_secrets), cwd=own))
    assert ours == theirs


def to_review(term: Terminal) -> None:
    """From screen 1 of an opened lab file to Review, each screen's checks answered."""
    titles = [title for title, _ in SCREENS[1:]] + ["8 Review"]
    for (title, labels), following in zip(SCREENS, titles, strict=True):
        term.wait_for(re.escape(title), FIRST_FRAME)
        present = "".join(f"(?=.*{re.escape(text)})" for text in labels)
        term.wait_for(rf"^(?!.*\[checking\]){present}.*$", 30)
        term.press("F2")
        if "Go on with" in term.wait_for(f"{re.escape(following)}|Go on with these warnings"):
            term.press("Left", "Enter")  # the lab's HA warnings
            term.wait_for(re.escape(following))


@pytest.mark.lab
def test_quit_during_an_install_exits_130_and_the_printed_command_resumes_it(
    terminals: list[Terminal], tmp_path: Path, fresh_lab: Lab
) -> None:
    lab = fresh_lab
    answers = lab_files(lab, tmp_path / "files")
    slow_install(lab, "harbor01", 8)  # install.sh is still running when Ctrl+Q comes
    try:
        term = wizard(terminals, tmp_path, "--edit", str(answers))
        to_review(term)
        term.press("F2")
        if "Replace it?" in term.wait_for(r"Replace it\?|Saved\s", 120):
            term.press("Left", "Enter")
        term.wait_for(r"Saved\s.*F4\s+installs", 120)
        term.press("F4")
        screen = term.wait_for(r"\[running\] \./install\.sh", 180)
        assert "f9 Abort" in screen
        assert "Retry" not in screen
        assert "Done" not in screen
        term.press("C-q")
        term.wait_for("Stop it")
        term.press("Left", "Enter")  # Yes
        term.wait_for(r"\[exit \d+\]", 120, exit_ok=True)
    finally:
        lab["harbor01"].run("rm -f /data/harbor-standin/up-seconds")
    assert term.exit_status() == 130
    assert not term.alternate_screen
    said = term.history(joined=True)
    resume = re.search(r"install stopped after (\S+ / \S+)\. To resume: (.+?) \(or", said)
    assert resume is not None, said
    assert resume.group(1) == "harbor01 / install.sh"  # it let the running step finish
    words = shlex.split(resume.group(2))
    assert words == ["harbor-wizard", "--answers", str(answers)]  # secrets: the sidecar

    done = subprocess.run(
        [COMMAND, *words[1:]],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "HARBOR_WIZARD_STATE_DIR": str(tmp_path / "state"),
             "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"harbor01 install.sh: (skipped|unchanged)", done.stdout), done.stdout
    assert re.search(r"harbor02 install.sh: changed", done.stdout), done.stdout
