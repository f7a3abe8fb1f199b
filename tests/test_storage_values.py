"""Issue 13 item 7: storage settings survive Harbor 1.4's prepare.

prepare writes `registry_storage_provider_config` unquoted into the registry's config.yml.
These tests render harbor.cfg with the product, run the lab's stand-in prepare (Harbor
1.4.0's own code for this part) with Python 2.7 as a node does, and parse the config.yml
it writes as YAML 1.1 (the registry's Go yaml.v2 is YAML 1.1): what the answers
validation accepts reads back exactly; what it refuses would not, and the refusal names
the field and never the secret.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from harbor_wizard.answers.types import storage_value_problem
from harbor_wizard.cli import main
from tests.lab import find_python2
from tests.lab.installer import SOURCE
from tests.support.deployment import ANSWERS, SECRETS, render_args, write_deployment

SWIFT = "provider: filesystem\n  config: {}"

ACCEPTED = [
    "Sw1ft*pw",
    "a&b!c%d@e`f",
    "pa'ss\"wd",
    "x|y>z<w",
    "p[a]{b}c",
    "a:b",
    "a#b",
    "a-b?c",
    "with inner  spaces",
    "C:\\path\\to",
    "$HOME${x}",
    "100%",
    "key=val",
    "https://auth.example.com:5000/v3",
    "AKIAabc/+xyz==",
    "1.2.3",
    "v1",
    "0x",
    "1a",
    "~user",
    "e-10",
    "x;y",
    "0.0.0.0:5000x",
    "-dash1",
    "?question",
    ":colon1",
]

# Each refused value, and why it must be: prepare or the YAML parse fails, or the value
# comes back as something else.
REFUSED: dict[str, str] = {
    "*Sw1ft-pw": "alias",
    "&anchor1": "anchor",
    "!tagged1": "tag",
    "%directive": "directive",
    "@reserved": "reserved",
    "`reserved": "reserved",
    "- dash": "sequence",
    "-": "sequence",
    "? question": "key",
    "?": "key",
    ":": "value",
    "{flow}": "mapping",
    "[flow]": "sequence",
    "}close": "flow end",
    "]close": "flow end",
    "'quoted'": "quoted",
    '"quoted"': "quoted",
    "|literal": "block",
    ">folded": "block",
    "#comment": "comment",
    "a,b,c": "split",
    "key: value": "mapping",
    "ends:": "mapping",
    "abc #comment": "comment",
    "abc\t#comment": "comment (a tab before '#' too)",
    " leading": "stripped",
    "trailing ": "stripped",
    "pässwört": "encoding",
    "yes": "bool",
    "Off": "bool",
    "null": "null",
    "~": "null",
    "12345678": "int",
    "0755": "octal",
    "0x1F": "int",
    "1_000": "int",
    "1:20": "base 60",
    "3.14": "float",
    ".5": "float",
    ".inf": "float",
    "2024-01-02": "date",
    "<<": "merge",
    "y": "bool (YAML 1.1, Go's yaml.v2)",
    "N": "bool (YAML 1.1, Go's yaml.v2)",
    "1e5": "float (Go's yaml.v2)",
}


@pytest.fixture(scope="module")
def python2() -> str:
    found = find_python2()
    if found is None:
        pytest.fail(
            "no Python 2.7 here: Harbor 1.4's prepare is Python 2 code "
            "(`pyenv install 2.7.18`, or a python2.7 package)",
            pytrace=False,
        )
    return found[0]


def swift_answers(extra: dict[str, Any] | None = None) -> str:
    items = {
        "authurl": "https://auth.example.com/v3",
        "username": "harbor",
        "password": "<secret>",
        "container": "harbor-images",
        **(extra or {}),
    }
    config = ", ".join(f"{key}: {json.dumps(value)}" for key, value in items.items())
    return ANSWERS.replace(SWIFT, f"provider: swift\n  config: {{{config}}}")


def rendered_cfg(folder: Path, answers: str, password: str) -> str:
    """harbor.cfg as the product renders it for the first node."""
    secrets = {**SECRETS, "storage.config.password": password}
    answers_path, secrets_path = write_deployment(folder, answers, secrets)
    assert main(render_args(answers_path, secrets_path, folder / "out")) == 0
    return (folder / "out/harbor01/opt/harbor/harbor.cfg").read_text()


def run_prepare(python2: str, folder: Path, cfg: str) -> subprocess.CompletedProcess[str]:
    """The lab's prepare on `cfg`, as install.sh runs it (--ha, a plain SSH locale)."""
    harbor = folder / "harbor"
    shutil.copytree(SOURCE, harbor)
    for template in ("ui/private_key.pem", "registry/root.crt"):
        (harbor / "common/templates" / template).parent.mkdir(exist_ok=True)
        (harbor / "common/templates" / template).write_text("stand-in\n")
    cfg = re.sub(r"(?m)^secretkey_path = .*$", f"secretkey_path = {folder}", cfg)
    cfg = re.sub(r"(?m)^customize_crt = .*$", "customize_crt = off", cfg)
    (harbor / "harbor.cfg").write_text(cfg)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C", "STANDIN_STATE_DIR": str(folder / "state")}
    return subprocess.run(
        [python2, "./prepare", "--ha"],
        cwd=harbor,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def registry_storage(folder: Path) -> dict[str, Any]:
    """The swift section of the registry's config.yml, read as YAML 1.1."""
    text = (folder / "harbor/common/config/registry/config.yml").read_text()
    data = YAML(typ="safe", pure=True).load("%YAML 1.1\n---\n" + text)
    return dict(data["storage"]["swift"])


def test_accepted_values_reach_the_registry_exactly(python2: str, tmp_path: Path) -> None:
    for value in ACCEPTED:
        assert storage_value_problem(value, secret=True) is None, value
    extra: dict[str, Any] = {f"k{i}": value for i, value in enumerate(ACCEPTED)}
    extra.update(chunksize=5242880, insecureskipverify=True, retries=-1)
    cfg = rendered_cfg(tmp_path / "many", swift_answers(extra), "Sw1ft*pw-secret")
    prepared = run_prepare(python2, tmp_path / "many", cfg)
    assert prepared.returncode == 0, prepared.stderr
    storage = registry_storage(tmp_path / "many")
    assert storage == {
        "authurl": "https://auth.example.com/v3",
        "username": "harbor",
        "password": "Sw1ft*pw-secret",
        "container": "harbor-images",
        **extra,
    }


@pytest.mark.parametrize("secret", ["a&b!c%d@e`f", "pa'ss\"wd:x#y", "$x;y=z|100%"])
def test_accepted_secrets_reach_the_registry_exactly(
    python2: str, tmp_path: Path, secret: str
) -> None:
    prepared = run_prepare(python2, tmp_path, rendered_cfg(tmp_path, swift_answers(), secret))
    assert prepared.returncode == 0, prepared.stderr
    assert registry_storage(tmp_path)["password"] == secret


@pytest.fixture(scope="module")
def placeholder_cfg(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A valid harbor.cfg of a swift deployment, its password a placeholder."""
    return rendered_cfg(tmp_path_factory.mktemp("cfg"), swift_answers(), "placeholder-pw")


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.MantissaNoDotYAML1_1Warning")
@pytest.mark.parametrize("value", list(REFUSED))
def test_refused_values_would_not_survive_prepare(
    python2: str, placeholder_cfg: str, tmp_path: Path, value: str
) -> None:
    problem = storage_value_problem(value, secret=True)
    assert problem is not None
    assert storage_value_problem(value, secret=False) is not None
    if len(value) >= 5:
        assert value not in problem
    # Written anyway (the product refuses it: put into a valid harbor.cfg by hand)
    cfg = placeholder_cfg.replace("password: placeholder-pw", f"password: {value}")
    prepared = run_prepare(python2, tmp_path, cfg)
    if prepared.returncode != 0:  # prepare itself fails (non-ASCII in a C locale)
        assert "UnicodeDecodeError" in prepared.stderr
        return
    try:
        read_back = registry_storage(tmp_path).get("password")
    except Exception:  # the registry would not start: config.yml is no valid YAML
        return
    assert read_back != value, REFUSED[value]


def test_a_swift_password_starting_with_star_is_refused_by_field_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(
        tmp_path, swift_answers(), {**SECRETS, "storage.config.password": "*Sw1ft-pw"}
    )
    assert main(render_args(answers, secrets, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "*Sw1ft-pw" not in err
    line = secrets.read_text().splitlines().index('storage.config.password: "*Sw1ft-pw"') + 1
    assert f"{secrets}:{line}: storage.config.password: starts with a character" in err
    assert "change the password or key, Harbor 1.4 cannot carry it" in err
    assert not (tmp_path / "out").exists()


def test_a_credential_written_into_the_answers_file_is_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(tmp_path, swift_answers({"password": "*Sw1ft-pw"}))
    assert main(render_args(answers, secrets, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "storage.config.password: holds a credential: write '<secret>'" in err
    assert "Sw1ft" not in err
    assert "starts with '*'" not in err  # not even its first character


def test_the_same_password_unquoted_is_an_alias_and_the_message_says_to_quote_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As an operator first writes it: `storage.config.password: *Sw1ft-pw` is a YAML alias."""
    answers, secrets = write_deployment(tmp_path, swift_answers(), SECRETS)
    secrets.write_text(secrets.read_text() + "storage.config.password: *Sw1ft-pw\n")
    assert main(render_args(answers, secrets, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "Sw1ft" not in err
    line = len(secrets.read_text().splitlines())
    assert f"{secrets}:{line}:" in err
    assert "put it in single quotes: key: '*...'" in err
    assert not (tmp_path / "out").exists()


def test_a_plain_setting_that_yaml_would_retype_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(
        tmp_path,
        swift_answers({"tenantid": "0123"}),
        {**SECRETS, "storage.config.password": "Sw1ft-pw"},
    )
    assert main(render_args(answers, secrets, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    line = answers.read_text().splitlines().index("  provider: swift") + 2
    assert f"{answers}:{line}: storage.config.tenantid: would not stay text" in err
    assert "if a number or boolean is meant, write it without quotes" in err
