"""Harbor DB variants on the lab's MariaDB 10.11: the login Harbor 1.4 itself will do, a
strict global sql_mode (set for one test, restored after), and a schema load that stops
half-way (a failing statement, a killed connection) then is reloaded, or refused once the
database holds data.

Harbor 1.4's login is re-enacted byte for byte (`harbor_login`): the vendored
go-sql-driver/mysql (src/vendor/github.com/go-sql-driver/mysql/packets.go) answers the
greeting with client flags without CLIENT_PLUGIN_AUTH and a mysql_native_password scramble,
and fails on anything but an OK packet (0xFE, an auth switch, is its ErrOldPassword).
"""

from __future__ import annotations

import hashlib
import io
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pymysql
import pytest
from pydantic import SecretStr

from harbor_wizard.answers.model import Database
from harbor_wizard.checks import Status, mariadb
from harbor_wizard.checks.mariadb import LOAD_TABLE
from harbor_wizard.profiles.harbor_1_4 import PROFILE
from harbor_wizard.steps.base import StepContext, StepFailed
from harbor_wizard.steps.database import LoadSchema, read_schema
from tests.lab import Lab

pytestmark = pytest.mark.lab

SCHEMA = PROFILE.installer.schema

MYSQL57_MODE = (
    "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION"
)
"""MySQL 5.7's default sql_mode; with explicit_defaults_for_timestamp OFF, its default too."""


def root(lab: Lab) -> pymysql.Connection:
    return pymysql.connect(
        host=lab.mariadb.ip, user="root", password=lab.mariadb.password, autocommit=True
    )


def scalar(lab: Lab, query: str) -> object:
    with root(lab) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        row = cursor.fetchone()
        return row[0] if row else None


def only(results: list, check: str) -> mariadb.CheckResult:
    matching = [r for r in results if r.check == check]
    assert len(matching) == 1, results
    return matching[0]


def check(lab: Lab, user: str = "root", password: str | None = None) -> list:
    database = Database(host=lab.mariadb.ip, port=lab.mariadb.port, user=user)  # type: ignore[arg-type]
    return mariadb.check(database, SecretStr(password or lab.mariadb.password))


def harbor_login(host: str, port: int, user: str, password: str) -> str:
    """Log in as Harbor 1.4's MySQL driver does; "ok" or why it fails."""
    with socket.create_connection((host, port), 5) as sock:

        def packet() -> tuple[int, bytes]:
            head = sock.recv(4, socket.MSG_WAITALL)
            return head[3], sock.recv(int.from_bytes(head[:3], "little"), socket.MSG_WAITALL)

        seq, greeting = packet()
        pos = greeting.index(b"\0", 1) + 1 + 4  # protocol, version, connection id
        seed = greeting[pos : pos + 8]
        pos += 9
        flags = struct.unpack("<H", greeting[pos : pos + 2])[0]
        pos += 2 + 1 + 2 + 2 + 1 + 10
        seed += greeting[pos : pos + 12]
        stage1 = hashlib.sha1(password.encode()).digest()
        mix = hashlib.sha1(seed + hashlib.sha1(stage1).digest()).digest()
        scramble = bytes(a ^ b for a, b in zip(stage1, mix, strict=True)) if password else b""
        client = 0x200 | 0x8000 | 0x1 | 0x2000 | 0x80 | (flags & 0x4)  # packets.go
        body = struct.pack("<IIB", client, 0, 33) + bytes(23) + user.encode() + b"\0"
        body += bytes([len(scramble)]) + scramble
        sock.sendall(len(body).to_bytes(3, "little") + bytes([seq + 1]) + body)
        _, answer = packet()
    if answer[0] == 0x00:
        return "ok"
    if answer[0] == 0xFE:
        return "auth switch requested (ErrOldPassword)"
    return answer[3:].decode(errors="replace")


# --- the login Harbor 1.4 will do ----------------------------------------------------------

ACCOUNTS = {
    "hw_native": "IDENTIFIED BY 'Native-pw1'",
    "hw_ed25519": "IDENTIFIED VIA ed25519 USING PASSWORD('Native-pw1')",
    "hw_socket_first": "IDENTIFIED VIA unix_socket OR mysql_native_password "
    "USING PASSWORD('Native-pw1')",
    "hw_native_first": "IDENTIFIED VIA mysql_native_password USING PASSWORD('Native-pw1') "
    "OR unix_socket",
}


