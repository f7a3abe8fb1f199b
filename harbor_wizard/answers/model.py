"""The answers model: one validated description of a Harbor HA deployment.

Why one model: the YAML loader, the TUI forms, the JSON Schema and the unattended mode all
validate through it, so no rule is written twice. It is pure data: rules that need the
operator's files (certificates) live in ``harbor_wizard.answers.files``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from harbor_wizard.answers.types import (
    SECRET_MARKER,
    Address,
    DnsName,
    InstallerPath,
    Interface,
    LocalPath,
    Name,
    Port,
    SecretRef,
    UserName,
    single_line,
    storage_value_problem,
)

SUPPORTED_VERSION = 1
"""The answers file version this tool reads and writes."""

SAMPLE_HOSTNAMES = frozenset({"reg.mydomain.com", "localhost", "localhost.localdomain"})


@dataclass(frozen=True)
class Rule:
    """A broken rule between fields, reported at the field that has to change."""

    loc: tuple[str | int, ...]
    message: str
    value: Any = None


def _raise_rules(model_name: str, rules: Iterable[Rule]) -> None:
    """Raise every broken rule at once, each at its own field path."""
    details = [
        InitErrorDetails(
            # No context: pydantic-core leaves the text as it is, braces included.
            type=PydanticCustomError("rule", rule.message),
            loc=rule.loc,
            input=rule.value,
        )
        for rule in rules
    ]
    if details:
        raise ValidationError.from_exception_data(model_name, details)


class StrictModel(BaseModel):
    """Unknown keys are refused: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class HarborSettings(StrictModel):
    version: Annotated[
        str,
        Field(
            pattern=r"^1\.4\.\d+$",
            description="Harbor release of the offline installer: the 1.4.x profile.",
        ),
    ] = "1.4.0"
    installer: InstallerPath = Field(
        description="The Harbor offline installer .tgz on the operator's machine."
    )
    hostname: DnsName = Field(
        description="The address clients use: an FQDN resolving to the VIP, or the VIP itself."
    )
    protocol: Literal["http", "https"] = "http"
    with_clair: bool = Field(
        default=False, description="Vulnerability scanning with Clair (needs clair_database)."
    )
    with_notary: bool = Field(
        default=False, description="Content trust. Harbor 1.4 does not support Notary in HA."
    )
    admin_password: SecretRef = SECRET_MARKER

    @field_validator("version", mode="before")
    @classmethod
    def _known_profile(cls, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("2."):
            raise PydanticCustomError(
                "profile",
                "Harbor {value} is not supported yet: this release installs Harbor 1.4.x",
                {"value": value},
            )
        return value

    @field_validator("hostname")
    @classmethod
    def _not_sample(cls, value: str) -> str:
        if value.lower() in SAMPLE_HOSTNAMES or value.startswith("127."):
            raise PydanticCustomError(
                "hostname",
                "'{value}' cannot be Harbor's hostname: clients outside the nodes must reach "
                "it (install.sh also refuses the sample reg.mydomain.com); use the FQDN that "
                "resolves to the VIP, or the VIP",
                {"value": value},
            )
        return value

    @field_validator("with_notary")
    @classmethod
    def _no_notary(cls, value: bool) -> bool:
        if value:
            raise PydanticCustomError(
                "notary",
                "Notary is not supported in Harbor 1.4 HA (prepare --ha refuses it, and "
                "install.sh --ha silently drops it); set with_notary: false",
            )
        return value


class SshSettings(StrictModel):
    user: UserName = "root"
    port: Port = 22
    identity_file: LocalPath | None = Field(
        default=None, description="Private key for every host; the SSH agent when absent."
    )
    known_hosts: LocalPath = Field(
        default="~/.ssh/known_hosts",
        description="Host keys are verified against this file; unknown keys need consent.",
    )


class LoadBalancerNode(StrictModel):
    name: Name
    address: Address
    priority: Annotated[
        int,
        Field(ge=1, le=254, description="VRRP priority 1..254; the higher one holds the VIP."),
    ]


LbMode = Literal["lvs-dr", "haproxy", "external"]


class LoadBalancer(StrictModel):
    mode: LbMode = Field(
        description="lvs-dr: Keepalived LVS-DR as in Harbor's guide; haproxy: Keepalived "
        "holds the VIP and HAProxy balances; external: the operator's own load balancer."
    )
    interface: Interface | None = Field(
        default=None, description="The LB interface that carries the VIP (e.g. ens160)."
    )
    prefix_length: Annotated[int, Field(ge=8, le=32)] = Field(
        default=24, description="Prefix length of the network that VIP and LBs share."
    )
    virtual_router_id: Annotated[int, Field(ge=1, le=255)] | None = Field(
        default=None, description="VRRP router id 1..255, unique on the L2 segment."
    )
    auth_pass: SecretRef | None = Field(
        default=None, description="VRRP PASS authentication: '<secret>', at most 8 characters."
    )
    nodes: list[LoadBalancerNode] = Field(default_factory=list)

    @model_validator(mode="after")
    def _mode_rules(self) -> Self:
        rules: list[Rule] = []
        if self.mode == "external":
            for field in ("interface", "virtual_router_id", "auth_pass"):
                if getattr(self, field) is not None:
                    rules.append(Rule((field,), "not used in external mode: remove it"))
            if self.nodes:
                rules.append(
                    Rule(("nodes",), "external mode has no LB hosts of ours: remove nodes")
                )
        else:
            if self.interface is None:
                rules.append(Rule(("interface",), "required with Keepalived (e.g. ens160)"))
            if self.virtual_router_id is None:
                rules.append(Rule(("virtual_router_id",), "required with Keepalived: 1..255"))
            if self.auth_pass is None:
                rules.append(Rule(("auth_pass",), "required with Keepalived: '<secret>'"))
            if len(self.nodes) != 2:
                rules.append(
                    Rule(
                        ("nodes",),
                        f"exactly two load balancers are needed, found {len(self.nodes)}",
                    )
                )
            elif self.nodes[0].priority == self.nodes[1].priority:
                rules.append(
                    Rule(
                        ("nodes", 1, "priority"),
                        "the two priorities must differ: the higher one holds the VIP",
                        self.nodes[1].priority,
                    )
                )
        _raise_rules("LoadBalancer", rules)
        return self

    @property
    def vip_holder(self) -> LoadBalancerNode | None:
        """The LB that holds the VIP when both are up: the higher priority."""
        return max(self.nodes, key=lambda node: node.priority) if self.nodes else None


class HarborNode(StrictModel):
    name: Name
    address: Address


class Database(StrictModel):
    """Harbor DB (MariaDB). Harbor 1.4 hard-codes the database name `registry`."""

    host: DnsName
    port: Port = 3306
    user: UserName = "root"
    password: SecretRef = SECRET_MARKER


class ClairDatabase(StrictModel):
    """Clair DB (PostgreSQL), only with vulnerability scanning."""

    host: DnsName
    port: Port = 5432
    user: UserName = "postgres"
    database: UserName = "postgres"
    password: SecretRef = SECRET_MARKER

    @model_validator(mode="after")
    def _database_is_user(self) -> Self:
        if self.database != self.user:
            _raise_rules(
                "ClairDatabase",
                [
                    Rule(
                        ("database",),
                        f"must be '{self.user}' (the user name): Harbor 1.4's Clair DSN has no "
                        "database name, so Clair uses the database named after the user while "
                        "the UI would read this one",
                        self.database,
                    )
                ],
            )
        return self


class Redis(StrictModel):
    endpoints: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+:\d{1,5}$")]] = Field(
        min_length=1,
        description="host:port of the Redis server. Harbor 1.4 uses exactly one.",
    )
    password: SecretRef | None = Field(
        default=None,
        description="Not usable with Harbor 1.4: its registry connects without a password.",
    )


