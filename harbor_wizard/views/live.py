"""Live checks from the TUI: the probes it may call, and how they run off the event loop.

Why daemon threads under async workers: a probe blocks (sockets, SSH) and a thread cannot
be interrupted. Textual's thread workers run in the loop's executor, which the app waits
for on exit, so quitting during a check would hang for the probe's whole timeout. Here an
async worker (cancelled at once by a newer value or by quitting) awaits a daemon thread
that nobody waits for: a superseded result is simply never delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the start screen must not wait for pydantic, fabric and the drivers
    from pydantic import SecretStr

    from harbor_wizard.answers.model import Answers, ClairDatabase, Database, Redis, Storage
    from harbor_wizard.checks.result import CheckResult
    from harbor_wizard.checks.vip import Holder

T = TypeVar("T")

TIMEOUT = 3.0
"""Seconds for each connection of a live check: an answer, or a plain error, quickly."""

DEBOUNCE = 0.4
"""Seconds a value must stay unchanged before its live check starts."""


def _vip(address: ipaddress.IPv4Address) -> list[CheckResult]:
    from harbor_wizard.checks import vip

    return vip.check(address, timeout=1.0)


def _vip_holder(answers: Answers, base_dir: Path, accepted: frozenset[str]) -> Holder | None:
    from harbor_wizard.views.host_checks import vip_holder

    return vip_holder(answers, base_dir, accepted, TIMEOUT)


def _installer(path: Path, version: str) -> list[CheckResult]:
    from harbor_wizard.checks import installer

    return installer.check(path, version)


def _then_ha(
    results: list[CheckResult], ha_check: Callable[[], list[CheckResult]]
) -> list[CheckResult]:
    """A service's login check, then (once it got in) its HA check, as ``check`` runs both:
    a server that refused us would only add "cannot tell" to the login's error."""
    from harbor_wizard.checks.result import Status

    if any(result.status is Status.ERROR for result in results):
        return results
    return results + ha_check()


def _mariadb(database: Database, password: SecretStr) -> list[CheckResult]:
    from harbor_wizard.checks import ha, mariadb

    return _then_ha(
        mariadb.check(database, password, TIMEOUT),
        lambda: ha.mariadb_ha(database, password, TIMEOUT),
    )


def _postgres(clair: ClairDatabase, password: SecretStr) -> list[CheckResult]:
    from harbor_wizard.checks import ha, postgres

    return _then_ha(
        postgres.check(clair, password, TIMEOUT), lambda: ha.postgres_ha(clair, password, TIMEOUT)
    )


def _redis(endpoint: str) -> list[CheckResult]:
    from harbor_wizard.checks import ha, redis

    return _then_ha(
        redis.check(endpoint, None, TIMEOUT), lambda: ha.redis_ha(endpoint, None, TIMEOUT)
    )


def _harbor_db(database: Database, password: SecretStr) -> list[CheckResult]:
    """Harbor 2.x's PostgreSQL, as the preflight asks it (``checks.services``)."""
    from harbor_wizard.checks import harbor_db

    return harbor_db.harbor_database_checks(
        database.host, database.port, database.user, password,
        database.database or "registry", database.ssl_mode or "disable", TIMEOUT,
    )  # fmt: skip


def _redis_2x(redis: Redis, password: SecretStr | None) -> list[CheckResult]:
    """Redis as Harbor 2.x meets it (AUTH, Sentinels, indexes), as the preflight asks it."""
    from harbor_wizard.answers.rules import REDIS_DB_INDEXES
    from harbor_wizard.checks import redis as redis_check

    indexes = {key: getattr(redis, key) or default for key, default in REDIS_DB_INDEXES.items()}
    return redis_check.redis_checks_2x(
        list(redis.endpoints), password, None, redis.sentinel_master_set, indexes, TIMEOUT
    )


def _storage(storage: Storage) -> list[CheckResult]:
    from harbor_wizard.checks import storage as storage_check

    return storage_check.check(storage, TIMEOUT)


def _tls(answers: Answers, base_dir: Path, passphrase: str | None) -> list[CheckResult]:
    from harbor_wizard.checks import tls

    return tls.check(answers, base_dir, passphrase)


