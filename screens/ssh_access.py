"""SSH access: user, port and key for every host; each host's key to accept or refuse.

Why last before review: the host checks (login, sudo, the LB interface, the nodes' Docker,
disk, clock and shared /data/registry) need the whole deployment, as ``check`` runs them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from harbor_wizard.checks.result import CheckResult, Status
from harbor_wizard.views.fields import MarkedButton, Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck
from harbor_wizard.views.live import worst


class SshAccessScreen(FormScreen):
    CSS_PATH = "ssh_access.tcss"
    TITLE_TEXT = "SSH access: how the wizard logs in to every host"
    SECTIONS = ("ssh",)
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f6", "accept", "Accept key"),
        Binding("f7", "refuse", "Refuse key"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[str] = set()

    def fields(self) -> ComposeResult:
        yield self.row(Spec("ssh.user", "User"), "root")
        yield self.row(Spec("ssh.port", "Port", "int"), 22)
        yield self.row(
            Spec(
                "ssh.identity_file", "Private key file", placeholder="(empty: the SSH agent's keys)"
            )
        )
        yield self.row(Spec("ssh.known_hosts", "known_hosts file"), "~/.ssh/known_hosts")
        yield Static("Hosts (an unknown key: compare its fingerprint, then F6 or F7):")
        yield Vertical(id="hosts")

    def live_checks(self) -> list[LiveCheck]:
        return [LiveCheck("hosts", "ssh.user", ("ssh",), self._hosts_job)]

    def _hosts_job(self) -> Job | None:
        try:
            answers = self.draft.answers()
        except ValueError:
            return None
        probes, base = self.wizard.probes, self.draft.base_dir
        accepted = frozenset(self.draft.accepted)

        def job() -> list[CheckResult]:
            return probes.hosts(answers, base, accepted, None) + probes.shared(
                answers, base, accepted
            )

        return job

    def results_changed(self, group: str, results: list[CheckResult]) -> None:
        self.call_later(self._show_hosts, results)

    async def _show_hosts(self, results: list[CheckResult]) -> None:
        box = self.query_one("#hosts", Vertical)
        await box.remove_children()
        if not results and "hosts" not in self._checking:
            waiting = self.elsewhere()
            if waiting:
                text = (
                    "No hosts to check yet: the hosts and the checks come from the earlier "
                    f"screens, and these need a fix first (F3 goes back): {'; '.join(waiting)}"
                )
                await box.mount(Static(Text(text), classes="host-text", id="waiting"))
            return
        by_host: dict[str, list[CheckResult]] = {}
        for result in results:
            by_host.setdefault(result.target, []).append(result)
        for host, found in by_host.items():
            shown = worst(found)
            if shown is None:
                continue
            offered = next((r.data["offered"] for r in found if "offered" in r.data), None)
            line = f"[{shown.status.value}] {shown.message}"
            if host in self.refused:
                line = f"[error] {host}: key refused; the wizard will not log in to it"
            children: list[Any] = [Static(Text(line), classes="host-text")]
            if offered and host not in self.refused:
                children += [
                    MarkedButton("Accept", id=f"accept-{host}"),
                    MarkedButton("Refuse", id=f"refuse-{host}"),
                ]
            await box.mount(Horizontal(*children, classes=f"host -{shown.status.value}"))

    def refusals(self) -> list[str]:
        errors = [r for rs in self._check_results.values() for r in rs if r.status is Status.ERROR]
        return [f"error: {r.message}" for r in errors]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action, _, host = (event.button.id or "").partition("-")
        self.decide(host, action == "accept")

    def decide(self, host: str, accept: bool) -> None:
        results = self._check_results.get("hosts", [])
        offered = next(
            (r.data["offered"] for r in results if r.target == host and "offered" in r.data),
            None,
        )
        if offered is None:
            return
        if accept:
            self.draft.accepted.add(offered)
            self.refused.discard(host)
            self.action_recheck()
        else:
            self.refused.add(host)
            self.call_later(self._show_hosts, results)

    def _pending(self) -> str | None:
        focused = self.focused
        if focused is not None and (focused.id or "").startswith(("accept-", "refuse-")):
            assert focused.id is not None
            return focused.id.partition("-")[2]
        for result in self._check_results.get("hosts", []):
            if "offered" in result.data and result.target not in self.refused:
                return result.target
        return None

    def action_accept(self) -> None:
        host = self._pending()
        if host:
            self.decide(host, True)

    def action_refuse(self) -> None:
        host = self._pending()
        if host:
            self.decide(host, False)
