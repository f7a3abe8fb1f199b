"""harbor-wizard as operators run it: a wheel of this checkout, installed with pip.

Operators install with pip, which compiles every module to .pyc. In this sandbox
PYTHONDONTWRITEBYTECODE=1 is set and .venv holds an editable install, so a run of the
checkout compiles our modules at every start (~0.25 s) and goes through setuptools'
editable finder: not what an operator measures. `wizard()` builds a wheel of the working
tree (uncommitted changes included, no network), pip-installs it into a throwaway venv
whose dependencies are .venv's (a .pth file, so .venv's editable finder stays out), and
yields the command that starts it; `wizard(checkout=True)` yields .venv's editable tree.
`.venv/bin/python -m benchmarks.installed [--checkout]` shows what a benchmark runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Not part of the wheel: left out of the copy it is built from.
NOT_PACKAGED = ("tests/", "benchmarks/", ".ci/")
#: Unset for the installed package: PYTHONPATH=. would import the checkout (and make pip
#: take the checkout's harbor_wizard.egg-info for an installed harbor-wizard).
UNSET = ("PYTHONPATH",)


@dataclass(frozen=True)
class Wizard:
    """How a benchmark starts harbor-wizard, and the Python its dependencies run on."""

    command: list[str]
    python: str
    description: str
    unset: tuple[str, ...] = ()
    """Environment variables to remove for the command (see UNSET)."""

    def environ(self, **extra: str) -> dict[str, str]:
        """This process's environment for the command, with `extra`."""
        kept = {k: v for k, v in os.environ.items() if k not in self.unset}
        return {**kept, **extra}


def run(*args: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def copy_source(target: Path, rev: str | None = None) -> None:
    """The working tree's files (tracked and untracked, not ignored), or those of commit
    `rev`, without the tests: pip builds a local directory in place, and must not write
    build/ into the shared tree."""
    if rev is not None:
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", rev], cwd=REPO, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
        return
    listed = run("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=REPO).split("\0")
    for name in listed:
        source = REPO / name
        if not name or name.startswith(NOT_PACKAGED) or not source.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)


def install(folder: Path, rev: str | None = None) -> Wizard:
    """Build the wheel (of the working tree, or of commit `rev`), install it into
    folder/venv, check what runs; a few seconds."""
    started = time.monotonic()
    copy_source(folder / "src", rev)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    build: list[str | Path] = [*pip, "wheel", "--no-deps", "-w", folder / "dist", folder / "src"]
    try:  # offline, with .venv's setuptools
        run(*build, "--no-build-isolation")
        built = "built with .venv's setuptools"
    except RuntimeError:  # too old for pyproject.toml (a `venv` bundles setuptools 65)
        run(*build)
        built = "built in pip's isolated build environment"
    (wheel,) = (folder / "dist").glob("harbor_wizard-*.whl")
    venv = folder / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", "--no-deps", wheel)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(run(python, "-c", purelib).strip())
    # .venv's packages, after the venv's own: a plain path, so its .pth files (the editable
    # finder) are not run.
    (site / "_harbor_wizard_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    package = site / "harbor_wizard"
    sources = list(package.rglob("*.py"))
    compiled = list(package.rglob("__pycache__/*.pyc"))
    how = "compiled by pip"
    if len(compiled) < len(sources):  # pip honoured PYTHONDONTWRITEBYTECODE
        run(python, "-m", "compileall", "-q", package)
        compiled = list(package.rglob("__pycache__/*.pyc"))
        how = "compiled with compileall"
    # From the venv's folder: `-c` puts the working directory first on sys.path.
    probe = "import harbor_wizard; print(harbor_wizard.__file__)"
    where = run(python, "-c", probe, cwd=folder).strip()
    if not Path(where).is_relative_to(site):
        raise RuntimeError(f"the venv imports harbor_wizard from {where}, not from {site}")
    return Wizard(
        command=[str(venv / "bin" / "harbor-wizard")],
        python=str(python),
        unset=UNSET,
        description=(
            f"installed wheel {wheel.name}{f' of {rev}' if rev else ''} ({built}; "
            f"{len(compiled)}/{len(sources)} modules "
            f"{how}; {time.monotonic() - started:.1f}s to build and install) in {venv}"
        ),
    )


def checkout() -> Wizard:
    bin_dir = Path(sys.executable).parent
    nocache = " (PYTHONDONTWRITEBYTECODE=1: compiled at every start)"
    return Wizard(
        command=[str(bin_dir / "harbor-wizard")],
        python=sys.executable,
        description=(
            f"editable checkout {REPO} through {bin_dir / 'harbor-wizard'}"
            + (nocache if os.environ.get("PYTHONDONTWRITEBYTECODE") else "")
        ),
    )


@contextmanager
def wizard(checkout_tree: bool = False, rev: str | None = None) -> Iterator[Wizard]:
    """The harbor-wizard a benchmark measures (`rev`: that commit's, installed); the
    installed one is removed afterwards."""
    if checkout_tree and rev is None:
        yield checkout()
        return
    with tempfile.TemporaryDirectory(prefix="hw-installed-") as folder:
        yield install(Path(folder), rev)


def add_argument(parser: argparse.ArgumentParser) -> None:
    """The `--checkout` option every benchmark that starts harbor-wizard offers."""
    parser.add_argument(
        "--checkout",
        action="store_true",
        help="measure .venv's editable checkout instead of an installed wheel of it",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_argument(parser)
    args = parser.parse_args()
    with wizard(args.checkout) as measured:
        print(f"measuring: {measured.description}")
        for _ in range(3):
            started = time.monotonic()
            version = run(*measured.command, "--version").strip()
            print(f"  {version}: {(time.monotonic() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
