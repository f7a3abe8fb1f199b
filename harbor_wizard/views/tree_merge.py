"""Edit a loaded YAML tree in place so that an edited answers file keeps its comments.

Why not dump the new values: ruamel.yaml keeps comments, key order and quoting on the
nodes of the tree it loaded. Writing each changed value into that same tree, and only the
values that changed, leaves every untouched line byte for byte as the operator wrote it.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq


def plain(node: Any) -> Any:
    """A round-trip tree as plain dicts, lists and scalars (what the model validates)."""
    if isinstance(node, dict):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(value) for value in node]
    if isinstance(node, str):
        return str(node)
    return node


def merge(tree: CommentedMap, data: dict[str, Any]) -> None:
    """Make `tree` hold `data`, touching only the keys and items that differ."""
    for key in [k for k in tree if k not in data]:
        del tree[key]
    for key, value in data.items():
        if key in tree:
            tree[key] = _merged(tree[key], value)
        else:
            tree[key] = value


def _merged(old: Any, new: Any) -> Any:
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        merge(old, new)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        for index, value in enumerate(new):
            if index < len(old):
                old[index] = _merged(old[index], value)
            else:
                old.append(value)
        del old[len(new) :]
        return old
    if plain(old) == new and type(plain(old)) is type(new):
        return old  # same value: keep its quoting and style
    return new
