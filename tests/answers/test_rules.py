"""Every rule of the answers file: a bad value is refused with exit 2, naming field and line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from harbor_wizard.cli import main
from tests.support.deployment import ANSWERS, SECRETS, https, lvs_dr, render_args, write_deployment
from tests.support.tlsfiles import Ca, write_other_key, write_tls


@dataclass(frozen=True)
class Bad:
    """One bad answers file: what to change, which field is named, on which line."""

    old: str
    new: str
    field: str
    base: Callable[[str], str] = lambda text: text
    at: str | None = None
    """Text on the line the error must name; default: the first line `new` adds."""

    def text(self) -> str:
        base = self.base(ANSWERS)
        assert self.old in base, self.old
        return base.replace(self.old, self.new, 1)

    def line(self) -> int:
        text = self.text()
        if self.at is None:
            old_lines = self.old.splitlines()
            at = next(line for line in self.new.splitlines() if line not in old_lines)
        else:
            at = self.at
        start = self.base(ANSWERS).index(self.old) if self.at is None else 0
        return text[: text.index(at, start)].count("\n") + 1


def removed(block: str) -> str:
    return ANSWERS.replace(block, "")


_INSTALLER = "  installer: ./harbor-offline-installer-v1.4.0.tgz\n"
HOSTILE_INSTALLERS = {
    "installer name with $()": "'./harbor-offline-installer-v1.4.0$(touch x).tgz'",
    "installer name with a quote": "\"./harbor-offline-installer-v1.4.0'; reboot; '.tgz\"",
    "installer name with a backtick": "'./harbor-`id`.tgz'",
    "installer name with a space": "'./harbor offline installer.tgz'",
    "installer name with a semicolon": "'./harbor;id.tgz'",
    "installer name non-ASCII": "./harbor-instalator-wersja-ż.tgz",
    "installer name with a newline": '"./harbor-\\ninstaller.tgz"',
    "installer name starting with a dash": "./-rf.tgz",
}


CASES = {
    **{
        case: Bad(_INSTALLER, f"  installer: {value}\n", "harbor.installer")
        for case, value in HOSTILE_INSTALLERS.items()
    },
    "unknown key": Bad("  port: 3306\n", "  port: 3306\n  colour: red\n", "database.colour"),
    "newer version": Bad("version: 1\n", "version: 2\n", "version"),
    "vip is a node": Bad(
        "address: 198.51.100.22}", "address: 198.51.100.100}", "harbor_nodes[1].address"
    ),
    "duplicate address": Bad(
        "address: 198.51.100.23}", "address: 198.51.100.21}", "harbor_nodes[2].address"
    ),
    "duplicate name": Bad("name: harbor03,", "name: harbor01,", "harbor_nodes[2].name"),
    "lb outside vip subnet": Bad(
        "address: 198.51.100.12,", "address: 198.51.101.12,", "load_balancer.nodes[1].address"
    ),
    "three load balancers": Bad(
        "    - {name: lb02, address: 198.51.100.12, priority: 90}\n",
        "    - {name: lb02, address: 198.51.100.12, priority: 90}\n"
        "    - {name: lb03, address: 198.51.100.13, priority: 80}\n",
        "load_balancer.nodes",
        at="  nodes:",
    ),
    "one harbor node": Bad(
        "  - {name: harbor02, address: 198.51.100.22}\n"
        "  - {name: harbor03, address: 198.51.100.23}\n",
        "",
        "harbor_nodes",
        at="harbor_nodes:",
    ),
    "equal priorities": Bad("priority: 90}", "priority: 100}", "load_balancer.nodes[1].priority"),
    "priority 255": Bad("priority: 90}", "priority: 255}", "load_balancer.nodes[1].priority"),
    "priority 0": Bad("priority: 90}", "priority: 0}", "load_balancer.nodes[1].priority"),
    "vrid 256": Bad(
        "virtual_router_id: 51", "virtual_router_id: 256", "load_balancer.virtual_router_id"
    ),
    "vrid 0": Bad(
        "virtual_router_id: 51", "virtual_router_id: 0", "load_balancer.virtual_router_id"
    ),
    "clair without clair_database": Bad(
        ANSWERS[ANSWERS.index("clair_database:") : ANSWERS.index("redis:")],
        "",
        "clair_database",
        at="version: 1",
    ),
    "https without tls": Bad("protocol: http\n", "protocol: https\n", "tls", at="version: 1"),
    "unsafe host name": Bad("name: harbor03,", 'name: "harbor03;reboot",', "harbor_nodes[2].name"),
    "unsafe interface": Bad("interface: eth0", 'interface: "eth0 up"', "load_balancer.interface"),
    "loopback interface": Bad("interface: eth0", "interface: lo", "load_balancer.interface"),
    "newline in a value": Bad(
        "user: root\n  password", 'user: "ro\\not"\n  password', "database.user"
    ),
    "newline in storage setting": Bad(
        "provider: filesystem\n  config: {}",
        'provider: s3\n  config: {region: "eu\\nx", bucket: b}',
        "storage.config.region",
        at="config:",
    ),
    "comma in storage setting": Bad(
        "provider: filesystem\n  config: {}",
        'provider: s3\n  config: {region: eu-west-1, bucket: "a,b"}',
        "storage.config.bucket",
        at="config:",
    ),
    "storage credential in the file": Bad(
        "provider: filesystem\n  config: {}",
        "provider: s3\n  config: {region: eu-west-1, bucket: b, secretkey: hunter2}",
        "storage.config.secretkey",
        at="config:",
    ),
    "filesystem rootdirectory": Bad(
        "config: {}", "config: {rootdirectory: /data/registry}", "storage.config.rootdirectory"
    ),
    "redis password with 1.4": Bad(
        'endpoints: ["198.51.100.32:6379"]\n',
        'endpoints: ["198.51.100.32:6379"]\n  password: <secret>\n',
        "redis.password",
    ),
    "two redis endpoints": Bad(
        '["198.51.100.32:6379"]', '["198.51.100.32:6379", "198.51.100.33:6379"]', "redis.endpoints"
    ),
    "notary": Bad(
        "with_clair: true\n", "with_clair: true\n  with_notary: true\n", "harbor.with_notary"
    ),
    "hostname localhost": Bad(
        "hostname: registry.example.com", "hostname: localhost", "harbor.hostname"
    ),
    "hostname sample": Bad(
        "hostname: registry.example.com", "hostname: reg.mydomain.com", "harbor.hostname"
    ),
    "hostname 127.0.0.1": Bad(
        "hostname: registry.example.com", "hostname: 127.0.0.1", "harbor.hostname"
    ),
    "hostname an IP but not the VIP": Bad(
        "hostname: registry.example.com", "hostname: 198.51.100.21", "harbor.hostname"
    ),
    "hostname with a port": Bad(
        "hostname: registry.example.com", 'hostname: "registry.example.com:443"', "harbor.hostname"
    ),
    "secret value in the file": Bad(
        "admin_password: <secret>", "admin_password: Harbor12345", "harbor.admin_password"
    ),
    "clair database not the user": Bad(
        "database: postgres", "database: clair", "clair_database.database"
    ),
    "lvs-dr node off the LB segment": Bad(
        "address: 198.51.100.23}", "address: 198.51.101.23}", "harbor_nodes[2].address", lvs_dr
    ),
    "unsupported release": Bad('version: "1.4.0"', 'version: "2.16.0"', "harbor.version"),
    "missing field": Bad("  hostname: registry.example.com\n", "", "harbor.hostname", at="harbor:"),
    "bad ip": Bad("vip: 198.51.100.100", "vip: 198.51.100.300", "vip"),
    "multicast address": Bad(
        "address: 198.51.100.23}", "address: 224.0.0.18}", "harbor_nodes[2].address"
    ),
}


def run(folder: Path, text: str, secrets: dict[str, str] | None = None) -> tuple[int, str]:
    """Validate through `render`: every input rule, no hosts needed."""
    answers, secrets_path = write_deployment(folder, text, secrets)
    return main(render_args(answers, secrets_path, folder / "out")), str(answers)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_value_is_refused_naming_field_and_line(
    case: Bad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, path = run(tmp_path, case.text())
    err = capsys.readouterr().err
    assert code == 2, err
    expected = f"{path}:{case.line()}: {case.field}: "
    assert expected in err, f"expected {expected!r} in:\n{err}"


def test_secret_value_in_file_is_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(tmp_path, ANSWERS.replace("admin_password: <secret>", "admin_password: Zq9-Leak"))
    assert code == 2
    out = capsys.readouterr()
    assert "Zq9-Leak" not in out.err + out.out


def test_all_problems_are_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        ANSWERS.replace("interface: eth0", "interface: lo")
        .replace("hostname: registry.example.com", "hostname: localhost")
        .replace("  port: 3306\n", "  port: 3306\n  colour: red\n")
    )
    code, _ = run(tmp_path, text)
    err = capsys.readouterr().err
    assert code == 2
    for field in ("load_balancer.interface", "harbor.hostname", "database.colour"):
        assert f": {field}: " in err


# --- rules on secret values (they live in the secrets file, not the answers file) ---------


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("load_balancer.auth_pass", "nine-char", "at most|1 to 8"),
        ("database.password", "pass ;word", "' ;'"),
        ("database.password", "two\nlines", "one line"),
        ("clair_database.password", "p@ss:word", "@ : /"),
        ("harbor.admin_password", " padded", "space"),
    ],
)
def test_bad_secret_value_is_refused(
    path: str, value: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(tmp_path, ANSWERS, {**SECRETS, path: value})
    err = capsys.readouterr().err
    assert code == 2
    secrets_file = tmp_path / "secrets.yaml"
    line = list(SECRETS).index(path) + 1
    assert f"{secrets_file}:{line}: {path}: " in err
    assert any(word in err for word in words.split("|"))
    assert value.strip() not in err


# --- rules that read the TLS files --------------------------------------------------------

NOW = dt.datetime.now(dt.UTC)


def tls_case(tmp_path: Path, capsys: pytest.CaptureFixture[str], **tls: object) -> str:
    write_tls(tmp_path, **tls)  # type: ignore[arg-type]
    code, _ = run(tmp_path, https())
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def tls_line(field: str) -> int:
    text = https()
    return text[: text.index(f"  {field}:")].count("\n") + 1


def test_good_tls_files_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tls(tmp_path)
    code, _ = run(tmp_path, https())
    assert code == 0, capsys.readouterr().err


def test_certificate_not_matching_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tls(tmp_path)
    write_other_key(tmp_path / "server.key")
    code, path = run(tmp_path, https())
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}:{tls_line('private_key')}: tls.private_key: does not belong" in err


def test_expired_certificate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = tls_case(
        tmp_path,
        capsys,
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=1),
    )
    assert f":{tls_line('certificate')}: tls.certificate: is not valid today" in err


def test_certificate_not_covering_hostname(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = tls_case(tmp_path, capsys, names=["other.example.com", "198.51.100.7"])
    assert f":{tls_line('certificate')}: tls.certificate: does not cover" in err
    assert "other.example.com" in err


def test_certificate_covering_by_wildcard_or_ip(tmp_path: Path) -> None:
    write_tls(tmp_path, names=["*.example.com"])
    answers, secrets = write_deployment(tmp_path, https())
    assert main(render_args(answers, secrets, tmp_path / "o")) == 0
    text = https().replace("hostname: registry.example.com", "hostname: 198.51.100.100")
    write_tls(tmp_path, names=["198.51.100.100"])
    answers, secrets = write_deployment(tmp_path, text)
    assert main(render_args(answers, secrets, tmp_path / "o")) == 0


def test_ca_that_did_not_sign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tls(tmp_path)
    (tmp_path / "ca.crt").write_bytes(
        Ca.create("Another CA").cert.public_bytes(serialization.Encoding.PEM)
    )
    code, _ = run(tmp_path, https())
    err = capsys.readouterr().err
    assert code == 2
    assert f":{tls_line('certificate')}: tls.certificate: the chain is incomplete: " in err
    assert "was signed by 'CN=Test CA', which is in neither" in err
    assert "which holds 'CN=Another CA'" in err


def test_encrypted_key_needs_its_passphrase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tls(tmp_path, passphrase="k3y-pass")
    code, _ = run(tmp_path, https())
    assert code == 2
    assert "tls.private_key: " in capsys.readouterr().err
    text = https() + "  private_key_passphrase: <secret>\n"
    code, _ = run(tmp_path, text, {**SECRETS, "tls.private_key_passphrase": "k3y-pass"})
    assert code == 0, capsys.readouterr().err
