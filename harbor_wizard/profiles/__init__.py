"""What a Harbor release line manages, said once, as data.

Why data: `render` (what each host holds), `plan` (the steps that put it there), the
install step (what makes `install.sh` run again), the audit (what every node must share)
and verification (the health endpoint) all read one description, so adding a managed file
is adding one entry here, and a second Harbor release is a second profile, not a second
copy of every module. A profile names templates, paths and effects; it imports no step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePosixPath
from typing import Literal

Role = Literal["lb", "node"]
LbMode = Literal["lvs-dr", "haproxy", "external"]
ALL_LB_MODES: frozenset[LbMode] = frozenset({"lvs-dr", "haproxy", "external"})


class Needs(Enum):
    """Which answers a file depends on to exist at all."""

    ALWAYS = "always"
    TLS = "tls"
    """https: the certificate and key."""
    TLS_CA = "tls.ca"
    """https with a private CA whose certificate clients download."""


class Source(Enum):
    """Where a file's content comes from when no template renders it."""

    TOKEN_PRIVATE_KEY = "token private key"
    TOKEN_CERTIFICATE = "token certificate"
    SECRETKEY = "secretkey"
    TLS_CERTIFICATE = "tls certificate chain"
    TLS_PRIVATE_KEY = "tls private key"
    TLS_CA = "tls ca"
    CSRF_KEY = "csrf key"


class Then(Enum):
    """What must happen on the host once the file changed, besides writing it."""

    NOTHING = "nothing"
    RELOAD = "reload its service"
    """The named `service` reloads (or starts) with it."""
    INSTALL = "run install.sh again"
    """An input of the Harbor installer: a change recreates the node's containers."""
    SYSCTL = "apply its kernel settings"
    VIP_REDIRECT = "apply its VIP redirect rules"
    """Run now, and at every boot by its unit."""
    BOOT_UNIT = "enable its unit at boot"


@dataclass(frozen=True)
class ManagedFile:
    """One file harbor-wizard writes on a host, and everything the code must know of it."""

    role: Role
    path: PurePosixPath
    template: str | None = None
    """A template of harbor_wizard/templates; None when `source` gives the content."""
    source: Source | None = None
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"
    secret: bool = False
    """Never shown in a diff or a log (but masked by `secret_keys` when it has them)."""
    secret_keys: frozenset[str] = frozenset()
    guarded: bool = False
    """Data depends on it: never replaced when the host holds another one."""
    validate: str = ""
    """An `sh` script checking the new content on the host ("$1": the temp file)."""
    then: Then = Then.NOTHING
    service: str = ""
    """The service `Then.RELOAD` reloads, or the unit `Then.BOOT_UNIT` enables."""
    lb_modes: frozenset[LbMode] = ALL_LB_MODES
    needs: Needs = Needs.ALWAYS
    shared: bool = False
    """The HA guide's rule: byte-identical on every Harbor node (the audit checks it)."""
    copied_to: PurePosixPath | None = None
    """Where the installer copies it byte for byte (the audit checks the copy too)."""

    def __post_init__(self) -> None:
        if (self.template is None) == (self.source is None):
            raise ValueError(f"{self.path}: exactly one of template and source")
        if self.then in (Then.RELOAD, Then.BOOT_UNIT) and not self.service:
            raise ValueError(f"{self.path}: {self.then.value} needs a service")


@dataclass(frozen=True)
class Directory:
    path: PurePosixPath
    owner: str = "root:root"
    mode: int = 0o755
    needs: Needs = Needs.ALWAYS


@dataclass(frozen=True)
class Installer:
    """The offline installer: its layout, how it is run, what it loads into the database."""

    directory: PurePosixPath
    """Where it is unpacked on every node (the guide's ~/harbor)."""
    members: tuple[str, ...]
    """Members (tar paths) whose absence means this is not the offline installer."""
    schema: str | None
    """The tar member the database phase loads into the Harbor DB (None: Harbor creates
    its schema itself, see `DatabasePhase`)."""
    flags: tuple[str, ...]
    clair_flag: str | None
    example_name: str
    compose_files: tuple[str, ...] = ("docker-compose.yml",)
    """The compose files install.sh brings the node's containers up with (in its folder)."""
    clair_compose_file: str = "docker-compose.clair.yml"
    """Added to `compose_files` when the install runs with `clair_flag`."""
    trivy_flag: str | None = None
    """install.sh's flag for Trivy, where the release scans with it."""


class DatabasePhase(Enum):
    """What the database phase does before any node installs."""

    LOAD_SCHEMA = "load the installer's schema"
    """Harbor 1.4 HA: the guide loads registry.sql into the Harbor DB by hand."""
    CREATE_DATABASE = "create the database, empty, for Harbor to migrate"
    """Harbor 2.x: core creates and migrates its schema itself (with a lock)."""


@dataclass(frozen=True)
class SharedSetting:
    """One line of a file the installer generates on each node with a random value, which
    every node must hold alike (2.x's CSRF_KEY): set after install.sh, and the compose
    service that reads it recreated."""

    file: PurePosixPath
    key: str
    """`key=value` lines, as compose env files hold them."""
    source: Source
    service: str
    """The compose service whose container reads the file at creation."""
    then_restart: tuple[str, ...] = ()
    """Services that hold the recreated one's address from their own start (nginx's
    upstream), restarted after it."""


