#!/usr/bin/python3
"""Test double (harbor-wizard lab): what Harbor v2.15.2's containers answer on a node.

Shipped inside the stand-in image tarball (harbor.v2.15.2.tar.gz); `docker load` puts it
in /var/lib/docker/harbor-standin/, the compose double starts it (as docker-proxy).
Usage: server.py RECORD (/data/harbor-standin/containers.json, written by the compose
double: ports, certificate folder, the core container's environment as created, times).

- proxy (nginx): the published http port, and with https the https port with
  <data>/secret/cert/server.{crt,key}; under https the http port answers every request
  with `308 https://$host:<https port>$request_uri` (nginx.https.conf's redirect, the
  port always written). 502 (nginx's page) for everything until `ready_at`, and for the
  core's paths until `core_ready_at` (a core being recreated).
- core (/api/, /service/, /v2/, /c/): GET /api/v2.0/ping -> "Pong"; /api/v2.0/health ->
  200 {"components": [...], "status": ...} (database and redis probed by TCP connect);
  /api/v2.0/systeminfo -> the anonymous GeneralInfo; /api/v2.0/projects -> the public
  "library" project. systeminfo and projects read the database: when POSTGRESQL_HOST:PORT
  of the core's environment refuses a TCP connection they answer 500 with Harbor's
  {"errors":[{"code":"UNKNOWN","message":"internal server error"}]}, as core does.
  Every core answer carries `X-Standin-Csrf-Key-Sha256: <sha256 hex of CSRF_KEY>` (a
  stand-in-only header: tests compare the keys the running cores use).
- log: 127.0.0.1:1514 swallows what it gets. A port that cannot be bound ends the server
  with "bind ADDRESS:PORT" in server.failed.
- core's start migrates the database as v2.15.2's core does (src/common/dao/pgsql.go:
  golang-migrate under an advisory lock, its table schema_migrations(version, dirty), 180
  once 2.15 is in), with psql as the core's user. Until that is done, and for good when it
  fails (PostgreSQL 15's public schema without CREATE for that user: "permission denied
  for schema public"), core is down: its paths answer 502, as nginx does while core
  restarts in a loop; the error is in <state>/core.log.
SIGHUP: re-read RECORD (the compose double recreated the core container).
"""

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

RECORD = sys.argv[1]
STATE = os.path.dirname(os.path.abspath(RECORD))
NODE = socket.gethostname()
BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
INTERNAL = json.dumps({"errors": [{"code": "UNKNOWN", "message": "internal server error"}]})
CORE_PATHS = ("/api/", "/service/", "/v2/", "/c/")
record = {}
migrated = threading.Event()
MIGRATE_SQL = (
    "SELECT pg_advisory_lock(1946390577);"  # one node migrates at a time
    "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY,"
    " dirty boolean NOT NULL);"
    "INSERT INTO schema_migrations SELECT 180, false"
    " WHERE NOT EXISTS (SELECT 1 FROM schema_migrations);"
    "CREATE TABLE IF NOT EXISTS project (project_id serial PRIMARY KEY, name text UNIQUE);"
    "INSERT INTO project (name) VALUES ('library') ON CONFLICT DO NOTHING;"
)


