"""The answers: model, file, and the rules that need the operator's local files."""

from harbor_wizard.answers.document import AnswersDocument, answers_schema, load, loads
from harbor_wizard.answers.model import Answers
from harbor_wizard.answers.types import SECRET_MARKER
from harbor_wizard.problems import InvalidInput, Problem

__all__ = [
    "SECRET_MARKER",
    "Answers",
    "AnswersDocument",
    "InvalidInput",
    "Problem",
    "answers_schema",
    "load",
    "loads",
]
