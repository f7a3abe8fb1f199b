"""The Harbor node itself: the offline installer in place, and `install.sh --ha` run once
per set of inputs.

Why a fingerprint: install.sh recreates the node's containers (a short outage of that node),
so it runs again only when something it reads changed: the installer, harbor.cfg, the
`ha/` files, or its flags. The fingerprint of those is recorded on the host.
"""

from __future__ import annotations

import hashlib
import socket
from functools import cache
from pathlib import Path, PurePosixPath

from harbor_wizard import remote
from harbor_wizard.filecache import remembered
from harbor_wizard.profiles import Installer, SharedSetting
from harbor_wizard.render import RenderedFile
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed
from harbor_wizard.steps.verify import HTTP_TIMEOUT

UPLOAD_DIR = PurePosixPath("/opt/harbor-wizard")
UNPACKED_MARK = ".harbor-wizard-installer"
INSTALLED_MARK = ".harbor-wizard-installed"
"""Names in the installer's folder: which installer is unpacked, what install.sh last ran on."""
INSTALL_TIMEOUT = 1800.0


@cache
def local_sha256(path: Path) -> str:
    """The installer's checksum: read once per file (see filecache), then once per run."""

    def read() -> str:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(block)
        return digest.hexdigest()

    return str(remembered(path, "sha256", read))


def _refused(address: str, port: int) -> bool:
    """Whether the node actively refuses `port`: up, but that service is not running."""
    try:
        with socket.create_connection((address, port), timeout=HTTP_TIMEOUT):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:  # silent or filtered: cannot tell, and not install.sh's to fix
        return False


def remote_installer(local: Path) -> PurePosixPath:
    return UPLOAD_DIR / local.name


class UnpackInstaller(Action):
    """The installer unpacked where the profile says (1.4: /opt/harbor, the guide's ~/harbor)."""

    def __init__(self, local: Path, layout: Installer) -> None:
        self.local = local
        self.directory = layout.directory
        self.mark = layout.directory / UNPACKED_MARK
        self.step_id = "installer:unpack"
        self.title = f"unpack into {self.directory}"
        self.mark_read = remote.file_read(self.mark)

    def fingerprint(self) -> str:
        return local_sha256(self.local)

    def reads(self) -> tuple[remote.Read, ...]:
        return (self.mark_read,)

    def inspect(self, ctx: StepContext) -> Change | None:
        mark = ctx.read(self.mark_read)
        unpacked = mark.ok and mark.stdout.strip() == local_sha256(self.local)
        return None if unpacked else Change("not unpacked")

    def apply(self, ctx: StepContext, change: Change) -> str:
        out = remote.run(
            ctx.ssh,
            'tar -xzf "$1" -C "$2" && test -x "$3/install.sh"',
            remote_installer(self.local), self.directory.parent, self.directory,
            sudo=True,
            timeout=600,
        )  # fmt: skip
        if not out.ok:
            raise StepFailed(f"{ctx.host}: unpacking the installer failed", out.code, out.tail())
        mark = remote.write_file(
            ctx.ssh, self.mark, f"{local_sha256(self.local)}\n".encode(), mode=0o644
        )
        if not mark.ok:
            raise StepFailed(f"{ctx.host}: recording {self.mark} failed", mark.code)
        return f"unpacked into {self.directory}"


PICK_COMPOSE = (
    'if docker compose version >/dev/null 2>&1; then compose="docker compose"; '
    "else compose=docker-compose; fi"
)
"""Sets $compose to the compose install.sh itself uses (2.x's common.sh: the plugin when
it answers); used unquoted, so that "docker compose" is two words."""
COMPOSE_UP = (
    f'cd "$1" && shift && {PICK_COMPOSE} && $compose up -d && '
    '{ [ $# -eq 0 ] || $compose restart "$@"; }'
)
"""Recreates the containers whose configuration changed, with install.sh's own compose,
then restarts the services named after it ("$@")."""
SHARED_MARK = ".harbor-wizard-shared"
"""In the installer's folder: the digest of the shared lines compose last started with."""


def setting_read(setting: SharedSetting) -> remote.Read:
    """The digest of `setting`'s value on the host (empty when the file or line is
    missing): compared without the value ever leaving the operator's machine."""
    return remote.Read.of(
        'v=$(sed -n "s/^$2=//p" -- "$1" | head -n 1) && [ -n "$v" ] && '
        'printf %s "$v" | sha256sum | cut -d" " -f1',
        setting.file,
        setting.key,
    )


def with_setting(text: str, key: str, value: str) -> str:
    """`text` (KEY=value lines) with `key`'s line holding `value`, added when missing."""
    lines = text.splitlines()
    line = f"{key}={value}"
    found = [i for i, old in enumerate(lines) if old.startswith(f"{key}=")]
    if found:
        lines[found[0]] = line
    else:
        lines.append(line)
    return "\n".join(lines) + "\n"


