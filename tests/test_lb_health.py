"""LB health checks and the software they need (issue 13, items 4, 6 and 9), offline:
rendered files judged by their text and by the real keepalived, exact `-v` outputs of the
HAProxy and keepalived releases distributions ship, and `ss` / /proc listener tables.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harbor_wizard.checks.hosts import (
    HAPROXY_OLDEST,
    KEEPALIVED_CONFIG_TEST,
    haproxy_version,
    keepalived_version,
    package_version,
)
from harbor_wizard.checks.ports import Listener, in_the_way, parse_proc, parse_ss
from harbor_wizard.cli import main
from harbor_wizard.profiles import profile_for
from tests.support.deployment import ANSWERS, https, lvs_dr, render_args, write_deployment
from tests.support.tlsfiles import write_tls

VARIANTS = {
    "haproxy-http": ANSWERS,
    "haproxy-https": https(),
    "lvs-dr-http": lvs_dr(),
    "lvs-dr-https": lvs_dr(https()),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name, text in VARIANTS.items():
        folder = tmp_path_factory.mktemp(name)
        write_tls(folder)
        answers, secrets = write_deployment(folder, text)
        assert main(render_args(answers, secrets, folder / "out")) == 0
        out[name] = folder / "out"
    return out


# --- item 4: each HAProxy pool checked in its own protocol ---------------------------------


def backends(config: str) -> dict[int, str]:
    """Each `backend harbor_nodes_<port>` section's text, by port."""
    sections = re.split(r"\n(?=frontend |backend )", config)
    return {
        int(m.group(1)): s for s in sections if (m := re.match(r"backend harbor_nodes_(\d+)", s))
    }


def test_https_port_80_pool_is_checked_in_plain_http_expecting_the_redirect(
    rendered: dict[str, Path],
) -> None:
    config = (rendered["haproxy-https"] / "lb01/etc/haproxy/haproxy.cfg").read_text()
    pools = backends(config)
    assert set(pools) == {80, 443}
    servers_80 = [line for line in pools[80].splitlines() if line.strip().startswith("server ")]
    assert len(servers_80) == 3
    assert not any("check-ssl" in line for line in servers_80)  # Harbor's :80 speaks HTTP
    assert re.search(r"expect rstring \^HTTP/1\\\.\[01\]\\ 30\[1278\]", pools[80])
    servers_443 = [line for line in pools[443].splitlines() if line.strip().startswith("server ")]
    assert all(" check check-ssl verify none " in line for line in servers_443)
    assert "expect string registry_url" in pools[443]


def test_http_port_80_pool_expects_the_api(rendered: dict[str, Path]) -> None:
    config = (rendered["haproxy-http"] / "lb01/etc/haproxy/haproxy.cfg").read_text()
    pools = backends(config)
    assert set(pools) == {80}
    assert "expect string registry_url" in pools[80]
    assert "check-ssl" not in pools[80]


# --- item 6: a haproxy.cfg every HAProxy from 1.8 to 3.x accepts --------------------------


def test_haproxy_cfg_uses_no_keyword_of_a_newer_or_older_haproxy_only(
    rendered: dict[str, Path],
) -> None:
    """`http-check send` needs 2.2 (RHEL 8 ships 1.8, Ubuntu 20.04 2.0); headers hidden in
    `option httpchk`'s version are refused from 2.7. (Measured: this file passes
    `haproxy -c` and marks healthy nodes UP on 1.8.8, 1.8.27, 2.0.0, 2.6.12 and 3.4.0.)"""
    for variant in ("haproxy-http", "haproxy-https"):
        text = (rendered[variant] / "lb01/etc/haproxy/haproxy.cfg").read_text()
        config = "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("#"))
        assert "http-check" not in config
        assert "option httpchk" not in config
        assert config.count("option tcp-check") == len(backends(config))
        assert "Host:\\ registry.example.com\\r\\n" in config


