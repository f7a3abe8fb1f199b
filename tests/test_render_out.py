"""`render --out DIR`: files 0600 from their first byte, and no symlink followed that the
tool did not make (a link planted where a file or a folder goes)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from harbor_wizard import render
from harbor_wizard.cli import main
from harbor_wizard.render import RenderedFile, write_tree
from tests.support.deployment import SECRETS, render_args, write_deployment


def files() -> list[RenderedFile]:
    return [
        RenderedFile("lb01", render.PurePosixPath("/etc/keepalived/keepalived.conf"), "a\n", 0o600),
        RenderedFile("lb01", render.PurePosixPath("/etc/haproxy/haproxy.cfg"), "b\n", 0o644),
        RenderedFile("lb01", render.PurePosixPath("/usr/local/bin/check.sh"), "c\n", 0o755),
    ]


def test_files_are_never_readable_by_others_before_their_final_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whenever a mode is changed, the file had no group or other bits until then."""
    seen: list[int] = []
    real_fchmod, real_chmod = os.fchmod, os.chmod

    def fchmod(fd: int, mode: int) -> None:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fchmod(fd, mode)

    def chmod(path: Any, mode: int, *args: Any, **kwargs: Any) -> None:
        seen.append(stat.S_IMODE(os.stat(path, *args, **kwargs).st_mode))
        real_chmod(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "fchmod", fchmod)
    monkeypatch.setattr(os, "chmod", chmod)
    old = os.umask(0)
    try:
        write_tree(files(), tmp_path / "out")
    finally:
        os.umask(old)
    assert seen
    assert all(mode & 0o077 == 0 for mode in seen), [oct(m) for m in seen]
    modes = {
        p.relative_to(tmp_path / "out").as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    }
    assert modes == {
        "lb01/etc/keepalived/keepalived.conf": 0o600,
        "lb01/etc/haproxy/haproxy.cfg": 0o644,
        "lb01/usr/local/bin/check.sh": 0o755,
    }


def test_rendering_again_into_the_same_folder_replaces_the_files(tmp_path: Path) -> None:
    write_tree(files(), tmp_path / "out")
    changed = [RenderedFile(f.host, f.path, "new\n", f.mode) for f in files()]
    write_tree(changed, tmp_path / "out")
    assert (tmp_path / "out/lb01/etc/haproxy/haproxy.cfg").read_text() == "new\n"
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]


def test_a_link_planted_at_a_files_path_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    target = tmp_path / "out/lb01/etc/keepalived/keepalived.conf"
    target.parent.mkdir(parents=True)
    target.symlink_to(victim)
    write_tree(files(), tmp_path / "out")
    assert victim.read_text() == "keep me\n"
    assert not target.is_symlink()
    assert target.read_text() == "a\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("planted", ["lb01", "lb01/etc", "lb01/etc/keepalived"])
def test_a_link_planted_at_a_folders_path_is_refused(
    planted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    answers, secrets = write_deployment(tmp_path / "deployment")
    link = tmp_path / "out" / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    assert main(render_args(answers, secrets, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert f"{link}: " in err
    assert "symbolic link" in err
    assert list(elsewhere.rglob("*")) == []
    for value in SECRETS.values():
        assert value not in err
