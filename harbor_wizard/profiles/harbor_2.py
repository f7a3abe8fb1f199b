"""Harbor 2.x (tested line: 2.15), on VMs with docker compose, HA the way its issues piece it
together: every node an ordinary install against external PostgreSQL and Redis, sharing
what prepare would otherwise make per node.

Sources: /work/shared/reference/harbor-2.x (v2.15.2's harbor.yml.tmpl) and Harbor's own
prepare (make/photon/prepare: g.py's paths, utils/cert.py, utils/core.py), read at v2.15.2:
- prepare keeps /data/secret/keys/secretkey, and the token pair under /data/secret when
  both halves exist; it makes them 0600 (the key) and 10000:10000. The wizard writes them
  as prepare leaves them, or every run would see them change.
- It copies the https certificate and key to /data/secret/cert; nginx reads the copies.
- It writes a random CSRF_KEY into common/config/core/env on every run: set after it.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from harbor_wizard.profiles import (
    DatabasePhase,
    Directory,
    FirstStartOnly,
    Health,
    Installer,
    ManagedFile,
    Needs,
    NodeSoftware,
    Profile,
    SharedSetting,
    Source,
    Then,
)
from harbor_wizard.profiles.harbor_1_4 import (
    LB_FILES,
    LB_PACKAGES,
    LB_SYSCTL,
    POOLS,
    VIP_REDIRECT,
    VIP_REDIRECT_FILES,
)

RELEASE = "2.15"
HARBOR_DIR = PurePosixPath("/opt/harbor")
HARBOR_YML = HARBOR_DIR / "harbor.yml"
DATA = PurePosixPath("/data")
SECRET = DATA / "secret"
CERT_DIR = DATA / "cert"
SSL_CERT = CERT_DIR / "server.crt"
SSL_KEY = CERT_DIR / "server.key"
"""Where harbor.yml's https.certificate and https.private_key point."""
DATA_UID = "10000"
CORE_ENV = HARBOR_DIR / "common/config/core/env"

HARBOR_YML_SECRET_KEYS = frozenset(
    {
        "harbor_admin_password",
        "password",  # external_database.harbor, external_redis, swift
        # storage_service credentials, by driver (answers.rules.STORAGE_SECRETS)
        "secretkey",
        "accountkey",
        "accesskeysecret",
        "github_token",
    }
)

_NODE = (
    ManagedFile(
        "node", HARBOR_YML, "harbor.yml.j2", mode=0o600, secret=True,
        secret_keys=HARBOR_YML_SECRET_KEYS, then=Then.INSTALL, shared=True,
    ),
    ManagedFile(
        "node", SECRET / "keys/secretkey", source=Source.SECRETKEY, mode=0o600,
        owner=DATA_UID, group=DATA_UID, secret=True, guarded=True, then=Then.INSTALL,
        shared=True,
    ),
    ManagedFile(
        "node", SECRET / "core/private_key.pem", source=Source.TOKEN_PRIVATE_KEY, mode=0o600,
        owner=DATA_UID, group=DATA_UID, secret=True, then=Then.INSTALL, shared=True,
    ),
    ManagedFile(
        "node", SECRET / "registry/root.crt", source=Source.TOKEN_CERTIFICATE,
        owner=DATA_UID, group=DATA_UID, then=Then.INSTALL, shared=True,
    ),
    ManagedFile(
        "node", SSL_CERT, source=Source.TLS_CERTIFICATE, then=Then.INSTALL, needs=Needs.TLS,
        shared=True, copied_to=SECRET / "cert/server.crt",
    ),
    ManagedFile(
        "node", SSL_KEY, source=Source.TLS_PRIVATE_KEY, mode=0o600, secret=True,
        then=Then.INSTALL, needs=Needs.TLS, shared=True, copied_to=SECRET / "cert/server.key",
    ),
    # Served by core's "download the registry's root certificate"; prepare chowns the
    # folder to 10000:10000, files included.
    ManagedFile(
        "node", DATA / "ca_download/ca.crt", source=Source.TLS_CA, owner=DATA_UID,
        group=DATA_UID, then=Then.INSTALL, needs=Needs.TLS_CA, shared=True,
    ),
)  # fmt: skip

FIRST_START_ONLY = (
    # harbor.yml's own comment: "It only works in first time to install harbor".
    FirstStartOnly(
        "harbor.admin_password", HARBOR_YML, "harbor_admin_password",
        "change it in Harbor's UI instead (signed in as admin: the user menu at the top "
        "right > Change Password; or PUT /api/v2.0/users/1/password)",
    ),
)  # fmt: skip

PROFILE = Profile(
    release=RELEASE,
    files=LB_FILES + _NODE + VIP_REDIRECT_FILES,
    node_directories=(
        Directory(DATA),
        Directory(DATA / "registry", f"{DATA_UID}:{DATA_UID}"),
        Directory(CERT_DIR, needs=Needs.TLS),
        Directory(DATA / "ca_download", f"{DATA_UID}:{DATA_UID}"),
    ),
    installer=Installer(
        directory=HARBOR_DIR,
        members=("harbor/install.sh", "harbor/prepare", "harbor/harbor.yml.tmpl"),
        schema=None,
        flags=(),
        clair_flag=None,
        trivy_flag="--with-trivy",
        example_name="harbor-offline-installer-v2.15.2.tgz",
    ),
    # Anonymous systeminfo answers auth_mode (src/server/v2.0/handler/systeminfo.go);
    # listing public projects reads the database.
    health=Health("/api/v2.0/systeminfo", "auth_mode", "/api/v2.0/projects?page_size=1"),
    vip_redirect=VIP_REDIRECT,
    pools=POOLS,
    lb_packages=LB_PACKAGES,
    lb_sysctl=LB_SYSCTL,
    config_file=HARBOR_YML,
    # Harbor's installation prerequisites; common.sh refuses docker-compose before 1.18.
    node_software=NodeSoftware(docker=(20, 10, 10), compose=(1, 18), compose_plugin=True),
    data_uid=f"{DATA_UID}:{DATA_UID}",
    first_start_only=FIRST_START_ONLY,
    database_phase=DatabasePhase.CREATE_DATABASE,
    # nginx.http.conf: `upstream core { server core:8080; }`, resolved once at its start; a
    # recreated core gets another address.
    shared_settings=(
        SharedSetting(CORE_ENV, "CSRF_KEY", Source.CSRF_KEY, "core", then_restart=("proxy",)),
    ),
    # make/prepare: "If previous secretkeys exist, move it to new location".
    moved_by_prepare=(DATA / "secretkey", DATA / "defaultalias"),
    job_logs_on_disk=False,  # harbor.yml.j2: jobservice.job_loggers [DB]
)
