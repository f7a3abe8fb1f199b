"""The one way to open SSH to a host: fabric, with host keys verified.

Why: fabric's Connection accepts any host key (AutoAddPolicy, no known_hosts), and this
tool sends database and Redis passwords over these connections. Every SSH session of the
wizard (checks, installer, TUI) is opened here: known keys must match, a changed key is
refused showing both fingerprints, and an unknown key is refused showing its fingerprint
unless the operator accepted exactly that fingerprint.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko
from fabric import Config, Connection

from harbor_wizard.answers import Answers
from harbor_wizard.certs import resolve_path

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

# paramiko logs a failed handshake with a traceback; without a handler of its own, Python
# would print that on stderr, over the live view, unredacted.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

CONNECT_TIMEOUT = 8.0
SILENT = "the host is down, or a network or firewall change drops its packets"
"""What "no answer" means, said once for every message that reports it."""
KEEPALIVE_SECONDS = 5
"""An SSH keepalive after this much quiet, so that there is always data awaiting an ACK."""
USER_TIMEOUT_SECONDS = 15
"""TCP_USER_TIMEOUT: data unacknowledged this long means the host is gone (Linux)."""
NO_ANSWER_SECONDS = KEEPALIVE_SECONDS + USER_TIMEOUT_SECONDS
"""The longest a silent host (power loss, partition, firewall) goes unnoticed.

Why both: a host whose packets are dropped neither answers nor resets, and TCP would
retransmit for 15+ minutes. The keepalive puts data on the wire within 5 s of silence, and
the kernel gives up on it 15 s later; paramiko's transport then fails with ETIMEDOUT and
every command, transfer and waiter on the connection learns it at once.
"""


@dataclass(frozen=True)
class SshTarget:
    name: str
    address: str
    user: str
    port: int
    identity_file: Path | None
    known_hosts: Path

    @property
    def known_hosts_name(self) -> str:
        """How OpenSSH names this host in known_hosts."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"


def targets(answers: Answers, base_dir: Path) -> list[SshTarget]:
    """Every host the wizard manages, LBs first, as SSH targets."""
    ssh = answers.ssh
    identity = resolve_path(ssh.identity_file, base_dir) if ssh.identity_file else None
    known = resolve_path(ssh.known_hosts, base_dir)
    return [
        SshTarget(name, address, ssh.user, ssh.port, identity, known)
        for name, address in answers.hosts()
    ]


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's form: SHA256:base64 without padding."""
    return str(key.fingerprint)


class HostKeyError(Exception):
    """A host key that is not trusted; the message shows the fingerprints."""

    def __init__(self, message: str, offered: str, known: str | None = None) -> None:
        super().__init__(message)
        self.offered = offered
        self.known = known


class UnknownHostKey(HostKeyError):
    key: paramiko.PKey


class _Policy(paramiko.MissingHostKeyPolicy):
    """Unknown keys are refused unless their fingerprint was accepted by the operator."""

    def __init__(self, target: SshTarget, accepted: frozenset[str]) -> None:
        self.target = target
        self.accepted = accepted

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        offered = fingerprint(key)
        if offered in self.accepted:
            remember_host_key(self.target, key)
            return
        error = UnknownHostKey(
            f"{self.target.name} ({self.target.address}) offers an unknown {key.get_name()} "
            f"host key {offered}; accept it only if that is the host's real key",
            offered,
        )
        error.key = key
        raise error


def remember_host_key(target: SshTarget, key: paramiko.PKey) -> None:
    """Add an accepted key to the known_hosts file (created 0600 if missing)."""
    target.known_hosts.parent.mkdir(parents=True, exist_ok=True)
    line = f"{target.known_hosts_name} {key.get_name()} {key.get_base64()}\n"
    existing = target.known_hosts.read_text() if target.known_hosts.exists() else ""
    if line not in existing:
        with target.known_hosts.open("a") as handle:
            if existing and not existing.endswith("\n"):
                handle.write("\n")
            handle.write(line)
        target.known_hosts.chmod(0o600)


