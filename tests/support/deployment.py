"""A valid deployment written to a folder: answers file, 0600 secrets file, installer path.

Tests change one thing at a time in ANSWERS (by text replacement, so the line numbers
that errors report are the lines a person would see).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ANSWERS = """\
# Harbor HA for the test suite: 2 LBs, 3 nodes.
version: 1
name: harbor-test
harbor:
  version: "1.4.0"
  installer: ./harbor-offline-installer-v1.4.0.tgz
  hostname: registry.example.com
  protocol: http
  with_clair: true
  admin_password: <secret>
vip: 198.51.100.100
ssh:
  user: root
  port: 22
  identity_file: ./id_ed25519
  known_hosts: ./known_hosts
load_balancer:
  mode: haproxy
  interface: eth0
  virtual_router_id: 51
  auth_pass: <secret>
  nodes:
    - {name: lb01, address: 198.51.100.11, priority: 100}
    - {name: lb02, address: 198.51.100.12, priority: 90}
harbor_nodes:
  - {name: harbor01, address: 198.51.100.21}
  - {name: harbor02, address: 198.51.100.22}
  - {name: harbor03, address: 198.51.100.23}
database:
  host: 198.51.100.30
  port: 3306
  user: root
  password: <secret>
clair_database:
  host: 198.51.100.31
  port: 5432
  user: postgres
  database: postgres
  password: <secret>
redis:
  endpoints: ["198.51.100.32:6379"]
storage:
  provider: filesystem
  config: {}
"""

SECRETS = {
    "harbor.admin_password": "Adm1n-Passw0rd-x7",
    "load_balancer.auth_pass": "vr7pq2ab",
    "database.password": "db-Secret-91xq",
    "clair_database.password": "clairSecret8842",
}


ANSWERS_2X = (
    ANSWERS.replace('version: "1.4.0"', 'version: "2.15.2"')
    .replace("harbor-offline-installer-v1.4.0.tgz", "harbor-offline-installer-v2.15.2.tgz")
    .replace("with_clair: true", "with_trivy: true")
    .replace("  port: 3306\n  user: root\n", "  user: harbor\n")
    .replace(
        "clair_database:\n  host: 198.51.100.31\n  port: 5432\n  user: postgres\n"
        "  database: postgres\n  password: <secret>\n",
        "",
    )
    .replace(
        'redis:\n  endpoints: ["198.51.100.32:6379"]\n',
        'redis:\n  endpoints: ["198.51.100.32:6379"]\n  password: <secret>\n',
    )
)
"""The same deployment on Harbor 2.15: PostgreSQL for Harbor, Redis with a password, Trivy."""

SECRETS_2X = {
    "harbor.admin_password": "Adm1n-Passw0rd-x7",
    "load_balancer.auth_pass": "vr7pq2ab",
    "database.password": "pg'Secret\"91-xq",
    "redis.password": "re@dis:pa/ss%20#x",
}
"""Values that would break unquoted YAML or an unescaped redis:// URL."""


def write_secrets(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in values.items()))
    os.chmod(path, 0o600)
    return path


def write_deployment(
    folder: Path,
    answers: str = ANSWERS,
    secrets: dict[str, str] | None = None,
) -> tuple[Path, Path]:
    """The answers file and its secrets file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    answers_path = folder / "answers.yaml"
    answers_path.write_text(answers)
    secrets_path = write_secrets(folder / "secrets.yaml", SECRETS if secrets is None else secrets)
    return answers_path, secrets_path


def https(answers: str = ANSWERS, *, ca: bool = True) -> str:
    """The same deployment with https and the TLS files of tests.support.tlsfiles."""
    tls = "tls:\n  certificate: ./server.crt\n  private_key: ./server.key\n"
    if ca:
        tls += "  ca: ./ca.crt\n"
    return answers.replace("protocol: http\n", "protocol: https\n") + tls


def lvs_dr(answers: str = ANSWERS) -> str:
    return answers.replace("mode: haproxy", "mode: lvs-dr")


def render_args(answers: Path, secrets: Path, out: Path) -> list[str]:
    """`harbor-wizard render` for a deployment folder's files."""
    return ["render", "--answers", str(answers), "--secrets", str(secrets), "--out", str(out)]
