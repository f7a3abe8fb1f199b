"""The rules between fields, each written once.

Why apart from the model classes: a rule such as "every host needs its own address" must
also be checked while the answers are incomplete (the TUI's draft, a file with an unrelated
mistake), where pydantic's after-validators never run. So each rule reads its values
through ``Values``: the model passes its own validated fields, and
``harbor_wizard.answers.partial`` passes whatever parts of raw data validated on their own
(``None`` for the rest). A rule says nothing about a value it cannot see: that value has
its own message already.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from harbor_wizard.answers.types import SECRET_MARKER, storage_value_problem

Loc = tuple[str | int, ...]

MIN_HARBOR_NODES = 2
HARBOR_NODES_WHY = "high availability needs a second node to take over"
MAX_HARBOR_NODES = 64

STORAGE_REQUIRED: dict[str, tuple[str, ...]] = {
    "filesystem": (),
    "s3": ("region", "bucket"),
    "swift": ("username", "password", "authurl", "container"),
    "azure": ("accountname", "accountkey", "container"),
    "gcs": ("bucket",),
    "oss": ("accesskeyid", "accesskeysecret", "region", "bucket"),
}
STORAGE_SECRETS: dict[str, frozenset[str]] = {
    "filesystem": frozenset(),
    "s3": frozenset({"secretkey"}),
    "swift": frozenset({"password", "secretkey"}),
    "azure": frozenset({"accountkey"}),
    "gcs": frozenset(),
    "oss": frozenset({"accesskeysecret"}),
}
STORAGE_EXAMPLES = {
    "region": "eu-west-1",
    "bucket": "harbor-registry",
    "username": "harbor",
    "authurl": "https://keystone.example.com/v3",
    "container": "harbor",
    "accountname": "harborstore",
    "accesskeyid": "LTAI4FexampleKeyId",
}
"""Example values for the settings a driver needs (credentials get none)."""


@dataclass(frozen=True)
class Rule:
    """A broken rule between fields, reported at the field that has to change."""

    loc: Loc
    message: str
    value: Any = None


class Values(Protocol):
    """The values a rule reads, below one place in the answers."""

    def get(self, *loc: str | int) -> Any:
        """The validated value (its default when not written), or None when it is absent
        or not valid on its own."""

    def has(self, *loc: str | int) -> bool:
        """Whether something was written there, valid or not."""

    def count(self, *loc: str | int) -> int | None:
        """How many entries the list there has, or None when it is not a list."""

    def keys(self, *loc: str | int) -> list[str]:
        """The keys of the mapping there (none when it is not a mapping)."""


def harbor_node_count(count: int) -> str | None:
    """Why `count` Harbor nodes are not enough (or too many), or None."""
    if count < MIN_HARBOR_NODES:
        return (
            f"at least {MIN_HARBOR_NODES} Harbor nodes are needed, found {count}: "
            f"{HARBOR_NODES_WHY}; add one with its name and address, e.g. harbor02 at "
            "192.0.2.22"
        )
    if count > MAX_HARBOR_NODES:
        return f"at most {MAX_HARBOR_NODES} Harbor nodes, found {count}: remove some"
    return None


def load_balancer_rules(v: Values) -> Iterator[Rule]:
    """Keepalived needs its settings and exactly two LBs; external mode has none."""
    mode = v.get("mode")
    if mode is None:
        return
    nodes = v.count("nodes") or 0
    if mode == "external":
        for field in ("interface", "virtual_router_id", "auth_pass"):
            if v.has(field):
                yield Rule((field,), "not used in external mode: remove it")
        if nodes:
            yield Rule(("nodes",), "external mode has no LB hosts of ours: remove nodes")
        return
    if not v.has("interface"):
        yield Rule(
            ("interface",),
            "is required with Keepalived: the LB network interface that carries the VIP, "
            "e.g. ens160",
        )
    if not v.has("virtual_router_id"):
        yield Rule(
            ("virtual_router_id",),
            "is required with Keepalived: a VRRP router id from 1 to 255, unique on the "
            "network segment, e.g. 51",
        )
    if not v.has("auth_pass"):
        yield Rule(
            ("auth_pass",),
            "is required with Keepalived: the VRRP password, at most 8 characters (in the "
            "answers file write '<secret>')",
        )
    if nodes != 2:
        yield Rule(
            ("nodes",),
            f"exactly two load balancers are needed, found {nodes}: each with a name, an "
            "address and a priority, e.g. lb01 at 192.0.2.11 with priority 100 and lb02 at "
            "192.0.2.12 with priority 90",
        )
        return
    first, second = v.get("nodes", 0, "priority"), v.get("nodes", 1, "priority")
    if first is not None and first == second:
        yield Rule(
            ("nodes", 1, "priority"),
            f"is the same as LB 1's priority ({first}): the two must differ, the higher one "
            f"holds the VIP, e.g. {first} and {first - 10 if first > 10 else first + 10}",
            second,
        )


def clair_database_rules(v: Values) -> Iterator[Rule]:
    user, database = v.get("user"), v.get("database")
    if user is not None and database is not None and database != user:
        yield Rule(
            ("database",),
            f"must be '{user}' (the user name): Harbor 1.4's Clair DSN has no database "
            "name, so Clair uses the database named after the user while the UI would "
            "read this one",
            database,
        )


def storage_rules(v: Values) -> Iterator[Rule]:
    """The settings each driver needs, and values the registry would misread."""
    provider = v.get("provider")
    if provider not in STORAGE_REQUIRED:
        return
    keys = v.keys("config")
    secrets = STORAGE_SECRETS[provider]
    for key in STORAGE_REQUIRED[provider]:
        if key not in keys:
            example = STORAGE_EXAMPLES.get(key)
            how = f", e.g. {key}: {example}" if example and key not in secrets else ""
            yield Rule(("config",), f"the {provider} driver needs '{key}'{how}")
    for key in keys:
        value = v.get("config", key)
        if value is None:
            continue
        is_secret = key in secrets
        # Secret values are checked where they are read (harbor_wizard.secrets); one
        # written here by mistake is refused below, and never shown.
        problem = (
            storage_value_problem(value, secret=is_secret)
            if isinstance(value, str) and value != SECRET_MARKER
            else None
        )
        if problem:
            yield Rule(("config", key), problem, None if is_secret else value)
        if is_secret and value != SECRET_MARKER:
            yield Rule(
                ("config", key),
                "holds a credential: write '<secret>' and give the value with "
                "--secrets FILE, an environment variable or the keyring",
            )
        if value == SECRET_MARKER and not is_secret:
            yield Rule(("config", key), "only credentials can be '<secret>'", value)
    root = v.get("config", "rootdirectory")
    if provider == "filesystem" and root is not None and root != "/storage":
        yield Rule(
            ("config", "rootdirectory"),
            "must be /storage (the registry container's view of /data/registry) or "
            "absent; mount the shared filesystem at /data/registry on every node",
            root,
        )


def is_2x(v: Values) -> bool | None:
    """Whether the answers are for Harbor 2.x; None when the version is not valid."""
    version = v.get("harbor", "version")
    return version.startswith("2.") if isinstance(version, str) else None


def deployment_rules(v: Values) -> Iterator[Rule]:
    """The rules between sections of a whole deployment."""
    protocol = v.get("harbor", "protocol")
    if protocol == "https" and not v.has("tls"):
        yield Rule(("tls",), "is required when harbor.protocol is https")
    if protocol == "http" and v.has("tls"):
        yield Rule(("tls",), "only used when harbor.protocol is https; remove it")
    release_2 = is_2x(v)
    if release_2 is True:
        yield from _harbor_2_rules(v)
    elif release_2 is False:
        yield from _harbor_14_rules(v)
    nodes = v.count("harbor_nodes")
    message = harbor_node_count(nodes) if nodes is not None else None
    if message:
        yield Rule(("harbor_nodes",), message)
    yield from _hostname_rules(v)
    yield from _address_rules(v)


def _harbor_14_rules(v: Values) -> Iterator[Rule]:
    """What Harbor 1.4's HA install cannot do, each said at the field to change."""
    with_clair = v.get("harbor", "with_clair")
    if with_clair is True and not v.has("clair_database"):
        yield Rule(("clair_database",), "is required when harbor.with_clair is true")
    if with_clair is False and v.has("clair_database"):
        yield Rule(("clair_database",), "only used with harbor.with_clair: true; remove it")
    if v.get("harbor", "with_trivy") is True:
        yield Rule(
            ("harbor", "with_trivy"),
            "Harbor 1.4 has no Trivy: it scans with Clair (harbor.with_clair: true), or use "
            "Harbor 2.15 (harbor.version: 2.15.2)",
        )
    if v.get("database", "engine") == "postgresql":
        yield Rule(
            ("database", "engine"),
            "Harbor 1.4 keeps its data in MariaDB (its HA install loads registry.sql there): "
            "set engine: mariadb, or install Harbor 2.15 (harbor.version: 2.15.2)",
        )
    for key in ("database", "ssl_mode"):
        if v.has("database", key):
            yield Rule(
                ("database", key),
                "is only used with Harbor 2.x (1.4 hard-codes the database registry, "
                "without TLS); remove it",
            )
    if v.has("redis", "password"):
        yield Rule(
            ("redis", "password"),
            "Harbor 1.4 cannot use a password-protected Redis: its registry reads "
            "redis_url as a bare host:port with no password (while the UI would send "
            "one), so one of them always fails; use a Redis without requirepass on a "
            "protected network and remove this field",
        )
    for key in ("sentinel_master_set", *REDIS_DB_INDEXES):
        if v.has("redis", key):
            yield Rule(("redis", key), "is only used with Harbor 2.x; remove it")
    endpoints = v.count("redis", "endpoints")
    if endpoints == 0:
        yield Rule(("redis", "endpoints"), REDIS_ENDPOINT_REQUIRED)
    elif endpoints is not None and endpoints > 1:
        yield Rule(
            ("redis", "endpoints"),
            "Harbor 1.4 takes exactly one Redis endpoint (neither its registry nor its "
            "UI can use a list); put Sentinel or a proxy behind one address",
        )


