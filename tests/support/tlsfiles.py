"""Real certificates for tests: a root CA, an intermediate CA under it, server certificates
good and bad, keys.

By default the server certificate is issued as public and most private CAs issue them:
by an intermediate, itself signed by the root. server.crt then holds the leaf and the
intermediate, ca.crt the root: what a client that trusts only the root needs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey, passphrase: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class Ca:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    parent: Ca | None = None
    """The CA that signed this one; None for a root."""

    @classmethod
    def create(
        cls,
        name: str = "Test CA",
        *,
        parent: Ca | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Ca:
        """A root CA, or with `parent` an intermediate CA it signs."""
        key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(parent.cert.subject if parent else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=10))
            .not_valid_after(not_after or now + dt.timedelta(days=3650))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=0 if parent else None), critical=True
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
        )
        if parent:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()),
                critical=False,
            )
        return cls(key, builder.sign(parent.key if parent else key, hashes.SHA256()), parent)

    def intermediate(self, name: str = "Test Intermediate CA", **dates: dt.datetime) -> Ca:
        return Ca.create(name, parent=self, **dates)

    @property
    def root(self) -> Ca:
        return self.parent.root if self.parent else self

    @property
    def chain(self) -> list[x509.Certificate]:
        """This CA's certificate and those above it, up to and without the root."""
        return [self.cert, *self.parent.chain] if self.parent else []

    def issue(
        self,
        names: list[str],
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = _key()
        now = dt.datetime.now(dt.UTC)
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=1))
            .not_valid_after(not_after or now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert, key


def write_tls(
    folder: Path,
    names: list[str] | None = None,
    *,
    ca: Ca | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    passphrase: str | None = None,
) -> Ca:
    """server.crt (the leaf, then the intermediates), server.key and ca.crt (the root) in
    `folder`; returns the CA that signed the leaf (by default an intermediate under a new
    root: `.root` is the root)."""
    ca = ca or Ca.create().intermediate()
    cert, key = ca.issue(
        names or ["registry.example.com"], not_before=not_before, not_after=not_after
    )
    (folder / "server.crt").write_bytes(pem(cert, *ca.chain))
    (folder / "server.key").write_bytes(_pem_key(key, passphrase))
    (folder / "ca.crt").write_bytes(pem(ca.root.cert))
    return ca


def write_other_key(path: Path) -> None:
    path.write_bytes(_pem_key(_key()))