StorageProvider = Literal["filesystem", "s3", "swift", "azure", "gcs", "oss"]

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

StorageKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


def _storage_value(value: str | int | bool) -> str | int | bool:
    return single_line(value) if isinstance(value, str) else value


StorageValue = Annotated[str | int | bool, AfterValidator(_storage_value)]


class Storage(StrictModel):
    provider: StorageProvider = "filesystem"
    config: dict[StorageKey, StorageValue] = Field(
        default_factory=dict,
        description="Docker registry storage driver settings, flat key: value; secret "
        "values as '<secret>'.",
    )

    @model_validator(mode="after")
    def _provider_rules(self) -> Self:
        rules: list[Rule] = []
        for key in STORAGE_REQUIRED[self.provider]:
            if key not in self.config:
                rules.append(Rule(("config",), f"the {self.provider} driver needs '{key}'"))
        for key, value in self.config.items():
            is_secret = key in STORAGE_SECRETS[self.provider]
            # Secret values are checked where they are read (harbor_wizard.secrets); one
            # written here by mistake is refused below, and never shown.
            problem = (
                storage_value_problem(value, secret=is_secret)
                if isinstance(value, str) and value != SECRET_MARKER
                else None
            )
            if problem:
                rules.append(Rule(("config", key), problem, None if is_secret else value))
            if is_secret and value != SECRET_MARKER:
                rules.append(
                    Rule(
                        ("config", key),
                        "holds a credential: write '<secret>' and give the value with "
                        "--secrets FILE, an environment variable or the keyring",
                    )
                )
            if value == SECRET_MARKER and not is_secret:
                rules.append(Rule(("config", key), "only credentials can be '<secret>'", value))
        root = self.config.get("rootdirectory")
        if self.provider == "filesystem" and root not in (None, "/storage"):
            rules.append(
                Rule(
                    ("config", "rootdirectory"),
                    "must be /storage (the registry container's view of /data/registry) or "
                    "absent; mount the shared filesystem at /data/registry on every node",
                    root,
                )
            )
        _raise_rules("Storage", rules)
        return self

    def secret_keys(self) -> list[str]:
        return [key for key, value in self.config.items() if value == SECRET_MARKER]


