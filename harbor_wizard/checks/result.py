"""What a check returns: a status, one line a person can act on, details, and its time."""

from __future__ import annotations

import enum
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ParamSpec

from harbor_wizard.redact import redact
from harbor_wizard.remote import ConnectionLost


class Status(enum.Enum):
    OK = "ok"
    """Proved against the real thing."""
    WARNING = "warning"
    """Works, but an operator should know (acknowledge to go on)."""
    ERROR = "error"
    """Would break the install: fix before anything is touched."""


@dataclass(frozen=True)
class CheckResult:
    check: str
    """Which probe, e.g. ``mariadb.login``."""
    target: str
    """What it looked at: a host name or a field path."""
    status: Status
    message: str
    details: tuple[str, ...] = ()
    seconds: float = 0.0
    field_path: str | None = None
    """The answers field the result is about, for the TUI to show it beside."""
    data: dict[str, str] = field(default_factory=dict)
    """Facts for later steps (versions, fingerprints); never secrets."""

    @property
    def failed(self) -> bool:
        return self.status is Status.ERROR

    @property
    def said(self) -> str:
        """The message without a leading "<target>: " (it names the host so that it reads
        on its own, as in the TUI; beside the target it would say it twice)."""
        prefix = f"{self.target}: "
        return self.message[len(prefix) :] if self.message.startswith(prefix) else self.message

    @property
    def line(self) -> str:
        """``target: message``, the target said once."""
        return f"{self.target}: {self.said}"


def _result(
    status: Status,
    check: str,
    target: str,
    message: str,
    *,
    details: tuple[str, ...] = (),
    seconds: float = 0.0,
    field_path: str | None = None,
    data: dict[str, str] | None = None,
) -> CheckResult:
    return CheckResult(check, target, status, message, details, seconds, field_path, data or {})


def ok(check: str, target: str, message: str, **extra: Any) -> CheckResult:
    return _result(Status.OK, check, target, message, **extra)


def warning(check: str, target: str, message: str, **extra: Any) -> CheckResult:
    return _result(Status.WARNING, check, target, message, **extra)


def error(check: str, target: str, message: str, **extra: Any) -> CheckResult:
    return _result(Status.ERROR, check, target, message, **extra)


P = ParamSpec("P")
Probe = Callable[P, list[CheckResult]]


def probe(name: str, target_arg: int | str = 0) -> Callable[[Probe[P]], Probe[P]]:
    """Time a probe, redact its words, and turn any exception into an error result.

    Why: a check must never take the caller down (the TUI runs them in workers, the
    installer all at once), and its message must never carry a secret.
    """

    def decorate(function: Probe[P]) -> Probe[P]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> list[CheckResult]:
            start = time.monotonic()
            try:
                results = function(*args, **kwargs)
            except Exception as exc:  # the contract: no exception escapes a check
                target = kwargs.get(str(target_arg)) if isinstance(target_arg, str) else None
                if target is None and isinstance(target_arg, int) and len(args) > target_arg:
                    target = getattr(args[target_arg], "name", args[target_arg])
                where = str(target or "?")
                why = (
                    f"{where} ({exc.address}): {exc.reason}"
                    if isinstance(exc, ConnectionLost)
                    else f"{name} failed: {type(exc).__name__}: {exc}"
                )
                results = [error(name, where, why)]
            seconds = time.monotonic() - start
            return [
                replace(
                    result,
                    message=redact(result.message),
                    details=tuple(redact(d) for d in result.details),
                    seconds=result.seconds or seconds,
                )
                for result in results
            ]

        return wrapper

    return decorate
