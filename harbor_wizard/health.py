"""A deployment's state at a glance: what `status` prints, the TUI shows and `drill` requires.

Why a module below the views: the command line, the TUI's start screen and the failover
drill ask the same questions (who holds the VIP, do the LBs run, does each node serve on
its own address and from the LB that holds the VIP, are the databases and Redis there,
when does the certificate expire, how did the last run end) and must get the same answers.

Everything is asked at once, each question with its own time limit: a host that does not
answer is shown as such after `timeout`, it never holds the table up. Nothing is changed.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from fabric import Connection
from pydantic import SecretStr

from harbor_wizard import remote
from harbor_wizard.answers import Answers
from harbor_wizard.checks import mariadb, postgres, redis
from harbor_wizard.checks.result import Status
from harbor_wizard.checks.ssh import open_host
from harbor_wizard.checks.tls import EXPIRY_WARNING
from harbor_wizard.connection import SshTarget, targets
from harbor_wizard.journal import Journal
from harbor_wizard.problems import StateFileError
from harbor_wizard.profiles import Health, profile_for
from harbor_wizard.redact import redact
from harbor_wizard.statedir import state_dir
from harbor_wizard.steps.verify import health_problem, node_problem, redirect_problem

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0

OK, DEGRADED, DOWN, UNKNOWN = "ok", "degraded", "down", "unknown"

# One round trip per LB: whether it holds the VIP, its services, what its keepalived.conf
# says about VRRP, and each node's health probe as this LB's checks see it (in parallel,
# curl bounded by $3 seconds), and HAProxy's own verdict on each server where its runtime API
# (haproxy.cfg's `stats socket`) answers. $1 interface, $2 VIP, $3 seconds, $4 scheme, $5 path,
# $6 field, then the node addresses.
_LB_STATE = r"""iface=$1 vip=$2 secs=$3 scheme=$4 path=$5 field=$6
shift 6
if ip -o -4 addr show dev "$iface" | grep -qF " inet $vip/"; then echo vip=yes; else echo vip=no; fi
for unit in keepalived haproxy; do
    echo "$unit=$(systemctl is-active "$unit" 2>/dev/null | head -n1)"
done
conf=/etc/keepalived/keepalived.conf
priority=$(awk '$1 == "priority" { print $2; exit }' "$conf" 2>/dev/null)
echo "priority=$priority"
if grep -q '^[[:space:]]*nopreempt' "$conf" 2>/dev/null; then echo preempt=no
else echo preempt=yes; fi
hcfg=/etc/haproxy/haproxy.cfg
sock=$(awk '$1 == "stats" && $2 == "socket" { print $3; exit }' "$hcfg" 2>/dev/null)
if [ -n "$sock" ] && [ -S "$sock" ] && command -v socat >/dev/null 2>&1; then
    echo "show stat" | timeout "$secs" socat -t 1 - "UNIX-CONNECT:$sock" 2>/dev/null |
        awk -F, '$1 !~ /^#/ && $2 != "" && $2 != "FRONTEND" && $2 != "BACKEND" {
            print "hap", $2, $18 }'
fi
if ! command -v curl >/dev/null 2>&1; then echo nocurl=yes; exit 0; fi
for node in "$@"; do
    ( if curl -ks -m "$secs" "$scheme://$node$path" 2>/dev/null | grep -qF -- "$field"; then
          echo "node $node ok"
      else
          echo "node $node down"
      fi ) &
