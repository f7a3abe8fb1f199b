"""The external services Harbor 1.4 HA needs, started by hand inside service hosts.

There is no systemd here: each daemon is started with its real executable inside its
host's namespaces (so it listens on the host's address) and keeps its data, socket and
the pid file it writes in the host's directory. Credentials are chosen by the lab.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from .hosts import Host
from .util import LabError, pid_alive, read_pid, sh, tcp_open, wait_until, which


def _stop_pid(pidfile: Path, ip: str, port: int, sig: int = signal.SIGTERM) -> None:
    pid = read_pid(pidfile)
    if pid is not None:
        os.kill(pid, sig)
        wait_until(lambda: not pid_alive(pid), timeout=30, what=f"pid {pid} to exit")
    wait_until(lambda: not tcp_open(ip, port, 0.2), timeout=10, what=f"{ip}:{port} to close")


@dataclass
class MariaDB:
    """MariaDB 10.11 on `host`: `root'@'%'` with the lab's password. `name` is its data
    directory (several servers may share a host), `options` go to mariadbd as they are."""

    host: Host
    password: str
    port: int = 3306
    user: str = "root"
    name: str = "mariadb"
    options: tuple[str, ...] = ()

    @property
    def ip(self) -> str:
        return self.host.ip

    @property
    def datadir(self) -> Path:
        return self.host.dir / self.name

    @property
    def socket(self) -> Path:
        return self.datadir / "mysqld.sock"

    @property
    def pidfile(self) -> Path:
        return self.datadir / "mysqld.pid"

    def setup(self, users: bool = True) -> None:
        """Create the data directory, start, and create the lab's root@'%' (unless a
        Galera joiner gets them from its donor: `users=False`)."""
        self.datadir.mkdir()
        shutil.chown(self.datadir, "mysql", "mysql")
        self.host.run(
            f"mariadb-install-db --no-defaults --user=mysql --datadir={self.datadir}"
            " --auth-root-authentication-method=normal --skip-test-db"
            f" >{self.host.dir}/{self.name}-install.log 2>&1",
            timeout=120,
        )
        self.start()
        if not users:
            return
        pw = self.password
        sql = (
            f"CREATE USER 'root'@'%' IDENTIFIED BY '{pw}';"
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
            f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{pw}';"
        )
        sh([which("mariadb"), "--no-defaults", f"--socket={self.socket}", "-uroot", "-e", sql])

    def start(self) -> None:
        self.host.spawn(
            [
                which("mariadbd"),
                "--no-defaults",
                "--user=mysql",
                f"--datadir={self.datadir}",
                f"--bind-address={self.ip}",
                f"--port={self.port}",
                f"--socket={self.socket}",
                f"--pid-file={self.pidfile}",
                "--skip-name-resolve",
                "--innodb-flush-method=nosync",
                "--innodb-log-file-size=8M",
                "--innodb-buffer-pool-size=32M",
                f"--log-error={self.datadir}/mariadb.err",
                *self.options,
            ],
            self.host.dir / f"{self.name}.out",
        )
        wait_until(
            lambda: read_pid(self.pidfile) and tcp_open(self.ip, self.port),
            timeout=60,
            what="MariaDB to accept connections",
        )

    def stop(self) -> None:
        """Fault: the database goes away (clean shutdown)."""
        _stop_pid(self.pidfile, self.ip, self.port)

    @property
    def running(self) -> bool:
        return read_pid(self.pidfile) is not None


GALERA_PROVIDER = Path("/usr/lib/galera/libgalera_smm.so")
"""Debian's galera-4 (a dependency of mariadb-server)."""


