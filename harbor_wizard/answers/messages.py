"""What each answers field is, the form its value takes, and an example: the words of the
messages about a missing or malformed value.

Why a table: pydantic's own texts speak of strings, patterns and list lengths ("String
should match pattern ..."), which an operator cannot act on. Every field of the model has
an entry here (a test walks the model), so the loader, ``check`` and the TUI say the same
thing: what is wrong, and a value that would be right.
"""

from __future__ import annotations

from dataclasses import dataclass

from harbor_wizard.redact import MIN_LENGTH

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldWords:
    what: str
    """What the field holds, said to the operator."""
    form: str
    """The form of a right value ("an IPv4 address")."""
    example: str
    """A right value; empty for secrets (their value is typed, never shown)."""

    @property
    def secret(self) -> bool:
        return not self.example


def _secret(what: str) -> FieldWords:
    return FieldWords(what, "'<secret>' (the value itself goes elsewhere)", "")


_PASSWORD = f"at least {MIN_LENGTH} characters"
_MAPPING = "a mapping of 'key: value' lines"

FIELDS: dict[str, FieldWords] = {
    "version": FieldWords("the answers file format", "1", "1"),
    "name": FieldWords(
        "a name for this deployment",
        "a name of letters, digits, '-' and '_'",
        "harbor-prod",
    ),
    "harbor": FieldWords("Harbor's settings", _MAPPING, "hostname: registry.example.com"),
    "harbor.version": FieldWords(
        "the Harbor release of the offline installer",
        "a Harbor 1.4 or 2.15 release in quotes",
        '"1.4.0"',
    ),
    "harbor.installer": FieldWords(
        "the Harbor offline installer .tgz on this machine",
        "a file path",
        "./harbor-offline-installer-v1.4.0.tgz",
    ),
    "harbor.hostname": FieldWords(
        "the address clients use: an FQDN that resolves to the VIP, or the VIP",
        "a DNS name or an IPv4 address",
        "registry.example.com",
    ),
    "harbor.protocol": FieldWords("how clients connect to Harbor", "http or https", "https"),
    "harbor.with_clair": FieldWords(
        "whether Clair scans images for vulnerabilities (Harbor 1.4)", "true or false", "false"
    ),
    "harbor.with_trivy": FieldWords(
        "whether Trivy scans images for vulnerabilities (Harbor 2.x)", "true or false", "true"
    ),
    "harbor.with_notary": FieldWords(
        "content trust (not available in Harbor HA)", "false", "false"
    ),
    "harbor.admin_password": _secret(f"Harbor's admin password ({_PASSWORD})"),
    "vip": FieldWords(
        "the virtual IP that clients use",
        "an IPv4 address",
        "192.0.2.220",
    ),
    "ssh": FieldWords("how the wizard logs in to every host", _MAPPING, "user: root"),
    "ssh.user": FieldWords("the SSH user on every host", "a user name", "root"),
    "ssh.port": FieldWords("the SSH port of every host", "a port number from 1 to 65535", "22"),
    "ssh.identity_file": FieldWords(
        "the private key for every host", "a file path", "~/.ssh/id_ed25519"
    ),
    "ssh.known_hosts": FieldWords(
        "the known_hosts file host keys are checked against", "a file path", "~/.ssh/known_hosts"
    ),
    "load_balancer": FieldWords("the load balancers", _MAPPING, "mode: haproxy"),
    "load_balancer.mode": FieldWords(
        "how clients reach the nodes", "lvs-dr, haproxy or external", "haproxy"
    ),
    "load_balancer.interface": FieldWords(
        "the LB network interface that carries the VIP", "an interface name", "ens160"
    ),
    "load_balancer.prefix_length": FieldWords(
        "the prefix length of the network the VIP and the LBs share",
        "a whole number from 8 to 32",
        "24",
    ),
    "load_balancer.virtual_router_id": FieldWords(
        "the VRRP router id, unique on the network segment",
        "a whole number from 1 to 255",
        "51",
    ),
    "load_balancer.auth_pass": _secret(f"the VRRP password ({MIN_LENGTH} to 8 characters)"),
    "load_balancer.nodes": FieldWords(
        "the two load balancers",
        "a list of two entries with name, address and priority",
        "[{name: lb01, address: 192.0.2.11, priority: 100}, "
        "{name: lb02, address: 192.0.2.12, priority: 90}]",
    ),
    "load_balancer.nodes[]": FieldWords(
        "a load balancer",
        "a mapping with name, address and priority",
        "{name: lb01, address: 192.0.2.11, priority: 100}",
    ),
    "load_balancer.nodes[].name": FieldWords(
        "the load balancer's name", "a name of letters, digits, '-' and '_'", "lb01"
    ),
    "load_balancer.nodes[].address": FieldWords(
        "the load balancer's own address", "an IPv4 address", "192.0.2.11"
    ),
    "load_balancer.nodes[].priority": FieldWords(
        "the VRRP priority (the higher one holds the VIP)",
        "a whole number from 1 to 254",
        "100",
    ),
    "harbor_nodes": FieldWords(
        "the Harbor nodes, at least 2",
        "a list of entries with name and address",
        "[{name: harbor01, address: 192.0.2.21}, {name: harbor02, address: 192.0.2.22}]",
    ),
    "harbor_nodes[]": FieldWords(
        "a Harbor node", "a mapping with name and address", "{name: harbor01, address: 192.0.2.21}"
    ),
    "harbor_nodes[].name": FieldWords(
        "the node's name", "a name of letters, digits, '-' and '_'", "harbor01"
    ),
    "harbor_nodes[].address": FieldWords("the node's own address", "an IPv4 address", "192.0.2.21"),
    "database": FieldWords(
        "Harbor's database server (MariaDB for 1.4, PostgreSQL for 2.x)",
        _MAPPING,
        "host: db.example.com",
    ),
    "database.engine": FieldWords(
        "the Harbor DB's kind", "mariadb (Harbor 1.4) or postgresql (Harbor 2.x)", "mariadb"
    ),
    "database.host": FieldWords(
        "the Harbor DB server", "a DNS name or an IPv4 address", "db.example.com"
    ),
    "database.port": FieldWords("the Harbor DB's port", "a port number from 1 to 65535", "3306"),
    "database.user": FieldWords("the Harbor DB user", "a user name", "root"),
    "database.database": FieldWords(
        "the database Harbor 2.x keeps its data in", "a database name", "registry"
    ),
    "database.ssl_mode": FieldWords(
        "how Harbor 2.x connects to PostgreSQL",
        "disable, require, verify-ca or verify-full",
        "require",
    ),
    "database.password": _secret(f"the Harbor DB user's password ({_PASSWORD})"),
    "clair_database": FieldWords("Clair's PostgreSQL server", _MAPPING, "host: pg.example.com"),
    "clair_database.host": FieldWords(
        "the PostgreSQL server", "a DNS name or an IPv4 address", "pg.example.com"
    ),
    "clair_database.port": FieldWords(
        "the PostgreSQL port", "a port number from 1 to 65535", "5432"
    ),
    "clair_database.user": FieldWords("the PostgreSQL user", "a user name", "postgres"),
    "clair_database.database": FieldWords(
        "the PostgreSQL database (named after the user)", "a database name", "postgres"
    ),
    "clair_database.password": _secret(
        f"the PostgreSQL user's password ({_PASSWORD}, without @ : / ? # % & or spaces)"
    ),
    "redis": FieldWords("the Redis server", _MAPPING, 'endpoints: ["redis.example.com:6379"]'),
    "redis.endpoints": FieldWords(
        "the Redis server (or the Sentinels)",
        "a list of host:port",
        '["redis.example.com:6379"]',
    ),
    "redis.endpoints[]": FieldWords("the Redis server", "host:port", "redis.example.com:6379"),
    "redis.password": _secret("the Redis password (Harbor 2.x; 1.4 cannot use one)"),
    "redis.sentinel_master_set": FieldWords(
        "the master set the Sentinels watch (Harbor 2.x)", "a name", "mymaster"
    ),
    "redis.registry_db_index": FieldWords(
        "the registry's Redis database (Harbor 2.x)", "a whole number from 1 to 15", "1"
    ),
    "redis.jobservice_db_index": FieldWords(
        "the job service's Redis database (Harbor 2.x)", "a whole number from 1 to 15", "2"
    ),
    "redis.trivy_db_index": FieldWords(
        "Trivy's Redis database (Harbor 2.x)", "a whole number from 1 to 15", "5"
    ),
    "storage": FieldWords("where the registry keeps image layers", _MAPPING, "provider: s3"),
    "storage.provider": FieldWords(
        "the registry's storage driver", "filesystem, s3, swift, azure, gcs or oss", "filesystem"
    ),
    "storage.config": FieldWords(
        "the storage driver's settings", _MAPPING, "{region: eu-west-1, bucket: harbor-registry}"
    ),
    "storage.config.*": FieldWords(
        "a storage driver setting", "text, a whole number, or true or false", "eu-west-1"
    ),
    "tls": FieldWords("Harbor's https certificate and key", _MAPPING, "certificate: ./server.crt"),
    "tls.certificate": FieldWords(
        "the server certificate (PEM) on this machine", "a file path", "./server.crt"
    ),
    "tls.private_key": FieldWords(
        "the certificate's private key (PEM) on this machine", "a file path", "./server.key"
    ),
    "tls.ca": FieldWords("the CA certificate (PEM) on this machine", "a file path", "./ca.crt"),
    "tls.private_key_passphrase": _secret("the private key's passphrase"),
}


def generic(loc: Loc) -> str:
    """The table's key for a field path: list indices as ``[]``, storage settings as ``*``."""
    out = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            out += "[]"
        elif loc[:index] == ("storage", "config"):
            out += ".*"
        else:
            out += f".{part}" if out else part
    return out


def words(loc: Loc) -> FieldWords | None:
    return FIELDS.get(generic(loc))


def required(loc: Loc) -> str:
    """A value that is missing (or empty)."""
    found = words(loc)
    if found is None:
        return "is required"
    if found.secret:
        return (
            f"is required: {found.what}; it is kept in the secrets file or the keyring, "
            "never in the answers file"
        )
    return f"is required: {found.what}, e.g. {found.example}"


def malformed(loc: Loc) -> str:
    """A value of the wrong kind or out of range."""
    found = words(loc)
    if found is None:
        return "is not valid here: compare it with `harbor-wizard schema`"
    if found.secret:
        return f"must be {found.form}"
    return f"must be {found.form}, e.g. {found.example}"
