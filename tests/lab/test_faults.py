"""Faults on demand: link cut, sshd down, services down, new host key, slow link."""

from __future__ import annotations

import io
import os
import socket
import time

import paramiko
import psycopg
import pymysql
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.lab import Lab
from tests.lab.util import tcp_open, wait_until

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


def test_cut_link_times_out_and_restore_reconnects(lab: Lab) -> None:
    host = lab.unshared_nodes[0]
    assert tcp_open(host.ip, 22)
    host.cut_link()
    try:
        with pytest.raises(TimeoutError):
            socket.create_connection((host.ip, 22), timeout=1.5).close()
    finally:
        host.restore_link()
    wait_until(lambda: tcp_open(host.ip, 22), timeout=10, what="the link back")
    with lab.connect(host.name) as conn:
        assert conn.run("hostname", hide=True).stdout.strip() == host.name


def test_sshd_stop_and_start(lab: Lab) -> None:
    host = lab.unshared_nodes[0]
    host.stop_sshd()
    try:
        with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError):
            lab.connect(host.name, connect_timeout=3).open()
    finally:
        host.start_sshd()
    with lab.connect(host.name) as conn:
        assert conn.run("true", hide=True).ok


def test_replaced_host_key_changes_fingerprint_and_is_rejected(lab: Lab) -> None:
    host = lab["redis01"]
    before = host.host_key_fingerprint()
    after = host.replace_host_key()
    try:
        assert after != before
        assert after.startswith("SHA256:")
        with pytest.raises(paramiko.BadHostKeyException):
            lab.connect(host.name).open()
    finally:
        lab.write_known_hosts()
    with lab.connect(host.name) as conn:
        assert conn.run("true", hide=True).ok


def test_databases_and_redis_stop_and_start(lab: Lab) -> None:
    db, pg, rd = lab.mariadb, lab.postgres, lab.redis
    for service in (db, pg, rd):
        service.stop()
    try:
        with pytest.raises(pymysql.err.OperationalError) as err:
            pymysql.connect(host=db.ip, user=db.user, password=db.password, connect_timeout=3)
        assert err.value.args[0] == 2003
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host=pg.ip, user=pg.user, password=pg.password, connect_timeout=3)
        with pytest.raises(redis.exceptions.ConnectionError):
            redis.Redis(
                host=rd.ip, port=rd.port, socket_connect_timeout=3, retry=Retry(NoBackoff(), 0)
            ).ping()
    finally:
        for service in (db, pg, rd):
            if not service.running:
                service.start()
    pymysql.connect(host=db.ip, user=db.user, password=db.password, connect_timeout=5).close()
    psycopg.connect(host=pg.ip, user=pg.user, password=pg.password, connect_timeout=5).close()
    assert redis.Redis(host=rd.ip, port=rd.port).ping()


def test_slow_link_makes_transfers_take_time(lab: Lab) -> None:
    host = lab.unshared_nodes[0]
    blob = os.urandom(1_000_000)  # 8 Mbit: about 1 s at 8 mbit/s

    def upload() -> float:
        with lab.connect(host.name) as conn:
            conn.run("true", hide=True)
            started = time.monotonic()
            conn.put(io.BytesIO(blob), "/tmp/blob")
            return time.monotonic() - started

    fast = upload()
    host.slow_link()
    try:
        slow = upload()
    finally:
        host.unslow_link()
    assert slow > 0.5
    assert slow > 3 * fast


def test_partition_drops_silently_and_heals(lab: Lab) -> None:
    """A silent host: connecting gets neither an answer nor a reset; healing restores it
    and a connection opened before the cut carries on."""
    host = lab.unshared_nodes[0]
    with lab.connect(host.name) as conn:
        assert conn.run("true", hide=True).ok
        host.partition()
        try:
            with pytest.raises(TimeoutError):
                socket.create_connection((host.ip, 22), timeout=1.5).close()
        finally:
            host.heal()
        assert conn.run("hostname", hide=True).stdout.strip() == host.name
    assert "hw-partition" not in host.run("iptables -S").stdout
