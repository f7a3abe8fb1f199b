"""One lab host: a network namespace, a private root, a real sshd, and its faults.

A host is held by a "holder" process (see hostinit.sh) that owns the host's mount and
UTS namespaces; sshd and every daemon join the holder's namespaces with nsenter, so
stopping sshd (a fault the tests inject) does not tear the host's filesystem down.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .util import LabError, pid_alive, read_pid, sh, tcp_open, wait_until, which

HOSTINIT = Path(__file__).with_name("hostinit.sh")
DOUBLES = Path(__file__).with_name("doubles")
#: The environment of every command run in a host: what an SSH session of root gets.
HOST_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "USER": "root",
    "LOGNAME": "root",
}
SSHD_CONFIG = """\
# harbor-wizard lab host {name}
Port 22
ListenAddress {ip}
HostKey {dir}/ssh/ssh_host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
X11Forwarding no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 64
Subsystem sftp internal-sftp
"""


_PARTITION_RULES = (
    ["INPUT", "!", "-i", "lo", "-m", "comment", "--comment", "hw-partition", "-j", "DROP"],
    ["OUTPUT", "!", "-o", "lo", "-m", "comment", "--comment", "hw-partition", "-j", "DROP"],
)


@dataclass
class Host:
    """A lab host. `dir` is its directory in the lab state dir (same path inside it)."""

    name: str
    role: str  # "lb", "harbor" or "service"
    ip: str
    index: int
    netns: str
    veth: str
    dir: Path
    registry_dir: Path | None = None  # bound on /data/registry (Harbor nodes)
    doubles: tuple[str, ...] = ()
    _holder: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # -- lifecycle ------------------------------------------------------------------
    def prepare(self, authorized_key: str, hosts_file: str) -> None:
        """Directories, host key, sshd config, /etc/hosts content (before start)."""
        for sub in ("cow", "merged", "home", "data", "ssh", "usr-local-bin"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        (self.dir / "home").chmod(0o700)
        self._keygen()
        (self.dir / "ssh" / "authorized_keys").write_text(authorized_key)
        (self.dir / "sshd_config").write_text(
            SSHD_CONFIG.format(name=self.name, ip=self.ip, dir=self.dir)
        )
        (self.dir / "hosts").write_text(hosts_file)

    def launch(self, python2: tuple[str, str] | None) -> None:
        """Start the holder (returns at once; `wait_ready` waits for it)."""
        env = {
            "PATH": HOST_ENV["PATH"],
            "HW_HOST_DIR": str(self.dir),
            "HW_HOSTNAME": self.name,
            "HW_REGISTRY_DIR": str(self.registry_dir or ""),
            "HW_DOUBLES": " ".join(str(DOUBLES / d) for d in self.doubles),
        }
        if python2 and self.role == "harbor":
            env["HW_PYTHON2"], env["HW_PYTHON2_PREFIX"] = python2
        log = (self.dir / "hostinit.log").open("wb")
        enter = [which("ip"), "netns", "exec", self.netns]
        isolate = [which("unshare"), "--mount", "--uts", "--propagation", "private"]
        self._holder = subprocess.Popen(
            [*enter, *isolate, "/bin/bash", str(HOSTINIT)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float = 20) -> None:
        """Wait for the holder to finish hostinit.sh; fail with its log if it died."""

        def ready() -> bool:
            if self._holder is not None and self._holder.poll() is not None:
                log = (self.dir / "hostinit.log").read_text(errors="replace")
                raise LabError(f"{self.name}: hostinit.sh failed:\n{log}")
            return self.holder_pid is not None

        wait_until(ready, timeout=timeout, what=f"{self.name} to come up")

    @property
    def holder_pid(self) -> int | None:
        return read_pid(self.dir / "holder.pid")

    def _pid(self) -> int:
        pid = self.holder_pid
        if pid is None:
            raise LabError(f"{self.name} is not running (no holder process)")
        return pid

    # -- running things inside ----------------------------------------------------
    def nsenter(self) -> list[str]:
        """argv prefix that joins the host's network, mount and UTS namespaces."""
        env = [f"{k}={v}" for k, v in HOST_ENV.items()]
        enter = [which("nsenter"), "-t", str(self._pid()), "-n", "-m", "-u", "--"]
        return [*enter, "/usr/bin/env", "-i", *env]

    def run(
        self, cmd: str, *, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command inside the host (as root, like an SSH session)."""
        return sh(
            [*self.nsenter(), "/bin/bash", "-c", cmd], check=check, timeout=timeout, input=input
        )

    def spawn(self, argv: list[str], log: Path) -> None:
        """Start a daemon inside the host, detached (setsid -f), output to `log`."""
        with log.open("ab") as out:
            subprocess.run(
                [*self.nsenter(), which("setsid"), "-f", *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=30,
                check=True,
            )

    def path(self, path: str) -> Path:
        """A path inside the host, as the test process can read and write it."""
        return Path(f"/proc/{self._pid()}/root") / path.lstrip("/")

    def addresses(self) -> list[str]:
        """IPv4 addresses on the host's eth0 (the VIP shows up here)."""
        out = sh(["ip", "-n", self.netns, "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
        return [line.split()[3].split("/")[0] for line in out.splitlines()]

    # -- sshd ---------------------------------------------------------------------
    def _keygen(self) -> None:
        key = self.dir / "ssh" / "ssh_host_ed25519_key"
        for p in (key, key.with_suffix(".pub")):
            p.unlink(missing_ok=True)
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{self.name}", "-f", key])

    @property
    def host_public_key(self) -> str:
        """`ssh-ed25519 AAAA...` of the host key sshd currently serves."""
        return " ".join((self.dir / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()[:2])

    def host_key_fingerprint(self) -> str:
        """SHA256 fingerprint of the host key, as ssh-keygen -l prints it."""
        pub = self.dir / "ssh" / "ssh_host_ed25519_key.pub"
        return sh(["ssh-keygen", "-l", "-f", pub]).stdout.split()[1]

    @property
    def sshd_pid(self) -> int | None:
        return read_pid(self.dir / "sshd.pid")

    def start_sshd(self, timeout: float = 10) -> None:
        """Start sshd inside the host (it daemonizes and writes its PidFile)."""
        config, log = self.dir / "sshd_config", self.dir / "sshd.log"
        sh([*self.nsenter(), which("sshd"), "-f", config, "-E", log])
        wait_until(
            lambda: self.sshd_pid and tcp_open(self.ip, 22),
            timeout=timeout,
            what=f"sshd on {self.name}",
        )

    def stop_sshd(self, timeout: float = 10) -> None:
        """Stop the listening sshd (open sessions live on, as on a real host)."""
        pid = self.sshd_pid
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            wait_until(lambda: not pid_alive(pid), timeout=timeout, what=f"sshd {pid} to exit")
        (self.dir / "sshd.pid").unlink(missing_ok=True)

    def replace_host_key(self) -> str:
        """Fault: a new SSH host key (as after a reinstall); returns the new fingerprint.

        The lab's known_hosts keeps the old key, so a verifying client must now refuse.
        """
        self.stop_sshd()
        self._keygen()
        self.start_sshd()
        return self.host_key_fingerprint()

    # -- reboots -----------------------------------------------------------------------
    def reboot(self) -> None:
        """What a reboot does to the state harbor-wizard manages on a host: the kernel's nat
        table starts empty, no oneshot unit has run, and "systemd" starts the enabled units
        again (through the systemctl stand-in). Daemons and the Harbor stand-in keep
        running: Docker's restart policy brings Harbor back on a real node."""
        self.run(
            "iptables -w -t nat -F && iptables -w -t nat -X && rm -rf /run/systemctl-standin && "
            "for f in /var/lib/systemctl-standin/*.enabled; do "
            '[ -e "$f" ] || continue; u=${f##*/}; systemctl start "${u%.enabled}"; done'
        )

    # -- link faults ------------------------------------------------------------------
    def cut_link(self) -> None:
        """Fault: unplug the host's cable (its veth on the bridge goes down)."""
        sh(["ip", "link", "set", self.veth, "down"])

    def restore_link(self) -> None:
        sh(["ip", "link", "set", self.veth, "up"])

    def partition(self) -> None:
        """Fault: the host goes silent (power loss, a partition, a firewall change): every
        packet is dropped in both directions, so peers see no answer and no reset."""
        for rule in _PARTITION_RULES:
            self.run(shlex.join(["iptables", "-w", "-I", *rule]))

    def heal(self) -> None:
        """Undo `partition`; connections that outlived it carry on."""
        for rule in _PARTITION_RULES:
            delete = shlex.join(["iptables", "-w", "-D", *rule])
            while self.run(delete, check=False).returncode == 0:
                pass

    def slow_link(self, rate: str = "8mbit", burst: str = "32kbit", latency: str = "400ms") -> None:
        """Fault: a slow link, both directions (tc tbf on each end of the veth)."""
        tbf = ["root", "tbf", "rate", rate, "burst", burst, "latency", latency]
        sh(["tc", "qdisc", "replace", "dev", self.veth, *tbf])
        sh(["ip", "netns", "exec", self.netns, "tc", "qdisc", "replace", "dev", "eth0", *tbf])

    def unslow_link(self) -> None:
        sh(["tc", "qdisc", "del", "dev", self.veth, "root"], check=False)
        sh(
            ["ip", "netns", "exec", self.netns, "tc", "qdisc", "del", "dev", "eth0", "root"],
            check=False,
        )

    def ssh_command(self, key: Path, known_hosts: Path) -> str:
        """How a person reaches this host from the operator machine."""
        return (
            f"ssh -i {shlex.quote(str(key))}"
            f" -o UserKnownHostsFile={shlex.quote(str(known_hosts))}"
            f" -o StrictHostKeyChecking=yes root@{self.ip}"
        )