def test_keepalived_validator_still_config_tests_where_keepalived_can(tmp_path: Path) -> None:
    """The profile's validator runs `keepalived -t` where it exists (2.2.7 here)."""
    validate = next(
        f.validate
        for f in profile_for("1.4.0").files
        if str(f.path) == "/etc/keepalived/keepalived.conf"
    )
    broken = tmp_path / "keepalived.conf"
    broken.write_text("vrrp_instance x {\n    state NOT-A-STATE\n    interface\n")
    result = subprocess.run(["sh", "-c", validate, "validate", str(broken)], check=False)
    assert result.returncode != 0


HAPROXY_V = {
    # RHEL 8 (haproxy 1.8.27) and Ubuntu 18.04 print the pre-2.4 banner, and a copyright line.
    "HA-Proxy version 1.8.27-493ce0b20 2020/11/06\n"
    "Copyright 2000-2020 Willy Tarreau <willy@haproxy.org>\n": (1, 8, 27),
    "HA-Proxy version 1.8.8-1ubuntu0.11 2020/06/22\n"
    "Copyright 2000-2018 Willy Tarreau <willy@haproxy.org>\n": (1, 8, 8),
    # Ubuntu 20.04.
    "HA-Proxy version 2.0.13-2ubuntu0.5 2023/01/27 - https://haproxy.org/\n": (2, 0, 13),
    # Debian 12 (this machine's haproxy -v, first lines).
    "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/\n"
    "Status: long-term supported branch - will stop receiving fixes around Q2 2027.\n"
    "Known bugs: http://www.haproxy.org/bugs/bugs-2.6.12.html\n": (2, 6, 12),
    "HA-Proxy version 1.5.18 2016/05/10\nCopyright 2000-2016 Willy Tarreau <willy@haproxy.org>\n": (
        1,
        5,
        18,
    ),
}

KEEPALIVED_V = {
    # Ubuntu 18.04 (on stderr, merged by the check's 2>&1).
    "Keepalived v1.3.9 (10/21,2017)\n\n"
    "Copyright(C) 2001-2017 Alexandre Cassen, <acassen@gmail.com>\n\n"
    "Build options:  PIPE2 IPV4_DEVCONF LIBNL3 RTA_ENCAP RTA_EXPIRES RTA_NEWDST\n": (1, 3, 9),
    # Debian 12.
    "Keepalived v2.2.7 (01/16,2022)\n\n"
    "Copyright(C) 2001-2022 Alexandre Cassen, <acassen@gmail.com>\n": (2, 2, 7),
}


@pytest.mark.parametrize(("text", "version"), list(HAPROXY_V.items()))
def test_haproxy_version_from_its_banner(text: str, version: tuple[int, ...]) -> None:
    assert haproxy_version(text) == version
    assert (version >= HAPROXY_OLDEST) == (version[:2] != (1, 5))


@pytest.mark.parametrize(("text", "version"), list(KEEPALIVED_V.items()))
def test_keepalived_version_from_its_banner(text: str, version: tuple[int, ...]) -> None:
    assert keepalived_version(text) == version
    assert (version >= KEEPALIVED_CONFIG_TEST) == (version == (2, 2, 7))


def test_this_machines_real_banners_parse() -> None:
    haproxy = subprocess.run(["haproxy", "-v"], capture_output=True, text=True, check=True)
    assert haproxy_version(haproxy.stdout) is not None
    keepalived = subprocess.run(["keepalived", "-v"], capture_output=True, text=True, check=True)
    assert keepalived_version(keepalived.stdout + keepalived.stderr) is not None


@pytest.mark.parametrize(
    ("candidate", "version"),
    [
        ("1:1.3.9-1ubuntu0.18.04.2", (1, 3, 9)),  # apt-cache policy, with an epoch
        ("1.8.8-1ubuntu0.11", (1, 8, 8)),
        ("2.6.12-1+deb12u4", (2, 6, 12)),
        ("1.8.27", (1, 8, 27)),  # dnf info's Version field
        ("2.0.14-lp152.1.3", (2, 0, 14)),  # zypper
        ("(none)", None),
    ],
)
def test_package_candidate_versions(candidate: str, version: tuple[int, ...] | None) -> None:
    assert package_version(candidate) == version


