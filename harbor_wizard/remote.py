"""Commands and files on one host, over its one fabric connection.

Why one wrapper: every remote action needs the same guarantees. Commands run under
``sh -c`` with a time limit, as root through ``sudo -n`` when the login user is not root
(a password prompt can never hang a run), never mirror our stdin, and stream their
output line by line to whoever listens. Files are written atomically: uploaded to a temp
file in the target directory with their final mode, optionally validated there, then
renamed; secrets travel inside files over SFTP, never on a command line or in an
environment.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fabric import Connection
from invoke.exceptions import CommandTimedOut

from harbor_wizard.redact import redact

COMMAND_TIMEOUT = 120.0
TEMP_MARK = ".harbor-wizard-tmp-"
"""Every temp file the wizard makes on a host carries this in its name."""


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


class _LineStream(io.StringIO):
    """A file-like that hands each complete line to a callback (invoke writes chunks)."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        super().__init__()
        self._on_line = on_line
        self._partial = ""

    def write(self, chunk: str) -> int:
        text = self._partial + chunk
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._on_line(redact(line.rstrip("\r")))
        return len(chunk)

    def flush(self) -> None:
        if self._partial:
            self._on_line(redact(self._partial))
            self._partial = ""


def run(
    connection: Connection,
    command: str,
    *,
    sudo: bool = False,
    timeout: float = COMMAND_TIMEOUT,
    on_line: Callable[[str], None] | None = None,
    stdin: str | None = None,
) -> Output:
    """Run `command` with sh on the host; root via `sudo -n` when needed. Never raises
    for a failing command: its exit code is in the result (124 for a time-out)."""
    wrapped = f"sh -c {shlex.quote(command)}"
    if sudo and connection.user != "root":
        wrapped = f"sudo -n {wrapped}"
    streams: dict[str, object] = {"hide": True}
    if on_line is not None:
        out, err = _LineStream(on_line), _LineStream(on_line)
        streams = {"hide": False, "out_stream": out, "err_stream": err}
    try:
        result = connection.run(
            wrapped,
            warn=True,
            pty=False,
            timeout=timeout,
            in_stream=io.StringIO(stdin) if stdin is not None else False,
            **streams,
        )
    except CommandTimedOut as exc:
        return Output(124, "", f"timed out after {timeout:.0f} s: {exc.result.stderr[-500:]}")
    finally:
        if on_line is not None:
            out.flush()
            err.flush()
    return Output(result.exited, result.stdout, result.stderr)


@dataclass(frozen=True)
class FileState:
    sha256: str | None
    """None when the file does not exist."""
    mode: int | None
    owner: str | None
    group: str | None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_state(connection: Connection, path: PurePosixPath) -> FileState:
    quoted = shlex.quote(str(path))
    out = run(
        connection,
        f"if [ -f {quoted} ]; then sha256sum {quoted} | cut -d' ' -f1; "
        f"stat -c '%a %U %G' {quoted}; fi",
        sudo=True,
    )
    lines = out.stdout.split("\n")
    if not out.ok or len(lines) < 2 or not lines[0]:
        return FileState(None, None, None, None)
    mode, owner, group = lines[1].split()
    return FileState(lines[0], int(mode, 8), owner, group)


def read_file(connection: Connection, path: PurePosixPath) -> str | None:
    out = run(connection, f"cat {shlex.quote(str(path))}", sudo=True)
    return out.stdout if out.ok else None


def write_file(
    connection: Connection,
    path: PurePosixPath,
    content: bytes | Path,
    *,
    mode: int,
    owner: str = "root",
    group: str = "root",
    validate: str | None = None,
) -> Output:
    """Atomically replace `path` with `content` (bytes, or a local file streamed): a temp
    file in its directory, mode and owner set, `validate` (a command with `{}` for the temp
    path) run on it, then rename.

    The upload itself goes to a temp file the login user can write (0600 from the start,
    so a secret is never world-readable even for a moment).
    """
    token = secrets.token_hex(6)
    directory = path.parent
    final_tmp = directory / f"{TEMP_MARK}{path.name}.{token}"
    upload = (
        final_tmp
        if connection.user == "root"
        else PurePosixPath(f"/tmp/{TEMP_MARK}{path.name}.{token}")
    )
    mkdir = run(connection, f"mkdir -p {shlex.quote(str(directory))}", sudo=True)
    if not mkdir.ok:
        return mkdir
    sftp = connection.sftp()
    with sftp.open(str(upload), "wb") as handle:
        handle.chmod(0o600)
        handle.set_pipelined(True)
        if isinstance(content, Path):
            with content.open("rb") as source:
                shutil.copyfileobj(source, handle, 1024 * 1024)
        else:
            handle.write(content)
    q = shlex.quote
    src, tmp = q(str(upload)), q(str(final_tmp))
    script = [f"trap 'rm -f {src} {tmp}' EXIT"]
    if upload != final_tmp:
        script.append(f"install -m {mode:o} -o {q(owner)} -g {q(group)} {src} {tmp}")
    else:
        script.append(f"chown {q(owner)}:{q(group)} {tmp} && chmod {mode:o} {tmp}")
    if validate is not None:
        script.append(validate.replace("{}", q(str(final_tmp))))
    script.append(f"mv -f {tmp} {q(str(path))}")
    return run(connection, _joined(script), sudo=True)


def _joined(script: list[str]) -> str:
    """The trap first, then every step chained: the first failure stops the rest."""
    return script[0] + "; " + " && ".join(script[1:])
