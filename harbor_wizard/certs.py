"""Reading and judging the operator's TLS files (cryptography, no I/O beyond reading them).

Why one module: the answers rules (the certificate matches the key, is valid today, covers
``harbor.hostname``), the live checks (expiry warning, chain to the CA) and the renderer
(nginx needs an unencrypted key) all look at the same files the same way.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID


class TlsFileError(ValueError):
    """A TLS file that cannot be used, with a message naming what is wrong."""


@dataclass(frozen=True)
class TlsMaterial:
    certificate: x509.Certificate
    certificate_pem: str
    private_key: PrivateKeyTypes
    private_key_pem: str
    """Unencrypted PEM: Harbor 1.4's nginx has no way to take a passphrase."""
    ca: x509.Certificate | None
    ca_pem: str | None


def resolve_path(raw: str, base_dir: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base_dir / path


def read_certificate(path: Path) -> tuple[x509.Certificate, str]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TlsFileError(f"cannot read {path}: {error.strerror}") from None
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise TlsFileError(f"{path} is not a PEM certificate") from None
    return cert, cert.public_bytes(serialization.Encoding.PEM).decode()


def read_private_key(path: Path, passphrase: str | None) -> tuple[PrivateKeyTypes, str]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TlsFileError(f"cannot read {path}: {error.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
    except TypeError:
        raise TlsFileError(
            f"{path} is encrypted: give tls.private_key_passphrase: '<secret>'"
            if not passphrase
            else f"{path} is not encrypted: remove tls.private_key_passphrase"
        ) from None
    except ValueError:
        raise TlsFileError(f"{path} is not a PEM private key, or the passphrase is wrong") from None
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key, pem


def key_matches(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    public = key.public_key()
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return public.public_bytes(serialization.Encoding.DER, fmt) == cert.public_key().public_bytes(
        serialization.Encoding.DER, fmt
    )


def names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """DNS names and IP addresses the certificate is valid for (SANs; CN as fallback)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return [str(attr.value) for attr in cn], []
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def covers(cert: x509.Certificate, hostname: str) -> bool:
    dns, ips = names(cert)
    try:
        return str(ipaddress.ip_address(hostname)) in ips
    except ValueError:
        pass
    host = hostname.lower().rstrip(".")
    for name in dns:
        pattern = name.lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def valid_between(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s key signed `cert` (one step of a chain)."""
    if cert.issuer != issuer.subject:
        return False
    public = issuer.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            assert cert.signature_hash_algorithm is not None
            public.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                padding.PKCS1v15(),
                cert.signature_hash_algorithm,
            )
        elif isinstance(public, ec.EllipticCurvePublicKey):
            assert cert.signature_hash_algorithm is not None
            public.verify(
                cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
            )
        elif isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def load_material(
    certificate: Path, private_key: Path, ca: Path | None, passphrase: str | None
) -> TlsMaterial:
    cert, cert_pem = read_certificate(certificate)
    key, key_pem = read_private_key(private_key, passphrase)
    ca_cert, ca_pem = read_certificate(ca) if ca else (None, None)
    return TlsMaterial(cert, cert_pem, key, key_pem, ca_cert, ca_pem)
