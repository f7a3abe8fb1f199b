"""The offline installer on every node, crossing the operator's uplink once.

Why: the installer is hundreds of MB and the operator is often far from the nodes. It is
uploaded to one node (the seed); the others fetch it from the seed over the cluster
network, from a short-lived HTTP server bound to the seed's address under an unguessable
path, verify its checksum, and the server is stopped. A node that cannot reach the seed
gets a direct upload instead, and the run says so.
"""

from __future__ import annotations

import secrets
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harbor_wizard import remote
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed
from harbor_wizard.steps.harbor import local_sha256, remote_installer

FETCH_TIMEOUT = 1800.0

# Python 2.7 (prepare's requirement) or 3: serve one folder on one address and port.
_SERVER = """
import os, sys
try:
    from http.server import HTTPServer, SimpleHTTPRequestHandler
except ImportError:
    from BaseHTTPServer import HTTPServer
    from SimpleHTTPServer import SimpleHTTPRequestHandler
class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
os.chdir(sys.argv[1])
HTTPServer((sys.argv[2], int(sys.argv[3])), Quiet).serve_forever()
"""


class DistributeInstaller(Action):
    def __init__(self, local: Path, nodes: dict[str, str]) -> None:
        self.local = local
        self.nodes = nodes  # name -> address
        self.remote = remote_installer(local)
        self.step_id = "installer:distribute"
        self.title = f"{local.name} on every node (the uplink carries it once)"

    def fingerprint(self) -> str:
        return local_sha256(self.local)

    def _missing(self, ctx: StepContext) -> list[str]:
        want = local_sha256(self.local)
        return [
            name
            for name in self.nodes
            if remote.file_state(ctx.connect(name), self.remote).sha256 != want
        ]

    def inspect(self, ctx: StepContext) -> Change | None:
        missing = self._missing(ctx)
        return Change(f"needed on {', '.join(missing)}") if missing else None

    def apply(self, ctx: StepContext, change: Change) -> str:
        missing = self._missing(ctx)
        have = [name for name in self.nodes if name not in missing]
        seed = have[0] if have else missing[0]
        if not have:
            self._upload(ctx, seed)
            missing.remove(seed)
        if not missing:
            return f"uploaded to {seed}"
        direct = self._share(ctx, seed, missing)
        for name in direct:
            self._upload(ctx, name)
        fetched = len(missing) - len(direct)
        note = f"; uploaded directly to {', '.join(direct)}" if direct else ""
        return f"on {seed} via the uplink, {fetched} node(s) fetched it from {seed}{note}"

    def _upload(self, ctx: StepContext, name: str) -> None:
        start = time.monotonic()
        out = remote.write_file(ctx.connect(name), self.remote, self.local, mode=0o644)
        if not out.ok:
            raise StepFailed(f"{name}: upload of {self.local.name} failed", out.code, out.tail())
        ctx.emit_line(f"uploaded to {name} in {time.monotonic() - start:.1f}s")

    def _share(self, ctx: StepContext, seed: str, fetchers: list[str]) -> list[str]:
        """Serve the installer from `seed` to `fetchers`; the nodes that could not fetch."""
        connection = ctx.connect(seed)
        token = secrets.token_urlsafe(24)
        folder = self.remote.parent / f".harbor-wizard-share-{secrets.token_hex(6)}"
        port = 20000 + secrets.randbelow(20000)
        address = self.nodes[seed]
        q = shlex.quote
        started = remote.run(
            connection,
            f"mkdir -m 755 {q(str(folder))} {q(str(folder / token))} && "
            f"ln -s {q(str(self.remote))} {q(str(folder / token / self.local.name))} && "
            f"py=$(command -v python3 || command -v python) && "
            f"(setsid $py -c {q(_SERVER)} {q(str(folder))} {q(address)} {port} "
            f"</dev/null >/dev/null 2>&1 & echo $!)",
            sudo=True,
        )
        if not started.ok:
            remote.run(connection, f"rm -rf {q(str(folder))}", sudo=True)
            ctx.emit_line(f"could not start a file server on {seed}: uploading directly")
            return fetchers
        pid = started.stdout.strip().splitlines()[-1]
        url = f"http://{address}:{port}/{token}/{self.local.name}"
        try:
            time.sleep(0.5)  # let the server bind before the first fetch
            with ThreadPoolExecutor(max_workers=len(fetchers)) as pool:
                results = pool.map(lambda name: self._fetch(ctx, name, url), fetchers)
                done = dict(zip(fetchers, results, strict=True))
        finally:
            remote.run(connection, f"kill {q(pid)}; rm -rf {q(str(folder))}", sudo=True)
        failed = [name for name, ok in done.items() if not ok]
        for name in failed:
            ctx.emit_line(f"{name} cannot fetch from {seed} over the cluster network: uploading")
        return failed

    def _fetch(self, ctx: StepContext, name: str, url: str) -> bool:
        q = shlex.quote
        tmp = self.remote.parent / f"{remote.TEMP_MARK}{self.local.name}.{secrets.token_hex(6)}"
        want = local_sha256(self.local)
        start = time.monotonic()
        out = remote.run(
            ctx.connect(name),
            f"mkdir -p {q(str(self.remote.parent))} && trap 'rm -f {q(str(tmp))}' EXIT && "
            f"(curl -fsS --connect-timeout 5 -o {q(str(tmp))} {q(url)} || "
            f"wget -q -T 5 -O {q(str(tmp))} {q(url)}) && "
            f"[ \"$(sha256sum {q(str(tmp))} | cut -d' ' -f1)\" = {want} ] && "
            f"chmod 644 {q(str(tmp))} && mv -f {q(str(tmp))} {q(str(self.remote))}",
            sudo=True,
            timeout=FETCH_TIMEOUT,
        )
        if out.ok:
            took = time.monotonic() - start
            ctx.emit_line(f"{name} fetched it from the seed in {took:.1f}s, checksum verified")
        return out.ok
