"""Everything a run needs from the operator's side, validated before any host is touched.

Why one function: ``render``, ``check``, the unattended install and the TUI's review all
need the same sequence (answers, secrets, TLS files, shared artefacts), and each stage's
problems must reach the operator all at once, with field paths and lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from harbor_wizard import answers as answers_file
from harbor_wizard import artefacts, redact
from harbor_wizard.answers import AnswersDocument, InvalidInput
from harbor_wizard.answers.files import tls_problems
from harbor_wizard.certs import TlsMaterial
from harbor_wizard.profiles import profile_for
from harbor_wizard.render import RenderedFile, render
from harbor_wizard.secrets import SecretResolver, secret_paths


@dataclass(frozen=True)
class Inputs:
    document: AnswersDocument
    secrets: dict[str, SecretStr]
    artefacts: artefacts.SharedArtefacts
    tls: TlsMaterial | None
    resolver: SecretResolver

    @property
    def answers(self) -> answers_file.Answers:
        return self.document.answers

    def render(self) -> list[RenderedFile]:
        return render(self.answers, self.secrets, self.artefacts, self.tls)


def load_inputs(
    answers_path: Path,
    secrets_path: Path | None = None,
    *,
    prompt: Callable[[str], str] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Inputs:
    """Load and prove every input; raises InvalidInput listing all problems of a stage."""
    document = answers_file.load(answers_path)
    resolver = SecretResolver(
        document.answers.name,
        secrets_file=secrets_path,
        sidecar=SecretResolver.sidecar_for(answers_path),
        prompt=prompt,
        notify=notify,
        release=profile_for(document.answers.harbor.version).release,
    )
    secrets = resolver.resolve(secret_paths(document.answers))
    passphrase = secrets.get("tls.private_key_passphrase")
    problems, tls = tls_problems(document, passphrase.get_secret_value() if passphrase else None)
    if problems:
        raise InvalidInput(problems)
    if tls is not None:
        redact.register(tls.private_key_pem)
    csrf = bool(profile_for(document.answers.harbor.version).shared_settings)
    shared = artefacts.ensure(resolver, csrf=csrf)
    return Inputs(document, secrets, shared, tls, resolver)