@pytest.fixture
def accounts(lab: Lab) -> Iterator[None]:
    with root(lab) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'"
        )
        installed = bool(cursor.fetchone()[0])  # type: ignore[index]
        if not installed:
            cursor.execute("INSTALL SONAME 'auth_ed25519'")
        for name, how in ACCOUNTS.items():
            cursor.execute(f"CREATE USER '{name}'@'%' {how}")
        try:
            yield
        finally:
            for name in ACCOUNTS:
                cursor.execute(f"DROP USER IF EXISTS '{name}'@'%'")
            if not installed:
                cursor.execute("UNINSTALL SONAME 'auth_ed25519'")


def test_the_auth_check_agrees_with_harbors_own_login(lab: Lab, accounts: None) -> None:
    """pymysql logs in to all four; Harbor's driver to the two whose first method is
    native, and the check says so, with the MariaDB fix for the others."""
    expected = {"hw_native": True, "hw_ed25519": False, "hw_socket_first": False,
                "hw_native_first": True}  # fmt: skip
    for name, works in expected.items():
        login = harbor_login(lab.mariadb.ip, lab.mariadb.port, name, "Native-pw1")
        result = only(check(lab, name, "Native-pw1"), "mariadb.auth")
        assert (login == "ok") is works, (name, login)
        assert (result.status is Status.OK) is works, result
        if not works:
            assert result.message.endswith(
                f"ALTER USER '{name}'@'%' IDENTIFIED VIA mysql_native_password "
                "USING PASSWORD('<database.password>')"
            )
            assert result.field_path == "database.user"
    assert (
        "logs in with ed25519;"
        in only(check(lab, "hw_ed25519", "Native-pw1"), "mariadb.auth").message
    )


def test_flavour_and_version_are_reported(lab: Lab) -> None:
    login = only(check(lab), "mariadb.login")
    assert login.data["flavour"] == "MariaDB"
    assert login.data["galera"] is False
    assert "(MariaDB 10.11." in login.message


# --- a strict global sql_mode ------------------------------------------------------------


@pytest.fixture
def empty(lab: Lab) -> Iterator[None]:
    def clean() -> None:
        with root(lab) as conn, conn.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS registry")
            cursor.execute("DROP DATABASE IF EXISTS harbor_wizard")

    clean()
    try:
        yield
    finally:
        clean()


@pytest.fixture
def global_mode(lab: Lab) -> Iterator[Callable[[str, bool], None]]:
    """Set the server's global sql_mode and explicit_defaults_for_timestamp; restored after."""
    with root(lab) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.sql_mode, @@GLOBAL.explicit_defaults_for_timestamp")
        mode, explicit = cursor.fetchone()  # type: ignore[misc]

        def put(new_mode: str, new_explicit: bool) -> None:
            cursor.execute(
                "SET GLOBAL sql_mode = %s, GLOBAL explicit_defaults_for_timestamp = %s",
                (new_mode, int(new_explicit)),
            )

        try:
            yield put
        finally:
            put(mode, bool(explicit))


def context(lab: Lab) -> StepContext:
    database = Database(host=lab.mariadb.ip, port=lab.mariadb.port, user="root")  # type: ignore[arg-type]
    inputs = SimpleNamespace(
        answers=SimpleNamespace(database=database),
        secrets={"database.password": SecretStr(lab.mariadb.password)},
    )
    return StepContext("database", inputs)  # type: ignore[arg-type]


def run_step(lab: Lab, installer: Path) -> str:
    step = LoadSchema(installer, SCHEMA, lock_wait=5)
    ctx = context(lab)
    change = step.inspect(ctx)
    return "kept" if change is None else step.apply(ctx, change)


def test_a_strict_global_sql_mode_adapts_the_load_and_refuses_for_harbor(
    lab: Lab, empty: None, global_mode: Callable[[str, bool], None]
) -> None:
    global_mode(MYSQL57_MODE, False)
    # The file itself stops under this mode, at the user table (goharbor/harbor#629).
    with root(lab) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE DATABASE registry")
        cursor.execute("USE registry")
        with pytest.raises(pymysql.MySQLError) as stopped:
            cursor.execute("create table t (a int, creation_time timestamp, update_time timestamp)")
        assert stopped.value.args[0] == 1067
        cursor.execute("DROP DATABASE registry")

    result = only(check(lab), "mariadb.sql_mode")
    assert result.status is Status.ERROR
    assert "loads the schema in a session with sql_mode 'NO_ENGINE_SUBSTITUTION'" in result.message
    assert "creating a project fails" in result.message
    fixed = (
        "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
        "NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION"
    )
    assert f"SET GLOBAL sql_mode = '{fixed}'" in result.message

    assert run_step(lab, lab.installer) == "loaded Harbor schema 1.4.0 (17 tables)"

    # What the check says of Harbor's own sessions (the global mode), statement for statement.
    harbor = "insert into project_member (project_id, user_id, role) values (1, 2, 2)"
    policies = (
        "select rp.id, rt.name as target_name, count(rj.status) from replication_policy rp "
        "left join replication_target rt on rp.target_id=rt.id left join replication_job rj "
        'on rp.id=rj.policy_id and (rj.status="error" or rj.status="retrying") '
        "where rp.deleted = 0 group by rp.id order by rp.creation_time"
    )
    with root(lab) as conn, conn.cursor() as cursor:
        cursor.execute("USE registry")
        for statement, code in ((harbor, 1978), (policies, 1055)):
            with pytest.raises(pymysql.MySQLError) as refused:
                cursor.execute(statement)
            assert refused.value.args[0] == code
    global_mode(fixed, False)  # the fix as the check gives it
    with root(lab) as conn, conn.cursor() as cursor:
        cursor.execute("USE registry")
        cursor.execute(harbor)
        cursor.execute(policies)
    assert only(check(lab), "mariadb.sql_mode").status is Status.OK


