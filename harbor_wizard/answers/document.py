"""The answers file on disk: YAML that round-trips, and errors that name lines.

Why ruamel.yaml's round-trip mode: operators review this file in merge requests and edit it
by hand, so loading and saving must keep their comments, key order and layout, and each
validation error must point at the line to fix (pydantic knows field paths, not lines).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import tempfile
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from harbor_wizard.answers import bounded, messages, partial
from harbor_wizard.answers.model import POSTGRES_DEFAULTS, SUPPORTED_VERSION, Answers
from harbor_wizard.answers.rules import REDIS_DB_INDEXES
from harbor_wizard.answers.types import SecretRef, secret_ref
from harbor_wizard.problems import InvalidInput, Problem

SCHEMA_FILE = "harbor-wizard.schema.json"
SCHEMA_HEADER = f"# yaml-language-server: $schema=./{SCHEMA_FILE}"

Loc = tuple[str | int, ...]


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _yaml(indent: tuple[int, int, int] = (2, 4, 2)) -> YAML:
    mapping, sequence, offset = indent
    yaml = bounded.bounded_yaml(YAML(typ="rt"))
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


_KEY_LINE = re.compile(r"^( *)[^\s#-][^:#]*:\s*(#.*)?$")
_DASH = re.compile(r"^( *)-( +)")


def guess_indent(text: str) -> tuple[int, int, int]:
    """Mapping indent, sequence indent and dash offset of a block-style YAML text.

    ruamel.yaml writes one style throughout; reading the file's own style keeps a
    consistently formatted file byte-identical across load and save.
    """
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    lines = [n for n in text.splitlines() if n.strip() and not n.lstrip().startswith("#")]
    for line, child in itertools.pairwise(lines):
        parent = _KEY_LINE.match(line)
        if not parent:
            continue
        gap = len(child) - len(child.lstrip(" ")) - len(parent.group(1))
        dash = _DASH.match(child)
        if dash and sequence is None and gap >= 0:
            sequence = (gap + 1 + len(dash.group(2)), gap)
        elif not dash and mapping is None and gap > 0:
            mapping = gap
        if mapping is not None and sequence is not None:
            break
    mapping = mapping or 2
    seq_indent, offset = sequence or (mapping + 2, mapping)
    return mapping, seq_indent, offset


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def line_of(root: Any, loc: Loc) -> int | None:
    """1-based line of the deepest node on `loc` that exists in the YAML tree."""
    node, line = root, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            if line is None and isinstance(node, CommentedMap | CommentedSeq):
                line = node.lc.line + 1
            break
    return line


_UNKNOWN_KEY = (
    "unknown key: remove it, or check its spelling against `harbor-wizard schema` "
    "(e.g. with_clair, not with-clair)"
)
_REQUIRED = frozenset({"missing", "empty"})
"""Error kinds said as "is required: <what the field is>, e.g. <a right value>"."""

_SCALARS = (str, int, float, bool)
_OWN_MESSAGES = frozenset(
    # Our own messages (answers.types, the model's validators) already say what is wrong
    # with an example, name the value, or (secrets) must never show it.
    {
        "rule",
        "secret_in_file",
        "control_character",
        "surrounding_space",
        "inline_comment",
        "identifier",
        "interface",
        "hostname",
        "user_name",
        "address",
        "installer_name",
        "harbor_version",
        "endpoint",
        "storage_key",
        "profile",
        "notary",
    }
)


_SECRET_IN_FILE = (
    "secret values never go into the answers file: write '<secret>' here and give the "
    "value with --secrets FILE, an environment variable or the keyring"
)


def _is_secret_field(loc: Loc) -> bool:
    """Whether `loc` names a `<secret>` field of the model: what is written there is
    never repeated in a message, whatever its type (a numeric password is a password)."""
    model: type[BaseModel] | None = Answers
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return False
        field = model.model_fields[part]
        args = typing.get_args(field.annotation)
        if any(getattr(m, "func", None) is secret_ref for m in field.metadata) or SecretRef in args:
            return True
        candidates = [field.annotation, *args]
        model = next(
            (a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
    return False


def _message(item: Any, loc: Loc) -> str:
    """The operator's words for one pydantic error: never its own text (patterns, types)."""
    kind = item["type"]
    if kind in _REQUIRED:
        return messages.required(loc)
    if kind == "extra_forbidden":
        return _UNKNOWN_KEY
    if kind == "rule":
        return str(item["msg"])
    if _is_secret_field(loc):
        return _SECRET_IN_FILE
    if kind == "literal_error" and loc == ("version",):
        return f"must be {SUPPORTED_VERSION}: the answers file format this harbor-wizard reads"
    if kind in _OWN_MESSAGES:
        return str(item["msg"])
    message = messages.malformed(loc)
    if isinstance(item.get("input"), _SCALARS):
        message = f"{message} (got {item['input']!r})"
    return message


def _loc(item: Any) -> Loc:
    return tuple(p for p in item["loc"] if not _is_synthetic(p))


def problems_from(error: ValidationError, root: Any, source: str | None) -> list[Problem]:
    problems: dict[tuple[str, str], Problem] = {}
    for item in error.errors(include_url=False):
        loc = _loc(item)
        problem = Problem(dotted(loc), _message(item, loc), line_of(root, loc), source)
        problems.setdefault((problem.path, problem.message), problem)
    return list(problems.values())


