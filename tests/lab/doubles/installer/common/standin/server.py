#!/usr/bin/python3
"""Test double (harbor-wizard lab): what Harbor's containers would answer on this node.

Serves :80 (and :443 with the configured certificate when ui_url_protocol is https):
/ (200, or 301 to https), /api/systeminfo (JSON with registry_url and the answering
node) and /api/repositories/top ([]), which is what the HA guide's check.sh probes.
Usage: server.py /data/harbor-standin/install.json (started by install.sh, daemonized).
"""

import contextlib
import json
import os
import signal
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

with open(sys.argv[1]) as f:
    record = json.load(f)
state = os.path.dirname(os.path.abspath(sys.argv[1]))
node = socket.gethostname()
https = record["protocol"] == "https"


class Handler(BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""

    def _send(self, code, body, ctype="application/json", headers=()):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Harbor-Node", node)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        secure = isinstance(self.connection, ssl.SSLSocket)
        if https and not secure:
            return self._send(
                301,
                "",
                "text/html",
                [("Location", "https://{}{}".format(record["hostname"], self.path))],
            )
        path = self.path.split("?", 1)[0]
        if path == "/":
            return self._send(
                200,
                f"<html><title>Harbor</title><body>Harbor stand-in on {node}</body></html>",
                "text/html",
            )
        if path == "/api/systeminfo":
            return self._send(
                200,
                json.dumps(
                    {
                        "registry_url": record["hostname"],
                        "node": node,
                        "harbor_version": "v1.4.0-standin",
                        "with_notary": False,
                        "with_clair": record["with_clair"],
                        "with_admiral": False,
                        "auth_mode": "db_auth",
                        "project_creation_restriction": "everyone",
                        "self_registration": True,
                        "has_ca_root": https,
                    }
                ),
            )
        if path == "/api/repositories/top":
            return self._send(200, "[]")
        return self._send(404, json.dumps({"code": 404, "message": "not found"}))

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        pass


servers = [ThreadingHTTPServer(("0.0.0.0", 80), Handler)]
if https:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(record["ssl_cert"], record["ssl_cert_key"])
    tls = ThreadingHTTPServer(("0.0.0.0", 443), Handler)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    servers.append(tls)
for s in servers:
    s.daemon_threads = True


def stop(*_):
    for name in ("server.pid", "server.ready"):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(state, name))
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
with open(os.path.join(state, "server.pid"), "w") as f:
    f.write(str(os.getpid()))
threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
for t in threads:
    t.start()
open(os.path.join(state, "server.ready"), "w").close()
while True:
    signal.pause()
