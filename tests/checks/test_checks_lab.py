"""Every failure class of the live checks, set up for real in the lab; and a healthy lab.

Each test breaks one real thing, asserts the status and that the message names the host,
port or field, and puts the thing back (the lab is shared by the whole session).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from pydantic import SecretStr

from harbor_wizard.answers.model import Answers, Database
from harbor_wizard.checks import (
    CheckOptions,
    Status,
    hosts,
    installer,
    mariadb,
    redis,
    run_all,
    ssh,
    vip,
)
from harbor_wizard.connection import SshTarget
from tests.lab import Lab
from tests.support.lab_answers import lab_answers, lab_secrets

pytestmark = pytest.mark.lab


def target(lab: Lab, name: str, **changes: object) -> SshTarget:
    base = SshTarget(name, lab[name].ip, "root", 22, lab.key_path, lab.known_hosts_path)
    return SshTarget(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def only(results: list, check: str) -> object:
    matching = [r for r in results if r.check == check]
    assert len(matching) == 1, results
    return matching[0]


def test_healthy_lab_passes_every_check(lab: Lab) -> None:
    answers = lab_answers(lab)
    results = run_all(answers, lab_secrets(lab), lab.dir)
    errors = [r for r in results if r.status is Status.ERROR]
    assert errors == []
    checks = {r.check for r in results}
    expected = {"ssh.login", "ssh.sudo", "ssh.os", "lb.interface", "lb.keepalived",
                "lb.haproxy", "node.docker", "node.docker_compose", "node.python2",
                "node.openssl", "node.space", "storage.shared", "storage.owner", "vip",
                "mariadb.login", "mariadb.schema", "mariadb.privileges", "postgres.login",
                "redis.ping", "installer", "node.clock", "storage.network_fs",
                "storage.job_logs", "redis.ha", "mariadb.ha", "postgres.ha"}  # fmt: skip
    assert expected <= checks
    for result in results:
        assert result.seconds >= 0


# --- databases and Redis -----------------------------------------------------------------


def db(lab: Lab, **changes: object) -> Database:
    return Database(host=lab.mariadb.ip, port=lab.mariadb.port, user="root", **changes)  # type: ignore[arg-type]


def test_wrong_db_password(lab: Lab) -> None:
    result = only(mariadb.check(db(lab), SecretStr("not-the-password")), "mariadb.login")
    assert result.status is Status.ERROR
    assert result.message == (
        f"MariaDB at {lab.mariadb.ip}:3306 refused the password for user 'root'"
    )
    assert result.field_path == "database.password"
    assert "not-the-password" not in result.message


def test_db_stopped_is_refused(lab: Lab) -> None:
    lab.mariadb.stop()
    try:
        result = only(mariadb.check(db(lab), SecretStr(lab.mariadb.password)), "mariadb.login")
    finally:
        lab.mariadb.start()
    assert result.status is Status.ERROR
    assert f"{lab.mariadb.ip}:3306" in result.message
    assert "refused" in result.message


@pytest.fixture
def limited_user(lab: Lab) -> Iterator[tuple[str, str]]:
    conn = pymysql.connect(host=lab.mariadb.ip, user="root", password=lab.mariadb.password)
    with conn, conn.cursor() as cursor:
        cursor.execute("CREATE USER 'limited'@'%' IDENTIFIED BY 'limited-Pw1'")
        cursor.execute("GRANT SELECT ON mysql.* TO 'limited'@'%'")
        try:
            yield "limited", "limited-Pw1"
        finally:
            cursor.execute("DROP USER 'limited'@'%'")


def test_missing_privileges(lab: Lab, limited_user: tuple[str, str]) -> None:
    user, password = limited_user
    results = mariadb.check(db(lab).model_copy(update={"user": user}), SecretStr(password))
    result = only(results, "mariadb.privileges")
    assert result.status is Status.ERROR
    assert "user 'limited' may not CREATE the 'registry' database" in result.message
    assert result.field_path == "database.user"


def test_existing_schema_is_reported_not_an_error(lab: Lab) -> None:
    sql = (
        (lab.dir / "installer" / "registry.sql").read_text()
        if (lab.dir / "installer" / "registry.sql").exists()
        else None
    )
    conn = pymysql.connect(
        host=lab.mariadb.ip, user="root", password=lab.mariadb.password,
        client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
    )  # fmt: skip
    with conn, conn.cursor() as cursor:
        if sql is None:
            import tarfile

            with tarfile.open(lab.installer) as archive:
                member = archive.extractfile("harbor/ha/registry.sql")
                assert member is not None
                sql = member.read().decode()
        cursor.execute(sql)
        while cursor.nextset():
            pass
        conn.commit()
        try:
            results = mariadb.check(db(lab), SecretStr(lab.mariadb.password))
        finally:
            cursor.execute("DROP DATABASE registry")
    result = only(results, "mariadb.schema")
    assert result.status is Status.OK
    assert "Harbor schema 1.4.0 already there (17 tables)" in result.message
    assert "never reloaded" in result.message


def test_redis_down(lab: Lab) -> None:
    lab.redis.stop()
    try:
        result = redis.check(lab.redis.endpoint)[0]
    finally:
        lab.redis.start()
    assert result.status is Status.ERROR
    assert result.message == f"Redis at {lab.redis.endpoint}: connection refused"


def test_redis_needing_a_password(lab: Lab) -> None:
    result = redis.check(lab.redis_auth.endpoint)[0]
    assert result.status is Status.ERROR
    assert f"Redis at {lab.redis_auth.endpoint} requires a password" in result.message
    assert "Harbor 1.4" in result.message


# --- SSH -------------------------------------------------------------------------------


def test_link_cut_times_out_within_the_bound(lab: Lab) -> None:
    lab["harbor02"].cut_link()
    try:
        start = time.monotonic()
        results, connection = ssh.open_host(target(lab, "harbor02"), timeout=2.0)
        took = time.monotonic() - start
    finally:
        lab["harbor02"].restore_link()
    assert connection is None
    assert took < 4.0
    result = results[0]
    assert result.status is Status.ERROR
    assert f"harbor02 ({lab['harbor02'].ip}:22) is not reachable" in result.message
    assert "no answer within 2 s" in result.message


def test_wrong_ssh_key(lab: Lab, tmp_path: Path) -> None:
    import subprocess

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    results, connection = ssh.open_host(target(lab, "lb01", identity_file=other))
    assert connection is None
    assert results[0].status is Status.ERROR
    assert results[0].message == (
        f"lb01 ({lab['lb01'].ip}:22) refused the key {other} for user 'root'"
    )


def test_changed_host_key_shows_both_fingerprints(lab: Lab) -> None:
    old = lab["harbor03"].host_key_fingerprint()
    new = lab["harbor03"].replace_host_key()
    try:
        results, connection = ssh.open_host(target(lab, "harbor03"))
    finally:
        lab.write_known_hosts()
    assert connection is None
    result = results[0]
    assert result.check == "ssh.host_key"
    assert result.status is Status.ERROR
    assert "CHANGED" in result.message
    assert old in result.message
    assert new in result.message


def test_unknown_host_key_needs_explicit_acceptance(lab: Lab, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    results, connection = ssh.open_host(target(lab, "lb02", known_hosts=known))
    assert connection is None
    fingerprint = lab["lb02"].host_key_fingerprint()
    assert results[0].data["offered"] == fingerprint
    assert fingerprint in results[0].message
    accepted = frozenset({fingerprint})
    results, connection = ssh.open_host(target(lab, "lb02", known_hosts=known), accepted)
    assert connection is not None
    connection.close()
    assert lab["lb02"].host_public_key.split()[1] in known.read_text()


@pytest.fixture
def deploy_user(lab: Lab) -> Iterator[str]:
    """A user `deploy` on db01 that may log in but is not in sudoers (private /etc/passwd)."""
    host = lab["db01"]
    userdb = host.dir / "userdb"
    host.run(
        f"mkdir -p {userdb} && cp /etc/passwd /etc/group /etc/shadow {userdb}/ && "
        f"echo 'deploy:x:1500:1500:deploy:{host.dir}/home:/bin/sh' >> {userdb}/passwd && "
        f"echo 'deploy:x:1500:' >> {userdb}/group && "
        f"echo 'deploy:*:19000:0:99999:7:::' >> {userdb}/shadow && "
        f"for f in passwd group shadow; do mount --bind {userdb}/$f /etc/$f; done"
    )
    try:
        yield "deploy"
    finally:
        host.run("umount /etc/passwd /etc/group /etc/shadow", check=False)


def test_user_without_sudo(lab: Lab, deploy_user: str) -> None:
    results, connection = ssh.open_host(target(lab, "db01", user=deploy_user))
    assert connection is not None, results
    try:
        result = ssh.sudo(target(lab, "db01", user=deploy_user), connection)[0]
    finally:
        connection.close()
    assert result.status is Status.ERROR
    assert "db01: user 'deploy' cannot sudo without a password" in result.message


# --- VIP, storage, installer ---------------------------------------------------------


def test_vip_already_in_use(lab: Lab) -> None:
    lab["db01"].run(f"ip addr add {lab.vip}/32 dev eth0")
    try:
        result = vip.check(ipaddress.IPv4Address(lab.vip))[0]
    finally:
        lab["db01"].run(f"ip addr del {lab.vip}/32 dev eth0")
    assert result.status is Status.ERROR
    assert f"the VIP {lab.vip} is already in use" in result.message
    assert result.field_path == "vip"
    assert vip.check(ipaddress.IPv4Address(lab.vip))[0].status is Status.OK


def test_the_vip_is_asked_of_its_segment_from_a_load_balancer(lab: Lab) -> None:
    """From a load balancer (on the VIP's segment by definition) ARP tells at once that
    nobody has a free address, where a TCP probe waits out its time-out; and it names a
    machine that has the address but answers no port (a firewall that drops)."""
    base = lab.subnet.network.network_address  # .17 and .18: no host, no test's client
    unused, address = ipaddress.IPv4Address(str(base + 17)), ipaddress.IPv4Address(str(base + 18))
    _, connection = ssh.open_host(target(lab, "lb01"))
    assert connection is not None
    holder = lab["db01"]
    try:
        free = vip.check(unused, segment=(connection, "eth0"))[0]
        assert free.status is Status.OK
        assert free.message == f"the VIP {unused} is free (nobody on its segment answers ARP)"
        holder.run(f"ip addr add {address}/32 dev eth0")
        holder.run(f"iptables -I INPUT -d {address} -j DROP")
        silent = vip.check(address, timeout=1.0, segment=(connection, "eth0"))[0]
        assert silent.status is Status.ERROR
        assert f"the VIP {address} is already in use (answered by " in silent.message
        assert "though no port answers" in silent.message
        # Without the segment's word (no connection to a load balancer) only TCP is left,
        # and a machine that drops everything looks like a free address.
        assert vip.check(address, timeout=1.0)[0].status is Status.OK
    finally:
        holder.run(f"iptables -D INPUT -d {address} -j DROP || true")
        holder.run(f"ip addr del {address}/32 dev eth0 || true")
        for lb in lab.lbs:  # what lb01 learnt about them, for the tests after this one
            lb.run(f"ip neigh flush to {unused}; ip neigh flush to {address}")
        connection.close()


def test_storage_not_shared_on_one_node(lab: Lab) -> None:
    names = [h.name for h in lab.harbor_nodes] + [h.name for h in lab.unshared_nodes]
    connections = {}
    try:
        for name in names:
            _, connection = ssh.open_host(target(lab, name))
            assert connection is not None
            connections[name] = connection
        results = hosts.shared_registry(connections)
    finally:
        for connection in connections.values():
            connection.close()
    unshared = lab.unshared_nodes[0].name
    bad = [r for r in results if r.status is Status.ERROR]
    assert [r.target for r in bad] == [unshared]
    assert f"{unshared}: /data/registry is not shared with harbor01" in bad[0].message
    leftovers = list(Path(lab.dir / "shared-registry").glob(".harbor-wizard-*"))
    assert leftovers == []


def test_installer_that_is_not_harbor(tmp_path: Path) -> None:
    import tarfile

    fake = tmp_path / "harbor-offline-installer-v1.4.0.tgz"
    with tarfile.open(fake, "w:gz") as archive:
        readme = tmp_path / "README"
        readme.write_text("not harbor")
        archive.add(readme, "harbor/README")
    result = installer.check(fake, "1.4.0")[0]
    assert result.status is Status.ERROR
    assert "is not a Harbor 1.4 offline installer" in result.message
    assert "harbor/ha/registry.sql" in result.message
    assert result.field_path == "harbor.installer"
    missing = installer.check(tmp_path / "nope.tgz", "1.4.0")[0]
    assert "does not exist" in missing.message


def test_run_all_with_an_unreachable_host_is_bounded(lab: Lab) -> None:
    answers: Answers = lab_answers(lab)
    lab["harbor02"].cut_link()
    try:
        start = time.monotonic()
        results = run_all(answers, lab_secrets(lab), lab.dir, CheckOptions(timeout=2.0))
        took = time.monotonic() - start
    finally:
        lab["harbor02"].restore_link()
    bad = [r for r in results if r.status is Status.ERROR]
    assert [r.target for r in bad] == ["harbor02"]
    assert took < 15
