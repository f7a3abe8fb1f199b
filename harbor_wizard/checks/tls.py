"""Certificate, key and CA: they match, are valid now and for a while, cover the hostname."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from harbor_wizard import certs
from harbor_wizard.answers import Answers
from harbor_wizard.checks.result import CheckResult, error, ok, probe, warning

EXPIRY_WARNING = dt.timedelta(days=30)


@probe("tls")
def check(
    answers: Answers, base_dir: Path, passphrase: str | None = None, now: dt.datetime | None = None
) -> list[CheckResult]:
    tls = answers.tls
    if tls is None:
        return []
    now = now or dt.datetime.now(dt.UTC)
    try:
        material = certs.load_material(
            certs.resolve_path(tls.certificate, base_dir),
            certs.resolve_path(tls.private_key, base_dir),
            certs.resolve_path(tls.ca, base_dir) if tls.ca else None,
            passphrase,
        )
    except certs.TlsFileError as exc:
        return [error("tls.files", "tls", str(exc), field_path="tls")]
    cert = material.certificate
    results = []
    if certs.key_matches(cert, material.private_key):
        results.append(ok("tls.key", "tls", "the private key belongs to the certificate"))
    else:
        results.append(
            error(
                "tls.key",
                "tls",
                "tls.private_key does not belong to tls.certificate",
                field_path="tls.private_key",
            )
        )
    start, end = certs.valid_between(cert)
    if not start <= now <= end:
        results.append(
            error(
                "tls.validity",
                "tls",
                f"the certificate is not valid now (valid {start:%Y-%m-%d} to {end:%Y-%m-%d})",
                field_path="tls.certificate",
            )
        )
    elif end - now < EXPIRY_WARNING:
        results.append(
            warning(
                "tls.validity",
                "tls",
                f"the certificate expires on {end:%Y-%m-%d}, in {(end - now).days} days: "
                "renew it soon",
                field_path="tls.certificate",
            )
        )
    else:
        results.append(ok("tls.validity", "tls", f"the certificate is valid until {end:%Y-%m-%d}"))
    hostname = answers.harbor.hostname
    dns, ips = certs.names(cert)
    if certs.covers(cert, hostname):
        results.append(ok("tls.names", "tls", f"the certificate covers {hostname}"))
    else:
        results.append(
            error(
                "tls.names",
                "tls",
                f"the certificate does not cover {hostname} "
                f"(it names {', '.join(dns + ips) or 'nothing'})",
                field_path="tls.certificate",
            )
        )
    if material.ca is not None:
        if certs.signed_by(cert, material.ca):
            results.append(ok("tls.ca", "tls", "the CA signed the certificate"))
        else:
            results.append(
                error("tls.ca", "tls", "tls.ca did not sign the certificate", field_path="tls.ca")
            )
    return results
