"""The wheel, installed into a fresh venv, works from any folder and renders the same bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harbor_wizard.cli import main
from tests.support.deployment import ANSWERS, https, render_args, write_deployment
from tests.support.tlsfiles import write_tls
from tests.support.tools import tree

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv with harbor-wizard installed from its wheel (not editable)."""
    work = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", ROOT)
    wheel = next((work / "dist").glob("harbor_wizard-*.whl"))
    run(sys.executable, "-m", "venv", work / "venv")
    run(work / "venv/bin/pip", "install", "-q", wheel)
    return work / "venv/bin"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["haproxy", "lvs-dr"])
def test_installed_command_renders_identically(installed: Path, tmp_path: Path, mode: str) -> None:
    """Both LB modes, https: the same bytes as the tree the real tools judged (test_render)."""
    deployment = tmp_path / "deployment"
    deployment.mkdir()
    write_tls(deployment)
    answers, secrets = write_deployment(
        deployment, https(ANSWERS.replace("mode: haproxy", f"mode: {mode}"))
    )
    in_tree = tmp_path / "in-tree"
    assert main(render_args(answers, secrets, in_tree)) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run(
        installed / "harbor-wizard",
        "render",
        "--answers",
        answers,
        "--secrets",
        secrets,
        "--out",
        tmp_path / "from-wheel",
        cwd=elsewhere,
    )
    assert tree(tmp_path / "from-wheel") == tree(in_tree)
    version = run(installed / "harbor-wizard", "--version", cwd=elsewhere).stdout
    assert version.startswith("harbor-wizard ")


@pytest.mark.slow
def test_wheel_installs_screens_and_templates_inside_the_package(installed: Path) -> None:
    python = installed / "python"
    probe = (
        "import importlib.resources as r, importlib.util as u\n"
        "import harbor_wizard.screens, harbor_wizard.templates\n"
        "names = {p.name for p in r.files('harbor_wizard.templates').iterdir()}\n"
        "assert 'harbor.cfg.j2' in names and 'keepalived.conf.j2' in names, names\n"
        "assert u.find_spec('screens') is None and u.find_spec('templates') is None\n"
        "print('ok')\n"
    )
    assert run(python, "-c", probe, cwd=installed).stdout.strip() == "ok"


@pytest.mark.slow
def test_installed_command_on_hostile_input(installed: Path, tmp_path: Path) -> None:
    """Issue 12's input cases, from the installed wheel: bad files end with exit 2 and a
    message naming file and line; secrets are used as written and never printed."""
    from tests.answers.test_bad_files import arguments, assert_operator_message

    def command(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(installed / "harbor-wizard"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    for number, case in enumerate(
        ["alias bomb (answers)", "utf-16 (answers)", "NUL byte (secrets)",
         "nesting 5000 deep (secrets)", "5000-digit integer (answers)",
         "secrets naming a directory", "empty answers"]
    ):  # fmt: skip
        args, bad = arguments(tmp_path / str(number), case, "install")
        result = command(args)
        assert result.returncode == 2, (case, result.stderr)
        assert_operator_message(result.stderr, case, bad)
    answers, secrets = write_deployment(tmp_path / "as-written")
    written = secrets.read_text().replace('"db-Secret-91xq"', "0123")
    secrets.write_text(written)
    assert command(render_args(answers, secrets, tmp_path / "out")).returncode == 0
    cfg = (tmp_path / "out/harbor01/opt/harbor/harbor.cfg").read_text()
    assert "\ndb_password = 0123\n" in cfg
    secrets.write_text('harbor.admin_password: "Adm1n-Passw0rd-x7\ndatabase.password: 0123\n')
    result = command(render_args(answers, secrets, tmp_path / "again"))
    assert result.returncode == 2
    assert f"{secrets}:1: (top level): a quote is not closed" in result.stderr
    assert "Adm1n" not in result.stderr
    hostile = tmp_path / "hostile"
    answers, secrets = write_deployment(hostile)
    installer = "harbor-offline-installer-v1.4.0$(touch pwned).tgz"
    (hostile / installer).write_bytes(b"not an installer")
    text = answers.read_text().replace("./harbor-offline-installer-v1.4.0.tgz", f"'./{installer}'")
    answers.write_text(text)
    result = command(["check", "--answers", str(answers), "--secrets", str(secrets)])
    assert result.returncode == 2, result.stderr
    line = text[: text.index(installer)].count("\n") + 1
    assert f"{answers}:{line}: harbor.installer: the installer's file name" in result.stderr
    assert not list(tmp_path.rglob("pwned"))
