"""Secrets masked by field: a dry run's diff hides what the host holds now (values this run
never resolved, of any length) as well as the new values; the JSON log is masked before it
is serialised; fingerprints of secret files are root-only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import SecretStr

from harbor_wizard import redact
from harbor_wizard.answers import loads
from harbor_wizard.artefacts import SharedArtefacts
from harbor_wizard.events import Outcome, StepFinished
from harbor_wizard.inputs import Inputs
from harbor_wizard.jsonlog import JsonLog
from harbor_wizard.render import RenderedFile, render
from harbor_wizard.steps.base import StepContext
from harbor_wizard.steps.files import PutFile
from tests.support.deployment import ANSWERS, SECRETS

ARTEFACTS = SharedArtefacts("-----KEY-----\n", "-----CERT-----\n", "0123456789abcdef")


@pytest.fixture(autouse=True)
def fresh_redaction() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def rendered(secrets: dict[str, str] | None = None) -> dict[tuple[str, str], RenderedFile]:
    values = {k: SecretStr(v) for k, v in (secrets or SECRETS).items()}
    files = render(loads(ANSWERS).answers, values, ARTEFACTS)
    return {(f.host, str(f.path)): f for f in files}


def diff(file: RenderedFile, current: str) -> str:
    ctx = StepContext(host=file.host, inputs=cast(Inputs, None), dry_run=True)
    return PutFile(file)._diff(ctx, current)


OLD = {
    "harbor.admin_password": "Old-Admin-Pw-7",
    "database.password": "x",  # one character: never registered for redaction
    "clair_database.password": "q9",
    "load_balancer.auth_pass": "z",
}


def test_rendered_files_name_their_secret_keys() -> None:
    files = rendered()
    cfg = files[("harbor01", "/opt/harbor/harbor.cfg")]
    assert {"db_password", "harbor_admin_password", "clair_db_password"} <= cfg.secret_keys
    assert "auth_pass" in files[("lb01", "/etc/keepalived/keepalived.conf")].secret_keys
    assert not files[("lb01", "/etc/haproxy/haproxy.cfg")].secret_keys


def test_diff_hides_the_hosts_current_passwords_and_the_new_ones() -> None:
    files = rendered()
    cfg = files[("harbor01", "/opt/harbor/harbor.cfg")]
    old = rendered(OLD)[("harbor01", "/opt/harbor/harbor.cfg")].content
    # A hand-edited host: an SMTP password set, a continued value, an upper-case key.
    old = old.replace("email_password = abc", "email_password = smtp-Pw-31\n  continued-Pw-32")
    old = old.replace("db_password = x", "DB_PASSWORD: x")
    shown = diff(cfg, old)
    assert shown
    for value in [*OLD.values(), *SECRETS.values(), "smtp-Pw-31", "continued-Pw-32"]:
        assert not re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", shown), value
    assert "harbor_admin_password = ********" in shown
    changed = [line for line in shown.splitlines() if line.startswith(("-", "+"))]
    assert any("db_password" in line.lower() for line in changed)


def test_a_password_change_shows_as_a_changed_line_without_either_value() -> None:
    files = rendered()
    cfg = files[("harbor01", "/opt/harbor/harbor.cfg")]
    old = cfg.content.replace(f"db_password = {SECRETS['database.password']}", "db_password = ab")
    shown = diff(cfg, old)
    assert "-db_password = ********\n" in shown
    assert "+db_password = ******** (changed)\n" in shown
    assert " ab\n" not in shown
    assert SECRETS["database.password"] not in shown


def test_keepalived_auth_pass_of_any_length_is_hidden_wherever_it_is_on_the_line() -> None:
    conf = rendered()[("lb01", "/etc/keepalived/keepalived.conf")]
    old = re.sub(r"authentication \{.*?\}", "authentication { auth_type PASS auth_pass z }",
                 conf.content, flags=re.S)  # fmt: skip
    shown = diff(conf, old)
    assert "auth_pass z" not in shown
    assert "auth_pass ********" in shown
    assert SECRETS["load_balancer.auth_pass"] not in shown


def test_secret_files_without_keys_are_never_shown() -> None:
    key = rendered()[("harbor01", "/opt/harbor/ha/private_key.pem")]
    assert "not shown" in diff(key, "-----OLD KEY-----\n")


def test_json_log_is_masked_before_it_is_serialised(tmp_path: Path) -> None:
    """json.dumps escapes quotes, backslashes and non-ASCII: masking its output misses them."""
    secret = 'qu"o\\té-9x'
    redact.register(secret)
    log = JsonLog(tmp_path / "run.jsonl")
    log(
        StepFinished(phase="p", host="h", step="s", outcome=Outcome.FAILED, seconds=1.0,
                     message=f"failed with {secret}", diff=f"+{secret}\n")
    )  # fmt: skip
    log.close()
    entry = json.loads((tmp_path / "run.jsonl").read_text())
    assert secret not in entry["message"]
    assert secret not in entry["diff"]
    assert entry["message"] == "failed with ********"
    assert (tmp_path / "run.jsonl").stat().st_mode & 0o777 == 0o600


def test_service_fingerprint_of_a_secret_config_is_root_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """keepalived.sha256 is the digest of a file holding auth_pass (8 characters at most):
    readable by all, it would let anyone on the LB test guesses offline."""
    from harbor_wizard.steps import system

    modes: list[int] = []

    def run(*args: Any, **kwargs: Any) -> Any:
        return SimpleNamespace(ok=True, stdout="0" * 64 + "\n", code=0, tail=lambda: "")

    def write_file(*args: Any, mode: int = 0o644, **kwargs: Any) -> Any:
        modes.append(mode)
        return run()

    monkeypatch.setattr(system.remote, "run", run)
    monkeypatch.setattr(system.remote, "write_file", write_file)
    service = system.Service("keepalived", [system.PurePosixPath("/etc/keepalived/x.conf")])
    ctx = StepContext(host="lb01", inputs=cast(Inputs, None), connection=cast(Any, object()))
    service.apply(ctx, system.Change("reload"))
    assert modes == [0o600]
