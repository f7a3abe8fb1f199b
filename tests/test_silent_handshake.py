"""A host that answers the TCP connect and its SSH banner, then goes silent (a partition
in the middle of the handshake): the connect is reported as "no answer", not as whatever
paramiko's time-out of the moment is called (banner, negotiation, authentication)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harbor_wizard.connection import SshTarget, connect


@pytest.fixture
def banner_then_silence() -> Iterator[int]:
    """A peer that sends an OpenSSH banner, then reads and never answers again."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        peer, _ = server.accept()
        with peer:
            peer.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
            peer.settimeout(0.2)
            while not stop.is_set():
                try:
                    if not peer.recv(65536):
                        return
                except TimeoutError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


def test_silence_after_the_banner_is_no_answer(banner_then_silence: int, tmp_path: Path) -> None:
    target = SshTarget("silent", "127.0.0.1", "root", banner_then_silence, None,
                       tmp_path / "known_hosts")  # fmt: skip
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"no answer for .* during the SSH handshake"):
        connect(target, timeout=2)
    assert time.monotonic() - started < 10
