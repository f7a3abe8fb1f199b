"""Redis as Harbor 2.x meets it, on the lab's Redis 7.0 (redis01: :6379 without a password,
:6380 with requirepass): every AUTH outcome named at `redis.password`, Sentinel (started
here, watching :6380) with and without its own requirepass, the role, the database indexes
(also for an ACL user refused CONFIG), and a silent host.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis as redis_client
from pydantic import SecretStr

from harbor_wizard.checks import Status, ha
from harbor_wizard.checks.redis import redis_checks_2x
from harbor_wizard.checks.result import CheckResult
from tests.lab import Lab
from tests.lab.services import Redis, Sentinel

pytestmark = pytest.mark.lab

INDEXES = {"registry_db_index": 1, "jobservice_db_index": 2, "trivy_db_index": 5}
SENTINEL_PASSWORD = "Sentinel-own-pw"
SILENT = "no answer for 5 s (host down or its packets dropped)"


def by_check(results: list[CheckResult]) -> dict[str, list[CheckResult]]:
    found: dict[str, list[CheckResult]] = {}
    for result in results:
        found.setdefault(result.check, []).append(result)
    return found


def one(results: list[CheckResult], check: str) -> CheckResult:
    matching = by_check(results).get(check, [])
    assert len(matching) == 1, results
    return matching[0]


def password(lab: Lab) -> SecretStr:
    assert lab.redis_auth.password
    return SecretStr(lab.redis_auth.password)


@pytest.fixture(scope="module")
def sentinels(lab: Lab) -> Iterator[tuple[Sentinel, Sentinel]]:
    """Two sentinels on redis01 watching :6380 as 'harbor': :26379 open, :26380 with its own
    requirepass."""
    host = lab["redis01"]
    open_one = Sentinel(host, lab.redis_auth, 26379)
    locked = Sentinel(host, lab.redis_auth, 26380, password=SENTINEL_PASSWORD)
    started: list[Sentinel] = []
    try:
        for sentinel in (open_one, locked):
            sentinel.setup()
            started.append(sentinel)
        yield open_one, locked
    finally:
        for sentinel in started:
            sentinel.stop()


# --- AUTH ------------------------------------------------------------------------------------


def test_the_right_password_passes_everything(lab: Lab) -> None:
    results = redis_checks_2x([lab.redis_auth.endpoint], password(lab), db_indexes=INDEXES)
    assert [(r.check, r.status) for r in results] == [
        ("redis.ping", Status.OK), ("redis.auth", Status.OK), ("redis.role", Status.OK),
        ("redis.db_index", Status.OK),
    ]  # fmt: skip
    where = f"Redis at {lab.redis_auth.endpoint}"
    assert results[1].message == f"{where} accepted the password"
    assert results[2].message == f"{where} is a master (writable)"
    assert results[3].message == (
        f"{where} has 16 databases: every index Harbor uses exists "
        "(jobservice_db_index 2, registry_db_index 1, trivy_db_index 5)"
    )
    assert lab.redis_auth.password not in " ".join(r.message for r in results)


def test_noauth_names_the_missing_password(lab: Lab) -> None:
    results = redis_checks_2x([lab.redis_auth.endpoint], None)
    auth = one(results, "redis.auth")
    assert [r.check for r in results] == ["redis.auth"]
    assert auth.status is Status.ERROR
    assert auth.field_path == "redis.password"
    assert auth.message == (
        f"Redis at {lab.redis_auth.endpoint} requires a password (NOAUTH Authentication "
        "required) and redis.password is empty: set it to the server's password (requirepass)"
    )


def test_a_wrong_password_is_named(lab: Lab) -> None:
    auth = one(redis_checks_2x([lab.redis_auth.endpoint], SecretStr("wrong-one")), "redis.auth")
    assert auth.status is Status.ERROR
    assert auth.field_path == "redis.password"
    assert auth.message == (
        f"Redis at {lab.redis_auth.endpoint} refused the password (WRONGPASS): "
        "redis.password is not the server's"
    )
    assert "wrong-one" not in auth.message


def test_a_password_the_server_does_not_want_is_named(lab: Lab) -> None:
    """redis-py's own login (HELLO AUTH default ...) would pass here; Harbor's redigo sends
    AUTH <password> and is refused: the check speaks as redigo."""
    auth = one(redis_checks_2x([lab.redis.endpoint], SecretStr("unneeded")), "redis.auth")
    assert auth.status is Status.ERROR
    assert auth.field_path == "redis.password"
    assert auth.message.startswith(
        f"Redis at {lab.redis.endpoint} has no password set, but redis.password gives one"
    )


def test_no_password_on_an_open_server_passes(lab: Lab) -> None:
    results = redis_checks_2x([lab.redis.endpoint], None, db_indexes=INDEXES)
    assert all(r.status is Status.OK for r in results), results
    assert one(results, "redis.auth").message == f"Redis at {lab.redis.endpoint} needs no password"


# --- database indexes --------------------------------------------------------------------------


def test_an_index_beyond_the_servers_databases_is_named(lab: Lab) -> None:
    results = redis_checks_2x(
        [lab.redis_auth.endpoint], password(lab), db_indexes={**INDEXES, "trivy_db_index": 16}
    )
    index = one(results, "redis.db_index")
    assert index.status is Status.ERROR
    assert index.field_path == "redis.trivy_db_index"
    assert index.message == (
        f"Redis at {lab.redis_auth.endpoint} has databases 0-15: redis.trivy_db_index = 16 is "
        "not one of them: choose an index the server has, or raise `databases` in its "
        "configuration"
    )


@pytest.fixture
def acl_user(lab: Lab) -> Iterator[str]:
    """A Redis 6+ ACL user that may not run CONFIG (managed services' habit)."""
    admin = redis_client.Redis(host=lab.redis_auth.ip, port=lab.redis_auth.port,
                               password=lab.redis_auth.password)  # fmt: skip
    admin.execute_command("ACL", "SETUSER", "harbor", "on", ">Acl-user-pw", "~*", "&*",
                          "+@all", "-config")  # fmt: skip
    try:
        yield "harbor"
    finally:
        admin.execute_command("ACL", "DELUSER", "harbor")
        admin.close()


def test_an_acl_user_refused_config_has_its_indexes_tried_with_select(
    lab: Lab, acl_user: str
) -> None:
    good = redis_checks_2x(
        [lab.redis_auth.endpoint], SecretStr("Acl-user-pw"), acl_user, db_indexes=INDEXES
    )
    assert all(r.status is Status.OK for r in good), good
    assert one(good, "redis.auth").message.endswith("accepted the password of user 'harbor'")
    assert one(good, "redis.db_index").message == (
        f"Redis at {lab.redis_auth.endpoint} every index Harbor uses exists "
        "(jobservice_db_index 2, registry_db_index 1, trivy_db_index 5)"
    )
    bad = redis_checks_2x(
        [lab.redis_auth.endpoint], SecretStr("Acl-user-pw"), acl_user,
        db_indexes={"registry_db_index": 40},
    )  # fmt: skip
    index = one(bad, "redis.db_index")
    assert index.status is Status.ERROR
    assert index.field_path == "redis.registry_db_index"
    wrong = one(redis_checks_2x([lab.redis_auth.endpoint], SecretStr("x"), acl_user), "redis.auth")
    assert wrong.message.startswith(
        f"Redis at {lab.redis_auth.endpoint} refused the password of user 'harbor' (WRONGPASS)"
    )


# --- role ----------------------------------------------------------------------------------------


def test_a_replica_is_refused(lab: Lab) -> None:
    replica = Redis(lab["redis01"], 6381)
    replica.setup()
    try:
        client = redis_client.Redis(host=replica.ip, port=replica.port)
        client.execute_command("REPLICAOF", lab.redis.ip, lab.redis.port)
        client.close()
        role = one(redis_checks_2x([replica.endpoint]), "redis.role")
    finally:
        replica.stop()
    assert role.status is Status.ERROR
    assert role.field_path == "redis.endpoints"
    assert role.message.startswith(
        f"Redis at {replica.endpoint} is a read-only replica of {lab.redis.endpoint}: "
    )


# --- Sentinel ----------------------------------------------------------------------------------


def test_the_master_is_discovered_through_sentinel(
    lab: Lab, sentinels: tuple[Sentinel, Sentinel]
) -> None:
    sentinel, _ = sentinels
    results = redis_checks_2x([sentinel.endpoint], password(lab), None, "harbor", INDEXES)
    assert [(r.check, r.status) for r in results] == [
        ("redis.sentinel", Status.OK), ("redis.ping", Status.OK), ("redis.auth", Status.OK),
        ("redis.role", Status.OK), ("redis.db_index", Status.OK),
    ]  # fmt: skip
    assert results[0].message == (
        f"Sentinel at {sentinel.endpoint}: master 'harbor' is at {lab.redis_auth.endpoint}"
    )
    assert results[3].message == (
        f"Redis master 'harbor' at {lab.redis_auth.endpoint} (from Sentinel) is a master (writable)"
    )


def test_an_unknown_master_set_is_named(lab: Lab, sentinels: tuple[Sentinel, Sentinel]) -> None:
    sentinel, _ = sentinels
    results = redis_checks_2x([sentinel.endpoint], password(lab), None, "mymaster", INDEXES)
    assert [r.check for r in results] == ["redis.sentinel"]
    assert results[0].status is Status.ERROR
    assert results[0].field_path == "redis.sentinel_master_set"
    assert results[0].message == (
        f"Sentinel at {sentinel.endpoint} watches no master named 'mymaster' (it watches: "
        "harbor): set redis.sentinel_master_set to the name of its `sentinel monitor` line"
    )


def test_a_sentinel_with_a_password_is_refused(
    lab: Lab, sentinels: tuple[Sentinel, Sentinel]
) -> None:
    _, locked = sentinels
    results = redis_checks_2x([locked.endpoint], password(lab), None, "harbor", INDEXES)
    assert [r.check for r in results] == ["redis.sentinel"]
    assert results[0].status is Status.ERROR
    assert results[0].field_path == "redis.endpoints"
    assert results[0].message == (
        f"Sentinel at {locked.endpoint} requires a password (requirepass in its "
        "sentinel.conf): Harbor 2.x cannot authenticate to Sentinel (goharbor/harbor#14757, "
        "#16629): remove requirepass from the sentinels and protect them by network instead"
    )


def test_one_open_and_one_locked_sentinel(lab: Lab, sentinels: tuple[Sentinel, Sentinel]) -> None:
    """The master is still found (Harbor skips the locked one), and the locked one is an error."""
    open_one, locked = sentinels
    results = redis_checks_2x(
        [locked.endpoint, open_one.endpoint], password(lab), None, "harbor", INDEXES
    )
    sentinel_results = by_check(results)["redis.sentinel"]
    assert [r.status for r in sentinel_results] == [Status.ERROR, Status.OK]
    assert one(results, "redis.role").status is Status.OK


def test_a_redis_server_listed_as_a_sentinel_is_named(lab: Lab) -> None:
    results = redis_checks_2x([lab.redis.endpoint], None, None, "harbor")
    assert [r.check for r in results] == ["redis.sentinel"]
    assert results[0].message.startswith(f"{lab.redis.endpoint} is not a Sentinel")
    assert results[0].field_path == "redis.endpoints"


def test_a_sentinel_listed_as_the_server_is_named(
    lab: Lab, sentinels: tuple[Sentinel, Sentinel]
) -> None:
    sentinel, _ = sentinels
    role = one(redis_checks_2x([sentinel.endpoint]), "redis.role")
    assert role.status is Status.ERROR
    assert "is a Sentinel, not a Redis server: set redis.sentinel_master_set" in role.message


# --- silent ------------------------------------------------------------------------------------


def test_silent_redis_and_sentinels_time_out(
    lab: Lab, sentinels: tuple[Sentinel, Sentinel]
) -> None:
    open_one, locked = sentinels
    lab["redis01"].partition()
    try:
        start = time.monotonic()
        plain = redis_checks_2x([lab.redis_auth.endpoint], password(lab), db_indexes=INDEXES)
        through = redis_checks_2x(
            [open_one.endpoint, locked.endpoint], password(lab), None, "harbor", INDEXES
        )
        took = time.monotonic() - start
    finally:
        lab["redis01"].heal()
    assert took < 15  # 5 s each: the sentinels are asked at once
    assert [(r.check, r.status, r.message) for r in plain] == [
        ("redis.ping", Status.ERROR, f"Redis at {lab.redis_auth.endpoint}: {SILENT}")
    ]
    assert [(r.check, r.status, r.message) for r in through] == [
        ("redis.sentinel", Status.ERROR, f"Sentinel at {open_one.endpoint}: {SILENT}"),
        ("redis.sentinel", Status.ERROR, f"Sentinel at {locked.endpoint}: {SILENT}"),
    ]


def test_the_ha_probe_does_not_repeat_a_refused_login_in_the_driver_s_words(lab: Lab) -> None:
    result = ha.redis_ha(lab.redis_auth.endpoint, SecretStr("not-the-password-1"))[0]
    assert result.status is Status.WARNING
    assert "refused the login (the Redis password check says why)" in result.message
    assert "username-password" not in result.message
