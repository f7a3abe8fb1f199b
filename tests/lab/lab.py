"""The lab: a bridge, the hosts, the services, keys, and the helpers tests use.

`Lab.start(LabConfig(...))` builds a lab and returns it running; `lab.stop()` (or leaving
`with Lab.start() as lab:`) removes it. Tests get the session's lab from the `lab`
fixture (tests/conftest.py) and reach hosts with `lab.connect(name)` (fabric, host keys
verified) or `lab[name].run(cmd)` (nsenter, no SSH).
"""

from __future__ import annotations

import fcntl
import glob
import os
import secrets
import signal
import string
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fabric
import paramiko
from psycopg import sql
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from . import net, state
from .hosts import Host
from .installer import INSTALLER_2_NAME, build_installer, build_installer_2
from .services import MariaDB, Postgres, Redis
from .util import (
    LabError,
    missing_binaries,
    pid_alive,
    proc_start_time,
    read_pid,
    sh,
    wait_until,
)

MAX_HARBOR_NODES = net.MAX_HARBOR_NODES  # addresses .21-.40 (see net.py)
SECRET = "<secret>"
HOST_START_WORKERS = 8


def _password(length: int = 20) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def preflight() -> list[str]:
    """Why the lab cannot run on this machine (empty when it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the lab needs root (network and mount namespaces)")
    missing = missing_binaries()
    if missing:
        problems.append("missing: " + ", ".join(missing) + " (see tests/run.sh)")
    if find_python2() is None:
        problems.append(
            "no Python 2.7 on this machine: Harbor 1.4's prepare is Python 2 code that "
            "install.sh runs with the node's /usr/bin/python, so every install in the lab "
            "would fail; install one (`pyenv install 2.7.18`, or a python2.7 package) and "
            "run again"
        )
    return problems


def find_python2() -> tuple[str, str] | None:
    """A Python 2.7 interpreter for /usr/bin/python on Harbor nodes: (binary, prefix).

    prefix is set when the install sits under /root, which hosts do not see: it is then
    bound read-only at the same path (pyenv builds carry an absolute RUNPATH).
    """
    home = Path(os.environ.get("HOME", "/root"))
    pyenv = os.environ.get("PYENV_ROOT", str(home / ".pyenv"))
    candidates = [
        "/usr/bin/python2.7",
        "/usr/local/bin/python2.7",
        *sorted(glob.glob(f"{pyenv}/versions/2.7*/bin/python2.7")),
        *sorted(glob.glob("/root/.pyenv/versions/2.7*/bin/python2.7")),
    ]
    for cand in candidates:
        real = os.path.realpath(cand)
        if not os.access(real, os.X_OK):
            continue
        probe = sh([real, "-c", "import sys; print(sys.version_info[:2] == (2, 7))"], check=False)
        if probe.stdout.strip() == "True":
            prefix = str(Path(real).parent.parent)
            return real, prefix if prefix.startswith("/root/") else ""
    return None


@dataclass(frozen=True)
class LabConfig:
    """What to build. `unshared_nodes` get their own /data/registry (not the shared one)."""

    harbor_nodes: int = 2
    unshared_nodes: frozenset[str] = frozenset()
    subnet: str = field(default_factory=net.subnet_from_env)
    prefix: str | None = None
    persistent: bool = False  # `up`: the lab outlives the process that built it
    root: Path = state.LAB_ROOT
    # The stand-in docker-compose's times on every Harbor node (None: its defaults, 30 s
    # to create Harbor's containers, then 5 s of 502 while the UI starts). The test session
    # sets short ones; a test may override a node's in /data/harbor-standin/<knob>.
    up_seconds: float | None = None
    ready_seconds: float | None = None


@dataclass
class Lab:
    """A running lab. Hosts by name in `hosts`; services as attributes."""

    config: LabConfig
    prefix: str
    subnet: net.Subnet
    hosts: dict[str, Host]
    mariadb: MariaDB
    postgres: Postgres
    redis: Redis
    redis_auth: Redis
    admin_password: str
    auth_pass: str
    installer: Path
    installer_2: Path
    """The stand-in Harbor 2.15 offline installer."""
    harbor_db_password: str
    """Harbor 2.x's PostgreSQL user `harbor` (CREATEDB, owns nothing yet)."""
    _stopped: bool = False

    # -- building ---------------------------------------------------------------------
    @classmethod
    def start(cls, config: LabConfig | None = None) -> Lab:
        """Build and start a lab; on any failure remove what was built and re-raise."""
        config = config or LabConfig()
        problems = preflight()
        if problems:
            raise LabError("the lab cannot run here: " + "; ".join(problems))
        if not 1 <= config.harbor_nodes <= MAX_HARBOR_NODES:
            raise LabError(f"harbor_nodes must be 1..{MAX_HARBOR_NODES}")
        subnet = net.Subnet.parse(config.subnet)
        config.root.mkdir(mode=0o755, parents=True, exist_ok=True)
        # One lab at a time between "is the subnet free?" and "the bridge holds it".
        lock = os.open(config.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            net.check_no_overlap(subnet)
            prefix = config.prefix or state.new_prefix(config.root)
            if not net.PREFIX_RE.match(prefix) or (config.root / prefix).exists():
                raise LabError(f"lab prefix {prefix!r} is not hw+4 hex or is in use")
            labdir = config.root / prefix
            labdir.mkdir(mode=0o755)
            # Not persistent while building: a crashed `up` is stale like a crashed session.
            record = state.LabRecord(
                prefix,
                str(subnet.network),
                os.getpid(),
                proc_start_time(os.getpid()),
                False,
                time.time(),
            )
            record.save(config.root)
            try:
                net.create_bridge(net.Names(prefix), subnet)
            except BaseException:
                state.destroy(prefix, config.root)
                raise
        finally:
            os.close(lock)  # releases the flock
        try:
            lab = cls._build(config, prefix, subnet, labdir)
        except BaseException:
            state.destroy(prefix, config.root)
            raise
        if config.persistent:
            record.persistent = True
            record.save(config.root)
        return lab

    @classmethod
    def _build(cls, config: LabConfig, prefix: str, subnet: net.Subnet, labdir: Path) -> Lab:
        names = net.Names(prefix)
        hosts = _plan_hosts(config, names, subnet, labdir)
        key = labdir / "id_ed25519"
        comment = f"harbor-wizard-lab-{prefix}"
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key])
        (labdir / "shared-registry").mkdir()
        hosts_file = "127.0.0.1 localhost\n" + "".join(f"{h.ip} {h.name}\n" for h in hosts.values())
        python2 = find_python2()
        if python2 is None:  # preflight refused already, unless it was deleted meanwhile
            raise LabError("no Python 2.7 on this machine for the Harbor nodes' /usr/bin/python")
        authorized_key = key.with_suffix(".pub").read_text()

        def start_host(host: Host) -> None:
            net.create_netns(names, host.name, host.index, host.ip, subnet)
            host.prepare(authorized_key, hosts_file)
            host.launch(python2)
            host.wait_ready()
            host.start_sshd()

        # In parallel: each host is some 15 short commands (ip, ssh-keygen, sshd), 0.1 s
        # one after another, 2.5 s for a lab of 20 nodes.
        with ThreadPoolExecutor(max_workers=HOST_START_WORKERS) as pool:
            for job in [pool.submit(start_host, host) for host in hosts.values()]:
                job.result()
        knobs = {"up-seconds": config.up_seconds, "ready-seconds": config.ready_seconds}
        for host in hosts.values():
            if host.role == "harbor":
                for name, seconds in knobs.items():
                    if seconds is not None:
                        knob = host.path(f"/etc/harbor-standin/{name}")
                        knob.parent.mkdir(exist_ok=True)
                        knob.write_text(f"{seconds:g}\n")
        lab = cls(
            config=config,
            prefix=prefix,
            subnet=subnet,
            hosts=hosts,
            mariadb=MariaDB(hosts["db01"], _password()),
            postgres=Postgres(hosts["pg01"], _password()),
            redis=Redis(hosts["redis01"], 6379),
            redis_auth=Redis(hosts["redis01"], 6380, _password()),
            admin_password=_password(),
            auth_pass=_password(8),
            installer=labdir / "installer" / "harbor-offline-installer-v1.4.0.tgz",
            installer_2=labdir / "installer" / INSTALLER_2_NAME,
            harbor_db_password=_password(),
        )
        lab.write_known_hosts()
        with ThreadPoolExecutor(max_workers=5) as pool:
            jobs = [
                pool.submit(s.setup) for s in (lab.mariadb, lab.postgres, lab.redis, lab.redis_auth)
            ]
            jobs.append(pool.submit(build_installer, labdir / "installer"))
            jobs.append(pool.submit(build_installer_2, labdir / "installer"))
            for job in jobs:
                job.result()
        lab.add_harbor_db_user()
        return lab

    def add_harbor_db_user(self) -> None:
        """Harbor 2.x's database user as a DBA would make it: may log in and create a
        database, owns none (the wizard's database phase creates `registry` for it)."""
        with self.postgres.sql() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE harbor LOGIN CREATEDB PASSWORD {}").format(
                    sql.Literal(self.harbor_db_password)
                )
            )

    def stop(self) -> None:
        """Remove everything this lab made (idempotent)."""
        if not self._stopped:
            self._stopped = True
            state.destroy(self.prefix, self.config.root)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use ---------------------------------------------------------------
    @property
    def dir(self) -> Path:
        return self.config.root / self.prefix

    @property
    def key_path(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def vip(self) -> str:
        return self.subnet.vip

    @property
    def operator_ip(self) -> str:
        """The address of the test process on the lab network (the bridge)."""
        return self.subnet.gateway

    @property
    def bridge(self) -> str:
        return net.Names(self.prefix).bridge

    @property
    def lbs(self) -> list[Host]:
        return [h for h in self.hosts.values() if h.role == "lb"]

    @property
    def harbor_nodes(self) -> list[Host]:
        """Harbor nodes sharing /data/registry (the unshared ones are left out)."""
        return [
            h
            for h in self.hosts.values()
            if h.role == "harbor" and h.name not in self.config.unshared_nodes
        ]

    @property
    def unshared_nodes(self) -> list[Host]:
        return [h for h in self.hosts.values() if h.name in self.config.unshared_nodes]

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def connect(self, name: str, *, connect_timeout: int = 10) -> fabric.Connection:
        """A fabric Connection as root that verifies the host key against known_hosts.

        Local stdin is not forwarded (`run.in_stream` False): pass `in_stream=` to feed one.
        """
        conn = fabric.Connection(
            host=self.hosts[name].ip,
            user="root",
            port=22,
            connect_timeout=connect_timeout,
            config=fabric.Config(
                overrides={"load_ssh_configs": False, "run": {"in_stream": False}}
            ),
            connect_kwargs={
                "key_filename": str(self.key_path),
                "look_for_keys": False,
                "allow_agent": False,
            },
        )
        conn.client.load_host_keys(str(self.known_hosts_path))
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        return conn

    def write_known_hosts(self) -> None:
        """(Re)write known_hosts from the keys the hosts serve now (after replace_host_key)."""
        self.known_hosts_path.write_text(
            "".join(f"{h.ip} {h.host_public_key}\n" for h in self.hosts.values())
        )

    def reset_harbor_node(self, name: str) -> None:
        """Undo a stand-in Harbor install on a node: stop its server, remove its files."""
        host = self.hosts[name]
        pid = read_pid(host.path("/data/harbor-standin/server.pid"))
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), timeout=10, what="the stand-in server to exit")
        host.run(
            "rm -rf /root/harbor /root/harbor-offline-installer-v1.4.0.tgz"
            " /data/harbor-standin /data/secretkey /data/cert /data/ca_download"
        )

    def vip_holder(self) -> str | None:
        """Name of the LB whose eth0 carries the VIP, if any."""
        holders = [lb.name for lb in self.lbs if self.vip in lb.addresses()]
        if len(holders) > 1:
            raise LabError(f"VIP {self.vip} on several LBs: {holders}")
        return holders[0] if holders else None

    def wait_vip_holder(self, name: str, timeout: float = 10) -> float:
        """Wait until `name` holds the VIP; returns the seconds it took."""
        started = time.monotonic()
        wait_until(lambda: self.vip_holder() == name, timeout=timeout, what=f"the VIP on {name}")
        return time.monotonic() - started

    def clear_vip(self) -> None:
        """Remove the VIP from every LB (keepalived killed hard leaves it behind)."""
        for lb in self.lbs:
            sh(["ip", "-n", lb.netns, "addr", "del", f"{self.vip}/32", "dev", "eth0"], check=False)

    # -- answers ---------------------------------------------------------------------
    def answers_dict(
        self, harbor_nodes: Iterable[str] | None = None, release: str = "1.4"
    ) -> dict[str, Any]:
        """The wizard's answers file describing this lab; secrets carry `<secret>`."""
        data = self._answers_dict_14(harbor_nodes)
        if release == "1.4":
            return data
        data["harbor"] = {
            "version": DoubleQuotedScalarString("2.15.2"),
            "installer": str(self.installer_2),
            "hostname": self.vip,
            "protocol": "http",
            "with_trivy": True,
            "admin_password": SECRET,
        }
        data["database"] = {
            "host": self.postgres.ip,
            "port": self.postgres.port,
            "user": "harbor",
            "password": SECRET,
        }
        del data["clair_database"]
        data["redis"] = {"endpoints": [self.redis_auth.endpoint], "password": SECRET}
        return data

    def _answers_dict_14(self, harbor_nodes: Iterable[str] | None = None) -> dict[str, Any]:
        nodes = list(harbor_nodes) if harbor_nodes else [h.name for h in self.harbor_nodes]
        return {
            "version": 1,
            "name": "lab",
            "harbor": {
                "version": DoubleQuotedScalarString("1.4.0"),
                "installer": str(self.installer),
                "hostname": self.vip,
                "protocol": "http",
                "with_clair": True,
                "admin_password": SECRET,
            },
            "vip": self.vip,
            "ssh": {
                "user": "root",
                "port": 22,
                "identity_file": str(self.key_path),
                "known_hosts": str(self.known_hosts_path),
            },
            "load_balancer": {
                "mode": "haproxy",
                "interface": "eth0",
                "virtual_router_id": 51,
                "auth_pass": SECRET,
                "nodes": [
                    {"name": lb.name, "address": lb.ip, "priority": 100 - 10 * i}
                    for i, lb in enumerate(self.lbs)
                ],
            },
            "harbor_nodes": [{"name": n, "address": self.hosts[n].ip} for n in nodes],
            "database": {
                "host": self.mariadb.ip,
                "port": self.mariadb.port,
                "user": self.mariadb.user,
                "password": SECRET,
            },
            "clair_database": {
                "host": self.postgres.ip,
                "port": self.postgres.port,
                "user": self.postgres.user,
                "database": self.postgres.database,
                "password": SECRET,
            },
            "redis": {"endpoints": [self.redis.endpoint]},
            "storage": {"provider": "filesystem", "config": {}},
        }

    def secrets_dict(self, release: str = "1.4") -> dict[str, str]:
        """The secret values of the answers, by dotted field path."""
        if release != "1.4":
            assert self.redis_auth.password is not None
            return {
                "harbor.admin_password": self.admin_password,
                "load_balancer.auth_pass": self.auth_pass,
                "database.password": self.harbor_db_password,
                "redis.password": self.redis_auth.password,
            }
        return {
            "harbor.admin_password": self.admin_password,
            "load_balancer.auth_pass": self.auth_pass,
            "database.password": self.mariadb.password,
            "clair_database.password": self.postgres.password,
        }

    def write_answers(
        self, directory: Path | None = None, release: str = "1.4"
    ) -> tuple[Path, Path]:
        """Write answers.yaml and secrets.yaml (0600) into `directory` (the state dir)."""
        from ruamel.yaml import YAML

        directory = directory or self.dir
        yaml = YAML()
        yaml.default_flow_style = False
        yaml.width = 4096
        answers, secrets_file = directory / "answers.yaml", directory / "secrets.yaml"
        with answers.open("w") as out:
            out.write(f"# harbor-wizard answers for lab {self.prefix} (tests/lab)\n")
            yaml.dump(self.answers_dict(release=release), out)
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.dump(self.secrets_dict(release), out)
        return answers, secrets_file


