"""Commands and files on one host, over its one SSH connection.

Why one module: every remote action needs the same guarantees, and each was broken once
when a call site built its own shell text.

- **No value is ever spliced into shell text.** A command is a constant POSIX ``sh``
  script that names its values as ``"$1"``, ``"$2"``...; the values travel as positional
  arguments, quoted exactly once (``shlex.join``) on the one command line SSH carries. A
  file name like ``x$(touch y).tgz`` is then a word, never code.
- **An abandoned command does not outlive us.** It runs in a process group of its own
  under a watchdog that reads our heartbeat on its stdin: when the channel closes (time
  limit, abort, our process gone) or the heartbeat stops (a partition), the watchdog ends
  the whole group on the host.
- **A silent host is named, not waited on.** Dead peers are detected by the connection
  (keepalives and ``TCP_USER_TIMEOUT``, see :mod:`harbor_wizard.connection`); a command or
  transfer on a dead connection raises :class:`ConnectionLost` saying "no answer for N s".
- Root through ``sudo -n`` when the login user is not root (a password prompt can never
  hang a run); our stdin is never mirrored; output streams line by line to a listener.
- Files are written atomically: a temp file made 0600 by ``mktemp`` (``O_EXCL``, so never
  through someone's symlink), filled over SFTP, given its mode and owner, optionally
  validated, then renamed. Secrets travel inside files, never on a command line.
"""

from __future__ import annotations

import codecs
import hashlib
import secrets
import shlex
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import paramiko
from fabric import Connection

from harbor_wizard.connection import NO_ANSWER_SECONDS, SILENT
from harbor_wizard.redact import redact

COMMAND_TIMEOUT = 120.0
TEMP_MARK = ".harbor-wizard-tmp-"
"""Every temp file the wizard makes on a host carries this in its name."""
HEARTBEAT_SECONDS = 5.0
"""How often the host's watchdog hears from us."""
ORPHAN_SECONDS = 30
"""A command whose heartbeat stops for this long is ended by its watchdog on the host."""

Arg = str | int | PurePosixPath

# The command runs as the leader of a new process group (a background job of a
# non-interactive sh is never a group leader, so setsid does not fork and $job is the
# group id). The watchdog reads one heartbeat byte at a time from the channel; on EOF
# (the channel closed) or ORPHAN_SECONDS of silence it ends the group, TERM then KILL,
# but only while $job is still the process that started then (its start time, field 22
# of /proc/PID/stat, is what it was): once reaped, its number may belong to anyone (PIDs
# wrap at 32768 by default), and signalling that group as root would end someone else's
# processes, sshd's own session among them. The start time, unlike the parent, holds when
# this shell is gone first. Builtins only, but for the one subshell per reading.
_WRAPPER = f"""\
script=$1; shift
started() {{ s=; read -r s < "/proc/$1/stat" 2>/dev/null || return 0; set -- ${{s##*) }}
  shift 19; echo "$1"; }}
exec 3<&0
setsid sh -c "$script" harbor-wizard "$@" </dev/null 3<&- &
job=$!
start=$(started "$job")
{{ while [ "$(timeout {ORPHAN_SECONDS} head -c 1)" = . ]; do :; done
  ours() {{ [ -n "$start" ] && [ "$(started "$job")" = "$start" ]; }}
  ours && kill -TERM -"$job" 2>/dev/null && sleep 2 && ours && kill -KILL -"$job" 2>/dev/null
}} <&3 >/dev/null 2>&1 &
watch=$!
exec 3<&-
wait "$job"; code=$?
kill "$watch" 2>/dev/null
exit "$code"
"""


class ConnectionLost(Exception):
    """The host stopped answering, or the connection was closed under a command."""

    def __init__(self, address: str, reason: str, silent: bool) -> None:
        super().__init__(f"{address}: {reason}")
        self.address = address
        self.reason = reason
        self.silent = silent
        """True when the host went silent (no answer), not when it reset or we aborted."""


