"""Acceptance: keepalived through the systemctl stand-in moves the VIP between the LBs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

KEEPALIVED_CONF = """\
global_defs {{
  router_id {name}
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int 1
  authentication {{
    auth_type PASS
    auth_pass {auth_pass}
  }}
  virtual_ipaddress {{
    {vip}/32 dev eth0
  }}
}}
"""


@pytest.fixture
def clean_lbs(lab: Lab) -> Iterator[None]:
    yield
    for lb in lab.lbs:
        lb.run(
            "systemctl stop keepalived haproxy; systemctl disable haproxy keepalived;"
            " rm -f /etc/keepalived/keepalived.conf; sysctl -qw net.ipv4.ip_nonlocal_bind=0"
        )
        shutil.copy("/etc/haproxy/haproxy.cfg", lb.path("/etc/haproxy/haproxy.cfg"))
    lab.clear_vip()


@pytest.mark.usefixtures("clean_lbs")
def test_higher_priority_holds_the_vip_and_stop_moves_it(lab: Lab) -> None:
    for lb, priority in zip(lab.lbs, (100, 90), strict=True):
        conf = KEEPALIVED_CONF.format(
            name=lb.name, priority=priority, auth_pass=lab.auth_pass, vip=lab.vip
        )
        with lab.connect(lb.name) as conn:
            conn.run(f"cat > /etc/keepalived/keepalived.conf <<'EOF'\n{conf}EOF", hide=True)
            conn.run("keepalived -t -f /etc/keepalived/keepalived.conf", hide=True)
            conn.run("systemctl start keepalived", hide=True)
            assert conn.run("systemctl is-active keepalived", hide=True).stdout == "active\n"
    lab.wait_vip_holder("lb01", timeout=10)

    with lab.connect("lb01") as conn:
        conn.run("systemctl stop keepalived", hide=True)
        inactive = conn.run("systemctl is-active keepalived", hide=True, warn=True)
        assert (inactive.stdout, inactive.exited) == ("inactive\n", 3)
    took = lab.wait_vip_holder("lb02", timeout=5)
    assert took < 5
    assert lab.vip not in lab["lb01"].addresses()


@pytest.mark.usefixtures("clean_lbs")
def test_systemctl_stand_in_runs_haproxy(lab: Lab) -> None:
    cfg = (
        "global\n  maxconn 100\ndefaults\n  mode http\n  timeout connect 2s\n"
        "  timeout client 5s\n  timeout server 5s\nfrontend fe\n"
        f"  bind {lab.vip}:80\n  default_backend be\nbackend be\n"
        + "".join(f"  server {h.name} {h.ip}:80 check\n" for h in lab.harbor_nodes)
    )
    with lab.connect("lb02") as conn:
        conn.run("sysctl -qw net.ipv4.ip_nonlocal_bind=1", hide=True)
        conn.run(f"cat > /etc/haproxy/haproxy.cfg <<'EOF'\n{cfg}EOF", hide=True)
        conn.run("systemctl enable --now haproxy", hide=True)
        assert conn.run("systemctl is-enabled haproxy", hide=True).stdout == "enabled\n"
        pid = conn.run("cat /run/haproxy.pid", hide=True).stdout.strip()
        conn.run("systemctl reload haproxy", hide=True)
        assert conn.run("cat /run/haproxy.pid", hide=True).stdout.strip() != pid
        assert conn.run("systemctl is-active haproxy", hide=True).stdout == "active\n"
        conn.run("systemctl stop haproxy", hide=True)
        assert conn.run("systemctl is-active haproxy", hide=True, warn=True).exited == 3
        unknown = conn.run("systemctl restart nginx", hide=True, warn=True)
        assert unknown.exited == 5
        assert "Unit nginx.service not found" in unknown.stderr
