"""The answers file on disk: byte-identical round trip, schema, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harbor_wizard.answers import InvalidInput, answers_schema, load, loads
from harbor_wizard.answers.document import SCHEMA_FILE, SCHEMA_HEADER, from_answers
from harbor_wizard.cli import main
from tests.support.deployment import ANSWERS

HAND_WRITTEN = """\
# Registry for the build farm. Owner: platform team (#platform on chat).
version: 1
name: build-farm   # keyring namespace

harbor:
    version: '1.4.0'
    installer: /srv/installers/harbor-offline-installer-v1.4.0.tgz
    hostname: registry.build.example.com
    protocol: http        # TLS terminates on the corporate proxy
    with_clair: false
    admin_password: <secret>
vip: 198.51.100.100

load_balancer:
    mode: lvs-dr
    interface: ens160
    virtual_router_id: 51
    auth_pass: <secret>
    nodes:
    -   name: lb01
        address: 198.51.100.11
        priority: 150     # lb01 holds the VIP
    -   name: lb02
        address: 198.51.100.12
        priority: 100
harbor_nodes:
-   {name: harbor01, address: 198.51.100.21}
-   {name: harbor02, address: 198.51.100.22}
database: {host: db.build.example.com, password: <secret>}
redis:
    endpoints:
    -   "198.51.100.32:6379"
# storage is the NFS export mounted at /data/registry on every node
storage: {provider: filesystem}
"""


@pytest.mark.parametrize("text", [ANSWERS, HAND_WRITTEN], ids=["two-space", "four-space"])
def test_load_then_save_is_byte_identical(text: str, tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_bytes(text.encode())
    document = load(path)
    assert document.dump() == text
    document.save()
    saved = path.read_text()
    # The only addition is the schema header, on files the tool writes.
    assert saved == f"{SCHEMA_HEADER}\n{text}"
    load(path).save()
    assert path.read_text() == saved


def test_edit_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(HAND_WRITTEN)
    document = load(path)
    document.tree["load_balancer"]["nodes"][1]["priority"] = 90
    out = document.dump()
    assert "# lb01 holds the VIP" in out
    assert "# storage is the NFS export" in out
    assert out == HAND_WRITTEN.replace("priority: 100", "priority: 90")


def test_saved_file_points_at_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    document = loads(ANSWERS)
    document.save(path)
    assert path.read_text().splitlines()[0] == SCHEMA_HEADER
    schema = json.loads((tmp_path / SCHEMA_FILE).read_text())
    assert schema == answers_schema()


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "harbor-wizard answers file"
    assert set(schema["required"]) >= {"version", "name", "harbor", "vip", "load_balancer"}
    admin = schema["$defs"]["HarborSettings"]["properties"]["admin_password"]
    assert admin["writeOnly"] is True


def test_new_document_from_answers_round_trips() -> None:
    document = from_answers(loads(ANSWERS).answers)
    again = loads(document.dump())
    assert again.answers == document.answers


def test_not_yaml_names_the_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        loads("version: 1\nname: [unclosed\n", source="a.yaml")
    assert str(caught.value.problems[0]).startswith("a.yaml:3: ")


def test_version_older_or_missing() -> None:
    with pytest.raises(InvalidInput) as caught:
        loads(ANSWERS.replace("version: 1\n", ""), source="a.yaml")
    assert any(p.path == "version" for p in caught.value.problems)
    with pytest.raises(InvalidInput) as caught:
        loads(ANSWERS.replace("version: 1\n", "version: 0\n"), source="a.yaml")
    assert "version: must be 1" in str(caught.value)
