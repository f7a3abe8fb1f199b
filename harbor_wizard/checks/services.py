"""The probes of the services the nodes use: the Harbor DB, Redis and the Clair DB.

Why a module of its own: their drivers (pymysql, redis, psycopg) are a quarter of what a
run imports. `run_all` loads this module on one of its workers, so that the import
overlaps the SSH handshakes, which spend their time waiting on the hosts.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from harbor_wizard.answers import Answers
from harbor_wizard.answers.rules import REDIS_DB_INDEXES
from harbor_wizard.checks import ha, harbor_db, mariadb, postgres, redis
from harbor_wizard.checks.result import CheckResult


def probes(
    answers: Answers, secrets: dict[str, SecretStr], timeout: float
) -> list[Callable[[], list[CheckResult]]]:
    if answers.database.engine == "postgresql":
        return _harbor_2(answers, secrets, timeout)
    password = secrets["database.password"]
    redis_password = secrets.get("redis.password")
    endpoint = answers.redis.endpoints[0]
    found: list[Callable[[], list[CheckResult]]] = [
        lambda: mariadb.check(answers.database, password, timeout),
        lambda: redis.check(endpoint, redis_password, timeout),
        lambda: ha.mariadb_ha(answers.database, password, timeout),
        lambda: ha.redis_ha(endpoint, redis_password, timeout),
    ]
    if answers.clair_database is not None:
        clair = answers.clair_database
        clair_password = secrets["clair_database.password"]
        clients = [str(node.address) for node in answers.harbor_nodes]
        found.append(lambda: postgres.check(clair, clair_password, timeout, clients))
        found.append(lambda: ha.postgres_ha(clair, clair_password, timeout))
    return found


def _harbor_2(
    answers: Answers, secrets: dict[str, SecretStr], timeout: float
) -> list[Callable[[], list[CheckResult]]]:
    """Harbor 2.x: its own PostgreSQL database, and Redis with a password or Sentinels."""
    db, rd = answers.database, answers.redis
    indexes = {key: getattr(rd, key) or default for key, default in REDIS_DB_INDEXES.items()}
    password, redis_password = secrets["database.password"], secrets.get("redis.password")
    found: list[Callable[[], list[CheckResult]]] = [
        lambda: harbor_db.harbor_database_checks(
            db.host, db.port, db.user, password, db.postgres_name, db.postgres_ssl_mode,
            timeout,
        ),
        lambda: redis.redis_checks_2x(
            list(rd.endpoints), redis_password, None, rd.sentinel_master_set, indexes, timeout
        ),
        lambda: ha.harbor_postgres_ha(db, password, timeout),
    ]  # fmt: skip
    if not rd.sentinel_master_set:  # Sentinels are the redundancy; one server may not be
        found.append(
            lambda: ha.redis_ha(rd.endpoints[0], redis_password, timeout, asks_sentinel=True)
        )
    return found