class Tls(StrictModel):
    certificate: LocalPath
    private_key: LocalPath
    ca: LocalPath | None = Field(
        default=None, description="The CA certificate, when signed by a private CA."
    )
    private_key_passphrase: SecretRef | None = None


class Answers(StrictModel):
    """A whole deployment, as the answers file describes it (version 1)."""

    version: Literal[1] = Field(description="Answers file format version.")
    name: Name = Field(description="Deployment name: keyring namespace, journal and logs.")
    harbor: HarborSettings
    vip: Address = Field(description="The virtual IP clients use.")
    ssh: SshSettings = Field(default_factory=SshSettings)
    load_balancer: LoadBalancer
    harbor_nodes: list[HarborNode] = Field(min_length=2, max_length=64)
    database: Database
    clair_database: ClairDatabase | None = None
    redis: Redis
    storage: Storage = Field(default_factory=Storage)
    tls: Tls | None = None

    @model_validator(mode="after")
    def _deployment_rules(self) -> Self:
        _raise_rules("Answers", self._broken_rules())
        return self

    def _broken_rules(self) -> Iterator[Rule]:
        harbor = self.harbor
        if harbor.with_clair and self.clair_database is None:
            yield Rule(("clair_database",), "required when harbor.with_clair is true")
        if not harbor.with_clair and self.clair_database is not None:
            yield Rule(("clair_database",), "only used with harbor.with_clair: true; remove it")
        if harbor.protocol == "https" and self.tls is None:
            yield Rule(("tls",), "required when harbor.protocol is https")
        if harbor.protocol == "http" and self.tls is not None:
            yield Rule(("tls",), "only used when harbor.protocol is https; remove it")
        if self.redis.password is not None:
            yield Rule(
                ("redis", "password"),
                "Harbor 1.4 cannot use a password-protected Redis: its registry reads "
                "redis_url as a bare host:port with no password (while the UI would send "
                "one), so one of them always fails; use a Redis without requirepass on a "
                "protected network and remove this field",
            )
        if len(self.redis.endpoints) != 1:
            yield Rule(
                ("redis", "endpoints"),
                "Harbor 1.4 takes exactly one Redis endpoint (neither its registry nor its "
                "UI can use a list); put Sentinel or a proxy behind one address",
            )
        yield from self._hostname_rules()
        yield from self._address_rules()

    def _hostname_rules(self) -> Iterator[Rule]:
        try:
            as_ip = ipaddress.IPv4Address(self.harbor.hostname)
        except ValueError:
            return
        if as_ip != self.vip:
            yield Rule(
                ("harbor", "hostname"),
                f"is an IP address but not the VIP {self.vip}: clients must come in "
                "through the VIP; use the VIP or an FQDN that resolves to it",
                self.harbor.hostname,
            )

    def _address_rules(self) -> Iterator[Rule]:
        seen_names: dict[str, tuple[str | int, ...]] = {}
        seen_addresses: dict[ipaddress.IPv4Address, tuple[str | int, ...]] = {self.vip: ("vip",)}
        hosts: list[tuple[tuple[str | int, ...], str, ipaddress.IPv4Address]] = [
            (("load_balancer", "nodes", i), node.name, node.address)
            for i, node in enumerate(self.load_balancer.nodes)
        ] + [
            (("harbor_nodes", i), node.name, node.address)
            for i, node in enumerate(self.harbor_nodes)
        ]
        for loc, name, address in hosts:
            if name in seen_names:
                yield Rule((*loc, "name"), f"'{name}' is used twice; host names are unique", name)
            seen_names.setdefault(name, loc)
            if address == self.vip:
                yield Rule(
                    (*loc, "address"), "is the VIP: the VIP is no host's address", str(address)
                )
            elif address in seen_addresses:
                yield Rule(
                    (*loc, "address"),
                    f"{address} is used twice; every host needs its own address",
                    str(address),
                )
            seen_addresses.setdefault(address, loc)
        lb = self.load_balancer
        if lb.mode == "external":
            return
        network = ipaddress.IPv4Network(f"{self.vip}/{lb.prefix_length}", strict=False)
        for i, node in enumerate(lb.nodes):
            if node.address not in network:
                yield Rule(
                    ("load_balancer", "nodes", i, "address"),
                    f"{node.address} is not in the VIP's network {network}: VRRP needs "
                    "the VIP and both load balancers on one subnet",
                    str(node.address),
                )
        if lb.mode == "lvs-dr":
            for i, harbor_node in enumerate(self.harbor_nodes):
                if harbor_node.address not in network:
                    yield Rule(
                        ("harbor_nodes", i, "address"),
                        f"{harbor_node.address} is not in the VIP's network {network}: LVS-DR "
                        "only rewrites MAC addresses, so nodes share the LBs' segment "
                        "(or choose mode haproxy)",
                        str(harbor_node.address),
                    )

    def hosts(self) -> list[tuple[str, str]]:
        """Every host the wizard manages, as (name, address), LBs first."""
        return [(n.name, str(n.address)) for n in self.load_balancer.nodes] + [
            (n.name, str(n.address)) for n in self.harbor_nodes
        ]
