"""Certificate, key and CA: they match, are valid now and for a while, cover the hostname,
and the chain nginx will serve reaches tls.ca (or a public root) with nothing missing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from harbor_wizard import certs
from harbor_wizard.answers import Answers
from harbor_wizard.checks.result import CheckResult, error, ok, probe, warning

EXPIRY_WARNING = dt.timedelta(days=30)


@probe("tls")
def check(
    answers: Answers,
    base_dir: Path,
    passphrase: str | None = None,
    now: dt.datetime | None = None,
    roots: Sequence[x509.Certificate] | None = None,
) -> list[CheckResult]:
    """`roots`: the public roots, this machine's trust store unless a test gives them."""
    tls = answers.tls
    if tls is None:
        return []
    now = now or dt.datetime.now(dt.UTC)
    cert_path = certs.resolve_path(tls.certificate, base_dir)
    ca_path = certs.resolve_path(tls.ca, base_dir) if tls.ca else None
    try:
        ordered = certs.order_chain(certs.read_certificates(cert_path), cert_path)
        key, _ = certs.read_private_key(certs.resolve_path(tls.private_key, base_dir), passphrase)
        ca = certs.read_certificates(ca_path) if ca_path else None
    except certs.TlsFileError as exc:
        return [error("tls.files", "tls", str(exc), field_path="tls")]
    cert = ordered[0]
    results = []
    if certs.key_matches(cert, key):
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
                f"the certificate is not valid now (valid {start:%Y-%m-%d} to {end:%Y-%m-%d}): "
                "give a current one in the certificate files and run again",
                field_path="tls.certificate",
            )
        )
    elif end - now < EXPIRY_WARNING:
        results.append(
            warning(
                "tls.validity",
                "tls",
                f"the certificate expires on {end:%Y-%m-%d}, in {(end - now).days} days: "
                "renew it soon: replace the certificate files and run harbor-wizard again "
                "(the nodes take it one at a time, each drained first)",
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
    try:
        chain = certs.complete_chain(ordered, cert_path, ca, ca_path, roots, now)
    except certs.ChainError as exc:
        results.append(error("tls.chain", "tls", str(exc), field_path=f"tls.{exc.field}"))
    else:
        served = len(chain.served) - 1
        results.append(
            ok(
                "tls.chain",
                "tls",
                f"the chain is complete: the certificate and {served} intermediate(s), "
                f"up to {certs.subject(chain.anchor)} "
                + ("of tls.ca" if ca is not None else "(a public root)"),
            )
        )
    return results