def connect(
    target: SshTarget,
    *,
    accepted_fingerprints: Iterable[str] = (),
    timeout: float = CONNECT_TIMEOUT,
) -> Connection:
    """An open fabric Connection whose host key was verified.

    Raises HostKeyError (unknown or changed key), paramiko.AuthenticationException (the
    key was refused), or OSError / socket.timeout / paramiko.SSHException (no answer).
    """
    config = Config(
        overrides={
            # Never mirror our stdin to the host; never print remote output ourselves.
            "run": {"in_stream": False, "hide": True, "warn": True},
            "load_ssh_configs": False,
            "timeouts": {"connect": timeout},
        }
    )
    connect_kwargs: dict[str, object] = {
        "banner_timeout": timeout,
        "auth_timeout": timeout,
        "look_for_keys": False,
        "allow_agent": target.identity_file is None,
    }
    if target.identity_file is not None:
        connect_kwargs["key_filename"] = str(target.identity_file)
    connection = Connection(
        host=target.address,
        user=target.user,
        port=target.port,
        config=config,
        connect_timeout=timeout,
        connect_kwargs=connect_kwargs,
        inline_ssh_env=True,
    )
    client: paramiko.SSHClient = connection.client
    if target.known_hosts.exists():
        client.load_host_keys(str(target.known_hosts))
    client.set_missing_host_key_policy(_Policy(target, frozenset(accepted_fingerprints)))
    sock = dead_peer_socket(target.address, target.port, timeout)
    connection.connect_kwargs["sock"] = sock
    try:
        connection.open()
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(KEEPALIVE_SECONDS)
    except paramiko.BadHostKeyException as error:
        connection.close()
        sock.close()
        raise HostKeyError(
            f"{target.name} ({target.address}) host key CHANGED: it offers "
            f"{fingerprint(error.key)}, known_hosts has {fingerprint(error.expected_key)}; "
            "refused (a re-installed host, or someone in between)",
            fingerprint(error.key),
            fingerprint(error.expected_key),
        ) from None
    except (paramiko.SSHException, EOFError) as error:
        connection.close()
        sock.close()
        quiet = time.monotonic() - sock.heard_at
        if quiet >= timeout / 2:  # the handshake waited on silence: it timed out
            raise TimeoutError(f"no answer for {quiet:.0f} s during the SSH handshake") from error
        raise
    except BaseException:
        connection.close()
        sock.close()
        raise
    return connection


class DeadPeerSocket(socket.socket):
    """A TCP socket that gives up on a silent peer (see NO_ANSWER_SECONDS) and remembers
    that it did.

    Why remember: the kernel reports it as ETIMEDOUT, which Python raises as TimeoutError,
    which paramiko takes for its own 0.1 s poll time-out and ignores; its transport then
    ends later on a bare EOF that no longer says why. Raising EOFError here ends the
    transport at once, and `silent` lets the message say "no answer".
    """

    silent = False
    heard_at = 0.0
    """When the peer last sent a byte (or the socket connected): a handshake that fails
    after a long silence timed out, whatever paramiko calls it (banner, negotiation or
    authentication time-out)."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        try:
            data = super().recv(bufsize, flags)
        except OSError as exc:
            raise self._gone(exc) from None
        if data:
            self.heard_at = time.monotonic()
        return data

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        try:
            return super().send(data, flags)
        except OSError as exc:
            raise self._gone(exc) from None

    def _gone(self, exc: OSError) -> Exception:
        if exc.errno == errno.ETIMEDOUT:
            self.silent = True
            return EOFError(f"no answer for {NO_ANSWER_SECONDS} s")
        return exc


def dead_peer_socket(address: str, port: int, timeout: float) -> DeadPeerSocket:
    """A connected TCP socket that fails once the peer stops answering (see
    NO_ANSWER_SECONDS); the connect itself is bounded by `timeout`."""
    plain = socket.create_connection((address, port), timeout=timeout)
    sock = DeadPeerSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
    sock.heard_at = time.monotonic()
    sock.settimeout(timeout)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_SECONDS * 1000)
    # SSH sends small packets and waits for the answer: with Nagle's algorithm each of our
    # commands waits out the host's delayed ACK (40 ms on Linux), ten times the command
    # itself. OpenSSH sets this too.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def tcp_reachable(address: str, port: int, timeout: float) -> str | None:
    """None when a TCP connection opens, else why not, in a few words."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:.0f} s"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as error:
        return error.strerror or str(error)
