"""Reading the operator's YAML files (answers, secrets) within bounds, with errors that say
file, line and the kind of problem, never the text around it.

Why: these files hold passwords and come from people and scripts. ruamel's error texts quote
what they found (a duplicate key's value, an unclosed quote's content), a one-kilobyte alias
bomb expands to gigabytes in anything that walks the tree, deep nesting exhausts Python's
stack, and ``int()`` refuses a 5000-digit number with a bare ValueError. So the size is
capped before parsing, aliases and depth are refused while composing, a value that cannot
be constructed is reported at its node's line, and every YAML error becomes a fixed phrase.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import BaseResolver
from ruamel.yaml.scanner import RoundTripScanner, ScannerError

from harbor_wizard.problems import InvalidInput, Problem

MAX_BYTES = 64 * 1024
"""Answers and secrets files are a few kilobytes (a secrets file with the generated keys is
about 6 KiB); a bigger file is the wrong file. Also a time bound: ruamel's pure-Python
parser reads about 100 KiB/s of ordinary YAML."""
MAX_NODES = 2000
"""Keys, values and list items: an answers file with 100 nodes has about 600. Flow lists of
one-character items parse at about 10,000 per second, so size alone does not bound time."""
MAX_DEPTH = 32
"""The answers file nests four levels; secrets one."""
_TOO_DEEP = f"is nested deeper than {MAX_DEPTH} levels: answers and secrets files are flat"


def _problem(message: str, source: str, line: int | None = None) -> InvalidInput:
    return InvalidInput([Problem("", message, line, source)])


def read_bytes(path: Path) -> tuple[bytes, os.stat_result]:
    """At most MAX_BYTES of a regular file, and its status (mode, owner) from the same open.

    Opened non-blocking so that a FIFO given by mistake cannot hang the run."""
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise _problem(f"cannot read: {error.strerror}: check the path", source) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _problem("is a folder, not a file: give the path of the YAML file", source)
        if not stat.S_ISREG(info.st_mode):
            raise _problem("is not a regular file: give the path of the YAML file", source)
        if info.st_size > MAX_BYTES:
            raise _problem(_too_big(info.st_size), source)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:  # grew while being read
            raise _problem(_too_big(size), source)
        return b"".join(chunks), info
    except OSError as error:
        raise _problem(f"cannot read: {error.strerror}", source) from None
    finally:
        os.close(fd)


def _too_big(size: int) -> str:
    return (
        f"is {size // 1024} KiB; answers and secrets files are at most {MAX_BYTES // 1024} KiB: "
        "is this the right file?"
    )


def decode(data: bytes, source: str) -> str:
    """UTF-8 text (a UTF-8 byte order mark is dropped), or the reason it is not text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE)):
        raise _problem(
            "is UTF-16 or UTF-32 text: save it as UTF-8 "
            "(e.g. `iconv -f UTF-16 -t UTF-8 FILE > NEW`)",
            source,
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _problem(
            "contains a NUL byte: it is not a text file, or it is damaged (UTF-16 without a "
            "byte order mark also looks like this: save it as UTF-8)",
            source,
            data.count(b"\n", 0, nul) + 1,
        )
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise _problem(
            "is not UTF-8 text: save it as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8 FILE > NEW`)",
            source,
            line,
        ) from None


def read_text(path: Path) -> str:
    """The file's text, or InvalidInput naming the file and what is wrong with it."""
    data, _ = read_bytes(path)
    return decode(data, str(path))


# --- parsing ----------------------------------------------------------------------------


class _LimitError(MarkedYAMLError):
    """A bound this module sets; `problem` is already the operator's message."""


class _FlowDepthScanner(RoundTripScanner):
    """Stops at the 33rd nested '[' or '{': the scanner's simple-key bookkeeping is
    quadratic in flow depth, so 5000 nested brackets would take seconds to reach the
    composer's depth limit."""

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
        if len(self.flow_context) >= MAX_DEPTH:
            raise _LimitError(
                problem=_TOO_DEEP,
                problem_mark=self.reader.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass, to_push)


class _NoAliasComposer(Composer):
    """Refuses aliases where they appear (nothing downstream ever expands one), and more
    than MAX_NODES nodes."""

    nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _LimitError(
                problem=f"has more than {MAX_NODES} values: answers and secrets files are "
                "far smaller; is this the right file?",
                problem_mark=self.parser.peek_event().start_mark,
            )
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            raise _LimitError(
                problem="has a value starting with '*', which YAML reads as an alias "
                "(*name) to another value: aliases are not supported in this file. If it is "
                "the value itself (a password starting with '*'), put it in single quotes: "
                "key: '*...'",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


class _Constructor(RoundTripConstructor):
    """Puts the node's line on a value Python cannot build (a 5000-digit integer, a date
    that does not exist) instead of a bare ValueError."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, TypeError) as error:
            if isinstance(error, YAMLError):
                raise
            raise _LimitError(
                problem="this value cannot be read (a number that is too long, or a date "
                "that does not exist): put it in quotes if it is text",
                problem_mark=node.start_mark,
            ) from None


class _TextResolver(BaseResolver):
    """Every untagged scalar is text exactly as written: `0123`, `0x1F`, `true`, `1e3`,
    `~` and `2024-01-01` stay those characters (no YAML 1.1 or 1.2 coercion)."""

    def __init__(self, version: Any = None, loader: Any = None, loadumper: Any = None) -> None:
        super().__init__(loadumper=loader if loader is not None else loadumper)

    @property
    def processing_version(self) -> Any:
        return (1, 2)


def bounded_yaml(yaml: YAML, *, text_scalars: bool = False) -> YAML:
    """`yaml` (round trip) with this module's bounds; `text_scalars` for secrets."""
    yaml.Scanner = _FlowDepthScanner
    yaml.Composer = _NoAliasComposer
    yaml.Constructor = _Constructor
    yaml.max_depth = MAX_DEPTH
    if text_scalars:
        yaml.Resolver = _TextResolver
    return yaml


def load(yaml: YAML, text: str, source: str | None) -> Any:
    """Parse with `yaml` (see `bounded_yaml`); any YAML error becomes an operator's problem."""
    try:
        return yaml.load(text)
    except YAMLError as error:
        raise InvalidInput([yaml_problem(error, text, source)]) from None
    except RecursionError:  # not reachable within MAX_DEPTH; never a traceback anyway
        raise InvalidInput([Problem("", _TOO_DEEP, None, source)]) from None


def yaml_problem(error: YAMLError, text: str, source: str | None) -> Problem:
    """The kind of error and its line. ruamel's own words are never shown: they quote the
    text they stumbled on, and in a secrets file that text is a password."""
    context_mark = getattr(error, "context_mark", None)
    # Where the construct that failed starts (a mapping, a quoted value).
    opened = context_mark.line + 1 if context_mark is not None else None
    mark = getattr(error, "problem_mark", None) or context_mark
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, ReaderError):
        line = text.count("\n", 0, error.position) + 1
        code = error.character if isinstance(error.character, int) else 0
        return Problem(
            "",
            f"contains a character YAML does not allow (U+{code:04X}): remove it",
            line,
            source,
        )
    problem = str(getattr(error, "problem", "") or "")
    context = str(getattr(error, "context", "") or "")
    if isinstance(error, _LimitError):
        message = problem
    elif "maximum depth" in problem:
        message = _TOO_DEEP
    elif isinstance(error, DuplicateKeyError):
        where = f" (in the mapping that starts at line {opened})" if opened else ""
        message = f"duplicate key: this key appears twice{where}; keep one"
    elif "quoted scalar" in context and "escape" in problem:
        message = (
            "a backslash in double quotes starts an escape that YAML does not know: "
            "write the value in single quotes, or \\\\ for a backslash"
        )
    elif "quoted scalar" in context and ("end of stream" in problem or "separator" in problem):
        message = "a quote is not closed" + (f" (it opens at line {opened})" if opened else "")
        line = opened or line
    elif "quoted scalar" in context:
        message = "not valid YAML inside the quoted value that starts here: check its quotes"
        line = opened or line
    elif "'\\t'" in problem:
        message = "a tab is used for indentation: indent with spaces"
    elif isinstance(error, ScannerError):
        message = "not valid YAML: check the quotes, ':' and indentation on this line"
    elif isinstance(error, ComposerError | ConstructorError):
        message = "not valid YAML here: check this value (tags and anchors are not supported)"
    else:
        message = "not valid YAML: check the indentation and the ':' on this line"
    return Problem("", message, line, source)
