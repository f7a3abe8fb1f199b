"""The lab's network: one bridge in the root namespace, one veth per host.

The bridge carries the subnet's first address, so the test process (the operator
machine) reaches every host by IP. The subnet must not overlap any route of this
machine: a lab bridge on the machine's own network, or on the network its package
registry sits on, cuts the machine off (seen with 192.0.2.0/24 and 203.0.113.0/24).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass

from .util import LabError, sh

DEFAULT_SUBNET = "198.51.100.0/24"
#: Never used, whatever the environment says (this machine's network, the registry's).
FORBIDDEN_SUBNETS = ("192.0.2.0/24", "203.0.113.0/24")
#: Every lab name starts with "hw" and 4 hex digits: the only names the lab ever removes.
PREFIX_RE = re.compile(r"^hw[0-9a-f]{4}$")
NETNS_RE = re.compile(r"^(hw[0-9a-f]{4})-[a-z0-9]+$")
LINK_RE = re.compile(r"^(hw[0-9a-f]{4})(br|v\d\d|p\d\d)$")
#: Address offsets inside the subnet (a /26 holds every lab size): the LBs at .11-.12,
#: the services at .13-.15, Harbor nodes from .21 (.21-.40 with 20 nodes), the VIP at .50.
#: Free at any lab size, for client addresses tests put on the bridge: .2-.10, .16-.20,
#: .41-.49 and .51-.62; .34-.40 too while the lab has at most 13 Harbor nodes (the tests'
#: session lab has 4).
LB_OFFSET = 11
SERVICE_OFFSET = 13
HARBOR_OFFSET = 21
MAX_HARBOR_NODES = 20
VIP_OFFSET = 50


def subnet_from_env() -> str:
    """The subnet asked for by HW_LAB_SUBNET, else the default documentation range."""
    return os.environ.get("HW_LAB_SUBNET") or DEFAULT_SUBNET


@dataclass(frozen=True)
class Names:
    """Interface and namespace names of one lab run (interface names <= 15 chars)."""

    prefix: str

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    def netns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def veth(self, index: int) -> str:
        return f"{self.prefix}v{index:02d}"

    def peer(self, index: int) -> str:
        return f"{self.prefix}p{index:02d}"


@dataclass(frozen=True)
class Subnet:
    """Address plan: bridge (operator) .1, hosts .11-.40, the VIP .50 (a /26 holds a lab)."""

    network: ipaddress.IPv4Network

    @classmethod
    def parse(cls, text: str) -> Subnet:
        try:
            net = ipaddress.IPv4Network(text, strict=True)
        except ValueError as exc:
            raise LabError(f"HW_LAB_SUBNET {text!r} is not an IPv4 network: {exc}") from exc
        if net.num_addresses < 64:
            raise LabError(f"lab subnet {net} is too small: use a /26 or larger")
        for bad in FORBIDDEN_SUBNETS:
            if net.overlaps(ipaddress.IPv4Network(bad)):
                raise LabError(f"lab subnet {net} overlaps {bad}: never use it on these machines")
        return cls(net)

    def addr(self, offset: int) -> str:
        return str(self.network.network_address + offset)

    @property
    def gateway(self) -> str:
        return self.addr(1)

    @property
    def vip(self) -> str:
        return self.addr(VIP_OFFSET)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen


def check_no_overlap(subnet: Subnet) -> None:
    """Refuse a subnet that overlaps any route of the root namespace."""
    routes = json.loads(sh(["ip", "-j", "route", "show", "table", "all"]).stdout or "[]")
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("default", "") or ":" in dst or route.get("type") in ("local", "broadcast"):
            continue
        try:
            net = ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)
        except ValueError:
            continue
        if net.overlaps(subnet.network):
            raise LabError(
                f"lab subnet {subnet.network} overlaps the route {dst} on {route.get('dev')}: "
                "another lab or a real network uses it; pick another subnet with "
                "HW_LAB_SUBNET (e.g. 198.51.100.128/26) or run `python -m tests.lab down`"
            )


def create_bridge(names: Names, subnet: Subnet) -> None:
    """The bridge that joins all hosts, with the operator address on it."""
    sh(["ip", "link", "add", names.bridge, "type", "bridge"])
    sh(["ip", "addr", "add", f"{subnet.gateway}/{subnet.prefixlen}", "dev", names.bridge])
    sh(["ip", "link", "set", names.bridge, "up"])


def create_netns(names: Names, host: str, index: int, ip: str, subnet: Subnet) -> None:
    """A network namespace joined to the bridge; its end of the veth is named eth0."""
    ns = names.netns(host)
    sh(["ip", "netns", "add", ns])
    sh(["ip", "link", "add", names.veth(index), "type", "veth", "peer", "name", names.peer(index)])
    sh(["ip", "link", "set", names.peer(index), "netns", ns])
    sh(["ip", "link", "set", names.veth(index), "master", names.bridge, "up"])
    sh(["ip", "-n", ns, "link", "set", names.peer(index), "name", "eth0"])
    sh(["ip", "-n", ns, "addr", "add", f"{ip}/{subnet.prefixlen}", "dev", "eth0"])
    sh(["ip", "-n", ns, "link", "set", "eth0", "up"])
    sh(["ip", "-n", ns, "link", "set", "lo", "up"])


def list_netns() -> list[str]:
    """Names of all network namespaces (every name, the caller filters by prefix)."""
    out = sh(["ip", "-j", "netns", "list"], check=False).stdout.strip()
    return [n["name"] for n in json.loads(out or "[]")]


def list_links() -> list[str]:
    """Names of all links of the root namespace."""
    out = sh(["ip", "-j", "link", "show"]).stdout
    return [link["ifname"] for link in json.loads(out or "[]")]
