"""The lab's address plan: every lab size fits a /26 without a clash."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from tests.lab import LabConfig
from tests.lab.lab import MAX_HARBOR_NODES, _plan_hosts
from tests.lab.net import Names, Subnet


def test_the_largest_lab_fits_a_26_beside_the_gateway_and_the_vip(tmp_path: Path) -> None:
    subnet = Subnet.parse("198.51.100.128/26")
    config = LabConfig(harbor_nodes=MAX_HARBOR_NODES, subnet=str(subnet.network))
    hosts = _plan_hosts(config, Names("hw0000"), subnet, tmp_path)
    addresses = [host.ip for host in hosts.values()]
    assert MAX_HARBOR_NODES == 20
    assert len(hosts) == 2 + 20 + 3
    assert len(set(addresses)) == len(addresses)
    assert not {subnet.gateway, subnet.vip} & set(addresses)
    offsets = [int(IPv4Address(ip)) - int(subnet.network.network_address) for ip in addresses]
    assert min(offsets) == 11
    assert max(offsets) == 40
    assert hosts["harbor01"].ip == subnet.addr(21)
    assert hosts["harbor20"].ip == subnet.addr(40)
    assert len({host.veth for host in hosts.values()}) == len(hosts)
