"""Builds the stand-in Harbor 1.4.0 offline installer (.tgz) the tests hand the wizard.

Shaped like the real one (top directory `harbor/`, upstream harbor.cfg, install.sh,
prepare, ha/registry.sql, docker-compose files, the image tarball) so the product's
real upload / unpack / edit / run steps work unchanged; see doubles/installer/.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
import time
from pathlib import Path

from .util import LabError, sh

SOURCE = Path(__file__).with_name("doubles") / "installer"
INSTALLER_NAME = "harbor-offline-installer-v1.4.0.tgz"
EXECUTABLES = {"install.sh", "prepare", "common/standin/server.py"}


def upstream_harbor_cfg() -> Path:
    """The upstream harbor.cfg of v1.4.0, kept as test data (tests/data/harbor-1.4.0.cfg)."""
    override = os.environ.get("HW_HARBOR_CFG")
    path = Path(override) if override else Path(__file__).parents[1] / "data" / "harbor-1.4.0.cfg"
    if not path.is_file():
        raise LabError(f"upstream harbor.cfg not found at {path}")
    return path


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(f"harbor/{name}")
    info.size, info.mode, info.uid, info.gid = len(data), mode, 0, 0
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def build_installer(dest_dir: Path) -> Path:
    """Write harbor-offline-installer-v1.4.0.tgz into `dest_dir` and return its path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / INSTALLER_NAME
    with tempfile.TemporaryDirectory() as tmp:
        key, crt = Path(tmp, "private_key.pem"), Path(tmp, "root.crt")
        subject = "/CN=harbor-token-ca-default"
        req = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650"]
        sh([*req, "-subj", subject, "-keyout", key, "-out", crt])
        with tarfile.open(target, "w:gz") as tar:
            for path in sorted(SOURCE.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    rel = path.relative_to(SOURCE).as_posix()
                    _add(tar, rel, path.read_bytes(), 0o755 if rel in EXECUTABLES else 0o644)
            _add(tar, "harbor.cfg", upstream_harbor_cfg().read_bytes())
            _add(tar, "common/templates/ui/private_key.pem", key.read_bytes(), 0o600)
            _add(tar, "common/templates/registry/root.crt", crt.read_bytes())
            images = b"stand-in: Harbor 1.4.0 images are not shipped in the lab\n"
            _add(tar, "harbor.v1.4.0.tar.gz", gzip.compress(images))
    return target
