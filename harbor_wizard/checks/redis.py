"""Redis: PING, the server version, and whether it wants a password Harbor 1.4 cannot send;
for Harbor 2.x (`redis_checks_2x`) the password, Sentinel, the role and the database indexes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import redis as redis_client
from pydantic import SecretStr
from redis.backoff import NoBackoff
from redis.retry import Retry

from harbor_wizard.checks.mariadb import silent
from harbor_wizard.checks.result import CheckResult, Status, error, ok, probe, warning


def connect(endpoint: str, password: SecretStr | None, timeout: float) -> redis_client.Redis:
    """A client that tries once, with `timeout` for the connection and for every answer:
    redis-py retries with back-off by default, which would stretch a check's time limit
    several times over on a silent address, and waits for ever for an answer."""
    host, _, port = endpoint.rpartition(":")
    return redis_client.Redis(
        host=host,
        port=int(port),
        password=password.get_secret_value() if password else None,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


@probe("redis")
def check(
    endpoint: str, password: SecretStr | None = None, timeout: float = 5.0
) -> list[CheckResult]:
    where = f"Redis at {endpoint}"
    client = connect(endpoint, password, timeout)
    try:
        client.ping()
        version = str(client.info("server").get("redis_version", "?"))
    except redis_client.AuthenticationError as exc:
        text = str(exc)
        if "no password is set" in text or "without any password" in text:
            message = f"{where} has no password set, but one was given"
        elif password is None:
            message = (
                f"{where} requires a password, and Harbor 1.4's registry cannot send one "
                "(it uses redis_url as a bare address): remove requirepass and protect it "
                "by network instead"
            )
        else:
            message = f"{where} refused the password"
        return [error("redis.auth", "redis", message, field_path="redis.endpoints")]
    except redis_client.ResponseError as exc:
        return [error("redis.ping", "redis", f"{where}: {exc}", field_path="redis.endpoints")]
    except redis_client.TimeoutError:
        return [
            error(
                "redis.ping",
                "redis",
                f"{where}: {silent(timeout)}",
                field_path="redis.endpoints",
            )
        ]
    except redis_client.ConnectionError as exc:
        reason = "connection refused" if "refused" in str(exc) else str(exc)
        return [error("redis.ping", "redis", f"{where}: {reason}", field_path="redis.endpoints")]
    except redis_client.RedisError as exc:
        message = f"{where} does not answer like Redis: {exc}"
        return [error("redis.ping", "redis", message, field_path="redis.endpoints")]
    finally:
        client.close()
    return [
        ok("redis.ping", "redis", f"{where}: PONG, server {version}", data={"version": version})
    ]


# --- Harbor 2.x -------------------------------------------------------------------------------
#
# Harbor 2.x reaches Redis with redigo (v2.15.2 src/lib/redis/pool.go): RESP2, `AUTH password`
# (`AUTH username password` with a username) right after connecting, and for Sentinel a
# connection to each sentinel *without* any password (its sentinelOptions carry none), then
# the master Sentinel names, checked with ROLE. The client below speaks exactly that, so that
# what the server answers is what Harbor will be answered: redis-py's default (RESP3, HELLO
# AUTH default ...) is accepted by a server with no password where redigo's AUTH is refused.

SENTINEL_AUTH_ISSUES = "goharbor/harbor#14757, #16629"

Endpoint = tuple[str, int]


def split(endpoint: str) -> Endpoint:
    """`host:port` or `[v6]:port`."""
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def harbor_client(
    endpoint: str, password: SecretStr | None, username: str | None, timeout: float
) -> redis_client.Redis:
    """One try, `timeout` for the connection and every answer, redigo's way of logging in."""
    host, port = split(endpoint)
    return redis_client.Redis(
        host=host,
        port=port,
        username=username or None,
        password=password.get_secret_value() if password else None,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
    )


def unreachable(exc: redis_client.RedisError, timeout: float) -> str | None:
    """Why nothing answered, or None when something did (an error of the server's)."""
    if isinstance(exc, redis_client.TimeoutError):
        return silent(timeout)
    if isinstance(exc, redis_client.ConnectionError) and not isinstance(
        exc, redis_client.AuthenticationError
    ):
        return "connection refused" if "refused" in str(exc) else str(exc)
    return None


def auth_failure(where: str, exc: redis_client.RedisError, username: str | None) -> str:
    """An AUTH refused (or missing), in the operator's words."""
    text = str(exc)
    who = f" of user '{username}'" if username else ""
    if "Authentication required" in text or "NOAUTH" in text:
        return (
            f"{where} requires a password (NOAUTH Authentication required) and redis.password "
            "is empty: set it to the server's password (requirepass)"
        )
    if "without any password configured" in text or "no password is set" in text:
        return (
            f"{where} has no password set, but redis.password gives one: Harbor's AUTH would "
            "be refused (no password is configured): leave redis.password empty, or set "
            "requirepass on the server"
        )
    if "wrong number of arguments" in text and username:
        return (
            f"{where} knows no users (Redis before 6 takes AUTH <password> only): leave "
            "redis.username empty"
        )
    if "WRONGPASS" in text or "invalid" in text or "password" in text:
        return f"{where} refused the password{who} (WRONGPASS): redis.password is not the server's"
    return f"{where} refused the login{who}: {text}"