def migrate():
    """What core does before it serves: the schema, or the reason it exits."""
    migrated.clear()
    conninfo = (
        " ".join(
            f"{key}={env(name)}"
            for key, name in (
                ("host", "POSTGRESQL_HOST"),
                ("port", "POSTGRESQL_PORT"),
                ("user", "POSTGRESQL_USERNAME"),
                ("dbname", "POSTGRESQL_DATABASE"),
                ("sslmode", "POSTGRESQL_SSLMODE"),
            )
        )
        + " connect_timeout=5"
    )
    command = ["psql", conninfo, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", MIGRATE_SQL]
    environ = {"PATH": "/usr/bin:/bin", "PGPASSWORD": env("POSTGRESQL_PASSWORD")}
    while True:
        done = subprocess.run(command, env=environ, capture_output=True, text=True)
        with open(os.path.join(STATE, "core.log"), "a") as log:
            log.write(done.stderr or "migrated\n")
        if done.returncode == 0:
            migrated.set()
            return
        time.sleep(2)  # docker restarts core, which tries again


def load():
    """(Re)read the record; server.generation tells the compose double it was read. A new
    core container migrates before it serves."""
    global record
    with open(RECORD) as f:
        record = json.load(f)
    threading.Thread(target=migrate, daemon=True).start()
    with open(os.path.join(STATE, "server.generation"), "w") as f:
        f.write(str(record.get("generation", 0)))


def env(name, default=""):
    return record.get("core_env", {}).get(name, default)


def tcp_ok(host, port, timeout=2.0):
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def db_error():
    host, port = env("POSTGRESQL_HOST"), env("POSTGRESQL_PORT", "5432")
    if tcp_ok(host, port):
        return None
    who = f"host={host} user={env('POSTGRESQL_USERNAME')} database={env('POSTGRESQL_DATABASE')}"
    return (
        f"failed to connect to `{who}`: dial error (dial tcp {host}:{port}: connect: "
        "connection refused)"
    )


def redis_error():
    url = urlsplit(env("_REDIS_URL_CORE"))
    hosts = url.netloc.split("@")[-1].split(",")
    for hostport in hosts:
        host, _, port = hostport.rpartition(":")
        if tcp_ok(host, port or 6379):
            return None
    return f"dial tcp {hosts[0]}: connect: connection refused"


class Handler(BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def _send(self, code, body, ctype="application/json", headers=()):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Harbor-Node", NODE)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _core(self, code, body, ctype="application/json; charset=utf-8", headers=()):
        key = env("CSRF_KEY")
        extra = [("X-Request-Id", str(uuid.uuid4()))]
        if key:
            extra.append(("X-Standin-Csrf-Key-Sha256", hashlib.sha256(key.encode()).hexdigest()))
        return self._send(code, body, ctype, extra + list(headers))

    def do_GET(self):
        secure = isinstance(self.connection, ssl.SSLSocket)
        if record.get("https_port") and not secure:
            host = re.sub(r":[0-9]*$", "", self.headers.get("Host", "")).lower()
            location = f"https://{host}:{record['https_port']}{self.path}"
            page = (
                "<html>\r\n<head><title>308 Permanent Redirect</title></head>\r\n<body>\r\n"
                "<center><h1>308 Permanent Redirect</h1></center>\r\n<hr><center>nginx</center>\r\n"
                "</body>\r\n</html>\r\n"
            )
            return self._send(308, page, "text/html", [("Location", location)])
        path = self.path.split("?", 1)[0]
        now = time.time()
        is_core = path.startswith(CORE_PATHS)
        if now < record.get("ready_at", 0) or (is_core and now < record.get("core_ready_at", 0)):
            return self._send(502, BAD_GATEWAY, "text/html")
        if is_core and (not migrated.is_set() or record.get("proxy_stale")):
            return self._send(502, BAD_GATEWAY, "text/html")
        if not is_core:
            body = f"<html><title>Harbor</title><body>Harbor stand-in on {NODE}</body></html>"
            return self._send(200, body, "text/html")
        if path == "/api/v2.0/ping":
            return self._core(200, "Pong", "text/plain")
        if path == "/api/v2.0/health":
            checks = {n: None for n in ("core", "jobservice", "portal", "registry", "registryctl")}
            checks["database"], checks["redis"] = db_error(), redis_error()
            if env("WITH_TRIVY") == "True":
                checks["trivy"] = None
            components = []
            for name in sorted(checks):
                item = {"name": name, "status": "unhealthy" if checks[name] else "healthy"}
                if checks[name]:
                    item = {"error": checks[name], **item}
                components.append(item)
            status = "unhealthy" if any(checks.values()) else "healthy"
            return self._core(200, json.dumps({"components": components, "status": status}))
        if path == "/api/v2.0/systeminfo":
            if db_error():
                return self._core(500, INTERNAL + "\n")
            info = {
                "auth_mode": "db_auth",
                "banner_message": "",
                "oidc_provider_name": "",
                "primary_auth_mode": False,
                "self_registration": False,
            }
            return self._core(200, json.dumps(info))
        if path == "/api/v2.0/projects":
            if db_error():
                return self._core(500, INTERNAL + "\n")
            library = {
                "project_id": 1,
                "name": "library",
                "owner_id": 1,
                "owner_name": "admin",
                "registry_id": 0,
                "repo_count": 0,
                "metadata": {"public": "true"},
                "deleted": False,
            }
            return self._core(200, json.dumps([library]), headers=[("X-Total-Count", "1")])
        message = {"errors": [{"code": "NOT_FOUND", "message": f"path {path} not found"}]}
        return self._core(404, json.dumps(message))

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        pass


def failed(address, port):
    with open(os.path.join(STATE, "server.failed"), "w") as f:
        f.write(f"bind {address}:{port}\n")
    sys.exit(1)


def http_server(address, port):
    try:
        server = ThreadingHTTPServer((address, port), Handler)
    except OSError:
        failed(address, port)
    server.daemon_threads = True
    return server


def swallow(address, port):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError:
        failed(address, port)
    sock.listen(16)

    def drain(conn):
        with contextlib.suppress(OSError), conn:
            while conn.recv(65536):
                pass

    def serve():
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=drain, args=(conn,), daemon=True).start()

    return serve


def main():
    load()
    loops = [swallow("127.0.0.1", 1514)]
    servers = [http_server("0.0.0.0", int(record["http_port"]))]
    if record.get("https_port"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert = record["cert_dir"]
        ctx.load_cert_chain(os.path.join(cert, "server.crt"), os.path.join(cert, "server.key"))
        tls = http_server("0.0.0.0", int(record["https_port"]))
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        servers.append(tls)
    loops += [s.serve_forever for s in servers]

    def stop(*_):
        for name in ("server.pid", "server.ready", "server.generation"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(STATE, name))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, lambda *_: load())
    with open(os.path.join(STATE, "server.pid"), "w") as f:
        f.write(str(os.getpid()))
    for loop in loops:
        threading.Thread(target=loop, daemon=True).start()
    open(os.path.join(STATE, "server.ready"), "w").close()
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
