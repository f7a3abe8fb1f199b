"""The files every Harbor node must share byte for byte, generated once per deployment.

Why here and not by ``prepare``: Harbor 1.4 HA breaks (``unauthorized: authentication
required``, undecryptable passwords) unless all nodes hold the same token signing pair and
the same 16-character ``secretkey``. The guide copies node 1's directory to the others;
generating them once on the operator's side, storing them like secrets and placing them in
every node's ``ha/`` folder makes nodes identical by construction and lets them install in
parallel. Renders reuse the stored values, so two renders are byte-identical.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harbor_wizard.answers import InvalidInput, Problem
from harbor_wizard.secrets import SecretResolver

TOKEN_KEY = "generated.token_private_key"
TOKEN_CERT = "generated.token_certificate"
SECRETKEY = "generated.secretkey"
CSRF_KEY = "generated.csrf_key"
ALL = (TOKEN_KEY, TOKEN_CERT, SECRETKEY)

SECRETKEY_LENGTH = 16
"""prepare refuses any other length; no trailing newline."""
CSRF_KEY_LENGTH = 32
"""What Harbor 2.x's prepare generates (utils/core.py) and core's CSRF middleware takes."""


@dataclass(frozen=True)
class SharedArtefacts:
    token_private_key: str
    """PEM of the token service's RSA key (``ha/private_key.pem``)."""
    token_certificate: str
    """PEM of its self-signed certificate, the registry's rootcertbundle (``ha/root.crt``)."""
    secretkey: str
    """16 characters that encrypt the passwords Harbor keeps in its DB (``ha/secretkey``)."""
    csrf_key: str | None = None
    """Harbor 2.x: the key of the UI's CSRF tokens (core's CSRF_KEY); None for 1.4."""


def generate_token_pair(key_size: int = 4096) -> tuple[str, str]:
    """An RSA key and a 10-year self-signed certificate, like prepare's customize_crt."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harbor-token-service")])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def generate_secretkey(length: int = SECRETKEY_LENGTH) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def ensure(
    resolver: SecretResolver, *, key_size: int = 4096, csrf: bool = False
) -> SharedArtefacts:
    """The deployment's shared artefacts: stored ones, or new ones stored now; with `csrf`
    (Harbor 2.x) the CSRF key too."""
    wanted = (*ALL, CSRF_KEY) if csrf else ALL
    found = {path: resolver.find(path) for path in wanted}
    generated: list[str] = []
    if found[TOKEN_KEY] is None and found[TOKEN_CERT] is None:
        key_pem, cert_pem = generate_token_pair(key_size)
        resolver.store(TOKEN_KEY, key_pem)
        resolver.store(TOKEN_CERT, cert_pem)
        found[TOKEN_KEY], found[TOKEN_CERT] = key_pem, cert_pem
        generated += [TOKEN_KEY, TOKEN_CERT]
    elif found[TOKEN_KEY] is None or found[TOKEN_CERT] is None:
        missing = TOKEN_KEY if found[TOKEN_KEY] is None else TOKEN_CERT
        raise InvalidInput(
            [
                Problem(
                    missing,
                    "half of the token signing pair is missing: restore it where the other "
                    "half is kept (a new pair would not match the one the nodes hold)",
                )
            ]
        )
    if found[SECRETKEY] is None:
        resolver.store(SECRETKEY, generate_secretkey())
        generated.append(SECRETKEY)
    if csrf and found[CSRF_KEY] is None:
        resolver.store(CSRF_KEY, generate_secretkey(CSRF_KEY_LENGTH))
        generated.append(CSRF_KEY)
    if generated:
        kept = sorted({str(resolver.origins[path]) for path in generated})
        resolver.notify(
            f"Generated this deployment's shared {', '.join(generated)} (every node must "
            f"hold the same; kept in {', '.join(kept)}). Keep them with the other secrets: "
            "new ones would not match what installed nodes hold."
        )
    values = resolver.resolve(wanted, interactive=False)
    secretkey = values[SECRETKEY].get_secret_value()
    if len(secretkey) != SECRETKEY_LENGTH:
        raise InvalidInput(
            [Problem(SECRETKEY, f"must be {SECRETKEY_LENGTH} characters: prepare refuses others")]
        )
    csrf_key = values[CSRF_KEY].get_secret_value() if csrf else None
    if csrf_key is not None and (
        len(csrf_key) != CSRF_KEY_LENGTH or not csrf_key.isascii() or not csrf_key.isalnum()
    ):
        raise InvalidInput(
            [
                Problem(
                    CSRF_KEY,
                    f"must be {CSRF_KEY_LENGTH} letters and digits, as Harbor's prepare makes",
                )
            ]
        )
    return SharedArtefacts(
        token_private_key=values[TOKEN_KEY].get_secret_value(),
        token_certificate=values[TOKEN_CERT].get_secret_value(),
        secretkey=secretkey,
        csrf_key=csrf_key,
    )
