"""Reading and judging the operator's TLS files (cryptography, no I/O beyond reading them).

Why one module: the answers rules (the certificate matches the key, is valid today, covers
``harbor.hostname``, its chain is complete), the live checks (expiry warning, chain to the
CA) and the renderer (nginx needs an unencrypted key and the whole chain) all look at the
same files the same way.

The chain: nginx sends every certificate of its ``ssl_certificate`` file, and Harbor 1.4's
``prepare --ha`` copies ``ha/server.crt`` there whole. A client that trusts only the root
can verify the server only if that file holds the leaf and every intermediate, leaf first.
So tls.certificate is read whole, put in that order, its root (if any) left out: a root
sent by a server is never a trust anchor for the client, only bytes in every handshake
(RFC 8446 4.4.2 lets a server omit it).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import ssl
import warnings
from collections.abc import Sequence
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


class ChainError(TlsFileError):
    """A chain that does not reach tls.ca or a public root; `field` is the one to fix."""

    def __init__(self, message: str, field: str = "certificate") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TlsMaterial:
    certificate: x509.Certificate
    """The leaf: the server certificate the key, the hostname and the dates apply to."""
    certificate_pem: str
    """The chain nginx serves (ha/server.crt): the leaf, then each intermediate up to the
    root, the root itself left out."""
    private_key: PrivateKeyTypes
    private_key_pem: str
    """Unencrypted PEM: Harbor 1.4's nginx has no way to take a passphrase."""
    ca: x509.Certificate | None
    """The first certificate of tls.ca."""
    ca_pem: str | None
    """Every certificate of tls.ca (ha/ca.crt, offered for download by Harbor's UI)."""
    intermediates: tuple[x509.Certificate, ...] = ()
    """The certificates served after the leaf, in order."""
    anchor: x509.Certificate | None = None
    """What the chain ends at: a certificate of tls.ca, or a root of the system store."""


