"""The answers being written in the TUI: plain data, the secrets beside it, its problems.

Why a draft and not an ``Answers``: while the operator types, the values are incomplete
and wrong. The draft keeps them as entered, asks the one model (``Answers``) for every
problem on each change, and reports them by field path with the loader's own words, so
the TUI adds no rule of its own. Secret values never enter the data: it holds the
``<secret>`` marker, as the file does.
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from harbor_wizard import redact
from harbor_wizard.answers import SECRET_MARKER, Answers, AnswersDocument
from harbor_wizard.answers.document import (
    check_version,
    dotted,
    from_answers,
    parse,
    read_text,
    validate,
)
from harbor_wizard.answers.messages import required
from harbor_wizard.problems import InvalidInput, Problem
from harbor_wizard.secrets import secret_paths, value_problem
from harbor_wizard.views.tree_merge import merge, plain

Part = str | int

NEW_DEPLOYMENT: dict[str, Any] = {
    "version": 1,
    "harbor": {
        "version": "1.4.0",
        "protocol": "http",
        "with_clair": False,
        "admin_password": SECRET_MARKER,
    },
    "ssh": {"user": "root", "port": 22, "known_hosts": "~/.ssh/known_hosts"},
    "load_balancer": {
        "mode": "haproxy",
        "virtual_router_id": 51,
        "auth_pass": SECRET_MARKER,
        "nodes": [{"name": "lb01", "priority": 100}, {"name": "lb02", "priority": 90}],
    },
    "harbor_nodes": [{"name": "harbor01"}, {"name": "harbor02"}],
    "database": {"port": 3306, "user": "root", "password": SECRET_MARKER},
    "redis": {"endpoints": []},
    "storage": {"provider": "filesystem", "config": {}},
}
"""A new deployment starts from the model's defaults and the guide's usual names."""

RELEASES = {"1.4": "1.4.0", "2.15": "2.15.2"}
"""The release lines the TUI offers, and the version each installs unless the installer's
file name says another of the same line."""

RELEASE_PARTS: dict[str, dict[str, Any]] = {
    "1.4": {
        "harbor": {"with_clair": False},
        "database": NEW_DEPLOYMENT["database"],
        "redis": NEW_DEPLOYMENT["redis"],
    },
    "2.15": {
        "harbor": {"with_trivy": False},
        "database": {
            "engine": "postgresql",
            "port": 5432,
            "user": "postgres",
            "database": "registry",
            "ssl_mode": "disable",
            "password": SECRET_MARKER,
        },
        "redis": {"endpoints": []},
    },
}
"""What a new deployment of each release starts with where the releases differ."""

RELEASE_KEYS = {"1.4": ("with_clair",), "2.15": ("with_trivy",)}
"""The `harbor` settings only one release has (its scanner)."""

RELEASE_SECTIONS = ("database", "redis", "clair_database")
"""The sections each release fills its own way (the Harbor DB is MariaDB or PostgreSQL)."""

OPTIONAL_SECTIONS = {
    "clair_database": {
        "port": 5432,
        "user": "postgres",
        "database": "postgres",
        "password": SECRET_MARKER,
    },
    "tls": {},
}


class DraftInvalid(InvalidInput, ValueError):
    """The draft is not yet valid answers: every problem, in the loader's words (a
    ValueError too, for callers that only need to know that it is not complete)."""


def parse_path(path: str) -> tuple[Part, ...]:
    """``harbor_nodes[0].name`` -> ("harbor_nodes", 0, "name")."""
    parts: list[Part] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return tuple(parts)


class Draft:
    """Answers in the making; ``problems()`` is the model's verdict on them."""

    def __init__(
        self,
        data: dict[str, Any],
        *,
        tree: CommentedMap | None = None,
        indent: tuple[int, int, int] = (2, 4, 2),
        path: Path | None = None,
    ) -> None:
        self.data = data
        self.tree = tree
        """The loaded file's round-trip tree, edited in place on save."""
        self.indent = indent
        self.path = path
        self.secrets: dict[str, str] = {}
        self.secrets_file: Path | None = None
        """The `--secrets` file the draft was opened with: its secrets (and the shared
        files generated for the deployment) are read from it and new ones kept in it."""
        self.accepted: set[str] = set()
        """Host key fingerprints the operator accepted on the SSH screen."""
        self.acknowledged: dict[str, str] = {}
        """Warnings the operator chose to go on with: field or host -> message."""
        self._aside: dict[str, Any] = {}

    @classmethod
    def new(cls) -> Draft:
        return cls(copy.deepcopy(NEW_DEPLOYMENT))

    @classmethod
    def from_file(cls, path: Path) -> Draft:
        """An answers file to edit, even an invalid one: its problems show per field."""
        tree, indent = parse(read_text(path), str(path))
        check_version(tree, str(path))
        return cls(plain(tree), tree=tree, indent=indent, path=path)

    def find_secrets(self) -> None:
        """Fill in the secrets an opened file refers to, from where ``--answers`` finds them
        (the secrets file beside it, the environment, the keyring)."""
        if self.path is None:
            return
        from harbor_wizard.secrets import SecretResolver

        resolver = SecretResolver(
            str(self.get("name") or "deployment"),
            sidecar=SecretResolver.sidecar_for(self.path),
            notify=lambda message: None,
        )
        for path in self.secret_paths():
            value = resolver.find(path)
            if value is not None and path not in self.secrets:
                redact.register(value)
                self.secrets[path] = value

    @property
    def base_dir(self) -> Path:
        """Relative paths in the answers are relative to the file's folder."""
        return self.path.parent if self.path else Path.cwd()

    # -- values ---------------------------------------------------------------------
    def get(self, path: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in parse_path(path):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return default
        return node

    def set(self, path: str, value: Any) -> None:
        """Set a value; None or "" removes the key, so the model names it as missing."""
        parts = parse_path(path)
        node: Any = self.data
        for part, following in itertools.pairwise(parts):
            if isinstance(node, dict):
                node = node.setdefault(part, [] if isinstance(following, int) else {})
            else:
                node = node[part]
        last = parts[-1]
        if value is None or value == "":
            if isinstance(node, dict):
                node.pop(last, None)
            elif isinstance(last, int) and last < len(node):
                node[last] = None
            return
        if isinstance(node, list) and isinstance(last, int):
            node.extend([None] * (last + 1 - len(node)))
        node[last] = value

    def set_secret(self, path: str, value: str) -> None:
        if value:
            self.secrets[path] = value
        else:
            self.secrets.pop(path, None)
        self.set(path, SECRET_MARKER)

    def enable(self, section: str, on: bool) -> None:
        """Keep an optional section (Clair DB, TLS) aside while it is switched off."""
        if on and section not in self.data:
            self.data[section] = self._aside.pop(section, copy.deepcopy(OPTIONAL_SECTIONS[section]))
        elif not on and section in self.data:
            self._aside[section] = self.data.pop(section)

    def set_aside(self, section: str, keys: tuple[str, ...], aside: bool) -> None:
        """Move `keys` of `section` out of the answers (or back), keeping their values."""
        node = self.data.setdefault(section, {})
        kept = self._aside.setdefault(section + ".", {})
        for key in keys:
            if aside and key in node:
                kept[key] = node.pop(key)
            elif not aside and key in kept:
                node.setdefault(key, kept.pop(key))

    def release_line(self) -> str:
        """The release line offered in the TUI ("1.4" or "2.15") the draft is for."""
        return "2.15" if self.release() == "2.x" else "1.4"

    def switch_release(self, line: str, version: str | None = None) -> None:
        """Make the draft one of release `line` (`version`, else the one it had, else the
        line's own): the other release's settings, sections and secrets are kept aside, so
        that none is shown or written, and come back when it is chosen again."""
        old = self.release_line()
        harbor = self.data.setdefault("harbor", {})
        if line != old:
            under = tuple(f"{section}{sep}" for section in RELEASE_SECTIONS for sep in ".[")
            self._aside[f"release {old}"] = {
                "harbor": {
                    key: harbor.pop(key) for key in ("version", *RELEASE_KEYS[old]) if key in harbor
                },
                "sections": {s: self.data.pop(s) for s in RELEASE_SECTIONS if s in self.data},
                "secrets": {
                    path: self.secrets.pop(path)
                    for path in list(self.secrets)
                    if path.startswith(under)
                },
                "aside": {
                    key: self._aside.pop(key)
                    for key in list(self._aside)
                    if key in RELEASE_SECTIONS or key.startswith(under)
                },
            }
            kept = self._aside.pop(f"release {line}", None)
            if kept is None:
                parts = copy.deepcopy(RELEASE_PARTS[line])
                kept = {"harbor": parts.pop("harbor"), "sections": parts}
            harbor.update(kept["harbor"])
            self.data.update(kept.get("sections", {}))
            self.secrets.update(kept.get("secrets", {}))
            self._aside.update(kept.get("aside", {}))
        harbor["version"] = version or harbor.get("version") or RELEASES[line]

    def switch_storage(self, provider: str) -> None:
        """Each provider keeps its own settings while another one is chosen."""
        storage = self.data.setdefault("storage", {})
        old = storage.get("provider", "filesystem")
        self._aside[f"storage.{old}"] = storage.get("config", {})
        storage["provider"] = provider
        storage["config"] = self._aside.pop(f"storage.{provider}", {})

    # -- verdicts -------------------------------------------------------------------
    def problems(self) -> dict[str, str]:
        """Every problem by dotted field path, in the loader's words: each field's own,
        the rules between the fields that are valid so far, then each secret value's."""
        answers, problems = validate(self.data)
        found: dict[str, str] = {}
        for problem in problems:
            found.setdefault(problem.path, problem.message)
        paths = secret_paths(answers) if answers else _marker_paths(self.data, "")
        for path in paths:
            value = self.secrets.get(path, "")
            message = (
                value_problem(path, value, self.release()) if value else required(parse_path(path))
            )
            if message and path not in found:
                found[path] = message
        return found

    def release(self) -> str:
        """The release line the draft is for so far ("1.4" until a 2.x version is given)."""
        harbor = self.data.get("harbor")
        version = harbor.get("version") if isinstance(harbor, dict) else None
        return "2.x" if isinstance(version, str) and version.startswith("2.") else "1.4"

    def secret_paths(self) -> list[str]:
        answers, _ = validate(self.data)
        return secret_paths(answers) if answers else _marker_paths(self.data, "")

    def answers(self) -> Answers:
        """The valid answers, or DraftInvalid with every problem (never pydantic's text)."""
        answers, problems = validate(self.data)
        if answers is None:
            raise DraftInvalid(problems or [Problem("", "the answers are not complete")])
        return answers

    def to_document(self) -> AnswersDocument:
        """The file to write: the loaded tree edited in place (comments survive), or new."""
        answers = self.answers()
        if self.tree is None:
            document = from_answers(answers)
            other = "1.4" if self.release_line() == "2.15" else "2.15"
            for key in RELEASE_KEYS[other]:  # the model's default for the other release
                document.tree["harbor"].pop(key, None)
        else:
            merge(self.tree, self.data)
            document = AnswersDocument(answers, self.tree, indent=self.indent)
        document.path = self.path
        return document


def _marker_paths(node: Any, prefix: str) -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _marker_paths(v, f"{prefix}.{k}".strip("."))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _marker_paths(v, f"{prefix}[{i}]")]
    return [prefix] if node == SECRET_MARKER else []


def field_of(path: str, known: set[str]) -> str | None:
    """The field a problem belongs to: itself, or the nearest parent shown on a screen."""
    parts = parse_path(path)
    for end in range(len(parts), 0, -1):
        candidate = dotted(parts[:end])
        if candidate in known:
            return candidate
    return None