class RunInstall(Action):
    """`install.sh --ha [--with-clair]`, with prepare's shared-storage question answered
    and no `host` variable in its environment (install.sh would rewrite the hostname).

    Runs when its inputs changed since the last install, when nothing listens on the
    node's port 80 although the mark says installed (its containers are gone or stopped:
    install.sh brings them back), or always when `force` (``--from-scratch``). A node that
    answers with an error (its database unreachable, say) or not at all is no reason:
    install.sh would restart it for nothing, and verification reports it."""

    def __init__(
        self,
        local: Path,
        layout: Installer,
        inputs: list[RenderedFile],
        flags: list[str],
        address: str,
        *,
        force: bool = False,
        settings: tuple[tuple[SharedSetting, str], ...] = (),
    ) -> None:
        self.local = local
        self.settings = settings
        """Lines install.sh makes at random on each node, set to the deployment's value."""
        self.setting_reads = tuple(setting_read(setting) for setting, _ in settings)
        self.shared_mark = layout.directory / SHARED_MARK
        self.shared_mark_read = remote.file_read(self.shared_mark)
        self.directory = layout.directory
        self.mark = layout.directory / INSTALLED_MARK
        self.inputs = inputs
        self.address = address
        self.force = force
        self.flags = flags
        self.step_id = "install.sh"
        self.title = " ".join(["./install.sh", *self.flags])
        if settings:
            keys = ", ".join(setting.key for setting, _ in settings)
            self.title += f", then the shared {keys}"
        self.mark_read = remote.file_read(self.mark)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(local_sha256(self.local).encode())
        for rendered in sorted(self.inputs, key=lambda r: str(r.path)):
            digest.update(f"|{rendered.path}|{remote.sha256(rendered.content.encode())}".encode())
        digest.update(" ".join(self.flags).encode())
        return digest.hexdigest()

    def reads(self) -> tuple[remote.Read, ...]:
        shared = (self.shared_mark_read, *self.setting_reads) if self.settings else ()
        return (self.mark_read, *shared)

    def inspect(self, ctx: StepContext) -> Change | None:
        change = self._install_change(ctx)
        if change is not None:
            return change
        return self._settings_change(ctx)

    def _settings_digest(self) -> str:
        """Of the shared values: what the mark holds once compose started with them."""
        return remote.sha256("".join(f"{s.key}={v}\n" for s, v in self.settings).encode())

    def _settings_change(self, ctx: StepContext) -> Change | None:
        """The shared lines unlike the deployment's in their file, or (the mark says) not
        yet in the running containers: compose did not finish since they were written."""
        if not self.settings:
            return None
        differ = [
            setting.key
            for (setting, value), read in zip(self.settings, self.setting_reads, strict=True)
            if ctx.read(read).stdout.strip() != remote.sha256(value.encode())
        ]
        keys = ", ".join(setting.key for setting, _ in self.settings)
        if differ:
            summary = f"{', '.join(differ)} unlike the other nodes' (install.sh made its own)"
            return Change(summary, kind="settings")
        mark = ctx.read(self.shared_mark_read)
        if not mark.ok or mark.stdout.strip() != self._settings_digest():
            summary = f"{keys} in place, but its containers were not recreated with it since"
            return Change(summary, kind="settings")
        return None

    def _install_change(self, ctx: StepContext) -> Change | None:
        mark = ctx.read(self.mark_read)
        if not mark.ok or mark.stdout.strip() != self.fingerprint():
            return Change(
                "never installed" if not mark.ok else "inputs changed since the last install"
            )
        if self.force:
            return Change("installed; --from-scratch runs install.sh again")
        if _refused(self.address, 80):
            return Change(f"installed, but nothing listens on {self.address}:80 (stopped)")
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        if change.kind == "settings":
            self._set_shared(ctx)
            return f"{change.summary}: set, and its containers recreated"
        done = self._install(ctx, change)
        self._set_shared(ctx)
        return done

    def _set_shared(self, ctx: StepContext) -> None:
        """Each shared line in place (the file's other lines, secrets among them, kept as
        install.sh wrote them), then compose recreates the services that read them."""
        if not self.settings:
            return
        for setting, value in self.settings:
            state = remote.file_state(ctx.ssh, setting.file)
            text = remote.read_file(ctx.ssh, setting.file)
            if text is None or state.mode is None:
                raise StepFailed(
                    f"{ctx.host}: {setting.file} is missing after install.sh; run "
                    f"`./install.sh` in {self.directory} by hand to see why"
                )
            written = remote.write_file(
                ctx.ssh, setting.file, with_setting(text, setting.key, value).encode(),
                mode=state.mode, owner=state.owner_id or "root", group=state.group_id or "root",
            )  # fmt: skip
            if not written.ok:
                raise StepFailed(f"{ctx.host}: writing {setting.file} failed", written.code)
        restart = sorted({name for setting, _ in self.settings for name in setting.then_restart})
        out = remote.run(
            ctx.ssh, COMPOSE_UP, self.directory, *restart, sudo=True, timeout=INSTALL_TIMEOUT
        )
        if not out.ok:
            services = ", ".join(sorted({setting.service for setting, _ in self.settings}))
            raise StepFailed(
                f"{ctx.host}: docker compose could not recreate {services} in {self.directory}",
                out.code,
                out.tail(10),
            )
        mark = remote.write_file(
            ctx.ssh, self.shared_mark, f"{self._settings_digest()}\n".encode(), mode=0o644
        )
        if not mark.ok:
            raise StepFailed(f"{ctx.host}: recording {self.shared_mark} failed", mark.code)

    def _install(self, ctx: StepContext, change: Change) -> str:
        out = remote.run(
            ctx.ssh,
            'cd "$1" && shift && unset host && printf "yes\\n" | ./install.sh "$@"',
            self.directory, *self.flags,
            sudo=True, timeout=INSTALL_TIMEOUT, on_line=ctx.emit_line,
        )  # fmt: skip
        if not out.ok:
            raise StepFailed(
                f"{ctx.host}: install.sh {' '.join(self.flags)} exited {out.code}",
                out.code,
                out.tail(10),
            )
        mark = remote.write_file(ctx.ssh, self.mark, f"{self.fingerprint()}\n".encode(), mode=0o644)
        if not mark.ok:
            raise StepFailed(f"{ctx.host}: recording {self.mark} failed", mark.code)
        return f"Harbor installed ({change.summary})"