def sentinel_result(
    endpoint: str, master_set: str, timeout: float
) -> tuple[CheckResult, Endpoint | None]:
    """Ask one sentinel, without a password as Harbor does, where `master_set`'s master is."""
    where = f"Sentinel at {endpoint}"
    client = harbor_client(endpoint, None, None, timeout)
    try:
        answer = _do(client, "SENTINEL", "get-master-addr-by-name", master_set)
        known: list[str] = []
        if answer is None:
            try:
                masters = _do(client, "SENTINEL", "masters")
                known = [_text(m[b"name"] if isinstance(m, dict) else m[1]) for m in masters]
            except (redis_client.RedisError, KeyError, IndexError, TypeError):
                known = []
    except redis_client.AuthenticationError:
        message = (
            f"{where} requires a password (requirepass in its sentinel.conf): Harbor 2.x cannot "
            f"authenticate to Sentinel ({SENTINEL_AUTH_ISSUES}): remove requirepass from the "
            "sentinels and protect them by network instead"
        )
        return error("redis.sentinel", "redis", message, field_path="redis.endpoints"), None
    except redis_client.RedisError as exc:
        why = unreachable(exc, timeout)
        if why is not None:
            return error(
                "redis.sentinel", "redis", f"{where}: {why}", field_path="redis.endpoints"
            ), None
        if "unknown command" in str(exc):
            message = (
                f"{endpoint} is not a Sentinel (it does not know the SENTINEL command): with "
                "redis.sentinel_master_set, redis.endpoints lists the sentinels (port 26379 "
                "by default), not the Redis servers"
            )
        else:
            message = f"{where} does not answer like Sentinel: {exc}"
        return error("redis.sentinel", "redis", message, field_path="redis.endpoints"), None
    finally:
        client.close()
    if answer is None:
        watched = f" (it watches: {', '.join(known)})" if known else " (it watches none)"
        message = (
            f"{where} watches no master named '{master_set}'{watched}: set "
            "redis.sentinel_master_set to the name of its `sentinel monitor` line"
        )
        return (
            error("redis.sentinel", "redis", message, field_path="redis.sentinel_master_set"),
            None,
        )
    address = (_text(answer[0]), int(answer[1]))
    master = f"{address[0]}:{address[1]}"
    return (
        ok(
            "redis.sentinel",
            "redis",
            f"{where}: master '{master_set}' is at {master}",
            data={"master": master},
        ),
        address,
    )