def connection_lost(connection: Connection) -> ConnectionLost:
    """Why `connection` no longer works, in the operator's words."""
    transport = connection.client.get_transport()
    if transport is not None and getattr(transport.sock, "silent", False):
        reason = f"no answer for {NO_ANSWER_SECONDS} s ({SILENT})"
        return ConnectionLost(connection.host, reason, silent=True)
    cause = transport.get_exception() if transport is not None else None
    if cause is None or isinstance(cause, EOFError):
        return ConnectionLost(connection.host, "the SSH connection was closed", silent=False)
    return ConnectionLost(connection.host, f"the SSH connection was lost ({cause})", silent=False)


def _alive(connection: Connection) -> paramiko.Transport:
    """The connection's live transport; a connection never opened is opened (as fabric
    does), one that was lost is not silently replaced."""
    transport: paramiko.Transport | None = connection.client.get_transport()
    if transport is None:
        connection.open()
        transport = connection.client.get_transport()
    if transport is None or not transport.is_active():
        raise connection_lost(connection)
    return transport


class RoundTrips:
    """How many commands and file transfers each address was sent: what a re-run's speed
    depends on, more than on anything we compute (the benchmark prints it per phase)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, address: str) -> None:
        with self._lock:
            self._counts[address] = self._counts.get(address, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


round_trips = RoundTrips()


@dataclass(frozen=True)
class Output:
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def tail(self, lines: int = 5) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


def command_line(script: str, args: tuple[Arg, ...], *, sudo: bool) -> str:
    """The one command line SSH carries: `sh -c WRAPPER` with the script and its values as
    arguments, each quoted once."""
    argv = ["sh", "-c", _WRAPPER, "harbor-wizard", script, *(str(a) for a in args)]
    if sudo:
        argv = ["sudo", "-n", *argv]
    return shlex.join(argv)


class _Lines:
    """Collects a stream's bytes, handing each complete line (redacted) to a listener."""

    def __init__(self, on_line: Callable[[str], None] | None) -> None:
        self.on_line = on_line
        self.data = bytearray()
        self._partial = ""
        # A character split between two chunks must not become U+FFFD: a secret with
        # such a character would then escape `redact`.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        if self.on_line is None:
            return
        text = self._partial + self._decoder.decode(chunk)
        *lines, self._partial = text.split("\n")
        for line in lines:
            self.on_line(redact(line.rstrip("\r")))

    def close(self) -> str:
        if self.on_line is not None:
            self._partial += self._decoder.decode(b"", final=True)
            if self._partial:
                self.on_line(redact(self._partial))
            self._partial = ""
        return self.data.decode("utf-8", "replace")


