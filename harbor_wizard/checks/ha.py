"""Whether the stateful services Harbor depends on are themselves highly available.

Why: the HA guide assumes MariaDB, PostgreSQL and Redis are "already HA-protected" and
says that otherwise "any of these components can be a single point of failure". A Harbor
that survives losing a node but not losing its one Redis is not HA; the operator should
see that, as a warning (blocking only with ``--strict``), not discover it in an outage.

Each service has a pure verdict (facts in, status and message out) and a probe that
gathers the facts. Harbor 1.4 takes one address per service, so redundancy must sit behind
that address (Galera with a proxy, a replica with Sentinel and a VIP, a managed service).
"""

from __future__ import annotations

import psycopg
import pymysql
import redis as redis_client
from pydantic import SecretStr

from harbor_wizard.answers.model import ClairDatabase, Database
from harbor_wizard.checks import harbor_db, mariadb, postgres, redis
from harbor_wizard.checks.result import CheckResult, Status, probe

Verdict = tuple[Status, str]

SINGLE_POINT = "a single point of failure for every Harbor node"
MYSQL_ACCESS_DENIED = {1227, 1044, 1045, 1142}


def redis_verdict(
    where: str, role: str, replicas: int, sentinels: int, *, asks_sentinel: bool = False
) -> Verdict:
    """INFO replication's role and connected replicas, and the Sentinels subscribed to it;
    `asks_sentinel`: Harbor (2.x) can be given the Sentinels instead of one address."""
    if role != "master":
        return (
            Status.ERROR,
            f"{where} is a replica (role {role}), read-only by default: Harbor writes "
            "sessions and job queues to it; point redis.endpoints at the master, or at an "
            "address that follows it",
        )
    if replicas == 0:
        watched = (
            f"{sentinels} Sentinel(s) watch it but there is no replica to fail over to"
            if sentinels
            else "no Sentinel watches it"
        )
        return (
            Status.WARNING,
            f"{where} has no replica and {watched}: it is {SINGLE_POINT} (sessions, job "
            "queues). The guide assumes an HA Redis: add a replica with Sentinel and give "
            + (
                "Harbor the Sentinels (redis.endpoints, with redis.sentinel_master_set)"
                if asks_sentinel
                else "Harbor one address that follows the master"
            ),
        )
    failover = (
        f"{sentinels} Sentinel(s) handle failover"
        if sentinels
        else "no Sentinel seen, so failover is manual"
    )
    return Status.OK, f"{where} is a master with {replicas} replica(s); {failover}"


def mariadb_verdict(
    where: str, cluster_size: int | None, replicas: int | None, sources: int | None
) -> Verdict:
    """Galera's wsrep_cluster_size, replicas connected to it, sources it replicates from.

    None means the server would not say (no Galera, or no privilege to ask).
    """
    if cluster_size is not None and cluster_size >= 2:
        return Status.OK, f"{where} is in a Galera cluster of {cluster_size} nodes"
    if replicas:
        return Status.OK, f"{where} has {replicas} replica(s) connected"
    if sources:
        return Status.OK, f"{where} replicates from {sources} source(s) (multi-source or ring)"
    advice = (
        f"it is {SINGLE_POINT}. The guide assumes an HA Harbor DB: a Galera cluster "
        "(MariaDB 10.2+) or a primary with replicas, behind one address"
    )
    if cluster_size == 1:
        return Status.WARNING, f"{where} is a Galera node alone in its cluster: {advice}"
    if replicas is None or sources is None:
        return (
            Status.WARNING,
            f"{where}: cannot tell whether it is replicated (the user may not run SHOW "
            "SLAVE HOSTS / SHOW ALL SLAVES STATUS: grant REPLICATION CLIENT, or check by "
            f"hand); no Galera cluster. If it is alone, {advice}",
        )
    return Status.WARNING, f"{where} has no Galera cluster, no replica and no source: {advice}"


def postgres_verdict(
    where: str, in_recovery: bool, replicas: int, *, harbor_db: bool = False
) -> Verdict:
    """pg_is_in_recovery() and the count of pg_stat_replication (streaming replicas); for
    Clair's database (1.4), or with `harbor_db` Harbor's own (2.x)."""
    writer, field = ("Harbor", "database.host") if harbor_db else ("Clair", "clair_database.host")
    if in_recovery:
        return (
            Status.ERROR,
            f"{where} is a standby (in recovery), read-only: {writer} writes its data "
            f"there; point {field} at the primary",
        )
    if replicas == 0:
        lost = SINGLE_POINT if harbor_db else "a single point of failure for scanning"
        return (
            Status.WARNING,
            f"{where} has no streaming replica (pg_stat_replication is empty): it is "
            f"{lost}. Put a streaming replica with failover (Patroni, repmgr or a managed "
            "service) behind one address",
        )
    return Status.OK, f"{where} streams to {replicas} replica(s)"


def _result(check: str, target: str, verdict: Verdict, field: str) -> CheckResult:
    status, message = verdict
    return CheckResult(check, target, status, message, field_path=field)


