"""The post-install audit: the comparison as a table of cases, then the lab by hand.

In the lab, the HA files harbor-wizard renders are placed on every Harbor node as an
install would leave them; one node's secretkey is then changed by hand, and the audit
must name that node and that file. Everything placed is removed afterwards (the install
tests need fresh nodes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from harbor_wizard.answers import loads
from harbor_wizard.checks import Status
from harbor_wizard.checks.audit import (
    ALL_NODES,
    PUT_BACK,
    audit,
    audited_paths,
    compare,
    expected_sums,
)
from harbor_wizard.cli import main
from harbor_wizard.inputs import Inputs, load_inputs
from harbor_wizard.profiles.harbor_1_4 import (
    DATA_SECRETKEY,
    HARBOR_DIR,
    PROFILE,
    SSL_CERT,
    SSL_KEY,
)
from harbor_wizard.remote import parse_sums
from harbor_wizard.render import RenderedFile
from tests.lab import Lab
from tests.support.deployment import https

CFG = HARBOR_DIR / "harbor.cfg"
KEY = DATA_SECRETKEY
A, B, C = "a" * 64, "b" * 64, "c" * 64


def errors(results: list) -> list[tuple[str, str]]:
    return [(r.target, r.message) for r in results if r.status is Status.ERROR]


# --- the comparison (no lab) -----------------------------------------------------------------


def test_identical_files_are_one_ok_each() -> None:
    sums = {n: {CFG: A, KEY: B} for n in ("n1", "n2", "n3")}
    results = compare(sums, [CFG, KEY])
    assert [(r.status, r.target) for r in results] == [(Status.OK, ALL_NODES)] * 2
    assert results[1].message == f"{KEY}: identical on 3 node(s) (sha256 {B[:12]})"


def test_the_node_that_differs_from_the_majority_is_named() -> None:
    sums = {"n1": {KEY: A}, "n2": {KEY: B}, "n3": {KEY: A}}
    assert errors(compare(sums, [KEY])) == [
        (
            "n2",
            f"n2: {KEY} differs from n1, n3 (sha256 {B[:12]}, the others {A[:12]}): {PUT_BACK}",
        )
    ]


def test_without_a_majority_every_node_is_named() -> None:
    found = errors(compare({"n1": {KEY: A}, "n2": {KEY: B}}, [KEY]))
    assert [target for target, _ in found] == ["n1", "n2"]
    assert "no version is held by a majority" in found[0][1]


def test_the_rendered_file_is_the_reference_when_known() -> None:
    sums = {"n1": {KEY: A}, "n2": {KEY: A}, "n3": {KEY: C}}
    found = errors(compare(sums, [KEY], expected={KEY: C}))
    assert [target for target, _ in found] == ["n1", "n2"]
    assert found[0][1] == (
        f"n1: {KEY} differs from the file harbor-wizard rendered (sha256 {A[:12]}, "
        f"expected {C[:12]}); n3 holds the expected file: {PUT_BACK}"
    )
    assert "run the install again with the same answers file" in PUT_BACK


def test_missing_files() -> None:
    sums = {"n1": {CFG: A, KEY: None}, "n2": {CFG: None, KEY: None}}
    assert errors(compare(sums, [CFG, KEY])) == [
        ("n2", f"n2: {CFG} is missing (present on n1): {PUT_BACK}"),
        (ALL_NODES, f"{KEY} is missing on every node (n1, n2): is Harbor installed with "
         "harbor-wizard?"),
    ]  # fmt: skip


def test_with_https_the_certificates_and_their_copies_are_audited() -> None:
    answers = loads(https()).answers
    paths = audited_paths(answers)
    assert {SSL_CERT, SSL_KEY, HARBOR_DIR / "ha" / "server.crt"} <= set(paths)
    rendered = [
        RenderedFile.of("n1", PROFILE.entry(HARBOR_DIR / "ha" / "server.crt"), "cert"),
        RenderedFile.of("n1", PROFILE.entry(HARBOR_DIR / "ha" / "secretkey"), "0123456789abcdef"),
    ]
    expected = expected_sums(rendered, paths)
    assert expected[SSL_CERT] == expected[HARBOR_DIR / "ha" / "server.crt"]
    assert expected[DATA_SECRETKEY] == hashlib.sha256(b"0123456789abcdef").hexdigest()
    assert SSL_KEY not in expected


def test_sha256sum_output() -> None:
    text = f"{A}  {CFG}\n{B}  /data/secretkey\n"
    assert parse_sums(text, [CFG, KEY, PurePosixPath("/x")]) == {
        CFG: A,
        KEY: B,
        PurePosixPath("/x"): None,
    }


# --- the lab -------------------------------------------------------------------------------


@pytest.fixture
def installed(lab: Lab, tmp_path: Path) -> Iterator[tuple[Inputs, Path, Path]]:
    """The rendered HA files and harbor.cfg on every lab Harbor node, as prepare leaves them."""
    answers, secrets = lab.write_answers(tmp_path)
    inputs = load_inputs(answers, secrets)
    nodes = [h.name for h in lab.harbor_nodes]
    try:
        for rendered in inputs.render():
            if rendered.host in nodes and str(rendered.path).startswith(str(HARBOR_DIR)):
                _place(lab, rendered.host, str(rendered.path), rendered.content)
                if rendered.path.name == "secretkey":
                    _place(lab, rendered.host, str(DATA_SECRETKEY), rendered.content)
        yield inputs, answers, secrets
    finally:
        for node in nodes:
            lab[node].run(f"rm -rf {HARBOR_DIR}")
            lab.reset_harbor_node(node)


def _place(lab: Lab, host: str, path: str, content: str) -> None:
    target = lab[host].path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    target.chmod(0o600)


def test_the_audit_names_the_node_whose_secretkey_was_changed(
    lab: Lab, installed: tuple[Inputs, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, answers, secrets = installed
    base_dir = inputs.document.base_dir
    clean = audit(inputs.answers, base_dir, rendered=inputs.render())
    assert errors(clean) == []
    assert len(clean) == len(audited_paths(inputs.answers)) == 5

    lab["harbor02"].path(str(DATA_SECRETKEY)).write_text("ChangedByHand123")
    for rendered in (inputs.render(), ()):  # against the rendered files, and by majority
        found = errors(audit(inputs.answers, base_dir, rendered=rendered))
        assert [target for target, _ in found] == ["harbor02"]
        assert found[0][1].startswith("harbor02: /data/secretkey differs from ")

    assert main(["audit", "--answers", str(answers), "--secrets", str(secrets)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    # The host column names the node; the message says it once.
    assert "harbor02 audit error /data/secretkey differs from the file harbor-wizard" in out
    assert "ChangedByHand123" not in out
    assert inputs.artefacts.secretkey not in out
