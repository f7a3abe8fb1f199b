"""The loader's words: what is wrong, where (field and line), and a value that would be right;
never pydantic's wording, a regular expression or `type=`. Rules between fields are also
reported when another field of the file is wrong."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from harbor_wizard.answers.messages import FIELDS, generic
from harbor_wizard.answers.model import Answers
from harbor_wizard.cli import main
from harbor_wizard.views.draft import Draft
from tests.answers.test_rules import Bad
from tests.support.deployment import ANSWERS, write_deployment

VALIDATOR_WORDS = ("String should", "Input should", "List should", "type=", "input_value")
REGEX = re.compile(r"\\[dswDSW.]|\[[^\]\s]*-[^\]\s]*\][*+?{]|\(\?[:=!<P]|\^\[|\{\d+,\d*\}")


def operator_words(text: str) -> None:
    """Fails on validator wording or anything that looks like a regular expression."""
    for words in VALIDATOR_WORDS:
        assert words not in text, text
    assert not REGEX.search(text), text


CASES = {
    "redis endpoint without a port": (
        Bad('["198.51.100.32:6379"]', '["no-port"]', "redis.endpoints[0]", at="endpoints:"),
        "'no-port' is not host:port",
        "e.g. redis.example.com:6379",
    ),
    "no redis endpoint": (
        Bad('["198.51.100.32:6379"]', "[]", "redis.endpoints", at="endpoints:"),
        "is required: the Redis server as host:port",
        "e.g. redis.example.com:6379",
    ),
    "harbor version 1.5": (
        Bad('version: "1.4.0"', 'version: "1.5.0"', "harbor.version"),
        "is not a Harbor release this tool installs",
        "e.g. 1.4.0",
    ),
    "vip not an address": (
        Bad("vip: 198.51.100.100", "vip: 198.51.100.300", "vip"),
        "must be an IPv4 address",
        "e.g. 192.0.2.220",
    ),
    "port out of range": (
        Bad("  port: 3306\n", "  port: 70000\n", "database.port"),
        "must be a port number from 1 to 65535",
        "e.g. 3306",
    ),
    "protocol ftp": (
        Bad("protocol: http\n", "protocol: ftp\n", "harbor.protocol"),
        "must be http or https",
        "e.g. https",
    ),
    "with_clair not a boolean": (
        Bad("with_clair: true\n", "with_clair: maybe\n", "harbor.with_clair"),
        "must be true or false",
        "e.g. false",
    ),
    "priority not a number": (
        Bad("priority: 90}", "priority: high}", "load_balancer.nodes[1].priority"),
        "must be a whole number from 1 to 254",
        "e.g. 100",
    ),
    "one harbor node": (
        Bad(
            "  - {name: harbor02, address: 198.51.100.22}\n"
            "  - {name: harbor03, address: 198.51.100.23}\n",
            "",
            "harbor_nodes",
            at="harbor_nodes:",
        ),
        "at least 2 Harbor nodes are needed, found 1",
        "e.g. harbor02 at 192.0.2.22",
    ),
    "storage setting name": (
        Bad(
            "provider: filesystem\n  config: {}",
            "provider: filesystem\n  config: {Root-Dir: /storage}",
            "storage.config.Root-Dir",
            at="config:",
        ),
        "'Root-Dir' is not a storage setting name",
        "e.g. rootdirectory",
    ),
    "missing hostname": (
        Bad("  hostname: registry.example.com\n", "", "harbor.hostname", at="harbor:"),
        "is required: the address clients use",
        "e.g. registry.example.com",
    ),
    "empty installer": (
        Bad(
            "installer: ./harbor-offline-installer-v1.4.0.tgz",
            'installer: ""',
            "harbor.installer",
        ),
        "is required: the Harbor offline installer",
        "e.g. ./harbor-offline-installer-v1.4.0.tgz",
    ),
    "node list entry not a mapping": (
        Bad("  - {name: harbor03, address: 198.51.100.23}\n", "  - harbor03\n", "harbor_nodes[2]"),
        "must be a mapping with name and address",
        "e.g. {name: harbor01, address: 192.0.2.21}",
    ),
}


def run(folder: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The unattended path (`--answers FILE --dry-run`): refused with exit 2."""
    answers, secrets = write_deployment(folder, text)
    code = main(["--answers", str(answers), "--secrets", str(secrets), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2, err
    return err, str(answers)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_unattended_says_what_is_wrong_with_an_example(
    case: tuple[Bad, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad, what, example = case
    err, path = run(tmp_path, bad.text(), capsys)
    line = next(line for line in err.splitlines() if f"{path}:{bad.line()}: {bad.field}: " in line)
    assert what in line, err
    assert example in line, err
    operator_words(err)


def test_rules_between_fields_are_reported_beside_another_mistake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pydantic alone holds rules back until every field is valid: not so here."""
    text = (
        ANSWERS.replace("name: harbor-test\n", "")
        .replace("address: 198.51.100.23}", "address: 198.51.100.21}")
        .replace("address: 198.51.100.12,", "address: 198.51.101.12,")
    )
    err, path = run(tmp_path, text, capsys)
    lines = text.splitlines()
    node3 = next(i for i, n in enumerate(lines, 1) if "harbor03" in n)
    lb2 = next(i for i, n in enumerate(lines, 1) if "lb02" in n)
    assert f"{path}:2: name: is required: a name for this deployment" in err  # its mapping
    assert f"{path}:{node3}: harbor_nodes[2].address: 198.51.100.21 is also Harbor node 1's" in err
    assert (
        f"{path}:{lb2}: load_balancer.nodes[1].address: 198.51.101.12 is not in the VIP's "
        "network 198.51.100.0/24" in err
    )
    operator_words(err)


def test_the_draft_and_the_loader_say_the_same(tmp_path: Path) -> None:
    """One rule, one message: on a complete file (the model's validator) and on a draft
    with an empty field (the same rule function, on the values that are valid)."""
    text = ANSWERS.replace("address: 198.51.100.23}", "address: 198.51.100.21}")
    answers, _ = write_deployment(tmp_path, text)
    from harbor_wizard.answers import InvalidInput, load

    with pytest.raises(InvalidInput) as raised:
        load(answers)
    (loaded,) = [p.message for p in raised.value.problems if p.path == "harbor_nodes[2].address"]
    draft = Draft.from_file(answers)
    draft.set("harbor.hostname", "")
    problems = draft.problems()
    assert problems["harbor_nodes[2].address"] == loaded
    assert problems["harbor.hostname"].startswith("is required")


def _leaf_paths(model: type[BaseModel], prefix: tuple[str | int, ...] = ()) -> list[tuple]:
    found: list[tuple] = []
    for name, field in model.model_fields.items():
        loc = (*prefix, name)
        found.append(loc)
        union = typing.get_origin(field.annotation) in (typing.Union, types.UnionType)
        kinds = list(typing.get_args(field.annotation)) if union else [field.annotation]
        for kind in kinds:
            inner = typing.get_args(kind)
            if typing.get_origin(kind) is list and inner:
                found.append((*loc, 0))
                if isinstance(inner[0], type) and issubclass(inner[0], BaseModel):
                    found += _leaf_paths(inner[0], (*loc, 0))
                continue
            if typing.get_origin(kind) is dict:
                found.append((*loc, "key"))
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found += _leaf_paths(kind, loc)
    return found


def test_every_field_has_words_and_an_example() -> None:
    paths = {generic(loc) for loc in _leaf_paths(Answers)}
    assert paths - set(FIELDS) == set()
    assert set(FIELDS) - paths == set()
    for path, words in FIELDS.items():
        assert words.what, path
        assert words.form, path
        assert words.example or words.secret, path
        operator_words(f"{words.what} {words.form} {words.example}")