def _unknown(check: str, target: str, where: str, why: str, field: str) -> list[CheckResult]:
    """The service did not answer: say so as a warning (its login check carries the error)."""
    message = f"{where}: cannot tell whether it is highly available: {why}"
    return [CheckResult(check, target, Status.WARNING, message, field_path=field)]


@probe("redis.ha")
def redis_ha(
    endpoint: str,
    password: SecretStr | None = None,
    timeout: float = 5.0,
    *,
    asks_sentinel: bool = False,
) -> list[CheckResult]:
    where = f"Redis at {endpoint}"
    client = redis.connect(endpoint, password, timeout)
    try:
        info = client.info("replication")
        numsub = client.pubsub_numsub("__sentinel__:hello")
    except redis_client.TimeoutError:
        return _unknown("redis.ha", "redis", where, mariadb.silent(timeout), "redis.endpoints")
    except redis_client.RedisError as exc:
        refused = isinstance(exc, redis_client.AuthenticationError) or any(
            word in str(exc) for word in ("NOAUTH", "WRONGPASS", "invalid password")
        )
        why = "it refused the login (the Redis password check says why)" if refused else str(exc)
        return _unknown("redis.ha", "redis", where, why, "redis.endpoints")
    finally:
        client.close()
    sentinels = int(numsub[0][1]) if numsub else 0
    verdict = redis_verdict(
        where,
        str(info.get("role", "?")),
        int(info.get("connected_slaves", 0)),
        sentinels,
        asks_sentinel=asks_sentinel,
    )
    return [_result("redis.ha", "redis", verdict, "redis.endpoints")]


def _count(cursor: pymysql.cursors.Cursor, *statements: str) -> int | None:
    """Rows of the first statement the server accepts; None when none is allowed."""
    for statement in statements:
        try:
            cursor.execute(statement)
        except (pymysql.err.OperationalError, pymysql.err.ProgrammingError) as exc:
            code = exc.args[0] if exc.args else 0
            if code in MYSQL_ACCESS_DENIED:
                return None
            if code >= 2000:  # the client's own errors: the connection is gone
                raise
            continue  # syntax of another server (MySQL vs MariaDB): try the next form
        return len(cursor.fetchall())
    return None


@probe("mariadb.ha")
def mariadb_ha(database: Database, password: SecretStr, timeout: float = 5.0) -> list[CheckResult]:
    where = f"MariaDB at {database.host}:{database.port}"
    try:
        with mariadb.connect(database, password, timeout) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'")
            row = cursor.fetchone()
            cluster_size = int(row[1]) if row and str(row[1]).isdigit() else None
            replicas = _count(cursor, "SHOW SLAVE HOSTS", "SHOW REPLICAS")
            sources = _count(cursor, "SHOW ALL SLAVES STATUS", "SHOW REPLICA STATUS")
    except pymysql.err.MySQLError as exc:
        why = mariadb.failure(exc, timeout)
        return _unknown("mariadb.ha", "database", where, why, "database.host")
    verdict = mariadb_verdict(where, cluster_size, replicas, sources)
    return [_result("mariadb.ha", "database", verdict, "database.host")]


@probe("postgres.ha")
def postgres_ha(
    clair: ClairDatabase, password: SecretStr, timeout: float = 5.0
) -> list[CheckResult]:
    """Counting pg_stat_replication needs no privilege (details would, the count does not)."""
    where = f"PostgreSQL at {clair.host}:{clair.port}"
    try:
        with postgres.connect(clair, password, timeout) as conn:
            in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            replicas = conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
    except psycopg.Error as exc:
        why = postgres.failure(exc, timeout)
        return _unknown("postgres.ha", "clair_database", where, why, "clair_database.host")
    verdict = postgres_verdict(
        where, bool(in_recovery and in_recovery[0]), int(replicas[0]) if replicas else 0
    )
    return [_result("postgres.ha", "clair_database", verdict, "clair_database.host")]


@probe("postgres.ha")
def harbor_postgres_ha(
    database: Database, password: SecretStr, timeout: float = 5.0
) -> list[CheckResult]:
    """Harbor 2.x's own database, as `postgres_ha` asks Clair's: the server's state, read in
    Harbor's database, or in `postgres` while the install has yet to create that."""
    where = f"PostgreSQL at {database.host}:{database.port}"
    names = (database.postgres_name, "postgres")
    try:
        for name in names:
            try:
                with postgres.session(
                    database.host, database.port, database.user, password, name, timeout,
                    database.postgres_ssl_mode,
                ) as conn:  # fmt: skip
                    in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                    replicas = conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
                break
            except psycopg.Error as exc:
                if name == names[-1] or not harbor_db.missing_database(exc):
                    raise
    except psycopg.Error as exc:
        why = postgres.failure(exc, timeout)
        return _unknown("postgres.ha", "database", where, why, "database.host")
    verdict = postgres_verdict(
        where,
        bool(in_recovery and in_recovery[0]),
        int(replicas[0]) if replicas else 0,
        harbor_db=True,
    )
    return [_result("postgres.ha", "database", verdict, "database.host")]
