"""Harbor 1.4.x, as its HA guide installs it: the files, folders and installer it manages.

Sources: /work/shared/reference (harbor.cfg keys, what `install.sh --ha` and `prepare --ha`
do). `prepare --ha` copies the ha/ originals to where the containers read them, so the
wizard manages the originals and the audit checks the copies.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from harbor_wizard.profiles import (
    Directory,
    FirstStartOnly,
    Health,
    Installer,
    LbMode,
    ManagedFile,
    Needs,
    NodeSoftware,
    Pools,
    Profile,
    Source,
    Then,
    VipRedirect,
)

HARBOR_DIR = PurePosixPath("/opt/harbor")
HA = HARBOR_DIR / "ha"
HARBOR_CFG = HARBOR_DIR / "harbor.cfg"
CERT_DIR = PurePosixPath("/data/cert")
SSL_CERT = CERT_DIR / "server.crt"
SSL_KEY = CERT_DIR / "server.key"
DATA_UID = "10000:10000"
DATA_SECRETKEY = PurePosixPath("/data/secretkey")
"""harbor.cfg's secretkey_path: prepare's copy of ha/secretkey, the key Harbor uses."""

HARBOR_CFG_SECRET_KEYS = frozenset(
    {
        "harbor_admin_password",
        "db_password",
        "clair_db_password",
        "registry_storage_provider_config",  # may hold storage credentials
        # Upstream placeholders in our file, but a host's hand-edited copy may hold real ones.
        "email_password",
        "ldap_search_pwd",
        "uaa_clientsecret",
    }
)
KEEPALIVED_SECRET_KEYS = frozenset({"auth_pass"})

VIP_REDIRECT = VipRedirect(
    chain="HARBOR-WIZARD-VIP",
    script=PurePosixPath("/usr/local/sbin/harbor-wizard-vip-redirect"),
    unit="harbor-wizard-vip-redirect",
)

POOLS = Pools(
    haproxy_socket="/run/harbor-wizard-haproxy.sock",
    haproxy_backend="harbor_nodes_{port}",
    lvs_weight=10,
)
LB_PACKAGES: dict[LbMode, dict[str, str]] = {
    "lvs-dr": {"keepalived": "keepalived", "curl": "curl"},
    "haproxy": {
        "keepalived": "keepalived",
        "curl": "curl",
        "haproxy": "haproxy",
        "socat": "socat",
    },  # socat: HAProxy's runtime API, to drain a node
    "external": {},
}
LB_SYSCTL = {"net.ipv4.ip_forward": "1", "net.ipv4.ip_nonlocal_bind": "1"}

LB_FILES = (
    # The same for every release: keepalived, HAProxy and their checks probe `health`.
    ManagedFile(
        "lb", PurePosixPath("/usr/local/bin/check.sh"), "check.sh.j2", mode=0o755,
        lb_modes=frozenset({"lvs-dr"}),
    ),
    ManagedFile(
        "lb", PurePosixPath("/usr/local/bin/check_haproxy.sh"), "check_haproxy.sh.j2",
        mode=0o755, lb_modes=frozenset({"haproxy"}),
    ),
    ManagedFile(
        "lb", PurePosixPath("/etc/sysctl.d/90-harbor-wizard.conf"), "sysctl.conf.j2",
        then=Then.SYSCTL,
    ),
    ManagedFile(
        "lb", PurePosixPath("/etc/haproxy/haproxy.cfg"), "haproxy.cfg.j2",
        validate='haproxy -c -q -f "$1"', then=Then.RELOAD, service="haproxy",
        lb_modes=frozenset({"haproxy"}),
    ),
    # Last: keepalived moves the VIP to this LB once its checks pass.
    ManagedFile(
        "lb", PurePosixPath("/etc/keepalived/keepalived.conf"), "keepalived.conf.j2",
        mode=0o600, secret=True, secret_keys=KEEPALIVED_SECRET_KEYS,
        # -t exists from keepalived 2.0.4 (Ubuntu 18.04 ships 1.3.9): used where offered.
        validate='if keepalived --help 2>&1 | grep -q -e --config-test; then '
        'keepalived -t -f "$1"; fi',
        then=Then.RELOAD, service="keepalived",
    ),
)  # fmt: skip

VIP_REDIRECT_FILES = (
    # LVS-DR: every release's nodes accept the VIP's packets the guide's way.
    ManagedFile(
        "node", VIP_REDIRECT.script, "vip-redirect.sh.j2", mode=0o755, then=Then.VIP_REDIRECT,
        lb_modes=frozenset({"lvs-dr"}),
    ),
    ManagedFile(
        "node", PurePosixPath(f"/etc/systemd/system/{VIP_REDIRECT.unit}.service"),
        "vip-redirect.service.j2", then=Then.BOOT_UNIT, service=VIP_REDIRECT.unit,
        lb_modes=frozenset({"lvs-dr"}),
    ),
)  # fmt: skip

_NODE = (
    ManagedFile(
        "node", HARBOR_CFG, "harbor.cfg.j2", mode=0o600, secret=True,
        secret_keys=HARBOR_CFG_SECRET_KEYS, then=Then.INSTALL, shared=True,
    ),
    ManagedFile(
        "node", HA / "private_key.pem", source=Source.TOKEN_PRIVATE_KEY, mode=0o600,
        secret=True, then=Then.INSTALL, shared=True,
    ),
    ManagedFile(
        "node", HA / "root.crt", source=Source.TOKEN_CERTIFICATE, then=Then.INSTALL,
        shared=True,
    ),
    ManagedFile(
        "node", HA / "secretkey", source=Source.SECRETKEY, mode=0o600, secret=True,
        guarded=True, then=Then.INSTALL, shared=True, copied_to=DATA_SECRETKEY,
    ),
    ManagedFile(
        "node", HA / SSL_CERT.name, source=Source.TLS_CERTIFICATE, then=Then.INSTALL,
        needs=Needs.TLS, shared=True, copied_to=SSL_CERT,
    ),
    ManagedFile(
        "node", HA / SSL_KEY.name, source=Source.TLS_PRIVATE_KEY, mode=0o600, secret=True,
        then=Then.INSTALL, needs=Needs.TLS, shared=True, copied_to=SSL_KEY,
    ),
    ManagedFile(
        "node", HA / "ca.crt", source=Source.TLS_CA, then=Then.INSTALL, needs=Needs.TLS_CA,
        shared=True, copied_to=PurePosixPath("/data/ca_download/ca.crt"),
    ),
)  # fmt: skip

_UI_KEEPS = (
    "Clair itself follows the change, but Harbor's UI keeps the first value in the Harbor "
    "DB (only a start with reload_config = true re-reads it, which also undoes settings "
    "changed in the UI)"
)
FIRST_START_ONLY = (
    # harbor.cfg's "initial properties": its own comment says the admin password "has no
    # effect after the first launch" (the UI sets it while admin's salt is empty).
    FirstStartOnly(
        "harbor.admin_password", HARBOR_CFG, "harbor_admin_password",
        "change it in Harbor's UI instead (signed in as admin: the user menu at the top "
        "right > Change Password; or PUT /api/users/1/password)",
    ),
    # adminserver re-loads only its repeatLoadEnvs on later starts: the Clair DB's
    # password is among them, its address, user and database name are not.
    FirstStartOnly("clair_database.host", HARBOR_CFG, "clair_db_host", _UI_KEEPS),
    FirstStartOnly("clair_database.port", HARBOR_CFG, "clair_db_port", _UI_KEEPS),
    FirstStartOnly("clair_database.user", HARBOR_CFG, "clair_db_username", _UI_KEEPS),
    FirstStartOnly("clair_database.database", HARBOR_CFG, "clair_db", _UI_KEEPS),
)  # fmt: skip
"""Sources: /work/shared/research/harbor-domain.md (harbor.cfg keys; what adminserver's
systemcfg re-loads on every start) and the upstream harbor.cfg's comments."""

