"""The offline installer on every node, crossing the operator's uplink once.

Why: the installer is hundreds of MB and the operator is often far from the nodes. It is
uploaded to one node (the seed); the others fetch it from the seed over the cluster
network, from a short-lived HTTP server bound to the seed's address under an unguessable
path, verify its checksum, and the server is stopped. A node that cannot reach the seed
gets a direct upload instead, and the run says so.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harbor_wizard import remote
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed
from harbor_wizard.steps.harbor import local_sha256, remote_installer

FETCH_TIMEOUT = 1800.0

# Python 2.7 (prepare's requirement) or 3: serve one file, at one unguessable path, on one
# address. The token and the port (the kernel's choice) are printed on the first line, so
# neither is on the seed's command line; any other path gets 404, never a listing. (The
# fetching nodes' curl shows the URL for the seconds it runs: the installer is no secret,
# the token only keeps other machines on the network from reading or scanning the share.)
_SERVER = """
import binascii, os, sys
try:
    from http.server import HTTPServer, BaseHTTPRequestHandler
    from socketserver import ThreadingMixIn
except ImportError:
    from BaseHTTPServer import HTTPServer, BaseHTTPRequestHandler
    from SocketServer import ThreadingMixIn
path, address = sys.argv[1], sys.argv[2]
token = binascii.hexlify(os.urandom(24)).decode()
wanted = "/" + token + "/installer.tgz"
class One(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        if self.path != wanted:
            self.send_error(404)
            return
        with open(path, "rb") as source:
            self.send_response(200)
            self.send_header("Content-Length", str(os.fstat(source.fileno()).st_size))
            self.end_headers()
            block = source.read(1048576)
            while block:
                self.wfile.write(block)
                block = source.read(1048576)
class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
server = Server((address, 0), One)
sys.stdout.write("%d %s\\n" % (server.server_address[1], token))
sys.stdout.flush()
server.serve_forever()
"""
_SERVE = 'py=$(command -v python3 || command -v python) && exec "$py" -c "$1" "$2" "$3"'
# $1 the URL, $2 the target, $3 the expected sha256. The temp file is made 0600 beside
# the target and removed on any failure.
_FETCH = """\
umask 077
mkdir -p -- "$(dirname -- "$2")"
tmp=$(mktemp -- "$2.harbor-wizard-tmp-XXXXXXXX") || exit 1
trap 'rm -f -- "$tmp"' EXIT
{ curl -fsS --connect-timeout 5 -o "$tmp" -- "$1" || wget -q -T 5 -O "$tmp" -- "$1"; } &&
[ "$(sha256sum < "$tmp" | cut -d" " -f1)" = "$3" ] &&
chmod 644 "$tmp" && mv -fT -- "$tmp" "$2"
"""
SERVER_START_SECONDS = 10.0


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

        def has(name: str) -> bool:
            return remote.file_state(ctx.connect(name), self.remote).sha256 == want

        with ThreadPoolExecutor(max_workers=ctx.at_once(len(self.nodes))) as pool:
            found = dict(zip(self.nodes, pool.map(has, self.nodes), strict=True))
        return [name for name, there in found.items() if not there]

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
        """Serve the installer from `seed` to `fetchers`; the nodes that could not fetch.

        The server lives exactly as long as its command: stopping it (or losing the
        connection) ends it on the seed."""
        first_line: list[str] = []
        ready = threading.Event()

        def on_line(line: str) -> None:
            if not first_line:
                first_line.append(line)
                ready.set()

        server = remote.start(
            ctx.connect(seed), _SERVE, _SERVER, self.remote, self.nodes[seed],
            sudo=True, on_line=on_line,
        )  # fmt: skip
        try:
            ready.wait(SERVER_START_SECONDS)
            port, _, token = (first_line or [""])[0].partition(" ")
            if not (port.isdigit() and token) or server.done:
                ctx.emit_line(f"could not start a file server on {seed}: uploading directly")
                return fetchers
            url = f"http://{self.nodes[seed]}:{port}/{token}/installer.tgz"
            with ThreadPoolExecutor(max_workers=ctx.at_once(len(fetchers))) as pool:
                results = pool.map(lambda name: self._fetch(ctx, name, url), fetchers)
                done = dict(zip(fetchers, results, strict=True))
        finally:
            server.stop()
        failed = [name for name, ok in done.items() if not ok]
        for name in failed:
            ctx.emit_line(f"{name} cannot fetch from {seed} over the cluster network: uploading")
        return failed

    def _fetch(self, ctx: StepContext, name: str, url: str) -> bool:
        start = time.monotonic()
        out = remote.run(
            ctx.connect(name), _FETCH, url, self.remote, local_sha256(self.local),
            sudo=True, timeout=FETCH_TIMEOUT,
        )  # fmt: skip
        if out.ok:
            took = time.monotonic() - start
            ctx.emit_line(f"{name} fetched it from the seed in {took:.1f}s, checksum verified")
        return out.ok
