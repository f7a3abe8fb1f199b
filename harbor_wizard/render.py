"""Every file each host must hold, rendered from the answers; deterministic.

Why one function returns them all: the plan compares these with the hosts, ``render``
writes them for review, and tests feed them to keepalived, HAProxy and Harbor's parser. No
timestamps and no random values: generated values come in as stored artefacts.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from pydantic import SecretStr

from harbor_wizard.answers import Answers
from harbor_wizard.artefacts import SharedArtefacts
from harbor_wizard.certs import TlsMaterial

HARBOR_DIR = PurePosixPath("/opt/harbor")
"""Where the offline installer is unpacked on every node (the guide's ~/harbor)."""
CERT_DIR = PurePosixPath("/data/cert")
SSL_CERT = CERT_DIR / "server.crt"
SSL_KEY = CERT_DIR / "server.key"


@dataclass(frozen=True)
class RenderedFile:
    host: str
    path: PurePosixPath
    content: str
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"
    secret: bool = False
    """Holds a secret: never shown in a diff or a log."""
    guarded: bool = False
    """Never replaced when the host holds a different one: data depends on it."""

    @property
    def relative(self) -> str:
        return str(self.path).lstrip("/")


def _cfg(value: object) -> str:
    """A harbor.cfg value: validated single-line before it ever gets here; checked again."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if "\n" in text or "\r" in text or text != text.strip() or " ;" in text:
        raise ValueError("a value unsafe for harbor.cfg reached the renderer")
    return text


def _keepalived_word(value: object) -> str:
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if not text or any(c.isspace() or c in '"#!' for c in text) or len(text) > 8:
        raise ValueError("a value unsafe for keepalived.conf reached the renderer")
    return text


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harbor_wizard.templates", ""),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["cfg"] = _cfg
    env.filters["keepalived_word"] = _keepalived_word
    env.filters["shell_quote"] = shlex.quote
    return env


def ports(answers: Answers) -> list[int]:
    return [80, 443] if answers.harbor.protocol == "https" else [80]


def storage_config(answers: Answers, secrets: Mapping[str, SecretStr]) -> str:
    """Harbor 1.4's one-line storage config: ``key: value, key: value``."""
    items = []
    for key, value in answers.storage.config.items():
        secret = secrets.get(f"storage.config.{key}")
        if secret is not None:
            text = secret.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        items.append(f"{key}: {text}")
    return ", ".join(items)


def render(
    answers: Answers,
    secrets: Mapping[str, SecretStr],
    artefacts: SharedArtefacts,
    tls: TlsMaterial | None = None,
) -> list[RenderedFile]:
    """All files of all hosts, LBs first, each host's files in a fixed order."""
    env = environment()
    files: list[RenderedFile] = []
    lb = answers.load_balancer
    if lb.mode != "external":
        files += _load_balancer_files(env, answers, secrets)
    for node in answers.harbor_nodes:
        files += _node_files(env, answers, node.name, secrets, artefacts, tls)
    return files


def _load_balancer_files(
    env: jinja2.Environment, answers: Answers, secrets: Mapping[str, SecretStr]
) -> list[RenderedFile]:
    lb = answers.load_balancer
    holder = lb.vip_holder
    common: dict[str, Any] = {
        "name": answers.name,
        "mode": lb.mode,
        "vip": str(answers.vip),
        "hostname": answers.harbor.hostname,
        "interface": lb.interface,
        "virtual_router_id": lb.virtual_router_id,
        "auth_pass": secrets["load_balancer.auth_pass"],
        "holder": holder,
        "nodes": answers.harbor_nodes,
        "ports": ports(answers),
        "check": "check check-ssl verify none" if answers.harbor.protocol == "https" else "check",
    }
    files: list[RenderedFile] = []
    wanted = [
        ("keepalived.conf.j2", "/etc/keepalived/keepalived.conf", 0o600, True),
        ("sysctl.conf.j2", "/etc/sysctl.d/90-harbor-wizard.conf", 0o644, False),
    ]
    if lb.mode == "lvs-dr":
        wanted.append(("check.sh.j2", "/usr/local/bin/check.sh", 0o755, False))
    else:
        wanted.append(("check_haproxy.sh.j2", "/usr/local/bin/check_haproxy.sh", 0o755, False))
        wanted.append(("haproxy.cfg.j2", "/etc/haproxy/haproxy.cfg", 0o644, False))
    for node in lb.nodes:
        ctx = {**common, "lb": node}
        for template, path, mode, secret in wanted:
            content = env.get_template(template).render(ctx)
            files.append(RenderedFile(node.name, PurePosixPath(path), content, mode, secret=secret))
    return files


def _node_files(
    env: jinja2.Environment,
    answers: Answers,
    host: str,
    secrets: Mapping[str, SecretStr],
    artefacts: SharedArtefacts,
    tls: TlsMaterial | None,
) -> list[RenderedFile]:
    clair = answers.clair_database
    clair_ctx: dict[str, Any] = (
        {
            "host": clair.host,
            "port": clair.port,
            "user": clair.user,
            "database": clair.database,
            "password": secrets["clair_database.password"],
        }
        if clair
        else {  # upstream values: unused without --with-clair, but every key must exist
            "host": "postgres",
            "port": 5432,
            "user": "postgres",
            "database": "postgres",
            "password": "password",
        }
    )
    ctx = {
        "harbor": answers.harbor,
        "database": answers.database,
        "redis": answers.redis,
        "clair": clair_ctx,
        "storage": answers.storage,
        "storage_config": storage_config(answers, secrets),
        "secrets": secrets,
        "paths": {"ssl_cert": SSL_CERT, "ssl_cert_key": SSL_KEY},
    }
    ha = HARBOR_DIR / "ha"
    files = [
        RenderedFile(
            host,
            HARBOR_DIR / "harbor.cfg",
            env.get_template("harbor.cfg.j2").render(ctx),
            0o600,
            secret=True,
        ),
        RenderedFile(host, ha / "private_key.pem", artefacts.token_private_key, 0o600, secret=True),
        RenderedFile(host, ha / "root.crt", artefacts.token_certificate, 0o644),
        RenderedFile(host, ha / "secretkey", artefacts.secretkey, 0o600, secret=True, guarded=True),
    ]
    if tls is not None:
        # prepare --ha copies these from ha/ to ssl_cert, ssl_cert_key and
        # /data/ca_download/ca.crt; the containers then own the copies, so the wizard
        # manages only the ha/ originals.
        files += [
            RenderedFile(host, ha / SSL_CERT.name, tls.certificate_pem, 0o644),
            RenderedFile(host, ha / SSL_KEY.name, tls.private_key_pem, 0o600, secret=True),
        ]
        if tls.ca_pem is not None:
            files.append(RenderedFile(host, ha / "ca.crt", tls.ca_pem, 0o644))
    if answers.load_balancer.mode == "lvs-dr":
        node = next(n for n in answers.harbor_nodes if n.name == host)
        files.append(
            RenderedFile(
                host,
                PurePosixPath("/etc/harbor-wizard/vip-redirect.rules"),
                env.get_template("vip-redirect.rules.j2").render(
                    node=node, vip=str(answers.vip), ports=ports(answers)
                ),
            )
        )
    return files


def write_tree(files: list[RenderedFile], out: Path) -> list[Path]:
    """``out/<host>/<path on that host>`` for review, with each file's mode."""
    written = []
    for rendered in files:
        target = out / rendered.host / rendered.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rendered.content, encoding="utf-8")
        target.chmod(rendered.mode)
        written.append(target)
    return written
