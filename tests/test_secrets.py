"""Secrets: the documented order, the 0600 rule, keyring with and without a backend."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harbor_wizard import redact
from harbor_wizard.answers import InvalidInput, loads
from harbor_wizard.cli import main
from harbor_wizard.secrets import (
    KeyringStore,
    SecretResolver,
    SecretsFile,
    env_name,
    secret_paths,
)
from tests.support.deployment import ANSWERS, SECRETS, render_args, write_deployment, write_secrets

FAIL_BACKEND = "keyring.backends.fail.Keyring"


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine has no keyring backend; make that explicit for every test here."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FAIL_BACKEND)
    for name in list(os.environ):
        if name.startswith("HARBOR_WIZARD_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def forget_secrets() -> Iterator[None]:
    """Values such as `true` or `0123` stay registered for the whole worker otherwise, and
    mask those words in the next tests' output (the schema's `true`, for one)."""
    yield
    redact.forget_all()


def test_env_names_follow_the_field_path() -> None:
    assert env_name("database.password") == "HARBOR_WIZARD_DATABASE_PASSWORD"
    assert env_name("load_balancer.auth_pass") == "HARBOR_WIZARD_LOAD_BALANCER_AUTH_PASS"
    assert env_name("storage.config.secretkey") == "HARBOR_WIZARD_STORAGE_CONFIG_SECRETKEY"


def test_secret_paths_of_a_deployment() -> None:
    answers = loads(ANSWERS).answers
    assert secret_paths(answers) == [
        "harbor.admin_password",
        "load_balancer.auth_pass",
        "database.password",
        "clair_database.password",
    ]


def test_order_file_then_environment(tmp_path: Path) -> None:
    secrets = write_secrets(tmp_path / "s.yaml", {"database.password": "from-file"})
    resolver = SecretResolver(
        "d",
        secrets_file=secrets,
        environ={
            "HARBOR_WIZARD_DATABASE_PASSWORD": "from-env",
            "HARBOR_WIZARD_HARBOR_ADMIN_PASSWORD": "env-admin",
        },
    )
    found = resolver.resolve(["database.password", "harbor.admin_password"], interactive=False)
    assert found["database.password"].get_secret_value() == "from-file"
    assert found["harbor.admin_password"].get_secret_value() == "env-admin"
    assert str(resolver.origins["harbor.admin_password"]) == (
        "environment HARBOR_WIZARD_HARBOR_ADMIN_PASSWORD"
    )


def test_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    secrets = write_secrets(tmp_path / "s.yaml", SECRETS)
    secrets.chmod(0o644)
    with pytest.raises(InvalidInput) as caught:
        SecretResolver("d", secrets_file=secrets)
    assert "chmod 600" in str(caught.value)


def test_missing_secrets_listed_at_once_with_how_to_give_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(tmp_path, secrets={"database.password": "db-Pw-123"})
    assert main(["check", "--answers", str(answers), "--secrets", str(secrets)]) == 2
    err = capsys.readouterr().err
    for path in ("harbor.admin_password", "load_balancer.auth_pass", "clair_database.password"):
        assert f"{path}: missing secret" in err
        assert env_name(path) in err
    assert "service harbor-wizard/harbor-test" in err
    assert "  database.password: missing" not in err


def test_prompt_only_when_allowed(tmp_path: Path) -> None:
    asked: list[str] = []

    def prompt(path: str) -> str:
        asked.append(path)
        return "typed-Secret1"

    resolver = SecretResolver("d", environ={}, prompt=prompt)
    with pytest.raises(InvalidInput):
        resolver.resolve(["database.password"], interactive=False)
    assert asked == []
    found = resolver.resolve(["database.password"], interactive=True)
    assert found["database.password"].get_secret_value() == "typed-Secret1"
    assert asked == ["database.password"]


def test_no_keyring_falls_back_to_a_0600_file_and_says_so_once(tmp_path: Path) -> None:
    told: list[str] = []
    sidecar = tmp_path / "answers.secrets.yaml"
    resolver = SecretResolver("d", sidecar=sidecar, environ={}, notify=told.append)
    assert not resolver.keyring.available()
    resolver.store("generated.secretkey", "A" * 16)
    resolver.store("generated.other", "B" * 16)
    assert len(told) == 1
    assert "No usable system keyring" in told[0]
    assert str(sidecar) in told[0]
    assert (sidecar.stat().st_mode & 0o777) == 0o600
    again = SecretResolver("d", sidecar=sidecar, environ={})
    assert again.find("generated.secretkey") == "A" * 16


def test_render_generates_shared_files_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(tmp_path)
    assert main(render_args(answers, secrets, tmp_path / "one")) == 0
    told = capsys.readouterr().err
    assert "Generated this deployment's shared generated.token_private_key" in told
    assert f"kept in secrets file {secrets}" in told
    text = secrets.read_text()
    assert "generated.token_private_key" in text
    assert "generated.secretkey" in text
    assert (secrets.stat().st_mode & 0o777) == 0o600
    assert main(render_args(answers, secrets, tmp_path / "two")) == 0
    assert secrets.read_text() == text
    assert "Generated" not in capsys.readouterr().err


def test_redaction_hides_registered_values() -> None:
    redact.register("s3cr3t-value\nsecond-line-of-it")
    assert redact.redact("a s3cr3t-value b second-line-of-it") == "a ******** b ********"


def test_no_secret_in_any_output_or_written_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(tmp_path)
    out_dir = tmp_path / "out"
    assert main(render_args(answers, secrets, out_dir)) == 0
    from harbor_wizard.answers import load

    load(answers).save(tmp_path / "saved.yaml")
    printed = capsys.readouterr()
    written = (tmp_path / "saved.yaml").read_text() + answers.read_text()
    for value in SECRETS.values():
        assert value not in printed.out + printed.err
        assert value not in written


def test_real_secret_service_round_trip(tmp_path: Path) -> None:
    """keyring's SecretService backend under a private D-Bus session with gnome-keyring."""
    script = (
        "import sys\n"
        "from harbor_wizard.secrets import KeyringStore\n"
        "store = KeyringStore('lab-deploy')\n"
        "assert store.available(), store.reason\n"
        "store.set('database.password', 'kr-Secret-1')\n"
        "print(KeyringStore('lab-deploy').get('database.password'))\n"
        "print(KeyringStore('other-deploy').get('database.password'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env["HOME"] = str(tmp_path)
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    command = (
        "echo -n unlock-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; "
        f'exec {sys.executable} -c "$SCRIPT"'
    )
    env["SCRIPT"] = script
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["kr-Secret-1", "None"]


def test_keyring_store_refuses_the_failing_backend() -> None:
    store = KeyringStore("x")
    assert not store.available()
    assert "fail" in store.reason.lower()


# --- secrets are used exactly as written (no YAML 1.1 / 1.2 coercion) ----------------------

AS_WRITTEN = [
    "0123",
    "0x1F",
    "0o17",
    "017",
    "0b101",
    "true",
    "True",
    "yes",
    "No",
    "on",
    "1e3",
    "12.50",
    "+12",
    ".inf",
    "-.Inf",
    ".nan",
    "~",
    "null",
    "1_000",
    "1:20",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "=",
]


@pytest.mark.parametrize("written", AS_WRITTEN)
@pytest.mark.parametrize("version", ["", "%YAML 1.1\n---\n"])
def test_secret_is_used_exactly_as_written(written: str, version: str, tmp_path: Path) -> None:
    secrets = tmp_path / "s.yaml"
    secrets.write_text(f"{version}database.password: {written}\nclair_database.password:\n")
    secrets.chmod(0o600)
    assert SecretsFile.read(secrets).values == {
        "database.password": written,
        "clair_database.password": "",  # nothing written: empty (then refused), never None
    }
    if len(written) >= 3:
        resolver = SecretResolver("d", secrets_file=secrets, environ={})
        found = resolver.resolve(["database.password"], interactive=False)
        assert found["database.password"].get_secret_value() == written


def test_rendered_password_is_the_one_written(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)
    text = secrets.read_text()
    secrets.write_text(
        text.replace('database.password: "db-Secret-91xq"', "database.password: 0123")
        .replace('harbor.admin_password: "Adm1n-Passw0rd-x7"', "harbor.admin_password: 0x1F")
        .replace('load_balancer.auth_pass: "vr7pq2ab"', "load_balancer.auth_pass: true")
    )
    assert main(render_args(answers, secrets, tmp_path / "out")) == 0
    cfg = (tmp_path / "out/harbor01/opt/harbor/harbor.cfg").read_text()
    assert "\ndb_password = 0123\n" in cfg
    assert "\nharbor_admin_password = 0x1F\n" in cfg
    conf = (tmp_path / "out/lb01/etc/keepalived/keepalived.conf").read_text()
    assert "auth_pass true\n" in conf
    # The generated values were added to the file; the written ones still read the same.
    again = SecretResolver("d", secrets_file=secrets, environ={})
    assert again.find("database.password") == "0123"
    assert again.find("harbor.admin_password") == "0x1F"
    assert again.find("load_balancer.auth_pass") == "true"


def test_environment_values_are_used_as_given() -> None:
    resolver = SecretResolver("d", environ={"HARBOR_WIZARD_DATABASE_PASSWORD": "0123"})
    found = resolver.resolve(["database.password"], interactive=False)
    assert found["database.password"].get_secret_value() == "0123"


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("!!int 0123", "remove the tag"),
        ("!!binary aGVsbG8=", "remove the tag"),
        ("[a, b]", "one value"),
        ("{a: b}", "one value"),
    ],
)
def test_secret_that_is_not_text_is_refused_with_its_line(
    written: str, words: str, tmp_path: Path
) -> None:
    secrets = tmp_path / "s.yaml"
    secrets.write_text(f"# secrets\ndatabase.password: {written}\n")
    secrets.chmod(0o600)
    with pytest.raises(InvalidInput) as caught:
        SecretResolver("d", secrets_file=secrets, environ={})
    problem = caught.value.problems[0]
    assert (problem.source, problem.line, problem.path) == (str(secrets), 2, "database.password")
    assert words in problem.message


