"""The lab's deployment as the values an operator enters, screen by screen."""

from __future__ import annotations

from typing import Any

from tests.lab import Lab


def screens(lab: Lab) -> list[tuple[str, dict[str, Any]]]:
    """(screen class name, {field path: value}) in the wizard's order; secrets included."""
    data = lab.answers_dict()
    secrets = lab.secrets_dict()
    harbor, lb, ssh = data["harbor"], data["load_balancer"], data["ssh"]
    topology: dict[str, Any] = {
        "name": data["name"],
        "harbor.hostname": harbor["hostname"],
        "vip": data["vip"],
        "harbor.protocol": harbor["protocol"],
        "harbor.with_clair": harbor["with_clair"],
        "harbor.installer": harbor["installer"],
        "harbor.admin_password": secrets["harbor.admin_password"],
    }
    for i, node in enumerate(data["harbor_nodes"]):
        topology[f"harbor_nodes[{i}].name"] = node["name"]
        topology[f"harbor_nodes[{i}].address"] = node["address"]
    balancers: dict[str, Any] = {
        "load_balancer.mode": lb["mode"],
        "load_balancer.interface": lb["interface"],
        "load_balancer.virtual_router_id": lb["virtual_router_id"],
        "load_balancer.auth_pass": secrets["load_balancer.auth_pass"],
    }
    for i, node in enumerate(lb["nodes"]):
        for key in ("name", "address", "priority"):
            balancers[f"load_balancer.nodes[{i}].{key}"] = node[key]
    database = {f"database.{k}": v for k, v in data["database"].items() if k != "password"}
    database["database.password"] = secrets["database.password"]
    clair = {f"clair_database.{k}": v for k, v in data["clair_database"].items()}
    clair["clair_database.password"] = secrets["clair_database.password"]
    return [
        ("TopologyScreen", topology),
        ("LoadBalancersScreen", balancers),
        ("DatabaseScreen", database),
        ("ClairDatabaseScreen", clair),
        ("RedisScreen", {"redis.endpoints[0]": data["redis"]["endpoints"][0]}),
        ("StorageScreen", {"storage.provider": data["storage"]["provider"]}),
        ("SshAccessScreen", {f"ssh.{k}": v for k, v in ssh.items()}),
    ]