REDIS_ENDPOINT_REQUIRED = "is required: the Redis server as host:port, e.g. redis.example.com:6379"
REDIS_DB_INDEXES = {
    "registry_db_index": 1,
    "jobservice_db_index": 2,
    "trivy_db_index": 5,
}
"""harbor.yml's external_redis indexes and their defaults; 0 is the core's, fixed."""
SENTINEL_PORT = 26379


def _harbor_2_rules(v: Values) -> Iterator[Rule]:
    """What Harbor 2.x does differently from 1.4, each said at the field to change."""
    if v.get("harbor", "with_clair") is True:
        yield Rule(
            ("harbor", "with_clair"),
            "Harbor 2.x has no Clair (removed in 2.2): it scans with Trivy; set "
            "with_clair: false and with_trivy: true",
        )
    if v.has("clair_database"):
        yield Rule(
            ("clair_database",),
            "Harbor 2.x has no Clair, so no Clair DB: its scanner, Trivy, keeps its data in "
            "Redis; remove this section",
        )
    if v.get("database", "engine") == "mariadb":
        yield Rule(
            ("database", "engine"),
            "Harbor 2.x keeps its data in PostgreSQL only (MariaDB and MySQL ended with "
            "1.6): set engine: postgresql and point database at a PostgreSQL server (12 or "
            "later), e.g. port 5432",
        )
    endpoints = v.count("redis", "endpoints")
    master_set = v.get("redis", "sentinel_master_set")
    if endpoints == 0:
        yield Rule(("redis", "endpoints"), REDIS_ENDPOINT_REQUIRED)
    elif endpoints is not None and master_set is None and not v.has("redis", "sentinel_master_set"):
        first = str(v.get("redis", "endpoints", 0) or "")
        if endpoints > 1:
            yield Rule(
                ("redis", "sentinel_master_set"),
                f"is required with {endpoints} endpoints: several endpoints are Redis "
                "Sentinels, and Harbor asks them for the address of a master set by its "
                "name (the name in sentinel.conf's `sentinel monitor`), e.g. mymaster",
            )
        elif first.endswith(f":{SENTINEL_PORT}"):
            yield Rule(
                ("redis", "sentinel_master_set"),
                f"is required: {first} is on Redis Sentinel's port, and Harbor asks a "
                "Sentinel for its master by the master set's name, e.g. mymaster (or give "
                "the Redis server itself, usually on port 6379)",
            )
    indexes = {key: v.get("redis", key) for key in REDIS_DB_INDEXES}
    used: dict[int, str] = {}
    for key, default in REDIS_DB_INDEXES.items():
        index = indexes[key] if indexes[key] is not None else default
        if index in used:
            yield Rule(
                ("redis", key),
                f"is {index}, the same database as redis.{used[index]}: Harbor's components "
                "would overwrite each other's keys; give each its own, from 1 to 15",
                index,
            )
        used.setdefault(index, key)