class Running:
    """A command started on a host: `wait` for its result, or `stop` it (the host then
    ends its whole process group)."""

    def __init__(
        self,
        connection: Connection,
        script: str,
        args: tuple[Arg, ...],
        *,
        sudo: bool,
        on_line: Callable[[str], None] | None,
    ) -> None:
        self.connection = connection
        transport = _alive(connection)
        round_trips.count(connection.host)
        self._out, self._err = _Lines(on_line), _Lines(on_line)
        self._sending = threading.Lock()
        self._closed = False
        try:
            self.channel = transport.open_session(timeout=NO_ANSWER_SECONDS)
            self.channel.exec_command(
                command_line(script, args, sudo=sudo and connection.user != "root")
            )
        except (paramiko.SSHException, EOFError, OSError):
            raise connection_lost(connection) from None
        self._readers = [
            threading.Thread(target=self._pump, args=(recv, lines), daemon=True)
            for recv, lines in (
                (self.channel.recv, self._out),
                (self.channel.recv_stderr, self._err),
            )
        ]
        for reader in self._readers:
            reader.start()
        threading.Thread(target=self._heartbeat, daemon=True).start()

    @staticmethod
    def _pump(recv: Callable[[int], bytes], lines: _Lines) -> None:
        while True:
            try:
                chunk = recv(65536)
            except (OSError, EOFError, paramiko.SSHException):
                return
            if not chunk:
                return
            lines.feed(chunk)

    def _heartbeat(self) -> None:
        """Tell the host's watchdog we are here, for as long as the command runs, whether
        or not anyone waits for it (a server started with `start`).

        The first beat only after HEARTBEAT_SECONDS: a beat crossing the command's end can
        reach sshd after the channel's CLOSE (paramiko answers the host's CLOSE on its own
        thread, and sends data after its closed check), and sshd drops the whole
        connection for data on a channel it has freed. Most commands end sooner and are
        never beaten at all; a long one risks it once, at its end, in a window of a few
        milliseconds every HEARTBEAT_SECONDS."""
        channel = self.channel
        while not channel.status_event.wait(HEARTBEAT_SECONDS):
            with self._sending:
                if self._closed or channel.closed:
                    return
                try:
                    channel.send(b".")
                except (OSError, EOFError, paramiko.SSHException):
                    return  # the channel is closing: wait() sees why

    def _close(self) -> None:
        """Close the channel, never while a heartbeat is on its way (see `_heartbeat`)."""
        with self._sending:
            self._closed = True
            self.channel.close()

    @property
    def done(self) -> bool:
        return self.channel.exit_status_ready()

    def stop(self) -> None:
        self._close()

    def wait(self, timeout: float = COMMAND_TIMEOUT) -> Output:
        """The command's result; 124 after `timeout` (the command is then stopped). Raises
        ConnectionLost when the host goes silent or the connection is closed under it."""
        deadline = time.monotonic() + timeout
        channel = self.channel
        while not channel.status_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                self._join()
                self._out.close()
                stderr = self._err.close()[-500:]
                return Output(124, "", f"timed out after {timeout:.0f} s: {stderr}")
            channel.status_event.wait(left)
        self._join()
        transport = self.connection.client.get_transport()
        if channel.exit_status == -1 and (transport is None or not transport.is_active()):
            raise connection_lost(self.connection)
        stdout, stderr = self._out.close(), self._err.close()
        self._close()
        return Output(channel.exit_status, stdout, stderr)

    def _join(self) -> None:
        for reader in self._readers:
            reader.join(NO_ANSWER_SECONDS)


