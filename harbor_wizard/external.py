"""What the operator's own load balancer must be set to, in ``load_balancer.mode: external``.

Why a module of its own: in external mode the wizard configures no LB host, so the only
way the deployment works is that a person configures the hardware or cloud load balancer
the same way the wizard's HAProxy would. The unattended summary, ``--dry-run`` and the
TUI's review and done screens all print these same settings, built from the answers alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from harbor_wizard.answers import Answers
from harbor_wizard.profiles import Health, profile_for
from harbor_wizard.render import ports


@dataclass(frozen=True)
class Backend:
    name: str
    address: str
    port: int


@dataclass(frozen=True)
class Pool:
    """One listener of the load balancer and the nodes behind it."""

    port: int
    passthrough: bool
    """TCP passthrough: TLS ends on the nodes (which hold the certificate), not on the LB."""
    backends: tuple[Backend, ...]


@dataclass(frozen=True)
class ExternalLb:
    """Everything the operator's load balancer must be set to for this deployment."""

    vip: str
    hostname: str
    https: bool
    pools: tuple[Pool, ...]
    health_port: int
    """Nodes are probed with the deployment's protocol: on :80 with https they only redirect."""
    health: Health


def settings(answers: Answers) -> ExternalLb:
    """The external load balancer's settings for these answers (any LB mode's nodes)."""
    https = answers.harbor.protocol == "https"
    pools = tuple(
        Pool(
            port,
            passthrough=port == 443,
            backends=tuple(
                Backend(node.name, str(node.address), port) for node in answers.harbor_nodes
            ),
        )
        for port in ports(answers)
    )
    return ExternalLb(
        vip=str(answers.vip),
        hostname=answers.harbor.hostname,
        https=https,
        pools=pools,
        health_port=443 if https else 80,
        health=profile_for(answers.harbor.version).health,
    )


def describe(lb: ExternalLb) -> str:
    """The settings as text a person can carry out on any load balancer."""
    scheme = "https" if lb.https else "http"
    lines = [
        "The external load balancer must be set to (harbor-wizard does not configure it):",
        f"  Address: the load balancer answers on {lb.vip}; clients use "
        f"{scheme}://{lb.hostname}/, so {lb.hostname} must resolve to {lb.vip}."
        if lb.hostname != lb.vip
        else f"  Address: the load balancer answers on {lb.vip}, which clients use as "
        f"{scheme}://{lb.vip}/.",
    ]
    for pool in lb.pools:
        kind = (
            "TCP passthrough (no TLS termination on the LB: the nodes hold the certificate)"
            if pool.passthrough
            else "TCP (or HTTP without rewriting)"
        )
        lines.append(f"  Port {pool.port}, {kind}, to every node:")
        lines += [f"    {b.name}  {b.address}:{b.port}" for b in pool.backends]
    tls_note = ", TLS without verifying the certificate" if lb.https else ""
    lines += [
        f"  Health check, for every pool: GET {lb.health.path} on each node's port "
        f"{lb.health_port} ({scheme}{tls_note}); healthy when it answers HTTP 200 with "
        f"'{lb.health.field}' in the body (e.g. every 2 s, down after 3 failures, up after 2).",
        "  Persistence: by client source IP (e.g. HAProxy `balance source`), not by cookie: "
        "docker clients and replication jobs do not send an LB's cookie back, so a "
        "cookie-sticky LB spreads one client's token and registry requests over the nodes.",
        "  Timeouts: at least 30 minutes for client and server, so large layer uploads "
        "do not break.",
    ]
    return "\n".join(lines)


def instructions(answers: Answers) -> str | None:
    """The text to print at the end of a run, or None when the wizard manages the LBs."""
    if answers.load_balancer.mode != "external":
        return None
    return describe(settings(answers))