def _hostname_rules(v: Values) -> Iterator[Rule]:
    hostname, vip = v.get("harbor", "hostname"), v.get("vip")
    if hostname is None or vip is None:
        return
    try:
        as_ip = ipaddress.IPv4Address(hostname)
    except ValueError:
        return
    if as_ip != vip:
        yield Rule(
            ("harbor", "hostname"),
            f"is an IP address but not the VIP {vip}: clients must come in through the "
            f"VIP; use the VIP ({vip}) or an FQDN that resolves to it, e.g. "
            "registry.example.com",
            hostname,
        )


@dataclass(frozen=True)
class _Host:
    loc: Loc
    label: str
    """How the screens name it: "LB 1", "Harbor node 2"."""
    example: str
    """A name it could have."""


def _hosts(v: Values) -> list[_Host]:
    lbs = [
        _Host(("load_balancer", "nodes", i), f"LB {i + 1}", f"lb{i + 1:02d}")
        for i in range(v.count("load_balancer", "nodes") or 0)
    ]
    nodes = [
        _Host(("harbor_nodes", i), f"Harbor node {i + 1}", f"harbor{i + 1:02d}")
        for i in range(v.count("harbor_nodes") or 0)
    ]
    # Nodes first: they are on the first screen, so a clash is marked on the LB (the later
    # screen, where the operator is when it happens in a new deployment).
    return nodes + lbs


