"""The lab's deployment as the values an operator enters, screen by screen."""

from __future__ import annotations

from typing import Any

from tests.lab import Lab


def screens(lab: Lab, release: str = "1.4") -> list[tuple[str, dict[str, Any]]]:
    """(screen class name, {field path: value}) in the wizard's order; secrets included.
    The release itself is chosen before (it is the first question of screen 1)."""
    data = lab.answers_dict(release=release)
    secrets = lab.secrets_dict(release)
    harbor, lb, ssh = data["harbor"], data["load_balancer"], data["ssh"]
    scanner = "with_clair" if release == "1.4" else "with_trivy"
    topology: dict[str, Any] = {
        "name": data["name"],
        "harbor.hostname": harbor["hostname"],
        "vip": data["vip"],
        "harbor.protocol": harbor["protocol"],
        f"harbor.{scanner}": harbor[scanner],
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
    if release == "1.4":
        clair = {f"clair_database.{k}": v for k, v in data["clair_database"].items()}
        clair["clair_database.password"] = secrets["clair_database.password"]
        services = [
            ("DatabaseScreen", database),
            ("ClairDatabaseScreen", clair),
            ("RedisScreen", {"redis.endpoints[0]": data["redis"]["endpoints"][0]}),
        ]
    else:  # no Clair DB; Redis takes a list of endpoints and a password
        redis = {
            "redis.endpoints": ", ".join(data["redis"]["endpoints"]),
            "redis.password": secrets["redis.password"],
        }
        services = [("DatabaseScreen", database), ("RedisScreen", redis)]
    return [
        ("TopologyScreen", topology),
        ("LoadBalancersScreen", balancers),
        *services,
        ("StorageScreen", {"storage.provider": data["storage"]["provider"]}),
        ("SshAccessScreen", {f"ssh.{k}": v for k, v in ssh.items()}),
    ]
