"""Host state that is not a file: packages, kernel settings, services, directories, NAT rules."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from harbor_wizard import remote
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed

INSTALL = {
    "apt-get": 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q -- "$@"',
    "dnf": 'dnf install -y -q -- "$@"',
    "yum": 'yum install -y -q -- "$@"',
    "zypper": 'zypper --non-interactive install -- "$@"',
}
APPLIED_DIR = PurePosixPath("/etc/harbor-wizard/applied")
"""Checksums of the configs each service last (re)loaded: what a re-run compares."""


def _fail(ctx: StepContext, what: str, out: remote.Output) -> StepFailed:
    return StepFailed(f"{ctx.host}: {what} failed (exit {out.code})", out.code, out.tail())


class Packages(Action):
    """Packages present, or installed with the host's package manager."""

    def __init__(self, packages: dict[str, str]) -> None:
        self.packages = packages  # package -> the binary that proves it is there
        self.step_id = "packages"
        self.title = "packages " + " ".join(packages)
        # As root: root's PATH has the sbin folders where haproxy and keepalived live.
        self.binaries_read = remote.Read.of(
            'for b in "$@"; do command -v "$b" >/dev/null || echo "$b"; done; true',
            *packages.values(),
        )

    def reads(self) -> tuple[remote.Read, ...]:
        return (self.binaries_read,)

    def inspect(self, ctx: StepContext) -> Change | None:
        out = ctx.read(self.binaries_read)
        if not out.ok:
            raise _fail(ctx, "looking for " + ", ".join(self.packages.values()), out)
        absent = set(out.stdout.split())
        missing = [package for package, binary in self.packages.items() if binary in absent]
        return Change("install " + " ".join(missing), items=tuple(missing)) if missing else None

    def apply(self, ctx: StepContext, change: Change) -> str:
        manager = ctx.facts.get("package_manager") or next(
            (m for m in INSTALL if remote.run(ctx.ssh, 'command -v "$1"', m).ok), None
        )
        if manager is None:
            raise StepFailed(f"{ctx.host}: no known package manager to {change.summary}")
        missing = list(change.items)
        out = remote.run(
            ctx.ssh, INSTALL[manager], *missing, sudo=True, timeout=900, on_line=ctx.emit_line,
        )  # fmt: skip
        if not out.ok:
            raise _fail(ctx, f"{manager} install {' '.join(missing)}", out)
        return f"installed {' '.join(missing)} with {manager}"


class Sysctl(Action):
    """The kernel settings of a sysctl.d file, applied now (the file keeps them at boot)."""

    def __init__(self, path: PurePosixPath, settings: dict[str, str]) -> None:
        self.path = path
        self.settings = settings
        self.step_id = "sysctl"
        self.title = "apply " + ", ".join(f"{k}={v}" for k, v in settings.items())
        self.values_read = remote.Read.of(
            'for k in "$@"; do sysctl -n "$k" 2>/dev/null || echo ?; done', *settings
        )

    def reads(self) -> tuple[remote.Read, ...]:
        return (self.values_read,)

    def inspect(self, ctx: StepContext) -> Change | None:
        out = ctx.read(self.values_read)
        current = dict(zip(self.settings, out.stdout.split(), strict=False))
        wrong = [key for key, want in self.settings.items() if current.get(key) != want]
        return Change("set " + ", ".join(wrong)) if wrong else None

    def apply(self, ctx: StepContext, change: Change) -> str:
        out = remote.run(ctx.ssh, 'sysctl -q -p "$1"', self.path, sudo=True)
        if not out.ok:
            raise _fail(ctx, f"sysctl -p {self.path}", out)
        return f"applied {self.path}"


MARKER_MODE = 0o600
"""The digest of a config holding auth_pass (8 characters at most) invites guessing."""
RESTRICT = f"marker readable by others: make it {MARKER_MODE:04o}"
# $1 the service, $2 its marker, then its configs: whether it runs, the marker's mode, the
# configs' digest now, the digest they had when the service last loaded them, whether it
# starts at boot. One round trip.
_SERVICE_STATE = """\
s=$1 m=$2; shift 2
systemctl is-active --quiet "$s" && echo active || echo inactive
stat -c %a -- "$m" 2>/dev/null || echo none
cat -- "$@" | sha256sum | cut -d" " -f1
cat -- "$m" 2>/dev/null || echo
systemctl is-enabled --quiet "$s" && echo enabled || echo disabled
"""


