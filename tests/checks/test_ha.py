"""HA-readiness: the verdicts as case tables, then the lab, which deserves its warnings.

The lab has one Redis, one MariaDB, one PostgreSQL, a registry directory that is a bind
mount of a local directory, and no /data/job_logs shared between nodes: each of those is a
warning with its reason, and none is an error. `--strict` makes them a failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_client

from harbor_wizard.checks import Status, ha, run_all, shared_fs
from harbor_wizard.checks.result import CheckResult
from harbor_wizard.cli import main
from tests.lab import Lab
from tests.lab.services import Redis
from tests.support.lab_answers import lab_answers, lab_secrets

W = "X at h:1"

# --- verdicts (no lab) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "replicas", "sentinels", "status", "words"),
    [
        ("master", 0, 0, Status.WARNING, "has no replica and no Sentinel watches it"),
        ("master", 0, 3, Status.WARNING, "3 Sentinel(s) watch it but there is no replica"),
        ("master", 1, 0, Status.OK, "1 replica(s); no Sentinel seen, so failover is manual"),
        ("master", 2, 3, Status.OK, "2 replica(s); 3 Sentinel(s) handle failover"),
        ("slave", 0, 0, Status.ERROR, "is a replica (role slave), read-only by default"),
    ],
)
def test_redis_verdict(
    role: str, replicas: int, sentinels: int, status: Status, words: str
) -> None:
    got_status, message = ha.redis_verdict(W, role, replicas, sentinels)
    assert got_status is status
    assert words in message


@pytest.mark.parametrize(
    ("cluster", "replicas", "sources", "status", "words"),
    [
        (3, 0, 0, Status.OK, "Galera cluster of 3 nodes"),
        (None, 2, 0, Status.OK, "2 replica(s) connected"),
        (None, 0, 1, Status.OK, "replicates from 1 source(s)"),
        (None, 0, 0, Status.WARNING, "no Galera cluster, no replica and no source"),
        (1, 0, 0, Status.WARNING, "a Galera node alone in its cluster"),
        (None, None, None, Status.WARNING, "cannot tell whether it is replicated"),
    ],
)
def test_mariadb_verdict(
    cluster: int | None, replicas: int | None, sources: int | None, status: Status, words: str
) -> None:
    got_status, message = ha.mariadb_verdict(W, cluster, replicas, sources)
    assert got_status is status
    assert words in message
    if status is Status.WARNING:
        assert "single point of failure" in message
        assert "Galera" in message


@pytest.mark.parametrize(
    ("in_recovery", "replicas", "status", "words"),
    [
        (False, 0, Status.WARNING, "no streaming replica"),
        (False, 2, Status.OK, "streams to 2 replica(s)"),
        (True, 0, Status.ERROR, "is a standby (in recovery), read-only"),
    ],
)
def test_postgres_verdict(in_recovery: bool, replicas: int, status: Status, words: str) -> None:
    got_status, message = ha.postgres_verdict(W, in_recovery, replicas)
    assert got_status is status
    assert words in message


@pytest.mark.parametrize("fstype", ["nfs", "nfs4", "ceph", "fuse.glusterfs", "cifs", "gpfs"])
def test_network_filesystems(fstype: str) -> None:
    assert shared_fs.network_filesystem(fstype)


@pytest.mark.parametrize("fstype", ["ext4", "xfs", "ext2/ext3", "tmpfs", "overlay", "fuse", ""])
def test_local_filesystems(fstype: str) -> None:
    assert not shared_fs.network_filesystem(fstype)


# --- the lab ---------------------------------------------------------------------------------


def warnings_of(results: list[CheckResult]) -> dict[tuple[str, str], str]:
    """(check, target) -> message of every warning but free space (the machine's, not the lab's)."""
    return {
        (r.check, r.target): r.message
        for r in results
        if r.status is Status.WARNING and r.check != "node.space"
    }


def test_healthy_lab_shows_exactly_the_warnings_it_deserves(lab: Lab) -> None:
    results = run_all(lab_answers(lab), lab_secrets(lab), lab.dir)
    assert [r for r in results if r.status is Status.ERROR] == []
    nodes = [h.name for h in lab.harbor_nodes]
    found = warnings_of(results)
    expected = {
        ("redis.ha", "redis"),
        ("mariadb.ha", "database"),
        ("postgres.ha", "clair_database"),
        *(("storage.network_fs", n) for n in nodes),
        *(("storage.job_logs", n) for n in nodes),
    }
    assert set(found) == expected
    assert found[("redis.ha", "redis")].startswith(
        f"Redis at {lab.redis.endpoint} has no replica and no Sentinel watches it"
    )
    assert found[("mariadb.ha", "database")].startswith(
        f"MariaDB at {lab.mariadb.ip}:3306 has no Galera cluster, no replica and no source"
    )
    assert found[("postgres.ha", "clair_database")].startswith(
        f"PostgreSQL at {lab.postgres.ip}:5432 has no streaming replica"
    )
    for node in nodes:
        network_fs = found[("storage.network_fs", node)]
        assert network_fs.startswith(f"{node}: /data/registry is on ")
        assert "not a network or cluster filesystem" in network_fs
        job_logs = found[("storage.job_logs", node)]
        assert job_logs.startswith(f"{node}: /data/job_logs ")
        assert "goharbor/harbor#3919" in job_logs
    clocks = [r for r in results if r.check == "node.clock"]
    assert sorted(r.target for r in clocks) == sorted(nodes)
    assert {r.status for r in clocks} == {Status.OK}


def test_strict_turns_the_warnings_into_a_failure(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = lab.write_answers(tmp_path)
    files = ["--answers", str(answers), "--secrets", str(secrets)]
    assert main(["check", *files, "--strict"]) == 1
    out = capsys.readouterr().out
    assert "0 error(s)" in out
    assert "(--strict: warnings count as failures)" in out
    assert main([*files, "--strict", "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert "phase 'preflight' failed: operator/checks" in captured.err
    assert "check(s) failed, e.g." in " ".join(captured.out.split())
    assert not lab["harbor01"].path("/opt/harbor").exists()


@pytest.fixture
def redis_replica(lab: Lab) -> Iterator[Redis]:
    """A second redis-server on redis01:6381 replicating the lab's Redis; removed after."""
    replica = Redis(lab["redis01"], 6381)
    replica.setup()
    master = redis_client.Redis(lab.redis.ip, lab.redis.port)
    try:
        redis_client.Redis(replica.ip, replica.port).replicaof(lab.redis.ip, lab.redis.port)
        _wait(lambda: master.info("replication")["connected_slaves"] == 1)
        yield replica
    finally:
        replica.stop()
        _wait(lambda: master.info("replication")["connected_slaves"] == 0)
        master.close()


def _wait(condition: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_redis_with_a_replica_is_ha_and_the_replica_is_no_endpoint(
    lab: Lab, redis_replica: Redis
) -> None:
    master = ha.redis_ha(lab.redis.endpoint)[0]
    assert master.status is Status.OK
    assert master.message == (
        f"Redis at {lab.redis.endpoint} is a master with 1 replica(s); no Sentinel seen, "
        "so failover is manual"
    )
    replica = ha.redis_ha(redis_replica.endpoint)[0]
    assert replica.status is Status.ERROR
    assert f"Redis at {redis_replica.endpoint} is a replica" in replica.message
    assert replica.field_path == "redis.endpoints"


def test_a_service_that_does_not_answer_is_a_warning_not_silence(lab: Lab) -> None:
    lab.redis.stop()
    try:
        result = ha.redis_ha(lab.redis.endpoint, timeout=2.0)[0]
    finally:
        lab.redis.start()
    assert result.status is Status.WARNING
    assert result.message.startswith(
        f"Redis at {lab.redis.endpoint}: cannot tell whether it is highly available"
    )