# --- no secret in any message --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            'harbor.admin_password: "Adm1n-Passw0rd-x7"\ndatabase.password: db-Secret-91xq\n'
            "database.password: db-Secret-91xq-other\n",
            3,
            "duplicate key",
        ),
        (
            'harbor.admin_password: "Adm1n-Passw0rd-x7\ndatabase.password: db-Secret-91xq\n',
            1,
            "quote is not closed",
        ),
        (
            "harbor.admin_password: 'Adm1n-Passw0rd-x7\ndatabase.password: db-Secret-91xq\n",
            1,
            "quote is not closed",
        ),
        (
            "harbor.admin_password: Adm1n-Passw0rd-x7\n\tdatabase.password: db-Secret-91xq\n",
            2,
            "tab",
        ),
        (
            'harbor.admin_password: "Adm1n-Passw0rd-x7\\q"\n',
            1,
            "single quotes",
        ),
    ],
    ids=["duplicate key", "unclosed double quote", "unclosed single quote", "tab", "escape"],
)
def test_secrets_file_errors_name_file_line_and_kind_never_the_text(
    text: str, line: int, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = write_deployment(tmp_path)
    secrets.write_text(text)
    assert main(render_args(answers, secrets, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert f"{secrets}:{line}: " in err
    assert words in err
    for secret in ("Adm1n", "Passw0rd", "db-Secret", "91xq", "other"):
        assert secret not in err


def test_numeric_password_in_the_answers_file_is_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ANSWERS.replace(
        "  user: root\n  password: <secret>", "  user: root\n  password: 987654321"
    )
    assert "987654321" in text
    answers, secrets = write_deployment(tmp_path, text)
    assert main(render_args(answers, secrets, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "987654321" not in err
    assert f"{answers}:33: database.password: secret values never go into the answers file" in err


@pytest.mark.parametrize("value", ["a", "ab"])
def test_one_or_two_character_secrets_are_refused(value: str) -> None:
    """They could not be masked in free text without masking ordinary words and numbers."""
    resolver = SecretResolver("d", environ={"HARBOR_WIZARD_LOAD_BALANCER_AUTH_PASS": value})
    with pytest.raises(InvalidInput) as caught:
        resolver.resolve(["load_balancer.auth_pass"], interactive=False)
    assert "at least 3 characters" in str(caught.value)
    assert f" {value} " not in str(caught.value)
