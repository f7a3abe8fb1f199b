"""Harbor DB variants without a server: the authentication decision on the exact text MySQL
and MariaDB return, the sql_mode decision on their default modes, and the splitter and seed
counts on the stand-in registry.sql, which is Harbor 1.4.0's own file.

MySQL 8 cannot run in the lab; its SHOW CREATE USER text is taken as MySQL 8.0 prints it.
The MariaDB side runs live in test_db_variants_lab.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from harbor_wizard.checks.mariadb import (
    NATIVE,
    Server,
    login_refusal,
    methods_of,
    sql_mode_result,
    zero_date_defaults,
)
from harbor_wizard.checks.result import Status
from harbor_wizard.steps.database import numbered_rows, schema_statements, seed_rows, split_sql

STANDIN = Path(__file__).parents[1] / "lab" / "doubles" / "installer" / "ha" / "registry.sql"
REAL_BLOB = "bf07a6a2113dd1710575da585dcad1e3b5315a73"
"""git blob id of make/photon/db/registry.sql at goharbor/harbor v1.4.0 (the Makefile
copies it to the installer's ha/registry.sql)."""

MYSQL8 = Server("8.0.36", "MySQL", "8.0.36", galera=False)
MYSQL84 = Server("8.4.3", "MySQL", "8.4.3", galera=False)
MYSQL9 = Server("9.1.0", "MySQL", "9.1.0", galera=False)
MARIADB = Server("10.11.19-MariaDB-0+deb12u1", "MariaDB", "10.11.19", galera=False)

# SHOW CREATE USER as the servers print it (hashes shortened; MySQL 8's caching_sha2 hash
# holds raw bytes, printed as they are or, with print_identified_with_as_hex, as 0x...).
MYSQL8_CACHING = (
    "CREATE USER `harbor`@`%` IDENTIFIED WITH 'caching_sha2_password' AS "
    "'$A$005$\x1b;9\\'O%REQUIRE x\\' OR \\'y\x7fpZ3vKqA8' REQUIRE NONE PASSWORD EXPIRE DEFAULT "
    "ACCOUNT UNLOCK PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD "
    "REQUIRE CURRENT DEFAULT"
)
MYSQL8_CACHING_HEX = (
    "CREATE USER `harbor`@`%` IDENTIFIED WITH 'caching_sha2_password' AS "
    "0x24412430303524 REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK"
)
MYSQL_SHA256 = (
    "CREATE USER 'harbor'@'%' IDENTIFIED WITH 'sha256_password' AS '$5$abc$def' "
    "REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK"
)
MYSQL_NATIVE = (
    "CREATE USER `harbor`@`%` IDENTIFIED WITH 'mysql_native_password' AS "
    "'*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE NONE PASSWORD EXPIRE DEFAULT "
    "ACCOUNT UNLOCK"
)


def test_mysql_8_accounts_are_read_from_the_text_mysql_prints() -> None:
    assert methods_of(MYSQL8_CACHING) == ["caching_sha2_password"]
    assert methods_of(MYSQL8_CACHING_HEX) == ["caching_sha2_password"]
    assert methods_of(MYSQL_SHA256) == ["sha256_password"]
    assert methods_of(MYSQL_NATIVE) == [NATIVE]


def test_mariadb_accounts_are_read_from_the_text_mariadb_prints() -> None:
    """As MariaDB 10.11 prints them (see the lab test for the live ones)."""
    native = (
        "CREATE USER `h`@`%` IDENTIFIED BY PASSWORD '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3'"
    )
    assert methods_of(native) == [NATIVE]
    assert methods_of("CREATE USER `n`@`%`") == [NATIVE]  # no password
    ed = "CREATE USER `e`@`%` IDENTIFIED VIA ed25519 USING 'iGRouygp5VwPhO1Nw3XHv2nRNSJmY6g6'"
    assert methods_of(ed) == ["ed25519"]
    chain = (
        "CREATE USER `o`@`%` IDENTIFIED VIA unix_socket OR mysql_native_password "
        "USING '*77B4A70CEFD76DB9415F36D291E74C110D2738E0'"
    )
    assert methods_of(chain) == ["unix_socket", NATIVE]
    assert methods_of(
        "CREATE USER `o`@`%` IDENTIFIED VIA mysql_native_password USING PASSWORD('x OR y') "
        "OR unix_socket"
    ) == [NATIVE, "unix_socket"]


def test_caching_sha2_and_sha256_are_refused_with_the_exact_fix() -> None:
    for text, plugin in (
        (MYSQL8_CACHING, "caching_sha2_password"),
        (MYSQL_SHA256, "sha256_password"),
    ):
        refusal = login_refusal(MYSQL8, "harbor@%", methods_of(text))
        assert refusal == (
            f"account 'harbor'@'%' logs in with {plugin}; Harbor 1.4's MySQL driver speaks "
            "mysql_native_password only, so Harbor could not log in (harbor-wizard's own "
            "driver could): ALTER USER 'harbor'@'%' IDENTIFIED WITH mysql_native_password BY "
            "'<database.password>'"
        )
    assert login_refusal(MYSQL8, "harbor@%", methods_of(MYSQL_NATIVE)) is None


def test_mysql_84_and_9_are_told_what_native_needs_there() -> None:
    refusal = login_refusal(MYSQL84, "harbor@10.0.0.%", ["caching_sha2_password"])
    assert refusal is not None
    assert "ALTER USER 'harbor'@'10.0.0.%' IDENTIFIED WITH mysql_native_password" in refusal
    assert "needs mysql_native_password=ON in its configuration" in refusal
    refusal = login_refusal(MYSQL9, "harbor@%", ["caching_sha2_password"])
    assert refusal is not None
    assert "MySQL 9.1.0 has no mysql_native_password" in refusal


def test_mariadb_fix_is_mariadb_syntax_and_a_chain_counts_by_its_first_method() -> None:
    refusal = login_refusal(MARIADB, "h@%", ["ed25519"])
    assert refusal is not None
    assert refusal.endswith(
        "ALTER USER 'h'@'%' IDENTIFIED VIA mysql_native_password "
        "USING PASSWORD('<database.password>')"
    )
    assert login_refusal(MARIADB, "h@%", ["unix_socket", NATIVE]) is not None
    assert login_refusal(MARIADB, "h@%", [NATIVE, "unix_socket"]) is None


MYSQL57_DEFAULT = [
    "ONLY_FULL_GROUP_BY",
    "STRICT_TRANS_TABLES",
    "NO_ZERO_IN_DATE",
    "NO_ZERO_DATE",
    "ERROR_FOR_DIVISION_BY_ZERO",
    "NO_AUTO_CREATE_USER",
    "NO_ENGINE_SUBSTITUTION",
]
MYSQL80_DEFAULT = [
    "ONLY_FULL_GROUP_BY",
    "STRICT_TRANS_TABLES",
    "NO_ZERO_IN_DATE",
    "NO_ZERO_DATE",
    "ERROR_FOR_DIVISION_BY_ZERO",
    "NO_ENGINE_SUBSTITUTION",
]
MARIADB_DEFAULT = [
    "STRICT_TRANS_TABLES",
    "ERROR_FOR_DIVISION_BY_ZERO",
    "NO_AUTO_CREATE_USER",
    "NO_ENGINE_SUBSTITUTION",
]


def test_mysql_57_defaults_adapt_the_load_and_refuse_for_harbor_itself() -> None:
    """MySQL 5.7: explicit_defaults_for_timestamp OFF and NO_ZERO_DATE + strict."""
    assert zero_date_defaults(MYSQL57_DEFAULT, explicit=False)
    result = sql_mode_result("DB", MYSQL57_DEFAULT, explicit=False)
    assert result.status is Status.ERROR
    assert "harbor-wizard loads the schema in a session with sql_mode 'NO_ENGINE_SUBSTITUTION'" in (
        result.message
    )
    assert "creating a project fails" in result.message
    assert "group by rp.id" in result.message
    assert result.message.endswith(
        "SET GLOBAL sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
        "NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION' on the server, and the same sql_mode in "
        "its configuration file ([mysqld]) so that it survives a restart"
    )


def test_mysql_80_defaults_only_warn_and_mariadb_defaults_pass() -> None:
    """explicit_defaults_for_timestamp is ON there: no zero defaults, the file loads."""
    result = sql_mode_result("DB", MYSQL80_DEFAULT, explicit=True)
    assert result.status is Status.WARNING
    assert "loads the schema in a session" not in result.message
    assert "ONLY_FULL_GROUP_BY (error 1055)" in result.message
    assert sql_mode_result("DB", MARIADB_DEFAULT, explicit=True).status is Status.OK
    assert sql_mode_result("DB", MARIADB_DEFAULT, explicit=False).status is Status.OK
    traditional = sql_mode_result("DB", ["TRADITIONAL"], explicit=False)
    assert traditional.status is Status.ERROR
    ansi = sql_mode_result("DB", ["ANSI_QUOTES"], explicit=True)
    assert ansi.status is Status.WARNING
    assert "error 1054" in ansi.message
    lenient = sql_mode_result("DB", ["NO_ZERO_DATE"], explicit=False)
    assert lenient.status is Status.WARNING
    assert "loads the schema in a session" in lenient.message


# --- the stand-in registry.sql is the real file; the splitter on it ----------------------


def test_the_standin_registry_sql_is_harbor_140s_own() -> None:
    data = STANDIN.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert blob == REAL_BLOB


def test_the_splitter_on_the_real_file() -> None:
    """Line comments (with quotes and '#' in them), block comments (an apostrophe inside),
    multi-line statements, a backquoted CREATE TABLE IF NOT EXISTS, multi-row inserts."""
    statements = split_sql(STANDIN.read_text())
    assert statements[:3] == [
        "drop database if exists registry",
        "create database registry charset = utf8",
        "use registry",
    ]
    assert statements[-1] == "insert into alembic_version values ('1.4.0')"
    creates = [s for s in statements if s.lower().startswith("create table")]
    assert len(creates) == 17
    assert all("#" not in s and "/*" not in s and "it's" not in s for s in statements)
    user = next(s for s in creates if s.startswith("create table user"))
    assert " username varchar(255),\n\n email varchar(255),\n" in user  # comments dropped
    assert "creation_time timestamp,\n update_time timestamp," in user
    assert len(statements) == 3 + 17 + 7  # drop, create, use; tables; inserts
    loaded = schema_statements(STANDIN.read_text(), database_exists=True)
    assert [s.split()[0] for s in loaded[:2]] == ["use", "create"]
    assert not any(s.lower().startswith(("drop database", "create database")) for s in loaded)


def test_seed_rows_of_the_real_file() -> None:
    statements = numbered_rows(schema_statements(STANDIN.read_text(), database_exists=False))
    seeds = seed_rows(statements)
    assert len(seeds) == 17
    assert {k: v for k, v in seeds.items() if v} == {
        "access": 5,
        "role": 3,
        "user": 2,
        "project": 1,
        "project_member": 1,
        "project_metadata": 1,
        "alembic_version": 1,
    }