class Service(Action):
    """A service enabled and running the current config: started when stopped, reloaded
    (or restarted) when its config changed since it last loaded it."""

    def __init__(
        self,
        name: str,
        configs: list[PurePosixPath],
        reload: bool = True,
        title: str = "",
        *,
        unit_file: bool = False,
    ) -> None:
        self.name = name
        self.configs = configs
        self.reload = reload
        self.unit_file = unit_file
        """Its unit file is among `configs`: systemd must read it again before a (re)start."""
        self.step_id = f"service:{name}"
        self.title = title or f"{name} running with its current config"
        self.marker = APPLIED_DIR / f"{name}.sha256"
        self.state_read = remote.Read.of(_SERVICE_STATE, name, self.marker, *configs)

    def reads(self) -> tuple[remote.Read, ...]:
        return (self.state_read,)

    def _digest(self, ctx: StepContext) -> str:
        out = remote.run(
            ctx.ssh, 'cat -- "$@" | sha256sum | cut -d" " -f1', *self.configs, sudo=True
        )
        return out.stdout.strip()

    def inspect(self, ctx: StepContext) -> Change | None:
        out = ctx.read(self.state_read)
        state, mode, digest, applied, boot = [*out.stdout.split("\n"), "", "", "", "", ""][:5]
        if state != "active":
            return Change("start", kind="start")
        if applied.strip() != digest.strip():
            verb = "reload" if self.reload else "restart"
            return Change(verb, kind=verb)
        if boot.strip() != "enabled":
            return Change("enable at boot (it runs, but would not start after a reboot)",
                          kind="enable")  # fmt: skip
        if mode != f"{MARKER_MODE:o}":
            return Change(RESTRICT, kind="restrict")
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        if change.kind == "restrict":  # a marker written by an older version: 0644
            out = remote.run(ctx.ssh, 'chmod -- "$1" "$2"', f"{MARKER_MODE:o}", self.marker,
                             sudo=True)  # fmt: skip
            if not out.ok:
                raise _fail(ctx, f"chmod {self.marker}", out)
            return f"{self.marker} made {MARKER_MODE:04o}"
        verb = change.kind
        if verb == "enable":
            out = remote.run(ctx.ssh, 'systemctl enable "$1"', self.name, sudo=True, timeout=60)
            if not out.ok:
                raise _fail(ctx, f"systemctl enable {self.name}", out)
            return f"{self.name} enabled at boot"
        script = 'systemctl "$1" "$2"'
        if verb == "start":
            script = 'systemctl enable "$2" && ' + script
        if self.unit_file:
            script = "systemctl daemon-reload && " + script
        out = remote.run(ctx.ssh, script, verb, self.name, sudo=True, timeout=60)
        if not out.ok:
            raise _fail(ctx, f"systemctl {verb} {self.name}", out)
        digest = self._digest(ctx)
        write = remote.write_file(ctx.ssh, self.marker, f"{digest}\n".encode(), mode=MARKER_MODE)
        if not write.ok:
            raise _fail(ctx, f"recording {self.marker}", write)
        return f"{self.name} {verb}ed" if verb != "start" else f"{self.name} enabled and started"


class Directory(Action):
    """A directory with the owner Harbor's containers run as (10000:10000 for data)."""

    def __init__(self, path: PurePosixPath, owner: str = "root:root", mode: int = 0o755) -> None:
        self.path = path
        self.owner = owner
        self.mode = mode
        self.step_id = f"dir:{path}"
        self.title = f"{path}/ ({owner})"
        self.stat_read = remote.Read.of('stat -c "%u:%g %a" -- "$1"', path)

    def reads(self) -> tuple[remote.Read, ...]:
        return (self.stat_read,)

    def inspect(self, ctx: StepContext) -> Change | None:
        out = ctx.read(self.stat_read)
        if not out.ok:
            return Change("missing")
        owner, mode = out.stdout.split()
        want_owner = self.owner if self.owner[0].isdigit() else None
        if (want_owner and owner != want_owner) or int(mode, 8) != self.mode:
            return Change(f"{owner} {mode} -> {self.owner} {self.mode:o}")
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        out = remote.run(
            ctx.ssh,
            'mkdir -p -- "$1" && chown -- "$2" "$1" && chmod -- "$3" "$1"',
            self.path, self.owner, f"{self.mode:o}",
            sudo=True,
        )  # fmt: skip
        if not out.ok:
            raise _fail(ctx, f"preparing {self.path}", out)
        return f"{self.path} ready ({change.summary})"


# $1 the chain, $2 the VIP, then the ports: whether the chain exists, how many rules it
# holds, which REDIRECT is missing, how many jumps PREROUTING makes to it, and which rules
# an earlier version added straight to PREROUTING. One round trip, read-only.
_REDIRECT_STATE = """\
c=$1 vip=$2; shift 2
ipt() { iptables -w 5 -t nat "$@"; }
if ipt -S "$c" >/dev/null 2>&1; then
    echo "rules $(ipt -S "$c" | grep -c '^-A ')"
    for p in "$@"; do
        ipt -C "$c" -p tcp -d "$vip/32" --dport "$p" -j REDIRECT 2>/dev/null || echo "missing $p"
    done
else
    echo "nochain"
fi
echo "jumps $(ipt -S PREROUTING | grep -c -x -e "-A PREROUTING -j $c")"
for p in "$@"; do
    ipt -C PREROUTING -p tcp -d "$vip/32" --dport "$p" -j REDIRECT 2>/dev/null && echo "legacy $p"
done
exit 0
"""


