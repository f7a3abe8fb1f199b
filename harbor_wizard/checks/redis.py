"""Redis: PING, the server version, and whether it wants a password Harbor 1.4 cannot send."""

from __future__ import annotations

import redis as redis_client
from pydantic import SecretStr
from redis.backoff import NoBackoff
from redis.retry import Retry

from harbor_wizard.checks.mariadb import silent
from harbor_wizard.checks.result import CheckResult, error, ok, probe


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
