"""The remote layer against real hosts: hostile values stay values, abandoned commands
end on the host, and a silent host is named within 30 s for commands and transfers."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import PurePosixPath

import pytest
from fabric import Connection

from harbor_wizard import remote
from harbor_wizard.connection import SshTarget, connect
from harbor_wizard.steps.base import HostReads
from harbor_wizard.steps.distribute import _SERVE, _SERVER
from tests.lab import Lab
from tests.lab.hosts import Host
from tests.lab.util import wait_until

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

HOSTILE = [
    "it's",
    'say "hi"',
    "$(touch /root/pwned-subst)",
    "`touch /root/pwned-backtick`",
    "a; touch /root/pwned-semicolon",
    "two words  and\ttab",
    "line\nbreak; touch /root/pwned-newline",
    "non-ASCII: zażółć 日本",
    "-n",
    "' ; touch /root/pwned-quote ; '",
    "$HOME ${PATH} *",
]
SILENT_WITHIN = 30.0


def node(lab: Lab) -> Host:
    """A node of its own storage: nothing else in the session uses it."""
    return lab.unshared_nodes[0]


@pytest.fixture
def ssh(lab: Lab) -> Iterator[Connection]:
    host = node(lab)
    target = SshTarget(host.name, host.ip, "root", 22, lab.key_path, lab.known_hosts_path)
    connection = connect(target)
    try:
        yield connection
    finally:
        connection.close()


def pwned(host: Host) -> str:
    return host.run("ls /root | grep pwned || true").stdout.strip()


def ours(host: Host, pattern: str) -> str:
    """Processes on the host whose command line matches `pattern`."""
    return host.run(f"pgrep -af -- {pattern!r} | grep -v pgrep || true").stdout.strip()


def test_hostile_values_are_arguments_never_code(lab: Lab, ssh: Connection) -> None:
    host = node(lab)
    for value in HOSTILE:
        out = remote.run(ssh, 'printf %s "$1"', value, sudo=True)
        assert out.ok, value
        assert out.stdout == value
    assert pwned(host) == ""


def test_hostile_file_names_are_written_exactly(lab: Lab, ssh: Connection) -> None:
    host = node(lab)
    base = PurePosixPath("/opt/hostile")
    try:
        for index, value in enumerate(HOSTILE):
            name = value.replace("/", "_")
            path = base / f"{index}-{name}" / f"{name}.tgz"
            out = remote.write_file(ssh, path, value.encode(), mode=0o640, validate='test -s "$1"')
            assert out.ok, (value, out)
            assert remote.read_file(ssh, path) == value
            state = remote.file_state(ssh, path)
            assert (state.mode, state.owner) == (0o640, "root"), value
        leftovers = host.run(f"find {base} -name '{remote.TEMP_MARK}*'").stdout
        assert leftovers == ""
        assert pwned(host) == ""
    finally:
        host.run(f"rm -rf {base}")


def test_a_failed_validation_leaves_the_target_and_no_temp_file(lab: Lab, ssh: Connection) -> None:
    host = node(lab)
    path = PurePosixPath("/opt/validated/file.conf")
    try:
        assert remote.write_file(ssh, path, b"old\n", mode=0o644).ok
        out = remote.write_file(ssh, path, b"new\n", mode=0o644, validate='grep -q old "$1"')
        assert not out.ok
        assert remote.read_file(ssh, path) == "old\n"
        assert host.run("ls -A /opt/validated").stdout.split() == ["file.conf"]
    finally:
        host.run("rm -rf /opt/validated")


def test_temp_files_are_0600_from_the_first_byte(lab: Lab, ssh: Connection) -> None:
    """While a (slowed) upload runs, its temp file is already 0600."""
    host = node(lab)
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            out = host.run(f"stat -c '%a' /opt/slow/{remote.TEMP_MARK}* 2>/dev/null || true")
            seen.extend(out.stdout.split())
            time.sleep(0.05)

    host.slow_link(rate="16mbit")
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out = remote.write_file(ssh, PurePosixPath("/opt/slow/blob"), b"x" * 3_000_000, mode=0o644)
        assert out.ok
    finally:
        done.set()
        watcher.join()
        host.unslow_link()
        host.run("rm -rf /opt/slow")
    assert seen, "the upload was too quick to watch"
    assert set(seen) == {"600"}


def test_a_timed_out_command_does_not_survive_on_the_host(lab: Lab, ssh: Connection) -> None:
    host = node(lab)
    out = remote.run(ssh, "sleep 417; echo late", sudo=True, timeout=1)
    assert out.code == 124
    wait_until(lambda: ours(host, "sleep 417") == "", timeout=5, what="the command to end")


def test_a_stopped_command_ends_with_its_children(lab: Lab, ssh: Connection) -> None:
    host = node(lab)
    running = remote.start(ssh, "sh -c 'sleep 418' & sleep 419; wait", sudo=True)
    wait_until(lambda: "sleep 419" in ours(host, "sleep 419"), timeout=5, what="the start")
    running.stop()
    wait_until(lambda: ours(host, "sleep 41[89]") == "", timeout=5, what="the whole group to end")


def test_a_closed_connection_ends_the_command_on_the_host(lab: Lab, ssh: Connection) -> None:
    """Our process gone (or an abort): the channel closes, the host ends the command."""
    host = node(lab)
    remote.start(ssh, "sleep 420", sudo=True)
    wait_until(lambda: ours(host, "sleep 420") != "", timeout=5, what="the start")
    ssh.close()
    # Within seconds of the channel's EOF (15 s leaves room for a loaded machine's sshd),
    # well before the watchdog's 30 s of heartbeat silence would end it.
    wait_until(
        lambda: ours(host, "sleep 420") == "",
        timeout=15,
        what=lambda: f"the command to end; still there:\n{ours(host, 'sleep 420')}",
    )


def test_the_command_ends_even_when_its_wrapper_shell_is_gone_first(
    lab: Lab, ssh: Connection
) -> None:
    """The watchdog knows the command by its start time, not by who its parent is: with the
    wrapper shell killed before the channel closes (the command then has another parent),
    it still ends the command, and only it."""
    host = node(lab)
    remote.start(ssh, "sleep 423", sudo=True)
    wait_until(lambda: ours(host, "sh -c sleep 423") != "", timeout=5, what="the start")
    job = ours(host, "^sh -c sleep 423 harbor-wizard").split()[0]
    wrapper = host.run(f"cut -d' ' -f4 /proc/{job}/stat").stdout.strip()
    host.run(f"kill -KILL {wrapper}")
    ssh.close()
    wait_until(
        lambda: ours(host, "sleep 423") == "",
        timeout=15,
        what=lambda: f"the command to end; still there:\n{ours(host, 'sleep 423')}",
    )


def test_a_silent_host_is_named_during_a_command(lab: Lab, ssh: Connection) -> None:
    host = node(lab)
    remote.run(ssh, "true")
    host.partition()
    started = time.monotonic()
    try:
        with pytest.raises(remote.ConnectionLost) as lost:
            remote.run(ssh, "sleep 421", timeout=600)
        took = time.monotonic() - started
        # The host's watchdog misses our heartbeat and ends the command by itself.
        wait_until(
            lambda: ours(host, "sleep 421") == "",
            timeout=remote.ORPHAN_SECONDS + 10,
            what="the orphaned command to end",
        )
    finally:
        host.heal()
    assert lost.value.silent
    assert "no answer for 20 s" in str(lost.value)
    assert took < SILENT_WITHIN


def test_a_silent_host_is_named_during_an_upload(lab: Lab, ssh: Connection) -> None:
    host = node(lab)
    remote.run(ssh, "true")
    threading.Timer(0.5, host.partition).start()
    started = time.monotonic()
    try:
        host.slow_link(rate="8mbit")
        with pytest.raises(remote.ConnectionLost) as lost:
            remote.write_file(ssh, PurePosixPath("/opt/cut/blob"), b"y" * 20_000_000, mode=0o644)
        took = time.monotonic() - started
    finally:
        host.heal()
        host.unslow_link()
        host.run("rm -rf /opt/cut")
    assert lost.value.silent
    assert took < SILENT_WITHIN


def test_the_installer_share_answers_only_its_token_path(lab: Lab, ssh: Connection) -> None:
    host = node(lab)
    path = PurePosixPath("/opt/share-test/installer.tgz")
    assert remote.write_file(ssh, path, b"the installer", mode=0o644).ok
    lines: list[str] = []
    server = remote.start(ssh, _SERVE, _SERVER, path, host.ip, sudo=True, on_line=lines.append)
    try:
        wait_until(lambda: bool(lines), timeout=10, what="the server's first line")
        port, token = lines[0].split()
        base = f"http://{host.ip}:{port}"
        for wrong in ("/", f"/{token}/", f"/{token}", "/installer.tgz", f"/{token}/../"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + wrong, timeout=5)
            assert refused.value.code == 404, wrong
        with urllib.request.urlopen(f"{base}/{token}/installer.tgz", timeout=5) as answer:
            assert answer.read() == b"the installer"
        assert token not in ours(host, "python")
    finally:
        server.stop()
    wait_until(lambda: ours(host, "serve_forever") == "", timeout=5, what="the server to end")
    host.run("rm -rf /opt/share-test")


@pytest.mark.parametrize("side_by_side", [False, True])
def test_gathered_reads_keep_values_as_values_and_results_apart(
    lab: Lab, ssh: Connection, side_by_side: bool
) -> None:
    """Many reads in one command (one after the other, or side by side): each gets its own
    output, errors and exit code, hostile values stay arguments, and a read's `exit` or
    variables do not reach the next one."""
    host = node(lab)
    echo = [remote.Read.of('printf %s "$1"', value) for value in HOSTILE]
    odd = [
        remote.Read.of("x=set; exit 3"),
        remote.Read.of('printf "%s" "${x:-unset}"; echo oops >&2'),
        remote.Read.of('printf "%s|" "$@"', "a", "", "b c"),
        remote.Read.of("true"),
        remote.Read.of("printf 'no newline'"),
        remote.Read.of("printf 'two\\n\\nnewlines\\n\\n'"),
    ]
    before = remote.round_trips.snapshot().get(ssh.host, 0)
    folders = host.run("ls -d /tmp/tmp.* 2>/dev/null || true").stdout
    found = remote.gather(ssh, [*echo, *odd, echo[0]], side_by_side=side_by_side)
    assert host.run("ls -d /tmp/tmp.* 2>/dev/null || true").stdout == folders  # none left
    assert remote.round_trips.snapshot()[ssh.host] == before + 1
    for read, value in zip(echo, HOSTILE, strict=True):
        assert found[read] == remote.Output(0, value, ""), value
    exits, unset, words, nothing, bare, blank = (found[r] for r in odd)
    assert exits.code == 3
    assert (unset.code, unset.stdout, unset.stderr) == (0, "unset", "oops\n")
    assert words.stdout == "a||b c|"
    assert nothing == remote.Output(0, "", "")
    assert bare.stdout == "no newline"
    assert blank.stdout == "two\n\nnewlines\n\n"
    assert pwned(host) == ""


def test_a_step_reads_what_an_earlier_step_changed(lab: Lab, ssh: Connection) -> None:
    """The phase's reads are asked once; after a step changed the host, the later steps'
    reads are asked again, and a step asking twice (polling) is answered live."""
    host = node(lab)
    path = PurePosixPath("/opt/gathered/state")
    read = remote.file_read(path)
    other = remote.Read.of("date +%s%N")
    try:
        host.run(f"mkdir -p {path.parent} && echo one > {path}")
        reads = HostReads([(read,), (read, other), (read,)])
        assert reads.result(ssh, read).stdout == "one\n"
        host.run(f"echo two > {path}")  # as if the first step had acted
        assert reads.result(ssh, read).stdout == "two\n", "the same step asking again"
        reads.step_done(changed=True)
        host.run(f"echo three > {path}")
        assert reads.result(ssh, read).stdout == "three\n"
        sent = remote.round_trips.snapshot()[ssh.host]
        first = reads.result(ssh, other).stdout
        assert remote.round_trips.snapshot()[ssh.host] == sent, "gathered with the read"
        reads.step_done(changed=False)
        host.run(f"echo four > {path}")  # not by a step: the gathered result still holds
        assert reads.result(ssh, read).stdout == "three\n"
        assert first.strip().isdigit()
    finally:
        host.run(f"rm -rf {path.parent}")