@dataclass
class Galera:
    """A Galera cluster of `size` MariaDB nodes on one lab host: what `mariadb.ha` advises.

    Not part of the lab's start (it costs seconds and memory): tests start it when they
    need it and stop it after. Node 1 bootstraps the cluster (`gcomm://`, the one-node
    cluster); each further node joins it and receives node 1's data (users included) by
    rsync SST. Node i listens on 3306 + i for SQL and uses 4567/4568/4444 + 10*(i-1) for
    group communication, IST and SST: one address, distinct ports. Inside the host,
    traffic between the nodes goes over lo, so a `partition` of the host does not split
    the cluster.
    """

    host: Host
    password: str
    size: int = 2
    nodes: list[MariaDB] = field(init=False)

    def __post_init__(self) -> None:
        ip, first = self.host.ip, 4567
        self.nodes = []
        for i in range(1, self.size + 1):
            shift = 10 * (i - 1)
            gcomm = "gcomm://" if i == 1 else f"gcomm://{ip}:{first}"
            options = (
                "--wsrep-on=ON",
                f"--wsrep-provider={GALERA_PROVIDER}",
                f"--wsrep-cluster-address={gcomm}",
                "--wsrep-cluster-name=hw-lab",
                f"--wsrep-node-name=galera{i}",
                f"--wsrep-node-address={ip}:{first + shift}",
                f"--wsrep-sst-receive-address={ip}:{4444 + shift}",
                "--wsrep-sst-method=rsync",
                "--wsrep-provider-options="
                f"gmcast.listen_addr=tcp://{ip}:{first + shift};ist.recv_addr={ip}:{4568 + shift}",
                "--binlog-format=ROW",
                "--innodb-autoinc-lock-mode=2",
            )
            node = MariaDB(self.host, self.password, 3306 + i, name=f"galera{i}", options=options)
            self.nodes.append(node)

    def setup(self) -> None:
        if not GALERA_PROVIDER.exists():
            raise LabError(f"{GALERA_PROVIDER} not found: install Debian package galera-4")
        for i, node in enumerate(self.nodes):
            node.setup(users=i == 0)
        wait_until(lambda: self.cluster_size() == self.size, timeout=60, what="Galera to form")

    def cluster_size(self) -> int:
        out = sh(
            [
                which("mariadb"),
                "--no-defaults",
                f"--socket={self.nodes[0].socket}",
                "-uroot",
                f"-p{self.password}",
                "-N",
                "-e",
                "SHOW STATUS LIKE 'wsrep_cluster_size'",
            ],
            check=False,
        ).stdout.split()
        return int(out[1]) if len(out) == 2 and out[1].isdigit() else 0

    def stop(self) -> None:
        """Joiners first (each leaves cleanly), node 1 last; then their data is removed."""
        for node in reversed(self.nodes):
            if node.running:
                node.stop()
            shutil.rmtree(node.datadir, ignore_errors=True)


def _pg_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise LabError("PostgreSQL server binaries not found: install Debian package postgresql")
    return Path(found[-1]).parent


NETWORK_HBA = "host all all 0.0.0.0/0 "
"""The pg_hba.conf line the lab adds for clients on the network, up to its method."""


