#!/usr/bin/python3
"""Test double (harbor-wizard lab): what Harbor's containers would answer on this node.

Serves :80 (and :443 with the configured certificate when ui_url_protocol is https):
/ (200, or 301 to https), /api/systeminfo (JSON with registry_url and the answering
node) and /api/repositories/top ([]), which is what the HA guide's check.sh probes.
Until READY_AT (epoch seconds) everything but the redirect answers 502, as nginx does
while Harbor's UI starts. Holds the other ports Harbor's containers publish, as Docker's
port mapping does: 443 when not https and 4443 accept and close, 127.0.0.1:1514 (the log
container's syslog) swallows what it gets. A port that cannot be bound ends the server
with "bind ADDRESS:PORT" in server.failed.
Usage: server.py /data/harbor-standin/install.json READY_AT (started by the stand-in
docker-compose, daemonized).
"""

import contextlib
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

with open(sys.argv[1]) as f:
    record = json.load(f)
state = os.path.dirname(os.path.abspath(sys.argv[1]))
node = socket.gethostname()
https = record["protocol"] == "https"
ready_at = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
BAD_GATEWAY = (
    '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body bgcolor="white">\r\n'
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


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
            # Harbor 1.4's nginx.https.conf on :80: `return 301 https://$host$request_uri;`
            # ($host: the Host header without its port, lowercased).
            host = re.sub(r":[0-9]*$", "", self.headers.get("Host", "")).lower()
            return self._send(
                301,
                "",
                "text/html",
                [("Location", "https://{}{}".format(host or record["hostname"], self.path))],
            )
        if time.time() < ready_at:
            return self._send(502, BAD_GATEWAY, "text/html")
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


def failed(address, port):
    with open(os.path.join(state, "server.failed"), "w") as f:
        f.write(f"bind {address}:{port}\n")
    sys.exit(1)


def http_server(address, port):
    try:
        return ThreadingHTTPServer((address, port), Handler)
    except OSError:
        failed(address, port)


def held_port(address, port, swallow):
    """A published port with nothing behind it (or the log's syslog input)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError:
        failed(address, port)
    sock.listen(16)

    def serve():
        while True:
            conn, _ = sock.accept()
            if swallow:
                threading.Thread(target=drain, args=(conn,), daemon=True).start()
            else:
                conn.close()

    return serve


def drain(conn):
    with contextlib.suppress(OSError), conn:
        while conn.recv(65536):
            pass


servers = [http_server("0.0.0.0", 80)]
if https:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(record["ssl_cert"], record["ssl_cert_key"])
    tls = http_server("0.0.0.0", 443)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    servers.append(tls)
for s in servers:
    s.daemon_threads = True
loops = [s.serve_forever for s in servers]
if not https:
    loops.append(held_port("0.0.0.0", 443, swallow=False))
loops.append(held_port("0.0.0.0", 4443, swallow=False))
loops.append(held_port("127.0.0.1", 1514, swallow=True))


def stop(*_):
    for name in ("server.pid", "server.ready"):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(state, name))
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
with open(os.path.join(state, "server.pid"), "w") as f:
    f.write(str(os.getpid()))
threads = [threading.Thread(target=loop, daemon=True) for loop in loops]
for t in threads:
    t.start()
open(os.path.join(state, "server.ready"), "w").close()
while True:
    signal.pause()
