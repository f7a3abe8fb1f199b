"""What is learnt about an installer file is read once while the file stays the same."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from harbor_wizard import filecache
from harbor_wizard.checks import installer
from harbor_wizard.filecache import remembered


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return filecache.cache_file()


def test_an_answer_is_kept_until_the_file_changes(tmp_path: Path, cache: Path) -> None:
    file = tmp_path / "installer.tgz"
    file.write_bytes(b"one")
    asked: list[str] = []

    def answer() -> str:
        asked.append("asked")
        return file.read_text()

    assert remembered(file, "content", answer) == "one"
    assert remembered(file, "content", answer) == "one"
    assert asked == ["asked"]
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    file.write_bytes(b"two")  # rewritten: another size and time
    assert remembered(file, "content", answer) == "two"
    assert asked == ["asked", "asked"]
    replaced = tmp_path / "other.tgz"  # the same size and time, another file moved over it
    replaced.write_bytes(b"two")
    os.utime(replaced, ns=(file.stat().st_atime_ns, file.stat().st_mtime_ns))
    replaced.replace(file)
    assert remembered(file, "content", answer) == "two"
    assert len(asked) == 3
    assert sum(1 for key in filecache._load(cache) if key.startswith("content|")) == 1


def test_a_damaged_cache_is_read_again_not_trusted(tmp_path: Path, cache: Path) -> None:
    file = tmp_path / "installer.tgz"
    file.write_bytes(b"x")
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    assert remembered(file, "content", lambda: "fresh") == "fresh"
    assert remembered(file, "content", lambda: "other") == "fresh"


def test_the_installer_check_lists_an_unchanged_installer_once(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = tmp_path / "harbor.cfg"
    member.write_text("hostname = x\n")
    file = tmp_path / "harbor-offline-installer-v1.4.0.tgz"
    with tarfile.open(file, "w:gz") as archive:
        archive.add(member, "harbor/harbor.cfg")
    first = [(r.status, r.message) for r in installer.check(file, "1.4.0")]
    assert "lacks" in first[0][1]  # a real answer, from the archive

    def listing(path: Path, required: tuple[str, ...]) -> None:
        raise AssertionError("listed again")

    monkeypatch.setattr(installer, "inspect", listing)
    assert [(r.status, r.message) for r in installer.check(file, "1.4.0")] == first
