"""Acceptance: MariaDB, PostgreSQL and Redis answer with the lab's credentials only."""

from __future__ import annotations

import subprocess
import tarfile

import psycopg
import pymysql
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


def test_mariadb_accepts_the_lab_password_and_refuses_a_wrong_one(lab: Lab) -> None:
    db = lab.mariadb
    with (
        pymysql.connect(
            host=db.ip, port=db.port, user=db.user, password=db.password, connect_timeout=5
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT VERSION()")
        (version,) = cur.fetchone()
        assert "MariaDB" in version
    with pytest.raises(pymysql.err.OperationalError) as err:
        pymysql.connect(host=db.ip, port=db.port, user=db.user, password="wrong", connect_timeout=5)
    assert err.value.args[0] == 1045


def test_postgres_accepts_the_lab_password_and_refuses_a_wrong_one(lab: Lab) -> None:
    pg = lab.postgres
    dsn = dict(host=pg.ip, port=pg.port, user=pg.user, dbname=pg.database, connect_timeout=5)
    with psycopg.connect(**dsn, password=pg.password) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**dsn, password="wrong")


def _redis(ip: str, port: int, **kwargs: object) -> redis.Redis:
    """A client that fails at once (redis-py retries auth errors by default)."""
    return redis.Redis(
        host=ip, port=port, socket_timeout=5, protocol=2, retry=Retry(NoBackoff(), 0), **kwargs
    )  # type: ignore[arg-type]


def test_redis_without_and_with_password(lab: Lab) -> None:
    assert _redis(lab.redis.ip, lab.redis.port).ping()
    auth = lab.redis_auth
    assert _redis(auth.ip, auth.port, password=auth.password).ping()
    # "NOAUTH Authentication required.": redis-py maps the NOAUTH prefix to this class
    with pytest.raises(redis.exceptions.AuthenticationError, match="Authentication required"):
        _redis(auth.ip, auth.port).ping()
    with pytest.raises(redis.exceptions.AuthenticationError, match="invalid username-password"):
        _redis(auth.ip, auth.port, password="wrong").ping()


def test_services_are_reachable_from_the_hosts(lab: Lab) -> None:
    endpoints = [
        (lab.mariadb.ip, 3306),
        (lab.postgres.ip, 5432),
        (lab.redis.ip, 6379),
        (lab.redis_auth.ip, 6380),
    ]
    probe = "; ".join(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/{port}'" for ip, port in endpoints)
    with lab.connect(lab.harbor_nodes[0].name) as conn:
        assert conn.run(probe, hide=True, warn=True).ok


def test_installer_schema_loads_into_mariadb(lab: Lab) -> None:
    with tarfile.open(lab.installer) as tar:
        member = tar.extractfile("harbor/ha/registry.sql")
        assert member is not None
        sql = member.read().decode()
    db = lab.mariadb
    subprocess.run(
        ["mariadb", "--no-defaults", "-h", db.ip, "-u", db.user, f"-p{db.password}"],
        input=sql,
        text=True,
        check=True,
        timeout=60,
    )
    try:
        with (
            pymysql.connect(
                host=db.ip, user=db.user, password=db.password, database="registry"
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SHOW TABLES")
            assert len(cur.fetchall()) == 17
            cur.execute("SELECT version_num FROM alembic_version")
            assert cur.fetchall() == (("1.4.0",),)
            cur.execute("SELECT username FROM user ORDER BY user_id")
            assert cur.fetchall() == (("admin",), ("anonymous",))
            cur.execute("SELECT name FROM project")
            assert cur.fetchall() == (("library",),)
    finally:
        with pymysql.connect(host=db.ip, user=db.user, password=db.password) as conn:
            conn.cursor().execute("DROP DATABASE IF EXISTS registry")
