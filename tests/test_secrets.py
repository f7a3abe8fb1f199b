"""Secrets: the documented order, the 0600 rule, keyring with and without a backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harbor_wizard import redact
from harbor_wizard.answers import InvalidInput, loads
from harbor_wizard.cli import main
from harbor_wizard.secrets import KeyringStore, SecretResolver, env_name, secret_paths
from tests.support.deployment import ANSWERS, SECRETS, render_args, write_deployment, write_secrets

FAIL_BACKEND = "keyring.backends.fail.Keyring"


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine has no keyring backend; make that explicit for every test here."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FAIL_BACKEND)
    for name in list(os.environ):
        if name.startswith("HARBOR_WIZARD_"):
            monkeypatch.delenv(name)


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


def test_render_generates_shared_files_once(tmp_path: Path) -> None:
    answers, secrets = write_deployment(tmp_path)
    assert main(render_args(answers, secrets, tmp_path / "one")) == 0
    text = secrets.read_text()
    assert "generated.token_private_key" in text
    assert "generated.secretkey" in text
    assert (secrets.stat().st_mode & 0o777) == 0o600
    assert main(render_args(answers, secrets, tmp_path / "two")) == 0
    assert secrets.read_text() == text


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