def _hosts(
    answers: Answers, base_dir: Path, accepted: frozenset[str], only: frozenset[str] | None
) -> list[CheckResult]:
    from harbor_wizard.views.host_checks import host_results

    return host_results(answers, base_dir, accepted, TIMEOUT, only)


def _shared(answers: Answers, base_dir: Path, accepted: frozenset[str]) -> list[CheckResult]:
    from harbor_wizard.views.host_checks import shared_storage

    return shared_storage(answers, base_dir, accepted, TIMEOUT)


@dataclass
class Probes:
    """The checks the screens call; a test may swap one for a gated stand-in (the seam)."""

    vip: Callable[[ipaddress.IPv4Address], list[CheckResult]] = _vip
    vip_holder: Callable[[Answers, Path, frozenset[str]], Holder | None] = _vip_holder
    installer: Callable[[Path, str], list[CheckResult]] = _installer
    mariadb: Callable[[Database, SecretStr], list[CheckResult]] = _mariadb
    postgres: Callable[[ClairDatabase, SecretStr], list[CheckResult]] = _postgres
    redis: Callable[[str], list[CheckResult]] = _redis
    harbor_db: Callable[[Database, SecretStr], list[CheckResult]] = _harbor_db
    redis_2x: Callable[[Redis, SecretStr | None], list[CheckResult]] = _redis_2x
    storage: Callable[[Storage], list[CheckResult]] = _storage
    tls: Callable[[Answers, Path, str | None], list[CheckResult]] = _tls
    hosts: Callable[[Answers, Path, frozenset[str], frozenset[str] | None], list[CheckResult]] = (
        _hosts
    )
    shared: Callable[[Answers, Path, frozenset[str]], list[CheckResult]] = _shared


def vip_check(
    probes: Probes,
    address: ipaddress.IPv4Address,
    answers: Answers | None,
    base_dir: Path,
    accepted: frozenset[str],
    saved: Path | None = None,
) -> list[CheckResult]:
    """The VIP as the preflight judges it: free, or in use by this deployment's own LB
    (``checks.vip.owned``, a re-run or a change of an installed deployment).

    Whose it is needs the LBs and SSH settings (later screens): the draft's once it is
    valid; while it is not (a node being added), those of the `saved` answers file, i.e.
    of the deployment as installed. A new draft, not valid yet, only learns it is in use."""
    from harbor_wizard.checks.result import Status

    results = probes.vip(address)
    if not any(r.status is Status.ERROR for r in results):
        return results
    if answers is None and saved is not None:
        answers = _saved_answers(saved, address)
    if answers is None or answers.load_balancer.mode == "external":
        return results
    from harbor_wizard.checks import vip

    return vip.owned(results, probes.vip_holder(answers, base_dir, accepted))


def _saved_answers(path: Path, address: ipaddress.IPv4Address) -> Answers | None:
    """The answers file on disk, asked about `address`; None when it does not load."""
    from harbor_wizard.answers import InvalidInput, load

    try:
        return load(path).answers.model_copy(update={"vip": address})
    except (InvalidInput, OSError):
        return None


async def in_daemon_thread(function: Callable[[], T]) -> T:
    """Run `function` in a daemon thread and await its result without blocking the loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting worker
            error = exc
        # RuntimeError: the app has gone, and nobody waits for this result.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, result, error)

    threading.Thread(target=target, daemon=True, name="harbor-wizard-check").start()
    return await future


def merged(said: Iterable[tuple[str, str]]) -> list[str]:
    """(target, message) pairs as lines, a message said of several targets once, naming
    them all: "harbor01, harbor02: /data/job_logs does not exist ..." (one line per node
    would repeat a paragraph). A message that does not start with its target stays whole."""
    targets: dict[str, list[str]] = {}
    for target, message in said:
        prefix = f"{target}: "
        if message.startswith(prefix):
            targets.setdefault(message.removeprefix(prefix), []).append(target)
        else:
            targets.setdefault(message, [])
    return [f"{', '.join(names)}: {text}" if names else text for text, names in targets.items()]


def worst(results: list[CheckResult]) -> CheckResult | None:
    """The result to show in one line: the first error, else the first warning, else ok."""
    from harbor_wizard.checks.result import Status

    for status in (Status.ERROR, Status.WARNING, Status.OK):
        for result in results:
            if result.status is status:
                return result
    return None
