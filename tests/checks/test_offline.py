"""Checks that need no lab: TLS files, grant parsing, OS facts parsing, storage endpoints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from harbor_wizard.answers import loads
from harbor_wizard.answers.model import Storage
from harbor_wizard.checks import Status, mariadb, storage, tls
from harbor_wizard.checks.ssh import parse_os_release
from tests.support.deployment import https
from tests.support.tlsfiles import Ca, write_other_key, write_tls

NOW = dt.datetime.now(dt.UTC)


def statuses(tmp_path: Path) -> dict[str, tuple[Status, str]]:
    answers = loads(https()).answers
    return {r.check: (r.status, r.message) for r in tls.check(answers, tmp_path)}


def test_good_certificate(tmp_path: Path) -> None:
    write_tls(tmp_path)
    assert {s for s, _ in statuses(tmp_path).values()} == {Status.OK}


def test_expiring_within_30_days_is_a_warning(tmp_path: Path) -> None:
    write_tls(tmp_path, not_after=NOW + dt.timedelta(days=12))
    status, message = statuses(tmp_path)["tls.validity"]
    assert status is Status.WARNING
    assert "in 11 days" in message or "in 12 days" in message
    assert "replace the certificate files and run harbor-wizard again" in message


def test_expired_mismatched_uncovered_and_foreign_ca(tmp_path: Path) -> None:
    write_tls(
        tmp_path,
        names=["other.example.com"],
        not_before=NOW - dt.timedelta(days=60),
        not_after=NOW - dt.timedelta(days=1),
    )
    write_other_key(tmp_path / "server.key")
    (tmp_path / "ca.crt").write_bytes(
        Ca.create("Other").cert.public_bytes(serialization.Encoding.PEM)
    )
    found = statuses(tmp_path)
    assert found["tls.key"][0] is Status.ERROR
    assert found["tls.validity"][0] is Status.ERROR
    assert found["tls.names"] == (
        Status.ERROR,
        "the certificate does not cover registry.example.com (it names other.example.com)",
    )
    assert found["tls.chain"][0] is Status.ERROR


def test_grants_that_allow_creating_registry() -> None:
    assert mariadb.can_create(["GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION"])
    assert mariadb.can_create(
        ["GRANT USAGE ON *.* TO `h`@`%`", "GRANT ALL PRIVILEGES ON `registry`.* TO `h`@`%`"]
    )
    assert mariadb.can_create(["GRANT SELECT, CREATE ON *.* TO `h`@`%`"])
    assert not mariadb.can_create(["GRANT USAGE ON *.* TO `h`@`%`"])
    assert not mariadb.can_create(["GRANT ALL PRIVILEGES ON `other`.* TO `h`@`%`"])
    assert not mariadb.can_create(["GRANT CREATE USER ON *.* TO `h`@`%`"])
    escaped = ["GRANT ALL PRIVILEGES ON `harbor\\_wizard`.* TO `h`@`%`"]  # as SHOW GRANTS prints
    assert mariadb.can_create(escaped, "harbor_wizard")


def test_os_release() -> None:
    text = 'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
    assert parse_os_release(text) == "Debian GNU/Linux 12 (bookworm)"


def test_object_store_endpoints() -> None:
    assert storage.endpoint(
        Storage(provider="s3", config={"region": "eu-west-1", "bucket": "b"})
    ) == ("https://s3.eu-west-1.amazonaws.com")
    minio = Storage(
        provider="s3",
        config={"region": "us-east-1", "bucket": "b", "regionendpoint": "http://10.1.1.1:9000"},
    )
    assert storage.endpoint(minio) == "http://10.1.1.1:9000"
    assert storage.endpoint(Storage()) is None
