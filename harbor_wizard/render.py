"""Every file each host must hold, rendered from the answers; deterministic.

Why one function returns them all: the plan compares these with the hosts, ``render``
writes them for review, and tests feed them to keepalived, HAProxy and Harbor's parser. No
timestamps and no random values: generated values come in as stored artefacts.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import json
import os
import re
import secrets as random
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from pydantic import SecretStr

from harbor_wizard.answers import Answers, InvalidInput, Problem
from harbor_wizard.answers.rules import REDIS_DB_INDEXES
from harbor_wizard.artefacts import SharedArtefacts
from harbor_wizard.certs import TlsMaterial
from harbor_wizard.profiles import ManagedFile, Role, Source, Then, profile_for
from harbor_wizard.profiles.harbor_1_4 import SSL_CERT, SSL_KEY
from harbor_wizard.redact import MASK, redact


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
    secret_keys: frozenset[str] = frozenset()
    """Keys (in this file's syntax) whose values are secret: harbor.cfg's ``db_password``,
    keepalived's ``auth_pass``. A diff masks their lines on both sides, whatever value the
    host holds; a secret file without such keys (a private key) is never shown at all."""
    entry: ManagedFile | None = None
    """The profile's entry: how the file is validated, what follows a change."""

    @classmethod
    def of(cls, host: str, entry: ManagedFile, content: str) -> RenderedFile:
        return cls(
            host, entry.path, content, entry.mode, entry.owner, entry.group, entry.secret,
            entry.guarded, entry.secret_keys, entry,
        )  # fmt: skip

    @property
    def validate(self) -> str:
        return self.entry.validate if self.entry else ""

    @property
    def then(self) -> Then:
        return self.entry.then if self.entry else Then.NOTHING

    @property
    def service(self) -> str:
        return self.entry.service if self.entry else ""

    @property
    def relative(self) -> str:
        return str(self.path).lstrip("/")

    def diff(self, current: str, host: str) -> str:
        """A unified diff from the host's copy to this file, secrets masked by field (and
        known values by `redact`); a masked value that differs ends in ``(changed)``."""
        if self.secret and not self.secret_keys:
            return "(content not shown: it is a key)"
        old, old_values = mask_lines(current, self.secret_keys)
        new, new_values = mask_lines(self.content, self.secret_keys)
        seen: dict[str, list[str]] = {}
        for key, value, _ in old_values:
            seen.setdefault(key, []).append(value)
        count: dict[str, int] = {}
        for key, value, index in new_values:
            nth = count[key] = count.get(key, -1) + 1
            before = seen.get(key, [])
            if nth < len(before) and before[nth] != value:
                new[index] = new[index].replace(MASK, f"{MASK} (changed)", 1)
        name = str(self.path)
        return redact("".join(difflib.unified_diff(old, new, f"{host}:{name}", f"planned:{name}")))


def mask_lines(text: str, keys: Iterable[str]) -> tuple[list[str], list[tuple[str, str, int]]]:
    """`text`'s lines with the value after each of `keys` masked, wherever on a line the key
    stands (``auth_pass X`` inside ``authentication { ... }`` too), case-insensitively
    (harbor.cfg's parser lowercases keys); and (key, value, line index) of each.

    A masked value continues on the lines below indented deeper than its own (harbor.cfg's
    parser reads those as the same value), across blank lines and comments."""
    lines = text.splitlines(keepends=True)
    wanted = sorted(keys, key=len, reverse=True)
    if not wanted:
        return lines, []
    pattern = re.compile(
        r"(?i)(?<![\w.-])(" + "|".join(re.escape(k) for k in wanted) + r")(?![\w.-])"
        r"([ \t]*[=:]?[ \t]*)(.*?)(\r?\n?)$"
    )
    found: list[tuple[str, str, int]] = []
    indent: int | None = None
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if indent is not None and found:
            if not body.strip() or body.startswith(("#", ";")):
                continue
            depth = len(body) - len(body.lstrip())
            if depth > indent:
                key, value, at = found[-1]
                found[-1] = (key, f"{value}\n{body.strip()}", at)
                lines[index] = body[:depth] + MASK + line[len(body) :]
                continue
            indent = None
        match = pattern.search(line)
        if match is None:
            continue
        found.append((match.group(1).lower(), match.group(3), index))
        lines[index] = line[: match.start(3)] + MASK + match.group(4)
        indent = len(body) - len(body.lstrip())
    return lines, found


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


def _yaml(value: object) -> str:
    """A YAML scalar: numbers and booleans as they are, text as a JSON string (which YAML
    reads back unchanged, whatever it holds)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


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
    env.filters["yaml"] = _yaml
    return env


def ports(answers: Answers) -> list[int]:
    return [80, 443] if answers.harbor.protocol == "https" else [80]


def storage_values(
    answers: Answers, secrets: Mapping[str, SecretStr]
) -> dict[str, str | int | bool | SecretStr]:
    """The storage driver's settings, each secret one by its value."""
    return {
        key: secrets.get(f"storage.config.{key}", value)
        for key, value in answers.storage.config.items()
    }


def storage_config(answers: Answers, secrets: Mapping[str, SecretStr]) -> str:
    """Harbor 1.4's one-line storage config: ``key: value, key: value``."""
    items = []
    for key, value in storage_values(answers, secrets).items():
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        items.append(f"{key}: {text}")
    return ", ".join(items)


def source_values(
    artefacts: SharedArtefacts, tls: TlsMaterial | None = None
) -> dict[Source, str | None]:
    """What each profile `Source` stands for in this deployment (None: not in use): the
    files' contents, and the shared settings' values."""
    return {
        Source.TOKEN_PRIVATE_KEY: artefacts.token_private_key,
        Source.TOKEN_CERTIFICATE: artefacts.token_certificate,
        Source.SECRETKEY: artefacts.secretkey,
        Source.TLS_CERTIFICATE: tls.certificate_pem if tls else None,
        Source.TLS_PRIVATE_KEY: tls.private_key_pem if tls else None,
        Source.TLS_CA: tls.ca_pem if tls else None,
        Source.CSRF_KEY: artefacts.csrf_key,
    }


def render(
    answers: Answers,
    secrets: Mapping[str, SecretStr],
    artefacts: SharedArtefacts,
    tls: TlsMaterial | None = None,
) -> list[RenderedFile]:
    """All files of all hosts (the profile's entries for each), LBs first, each host's
    files in the profile's order."""
    env = environment()
    profile = profile_for(answers.harbor.version)
    lb = answers.load_balancer
    sources = source_values(artefacts, tls)
    tls_ca = tls is not None and tls.ca_pem is not None
    hosts: list[tuple[str, Role, dict[str, Any]]] = []
    if lb.mode != "external":
        common = _lb_context(answers, secrets)
        hosts += [(node.name, "lb", {**common, "lb": node}) for node in lb.nodes]
    common = _node_context(answers, secrets)
    hosts += [(node.name, "node", {**common, "node": node}) for node in answers.harbor_nodes]
    files: list[RenderedFile] = []
    for host, role, ctx in hosts:
        for entry in profile.files_for(role, lb.mode, tls=tls is not None, tls_ca=tls_ca):
            if entry.template is not None:
                content = env.get_template(entry.template).render(ctx)
            else:
                assert entry.source is not None
                text = sources[entry.source]
                if text is None:
                    raise ValueError(f"{entry.path}: no {entry.source.value} to write")
                content = text
            files.append(RenderedFile.of(host, entry, content))
    return files


def _lb_context(answers: Answers, secrets: Mapping[str, SecretStr]) -> dict[str, Any]:
    lb = answers.load_balancer
    profile = profile_for(answers.harbor.version)
    return {
        "name": answers.name,
        "mode": lb.mode,
        "vip": str(answers.vip),
        "hostname": answers.harbor.hostname,
        "interface": lb.interface,
        "virtual_router_id": lb.virtual_router_id,
        "auth_pass": secrets["load_balancer.auth_pass"],
        "holder": lb.vip_holder,
        "nodes": answers.harbor_nodes,
        "ports": ports(answers),
        "sysctl": profile.lb_sysctl,
        "health": profile.health,
        "pools": profile.pools,
    }


def _node_context(answers: Answers, secrets: Mapping[str, SecretStr]) -> dict[str, Any]:
    redirect = profile_for(answers.harbor.version).vip_redirect
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
    indexes = {
        key: getattr(answers.redis, key) or default for key, default in REDIS_DB_INDEXES.items()
    }
    return {
        "name": answers.name,
        "harbor": answers.harbor,
        "database": answers.database,
        "redis_indexes": indexes,
        "storage_values": storage_values(answers, secrets),
        "redis": answers.redis,
        "clair": clair_ctx,
        "storage": answers.storage,
        "storage_config": storage_config(answers, secrets),
        "secrets": secrets,
        "paths": {"ssl_cert": SSL_CERT, "ssl_cert_key": SSL_KEY},
        "vip": str(answers.vip),
        "ports": ports(answers),
        "chain": redirect.chain,
        "script": redirect.script,
        "unit": redirect.unit,
    }


def write_tree(files: list[RenderedFile], out: Path) -> list[Path]:
    """``out/<host>/<path on that host>`` for review, with each file's mode.

    Why descriptors: the folder may be shared, and a symlink planted at a path this writes
    would redirect a root-owned write anywhere. Below `out` (the operator's own path),
    every folder is opened without following links, and refused if it is one; every file is
    created 0600 under a new name, given its mode, then renamed over the path (a link there
    is replaced, never followed)."""
    out.mkdir(parents=True, exist_ok=True)
    root = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    written = []
    try:
        for rendered in files:
            parts = [rendered.host, *PurePosixPath(rendered.relative).parts]
            if any(part in ("", ".", "..") for part in parts):
                raise ValueError(f"unsafe path {rendered.path} reached write_tree")
            fd = root
            try:
                for depth, name in enumerate(parts[:-1], start=1):
                    below = _open_folder(fd, name, out.joinpath(*parts[:depth]))
                    if fd != root:
                        os.close(fd)
                    fd = below
                _write_file(fd, parts[-1], rendered, out.joinpath(*parts))
            finally:
                if fd != root:
                    os.close(fd)
            written.append(out.joinpath(*parts))
    finally:
        os.close(root)
    return written


def _refused(path: Path, message: str) -> InvalidInput:
    return InvalidInput([Problem("--out", message, None, str(path))])


def _in_the_way(parent: int, name: str, path: Path, wanted: str) -> InvalidInput:
    kind = stat.S_IFMT(os.lstat(name, dir_fd=parent).st_mode)
    if kind == stat.S_IFLNK:
        return _refused(
            path,
            "is a symbolic link that harbor-wizard did not make; refused (it could point "
            "anywhere): remove it, or render into a new folder",
        )
    return _refused(path, f"is in the way: {wanted} goes there; move it, or use a new folder")


def _open_folder(parent: int, name: str, path: Path) -> int:
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o777, dir_fd=parent)
    try:
        return os.open(
            name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent
        )
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _in_the_way(parent, name, path, "a folder") from None
        raise


def _write_file(folder: int, name: str, rendered: RenderedFile, path: Path) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        temp = f".{name}.{random.token_hex(6)}.tmp"
        try:
            fd = os.open(temp, flags, 0o600, dir_fd=folder)
            break
        except FileExistsError:
            continue
    try:
        try:
            data = memoryview(rendered.content.encode())
            while data:
                data = data[os.write(fd, data) :]
            os.fchmod(fd, rendered.mode)
        finally:
            os.close(fd)
        try:
            os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except IsADirectoryError:
            raise _in_the_way(folder, name, path, "a file") from None
    except BaseException:
        os.unlink(temp, dir_fd=folder)
        raise
