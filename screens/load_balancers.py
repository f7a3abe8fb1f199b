"""Load balancers: Keepalived mode and VRRP settings, both LBs, and which holds the VIP."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from harbor_wizard.views.fields import FieldRow, Spec
from harbor_wizard.views.form import FormScreen

KEEPALIVED_FIELDS = ("interface", "virtual_router_id", "auth_pass", "nodes")


class LoadBalancersScreen(FormScreen):
    CSS_PATH = "load_balancers.tcss"
    TITLE_TEXT = "Load balancers: Keepalived holds the VIP on one of two LBs"
    SECTIONS = ("load_balancer",)

    def fields(self) -> ComposeResult:
        yield self.row(
            Spec("load_balancer.mode", "Mode", "choice", ("lvs-dr", "haproxy", "external"))
        )
        if self.draft.get("load_balancer.mode") == "external":
            yield Static(
                "external: your own load balancer sends ports 80/443 to the Harbor nodes; "
                "the wizard installs no LB hosts.",
                classes="explain",
            )
            return
        yield self.row(Spec("load_balancer.interface", "Interface", placeholder="ens160"))
        yield self.row(Spec("load_balancer.virtual_router_id", "VRRP router id", "int"))
        yield self.row(Spec("load_balancer.prefix_length", "VIP prefix length", "int"), 24)
        yield self.row(Spec("load_balancer.auth_pass", "VRRP password", "secret"))
        for index in (0, 1):
            base = f"load_balancer.nodes[{index}]"
            yield self.row(Spec(f"{base}.name", f"LB {index + 1} name", also=(base,)))
            yield self.row(Spec(f"{base}.address", f"LB {index + 1} address"))
            yield self.row(Spec(f"{base}.priority", f"LB {index + 1} priority", "int"))
        yield Static(Text(self.holder_text()), id="holder", classes="explain")

    def row(self, spec: Spec, default: Any = None) -> FieldRow:
        if spec.path == "load_balancer.mode":
            spec = Spec(
                spec.path, spec.label, spec.kind, spec.choices, also=("load_balancer.nodes",)
            )
        return super().row(spec, default)

    def holder_text(self) -> str:
        """Which LB holds the VIP, said plainly (the higher priority)."""
        nodes = self.draft.get("load_balancer.nodes") or []
        ranked = [
            (n.get("priority"), n.get("name") or "?")
            for n in nodes
            if isinstance(n, dict) and isinstance(n.get("priority"), int)
        ]
        vip = f"the VIP {self.draft.get('vip')}" if self.draft.get("vip") else "the VIP"
        if len(ranked) != 2 or ranked[0][0] == ranked[1][0]:
            return f"The LB with the higher priority holds {vip}; the other takes over if it fails."
        (_, high), (_, low) = sorted(ranked, reverse=True)
        return f"{high} holds {vip}; {low} takes it over when {high} fails."

    async def edited(self, row: FieldRow) -> None:
        if row.spec.path == "load_balancer.mode":
            self._switch_mode(str(row.value))
            await self.recompose()
            self.revalidate()
            self.query_one("#load_balancer-mode").focus()
            return
        if self.draft.get("load_balancer.mode") != "external":
            self.query_one("#holder", Static).update(Text(self.holder_text()))

    def _switch_mode(self, mode: str) -> None:
        """External mode has no LB hosts: keep their settings aside until switched back."""
        self.draft.set_aside("load_balancer", KEEPALIVED_FIELDS, mode == "external")