def validate(
    data: Any, root: Any = None, source: str | None = None
) -> tuple[Answers | None, list[Problem]]:
    """The answers, or every problem with them: each field's own, and every rule between
    fields that the valid fields break (pydantic alone would hold those back until all
    fields are valid). `root`: the YAML tree, for line numbers."""
    try:
        return Answers.model_validate(data), []
    except ValidationError as error:
        problems = problems_from(error, root, source)
        invalid = {_loc(item) for item in error.errors(include_url=False) if item["type"] != "rule"}
    seen = {(p.path, p.message) for p in problems}
    for rule in partial.broken_rules(data, invalid):
        problem = Problem(dotted(rule.loc), rule.message, line_of(root, rule.loc), source)
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            problems.append(problem)
    # In the file's order, as a person reads it (fields' own problems and rules mixed).
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return None, problems


def _is_synthetic(part: str | int) -> bool:
    """pydantic adds the branch name of a union to `loc`; people never wrote it."""
    return isinstance(part, str) and (
        "[" in part or part in {"function-after", "str", "int", "bool", "lax-or-strict"}
    )


@dataclass
class AnswersDocument:
    """A loaded answers file: the validated model plus the YAML tree it came from."""

    answers: Answers
    tree: CommentedMap
    path: Path | None = None
    indent: tuple[int, int, int] = (2, 4, 2)
    notes: list[str] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def dump(self) -> str:
        stream = io.StringIO()
        _yaml(self.indent).dump(self.tree, stream)
        return stream.getvalue()

    def save(self, path: Path | None = None) -> Path:
        """Write atomically, with the schema header, and the schema file beside it."""
        target = path or self.path
        if target is None:
            raise ValueError("no path to save the answers file to")
        text = self.dump()
        if not text.startswith("# yaml-language-server:"):
            text = f"{SCHEMA_HEADER}\n{text}"
        atomic_write(target, text, mode=0o644)
        schema = json.dumps(answers_schema(), indent=2) + "\n"
        schema_path = target.parent / SCHEMA_FILE
        if not schema_path.exists() or schema_path.read_text() != schema:
            atomic_write(schema_path, schema, mode=0o644)
        self.path = target
        return target


def answers_schema() -> dict[str, Any]:
    schema = Answers.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "harbor-wizard answers file"
    schema["allOf"] = [_release_schema()]
    return schema


def _release_schema() -> dict[str, Any]:
    """What each release takes, for editors: the model's release rules (answers.rules) in
    the schema's words, and 2.x's Harbor DB defaults (model.POSTGRES_DEFAULTS)."""
    is_2x = {
        "properties": {"harbor": {"properties": {"version": {"pattern": r"^2\."}}}},
        "required": ["harbor"],
    }
    postgres = {key: {"default": value} for key, value in POSTGRES_DEFAULTS.items()}
    postgres["engine"]["enum"] = ["postgresql"]
    only_2x = ["password", "sentinel_master_set", *REDIS_DB_INDEXES]
    return {
        "if": is_2x,
        "then": {
            "properties": {
                "harbor": {"properties": {"with_clair": {"const": False}}},
                "database": {"properties": postgres},
                "clair_database": False,
            }
        },
        "else": {
            "properties": {
                "harbor": {"properties": {"with_trivy": {"const": False}}},
                "database": {
                    "properties": {
                        "engine": {"enum": ["mariadb"]},
                        "database": False,
                        "ssl_mode": False,
                    }
                },
                "redis": {"properties": dict.fromkeys(only_2x, False)},
            }
        },
    }


def atomic_write(path: Path, text: str, mode: int) -> None:
    """Temp file in the target directory, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse(text: str, source: str | None = None) -> tuple[CommentedMap, tuple[int, int, int]]:
    """YAML text to a round-trip tree, with the file's own indentation (within the bounds
    of `bounded`: size, aliases, depth; errors by kind and line, never quoting the text)."""
    indent = guess_indent(text)
    tree = bounded.load(_yaml(indent), text, source)
    if tree is None:
        raise InvalidInput(
            [
                Problem(
                    "",
                    "is empty: write the deployment's answers in it (README, 'The answers "
                    "file'), or run `harbor-wizard` to create one",
                    None,
                    source,
                )
            ]
        )
    if not isinstance(tree, CommentedMap):
        raise InvalidInput(
            [Problem("", "the answers file must be a YAML mapping (key: value)", 1, source)]
        )
    return tree, indent


def check_version(tree: CommentedMap, source: str | None) -> None:
    version = tree.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SUPPORTED_VERSION:
        raise InvalidInput(
            [
                Problem(
                    "version",
                    f"this file is version {version}, written by a newer harbor-wizard; "
                    f"this one reads version {SUPPORTED_VERSION}: upgrade harbor-wizard",
                    line_of(tree, ("version",)),
                    source,
                )
            ]
        )


def loads(text: str, source: str | None = None, path: Path | None = None) -> AnswersDocument:
    tree, indent = parse(text, source)
    check_version(tree, source)
    answers, problems = validate(_plain(tree), tree, source)
    if answers is None:
        raise InvalidInput(problems)
    return AnswersDocument(answers=answers, tree=tree, path=path, indent=indent)


def read_text(path: Path) -> str:
    """The file's text (UTF-8, at most `bounded.MAX_BYTES`), or InvalidInput naming the
    file and why it cannot be read."""
    return bounded.read_text(path)


def load(path: Path) -> AnswersDocument:
    """Read and validate an answers file; raises InvalidInput with every problem."""
    return loads(read_text(path), source=str(path), path=path)


def from_answers(answers: Answers) -> AnswersDocument:
    """A new document for answers made in the TUI: fields in model order."""
    data = answers.model_dump(mode="json", exclude_none=True)
    stream = io.StringIO()
    _yaml().dump(data, stream)
    tree, indent = parse(stream.getvalue())
    return AnswersDocument(answers=answers, tree=tree, indent=indent)
