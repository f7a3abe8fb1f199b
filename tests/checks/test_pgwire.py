"""The hand-spoken PostgreSQL start-up: the bytes sent, the answers read, the time bound.

The real servers' answers (md5, SCRAM, cleartext, trust) are shown in the lab
(test_clair_auth_lab.py); here the exact wire format from the protocol documentation and a
listener that never answers.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from harbor_wizard.checks import pgwire


def test_startup_message_is_protocol_3_with_user_and_database() -> None:
    message = pgwire.startup_message("clair", "clair")
    body = b"\x00\x03\x00\x00user\x00clair\x00database\x00clair\x00\x00"
    assert message == struct.pack("!I", len(body) + 4) + body


@pytest.mark.parametrize(
    ("body", "method", "name", "harbor"),
    [
        (b"\0\0\0\0", "trust", "no password (trust)", True),
        (b"\0\0\0\x03", "password", "a cleartext password", True),
        (b"\0\0\0\x05salt", "md5", "an MD5 password", True),
        (b"\0\0\0\x0aSCRAM-SHA-256\0\0", "scram-sha-256", "SCRAM-SHA-256", False),
        (
            b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0",
            "scram-sha-256",
            "SCRAM-SHA-256",
            False,
        ),
        (b"\0\0\0\x07", "code 7", "GSSAPI", False),
    ],
)
def test_authentication_requests(body: bytes, method: str, name: str, harbor: bool) -> None:
    asked = pgwire.parse(b"R", body)
    assert isinstance(asked, pgwire.AuthRequest)
    assert (asked.method, asked.name, asked.harbor_speaks) == (method, name, harbor)


def test_error_response_gives_sqlstate_and_message() -> None:
    body = b"SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host\0\0"
    assert pgwire.parse(b"E", body) == pgwire.Refusal("28000", "no pg_hba.conf entry for host")


def test_not_postgres_is_said() -> None:
    with pytest.raises(pgwire.Unreachable, match="not PostgreSQL"):
        pgwire.parse(b"H", b"TTP/1.1 400")


def test_a_listener_that_never_answers_is_silent_within_the_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # the kernel completes the handshake; nobody ever reads or writes
        start = time.monotonic()
        with pytest.raises(pgwire.Unreachable) as raised:
            pgwire.ask("127.0.0.1", server.getsockname()[1], "postgres", "postgres", 1.0)
        took = time.monotonic() - start
    assert raised.value.silent
    assert took < 2.0


def test_a_closed_port_is_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(pgwire.Unreachable, match="connection refused"):
        pgwire.ask("127.0.0.1", port, "postgres", "postgres", 1.0)
