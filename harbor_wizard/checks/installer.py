"""The offline installer file: present, and shaped like the offline installer of the
answers' Harbor release."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path
from typing import Any

from harbor_wizard.checks.result import CheckResult, error, ok, probe
from harbor_wizard.filecache import remembered
from harbor_wizard.profiles import profile_for


def inspect(path: Path, required: tuple[str, ...]) -> tuple[set[str], str | None]:
    """The required members found, and the Harbor version named by its image tarball."""
    found: set[str] = set()
    version = None
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            name = member.name.removeprefix("./")
            if name in required:
                found.add(name)
            match = re.fullmatch(r"harbor/harbor\.v(\d+\.\d+\.\d+)\.tar\.gz", name)
            if match:
                version = match.group(1)
            if len(found) == len(required) and version:
                break
    return found, version


def _members(path: Path, required: tuple[str, ...]) -> tuple[set[str], str | None]:
    """`inspect`, once per installer file (see filecache): it reads the whole archive."""

    def answer() -> list[Any]:
        found, version = inspect(path, required)
        return [sorted(found), version]

    names, version = remembered(path, "members:" + ",".join(required), answer)
    return set(names), version


@probe("installer")
def check(path: Path, expected_version: str) -> list[CheckResult]:
    field = "harbor.installer"
    if not path.is_file():
        return [
            error(
                "installer",
                "installer",
                f"the offline installer {path} does not exist",
                field_path=field,
            )
        ]
    profile = profile_for(expected_version)
    layout = profile.installer
    try:
        found, version = _members(path, layout.members)
    except (tarfile.TarError, OSError, EOFError) as exc:
        return [
            error(
                "installer",
                "installer",
                f"{path} is not a Harbor offline installer (not a readable .tgz: {exc})",
                field_path=field,
            )
        ]
    missing = [name for name in layout.members if name not in found]
    online = f" (the online installer has no {layout.schema})" if layout.schema else ""
    if missing:
        return [
            error(
                "installer",
                "installer",
                f"{path} is not a Harbor {profile.release} offline installer: it lacks "
                f"{', '.join(missing)}{online}",
                field_path=field,
            )
        ]
    if version is not None and version != expected_version:
        return [
            error(
                "installer",
                "installer",
                f"{path} installs Harbor {version}, but harbor.version is {expected_version}",
                field_path="harbor.version",
            )
        ]
    mib = path.stat().st_size / 1024 / 1024
    size = f"{mib:.0f} MiB" if mib >= 1 else f"{mib * 1024:.0f} KiB"
    return [
        ok(
            "installer",
            "installer",
            f"{path.name}: Harbor {version or expected_version} offline installer ({size})",
        )
    ]