@dataclass
class Postgres:
    """PostgreSQL (Debian 12: 15) on `host`: user postgres, md5 from anywhere.

    md5 is what Harbor 1.4 can speak, not what PostgreSQL 14+ and the distributions set up
    (SCRAM-SHA-256): `with postgres.auth("scram-sha-256"):` gives a test those defaults and
    puts md5 back after (the lab is shared by the session).
    """

    host: Host
    password: str
    port: int = 5432
    user: str = "postgres"
    database: str = "postgres"

    @property
    def ip(self) -> str:
        return self.host.ip

    @property
    def datadir(self) -> Path:
        return self.host.dir / "pgdata"

    def _as_postgres(self, cmd: str, timeout: float = 60) -> None:
        self.host.run(
            f"setpriv --reuid=postgres --regid=postgres --init-groups -- {cmd}", timeout=timeout
        )

    def setup(self) -> None:
        """initdb with the lab's password, allow md5 from the network, start."""
        bindir = _pg_bindir()
        self.datadir.mkdir(mode=0o700)
        shutil.chown(self.datadir, "postgres", "postgres")
        pwfile = self.host.dir / "pgpass.tmp"
        pwfile.write_text(self.password + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        try:
            self._as_postgres(
                f"{bindir}/initdb -D {self.datadir} -U postgres --auth=md5 --pwfile={pwfile}"
                f" -E UTF8 --no-sync >{self.host.dir}/initdb.log 2>&1",
                timeout=120,
            )
        finally:
            pwfile.unlink()
        with (self.datadir / "pg_hba.conf").open("a") as hba:
            hba.write(NETWORK_HBA + "md5\n")
        self.start()

    def set_auth(self, encryption: str, hba: str | None = None) -> None:
        """Store the user's password under `password_encryption` = `encryption` (md5 or
        scram-sha-256), make that the server's setting, give the network line of
        pg_hba.conf the method `hba` (default: `encryption`), reload and wait for it."""
        with self.sql() as conn:
            conn.execute(sql.SQL("SET password_encryption = {}").format(sql.Literal(encryption)))
            alter = sql.SQL("ALTER ROLE {} PASSWORD {}")
            conn.execute(alter.format(sql.Identifier(self.user), sql.Literal(self.password)))
            if encryption == "md5":  # initdb --auth=md5 wrote md5 into postgresql.conf
                conn.execute("ALTER SYSTEM RESET password_encryption")
            else:
                setting = sql.SQL("ALTER SYSTEM SET password_encryption = {}")
                conn.execute(setting.format(sql.Literal(encryption)))
            loaded = self._load_time(conn)
        path = self.datadir / "pg_hba.conf"
        lines = path.read_text().splitlines(keepends=True)
        wanted = NETWORK_HBA + (hba or encryption) + "\n"
        path.write_text("".join(wanted if x.startswith(NETWORK_HBA) else x for x in lines))
        self.reload()

        def reloaded() -> bool:  # a new backend starts from the postmaster's load time
            with self.sql() as conn:
                return self._load_time(conn) > loaded

        wait_until(reloaded, timeout=10, what=f"PostgreSQL to reload ({encryption})")

    @staticmethod
    def _load_time(conn: psycopg.Connection) -> datetime:
        row = conn.execute("SELECT pg_conf_load_time()").fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]

    @contextmanager
    def auth(self, encryption: str, hba: str | None = None) -> Iterator[None]:
        """`set_auth` for the block, then pg_hba.conf as it was (lines the block added go
        too) and the lab's md5 again, whatever the block left."""
        path = self.datadir / "pg_hba.conf"
        original = path.read_text()
        self.set_auth(encryption, hba)
        try:
            yield
        finally:
            path.write_text(original)  # md5 lines: libpq logs in with either verifier
            self.reload()
            self.set_auth("md5")

    def reload(self) -> None:
        """pg_ctl reload (SIGHUP): no login needed, whatever pg_hba.conf said."""
        self._as_postgres(f"{_pg_bindir()}/pg_ctl -D {self.datadir} reload >/dev/null")

    def sql(self) -> psycopg.Connection:
        """A superuser session over the network (libpq: md5 and SCRAM alike). Retried for
        a few seconds: a reload takes effect a moment after its signal."""

        def attempt() -> psycopg.Connection | None:
            try:
                return psycopg.connect(
                    host=self.ip,
                    port=self.port,
                    user=self.user,
                    password=self.password,
                    dbname=self.database,
                    sslmode="disable",
                    connect_timeout=5,
                    autocommit=True,
                )
            except psycopg.OperationalError:
                return None

        return wait_until(attempt, timeout=10, interval=0.1, what="a PostgreSQL session")

    def start(self) -> None:
        opts = (
            f"-c listen_addresses={self.ip} -c port={self.port}"
            f" -c unix_socket_directories={self.datadir} -c fsync=off"
        )
        self._as_postgres(
            f"{_pg_bindir()}/pg_ctl -D {self.datadir} -l {self.datadir}/postgres.log"
            f" -w -t 60 -o '{opts}' start >/dev/null"
        )
        wait_until(lambda: tcp_open(self.ip, self.port), timeout=30, what="PostgreSQL")

    def stop(self) -> None:
        """Fault: the database goes away (fast shutdown)."""
        pidfile = self.datadir / "postmaster.pid"
        _stop_pid(pidfile, self.ip, self.port, signal.SIGINT)

    @property
    def running(self) -> bool:
        return read_pid(self.datadir / "postmaster.pid") is not None