# --- item 6: ports, from the listener tables a host prints --------------------------------

SS = (
    "LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    "
    'users:(("sshd",pid=640,fd=3))\n'
    "LISTEN 0      5            0.0.0.0:4443      0.0.0.0:*    "
    'users:(("python3",pid=24384,fd=3))\n'
    "LISTEN 0      4096       127.0.0.1:1514      0.0.0.0:*    "
    'users:(("docker-proxy",pid=901,fd=4))\n'
    "LISTEN 0      511                *:80              *:*    "
    'users:(("apache2",pid=77,fd=4))\n'
    "LISTEN 0      511             [::]:443          [::]:*    "
    'users:(("nginx",pid=78,fd=7))\n'
    "LISTEN 0      5        10.0.0.5%eth0:1514    0.0.0.0:*\n"
)


def test_ss_listeners_and_which_are_in_the_way() -> None:
    found = parse_ss(SS)
    assert Listener("0.0.0.0", 4443, "python3 (pid 24384)", program="python3") in found
    assert Listener("10.0.0.5", 1514) in found
    way = {
        port: [x.address for x in found if in_the_way(x, port)] for port in (80, 443, 4443, 1514)
    }
    # A dual-stack `*` holds IPv4 too; `[::]` is IPv6-only and leaves 0.0.0.0:443 free.
    assert way == {80: ["*"], 443: [], 4443: ["0.0.0.0"], 1514: ["127.0.0.1"]}


def test_proc_listeners_where_there_is_no_ss() -> None:
    """Real lines of /proc/net/tcp: 0.0.0.0:2024 and 127.0.0.1:18514 listening."""
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
        "   1: 0100007F:4852 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
        "   2: 0100007F:05EA 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0\n"
    )
    assert parse_proc(text) == [Listener("0.0.0.0", 2024), Listener("127.0.0.1", 18514)]


def test_an_ipv6_wildcard_that_may_be_dual_stack_is_in_the_way() -> None:
    """Old `ss` (iproute2 3.10, RHEL 7) prints every IPv6 wildcard as `:::80`, and
    /proc/net/tcp6 cannot tell a dual-stack socket either: both hold 0.0.0.0:80 for all
    we know (Apache's default), unlike new `ss`'s bracketed, IPv6-only `[::]:80`."""
    old = 'LISTEN     0      128       :::80      :::*      users:(("httpd",pid=1201,fd=4))\n'
    [apache] = parse_ss(old)
    assert (apache.address, apache.v6only, apache.program) == ("::", False, "httpd")
    assert in_the_way(apache, 80)
    tcp6 = (
        "   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000     0\n"
    )
    [proc] = parse_proc(tcp6)
    assert proc.address == "::"
    assert in_the_way(proc, 80)


# --- item 9: check.sh ends before keepalived's misc_timeout -------------------------------


def curl_bounds(script: str) -> list[float]:
    """Each curl call's --max-time (or -m), inline or through a variable it expands."""
    variables = dict(re.findall(r'^\s*(\w+)="([^"]*)"', script, re.M))
    bounds = []
    for line in script.splitlines():
        if line.lstrip().startswith("#") or not re.search(r"\bcurl\b", line):
            continue
        expanded = re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), line)
        found = re.search(r"(?:\s-m|--max-time)\s+(\d+(?:\.\d+)?)", expanded)
        assert found, f"a curl without --max-time: {line.strip()}"
        bounds.append(float(found.group(1)))
    return bounds


@pytest.mark.parametrize("variant", ["lvs-dr-http", "lvs-dr-https"])
def test_check_sh_curls_end_before_misc_timeout(rendered: dict[str, Path], variant: str) -> None:
    base = rendered[variant] / "lb01"
    bounds = curl_bounds((base / "usr/local/bin/check.sh").read_text())
    assert len(bounds) == 3
    timeouts = re.findall(
        r"misc_timeout\s+(\d+)", (base / "etc/keepalived/keepalived.conf").read_text()
    )
    assert timeouts
    assert sum(bounds) < min(int(t) for t in timeouts), (bounds, timeouts)