def start(
    connection: Connection,
    script: str,
    *args: Arg,
    sudo: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> Running:
    """Start `script` (constant sh text naming its values "$1", "$2"...) with `args`."""
    return Running(connection, script, args, sudo=sudo, on_line=on_line)


def run(
    connection: Connection,
    script: str,
    *args: Arg,
    sudo: bool = False,
    timeout: float = COMMAND_TIMEOUT,
    on_line: Callable[[str], None] | None = None,
) -> Output:
    """Run `script` (constant sh text naming its values "$1", "$2"...) with `args`; root
    via `sudo -n` when needed. A failing command is not an exception: its exit code is in
    the result (124 for a time-out). A dead host raises ConnectionLost."""
    return start(connection, script, *args, sudo=sudo, on_line=on_line).wait(timeout)


@dataclass(frozen=True)
class Read:
    """A read-only command (constant script, values as "$1"...), run as root: steps name
    what they read so that the runner can ask a host for all of a phase's reads at once."""

    script: str
    args: tuple[str, ...] = ()

    @classmethod
    def of(cls, script: str, *args: Arg) -> Read:
        return cls(script, tuple(str(a) for a in args))


def ask(connection: Connection, read: Read, *, timeout: float = COMMAND_TIMEOUT) -> Output:
    """One read on its own (as root)."""
    return run(connection, read.script, *read.args, sudo=True, timeout=timeout)


_AFTER_READ = """code=$?; printf '\\n%s %s\\n' "$mark" "$code"; printf '\\n%s\\n' "$mark" >&2"""


# Side by side: each read's output, errors and exit code go to files of a private folder,
# shown in order once all have ended.
_SIDE_BY_SIDE_START = """d=$(mktemp -d) || exit 1
trap 'rm -rf -- "$d"' EXIT"""
_SIDE_BY_SIDE_SHOW = """wait
i=1
while [ -e "$d/$i.code" ]; do
  cat -- "$d/$i.out"; printf '\\n%s %s\\n' "$mark" "$(cat -- "$d/$i.code")"
  cat -- "$d/$i.err" >&2; printf '\\n%s\\n' "$mark" >&2
  i=$((i + 1))
done"""


def gather(
    connection: Connection,
    reads: Sequence[Read],
    *,
    timeout: float = COMMAND_TIMEOUT,
    side_by_side: bool = False,
) -> dict[Read, Output]:
    """Every read's result from one command. Each read runs in a subshell of its own (its
    `exit` and variables stay there) with its values as its "$1"...; the values travel as
    arguments of the one command line, as with `run`: the script text holds only the reads'
    constant scripts and argument numbers. A random mark after each read separates the
    results (a read's output cannot forge it). When the command itself fails, every read
    gets its failure. `side_by_side`: the reads run at the same time (slow probes such as
    `docker info` and `docker-compose --version` then cost the slowest, not the sum)."""
    unique = list(dict.fromkeys(reads))
    if not unique:
        return {}
    mark = secrets.token_hex(16)
    args: list[str] = [mark]
    lines = ["mark=$1"] + ([_SIDE_BY_SIDE_START] if side_by_side else [])
    for number, read in enumerate(unique, 1):
        first = len(args) + 1
        args += read.args
        names = " ".join(f'"${{{n}}}"' for n in range(first, first + len(read.args)))
        subshell = f"(set -- {names}\n{read.script}\n) </dev/null"
        if side_by_side:
            files = f'>"$d/{number}.out" 2>"$d/{number}.err"'
            lines.append(f'{{ {subshell} {files}; echo $? >"$d/{number}.code"; }} &')
        else:
            lines += [subshell, _AFTER_READ]
    if side_by_side:
        lines.append(_SIDE_BY_SIDE_SHOW)
    out = run(connection, "\n".join(lines), *args, sudo=True, timeout=timeout)
    # stdout: OUT1 \n MARK CODE1 \n OUT2 \n MARK CODE2 \n ...; stderr: ERR1 \n MARK \n ...
    stdout = out.stdout.split(f"\n{mark} ")
    stderr = out.stderr.split(f"\n{mark}\n")
    if len(stdout) != len(unique) + 1 or len(stderr) != len(unique) + 1:
        return dict.fromkeys(unique, out)  # the command failed before or between the reads
    results: dict[Read, Output] = {}
    text = stdout[0]
    for read, after, errors in zip(unique, stdout[1:], stderr, strict=False):
        code, _, following = after.partition("\n")
        results[read] = Output(int(code) if code.isdigit() else 255, text, errors)
        text = following
    return results


@dataclass(frozen=True)
class FileState:
    sha256: str | None
    """None when the file does not exist."""
    mode: int | None
    owner: str | None
    group: str | None
    owner_id: str | None = None
    group_id: str | None = None

    def owned_by(self, owner: str, group: str) -> bool:
        """Whether `owner` and `group` (names, or numeric ids such as Harbor's 10000, which
        often has no name on the host) are the file's."""
        return owner in (self.owner, self.owner_id) and group in (self.group, self.group_id)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_state_read(path: PurePosixPath) -> Read:
    return Read.of(
        'if [ -f "$1" ]; then sha256sum < "$1" | cut -d" " -f1; '
        'stat -c "%a %U %G %u %g" -- "$1"; fi',
        path,
    )


def parse_file_state(out: Output) -> FileState:
    lines = out.stdout.split("\n")
    if not out.ok or len(lines) < 2 or not lines[0]:
        return FileState(None, None, None, None)
    mode, owner, group, owner_id, group_id = lines[1].split()
    return FileState(lines[0], int(mode, 8), owner, group, owner_id, group_id)


def file_state(connection: Connection, path: PurePosixPath) -> FileState:
    return parse_file_state(ask(connection, file_state_read(path)))


def sha256s_read(paths: Sequence[PurePosixPath]) -> Read:
    """The digests of `paths`, read as root (contents never leave the host); a missing file
    has no line (see `parse_sums`). The output says whether the reading worked."""
    return Read.of('for f in "$@"; do [ -f "$f" ] && sha256sum -- "$f"; done; true', *paths)


def sha256s(
    connection: Connection, paths: Sequence[PurePosixPath], *, timeout: float = COMMAND_TIMEOUT
) -> tuple[Output, dict[PurePosixPath, str | None]]:
    """The digests of `paths` in one round trip; a missing file maps to None."""
    out = ask(connection, sha256s_read(paths), timeout=timeout)
    return out, parse_sums(out.stdout, paths)


def parse_sums(text: str, paths: Sequence[PurePosixPath]) -> dict[PurePosixPath, str | None]:
    """`sha256sum` lines (`digest  path`); a path without a line is missing."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, name = line.strip().partition("  ")
        if len(digest) == 64 and name:
            found[name.strip()] = digest
    return {path: found.get(str(path)) for path in paths}


def file_read(path: PurePosixPath) -> Read:
    return Read.of('cat -- "$1"', path)


def read_file(connection: Connection, path: PurePosixPath) -> str | None:
    out = ask(connection, file_read(path))
    return out.stdout if out.ok else None


# $1 the uploaded temp file, $2 the temp file beside the target (the same when the login
# user is root), $3 the target, $4 mode, $5 owner, $6 group, $7 a validation script run
# with the temp file as its "$1" (empty: none). umask 077: nothing made here is readable
# by others before its final mode is set.
_FINISH = """umask 077
trap 'rm -f -- "$1" "$2"' EXIT
set -e
[ "$1" = "$2" ] || cp -- "$1" "$2"
chown -- "$5:$6" "$2"
chmod -- "$4" "$2"
[ -z "$7" ] || sh -c "$7" validate "$2"
mv -fT -- "$2" "$3"
"""


def write_file(
    connection: Connection,
    path: PurePosixPath,
    content: bytes | Path,
    *,
    mode: int,
    owner: str = "root",
    group: str = "root",
    validate: str = "",
) -> Output:
    """Atomically replace `path` with `content` (bytes, or a local file streamed).

    `validate` is a constant sh script checking the new file, named "$1" in it, before it
    replaces the live one (e.g. ``keepalived -t -f "$1"``).
    """
    root = connection.user == "root"
    name = f"{TEMP_MARK}{path.name}.XXXXXXXX"
    made = run(
        connection,
        'mkdir -p -- "$1" && umask 077 && mktemp -- "$1/$2"',
        path.parent,
        name,
        sudo=True,
    )
    if not made.ok:
        return made
    final_tmp = PurePosixPath(made.stdout.strip())
    upload = final_tmp
    if not root:  # the login user cannot write the target folder: upload to its /tmp
        mine = run(connection, 'umask 077 && mktemp -- "/tmp/$1"', name)
        if not mine.ok:
            run(connection, 'rm -f -- "$1"', final_tmp, sudo=True)
            return mine
        upload = PurePosixPath(mine.stdout.strip())
    try:
        _upload(connection, upload, content)
    except BaseException:
        run(connection, 'rm -f -- "$1" "$2"', upload, final_tmp, sudo=True)
        raise
    return run(
        connection, _FINISH, upload, final_tmp, path, f"{mode:o}", owner, group, validate,
        sudo=True,
    )  # fmt: skip


def _upload(connection: Connection, target: PurePosixPath, content: bytes | Path) -> None:
    """Fill the (existing, 0600) temp file over SFTP; a dead host raises ConnectionLost."""
    _alive(connection)
    round_trips.count(connection.host)
    try:
        sftp = connection.sftp()
        sftp.get_channel().settimeout(NO_ANSWER_SECONDS)
        with sftp.open(str(target), "r+b") as handle:
            handle.set_pipelined(True)
            if isinstance(content, Path):
                with content.open("rb") as source:
                    shutil.copyfileobj(source, handle, 1024 * 1024)
            else:
                handle.write(content)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        transport = connection.client.get_transport()
        if transport is None or not transport.is_active():
            raise connection_lost(connection) from None
        if isinstance(exc, TimeoutError):  # the SFTP channel's own limit
            raise ConnectionLost(
                connection.host, f"no answer for {NO_ANSWER_SECONDS} s ({SILENT})", silent=True
            ) from None
        raise