@dataclass
class Redis:
    """A redis-server on `host`:`port`; with `password` it requires AUTH."""

    host: Host
    port: int = 6379
    password: str | None = None

    @property
    def ip(self) -> str:
        return self.host.ip

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.host.dir / f"redis-{self.port}.pid"

    def setup(self) -> None:
        (self.host.dir / f"redis-{self.port}").mkdir(exist_ok=True)
        self.start()

    def start(self) -> None:
        base = self.host.dir / f"redis-{self.port}"
        options: dict[str, object] = {
            "bind": self.ip,
            "port": self.port,
            "daemonize": "yes",
            "pidfile": self.pidfile,
            "dir": base,
            "logfile": f"{base}.log",
            "save": "",
            "appendonly": "no",
            "protected-mode": "no",
        }
        if self.password:
            options["requirepass"] = self.password
        argv = [which("redis-server")]
        for name, value in options.items():
            argv += [f"--{name}", str(value)]
        self.host.spawn(argv, self.host.dir / f"redis-{self.port}.out")
        wait_until(
            lambda: read_pid(self.pidfile) and tcp_open(self.ip, self.port),
            timeout=30,
            what=f"Redis on {self.endpoint}",
        )

    def stop(self) -> None:
        """Fault: Redis goes away."""
        _stop_pid(self.pidfile, self.ip, self.port)

    @property
    def running(self) -> bool:
        return read_pid(self.pidfile) is not None


@dataclass
class Sentinel:
    """A Redis Sentinel (`redis-server CONF --sentinel`) on `host`:`port` watching `master`
    under the name `master_set`, with `master`'s password (`sentinel auth-pass`); with
    `password` the sentinel itself requires AUTH, which Harbor 2.x cannot send.

    Not part of the lab's start: a test starts it (`setup`) and stops it after. Quorum 1:
    one sentinel answers for the set, and the lab's Redis has no replica to fail over to.
    """

    host: Host
    master: Redis
    port: int = 26379
    master_set: str = "harbor"
    password: str | None = None

    @property
    def ip(self) -> str:
        return self.host.ip

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def base(self) -> Path:
        return self.host.dir / f"sentinel-{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.host.dir / f"sentinel-{self.port}.pid"

    def setup(self) -> None:
        self.base.mkdir(exist_ok=True)
        self.start()

    def start(self) -> None:
        """Write the configuration (Sentinel rewrites it as it learns: it must be a file of
        its own, writable) and start."""
        lines = [
            f"bind {self.ip}",
            f"port {self.port}",
            "daemonize yes",
            f"pidfile {self.pidfile}",
            f"dir {self.base}",
            f"logfile {self.base}.log",
            "protected-mode no",
            f"sentinel monitor {self.master_set} {self.master.ip} {self.master.port} 1",
        ]
        if self.master.password:
            lines.append(f"sentinel auth-pass {self.master_set} {self.master.password}")
        if self.password:
            lines.append(f"requirepass {self.password}")
        conf = self.base / "sentinel.conf"
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        argv = [which("redis-server"), str(conf), "--sentinel"]
        self.host.spawn(argv, self.host.dir / f"sentinel-{self.port}.out")
        wait_until(
            lambda: read_pid(self.pidfile) and tcp_open(self.ip, self.port),
            timeout=30,
            what=f"Sentinel on {self.endpoint}",
        )

    def stop(self) -> None:
        _stop_pid(self.pidfile, self.ip, self.port)
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def running(self) -> bool:
        return read_pid(self.pidfile) is not None