def resolve_path(raw: str, base_dir: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base_dir / path


def read_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate of a PEM file, in file order, each once (other blocks ignored)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TlsFileError(f"cannot read {path}: {error.strerror}") from None
    try:
        found = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsFileError(f"{path} is not a PEM certificate") from None
    unique: list[x509.Certificate] = []
    for cert in found:
        if cert not in unique:
            unique.append(cert)
    return unique


def read_certificate(path: Path) -> tuple[x509.Certificate, str]:
    """The first certificate of a file, and all of the file's certificates as PEM."""
    found = read_certificates(path)
    return found[0], pem(found)


def pem(certificates: Sequence[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def subject(cert: x509.Certificate) -> str:
    """How a certificate is named to an operator: its subject, as openssl prints it."""
    return f"'{cert.subject.rfc4514_string()}'"


def self_signed(cert: x509.Certificate) -> bool:
    return signed_by(cert, cert)


def order_chain(certificates: Sequence[x509.Certificate], path: Path) -> list[x509.Certificate]:
    """The certificates leaf first, each followed by the one that signed it.

    Why reorder instead of refusing: when each certificate signed the one before it, the
    order is plain from the signatures, and operators concatenate files in any order.
    What is not one chain (two leaves, a stray certificate) is refused: which one to serve
    would be a guess.
    """
    certs = list(certificates)
    if len(certs) == 1:
        return certs
    issuer: dict[int, int] = {}
    for i, cert in enumerate(certs):
        for j, other in enumerate(certs):
            if i != j and signed_by(cert, other):
                issuer[i] = j
                break
    signers = set(issuer.values())
    leaves = [i for i in range(len(certs)) if i not in signers]
    if len(leaves) != 1:
        named = ", ".join(subject(certs[i]) for i in leaves) or "none"
        raise TlsFileError(
            f"{path} holds {len(certs)} certificates that are not one chain (it begins at: "
            f"{named}): keep the server certificate and the intermediate certificates that "
            "lead from it to the root, nothing else"
        )
    chain = [leaves[0]]
    while chain[-1] in issuer and issuer[chain[-1]] not in chain:
        chain.append(issuer[chain[-1]])
    stray = [certs[i] for i in range(len(certs)) if i not in chain]
    if stray:
        raise TlsFileError(
            f"{path} also holds {', '.join(subject(c) for c in stray)}, which is not in the "
            f"chain of {subject(certs[chain[0]])}: remove it"
        )
    return [certs[i] for i in chain]


@functools.cache
def system_roots() -> tuple[x509.Certificate, ...]:
    """The roots of this machine's trust store (OpenSSL's default file and folder).

    Why this machine's: it stands for the Docker clients' stores, which hold the same
    public CAs; a private CA belongs in tls.ca.
    """
    paths = ssl.get_default_verify_paths()
    files: list[Path] = []
    if paths.cafile:
        files.append(Path(paths.cafile))
    elif paths.capath and Path(paths.capath).is_dir():
        files += sorted(p for p in Path(paths.capath).iterdir() if p.suffix in (".pem", ".crt"))
    roots: list[x509.Certificate] = []
    for file in files:
        try:
            data = file.read_bytes()
        except OSError:
            continue
        for block in _PEM_CERTIFICATE.findall(data):
            with warnings.catch_warnings():  # a store's odd old root is not ours to judge
                warnings.simplefilter("ignore")
                try:
                    roots.append(x509.load_pem_x509_certificate(block))
                except ValueError:  # one a newer cryptography refuses: skip it, not all
                    continue
    return tuple(roots)


_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _issuer_in(cert: x509.Certificate, pool: Sequence[x509.Certificate]) -> x509.Certificate | None:
    return next((c for c in pool if c != cert and signed_by(cert, c)), None)


def _same(cert: x509.Certificate, pool: Sequence[x509.Certificate]) -> bool:
    """Whether `pool` holds `cert`, or a certificate with its name and key (a re-issue)."""
    key = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return any(
        c == cert
        or (
            c.subject == cert.subject
            and c.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            == key
        )
        for c in pool
    )


@dataclass(frozen=True)
class Chain:
    served: tuple[x509.Certificate, ...]
    """Leaf first, then the intermediates: what nginx must send."""
    anchor: x509.Certificate


def complete_chain(
    ordered: Sequence[x509.Certificate],
    certificate_path: Path,
    ca: Sequence[x509.Certificate] | None,
    ca_path: Path | None,
    roots: Sequence[x509.Certificate] | None = None,
    now: dt.datetime | None = None,
) -> Chain:
    """The chain nginx serves, and the certificate it ends at: one of tls.ca, or without
    tls.ca a root of the system store (`roots`, for tests). Raises ChainError naming the
    certificate that is missing, where it was looked for and what to do.

    An intermediate found in tls.ca rather than tls.certificate is served too: a client
    that trusts only the root needs it, and CAs often ship it in their "CA bundle".
    The leaf's own dates are the callers' to judge (they warn before it expires).
    """
    served = list(ordered)
    root = served.pop() if len(served) > 1 and self_signed(served[-1]) else None
    given = ca is not None
    anchors = list(ca) if ca is not None else list(system_roots() if roots is None else roots)
    where = f"tls.ca ({ca_path})" if given else "this machine's public root CAs"
    field = "ca" if given else "certificate"
    anchor = next((c for c in reversed(served) if _same(c, anchors)), None)
    if anchor is None and root is not None:
        if not _same(root, anchors):
            raise ChainError(
                f"the chain in {certificate_path} ends at the root {subject(root)}, which is "
                f"not in {where}: give that root's certificate as tls.ca",
                field,
            )
        anchor = root
    while anchor is None and len(served) < 10:  # 10: a loop of cross-signatures ends
        last = served[-1]
        issuer = _issuer_in(last, anchors)
        if issuer is None:
            raise _missing(last, certificate_path, ca, where)
        if given and not self_signed(issuer):
            served.append(issuer)  # an intermediate of tls.ca: clients of the root need it
            if _issuer_in(issuer, anchors) is not None:
                continue
        anchor = issuer
    if anchor is None:
        raise ChainError(f"the chain in {certificate_path} does not end: remove the loop")
    now = now or dt.datetime.now(dt.UTC)
    checked = [*served[1:], anchor] if given or _same(anchor, ordered) else served[1:]
    for cert in checked:  # a store's own root is the clients' business
        start, end = valid_between(cert)
        if not start <= now <= end:
            in_ca = given and _same(cert, anchors) and not _same(cert, ordered)
            raise ChainError(
                f"{subject(cert)} in {ca_path if in_ca else certificate_path} is not valid "
                f"today (valid {start:%Y-%m-%d} to {end:%Y-%m-%d}): replace it with the "
                "current certificate from your CA",
                "ca" if in_ca else "certificate",
            )
    return Chain(tuple(served), anchor)


def _missing(
    last: x509.Certificate,
    certificate_path: Path,
    ca: Sequence[x509.Certificate] | None,
    where: str,
) -> ChainError:
    issuer = f"'{last.issuer.rfc4514_string()}'"
    if self_signed(last):
        return ChainError(
            f"{certificate_path} holds the self-signed certificate {subject(last)}, which is "
            f"not in {where}: give the same file as tls.ca",
            "ca" if ca is not None else "certificate",
        )
    if ca is not None and any(c.subject == last.issuer for c in ca):
        return ChainError(
            f"{where} holds a certificate named {issuer} that did not sign {subject(last)} "
            "(another key): give the CA certificate that issued it",
            "ca",
        )
    held = f", which holds {', '.join(subject(c) for c in ca)}" if ca else ""
    other = (
        f"if {issuer} is the CA that issued it, give that CA's certificate as tls.ca"
        if ca is not None
        else f"if {issuer} is a private root CA, give its certificate as tls.ca"
    )
    return ChainError(
        f"the chain is incomplete: {subject(last)} was signed by {issuer}, which is in "
        f"neither {certificate_path} nor {where}{held}: append the intermediate "
        f"certificate(s) your CA sent to {certificate_path}, after the server certificate, "
        f"each followed by the one that signed it; or, {other}"
    )


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
    certificate: Path,
    private_key: Path,
    ca: Path | None,
    passphrase: str | None,
    roots: Sequence[x509.Certificate] | None = None,
    now: dt.datetime | None = None,
) -> TlsMaterial:
    """The files, read and ordered; raises TlsFileError (ChainError for the chain)."""
    ordered = order_chain(read_certificates(certificate), certificate)
    key, key_pem = read_private_key(private_key, passphrase)
    ca_certs = read_certificates(ca) if ca else None
    chain = complete_chain(ordered, certificate, ca_certs, ca, roots, now)
    return TlsMaterial(
        chain.served[0],
        pem(chain.served),
        key,
        key_pem,
        ca_certs[0] if ca_certs else None,
        pem(ca_certs) if ca_certs else None,
        chain.served[1:],
        chain.anchor,
    )
