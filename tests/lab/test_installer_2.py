"""Acceptance: the stand-in Harbor v2.15.2 installer behaves like the real one.

What the real install.sh / prepare (make/photon/prepare, read at v2.15.2) accept and
refuse, which shared files under /data/secret they keep or regenerate, and what compose
recreates on `up -d`; run inside lab hosts as the wizard runs it (as root over SSH).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fabric
import pytest
from ruamel.yaml import YAML

from tests.lab import Lab
from tests.lab.installer import IMAGES_2, build_installer_2, upstream_harbor_yml_tmpl

from .test_installer import get, knob, refused

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

TGZ = "harbor-offline-installer-v2.15.2.tgz"
INSTALL = "cd /opt/harbor && unset host && ./install.sh"
PREPARE = "cd /opt/harbor && ./prepare"
ENV = "/opt/harbor/common/config/core/env"
SECRETKEY = "0123456789abcdef"
LEFTOVERS = (
    "/opt/harbor /root/harbor-offline-installer-v2.15.2.tgz /data/secret /data/cert"
    " /data/ca_download /data/job_logs /data/database /data/redis /data/trivy-adapter"
    " /data/secretkey /data/harbor-standin /var/lib/docker/harbor-standin"
)


@pytest.fixture(scope="module")
def installer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_installer_2(tmp_path_factory.mktemp("installer-2"))


@pytest.fixture
def node(lab: Lab) -> Iterator[str]:
    """A node without Harbor, and the empty `registry` database its core migrates on start
    (the stand-in core does as core's golang-migrate; without it core never serves)."""
    name = lab.harbor_nodes[0].name
    _reset(lab, name)
    with lab.postgres.sql() as pg:
        pg.execute("DROP DATABASE IF EXISTS registry WITH (FORCE)")
        pg.execute("CREATE DATABASE registry")
    yield name
    _reset(lab, name)
    with lab.postgres.sql() as pg:
        pg.execute("DROP DATABASE IF EXISTS registry WITH (FORCE)")


def _reset(lab: Lab, name: str) -> None:
    lab.reset_harbor_node(name)  # stops the stand-in server, removes /data/harbor-standin
    lab[name].run(f"rm -rf {LEFTOVERS}")


def harbor_yml(lab: Lab, *, https: bool = True, **changes: Any) -> dict[str, Any]:
    """The upstream template as the wizard fills it: external PostgreSQL and Redis."""
    y: dict[str, Any] = YAML(typ="safe").load(upstream_harbor_yml_tmpl().read_text())
    y["hostname"] = lab.vip
    if https:
        y["https"] = {
            "port": 443,
            "certificate": "/data/cert/server.crt",
            "private_key": "/data/cert/server.key",
        }
    else:
        del y["https"]
    del y["database"]
    y["external_database"] = {
        "harbor": {
            "host": lab.postgres.ip,
            "port": lab.postgres.port,
            "db_name": "registry",
            "username": "postgres",
            "password": lab.postgres.password,
            "ssl_mode": "disable",
            "max_idle_conns": 2,
            "max_open_conns": 0,
        }
    }
    y["external_redis"] = {
        "host": lab.redis_auth.endpoint,
        "password": "p@ss:w/rd",  # url-quoted in the URLs
        "registry_db_index": 1,
        "jobservice_db_index": 2,
        "trivy_db_index": 5,
        "idle_timeout_seconds": 30,
    }
    y["jobservice"]["job_loggers"] = ["DB"]
    y["log"]["level"] = "info"
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = y
        for key in parents:
            target = target[key]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return y


def unpack(conn: fabric.Connection, installer: Path, y: dict[str, Any] | str) -> None:
    """Upload, unpack into /opt, write harbor.yml and the shared files (as the wizard)."""
    conn.put(str(installer), "/root/")
    conn.run(f"tar xzf /root/{TGZ} -C /opt", hide=True)
    write_yml(conn, y)
    conn.run(
        "set -e; umask 077; mkdir -p /data/secret/keys /data/secret/core /data/secret/registry"
        f" /data/cert /data/ca_download; printf %s {SECRETKEY} > /data/secret/keys/secretkey;"
        " openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=token"
        " -keyout /data/secret/core/private_key.pem -out /data/secret/registry/root.crt"
        " 2>/dev/null; openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=harbor"
        " -keyout /data/cert/server.key -out /data/cert/server.crt 2>/dev/null;"
        " cp /data/cert/server.crt /data/ca_download/ca.crt",
        hide=True,
    )


def write_yml(conn: fabric.Connection, y: dict[str, Any] | str) -> None:
    if isinstance(y, str):
        text = y
    else:
        out = io.StringIO()
        YAML(typ="safe", pure=True).dump(y, out)
        text = out.getvalue()
    conn.run(f"cat > /opt/harbor/harbor.yml <<'EOF'\n{text}EOF", hide=True)


def read_env(conn: fabric.Connection) -> dict[str, str]:
    text = conn.run(f"cat {ENV}", hide=True).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def sha(conn: fabric.Connection, path: str) -> str:
    return conn.run(f"sha256sum {path}", hide=True).stdout.split()[0]


def stat(conn: fabric.Connection, path: str) -> str:
    return conn.run(f"stat -c '%u:%g %a' {path}", hide=True).stdout.strip()


def wait_core(url: str, timeout: float = 15) -> tuple[int, str, dict[str, str]]:
    deadline = time.monotonic() + timeout
    answer = get(url, insecure=True)
    while answer[0] == 502 and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = get(url, insecure=True)
    return answer


def csrf_sha(env: dict[str, str]) -> str:
    return hashlib.sha256(env["CSRF_KEY"].encode()).hexdigest()


# -- the package ----------------------------------------------------------------------
def test_build_installer_2_is_shaped_like_the_real_one(tmp_path: Path) -> None:
    tgz = build_installer_2(tmp_path)
    assert tgz.name == TGZ
    with tarfile.open(tgz) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        # the Makefile's `tar -zcvf ... harbor/harbor.v2.15.2.tar.gz harbor/prepare ...`
        assert names == [
            "harbor/harbor.v2.15.2.tar.gz",
            "harbor/prepare",
            "harbor/LICENSE",
            "harbor/install.sh",
            "harbor/common.sh",
            "harbor/harbor.yml.tmpl",
        ]
        modes = {m.name.split("/")[1]: m.mode for m in members}
        tmpl = tar.extractfile("harbor/harbor.yml.tmpl").read()  # type: ignore[union-attr]
        images = tar.extractfile("harbor/harbor.v2.15.2.tar.gz").read()  # type: ignore[union-attr]
    assert modes["install.sh"] & 0o111
    assert modes["prepare"] & 0o111
    assert not modes["common.sh"] & 0o111  # 100644 in the repository, sourced
    assert tmpl == upstream_harbor_yml_tmpl().read_bytes()
    assert b"_version: 2.15.0" in tmpl
    (tmp_path / "images.tgz").write_bytes(images)
    with tarfile.open(tmp_path / "images.tgz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    tags = [t for image in manifest for t in image["RepoTags"]]
    assert tags == IMAGES_2
    assert "goharbor/prepare:v2.15.2" in tags


# -- install.sh -------------------------------------------------------------------------
def test_install_flags_are_the_real_ones(lab: Lab, node: str, installer: Path) -> None:
    with lab.connect(node) as conn:
        unpack(conn, installer, harbor_yml(lab))
        run = lambda cmd: conn.run(cmd, hide=True, warn=True)  # noqa: E731
        helped = run(f"{INSTALL} --help")
        assert helped.exited == 0
        assert "Please set --with-trivy if needs enable Trivy in Harbor." in helped.stdout
        for flag in ("--with-clair", "--with-notary", "--ha", "--with-chartmuseum", "-h"):
            result = run(f"{INSTALL} {flag}")
            assert result.exited == 1, flag
            assert "Please do NOT set --with-notary" in result.stdout
        assert run("test -e /opt/harbor/common").failed  # refused before prepare ran
        assert run("test -e /var/lib/docker/harbor-standin").failed  # and before docker load


def test_https_install_with_external_services_serves_core(
    lab: Lab, node: str, installer: Path
) -> None:
    ip = lab[node].ip
    with lab.connect(node) as conn:
        unpack(conn, installer, harbor_yml(lab))
        kept = {
            p: sha(conn, p)
            for p in ("/data/secret/core/private_key.pem", "/data/secret/registry/root.crt")
        }
        result = conn.run(f"{INSTALL} --with-trivy", hide=True)
        out = result.stdout
        env = read_env(conn)
        files = {
            p: stat(conn, p)
            for p in (
                "/data/secret/keys/secretkey",
                "/data/secret/core/private_key.pem",
                "/data/secret/registry/root.crt",
                "/data/secret/cert",
                "/data/secret/cert/server.crt",
                "/data/secret/cert/server.key",
                "/data/ca_download",
                "/data/ca_download/ca.crt",
                ENV,
                "/opt/harbor/docker-compose.yml",
                "/data/database",
            )
        }
        assert conn.run("cat /data/secret/keys/secretkey", hide=True).stdout == SECRETKEY
        assert {p: sha(conn, p) for p in kept} == kept
        assert sha(conn, "/data/secret/cert/server.crt") == sha(conn, "/data/cert/server.crt")
        jobservice = conn.run("cat /opt/harbor/common/config/jobservice/config.yml", hide=True)
        compose = conn.run("cat /opt/harbor/docker-compose.yml", hide=True).stdout
        assert conn.run("test -e /opt/harbor/input", hide=True, warn=True).failed
    for step, text in enumerate(
        [
            "checking if docker is installed ...",
            "checking docker-compose is installed ...",
            "loading Harbor images ...",
            "preparing environment ...",
            "preparing harbor configs ...",
            "starting Harbor ...",
        ]
    ):
        assert f"[Step {step}]: {text}" in out
    assert "Docker Compose version v2.29.7" in out
    assert "Loaded image: goharbor/harbor-core:v2.15.2" in out
    assert "loaded secret from file: /data/secret/keys/secretkey" in out
    assert "Generated configuration file: /config/core/env" in out
    assert "----Harbor has been installed and started successfully.----" in out
    assert " Container harbor-core Started " in result.stderr
    # prepare's owners and modes (mark_file: 0600 10000:10000; core/env 0640 root)
    assert files["/data/secret/keys/secretkey"] == "10000:10000 600"
    assert files["/data/secret/core/private_key.pem"] == "10000:10000 600"  # kept: chown only
    assert files["/data/secret/cert"] == "10000:10000 755"
    assert files["/data/secret/cert/server.key"] == "10000:10000 600"
    assert files["/data/secret/cert/server.crt"] == "10000:10000 600"
    assert files["/data/ca_download"] == "10000:10000 755"
    assert files["/data/ca_download/ca.crt"].startswith("10000:10000 ")  # recursive chown
    assert files[ENV] == "0:0 640"
    assert files["/opt/harbor/docker-compose.yml"] == "0:0 644"
    assert files["/data/database"] == "999:999 700"  # made even with an external database
    # core's environment, as env.jinja renders it
    assert re.fullmatch(r"[A-Za-z0-9]{32}", env["CSRF_KEY"])
    assert env["POSTGRESQL_HOST"] == lab.postgres.ip
    assert env["POSTGRESQL_PASSWORD"] == lab.postgres.password
    assert env["EXT_ENDPOINT"] == f"https://{lab.vip}"
    assert env["_REDIS_URL_CORE"] == (
        f"redis://:p%40ss%3Aw%2Frd@{lab.redis_auth.endpoint}?idle_timeout_seconds=30"
    )
    assert env["_REDIS_URL_REG"].endswith(f"@{lab.redis_auth.endpoint}/1?idle_timeout_seconds=30")
    assert env["WITH_TRIVY"] == "True"
    assert re.fullmatch(r"[A-Za-z0-9]{16}", env["CORE_SECRET"])
    assert '- name: "DB"' in jobservice.stdout
    assert "harbor-db" not in compose  # external
    assert "  redis:" not in compose
    assert "trivy-adapter" in compose
    # the containers: nginx's 308 (port always written), core behind it
    status, _, headers = get(f"http://{ip}/api/v2.0/systeminfo")
    assert (status, headers["Location"]) == (308, f"https://{ip}:443/api/v2.0/systeminfo")
    status, body, headers = wait_core(f"https://{ip}/api/v2.0/systeminfo")
    assert status == 200
    info = json.loads(body)
    assert info["auth_mode"] == "db_auth"
    assert info["primary_auth_mode"] is False
    assert "harbor_version" not in info  # protected: not shown to anonymous callers
    assert headers["X-Standin-Csrf-Key-Sha256"] == csrf_sha(env)
    status, body, _ = get(f"https://{ip}/api/v2.0/projects?page_size=1", insecure=True)
    assert status == 200
    assert [p["name"] for p in json.loads(body)] == ["library"]  # public from the start
    assert get(f"https://{ip}/api/v2.0/ping", insecure=True)[:2] == (200, "Pong")
    health = json.loads(get(f"https://{ip}/api/v2.0/health", insecure=True)[1])
    assert health["status"] == "healthy"
    assert [c["name"] for c in health["components"]] == [
        "core",
        "database",
        "jobservice",
        "portal",
        "redis",
        "registry",
        "registryctl",
        "trivy",
    ]


def test_core_without_its_database_never_serves(lab: Lab, node: str, installer: Path) -> None:
    """Core migrates before it serves (src/common/dao/pgsql.go) and exits when it cannot:
    docker restarts it in a loop, so nginx answers 502 on core's paths."""
    ip = lab[node].ip
    y = harbor_yml(lab, https=False)
    y["external_database"]["harbor"]["port"] = 5499  # nothing listens there
    with lab.connect(node) as conn:
        unpack(conn, installer, y)
        result = conn.run(INSTALL, hide=True)
        assert "WARNING:root:WARNING: HTTP protocol is insecure" in result.stderr
        time.sleep(3)
        assert get(f"http://{ip}/api/v2.0/ping")[0] == 502
        assert get(f"http://{ip}/")[0] == 200  # the portal, behind the same nginx
        log = conn.run("cat /data/harbor-standin/core.log", hide=True).stdout
    assert "5499" in log
    assert refused(lab, node, 443)  # http only: 443 is not published


def test_core_that_loses_its_database_answers_500(lab: Lab, node: str, installer: Path) -> None:
    ip = lab[node].ip
    with lab.connect(node) as conn:
        unpack(conn, installer, harbor_yml(lab, https=False))
        conn.run(INSTALL, hide=True)
    assert wait_core(f"http://{ip}/api/v2.0/systeminfo")[0] == 200
    lab.postgres.stop()
    try:
        status, body, _ = get(f"http://{ip}/api/v2.0/projects?page_size=1")
        assert status == 500
        assert json.loads(body) == {
            "errors": [{"code": "UNKNOWN", "message": "internal server error"}]
        }
        # systeminfo reads the configuration from the database too (config.GetSystemCfg)
        assert get(f"http://{ip}/api/v2.0/systeminfo")[0] == 500
        assert get(f"http://{ip}/api/v2.0/ping")[:2] == (200, "Pong")
        health = json.loads(get(f"http://{ip}/api/v2.0/health")[1])
        assert health["status"] == "unhealthy"
        database = next(c for c in health["components"] if c["name"] == "database")
        assert "connection refused" in database["error"]
    finally:
        lab.postgres.start()


def test_compose_up_recreates_core_only_when_its_env_changed(
    lab: Lab, node: str, installer: Path
) -> None:
    ip = lab[node].ip
    knob(lab, node, "ready-seconds", 1)
    with lab.connect(node) as conn:
        unpack(conn, installer, harbor_yml(lab, https=False))
        conn.run(INSTALL, hide=True)
        first = wait_core(f"http://{ip}/api/v2.0/systeminfo")[2]["X-Standin-Csrf-Key-Sha256"]
        assert first == csrf_sha(read_env(conn))
        same = conn.run("cd /opt/harbor && docker compose up -d", hide=True).stderr
        assert " Container harbor-core Running " in same
        assert "Recreate" not in same
        shared = "S" * 32  # the wizard's deployment-wide key
        conn.run(f"sed -i 's/^CSRF_KEY=.*/CSRF_KEY={shared}/' {ENV}", hide=True)
        again = conn.run("cd /opt/harbor && docker compose up -d", hide=True).stderr
    assert " Container harbor-core Recreate " in again
    assert " Container harbor-core Recreated " in again
    assert " Container harbor-core Started " in again
    for other in (
        "harbor-log",
        "registry",
        "registryctl",
        "harbor-portal",
        "harbor-jobservice",
        "nginx",
    ):
        assert f" Container {other} Running " in again, other
    assert get(f"http://{ip}/")[0] == 200  # the proxy kept running
    # ... with core's old address (nginx resolved `core` at its own start): 502, for good
    time.sleep(1.5)
    assert get(f"http://{ip}/api/v2.0/systeminfo")[0] == 502
    with lab.connect(node) as conn:
        restarted = conn.run("cd /opt/harbor && docker compose restart proxy", hide=True).stderr
    assert " Container nginx Restarting " in restarted
    headers = wait_core(f"http://{ip}/api/v2.0/systeminfo")[2]
    assert headers["X-Standin-Csrf-Key-Sha256"] == hashlib.sha256(shared.encode()).hexdigest()


# -- prepare: the shared files ------------------------------------------------------------
def test_prepare_keeps_shared_keys_and_renews_csrf_key(
    lab: Lab, node: str, installer: Path
) -> None:
    with lab.connect(node) as conn:
        unpack(conn, installer, harbor_yml(lab))
        conn.run("cd /opt/harbor && docker load -i harbor.v2.15.2.tar.gz", hide=True)
        pair = ("/data/secret/core/private_key.pem", "/data/secret/registry/root.crt")
        before = {p: sha(conn, p) for p in pair}
        conn.run(PREPARE, hide=True)
        first = read_env(conn)
        conn.run(PREPARE, hide=True)
        second = read_env(conn)
        assert {p: sha(conn, p) for p in pair} == before  # both present: kept
        assert conn.run("cat /data/secret/keys/secretkey", hide=True).stdout == SECRETKEY
        # one of the pair missing: prepare makes a NEW pair (the kept key is overwritten)
        conn.run("rm /data/secret/registry/root.crt", hide=True)
        out = conn.run(PREPARE, hide=True).stdout
        renewed = {p: sha(conn, p) for p in pair}
        # no secretkey: made (16 characters, no newline)
        conn.run("rm /data/secret/keys/secretkey", hide=True)
        made = conn.run(PREPARE, hide=True).stdout
        key = conn.run("cat /data/secret/keys/secretkey", hide=True).stdout
        # a 1.x secretkey at /data/secretkey is moved over the shared one
        conn.run("printf %s fedcba9876543210 > /data/secretkey", hide=True)
        conn.run(PREPARE, hide=True)
        moved = conn.run("cat /data/secret/keys/secretkey", hide=True).stdout
    assert first["CSRF_KEY"] != second["CSRF_KEY"]
    assert first["CORE_SECRET"] != second["CORE_SECRET"]
    assert "Successfully called func: create_root_cert" in out
    assert all(renewed[p] != before[p] for p in pair)
    assert "Generated and saved secret to file: /data/secret/keys/secretkey" in made
    assert re.fullmatch(r"[A-Za-z0-9]{16}", key)
    assert moved == "fedcba9876543210"


# -- prepare: what it accepts and refuses ------------------------------------------------
def _cases(lab: Lab) -> list[tuple[str, dict[str, Any] | str, int, str]]:
    """(what, harbor.yml, exit status, message) as the real v2.15.2 prepare answers."""
    y = harbor_yml(lab)
    both = copy.deepcopy(y)
    both["redis"] = {"host": "10.9.9.9:6379"}
    return [
        (
            "the template's hostname",
            harbor_yml(lab, hostname="reg.mydomain.com"),
            255,
            "ERROR:root:Please specify hostname",
        ),
        (
            "127.0.0.1",
            harbor_yml(lab, hostname="127.0.0.1"),
            255,
            "ERROR:root:127.0.0.1 can not be the hostname",
        ),
        (
            "the template's certificate",
            harbor_yml(lab, https__certificate="/your/certificate/path"),
            255,
            "ERROR:root:Error: The protocol is https but attribute ssl_cert is not set",
        ),
        (
            "a missing certificate file",
            harbor_yml(lab, https__certificate="/data/cert/none.crt"),
            1,
            "FileNotFoundError: [Errno 2] No such file or directory: '/hostfs/data/cert/none.crt'",
        ),
        (
            "no job_loggers",
            harbor_yml(lab, jobservice__job_loggers=None),
            1,
            "KeyError: 'job_loggers'",
        ),
        (
            "no ssl_mode",
            harbor_yml(lab, external_database__harbor__ssl_mode=None),
            1,
            "KeyError: 'ssl_mode'",
        ),
        (
            "log level INFO",
            harbor_yml(lab, log__level="INFO"),
            1,
            "log level must be one of debug, info, warning, error, fatal",
        ),
        (
            "purge age 1h",
            harbor_yml(lab, upload_purging__age="1h"),
            255,
            "ERROR:root:purge upload age should set with with nh",
        ),
        ("not YAML", "data_volume: /data\nhostname: [\n", 1, "yaml.parser.ParserError"),
        # accepted: prepare does not read _version (upgrading harbor.yml is `migrate`)
        ("_version 2.14.0", harbor_yml(lab, _version="2.14.0"), 0, "Clean up the input dir"),
        ("no _version", harbor_yml(lab, _version=None), 0, "Clean up the input dir"),
        ("localhost", harbor_yml(lab, hostname="localhost"), 0, "Clean up the input dir"),
        ("internal redis block wins", both, 0, "Clean up the input dir"),
    ]


def test_prepare_accepts_and_refuses_as_the_real_one(lab: Lab, node: str, installer: Path) -> None:
    with lab.connect(node) as conn:
        unpack(conn, installer, harbor_yml(lab))
        no_image = conn.run(PREPARE, hide=True, warn=True)
        assert no_image.exited == 125  # docker run: goharbor/prepare not loaded
        assert "Unable to find image 'goharbor/prepare:v2.15.2' locally" in no_image.stderr
        conn.run("cd /opt/harbor && docker load -i harbor.v2.15.2.tar.gz", hide=True)
        for what, y, status, message in _cases(lab):
            write_yml(conn, y)
            result = conn.run(PREPARE, hide=True, warn=True)
            assert result.exited == status, (what, result.stdout, result.stderr)
            assert message in result.stdout + result.stderr, what
            if status == 255:
                assert "Error happened in config validation..." in result.stdout
            if status:  # `set -e`: the input folder stays behind
                assert conn.run("test -d /opt/harbor/input", warn=True).ok
        # the last case: an internal `redis:` block's values win over external_redis
        env = read_env(conn)
        assert env["_REDIS_URL_CORE"] == "redis://10.9.9.9:6379?idle_timeout_seconds=30"
        # a secretkey with a newline is 17 characters: refused after the configs were made
        write_yml(conn, harbor_yml(lab))
        conn.run(f"echo {SECRETKEY} > /data/secret/keys/secretkey", hide=True)
        newline = conn.run(PREPARE, hide=True, warn=True)
    assert newline.exited == 1
    assert "secret key's length has to be 16 chars, current length: 17" in newline.stderr
    assert "Generated configuration file: /config/core/env" in newline.stdout


def test_host_variable_rewrites_hostname(lab: Lab, node: str, installer: Path) -> None:
    with lab.connect(node) as conn:
        unpack(conn, installer, harbor_yml(lab, https=False))
        conn.run("cd /opt/harbor && host=trap.example ./install.sh", hide=True)
        yml = conn.run("grep ^hostname: /opt/harbor/harbor.yml", hide=True).stdout
        env = read_env(conn)
    assert yml.strip() == "hostname: trap.example"
    assert env["EXT_ENDPOINT"] == "http://trap.example"


def test_without_the_compose_plugin_docker_compose_is_used(
    lab: Lab, node: str, installer: Path
) -> None:
    lab[node].run(
        "mkdir -p /data/harbor-standin && echo absent > /data/harbor-standin/compose-plugin"
    )
    with lab.connect(node) as conn:
        unpack(conn, installer, harbor_yml(lab, https=False))
        result = conn.run(INSTALL, hide=True)
        again = conn.run("cd /opt/harbor && docker-compose up -d", hide=True)
    assert "docker-compose version: 1.29.2" in result.stdout
    assert "Creating harbor-core ... done" in result.stderr
    assert "harbor-core is up-to-date" in again.stderr
    assert wait_core(f"http://{lab[node].ip}/api/v2.0/systeminfo")[0] == 200
