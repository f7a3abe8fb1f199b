"""The rules between fields, on answers that are not valid as a whole.

Why: pydantic runs a model's after-validators only once all its fields are valid, so a
draft with one empty field, or a file with one typo, would never hear that an address is
used twice. Here the same rule functions (``answers.rules``) read each value that is valid
on its own, validated against its own field's type, and see ``None`` for the rest.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable
from types import UnionType
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from harbor_wizard.answers.messages import generic
from harbor_wizard.answers.model import Answers, release_defaults
from harbor_wizard.answers.rules import (
    Loc,
    Rule,
    clair_database_rules,
    deployment_rules,
    load_balancer_rules,
    storage_rules,
)

_NO_FIELD = object()


def _unwrap(tp: Any) -> list[Any]:
    """The types a value of `tp` may be: Annotated and Optional taken apart."""
    if typing.get_origin(tp) is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, UnionType):
        return [t for arg in typing.get_args(tp) for t in _unwrap(arg) if t is not type(None)]
    return [tp]


@functools.cache
def _field(path: str, loc: Loc) -> tuple[Any, Any]:
    """The type of the value at `loc` (its generic `path` is the cache key) and the model
    field it belongs to, or (_NO_FIELD, None) when the model has no such place."""
    tp: Any = Answers
    info = None
    for part in loc:
        kinds = _unwrap(tp)
        model = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if isinstance(part, str) and model is not None:
            info = model.model_fields.get(part)
            if info is None:
                return _NO_FIELD, None
            tp = info.annotation
            if info.metadata:
                tp = Annotated[(tp, *info.metadata)]
            continue
        origin = next((typing.get_origin(k) for k in kinds if typing.get_origin(k)), None)
        args = next((typing.get_args(k) for k in kinds if typing.get_origin(k)), ())
        info = None
        if origin is list and isinstance(part, int):
            tp = args[0]
        elif origin is dict and isinstance(part, str):
            tp = args[1]
        else:
            return _NO_FIELD, None
    return tp, info


@functools.cache
def _adapter(path: str, loc: Loc) -> TypeAdapter[Any] | None:
    tp, _ = _field(path, loc)
    return None if tp is _NO_FIELD else TypeAdapter(tp)


class DataValues:
    """Raw answers data, as the rules read it (``rules.Values``): each value validated on
    its own; None where it is absent, invalid, or under a place that has an error."""

    def __init__(self, data: Any, invalid: Iterable[Loc], prefix: Loc = ()) -> None:
        self._data = data
        self._invalid = frozenset(invalid)
        self._prefix = prefix

    def at(self, *loc: str | int) -> DataValues:
        return DataValues(self._data, self._invalid, (*self._prefix, *loc))

    def _raw(self, loc: Loc) -> tuple[bool, Any]:
        node = self._data
        for part in loc:
            if isinstance(node, dict):
                if part not in node:
                    return False, None
            elif not (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
                return False, None
            node = node[part]
        return True, node

    def get(self, *loc: str | int) -> Any:
        full = (*self._prefix, *loc)
        if any(full[: len(bad)] == bad for bad in self._invalid):
            return None
        found, raw = self._raw(full)
        path = generic(full)
        if not found:
            present, parent = self._raw(full[:-1])
            _, info = _field(path, full)
            if not present or not isinstance(parent, dict) or info is None:
                return None
            default = info.get_default(call_default_factory=True)
            return None if default is PydanticUndefined else default
        if raw is None:
            return None
        adapter = _adapter(path, full)
        if adapter is None:
            return None
        try:
            return adapter.validate_python(raw)
        except ValidationError:
            return None

    def has(self, *loc: str | int) -> bool:
        found, raw = self._raw((*self._prefix, *loc))
        return found and raw is not None

    def count(self, *loc: str | int) -> int | None:
        _, raw = self._raw((*self._prefix, *loc))
        return len(raw) if isinstance(raw, list) else None

    def keys(self, *loc: str | int) -> list[str]:
        _, raw = self._raw((*self._prefix, *loc))
        return [str(key) for key in raw] if isinstance(raw, dict) else []

    def is_mapping(self) -> bool:
        _, raw = self._raw(self._prefix)
        return isinstance(raw, dict)


def broken_rules(data: Any, invalid: Iterable[Loc]) -> list[Rule]:
    """Every rule between fields that the valid parts of `data` break, at absolute paths.

    `invalid`: the places whose values have their own error (not a rule's). The release's
    defaults are put in first, as the model does (2.x's Harbor DB is PostgreSQL)."""
    root = DataValues(release_defaults(data), invalid)
    if not isinstance(data, dict):
        return []
    found = list(deployment_rules(root))
    for section, rules in (
        ("load_balancer", load_balancer_rules),
        ("clair_database", clair_database_rules),
        ("storage", storage_rules),
    ):
        values = root.at(section)
        if values.is_mapping():
            found += [Rule((section, *r.loc), r.message, r.value) for r in rules(values)]
    return found