def _plan_hosts(
    config: LabConfig, names: net.Names, subnet: net.Subnet, labdir: Path
) -> dict[str, Host]:
    """lb01, lb02, harbor01..N, db01 (MariaDB), pg01 (PostgreSQL), redis01 (Redis x2)."""
    harbor = [f"harbor{i:02d}" for i in range(1, config.harbor_nodes + 1)]
    unknown = set(config.unshared_nodes) - set(harbor)
    if unknown:
        raise LabError(f"unshared_nodes names no Harbor node of this lab: {sorted(unknown)}")
    plan = [(n, "lb", net.LB_OFFSET + i) for i, n in enumerate(("lb01", "lb02"))]
    plan += [(n, "harbor", net.HARBOR_OFFSET + i) for i, n in enumerate(harbor)]
    services = ("db01", "pg01", "redis01")
    plan += [(n, "service", net.SERVICE_OFFSET + i) for i, n in enumerate(services)]
    hosts = {}
    for index, (name, role, offset) in enumerate(plan):
        registry = None
        if role == "harbor":
            shared = name not in config.unshared_nodes
            registry = labdir / ("shared-registry" if shared else f"hosts/{name}/registry")
        doubles = ("systemctl", "docker", "docker-compose") if role == "harbor" else ("systemctl",)
        hosts[name] = Host(
            name=name,
            role=role,
            ip=subnet.addr(offset),
            index=index,
            netns=names.netns(name),
            veth=names.veth(index),
            dir=labdir / "hosts" / name,
            registry_dir=registry,
            doubles=doubles,
        )
    for host in hosts.values():
        if host.registry_dir is not None and host.name in config.unshared_nodes:
            host.registry_dir.mkdir(parents=True)
    return hosts