def _do(client: redis_client.Redis, *args: object) -> Any:
    """One command, its answer as redis-py parses it (RESP2)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def sentinels(
    endpoints: list[str], master_set: str, timeout: float
) -> tuple[list[CheckResult], str | None]:
    """Every sentinel asked at once; the master the first answering one names (Harbor's
    redigo takes the first that answers), or None when none does. A sentinel that does not
    answer while others do costs Harbor a time-out, no more: a warning."""
    with ThreadPoolExecutor(max_workers=max(1, len(endpoints))) as pool:
        asked = list(pool.map(lambda e: sentinel_result(e, master_set, timeout), endpoints))
    found = [address for _, address in asked if address is not None]
    results = []
    for result, address in asked:
        silent_one = (
            address is None
            and result.field_path == "redis.endpoints"
            and found
            and ("no answer" in result.message or "refused" in result.message)
        )
        results.append(replace(result, status=Status.WARNING) if silent_one else result)
    if not found:
        return results, None
    if len(set(found)) > 1:
        named = ", ".join(
            f"{e} names {a[0]}:{a[1]}" for (_, a), e in zip(asked, endpoints, strict=True) if a
        )
        results.append(
            error(
                "redis.sentinel",
                "redis",
                f"the sentinels disagree on the master of '{master_set}' ({named}): a failover "
                "under way, or sentinels of different groups: run the check again; if it "
                "stays, list only the sentinels of one group in redis.endpoints",
                field_path="redis.endpoints",
            )
        )
    return results, f"{found[0][0]}:{found[0][1]}"


def server_checks(
    endpoint: str,
    password: SecretStr | None,
    username: str | None,
    db_indexes: dict[str, int],
    timeout: float,
    where: str,
) -> list[CheckResult]:
    """`redis.ping`, `redis.auth`, then `redis.role` and `redis.db_index` of one server."""
    client = harbor_client(endpoint, password, username, timeout)
    try:
        try:
            _do(client, "PING")
        except redis_client.RedisError as exc:
            why = unreachable(exc, timeout)
            if why is not None:
                return [
                    error("redis.ping", "redis", f"{where}: {why}", field_path="redis.endpoints")
                ]
            if isinstance(exc, redis_client.AuthenticationError) or "NOAUTH" in str(exc):
                field = (
                    "redis.username"
                    if "knows no users" in auth_failure(where, exc, username)
                    else "redis.password"
                )
                return [
                    error(
                        "redis.auth", "redis", auth_failure(where, exc, username), field_path=field
                    )
                ]
            message = f"{where} does not answer like Redis: {exc}"
            return [error("redis.ping", "redis", message, field_path="redis.endpoints")]
        version = _version(client)
        results = [
            ok(
                "redis.ping", "redis", f"{where}: PONG, server {version}", data={"version": version}
            ),
            ok(
                "redis.auth",
                "redis",
                f"{where} accepted the password" + (f" of user '{username}'" if username else "")
                if password
                else f"{where} needs no password",
            ),
            _role(client, where),
        ]
        results.extend(_db_indexes(client, where, db_indexes))
        return results
    finally:
        client.close()


def _version(client: redis_client.Redis) -> str:
    try:
        return str(client.info("server").get("redis_version", "?"))
    except redis_client.RedisError:  # an ACL user without INFO
        return "?"


def _role(client: redis_client.Redis, where: str) -> CheckResult:
    """ROLE, as Harbor tests a pooled connection (redigo's sentinel.TestRole)."""
    try:
        answer = _do(client, "ROLE")
    except redis_client.RedisError as exc:
        return warning(
            "redis.role",
            "redis",
            f"{where}: cannot tell whether it is a master ({exc}): Harbor needs to write to it",
        )
    role = _text(answer[0]) if answer else "?"
    if role == "master":
        return ok("redis.role", "redis", f"{where} is a master (writable)", data={"role": role})
    if role == "slave":
        of = f" of {_text(answer[1])}:{answer[2]}" if len(answer) > 2 else ""
        message = (
            f"{where} is a read-only replica{of}: Harbor must write; point redis.endpoints at "
            "the master, or at the sentinels with redis.sentinel_master_set"
        )
    elif role == "sentinel":
        message = (
            f"{where} is a Sentinel, not a Redis server: set redis.sentinel_master_set to the "
            "master's name, or point redis.endpoints at the Redis server"
        )
    else:
        message = f"{where} answers ROLE with '{role}', not master: Harbor must write to it"
    return error("redis.role", "redis", message, field_path="redis.endpoints", data={"role": role})


def _db_indexes(
    client: redis_client.Redis, where: str, db_indexes: dict[str, int]
) -> list[CheckResult]:
    """Every index below the server's `databases`: CONFIG GET when allowed (managed Redis
    often renames or forbids CONFIG), else SELECT each one."""
    if not db_indexes:
        return []
    count: int | None = None
    try:
        answer = _do(client, "CONFIG", "GET", "databases")
        values = list(answer.values()) if isinstance(answer, dict) else list(answer)[1:]
        count = int(_text(values[0])) if values else None
    except (redis_client.RedisError, ValueError):
        count = None
    bad: list[tuple[str, int]] = []
    for name, index in sorted(db_indexes.items(), key=lambda item: item[1]):
        if count is not None:
            if not 0 <= index < count:
                bad.append((name, index))
            continue
        try:
            _do(client, "SELECT", index)
        except redis_client.ResponseError:
            bad.append((name, index))
    used = ", ".join(f"{name} {index}" for name, index in sorted(db_indexes.items()))
    if not bad:
        have = f"has {count} databases: " if count is not None else ""
        message = f"{where} {have}every index Harbor uses exists ({used})"
        return [ok("redis.db_index", "redis", message)]
    has = f"databases 0-{count - 1}" if count else "fewer databases"
    return [
        error(
            "redis.db_index",
            "redis",
            f"{where} has {has}: redis.{name} = {index} is not one of them: choose an index "
            "the server has, or raise `databases` in its configuration",
            field_path=f"redis.{name}",
        )
        for name, index in bad
    ]


@probe("redis")
def redis_checks_2x(
    endpoints: list[str],
    password: SecretStr | None = None,
    username: str | None = None,
    sentinel_master_set: str | None = None,
    db_indexes: dict[str, int] | None = None,
    timeout: float = 5.0,
) -> list[CheckResult]:
    """Redis as Harbor 2.x meets it. With `sentinel_master_set`, `endpoints` are the
    sentinels: `redis.sentinel` for each, then the master they name is checked like a
    plain server (`redis.ping`, `redis.auth`, `redis.role`, `redis.db_index`).
    `db_indexes`: answers field name under `redis` -> index, e.g. {"registry_db_index": 1}."""
    indexes = db_indexes or {}
    if sentinel_master_set:
        results, master = sentinels(endpoints, sentinel_master_set, timeout)
        if master is None:
            return results
        where = f"Redis master '{sentinel_master_set}' at {master} (from Sentinel)"
        return results + server_checks(master, password, username, indexes, timeout, where)
    found: list[CheckResult] = []
    for endpoint in endpoints:
        found += server_checks(
            endpoint, password, username, indexes, timeout, f"Redis at {endpoint}"
        )
    return found
