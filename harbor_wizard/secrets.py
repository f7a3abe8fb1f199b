"""Secrets: where each one comes from, in one documented order, and where new ones go.

Order, first hit wins (see README "Secrets"):
1. ``--secrets FILE``: YAML, field path -> value; refused unless mode 0600. Without the
   option, ``<answers stem>.secrets.yaml`` beside the answers file is used when it exists.
2. The environment: ``HARBOR_WIZARD_<FIELD_PATH>`` (``database.password`` ->
   ``HARBOR_WIZARD_DATABASE_PASSWORD``).
3. The system keyring: service ``harbor-wizard/<deployment name>``, user = field path,
   only when a real backend answers (never a plain-text or failing one).
4. A prompt, only when standard input is a terminal.
Missing secrets are reported all at once, each with how to give it.
"""

from __future__ import annotations

import getpass
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from harbor_wizard import redact
from harbor_wizard.answers import SECRET_MARKER, Answers, InvalidInput, Problem, bounded
from harbor_wizard.answers.document import atomic_write, line_of
from harbor_wizard.answers.types import storage_value_problem

ENV_PREFIX = "HARBOR_WIZARD_"
KEYRING_PROBE_SECONDS = 5.0


def env_name(path: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]+", "_", path.upper())


def secret_paths(answers: Answers) -> list[str]:
    """Field paths of every secret this deployment needs, in file order."""
    found: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else key)
        elif node == SECRET_MARKER:
            found.append(prefix)

    walk(answers.model_dump(mode="json"), "")
    return found


# --- rules for secret values --------------------------------------------------------------

MIN_LENGTH = redact.MIN_LENGTH
"""Every accepted secret is long enough for the redaction of free text to hide it."""
_KEEPALIVED_TOKEN = re.compile(r"^[!-~]{1,8}$")
_URL_UNSAFE = set("@:/?#%& ")


_ENV_FILE_SECRETS = frozenset({"harbor.admin_password", "database.password"})
"""Harbor 2.x's prepare writes these unquoted into docker compose env files (core/env)."""
_YAML_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")


def yaml_plain_problem(value: str) -> str | None:
    """Why YAML would read `value` otherwise as an unquoted scalar: v2.15.2's prepare writes
    the Redis password unquoted into the registry's config.yml."""
    if value[0] in _YAML_INDICATORS:
        return (
            f"must not start with '{value[0]}': Harbor writes it unquoted into the "
            "registry's config.yml, where YAML reads that as syntax"
        )
    if ": " in value or " #" in value or value.endswith(":"):
        return (
            "must not contain ': ' or ' #' nor end with ':': Harbor writes it unquoted into "
            "the registry's config.yml, where YAML reads them as syntax"
        )
    return None


def env_file_problem(value: str, *, dsn: bool = False) -> str | None:
    """Why compose would read `value` back otherwise from an unquoted env file line; with
    `dsn`, why Harbor's core would cut it (its PostgreSQL DSN puts it unquoted)."""
    if "$" in value:
        return (
            "must not contain '$': docker compose reads $NAME in Harbor's env files as a variable"
        )
    if "#" in value:
        return "must not contain '#': docker compose reads what follows it as a comment"
    if value[0] in "\"'" or "\\" in value:
        return "must not start with a quote nor hold a backslash: docker compose unquotes them"
    if dsn and any(c.isspace() for c in value):
        return (
            "must not contain spaces: Harbor's core puts it unquoted into its PostgreSQL "
            "connection string (password=...), which ends at a space"
        )
    return None


def value_problem(path: str, value: str, release: str = "1.4") -> str | None:
    """What is wrong with a secret's value for where it ends up (in `release`'s files), or
    None."""
    if path.startswith("generated."):
        return None if value.strip() else "is empty"
    if not value:
        return "is empty"
    if len(value) < MIN_LENGTH:
        return (
            f"must be at least {MIN_LENGTH} characters: shorter values are guessed at once, "
            "and could not be hidden in output without hiding ordinary words and numbers"
        )
    if re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value):
        return "must be one line without control characters (it goes into harbor.cfg)"
    if value != value.strip():
        return "must not start or end with a space (harbor.cfg strips it)"
    if " ;" in value:
        return "must not contain ' ;' (harbor.cfg's parser cuts the value there)"
    if path == "load_balancer.auth_pass" and (
        not _KEEPALIVED_TOKEN.match(value) or set(value) & set('"#!')
    ):
        return (
            "must be at most 8 printable characters, without spaces, '\"', '#' or '!': "
            "VRRP PASS authentication uses only 8, and keepalived -t refuses more"
        )
    if path == "clair_database.password" and set(value) & _URL_UNSAFE:
        return (
            "must avoid @ : / ? # % & and spaces: Harbor 1.4 puts it unescaped into "
            "Clair's postgresql:// URL"
        )
    if path.startswith("storage.config."):
        return storage_value_problem(value, secret=True)
    if path in _ENV_FILE_SECRETS and release.startswith("2."):
        return env_file_problem(value, dsn=path == "database.password")
    if path == "redis.password" and release.startswith("2."):
        return yaml_plain_problem(value)
    return None


