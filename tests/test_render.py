"""Rendered files, judged by the real tools, identical across runs and across nodes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harbor_wizard.cli import main
from tests.support.deployment import ANSWERS, SECRETS, https, lvs_dr, render_args, write_deployment
from tests.support.tlsfiles import write_tls
from tests.support.tools import (
    haproxy_check,
    keepalived_test,
    read_harbor_cfg,
    shell_syntax,
    tree,
)

UPSTREAM_CFG = Path(__file__).parent / "data" / "harbor-1.4.0.cfg"
LBS = ("lb01", "lb02")
NODES = ("harbor01", "harbor02", "harbor03")

VARIANTS = {
    "haproxy-http": ANSWERS,
    "haproxy-https": https(),
    "lvs-dr-http": lvs_dr(),
    "lvs-dr-https": lvs_dr(https()),
}


def render(folder: Path, text: str, out: str = "out") -> Path:
    write_tls(folder)
    answers, secrets = write_deployment(folder, text)
    target = folder / out
    code = main(render_args(answers, secrets, target))
    assert code == 0
    return target


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp(request.param), VARIANTS[request.param])


def test_keepalived_accepts_both_lb_configs(rendered: Path) -> None:
    for lb in LBS:
        diagnostics = keepalived_test(
            rendered / lb / "etc/keepalived/keepalived.conf", rendered / lb / "usr/local/bin"
        )
        assert "SECURITY VIOLATION" not in diagnostics


def test_lb_configs_differ_only_in_name_and_priority(rendered: Path) -> None:
    def own_lines(lb: str) -> list[str]:
        text = (rendered / lb / "etc/keepalived/keepalived.conf").read_text()
        return [
            line
            for line in text.splitlines()
            if not line.startswith(f"# {lb}:")
            and "router_id" not in line
            and "priority" not in line
        ]

    assert own_lines("lb01") == own_lines("lb02")
    one = (rendered / "lb01/etc/keepalived/keepalived.conf").read_text()
    assert "(lb01, 100) holds the VIP" in one
    assert "priority 100" in one
    assert "priority 90" in (rendered / "lb02/etc/keepalived/keepalived.conf").read_text()


def test_haproxy_accepts_its_config(rendered: Path) -> None:
    for lb in LBS:
        conf = rendered / lb / "etc/haproxy/haproxy.cfg"
        if "lvs-dr" in rendered.parent.name:
            assert not conf.exists()
            continue
        haproxy_check(conf)
        text = conf.read_text()
        for node in NODES:
            assert f"server {node} " in text


def test_scripts_parse_and_are_executable(rendered: Path) -> None:
    for lb in LBS:
        for script in (rendered / lb / "usr/local/bin").iterdir():
            shell_syntax(script, "sh")
            shell_syntax(script, "bash")
            assert script.stat().st_mode & 0o777 == 0o755


def test_harbor_cfg_keeps_every_upstream_key_with_our_values(rendered: Path) -> None:
    upstream = read_harbor_cfg(UPSTREAM_CFG)
    for node in NODES:
        path = rendered / node / "opt/harbor/harbor.cfg"
        assert path.stat().st_mode & 0o777 == 0o600
        cfg = read_harbor_cfg(path)
        assert set(cfg) == set(upstream)
        https_on = "https" in rendered.parent.name
        assert cfg["hostname"] == "registry.example.com"
        assert cfg["ui_url_protocol"] == ("https" if https_on else "http")
        assert cfg["db_host"] == "198.51.100.30"
        assert cfg["db_password"] == SECRETS["database.password"]
        assert cfg["redis_url"] == "198.51.100.32:6379"
        assert cfg["clair_db_host"] == "198.51.100.31"
        assert cfg["clair_db"] == cfg["clair_db_username"] == "postgres"
        assert cfg["harbor_admin_password"] == SECRETS["harbor.admin_password"]
        assert cfg["secretkey_path"] == "/data"
        assert cfg["registry_storage_provider_name"] == "filesystem"


def test_ha_files_identical_on_every_node(rendered: Path) -> None:
    ha = [tree(rendered / node / "opt/harbor/ha") for node in NODES]
    assert ha[0] == ha[1] == ha[2]
    names = set(ha[0])
    assert {"private_key.pem", "root.crt", "secretkey"} <= names
    assert ha[0]["private_key.pem"][1] == 0o600
    assert len(ha[0]["secretkey"][0]) == 16
    if "https" in rendered.parent.name:
        assert {"server.crt", "server.key", "ca.crt"} <= names
        assert ha[0]["server.key"][1] == 0o600
        assert not (rendered / NODES[0] / "data").exists()  # prepare copies from ha/


def test_vip_redirect_rules_only_in_lvs_dr(rendered: Path) -> None:
    for node in NODES:
        script = rendered / node / "usr/local/sbin/harbor-wizard-vip-redirect"
        unit = rendered / node / "etc/systemd/system/harbor-wizard-vip-redirect.service"
        if "haproxy" in rendered.parent.name:
            assert not script.exists()
            assert not unit.exists()
            continue
        assert script.stat().st_mode & 0o777 == 0o755
        ports = ["80", "443"] if "https" in rendered.parent.name else ["80"]
        adds = [line for line in script.read_text().splitlines() if "-j REDIRECT" in line]
        assert [line for line in adds if line.startswith("ipt -A")] == [
            f'ipt -A "$chain" -p tcp -d 198.51.100.100/32 --dport {port} -j REDIRECT'
            for port in ports
        ]
        assert "ExecStart=/usr/local/sbin/harbor-wizard-vip-redirect" in unit.read_text()


def test_two_renders_are_byte_identical(tmp_path: Path) -> None:
    first = render(tmp_path, https(), "one")
    second_dir = tmp_path / "two"
    answers, secrets = tmp_path / "answers.yaml", tmp_path / "secrets.yaml"
    assert main(render_args(answers, secrets, second_dir)) == 0
    assert tree(first) == tree(second_dir)


def test_storage_settings_become_one_prepare_line(tmp_path: Path) -> None:
    text = ANSWERS.replace(
        "provider: filesystem\n  config: {}",
        "provider: s3\n  config: {region: eu-west-1, bucket: harbor, accesskey: AKIA1, "
        "secretkey: <secret>, secure: true}",
    )
    write_deployment(tmp_path, text, {**SECRETS, "storage.config.secretkey": "s3-Key-xyz"})
    out = tmp_path / "out"
    answers, secrets = tmp_path / "answers.yaml", tmp_path / "secrets.yaml"
    assert main(render_args(answers, secrets, out)) == 0
    cfg = read_harbor_cfg(out / "harbor01/opt/harbor/harbor.cfg")
    assert cfg["registry_storage_provider_name"] == "s3"
    assert cfg["registry_storage_provider_config"] == (
        "region: eu-west-1, bucket: harbor, accesskey: AKIA1, secretkey: s3-Key-xyz, secure: true"
    )


def test_upstream_sample_fails_keepalived_2(tmp_path: Path) -> None:
    """Why we write keepalived.conf anew: the guide's sample fails keepalived 2.x's own test."""
    sample = Path(__file__).parent / "data" / "keepalived_active_active.conf"
    conf = tmp_path / "keepalived.conf"
    conf.write_text(
        sample.read_text()
        .replace("<change_to_VIP_address>", "198.51.100.100")
        .replace("<harbor_node1_ip>", "198.51.100.21")
        .replace("<harbor_node2_ip>", "198.51.100.22")
        .replace("ens160", "eth0")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(Path(__file__).parent.parent / "templates" / "check.sh.j2", bin_dir / "check.sh")
    (bin_dir / "check.sh").chmod(0o755)
    with pytest.raises(AssertionError, match="vrrp_sync_groups"):
        keepalived_test(conf, bin_dir)
