"""What is wrong with the operator's input, said with its place: field, file and line.

Kept apart from the answers model so that the command line can catch and print problems
without loading pydantic and the model first (start-up time of the TUI).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is, and what would be right."""

    path: str
    message: str
    line: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        field = self.path or "(top level)"
        if self.source is None and self.line is None:
            return f"{field}: {self.message}"
        where = self.source or "answers"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {field}: {self.message}"


class InvalidInput(Exception):
    """Every problem found in the input at once; the CLI exits 2 with it."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StateFileError(Exception):
    """A file of the run's own state (the journal) cannot be read: not the operator's input
    (exit 1, not 2); the message says what to do with it."""
