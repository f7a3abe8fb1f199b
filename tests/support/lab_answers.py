"""The lab's deployment as the wizard sees it: validated answers and resolved secrets."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from ruamel.yaml import YAML

from harbor_wizard.answers import Answers
from tests.lab import Lab
from tests.support.tlsfiles import write_tls


def lab_answers(lab: Lab, **changes: object) -> Answers:
    data = lab.answers_dict()
    data.update(changes)
    return Answers.model_validate(data)


def lab_secrets(lab: Lab) -> dict[str, SecretStr]:
    return {path: SecretStr(value) for path, value in lab.secrets_dict().items()}


def https_lab_files(
    lab: Lab, folder: Path, hostname: str, release: str = "1.4"
) -> tuple[Path, Path]:
    """The lab's answers and secrets files with https for `hostname`, and certificates as
    CAs issue them (root -> intermediate -> leaf) beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    answers, secrets = lab.write_answers(folder, release=release)
    yaml = YAML()
    data = yaml.load(answers.read_text())
    data["harbor"]["protocol"] = "https"
    data["harbor"]["hostname"] = hostname
    data["tls"] = {"certificate": "./server.crt", "private_key": "./server.key", "ca": "./ca.crt"}
    with answers.open("w") as out:
        yaml.dump(data, out)
    write_tls(folder, [hostname])
    return answers, secrets