def _address_rules(v: Values) -> Iterator[Rule]:
    """Names and addresses are unique; the VIP is nobody's; VRRP shares one subnet."""
    vip = v.get("vip")
    hosts = _hosts(v)
    names: dict[str, _Host] = {}
    addresses: dict[ipaddress.IPv4Address, _Host] = {}
    for host in hosts:
        name, address = v.get(*host.loc, "name"), v.get(*host.loc, "address")
        if name is not None:
            if name in names:
                yield Rule(
                    (*host.loc, "name"),
                    f"'{name}' is also {names[name].label}'s name: every host needs its "
                    f"own name, e.g. {host.example}",
                    name,
                )
            names.setdefault(name, host)
        if address is None:
            continue
        if address == vip:
            yield Rule(
                (*host.loc, "address"),
                f"{address} is the VIP: the VIP moves between the load balancers and is "
                "no host's own address; give this host its own address",
                str(address),
            )
        elif address in addresses:
            other = addresses[address]
            other_name = v.get(*other.loc, "name")
            named = f" ({other_name})" if other_name else ""
            yield Rule(
                (*host.loc, "address"),
                f"{address} is also {other.label}'s address{named}: every host needs its "
                "own address",
                str(address),
            )
        addresses.setdefault(address, host)
    mode, prefix = v.get("load_balancer", "mode"), v.get("load_balancer", "prefix_length")
    if vip is None or prefix is None or mode not in ("lvs-dr", "haproxy"):
        return
    network = ipaddress.IPv4Network(f"{vip}/{prefix}", strict=False)
    for host in hosts:
        address = v.get(*host.loc, "address")
        if address is None or address in network:
            continue
        if host.loc[0] == "load_balancer":
            yield Rule(
                (*host.loc, "address"),
                f"{address} is not in the VIP's network {network}: VRRP needs the VIP and "
                f"both load balancers on one subnet; use an address in {network}, or "
                "change the VIP or its prefix length",
                str(address),
            )
        elif mode == "lvs-dr":
            yield Rule(
                (*host.loc, "address"),
                f"{address} is not in the VIP's network {network}: LVS-DR only rewrites "
                f"MAC addresses, so nodes share the LBs' segment; use an address in "
                f"{network}, or choose mode haproxy",
                str(address),
            )