def redirect_read(chain: str, vip: str, ports: list[int]) -> remote.Read:
    return remote.Read.of(_REDIRECT_STATE, chain, vip, *ports)


def redirect_problems(ctx: StepContext, chain: str, vip: str, ports: list[int]) -> list[str]:
    """What differs from "each port's REDIRECT exactly once": empty when all is right."""
    out = ctx.read(redirect_read(chain, vip, ports))
    if not out.ok:
        raise _fail(ctx, "reading the nat table (iptables -t nat -S)", out)
    words = [line.split() for line in out.stdout.splitlines() if line.strip()]
    found = {w[0]: w[1:] for w in words if w}
    problems = []
    if "nochain" in found:
        problems.append(f"no {chain} chain (rules not applied since boot?)")
    missing = [w[1] for w in words if w[0] == "missing"]
    if missing:
        problems.append(f"REDIRECT for port {', '.join(missing)} missing")
    rules = int(found.get("rules", ["0"])[0])
    if "nochain" not in found and not missing and rules != len(ports):
        problems.append(f"{chain} holds {rules} rules, not {len(ports)}")
    jumps = int(found.get("jumps", ["0"])[0])
    if jumps != 1:
        problems.append(f"PREROUTING jumps to {chain} {jumps} times, not once")
    legacy = [w[1] for w in words if w[0] == "legacy"]
    if legacy:
        problems.append(f"an older direct PREROUTING rule for port {', '.join(legacy)}")
    return problems


class RedirectRules(Action):
    """LVS-DR: the node accepts packets for the VIP now (its script run when the nat table
    is not exactly as wanted); its boot unit keeps them after a reboot."""

    def __init__(self, chain: str, script: PurePosixPath, vip: str, ports: list[int]) -> None:
        self.chain = chain
        self.script = script
        self.vip = vip
        self.ports = ports
        self.step_id = "iptables:vip-redirect"
        self.title = f"VIP REDIRECT rules (port {', '.join(map(str, ports))})"

    def reads(self) -> tuple[remote.Read, ...]:
        return (redirect_read(self.chain, self.vip, self.ports),)

    def fingerprint(self) -> str:
        text = f"{self.chain}|{self.script}|{self.vip}|{self.ports}"
        return hashlib.sha256(text.encode()).hexdigest()

    def inspect(self, ctx: StepContext) -> Change | None:
        problems = redirect_problems(ctx, self.chain, self.vip, self.ports)
        return Change("; ".join(problems)) if problems else None

    def apply(self, ctx: StepContext, change: Change) -> str:
        out = remote.run(ctx.ssh, '"$1"', self.script, sudo=True, timeout=60)
        if not out.ok:
            raise _fail(ctx, str(self.script), out)
        left = redirect_problems(ctx, self.chain, self.vip, self.ports)
        if left:
            raise StepFailed(f"{ctx.host}: after {self.script}: {'; '.join(left)}")
        return f"applied ({change.summary})"


class RedirectPersists(Action):
    """Verification, read-only: the rules are there exactly once now, and the unit that
    puts them back at boot is enabled. Without it a rebooted node passes the LBs' health
    check (on its own address) while the VIP's traffic to it is dropped."""

    verifies = True

    def __init__(self, chain: str, unit: str, vip: str, ports: list[int]) -> None:
        self.chain = chain
        self.unit = unit
        self.vip = vip
        self.ports = ports
        self.step_id = "verify:vip-redirect"
        self.title = f"VIP REDIRECT rules in place and kept at boot ({unit})"
        self.enabled_read = remote.Read.of('systemctl is-enabled --quiet "$1"', unit)

    def reads(self) -> tuple[remote.Read, ...]:
        return (redirect_read(self.chain, self.vip, self.ports), self.enabled_read)

    def inspect(self, ctx: StepContext) -> Change | None:
        problems = redirect_problems(ctx, self.chain, self.vip, self.ports)
        enabled = ctx.read(self.enabled_read)
        if not enabled.ok:
            problems.append(f"{self.unit}.service is not enabled: the rules would not come back")
        if problems:
            raise StepFailed(
                f"{ctx.host}: the VIP's traffic may not reach Harbor: {'; '.join(problems)}. "
                "Run harbor-wizard again to put them right"
            )
        ctx.facts["checks"] = f"each port's REDIRECT once; {self.unit}.service enabled"
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("verification changes nothing")
