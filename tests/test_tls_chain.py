"""Certificate chains kept whole (issue 13, item 3): the leaf and its intermediates reach
ha/server.crt in order, the chain must reach tls.ca (or a public root), and an incomplete
one is refused naming the missing certificate, the file and the fix.

Offline: the answers rules through `render`, the live check, and `openssl verify` on
what was rendered. The lab test (tests/install/test_tls_chain_lab.py) serves it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from harbor_wizard import certs
from harbor_wizard.answers import loads
from harbor_wizard.checks import Status, tls
from harbor_wizard.cli import main
from tests.support.deployment import https, render_args, write_deployment
from tests.support.tlsfiles import Ca, _pem_key, pem, write_tls

NOW = dt.datetime.now(dt.UTC)
SERVED = Path("harbor01/opt/harbor/ha/server.crt")


def render(folder: Path, capsys: pytest.CaptureFixture[str], *, ca: bool = True) -> str:
    """`harbor-wizard render` on the folder's TLS files: exit 0, or the errors."""
    answers, secrets = write_deployment(folder, https(ca=ca))
    code = main(render_args(answers, secrets, folder / "out"))
    err = capsys.readouterr().err
    assert code in (0, 2), err
    return "" if code == 0 else err


def served(folder: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates((folder / "out" / SERVED).read_bytes())


def line_of(field: str, *, ca: bool = True) -> int:
    text = https(ca=ca)
    return text[: text.index(f"  {field}:")].count("\n") + 1


def live(folder: Path, **kwargs: object) -> dict[str, tuple[Status, str, str | None]]:
    answers = loads(https(ca=(folder / "ca.crt").exists())).answers
    return {
        r.check: (r.status, r.message, r.field_path)
        for r in tls.check(answers, folder, **kwargs)  # type: ignore[arg-type]
    }


def leaf_only(folder: Path, ca: Ca) -> None:
    cert, key = ca.issue(["registry.example.com"])
    (folder / "server.crt").write_bytes(pem(cert))
    (folder / "server.key").write_bytes(_pem_key(key))
    (folder / "ca.crt").write_bytes(pem(ca.root.cert))


def test_leaf_and_intermediate_are_served_in_order_and_openssl_verifies_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intermediate = write_tls(tmp_path)
    given = x509.load_pem_x509_certificates((tmp_path / "server.crt").read_bytes())
    assert render(tmp_path, capsys) == ""
    assert served(tmp_path) == given == [given[0], intermediate.cert]
    if shutil.which("openssl"):  # the real verifier, trusting the root only
        crt = tmp_path / "out" / SERVED
        result = subprocess.run(
            ["openssl", "verify", "-CAfile", tmp_path / "ca.crt", "-untrusted", crt, crt],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    status, message, _ = live(tmp_path)["tls.chain"]
    assert status is Status.OK
    assert message == (
        "the chain is complete: the certificate and 1 intermediate(s), up to 'CN=Test CA' of tls.ca"
    )


def test_a_bundle_out_of_order_with_its_root_is_ordered_and_the_root_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Ca.create("Root CA")
    upper = root.intermediate("Upper CA")
    lower = upper.intermediate("Lower CA")
    write_tls(tmp_path, ca=lower)
    leaf = x509.load_pem_x509_certificates((tmp_path / "server.crt").read_bytes())[0]
    (tmp_path / "server.crt").write_bytes(pem(upper.cert, root.cert, leaf, lower.cert))
    assert render(tmp_path, capsys) == ""
    assert served(tmp_path) == [leaf, lower.cert, upper.cert]


def test_a_missing_intermediate_is_refused_naming_it_the_file_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaf_only(tmp_path, Ca.create().intermediate())
    err = render(tmp_path, capsys)
    crt, ca = tmp_path / "server.crt", tmp_path / "ca.crt"
    message = (
        "tls.certificate: the chain is incomplete: 'CN=registry.example.com' was signed by "
        f"'CN=Test Intermediate CA', which is in neither {crt} nor tls.ca ({ca}), which "
        f"holds 'CN=Test CA': append the intermediate certificate(s) your CA sent to {crt}, "
        "after the server certificate, each followed by the one that signed it; or, if "
        "'CN=Test Intermediate CA' is the CA that issued it, give that CA's certificate as "
        "tls.ca"
    )
    assert f"answers.yaml:{line_of('certificate')}: {message}" in err
    status, text, field = live(tmp_path)["tls.chain"]
    assert (status, field) == (Status.ERROR, "tls.certificate")
    assert f"'CN=Test Intermediate CA', which is in neither {crt} nor tls.ca" in text


def test_a_missing_upper_intermediate_is_named_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upper = Ca.create().intermediate("Upper CA")
    lower = upper.intermediate("Lower CA")
    write_tls(tmp_path, ca=lower)
    leaf = x509.load_pem_x509_certificates((tmp_path / "server.crt").read_bytes())[0]
    (tmp_path / "server.crt").write_bytes(pem(leaf, lower.cert))
    err = render(tmp_path, capsys)
    assert "'CN=Lower CA' was signed by 'CN=Upper CA', which is in neither" in err


def test_a_leaf_signed_by_the_root_alone_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Ca.create()
    leaf_only(tmp_path, root)
    assert render(tmp_path, capsys) == ""
    assert served(tmp_path) == x509.load_pem_x509_certificates(
        (tmp_path / "server.crt").read_bytes()
    )
    assert live(tmp_path)["tls.chain"][:2] == (
        Status.OK,
        "the chain is complete: the certificate and 0 intermediate(s), up to 'CN=Test CA' "
        "of tls.ca",
    )


def test_an_intermediate_given_in_tls_ca_is_served_after_the_leaf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CA's "CA bundle" (intermediate and root) as tls.ca, the leaf alone as the
    certificate: clients that trust only the root still get the intermediate."""
    intermediate = Ca.create().intermediate()
    leaf_only(tmp_path, intermediate)
    (tmp_path / "ca.crt").write_bytes(pem(intermediate.cert, intermediate.root.cert))
    assert render(tmp_path, capsys) == ""
    assert [c.subject for c in served(tmp_path)][1:] == [intermediate.cert.subject]
    ca_crt = tmp_path / "out/harbor01/opt/harbor/ha/ca.crt"
    assert len(x509.load_pem_x509_certificates(ca_crt.read_bytes())) == 2  # all of tls.ca


def test_without_tls_ca_the_chain_must_reach_a_public_root(tmp_path: Path) -> None:
    intermediate = write_tls(tmp_path)
    (tmp_path / "ca.crt").unlink()
    status, message, field = live(tmp_path)["tls.chain"]  # this machine's store
    assert (status, field) == (Status.ERROR, "tls.certificate")
    assert "'CN=Test Intermediate CA' was signed by 'CN=Test CA', which is in neither" in message
    assert "nor this machine's public root CAs" in message
    assert "if 'CN=Test CA' is a private root CA, give its certificate as tls.ca" in message
    public = [intermediate.root.cert]  # as if Test CA were in the store
    status, message, _ = live(tmp_path, roots=public)["tls.chain"]
    assert status is Status.OK
    assert message.endswith("up to 'CN=Test CA' (a public root)")


def test_a_root_in_the_bundle_without_tls_ca_must_be_given_as_tls_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intermediate = write_tls(tmp_path)
    with (tmp_path / "server.crt").open("ab") as bundle:
        bundle.write(pem(intermediate.root.cert))
    err = render(tmp_path, capsys, ca=False)
    assert (
        f":{line_of('certificate', ca=False)}: tls.certificate: the chain in "
        f"{tmp_path / 'server.crt'} ends at the root 'CN=Test CA', which is not in this "
        "machine's public root CAs: give that root's certificate as tls.ca"
    ) in err
    assert render(tmp_path, capsys) == ""  # with tls.ca: the root, once more, is left out
    assert len(served(tmp_path)) == 2


def test_a_self_signed_certificate_is_refused_unless_given_as_tls_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = Ca.create("registry.example.com")  # CN as its only name: covers() falls back to it
    (tmp_path / "server.crt").write_bytes(pem(own.cert))
    (tmp_path / "server.key").write_bytes(_pem_key(own.key))
    err = render(tmp_path, capsys, ca=False)
    assert "holds the self-signed certificate 'CN=registry.example.com'" in err
    assert "give the same file as tls.ca" in err
    shutil.copy(tmp_path / "server.crt", tmp_path / "ca.crt")
    assert render(tmp_path, capsys) == ""
    assert served(tmp_path) == [own.cert]


def test_certificates_of_another_chain_are_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tls(tmp_path)
    other, _ = Ca.create("Other CA").issue(["old.example.com"])
    with (tmp_path / "server.crt").open("ab") as bundle:
        bundle.write(pem(other))
    err = render(tmp_path, capsys)
    assert f"tls.certificate: {tmp_path / 'server.crt'} holds 3 certificates that are not " in err
    assert "(it begins at: 'CN=registry.example.com', 'CN=old.example.com')" in err


def test_an_expired_intermediate_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = Ca.create().intermediate(
        not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=2)
    )
    write_tls(tmp_path, ca=stale, not_before=NOW - dt.timedelta(days=300))
    err = render(tmp_path, capsys)
    assert (
        f"tls.certificate: 'CN=Test Intermediate CA' in {tmp_path / 'server.crt'} is not valid "
        "today"
    ) in err


def test_the_system_store_is_read() -> None:
    """Debian's ca-certificates (tests/run.sh installs it) is where public roots come from."""
    roots = certs.system_roots()
    assert len(roots) > 50
    assert all(certs.self_signed(r) for r in roots[:5])
