"""Builds the stand-in Harbor offline installers (.tgz) the tests hand the wizard.

Shaped like the real ones so the product's real upload / unpack / edit / run steps work
unchanged. 1.4.0 (`build_installer`, doubles/installer/): top directory `harbor/`,
upstream harbor.cfg, install.sh, prepare, ha/registry.sql, docker-compose files, the image
tarball. v2.15.2 (`build_installer_2`, doubles/installer-2/): the members and order of the
real package (the image tarball first), upstream harbor.yml.tmpl; the image tarball holds
the stand-in containers' server, which `docker load` (the docker double) installs.
"""

from __future__ import annotations

import gzip
import io
import json
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


SOURCE_2 = Path(__file__).with_name("doubles") / "installer-2"
VERSION_2 = "v2.15.2"
INSTALLER_2_NAME = f"harbor-offline-installer-{VERSION_2}.tgz"
#: What the real package's `docker save` holds (Makefile DOCKERSAVE_PARA of a release).
IMAGES_2 = [
    f"goharbor/{name}:{VERSION_2}"
    for name in (
        "harbor-portal",
        "harbor-core",
        "harbor-db",
        "harbor-jobservice",
        "harbor-registryctl",
        "valkey-photon",
        "nginx-photon",
        "registry-photon",
        "prepare",
        "harbor-log",
        "trivy-adapter-photon",
        "harbor-exporter",
    )
]


def upstream_harbor_yml_tmpl() -> Path:
    """The upstream harbor.yml.tmpl of v2.15.2 (tests/data/harbor-2.15.2.yml.tmpl)."""
    path = Path(__file__).parents[1] / "data" / "harbor-2.15.2.yml.tmpl"
    if not path.is_file():
        raise LabError(f"upstream harbor.yml.tmpl not found at {path}")
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


def _images_2() -> bytes:
    """harbor.v2.15.2.tar.gz: a docker-save-like tar (manifest.json) with the stand-in server."""
    manifest = [
        {"Config": f"{i:064x}.json", "RepoTags": [tag], "Layers": []}
        for i, tag in enumerate(IMAGES_2, 1)
    ]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode in (
            ("manifest.json", json.dumps(manifest).encode(), 0o644),
            ("standin/server.py", (SOURCE_2 / "images" / "server.py").read_bytes(), 0o755),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def build_installer_2(dest_dir: Path) -> Path:
    """Write harbor-offline-installer-v2.15.2.tgz into `dest_dir` and return its path.

    Members in the real package's order (`tar -zcvf` of the Makefile): the image tarball,
    prepare, LICENSE, install.sh, common.sh, harbor.yml.tmpl; modes as in the repository.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / INSTALLER_2_NAME
    with tarfile.open(target, "w:gz") as tar:
        _add(tar, f"harbor.{VERSION_2}.tar.gz", _images_2())
        _add(tar, "prepare", (SOURCE_2 / "prepare").read_bytes(), 0o755)
        _add(tar, "LICENSE", (SOURCE_2 / "LICENSE").read_bytes())
        _add(tar, "install.sh", (SOURCE_2 / "install.sh").read_bytes(), 0o755)
        _add(tar, "common.sh", (SOURCE_2 / "common.sh").read_bytes())
        _add(tar, "harbor.yml.tmpl", upstream_harbor_yml_tmpl().read_bytes())
    return target
