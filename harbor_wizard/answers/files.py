"""Answers rules that need the operator's own files: the TLS certificate, key and CA.

Why apart from the model: the model stays pure data, and these rules need the answers
file's folder (relative paths), "today" (tests fix it) and, for an encrypted key, its
passphrase, which is only known once secrets are resolved.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from harbor_wizard import certs
from harbor_wizard.answers.document import AnswersDocument, line_of
from harbor_wizard.problems import Problem


def tls_problems(
    document: AnswersDocument,
    passphrase: str | None,
    today: dt.datetime | None = None,
) -> tuple[list[Problem], certs.TlsMaterial | None]:
    """Problems with the TLS files, each at its field; and the material when usable."""
    tls = document.answers.tls
    if tls is None:
        return [], None
    now = today or dt.datetime.now(dt.UTC)
    source = str(document.path) if document.path else None

    def problem(field: str, message: str) -> Problem:
        return Problem(f"tls.{field}", message, line_of(document.tree, ("tls", field)), source)

    base = document.base_dir
    cert_path = certs.resolve_path(tls.certificate, base)
    key_path = certs.resolve_path(tls.private_key, base)
    ca_path = certs.resolve_path(tls.ca, base) if tls.ca else None
    problems: list[Problem] = []
    ordered = None
    try:
        ordered = certs.order_chain(certs.read_certificates(cert_path), cert_path)
    except certs.TlsFileError as error:
        problems.append(problem("certificate", str(error)))
    cert = ordered[0] if ordered else None
    try:
        key, _ = certs.read_private_key(key_path, passphrase)
    except certs.TlsFileError as error:
        problems.append(problem("private_key", str(error)))
        key = None
    ca = None
    if ca_path is not None:
        try:
            ca = certs.read_certificates(ca_path)
        except certs.TlsFileError as error:
            problems.append(problem("ca", str(error)))
    if cert is not None:
        hostname = document.answers.harbor.hostname
        start, end = certs.valid_between(cert)
        if not start <= now <= end:
            problems.append(
                problem(
                    "certificate",
                    f"is not valid today: valid from {start:%Y-%m-%d} to {end:%Y-%m-%d}",
                )
            )
        if not certs.covers(cert, hostname):
            dns, ips = certs.names(cert)
            problems.append(
                problem(
                    "certificate",
                    f"does not cover harbor.hostname '{hostname}' (it names "
                    f"{', '.join(dns + ips) or 'nothing'}): issue one with it as a DNS or IP SAN",
                )
            )
        if key is not None and not certs.key_matches(cert, key):
            problems.append(
                problem("private_key", "does not belong to tls.certificate (public keys differ)")
            )
    if ordered and (ca is not None or ca_path is None):
        try:
            certs.complete_chain(ordered, cert_path, ca, ca_path, now=now)
        except certs.ChainError as error:
            problems.append(problem(error.field, str(error)))
    if problems:
        return problems, None
    return [], certs.load_material(cert_path, key_path, ca_path, passphrase, now=now)


def installer_path(document: AnswersDocument) -> Path:
    return certs.resolve_path(document.answers.harbor.installer, document.base_dir)
