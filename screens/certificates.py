"""Certificates (https only): the server certificate, its key and CA, and what they say."""

from __future__ import annotations

from functools import partial

from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.checks.result import CheckResult
from harbor_wizard.views.fields import FieldRow, Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck

PASSPHRASE = "tls.private_key_passphrase"


class CertificatesScreen(FormScreen):
    CSS_PATH = "certificates.tcss"
    TITLE_TEXT = "Certificates: Harbor's https certificate, key and CA"
    SECTIONS = ("tls",)

    def fields(self) -> ComposeResult:
        yield self.row(Spec("tls.certificate", "Certificate (PEM)", also=("tls",)))
        yield self.row(Spec("tls.private_key", "Private key (PEM)"))
        yield self.row(Spec("tls.ca", "CA certificate", placeholder="(only for a private CA)"))
        yield self.row(
            Spec(PASSPHRASE, "Key passphrase", "secret", placeholder="(only for an encrypted key)")
        )
        yield Static("", id="details", classes="explain")

    def edited(self, row: FieldRow) -> None:
        if row.spec.path == PASSPHRASE and not self.draft.secrets.get(PASSPHRASE):
            self.draft.set(PASSPHRASE, None)

    def live_checks(self) -> list[LiveCheck]:
        return [LiveCheck("tls", "tls.certificate", ("tls", "harbor.hostname"), self._job)]

    def _job(self) -> Job | None:
        try:
            answers = self.draft.answers()
        except ValueError:
            return None
        passphrase = self.draft.secrets.get(PASSPHRASE)
        return partial(self.wizard.probes.tls, answers, self.draft.base_dir, passphrase)

    def results_changed(self, group: str, results: list[CheckResult]) -> None:
        self.query_one("#details", Static).update(self.details())

    def details(self) -> str:
        """Subject, SANs and expiry of the certificate file, when it reads."""
        from harbor_wizard import certs

        raw = self.draft.get("tls.certificate")
        if not raw:
            return ""
        try:
            cert, _ = certs.read_certificate(certs.resolve_path(str(raw), self.draft.base_dir))
        except (certs.TlsFileError, OSError):
            return ""
        dns, ips = certs.names(cert)
        start, end = certs.valid_between(cert)
        return (
            f"subject: {cert.subject.rfc4514_string()}\n"
            f"SANs:    {', '.join(dns + ips) or 'none'}\n"
            f"valid:   {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        )
