"""Installer distribution to 6 nodes with the operator's link limited to 8 Mbit/s (tc),
against one upload of the same file over that link.

Prints both wall times and their ratio (aim: at most 2x; uploading to each node in turn
would be about 6x). Run as root from the repository:
`.venv/bin/python -m benchmarks.distribution` (HW_LAB_SUBNET picks the lab's subnet).
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath

from harbor_wizard import remote
from harbor_wizard.connection import connect, targets
from harbor_wizard.inputs import load_inputs
from harbor_wizard.steps.base import StepContext
from harbor_wizard.steps.distribute import DistributeInstaller
from tests.lab import Lab, LabConfig

SIZE_MB = 12
RATE = "8mbit"


def big_installer(small: Path, folder: Path) -> Path:
    """The stand-in installer with an incompressible image tarball of SIZE_MB."""
    target = folder / small.name
    with tarfile.open(small) as source, tarfile.open(target, "w:gz") as out:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            out.addfile(member, data)
        blob = os.urandom(SIZE_MB * 1024 * 1024)
        info = tarfile.TarInfo("harbor/harbor.v1.4.0.tar.gz")
        info.size = len(blob)
        out.addfile(info, io.BytesIO(blob))
    return target


def main() -> None:
    subnet = os.environ.get("HW_LAB_SUBNET", "198.51.100.192/26")
    with (
        Lab.start(LabConfig(harbor_nodes=6, subnet=subnet)) as lab,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        installer = big_installer(lab.installer, folder)
        answers, secrets = lab.write_answers(folder)
        answers.write_text(answers.read_text().replace(str(lab.installer), str(installer)))
        inputs = load_inputs(answers, secrets)
        by_name = {t.name: t for t in targets(inputs.answers, inputs.document.base_dir)}
        connections = {name: connect(target) for name, target in by_name.items()}
        subprocess.run(
            ["tc", "qdisc", "add", "dev", lab.bridge, "root", "tbf", "rate", RATE,
             "burst", "32kbit", "latency", "400ms"],
            check=True,
        )  # fmt: skip
        try:
            start = time.monotonic()
            out = remote.write_file(
                connections["harbor01"],
                PurePosixPath("/root/one-upload.tgz"),
                installer,
                mode=0o644,
            )
            single = time.monotonic() - start
            assert out.ok, out.stderr
            nodes = {n.name: str(n.address) for n in inputs.answers.harbor_nodes}
            step = DistributeInstaller(installer, nodes)
            ctx = StepContext(
                host="operator", inputs=inputs, emit_line=print, others=connections.get
            )
            start = time.monotonic()
            change = step.inspect(ctx)
            assert change is not None
            message = step.apply(ctx, change)
            spread = time.monotonic() - start
            assert step.inspect(ctx) is None
        finally:
            subprocess.run(["tc", "qdisc", "del", "dev", lab.bridge, "root"], check=False)
            for connection in connections.values():
                connection.close()
        size = installer.stat().st_size / 1024 / 1024
        print(f"installer {size:.1f} MiB, operator link {RATE}")
        print(f"one upload over the link:       {single:6.1f} s")
        print(f"distribution to {len(nodes)} nodes:       {spread:6.1f} s  ({message})")
        print(
            f"ratio {spread / single:.2f}x (aim: at most 2x; one upload per node: ~{len(nodes)}x)"
        )


if __name__ == "__main__":
    main()