@dataclass(frozen=True)
class VipRedirect:
    """LVS-DR: how a Harbor node accepts packets addressed to the VIP (the guide's iptables
    REDIRECT), kept across reboots by a unit of its own."""

    chain: str
    """The nat chain holding the rules: rebuilt whole, jumped to once from PREROUTING."""
    script: PurePosixPath
    unit: str


@dataclass(frozen=True)
class Pools:
    """How the LBs name what a rolling re-install drains (the templates use the same)."""

    haproxy_socket: str
    """HAProxy's runtime API, root only (haproxy.cfg's `stats socket`)."""
    haproxy_backend: str
    """A backend's name, `{port}` filled in; each node is a server of its own name in it."""
    lvs_weight: int
    """A real server's weight in keepalived's virtual_server (0 drains it)."""

    def backends(self, ports: list[int]) -> list[str]:
        return [self.haproxy_backend.format(port=port) for port in ports]


@dataclass(frozen=True)
class Health:
    """What a Harbor node answers when it serves: `path` with `field` in its JSON (the
    LBs' probe); `database_path` answers 200 only when the UI reaches its database (the
    HA guide's check.sh asks both)."""

    path: str
    field: str
    database_path: str


@dataclass(frozen=True)
class FirstStartOnly:
    """An answer Harbor reads from a managed file only on its first start, then keeps in
    its database: changing it later rewrites the file and re-runs install.sh, and Harbor
    ignores it. The plan and the answer's field say so, with where to change it instead."""

    field: str
    """The answers (or secret) path the value comes from, e.g. ``harbor.admin_password``."""
    file: PurePosixPath
    key: str
    """Its key in `file`."""
    instead: str
    """What to do instead, once Harbor has started."""

    def why(self, release: str) -> str:
        return f"Harbor {release} reads it only on its first start; {self.instead}"

    def note(self, release: str) -> str:
        """What the plan says when a re-install changes the value."""
        return f"{self.field} changed: {self.why(release)}"


@dataclass(frozen=True)
class NodeSoftware:
    """What a Harbor node must run for this release's install.sh and prepare."""

    docker: tuple[int, ...]
    compose: tuple[int, ...]
    """The oldest docker-compose v1 install.sh takes."""
    compose_plugin: bool = False
    """install.sh prefers `docker compose` (v2) when present."""
    python2: bool = False
    """prepare runs on the host under /usr/bin/python 2.7 and calls openssl (1.4); 2.x's
    runs in a container of its own."""


@dataclass(frozen=True)
class Profile:
    release: str
    """The release line, e.g. "1.4"."""
    files: tuple[ManagedFile, ...]
    node_directories: tuple[Directory, ...]
    installer: Installer
    health: Health
    vip_redirect: VipRedirect
    pools: Pools
    lb_packages: Mapping[LbMode, Mapping[str, str]]
    """Per LB mode: package -> the binary that proves it is installed."""
    lb_sysctl: Mapping[str, str]
    """Kernel settings the LBs keep (sysctl.d file and applied at once)."""
    config_file: PurePosixPath
    """The file install.sh reads the answers from (harbor.cfg, harbor.yml)."""
    node_software: NodeSoftware
    data_uid: str = field(default="10000:10000")
    """Owner of the folders Harbor's containers write."""
    first_start_only: tuple[FirstStartOnly, ...] = ()
    database_phase: DatabasePhase = DatabasePhase.LOAD_SCHEMA
    shared_settings: tuple[SharedSetting, ...] = ()
    job_logs_on_disk: bool = True
    """Job logs are files of the node that ran the job (1.4: /data/job_logs must be shared);
    2.x's harbor.yml keeps them in the database."""
    moved_by_prepare: tuple[PurePosixPath, ...] = ()
    """Files an older release left that this release's prepare moves over a shared file
    (2.x: 1.4's /data/secretkey over the shared secretkey): refused before the install."""

    def files_for(
        self, role: Role, lb_mode: LbMode, *, tls: bool, tls_ca: bool
    ) -> tuple[ManagedFile, ...]:
        """The entries of `role`'s hosts under these answers, in the order they are put."""
        present = {Needs.ALWAYS: True, Needs.TLS: tls, Needs.TLS_CA: tls and tls_ca}
        return tuple(
            f for f in self.files if f.role == role and lb_mode in f.lb_modes and present[f.needs]
        )

    def directories(self, *, tls: bool) -> tuple[Directory, ...]:
        return tuple(d for d in self.node_directories if d.needs is Needs.ALWAYS or tls)

    def entry(self, path: PurePosixPath) -> ManagedFile:
        return next(f for f in self.files if f.path == path)

    def first_start(self, field: str) -> FirstStartOnly | None:
        """The entry of an answer Harbor reads only on its first start, if it is one."""
        return next((f for f in self.first_start_only if f.field == field), None)


def profile_for(version: str) -> Profile:
    """The profile of a `harbor.version` the answers model accepted."""
    from harbor_wizard.profiles.harbor_1_4 import PROFILE as HARBOR_1_4
    from harbor_wizard.profiles.harbor_2 import PROFILE as HARBOR_2

    if version.startswith("1.4"):
        return HARBOR_1_4
    if version.startswith("2."):
        return HARBOR_2
    raise ValueError(f"no profile for Harbor {version}")