# --- sources -------------------------------------------------------------------------------

_NOT_TEXT = (
    "must be one value, the secret's text: a list, a mapping or a tagged value (!!int, "
    "!!binary, ...) is refused; secrets are used exactly as written, so remove the tag, "
    "or write the value in single quotes"
)


def _text_yaml() -> YAML:
    return bounded.bounded_yaml(YAML(typ="rt"), text_scalars=True)


@dataclass
class SecretsFile:
    """A YAML mapping of field path -> value, readable by its owner only."""

    path: Path
    values: dict[str, str] = field(default_factory=dict)
    tree: CommentedMap = field(default_factory=CommentedMap)

    @classmethod
    def read(cls, path: Path) -> SecretsFile:
        """Values exactly as written: every scalar is text (`0123`, `true` and `~` stay
        those characters); a tagged value, list or mapping is refused at its line. Errors
        name the line and the kind of problem, never the text (it holds passwords)."""
        source = str(path)
        data, info = bounded.read_bytes(path)
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise InvalidInput(
                [
                    Problem(
                        "",
                        f"mode {stat.S_IMODE(info.st_mode):04o} lets others read it; "
                        f"refused: run `chmod 600 {path}`",
                        None,
                        source,
                    )
                ]
            )
        if info.st_uid != os.getuid():
            raise InvalidInput([Problem("", "is owned by another user; refused", None, source)])
        text = bounded.decode(data, source)
        tree = bounded.load(_text_yaml(), text, source)
        if tree is None:  # empty, or only comments: no values yet
            tree = CommentedMap()
        if not isinstance(tree, CommentedMap):
            raise InvalidInput([Problem("", "must be a mapping of field path: value", 1, source)])
        values: dict[str, str] = {}
        problems = []
        for key, value in tree.items():
            line = line_of(tree, (key,))
            if not isinstance(key, str):
                problems.append(
                    Problem("", "keys are field paths, e.g. database.password", line, source)
                )
            elif not isinstance(value, str):
                problems.append(Problem(key, _NOT_TEXT, line, source))
            else:
                values[key] = value
        if problems:
            raise InvalidInput(problems)
        return cls(path=path, values=values, tree=tree)

    def line(self, key: str) -> int | None:
        return line_of(self.tree, (key,))

    def write(self, key: str, value: str) -> None:
        """Add or replace one value; the file stays 0600 and is replaced atomically."""
        self.tree[key] = value
        self.values[key] = value
        stream = StringIO()
        # The ordinary YAML 1.2 dumper: text that would read as a number, a boolean or null
        # is written in quotes, so the file means the same to any other YAML reader too.
        YAML(typ="rt").dump(self.tree, stream)
        header = "# harbor-wizard secrets: keep this file private (mode 0600), never commit it\n"
        text = stream.getvalue() if self.path.exists() else header + stream.getvalue()
        atomic_write(self.path, text, mode=0o600)


class KeyringStore:
    """The system keyring, used only when a real backend answers in time.

    Why the probe: over SSH keyring picks a failing backend, or a half-present D-Bus setup
    that hangs on an unlock prompt nobody sees. Plain-text backends are never used.
    """

    def __init__(self, deployment: str) -> None:
        self.service = f"harbor-wizard/{deployment}"
        self._backend: Any = None
        self.reason = ""

    def available(self) -> bool:
        if self._backend is not None:
            return True
        if self.reason:
            return False
        result: dict[str, Any] = {}

        def probe() -> None:
            try:
                import keyring

                backend = keyring.get_keyring()
                name = type(backend).__module__ + "." + type(backend).__name__
                if re.search(r"fail|null|plaintext|PlaintextKeyring", name, re.I) or (
                    "chainer" in name.lower() and not getattr(backend, "backends", None)
                ):
                    result["reason"] = f"no usable keyring backend ({name})"
                    return
                backend.get_password(self.service, "probe")
                result["backend"] = backend
            except Exception as error:  # any backend failure means "not available"
                result["reason"] = f"keyring unavailable: {type(error).__name__}: {error}"

        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        thread.join(KEYRING_PROBE_SECONDS)
        if thread.is_alive():
            self.reason = f"the keyring did not answer within {KEYRING_PROBE_SECONDS:.0f} s"
        else:
            self._backend = result.get("backend")
            self.reason = result.get("reason", "")
        return self._backend is not None

    def get(self, path: str) -> str | None:
        if not self.available():
            return None
        try:
            value = self._backend.get_password(self.service, path)
        except Exception:
            return None
        return value if isinstance(value, str) else None

    def set(self, path: str, value: str) -> None:
        self._backend.set_password(self.service, path, value)


