"""The schema step's pure parts: seed rows with fixed ids, timeouts that nest, and how a
failed connection is put into words (no server needed)."""

from __future__ import annotations

import psycopg
import pymysql

from harbor_wizard.checks import mariadb, postgres
from harbor_wizard.steps import database
from harbor_wizard.steps.database import numbered_rows, schema_statements


def test_seed_rows_get_the_ids_of_a_single_server() -> None:
    sql = """
    create table t (id int NOT NULL AUTO_INCREMENT, v varchar(9), primary key (id));
    insert into t (v) values ('a(b'), ('it\\'s), ('), ("x");
    create table plain (k varchar(9));
    insert into plain values ('kept as it is');
    """
    assert numbered_rows(schema_statements(sql, False)) == [
        "create table t (id int NOT NULL AUTO_INCREMENT, v varchar(9), primary key (id))",
        "SET insert_id = 1",
        "INSERT INTO `t` (v) VALUES ('a(b')",
        "SET insert_id = 2",
        "INSERT INTO `t` (v) VALUES ('it\\'s), (')",
        "SET insert_id = 3",
        'INSERT INTO `t` (v) VALUES ("x")',
        "create table plain (k varchar(9))",
        "insert into plain values ('kept as it is')",
    ]


def test_the_client_waits_longer_than_the_server_and_less_than_30_s() -> None:
    """The server ends its own lock waits first (and says so); only a silent server meets
    the client's timeout, which names it within 30 s; a live holder is never stale."""
    assert database.SERVER_WAIT < database.ANSWER_TIMEOUT < 30
    assert database.LOCK_STALE > 3 * database.ANSWER_TIMEOUT


def test_a_silent_mariadb_is_said_to_be_silent() -> None:
    timed_out = {
        2003: "Can't connect to MySQL server on 'x' (timed out)",
        2013: "Lost connection to MySQL server during query (timed out)",
        2006: "MySQL server has gone away (TimeoutError('timed out'))",
    }
    for exc in (pymysql.err.OperationalError(*item) for item in timed_out.items()):
        assert mariadb.failure(exc, 20) == "no answer for 20 s (host down or its packets dropped)"
    refused = pymysql.err.OperationalError(2003, "Can't connect (Connection refused)")
    assert mariadb.failure(refused, 20) == "connection refused or unreachable"
    assert mariadb.failure(pymysql.err.OperationalError(1205, "Lock wait timeout"), 20) == (
        "Lock wait timeout"
    )


def test_a_silent_postgres_is_said_to_be_silent() -> None:
    for text in (
        "connection timeout expired",
        "could not receive data from server: Connection timed out",
    ):
        assert postgres.failure(psycopg.OperationalError(text), 5) == (
            "no answer for 5 s (host down or its packets dropped)"
        )
    assert postgres.failure(psycopg.OperationalError("x\nConnection refused"), 5) == (
        "connection refused"
    )
