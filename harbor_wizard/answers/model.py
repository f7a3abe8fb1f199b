"""The answers model: one validated description of a Harbor HA deployment.

Why one model: the YAML loader, the TUI forms, the JSON Schema and the unattended mode all
validate through it, so no rule is written twice. It is pure data: rules that need the
operator's files (certificates) live in ``harbor_wizard.answers.files``.
"""

from __future__ import annotations

from collections.abc import Iterable
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

from harbor_wizard.answers.rules import (
    MAX_HARBOR_NODES,
    MIN_HARBOR_NODES,
    STORAGE_REQUIRED,
    STORAGE_SECRETS,
    Rule,
    clair_database_rules,
    deployment_rules,
    load_balancer_rules,
    storage_rules,
)
from harbor_wizard.answers.types import (
    SECRET_MARKER,
    Address,
    DatabaseName,
    DnsName,
    Endpoint,
    HarborVersion,
    InstallerPath,
    Interface,
    LocalPath,
    MasterSet,
    Name,
    Port,
    SecretRef,
    StorageKey,
    UserName,
    single_line,
)

__all__ = ["STORAGE_REQUIRED", "STORAGE_SECRETS", "Rule"]

SUPPORTED_VERSION = 1
"""The answers file version this tool reads and writes."""

SAMPLE_HOSTNAMES = frozenset({"reg.mydomain.com", "localhost", "localhost.localdomain"})


