"""Drive a terminal program in tmux, as an operator would: keys in, visible text out.

Standard library only. Each Terminal has its own tmux server (private socket and config in
a temp folder), so tests never touch the user's tmux and run side by side under xdist.
Waiting is always for visible text, never fixed sleeps (see shared/research/tui-terminal.md).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

CONFIG = "set -g status off\nset -g remain-on-exit on\nset -g history-limit 2000\n"


class AppExited(AssertionError):
    """The program ended while a test waited for something else on screen."""


class Terminal:
    def __init__(
        self,
        command: Sequence[str],
        *,
        width: int = 80,
        height: int = 24,
        env: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        cwd: Path | None = None,
        term: str = "xterm-256color",
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hw-tmux-"))
        self.socket = self.dir / "socket"
        self.name = f"hw{uuid.uuid4().hex[:8]}"
        (self.dir / "tmux.conf").write_text(CONFIG)
        assignments = [f"{k}={v}" for k, v in {"TERM": term, **(env or {})}.items()]
        wrapped = " ".join(_quote(part) for part in command)
        script = f'cd {_quote(str(cwd or Path.cwd()))} && {wrapped}; echo "[exit $?]"'
        # COLUMNS/LINES of the caller would override the pane's real size (Textual reads them).
        unset = [*unset, "COLUMNS", "LINES"]
        argv = ["env", *[f"-u{name}" for name in unset], *assignments, "sh", "-c", script]
        self._tmux(
            "-f", str(self.dir / "tmux.conf"), "new-session", "-d", "-s", self.name,
            "-x", str(width), "-y", str(height), "--", *argv,
        )  # fmt: skip
        self._tmux("set-window-option", "-t", self.name, "window-size", "manual")
        self._tmux("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))
        self._stopped = False
        atexit.register(self.stop)

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return result.stdout

    # -- what is on screen ------------------------------------------------------------
    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def info(self, fmt: str) -> str:
        return self._tmux("display-message", "-p", "-t", self.name, fmt).strip()

    def history(self, *, joined: bool = False) -> str:
        """The screen and the lines scrolled above it (tmux's "Pane is dead" scrolls one);
        `joined`: lines the terminal wrapped are given whole (a long message after exit)."""
        join = ["-J"] if joined else []
        return self._tmux("capture-pane", "-p", *join, "-S", "-50", "-t", self.name)

    def exit_status(self) -> int | None:
        found = re.search(r"\[exit (\d+)\]", self.history())
        return int(found.group(1)) if found else None

    @property
    def alternate_screen(self) -> bool:
        return self.info("#{alternate_on}") == "1"

    def app_pid(self) -> int | None:
        """The program's process: the child of the pane's shell."""
        shell = int(self.info("#{pane_pid}"))
        children = Path(f"/proc/{shell}/task/{shell}/children")
        try:
            pids = children.read_text().split()
        except OSError:
            return None
        return int(pids[0]) if pids else None

    def wait_for(self, pattern: str, timeout: float = 20.0, *, exit_ok: bool = False) -> str:
        """Wait until `pattern` (a regex, DOTALL) is on screen; return the screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.history() if exit_ok else self.screen()
            if re.search(pattern, screen, re.S):
                return screen
            if not exit_ok and self.exit_status() is not None:
                raise AppExited(f"exited while waiting for {pattern!r}:\n{screen}")
            time.sleep(0.02)
        raise TimeoutError(f"{pattern!r} not on screen after {timeout}s:\n{screen}")

    # -- keys -------------------------------------------------------------------------
    def type(self, text: str) -> None:
        """Literal text in one write: Tab and the characters after it arrive together."""
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def press(self, *keys: str) -> None:
        """Named keys (Tab, BTab, Enter, F2, C-q, Right, ...)."""
        self._tmux("send-keys", "-t", self.name, *keys)

    # -- cleanup ----------------------------------------------------------------------
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        pids = _descendants(self.info("#{pane_pid}")) if self.socket.exists() else []
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True)
        for pid in pids:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
        shutil.rmtree(self.dir, ignore_errors=True)
        atexit.unregister(self.stop)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _descendants(pid_text: str) -> list[int]:
    try:
        found, todo = [], [int(pid_text)]
    except ValueError:
        return []
    while todo:
        pid = todo.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            todo += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return found


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