# --- the resolver --------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a secret was found, said to the operator without the value."""

    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}".strip()


class SecretResolver:
    """Finds each secret in the documented order; stores new ones where they belong."""

    def __init__(
        self,
        deployment: str,
        *,
        secrets_file: Path | None = None,
        sidecar: Path | None = None,
        environ: Mapping[str, str] | None = None,
        keyring: KeyringStore | None = None,
        prompt: Callable[[str], str] | None = None,
        notify: Callable[[str], None] | None = None,
        release: str = "1.4",
    ) -> None:
        self.deployment = deployment
        self.release = release
        self.environ = os.environ if environ is None else environ
        self.keyring = keyring if keyring is not None else KeyringStore(deployment)
        self.prompt = prompt
        self.notify = notify or (lambda message: print(message, file=sys.stderr))
        self._told_no_keyring = False
        path = secrets_file or (sidecar if sidecar is not None and sidecar.exists() else None)
        self.file = SecretsFile.read(path) if path else None
        self.file_target = secrets_file or sidecar
        self.origins: dict[str, Origin] = {}

    @staticmethod
    def sidecar_for(answers_path: Path) -> Path:
        return answers_path.with_name(f"{answers_path.stem}.secrets.yaml")

    def find(self, path: str) -> str | None:
        if self.file is not None and path in self.file.values:
            self.origins[path] = Origin("secrets file", str(self.file.path))
            return self.file.values[path]
        name = env_name(path)
        if name in self.environ:
            self.origins[path] = Origin("environment", name)
            return self.environ[name]
        value = self.keyring.get(path)
        if value is not None:
            self.origins[path] = Origin("keyring", self.keyring.service)
            return value
        return None

    def resolve(
        self, paths: Iterable[str], *, interactive: bool | None = None
    ) -> dict[str, SecretStr]:
        """Every secret in `paths`, or InvalidInput listing each missing or bad one."""
        if interactive is None:
            interactive = self.prompt is not None and sys.stdin.isatty()
        found: dict[str, SecretStr] = {}
        problems: list[Problem] = []
        for path in paths:
            value = self.find(path)
            if value is None and interactive and self.prompt is not None:
                value = self.prompt(path)
                self.origins[path] = Origin("prompt")
            if value is None:
                problems.append(Problem(path, self.how_to_give(path)))
                continue
            problem = value_problem(path, value, self.release)
            if problem:
                origin = self.origins.get(path, Origin("?"))
                line = self.file.line(path) if origin.kind == "secrets file" and self.file else None
                source = str(self.file.path) if line is not None and self.file else None
                problems.append(Problem(path, f"{problem} (from {origin})", line, source))
                continue
            redact.register(value)
            found[path] = SecretStr(value)
        if problems:
            raise InvalidInput(problems)
        return found

    def how_to_give(self, path: str) -> str:
        target = self.file_target or Path("SECRETS.yaml")
        return (
            f"missing secret: give it in --secrets {target} as '{path}: VALUE' (mode 0600), "
            f"or in the environment as {env_name(path)}, or in the keyring "
            f"(service {self.keyring.service}, user {path})"
        )

    def store(self, path: str, value: str) -> Origin:
        """Keep a new secret: the keyring when one answers, else the 0600 secrets file."""
        redact.register(value)
        if self.file is None and self.keyring.available():
            self.keyring.set(path, value)
            origin = Origin("keyring", self.keyring.service)
        else:
            if self.file_target is None:
                raise RuntimeError("no keyring and no secrets file to keep secrets in")
            if self.file is None:
                if not self._told_no_keyring:
                    self.notify(
                        f"No usable system keyring here ({self.keyring.reason}); keeping "
                        f"secrets in {self.file_target} (mode 0600). See README, 'Secrets'."
                    )
                    self._told_no_keyring = True
                self.file = (
                    SecretsFile.read(self.file_target)
                    if self.file_target.exists()
                    else SecretsFile(path=self.file_target)
                )
            self.file.write(path, value)
            origin = Origin("secrets file", str(self.file.path))
        self.origins[path] = origin
        return origin


def terminal_prompt(path: str) -> str:
    return getpass.getpass(f"{path} (not echoed): ")