PROFILE = Profile(
    release="1.4",
    files=LB_FILES + _NODE + VIP_REDIRECT_FILES,
    node_directories=(
        Directory(PurePosixPath("/data")),
        Directory(PurePosixPath("/data/registry"), DATA_UID),
        Directory(PurePosixPath("/data/job_logs"), DATA_UID),
        Directory(CERT_DIR, needs=Needs.TLS),
        Directory(PurePosixPath("/data/ca_download"), needs=Needs.TLS),
    ),
    installer=Installer(
        directory=HARBOR_DIR,
        members=("harbor/install.sh", "harbor/harbor.cfg", "harbor/ha/registry.sql"),
        schema="harbor/ha/registry.sql",
        flags=("--ha",),
        clair_flag="--with-clair",
        example_name="harbor-offline-installer-v1.4.0.tgz",
    ),
    health=Health("/api/systeminfo", "registry_url", "/api/repositories/top"),
    vip_redirect=VIP_REDIRECT,
    pools=POOLS,
    lb_packages=LB_PACKAGES,
    lb_sysctl=LB_SYSCTL,
    data_uid=DATA_UID,
    first_start_only=FIRST_START_ONLY,
    config_file=HARBOR_CFG,
    node_software=NodeSoftware(docker=(1, 10), compose=(1, 7, 1), python2=True),
)
