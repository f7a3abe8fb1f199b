"""The real tools that judge rendered files: keepalived -t, haproxy -c, sh -n, prepare's parser.

keepalived's config test checks that the configured interface exists and that check scripts
are root-owned and not writable by others, so it runs in a throwaway network namespace with
an `eth0`, and a private mount namespace where the rendered /usr/local/bin is in place.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import uuid
from pathlib import Path


def keepalived_test(conf: Path, bin_dir: Path | None = None, interface: str = "eth0") -> str:
    """Run `keepalived -t -f conf`; return its diagnostics; raise with them when it fails."""
    ns = f"hwk{uuid.uuid4().hex[:8]}"
    outside = f"{ns}o"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
    try:
        subprocess.run(
            ["ip", "link", "add", outside, "type", "veth", "peer", "name", interface, "netns", ns],
            check=True,
            timeout=10,
        )
        subprocess.run(["ip", "-n", ns, "link", "set", interface, "up"], check=True, timeout=10)
        script = f'exec keepalived -t -f "{conf}"'
        if bin_dir is not None:
            script = f'mount --bind "{bin_dir}" /usr/local/bin && {script}'
        result = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=10, check=False)
        subprocess.run(["ip", "netns", "del", ns], timeout=10, check=False)
    if result.returncode != 0:
        raise AssertionError(f"keepalived -t exited {result.returncode}:\n{result.stderr}")
    return result.stderr


def haproxy_check(conf: Path) -> None:
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(conf)], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"haproxy -c exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )


def shell_syntax(script: Path, shell: str = "sh") -> None:
    result = subprocess.run(
        [shell, "-n", str(script)], capture_output=True, text=True, timeout=10, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"{shell} -n {script}: {result.stderr}")


def read_harbor_cfg(path: Path) -> dict[str, str]:
    """harbor.cfg the way Harbor 1.4's prepare reads it: a fake section, RawConfigParser."""
    parser = configparser.RawConfigParser()
    parser.read_string("[configuration]\n" + path.read_text())
    return dict(parser.items("configuration"))


def tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`: relative path -> (bytes, mode)."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), os.stat(path).st_mode & 0o777)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
