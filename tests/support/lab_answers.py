"""The lab's deployment as the wizard sees it: validated answers and resolved secrets."""

from __future__ import annotations

from pydantic import SecretStr

from harbor_wizard.answers import Answers
from tests.lab import Lab


def lab_answers(lab: Lab, **changes: object) -> Answers:
    data = lab.answers_dict()
    data.update(changes)
    return Answers.model_validate(data)


def lab_secrets(lab: Lab) -> dict[str, SecretStr]:
    return {path: SecretStr(value) for path, value in lab.secrets_dict().items()}
