"""Clair DB authentication: what Harbor 1.4's lib/pq (cleartext and MD5 only) would be asked.

The lab's PostgreSQL 15 runs md5 (what Harbor can speak); `lab.postgres.auth(...)` gives a
test the distribution defaults (password_encryption and the pg_hba.conf line
scram-sha-256) or the trap of an upgraded cluster (a SCRAM verifier behind an `md5` line),
and puts md5 back after. libpq logs in either way: only the start-up exchange tells.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg import sql
from pydantic import SecretStr

from harbor_wizard.answers.model import ClairDatabase
from harbor_wizard.checks import Status, postgres
from harbor_wizard.checks.result import CheckResult
from harbor_wizard.cli import main
from tests.lab import Lab
from tests.lab.services import NETWORK_HBA
from tests.lab.util import wait_until

pytestmark = pytest.mark.lab


def clair(lab: Lab) -> ClairDatabase:
    return ClairDatabase(
        host=lab.postgres.ip, port=lab.postgres.port, user="postgres", database="postgres"
    )  # type: ignore[arg-type]


def nodes(lab: Lab) -> list[str]:
    return [host.ip for host in lab.harbor_nodes]


def run(lab: Lab) -> dict[str, CheckResult]:
    results = postgres.check(clair(lab), SecretStr(lab.postgres.password), 5.0, nodes(lab))
    return {r.check: r for r in results}


def test_md5_passes(lab: Lab) -> None:
    results = run(lab)
    auth = results["postgres.auth"]
    assert auth.status is Status.OK, auth
    assert auth.message == (
        f"PostgreSQL at {lab.postgres.ip}:5432 asks user 'postgres' for an MD5 password: "
        "Harbor 1.4's lib/pq can log in"
    )
    assert auth.data == {"auth": "md5"}
    assert "stored password of user 'postgres': md5" in auth.details
    assert results["postgres.login"].status is Status.OK


def assert_refused_with_the_fix(lab: Lab, result: CheckResult, operator_ip: str) -> None:
    assert result.status is Status.ERROR, result
    assert result.data == {"auth": "scram-sha-256"}
    assert result.field_path == "clair_database.user"
    message = result.message
    assert message.startswith(
        f"PostgreSQL at {lab.postgres.ip}:5432 asks user 'postgres' for SCRAM-SHA-256, "
        "which Harbor 1.4's UI and Clair cannot speak"
    )
    assert (
        "fix on the server, as a superuser over its local socket (e.g. sudo -u postgres psql): "
        "1. in pg_hba.conf, above any other line that matches them, add: "
    ) in message
    for ip in nodes(lab):
        assert f"host postgres postgres {ip}/32 md5; " in message
    assert (
        f"host postgres postgres {operator_ip}/32 md5 (the last is this machine, for the check)"
        "; 2. SELECT pg_reload_conf(); 3. SET password_encryption = 'md5'; "
        "ALTER ROLE postgres PASSWORD '<the Clair DB password>'; then run the check again"
    ) in message
    assert message.endswith("then run the check again")
    assert lab.postgres.password not in message


def test_distribution_defaults_scram_are_refused_with_the_fix(lab: Lab) -> None:
    with lab.postgres.auth("scram-sha-256"):
        results = run(lab)
    # libpq speaks SCRAM: the login alone would have passed (today's check did)
    assert results["postgres.login"].status is Status.OK
    auth = results["postgres.auth"]
    assert_refused_with_the_fix(lab, auth, lab.operator_ip)
    assert "password_encryption: scram-sha-256" in auth.details
    assert "stored password of user 'postgres': scram-sha-256" in auth.details


def test_scram_verifier_behind_an_md5_line_is_refused(lab: Lab) -> None:
    """An upgraded cluster: pg_hba.conf still says md5, the password was re-set under 14+'s
    default; PostgreSQL then asks for SCRAM anyway."""
    with lab.postgres.auth("scram-sha-256", hba="md5"):
        results = run(lab)
    assert_refused_with_the_fix(lab, results["postgres.auth"], lab.operator_ip)


def ok_after(lab: Lab) -> dict[str, CheckResult] | None:
    results = run(lab)
    return results if results["postgres.auth"].status is Status.OK else None


def test_following_the_fix_makes_the_check_pass(lab: Lab) -> None:
    """Under the distribution defaults, do exactly what the message says: it passes."""
    with lab.postgres.auth("scram-sha-256"):
        before = run(lab)["postgres.auth"]
        assert before.status is Status.ERROR
        with lab.postgres.sql() as conn:  # "as a superuser", one session, in its order
            hba = lab.postgres.datadir / "pg_hba.conf"
            sources = [*nodes(lab), lab.operator_ip]
            lines = [f"host postgres postgres {ip}/32 md5\n" for ip in sources]
            text = hba.read_text()
            at = text.index(NETWORK_HBA)  # above the scram-sha-256 line that matches them too
            hba.write_text(text[:at] + "".join(lines) + text[at:])
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("SET password_encryption = 'md5'")
            alter = sql.SQL("ALTER ROLE postgres PASSWORD {}")
            conn.execute(alter.format(sql.Literal(lab.postgres.password)))
        # the postmaster reloads a moment after the signal
        after = wait_until(lambda: ok_after(lab), timeout=10, what="the fixed server")
    assert after["postgres.auth"].status is Status.OK, after["postgres.auth"]
    assert after["postgres.auth"].data == {"auth": "md5"}
    assert after["postgres.login"].status is Status.OK


def test_md5_verifier_under_a_scram_default_passes_with_a_note(lab: Lab) -> None:
    """The fix as given: the role's password under md5, the server's default left at
    scram-sha-256. It works; the operator learns what a later password change does."""
    with lab.postgres.auth("md5"), lab.postgres.sql() as conn:
        conn.execute("ALTER SYSTEM SET password_encryption = 'scram-sha-256'")
        lab.postgres.reload()
        try:
            auth = wait_until(
                lambda: noted(lab), timeout=10, what="password_encryption scram-sha-256"
            )
        finally:
            conn.execute("ALTER SYSTEM RESET password_encryption")
    assert auth.status is Status.OK
    assert auth.message.startswith(
        f"PostgreSQL at {lab.postgres.ip}:5432 asks user 'postgres' for an MD5 password: "
        "Harbor 1.4's lib/pq can log in (the server's password_encryption is scram-sha-256: "
    )


def noted(lab: Lab) -> CheckResult | None:
    auth = run(lab)["postgres.auth"]
    return auth if "password_encryption" in auth.message else None


def test_cleartext_passes(lab: Lab) -> None:
    """`password` (and ldap, pam, radius) ask for the password in clear: lib/pq sends it."""
    with lab.postgres.auth("md5", hba="password"):
        auth = run(lab)["postgres.auth"]
    assert auth.status is Status.OK
    assert "asks user 'postgres' for a cleartext password" in auth.message


def test_trust_with_a_scram_verifier_warns(lab: Lab) -> None:
    """From here no password is asked, but the stored SCRAM verifier makes every md5 or
    scram-sha-256 line (the Harbor nodes' perhaps) ask for SCRAM."""
    with lab.postgres.auth("scram-sha-256", hba="trust"):
        auth = run(lab)["postgres.auth"]
    assert auth.status is Status.WARNING
    assert "stores the password as SCRAM-SHA-256" in auth.message
    assert "SET password_encryption = 'md5'" in auth.message


# --- `harbor-wizard check`, as an operator runs it -------------------------------------------


def message_of(out: str, check: str) -> str:
    """The message cell of `check`'s row in the printed table, its folded lines joined."""
    lines = out.splitlines()
    header = next(line for line in lines if "message" in line and "status" in line)
    start, end = header.index("message"), header.index("time")
    row = next(i for i, line in enumerate(lines) if f" {check} " in line)
    parts = [lines[row][start:end].strip()]
    for line in lines[row + 1 :]:
        if line[:start].strip() or not line[start:end].strip():
            break
        parts.append(line[start:end].strip())
    return " ".join(parts)


@pytest.fixture
def lab_files(lab: Lab, tmp_path: Path) -> tuple[Path, Path]:
    return lab.write_answers(tmp_path)


def check(files: tuple[Path, Path]) -> int:
    answers, secrets = files
    return main(["check", "--answers", str(answers), "--secrets", str(secrets)])


def test_check_command_refuses_scram_and_says_how_to_fix(
    lab: Lab, lab_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with lab.postgres.auth("scram-sha-256"):
        code = check(lab_files)
    out = capsys.readouterr().out
    assert code == 1
    message = message_of(out, "postgres.auth")
    assert message.startswith(
        f"PostgreSQL at {lab.postgres.ip}:5432 asks user 'postgres' for SCRAM-SHA-256"
    )
    assert "SET password_encryption = 'md5'; ALTER ROLE postgres PASSWORD" in message
    for ip in nodes(lab):
        assert f"host postgres postgres {ip}/32 md5" in message
    assert "SELECT pg_reload_conf()" in message
    assert "1 error(s)" in out


def test_check_command_passes_md5(
    lab: Lab, lab_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(lab_files) == 0
    out = capsys.readouterr().out
    assert message_of(out, "postgres.auth") == (
        f"PostgreSQL at {lab.postgres.ip}:5432 asks user 'postgres' for an MD5 password: "
        "Harbor 1.4's lib/pq can log in"
    )
    assert "0 error(s)" in out