class _Fields:
    """A model's own (validated) fields, as the rules read them (``rules.Values``)."""

    def __init__(self, model: BaseModel) -> None:
        self._model = model

    def _at(self, loc: tuple[str | int, ...]) -> Any:
        node: Any = self._model
        for part in loc:
            if isinstance(node, list) and isinstance(part, int):
                node = node[part] if part < len(node) else None
            elif isinstance(node, dict):
                node = node.get(part)
            elif isinstance(node, BaseModel) and isinstance(part, str):
                node = getattr(node, part, None)
            else:
                return None
        return node

    def get(self, *loc: str | int) -> Any:
        return self._at(loc)

    def has(self, *loc: str | int) -> bool:
        return self._at(loc) is not None

    def count(self, *loc: str | int) -> int | None:
        node = self._at(loc)
        return len(node) if isinstance(node, list) else None

    def keys(self, *loc: str | int) -> list[str]:
        node = self._at(loc)
        return [str(key) for key in node] if isinstance(node, dict) else []


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
    version: HarborVersion = Field(
        default="1.4.0",
        description="Harbor release of the offline installer: 1.4.x (the HA guide's) or 2.15.x.",
    )
    installer: InstallerPath = Field(
        description="The Harbor offline installer .tgz on the operator's machine."
    )
    hostname: DnsName = Field(
        description="The address clients use: an FQDN resolving to the VIP, or the VIP itself."
    )
    protocol: Literal["http", "https"] = "http"
    with_clair: bool = Field(
        default=False,
        description="Harbor 1.4: vulnerability scanning with Clair (needs clair_database).",
    )
    with_trivy: bool = Field(
        default=False, description="Harbor 2.x: vulnerability scanning with Trivy."
    )
    with_notary: bool = Field(
        default=False,
        description="Content trust. Harbor 1.4 does not support Notary in HA; 2.x removed it.",
    )
    admin_password: SecretRef = SECRET_MARKER

    @field_validator("hostname")
    @classmethod
    def _not_sample(cls, value: str) -> str:
        if value.lower() in SAMPLE_HOSTNAMES or value.startswith("127."):
            raise PydanticCustomError(
                "hostname",
                "'{value}' cannot be Harbor's hostname: clients outside the nodes must reach "
                "it (install.sh also refuses the sample reg.mydomain.com); use the FQDN that "
                "resolves to the VIP, or the VIP, e.g. registry.example.com",
                {"value": value},
            )
        return value

    @field_validator("with_notary")
    @classmethod
    def _no_notary(cls, value: bool) -> bool:
        if value:
            raise PydanticCustomError(
                "notary",
                "Notary is not available: Harbor 1.4 HA does not support it (prepare --ha "
                "refuses it, and install.sh --ha silently drops it), and Harbor 2.x removed "
                "it; set with_notary: false",
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
        _raise_rules("LoadBalancer", load_balancer_rules(_Fields(self)))
        return self

    @property
    def vip_holder(self) -> LoadBalancerNode | None:
        """The LB that holds the VIP when both are up: the higher priority."""
        return max(self.nodes, key=lambda node: node.priority) if self.nodes else None


class HarborNode(StrictModel):
    name: Name
    address: Address


DbEngine = Literal["mariadb", "postgresql"]
SslMode = Literal["disable", "require", "verify-ca", "verify-full"]


class Database(StrictModel):
    """Harbor DB: MariaDB for Harbor 1.4, which hard-codes the database name `registry`;
    PostgreSQL for Harbor 2.x. The defaults below are 1.4's; `Answers` puts 2.x's in place
    of the unwritten ones (see `release_defaults`)."""

    engine: DbEngine = Field(
        default="mariadb",
        description="mariadb for Harbor 1.4; postgresql for 2.x (the default there).",
    )
    host: DnsName
    port: Port = Field(default=3306, description="3306 for 1.4; 5432 by default for 2.x.")
    user: UserName = Field(default="root", description="root for 1.4; postgres for 2.x.")
    database: DatabaseName | None = Field(
        default=None,
        description="Harbor 2.x: the database Harbor migrates itself (registry by default).",
    )
    ssl_mode: SslMode | None = Field(
        default=None, description="Harbor 2.x: PostgreSQL sslmode (disable by default)."
    )
    password: SecretRef = SECRET_MARKER

    @property
    def postgres_name(self) -> str:
        """Harbor 2.x's database (filled in by `release_defaults`; registry otherwise)."""
        return self.database or str(POSTGRES_DEFAULTS["database"])

    @property
    def postgres_ssl_mode(self) -> str:
        return self.ssl_mode or str(POSTGRES_DEFAULTS["ssl_mode"])


class ClairDatabase(StrictModel):
    """Clair DB (PostgreSQL), only with vulnerability scanning."""

    host: DnsName
    port: Port = 5432
    user: UserName = "postgres"
    database: UserName = "postgres"
    password: SecretRef = SECRET_MARKER

    @model_validator(mode="after")
    def _database_is_user(self) -> Self:
        _raise_rules("ClairDatabase", clair_database_rules(_Fields(self)))
        return self


RedisDbIndex = Annotated[int, Field(ge=1, le=15)]


class Redis(StrictModel):
    endpoints: list[Endpoint] = Field(
        description="host:port of the Redis server (Harbor 1.4: exactly one); with "
        "sentinel_master_set (2.x), the Sentinels.",
        json_schema_extra={"minItems": 1},
    )
    password: SecretRef | None = Field(
        default=None,
        description="Harbor 2.x only: 1.4's registry connects without a password.",
    )
    sentinel_master_set: MasterSet | None = Field(
        default=None,
        description="Harbor 2.x: the master's name the Sentinels in endpoints know it by.",
    )
    registry_db_index: RedisDbIndex | None = Field(
        default=None, description="Harbor 2.x: the registry's database (1 by default)."
    )
    jobservice_db_index: RedisDbIndex | None = Field(
        default=None, description="Harbor 2.x: the job service's database (2 by default)."
    )
    trivy_db_index: RedisDbIndex | None = Field(
        default=None, description="Harbor 2.x: Trivy's database (5 by default)."
    )


StorageProvider = Literal["filesystem", "s3", "swift", "azure", "gcs", "oss"]


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
        _raise_rules("Storage", storage_rules(_Fields(self)))
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


POSTGRES_DEFAULTS = {
    "engine": "postgresql",
    "port": 5432,
    "user": "postgres",
    "database": "registry",
    "ssl_mode": "disable",
}
"""harbor.yml's external_database.harbor defaults (v2.15)."""


def release_defaults(data: Any) -> Any:
    """Raw answers with the Harbor DB defaults of their release where none is written:
    Harbor 2.x keeps its data in PostgreSQL (`Database`'s own defaults are 1.4's)."""
    if not isinstance(data, dict):
        return data
    harbor, database = data.get("harbor"), data.get("database")
    version = harbor.get("version") if isinstance(harbor, dict) else None
    if not (isinstance(version, str) and version.startswith("2.") and isinstance(database, dict)):
        return data
    if database.get("engine", "postgresql") != "postgresql":
        return data  # refused by a rule, at database.engine
    return {**data, "database": {**POSTGRES_DEFAULTS, **database}}


class Answers(StrictModel):
    """A whole deployment, as the answers file describes it (version 1)."""

    version: Literal[1] = Field(description="Answers file format version.")
    name: Name = Field(description="Deployment name: keyring namespace, journal and logs.")
    harbor: HarborSettings
    vip: Address = Field(description="The virtual IP clients use.")
    ssh: SshSettings = Field(default_factory=SshSettings)
    load_balancer: LoadBalancer
    harbor_nodes: list[HarborNode] = Field(
        # The count is a rule (rules.harbor_node_count): checked and said the same way in
        # the model, the loader and the TUI; the schema still tells editors.
        json_schema_extra={"minItems": MIN_HARBOR_NODES, "maxItems": MAX_HARBOR_NODES},
    )
    database: Database
    clair_database: ClairDatabase | None = None
    redis: Redis
    storage: Storage = Field(default_factory=Storage)
    tls: Tls | None = None

    @model_validator(mode="before")
    @classmethod
    def _release_defaults(cls, data: Any) -> Any:
        return release_defaults(data)

    @model_validator(mode="after")
    def _deployment_rules(self) -> Self:
        _raise_rules("Answers", deployment_rules(_Fields(self)))
        return self

    def hosts(self) -> list[tuple[str, str]]:
        """Every host the wizard manages, as (name, address), LBs first."""
        return [(n.name, str(n.address)) for n in self.load_balancer.nodes] + [
            (n.name, str(n.address)) for n in self.harbor_nodes
        ]
