"""The PostgreSQL start-up exchange, spoken by hand: which authentication a server asks of a
user, exactly as Harbor 1.4's own driver meets it.

Why not libpq: it speaks SCRAM, so a libpq login proves nothing about Harbor 1.4's vendored
`lib/pq`, whose `auth()` knows AuthenticationOk (0), cleartext (3) and MD5 (5) only. Harbor's
DSNs say `sslmode=disable`, so, like lib/pq then, no SSLRequest is sent: the StartupMessage
(protocol 3.0) goes in the clear and the first answer is read. Nothing is logged in: the
socket is closed as soon as the server has said what it wants (a client hanging up at the
password prompt is routine for PostgreSQL: psql does it, and the server logs nothing).

Every wait is bounded by one deadline: a silent host answers `Unreachable`, never a hang.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, replace

PROTOCOL_3_0 = 196608
"""(3 << 16) | 0: what lib/pq sends."""
MAX_MESSAGE = 64 * 1024
"""A start-up answer is a few bytes (a SASL list, an error text); more is not PostgreSQL."""

OK, CLEARTEXT, MD5, SASL = 0, 3, 5, 10
HARBOR_SPEAKS = frozenset({OK, CLEARTEXT, MD5})
"""Harbor 1.4's lib/pq `auth()`: anything else ends in "unknown authentication response"."""
NAMES = {
    OK: "no password (trust)",
    2: "Kerberos V5",
    CLEARTEXT: "a cleartext password",
    MD5: "an MD5 password",
    6: "SCM credentials",
    7: "GSSAPI",
    9: "SSPI",
    SASL: "SASL",
}


@dataclass(frozen=True)
class AuthRequest:
    """The server's AuthenticationRequest: its code and, for SASL, the mechanisms offered."""

    code: int
    mechanisms: tuple[str, ...] = ()
    source: str = ""
    """Our address as the server saw it: pg_hba.conf chooses the method by it."""

    @property
    def harbor_speaks(self) -> bool:
        return self.code in HARBOR_SPEAKS

    @property
    def method(self) -> str:
        """A short name for data and tests: trust, password, md5, scram-sha-256, ..."""
        if self.code == SASL:
            return "scram-sha-256" if "SCRAM-SHA-256" in self.mechanisms else "sasl"
        return {OK: "trust", CLEARTEXT: "password", MD5: "md5"}.get(self.code, f"code {self.code}")

    @property
    def name(self) -> str:
        """What an operator reads: 'an MD5 password', 'SCRAM-SHA-256', ..."""
        if self.code == SASL:
            if "SCRAM-SHA-256" in self.mechanisms:
                return "SCRAM-SHA-256"
            return f"SASL ({', '.join(self.mechanisms) or 'no mechanism named'})"
        return NAMES.get(self.code, f"authentication code {self.code}")


@dataclass(frozen=True)
class Refusal:
    """An ErrorResponse instead of an authentication request (no pg_hba.conf line, too many
    connections, the server starting up): its SQLSTATE and primary message."""

    sqlstate: str
    message: str
    source: str = ""


class Unreachable(Exception):
    """No start-up answer: refused, silent, or the connection closed. `reason` is one line."""

    def __init__(self, reason: str, *, silent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.silent = silent


def startup_message(user: str, database: str) -> bytes:
    """The StartupMessage: length, protocol 3.0, then NUL-terminated name/value pairs."""
    pairs = b"".join(
        key.encode() + b"\0" + value.encode() + b"\0"
        for key, value in (("user", user), ("database", database))
    )
    body = struct.pack("!I", PROTOCOL_3_0) + pairs + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def parse(kind: bytes, body: bytes) -> AuthRequest | Refusal | None:
    """One backend message of the start-up phase; None for one to skip (a notice)."""
    if kind == b"R":
        if len(body) < 4:
            raise Unreachable("sent a truncated authentication request")
        (code,) = struct.unpack("!I", body[:4])
        mechanisms: tuple[str, ...] = ()
        if code == SASL:
            mechanisms = tuple(m.decode(errors="replace") for m in body[4:].split(b"\0") if m)
        return AuthRequest(code, mechanisms)
    if kind == b"E":
        fields = {part[:1]: part[1:].decode(errors="replace") for part in body.split(b"\0") if part}
        return Refusal(fields.get(b"C", ""), fields.get(b"M", "refused the connection"))
    if kind == b"N":
        return None
    raise Unreachable(f"answered {kind!r}, not PostgreSQL's start-up protocol")


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline

    def exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise Unreachable("closed the connection during the start-up exchange")
            data += chunk
        return data


def _connect(host: str, port: int, deadline: float) -> socket.socket:
    """A TCP connection within the one deadline: the name's addresses are tried in turn,
    each with the time left (socket.create_connection gives each the whole time-out).
    The name is looked up first; a resolver that hangs is bounded by its own time-outs."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = TimeoutError()
    for family, kind, proto, _, address in addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


def ask(host: str, port: int, user: str, database: str, timeout: float) -> AuthRequest | Refusal:
    """Open a connection, send the StartupMessage, return the server's first real answer.

    Raises `Unreachable` when there is none within `timeout` seconds in all.
    """
    deadline = time.monotonic() + timeout
    try:
        with _connect(host, port, deadline) as sock:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            sock.sendall(startup_message(user, database))
            reader = _Reader(sock, deadline)
            while True:
                kind = reader.exactly(1)
                (length,) = struct.unpack("!I", reader.exactly(4))
                if not 4 <= length <= MAX_MESSAGE:
                    raise Unreachable(f"answered a {length}-byte message: not PostgreSQL")
                answer = parse(kind, reader.exactly(length - 4))
                if answer is not None:
                    return replace(answer, source=str(sock.getsockname()[0]))
    except TimeoutError as exc:  # socket.timeout is TimeoutError
        raise Unreachable(f"no answer for {timeout:g} s", silent=True) from exc
    except ConnectionRefusedError as exc:
        raise Unreachable("connection refused") from exc
    except ConnectionResetError as exc:
        raise Unreachable("reset the connection during the start-up exchange") from exc
    except OSError as exc:
        raise Unreachable(exc.strerror or str(exc)) from exc