done
wait
"""


@dataclass(frozen=True)
class LbState:
    name: str
    address: str
    problem: str | None = None
    """Why this LB could not be asked (SSH), or None."""
    holds_vip: bool | None = None
    keepalived: str = UNKNOWN
    """systemctl is-active: active, inactive, failed...; unknown when not asked."""
    haproxy: str | None = None
    """haproxy mode only."""
    priority: int | None = None
    preempt: bool = True
    nodes_seen: dict[str, bool] = field(default_factory=dict)
    """Node address -> whether this LB reaches its health endpoint (what its checks see)."""
    haproxy_up: dict[str, bool] = field(default_factory=dict)
    """Node name -> whether HAProxy counts it up in every pool (only where its runtime API
    answers)."""

    @property
    def state(self) -> str:
        if self.problem is not None:
            return DOWN
        if self.keepalived != "active" or (self.haproxy not in (None, "active")):
            return DOWN
        return OK


@dataclass(frozen=True)
class NodeState:
    name: str
    address: str
    own: str | None
    """What is wrong on its own address (the LBs' probe from here), None: it serves."""
    via_lb: str | None
    """What the VIP holder's probe of it finds: None ok, a reason, or "" when not asked."""

    @property
    def state(self) -> str:
        if self.own is None and not self.via_lb:
            return OK
        if self.own is None:
            return DEGRADED  # serves, but the LB holding the VIP cannot reach it
        return DOWN


@dataclass(frozen=True)
class ServiceState:
    name: str
    endpoint: str
    problem: str | None
    checked: bool = True
    """False when it could not be asked (its password was not given): state unknown."""

    @property
    def state(self) -> str:
        if not self.checked:
            return UNKNOWN
        return OK if self.problem is None else DOWN


@dataclass(frozen=True)
class Certificate:
    not_after: str | None
    days_left: int | None
    source: str
    """Where it was read: the VIP's port 443, or the file of the answers."""
    problem: str | None = None

    @property
    def state(self) -> str:
        if self.problem is not None or self.days_left is None:
            return DOWN if self.problem else UNKNOWN
        if self.days_left < 0:
            return DOWN
        if dt.timedelta(days=self.days_left) < EXPIRY_WARNING:
            return DEGRADED
        return OK


@dataclass(frozen=True)
class LastRun:
    ok: bool | None
    """None: no run finished (never run, or the last one stopped or crashed)."""
    started: float | None
    finished: float | None
    message: str
    log: str | None


@dataclass(frozen=True)
class Report:
    deployment: str
    mode: str
    vip: str
    holder: str | None
    """The LB holding the VIP now (None: none does, or external mode)."""
    expected_holder: str | None
    """The LB that should hold it while both run (the higher priority)."""
    vip_problem: str | None
    lbs: tuple[LbState, ...]
    nodes: tuple[NodeState, ...]
    services: tuple[ServiceState, ...]
    certificate: Certificate | None
    last_run: LastRun | None
    seconds: float
    checked_at: float = field(default_factory=time.time)

    def problems(self) -> list[str]:
        """Everything that is not as it should be, one operator sentence each; empty when
        the deployment is healthy (the last run's outcome is shown, not counted)."""
        found: list[str] = []
        if self.vip_problem:
            found.append(self.vip_problem)
        if self.mode != "external":
            holders = [lb.name for lb in self.lbs if lb.holds_vip]
            if not holders and not any(lb.problem for lb in self.lbs):
                found.append(f"no load balancer holds the VIP {self.vip}")
            elif len(holders) > 1:
                found.append(f"the VIP {self.vip} is on both load balancers ({', '.join(holders)})")
        for lb in self.lbs:
            if lb.problem:
                found.append(lb.problem)
                continue
            if lb.keepalived != "active":
                found.append(f"{lb.name}: keepalived is {lb.keepalived}")
            if lb.haproxy not in (None, "active"):
                found.append(f"{lb.name}: HAProxy is {lb.haproxy}")
        for node in self.nodes:
            if node.own is not None:
                found.append(f"{node.name} ({node.address}) does not serve: {node.own}")
            elif node.via_lb:
                found.append(f"{node.name}: {node.via_lb}")
        for service in self.services:
            if service.problem:
                found.append(f"{service.name}: {service.problem}")
        cert = self.certificate
        if cert is not None and cert.state in (DOWN, DEGRADED):
            found.append(
                cert.problem
                or f"the certificate expires on {cert.not_after} ({cert.days_left} days)"
            )
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems()

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape (stable keys, for monitoring)."""
        return {
            "deployment": self.deployment,
            "healthy": self.healthy,
            "checked_at": self.checked_at,
            "seconds": round(self.seconds, 2),
            "vip": {
                "address": self.vip,
                "holder": self.holder,
                "expected_holder": self.expected_holder,
                "answers": self.vip_problem is None,
                "problem": self.vip_problem,
            },
            "load_balancers": [{**asdict(lb), "state": lb.state} for lb in self.lbs],
            "nodes": [{**asdict(n), "state": n.state} for n in self.nodes],
            "services": [{**asdict(s), "state": s.state} for s in self.services],
            "certificate": (
                None
                if self.certificate is None
                else {**asdict(self.certificate), "state": self.certificate.state}
            ),
            "last_run": None if self.last_run is None else asdict(self.last_run),
            "problems": self.problems(),
        }


@dataclass(frozen=True)
class Options:
    timeout: float = DEFAULT_TIMEOUT
    accepted_fingerprints: frozenset[str] = frozenset()


def gather(
    answers: Answers,
    secrets: dict[str, SecretStr],
    base_dir: Path,
    options: Options | None = None,
) -> Report:
    """Ask every host and service at once; each answer bounded by `options.timeout`."""
    options = options or Options()
    started = time.monotonic()
    health = profile_for(answers.harbor.version).health
    https = answers.harbor.protocol == "https"
    lb = answers.load_balancer
    pool = _Daemons()
    lb_targets = [t for t in targets(answers, base_dir) if t.name in {n.name for n in lb.nodes}]
    lb_jobs = {t.name: pool.submit(_lb_state, t, answers, health, options) for t in lb_targets}
    node_jobs = {
        n.name: pool.submit(_node_own, str(n.address), health, options.timeout)
        for n in answers.harbor_nodes
    }
    vip_job = pool.submit(_vip_problem, str(answers.vip), https, health)
    service_jobs = _service_jobs(pool, answers, secrets, options.timeout)
    cert_job = pool.submit(_certificate, answers, base_dir, options.timeout) if https else None
    last_run = _last_run(answers.name)
    deadline = time.monotonic() + options.timeout * 2 + 3
    lbs = tuple(
        _wait(job, deadline, LbState(name, _address(answers, name), _silent(name, options)))
        for name, job in lb_jobs.items()
    )
    holder_names = [s.name for s in lbs if s.holds_vip]
    holder = holder_names[0] if len(holder_names) == 1 else None
    holding = next((s for s in lbs if s.name == holder), None)
    seen = holding.nodes_seen if holding else {}
    up = holding.haproxy_up if holding else {}
    nodes = []
    for node in answers.harbor_nodes:
        address = str(node.address)
        own = _wait(node_jobs[node.name], deadline, f"no answer within {options.timeout:g} s")
        via: str | None = ""
        if node.name in up:
            via = None if up[node.name] else f"HAProxy on {holder} counts it down"
        elif address in seen:
            via = None if seen[address] else f"{holder} cannot reach its {health.path}"
        nodes.append(NodeState(node.name, address, own, via))
    services = tuple(
        _wait(job, deadline, ServiceState(name, endpoint, "no answer in time"))
        for (name, endpoint), job in service_jobs.items()
    )
    vip_problem = _wait(vip_job, deadline, "the VIP did not answer in time")
    certificate = (
        _wait(cert_job, deadline, Certificate(None, None, "", "no answer in time"))
        if cert_job
        else None
    )
    vip_holder = lb.vip_holder
    return Report(
        deployment=answers.name,
        mode=lb.mode,
        vip=str(answers.vip),
        holder=holder,
        expected_holder=vip_holder.name if vip_holder else None,
        vip_problem=vip_problem,
        lbs=lbs,
        nodes=tuple(nodes),
        services=services,
        certificate=certificate,
        last_run=last_run,
        seconds=time.monotonic() - started,
    )


def _wait(job: Future[Any], deadline: float, instead: Any) -> Any:
    """The job's answer, or `instead` when it has none by `deadline`."""
    try:
        return job.result(timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        return instead


def _address(answers: Answers, name: str) -> str:
    return next(address for host, address in answers.hosts() if host == name)


def _silent(name: str, options: Options) -> str:
    return f"{name} did not answer within {options.timeout:g} s"


def lb_state(
    connection: Connection, name: str, address: str, answers: Answers, health: Health,
    timeout: float,
) -> LbState:  # fmt: skip
    """One LB's view, over its open connection (the drill reuses it while it runs)."""
    https = answers.harbor.protocol == "https"
    out = remote.run(
        connection,
        _LB_STATE,
        answers.load_balancer.interface or "",
        str(answers.vip),
        f"{min(timeout, 3.0):g}",
        "https" if https else "http",
        health.path,
        health.field,
        *(str(n.address) for n in answers.harbor_nodes),
        sudo=True,
        timeout=timeout + 5,
    )
    if out.code == 124:
        return LbState(name, address, f"{name}: its state was not read within {timeout + 5:g} s")
    values: dict[str, str] = {}
    seen: dict[str, bool] = {}
    up: dict[str, bool] = {}
    for line in out.stdout.splitlines():
        if line.startswith("node "):
            _, node, verdict = [*line.split(), "", ""][:3]
            seen[node] = verdict == "ok"
        elif line.startswith("hap "):
            _, server, verdict = [*line.split(), "", ""][:3]
            up[server] = up.get(server, True) and verdict.startswith("UP")
        else:
            key, _, value = line.partition("=")
            values[key] = value.strip()
    priority = values.get("priority", "")
    return LbState(
        name,
        address,
        holds_vip=values.get("vip") == "yes",
        keepalived=values.get("keepalived") or "unknown",
        haproxy=(values.get("haproxy") or "unknown")
        if answers.load_balancer.mode == "haproxy"
        else None,
        priority=int(priority) if priority.isdigit() else None,
        preempt=values.get("preempt", "yes") == "yes",
        nodes_seen=seen,
        haproxy_up=up,
    )


def _lb_state(target: SshTarget, answers: Answers, health: Health, options: Options) -> LbState:
    results, connection = open_host(target, options.accepted_fingerprints, options.timeout)
    if connection is None:
        return LbState(target.name, target.address, redact(results[0].message))
    try:
        return lb_state(connection, target.name, target.address, answers, health, options.timeout)
    except remote.ConnectionLost as exc:
        return LbState(target.name, target.address, f"{target.name} ({exc.address}): {exc.reason}")
    finally:
        connection.close()


def _node_own(address: str, health: Health, timeout: float) -> str | None:
    try:
        return node_problem(address, health)
    except TimeoutError:
        return f"no answer within {min(timeout, 3.0):g} s"


def _vip_problem(vip: str, https: bool, health: Health) -> str | None:
    problem = health_problem(vip, https, "the VIP", health)
    if problem is None and https:
        problem = redirect_problem(vip, "the VIP")
    return problem


class _Daemons:
    """Each question in its own daemon thread: one a silent host holds up past the deadline
    is abandoned, and never keeps the process from exiting (a pool's threads are joined
    at exit, which made `status` hang on for the SSH time-out)."""

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed to the one who waits
                future.set_exception(exc)

        threading.Thread(target=run, daemon=True, name="harbor-wizard-status").start()
        return future


def _service_jobs(
    pool: _Daemons, answers: Answers, secrets: dict[str, SecretStr], timeout: float
) -> dict[tuple[str, str], Future[ServiceState]]:
    db = answers.database
    jobs: dict[tuple[str, str], Callable[[], str | None]] = {
        ("Harbor DB", f"{db.host}:{db.port}"): lambda: _harbor_db(answers, secrets, timeout),
        ("Redis", ",".join(answers.redis.endpoints)): lambda: _redis(answers, secrets, timeout),
    }
    clair = answers.clair_database
    if clair is not None:
        jobs[("Clair DB", f"{clair.host}:{clair.port}")] = lambda: _postgres(
            answers, secrets, timeout
        )
    needs = {"Harbor DB": "database.password", "Clair DB": "clair_database.password"}
    missing = {name: path for name, path in needs.items() if path not in secrets}
    return {
        (name, endpoint): pool.submit(_service, name, endpoint, job, missing.get(name, ""))
        for (name, endpoint), job in jobs.items()
    }


def _service(
    name: str, endpoint: str, job: Callable[[], str | None], missing: str = ""
) -> ServiceState:
    """The probe's verdict; not asked when the password it needs (`missing`) was not
    given (the TUI opens deployments whose secrets are not all found)."""
    if missing:
        return ServiceState(name, endpoint, f"not checked: {missing} was not given", False)
    try:
        return ServiceState(name, endpoint, job())
    except Exception as exc:  # a probe must never take the table down
        return ServiceState(name, endpoint, redact(f"{type(exc).__name__}: {exc}"))


def _harbor_db(answers: Answers, secrets: dict[str, SecretStr], timeout: float) -> str | None:
    if answers.database.engine == "postgresql":
        return _harbor_postgres(answers, secrets, timeout)
    return _mariadb(answers, secrets, timeout)


def _harbor_postgres(answers: Answers, secrets: dict[str, SecretStr], timeout: float) -> str | None:
    """Harbor 2.x's database: reachable, and migrated (golang-migrate's table is there)."""
    import psycopg

    db = answers.database
    name = db.postgres_name
    try:
        with postgres.session(
            db.host, db.port, db.user, secrets["database.password"], name, timeout,
            db.postgres_ssl_mode,
        ) as conn:  # fmt: skip
            row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    except psycopg.Error as exc:
        return postgres.failure(exc, timeout)
    if not row or not row[0]:
        return f"the database `{name}` has no schema yet: Harbor's core migrates it on its start"
    return None


def _mariadb(answers: Answers, secrets: dict[str, SecretStr], timeout: float) -> str | None:
    import pymysql

    try:
        conn = mariadb.connect(answers.database, secrets["database.password"], timeout)
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                           (mariadb.HARBOR_DATABASE,))  # fmt: skip
            row = cursor.fetchone()
    except pymysql.MySQLError as exc:
        return mariadb.failure(exc, timeout)
    if not row or not row[0]:
        return f"the database `{mariadb.HARBOR_DATABASE}` has no tables"
    return None


def _postgres(answers: Answers, secrets: dict[str, SecretStr], timeout: float) -> str | None:
    import psycopg

    clair = answers.clair_database
    assert clair is not None
    try:
        with postgres.connect(clair, secrets["clair_database.password"], timeout) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return postgres.failure(exc, timeout)
    return None


def _redis(answers: Answers, secrets: dict[str, SecretStr], timeout: float) -> str | None:
    import redis as redis_client

    if answers.redis.sentinel_master_set:  # the master the Sentinels name, as Harbor finds it
        results = redis.redis_checks_2x(
            list(answers.redis.endpoints), secrets.get("redis.password"), None,
            answers.redis.sentinel_master_set, {}, timeout,
        )  # fmt: skip
        return next((r.message for r in results if r.status is Status.ERROR), None)
    endpoint, password = answers.redis.endpoints[0], secrets.get("redis.password")
    client = (
        redis.harbor_client(endpoint, password, None, timeout)  # 2.x: as Harbor logs in
        if answers.database.engine == "postgresql"
        else redis.connect(endpoint, password, timeout)
    )
    try:
        client.ping()
    except redis_client.TimeoutError:
        return mariadb.silent(timeout)
    except redis_client.RedisError as exc:
        return "connection refused" if "refused" in str(exc) else str(exc)
    finally:
        client.close()
    return None


def _certificate(answers: Answers, base_dir: Path, timeout: float) -> Certificate:
    """The certificate the VIP serves (what clients see), else the answers' file."""
    now = dt.datetime.now(dt.UTC)
    try:
        with socket.create_connection((str(answers.vip), 443), timeout=min(timeout, 3.0)) as raw:
            context = ssl._create_unverified_context()
            with context.wrap_socket(raw, server_hostname=answers.harbor.hostname) as tls:
                der = tls.getpeercert(binary_form=True)
        assert der is not None
        cert = x509.load_der_x509_certificate(der)
        source = f"served by the VIP {answers.vip}:443"
    except (OSError, AssertionError, ValueError):
        from harbor_wizard import certs

        assert answers.tls is not None
        path = certs.resolve_path(answers.tls.certificate, base_dir)
        try:
            cert = certs.order_chain(certs.read_certificates(path), path)[0]
        except certs.TlsFileError as exc:
            return Certificate(None, None, str(path), str(exc))
        source = f"{path} (the VIP did not serve one)"
    end = cert.not_valid_after_utc
    days = (end - now).days if end >= now else -1 - (now - end).days
    problem = f"the certificate ({source}) expired on {end:%Y-%m-%d}" if end < now else None
    return Certificate(f"{end:%Y-%m-%d}", days, source, problem)


def _last_run(deployment: str) -> LastRun | None:
    folder = state_dir(deployment)
    logs = sorted((folder / "logs").glob("*.jsonl")) if (folder / "logs").is_dir() else []
    try:
        journal = Journal.load(folder / "journal.json")
    except StateFileError as exc:
        return LastRun(None, None, None, str(exc), str(logs[-1]) if logs else None)
    last = journal.last
    if not last and not logs:
        return None
    ok = last.get("ok") if "finished" in last else None
    message = str(last.get("message") or last.get("failed") or "")
    if "finished" not in last and last:
        message = "did not finish" + (f" (last step: {last['last_completed']})"
                                      if last.get("last_completed") else "")  # fmt: skip
    return LastRun(
        ok if isinstance(ok, bool) else None,
        last.get("started"),
        last.get("finished"),
        message,
        str(logs[-1]) if logs else None,
    )


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, default=str)