def test_no_zero_date_without_strict_mode_warns_and_loads(
    lab: Lab, empty: None, global_mode: Callable[[str, bool], None]
) -> None:
    global_mode("NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION", False)
    result = only(check(lab), "mariadb.sql_mode")
    assert result.status is Status.WARNING
    assert "ALTER TABLE" in result.message
    assert run_step(lab, lab.installer) == "loaded Harbor schema 1.4.0 (17 tables)"


# --- a load that stops half-way ----------------------------------------------------------


def installer_with(tmp_path: Path, sql: str) -> Path:
    """An installer holding only ha/registry.sql (all the schema step reads)."""
    path = tmp_path / "harbor-offline-installer-v1.4.0.tgz"
    data = sql.encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(SCHEMA)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def before_project_member(lab: Lab, statement: str) -> str:
    sql = read_schema(lab.installer, SCHEMA)
    assert sql.count("create table project_member") == 1
    return sql.replace("create table project_member", f"{statement};\ncreate table project_member")


def test_a_load_killed_half_way_is_reloaded_by_the_next_run(
    lab: Lab, empty: None, tmp_path: Path
) -> None:
    slow = installer_with(tmp_path, before_project_member(lab, "do sleep(15)"))
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            run_step(lab, slow)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=load)
    thread.start()
    deadline = time.monotonic() + 15
    victim = None
    while victim is None and time.monotonic() < deadline:
        victim = scalar(
            lab, "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'do sleep(15)'"
        )
        time.sleep(0.05)
    assert victim is not None
    scalar(lab, f"KILL CONNECTION {int(victim)}")  # type: ignore[call-overload]
    thread.join(30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], StepFailed)
    assert scalar(lab, "SELECT COUNT(*) FROM information_schema.TABLES "
                       "WHERE TABLE_SCHEMA = 'registry'") == 4  # fmt: skip

    schema = only(check(lab), "mariadb.schema")
    assert schema.status is Status.OK
    assert "'registry' was partly loaded by harbor-wizard (" in schema.message
    assert "4 tables) and holds no data beyond registry.sql's own rows" in schema.message

    assert run_step(lab, lab.installer) == "loaded Harbor schema 1.4.0 (17 tables)"
    assert scalar(lab, f"SELECT state FROM {LOAD_TABLE}") == "finished"
    assert scalar(lab, "SELECT COUNT(*) FROM registry.user") == 2
    assert run_step(lab, lab.installer) == "kept"


def test_a_partly_loaded_database_holding_data_is_never_touched(
    lab: Lab, empty: None, tmp_path: Path
) -> None:
    broken = installer_with(
        tmp_path, before_project_member(lab, "insert into no_such_table values (1)")
    )
    with pytest.raises(StepFailed, match="no_such_table"):
        run_step(lab, broken)
    with root(lab) as conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry.user (username, email, password, realname)"
            " VALUES ('bob', 'bob@example.com', 'x', 'Bob')"
        )

    schema = only(check(lab), "mariadb.schema")
    assert schema.status is Status.ERROR
    assert "and now holds data (user: 3 rows where registry.sql inserts 2)" in schema.message
    assert "harbor-wizard will not touch it" in schema.message
    with pytest.raises(StepFailed, match=r"user: 3 rows where registry.sql inserts 2"):
        run_step(lab, lab.installer)
    assert scalar(lab, "SELECT COUNT(*) FROM registry.user WHERE username = 'bob'") == 1
    assert scalar(lab, "SELECT COUNT(*) FROM information_schema.TABLES "
                       "WHERE TABLE_SCHEMA = 'registry'") == 4  # fmt: skip
