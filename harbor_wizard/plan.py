"""The plan: deployment > phase > host > step, built from the validated inputs alone.

Why a tree of plain data: it prints as the ``--dry-run`` text and the TUI's review, drives
the progress tree, and is what the journal records. Phases run one after another (the load
balancers beside the nodes' files); within a phase hosts run in parallel, each host's steps
in order.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from harbor_wizard.answers.files import installer_path
from harbor_wizard.checks import CheckOptions
from harbor_wizard.inputs import Inputs
from harbor_wizard.profiles import DatabasePhase, Profile, Then, profile_for
from harbor_wizard.render import RenderedFile, ports, source_values
from harbor_wizard.steps.base import Action
from harbor_wizard.steps.database import LoadSchema
from harbor_wizard.steps.distribute import DistributeInstaller
from harbor_wizard.steps.files import PutFile
from harbor_wizard.steps.guard import KeepsSecretKey
from harbor_wizard.steps.harbor import UnpackInstaller
from harbor_wizard.steps.harbor_db import PrepareHarborDatabase
from harbor_wizard.steps.preflight import Preflight
from harbor_wizard.steps.rolling import (
    DRAIN_WAIT,
    Drain,
    HaproxyDrain,
    IpvsDrain,
    NoDrain,
    Roll,
    RollingInstall,
)
from harbor_wizard.steps.system import (
    Directory,
    Packages,
    RedirectPersists,
    RedirectRules,
    Service,
    Sysctl,
)
from harbor_wizard.steps.verify import ExternalLbServes, HoldsVip, NodeServes, VipServes

if TYPE_CHECKING:
    from harbor_wizard.journal import Journal

OPERATOR = "operator"
"""The pseudo-host of steps that run on this machine (checks, schema, VIP probe)."""
DATABASE = "database"
EXTERNAL_LB_WAIT = 120.0
"""Seconds to wait for an external LB to answer at the VIP (`--lb-wait`)."""


@dataclass(frozen=True)
class HostPlan:
    host: str
    address: str | None
    steps: tuple[Action, ...]


@dataclass(frozen=True)
class Phase:
    name: str
    hosts: tuple[HostPlan, ...]
    note: str = ""
    """How its hosts take turns, when not simply all at once."""
    beside_next: bool = False
    """Runs at the same time as the next phase: neither needs the other's work, so the
    load balancers' start (and their VRRP election) overlaps the nodes' files. A failure
    in either stops the run once both have ended."""


@dataclass(frozen=True)
class Plan:
    deployment: str
    phases: tuple[Phase, ...]
    notes: tuple[str, ...] = ()
    """What the operator must know before running it: values this run changes that Harbor
    ignores (it read them on its first start; see `first_start_notes`)."""

    def describe(self) -> str:
        """The plan as text: what ``--dry-run`` prints first and the TUI's review shows."""
        lines = [f"Plan for deployment '{self.deployment}':"]
        for number, phase in enumerate(self.phases, 1):
            parallel = " (hosts in parallel)" if len(phase.hosts) > 1 and not phase.note else ""
            beside = f", at the same time as phase {number + 1}" if phase.beside_next else ""
            lines.append(f"{number}. {phase.name}{parallel}{beside}")
            if phase.note:
                lines.append(f"   {phase.note}")
            for host in phase.hosts:
                where = f" ({host.address})" if host.address else ""
                lines.append(f"   {host.host}{where}")
                lines += [f"     - {step.title}" for step in host.steps]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    def rounds(self) -> list[tuple[Phase, ...]]:
        """The phases in the order they run: each round's phases at the same time."""
        rounds: list[tuple[Phase, ...]] = []
        together: list[Phase] = []
        for phase in self.phases:
            together.append(phase)
            if not phase.beside_next:
                rounds.append(tuple(together))
                together = []
        if together:
            rounds.append(tuple(together))
        return rounds

    def hosts(self) -> list[str]:
        seen: dict[str, None] = {}
        for phase in self.phases:
            for host in phase.hosts:
                seen.setdefault(host.host, None)
        return list(seen)


def build_plan(
    inputs: Inputs,
    check_options: CheckOptions | None = None,
    *,
    lb_wait: float = EXTERNAL_LB_WAIT,
    reinstall: bool = False,
    batch: int = 1,
    drain_wait: float = DRAIN_WAIT,
    previous: Journal | None = None,
) -> Plan:
    """The plan; `reinstall` (``--from-scratch``) runs install.sh on every node again;
    `batch` nodes that serve are re-installed at a time (at most all but one); `previous`
    (the journal of earlier runs) tells which first-start-only values this run changes."""
    answers = inputs.answers
    files = inputs.render()
    started_with = {node.name: first_start_values(inputs) for node in answers.harbor_nodes}
    notes = first_start_notes(
        profile_for(answers.harbor.version), started_with, previous.recorded() if previous else {}
    ) + scanner_notes(inputs)
    installer = installer_path(inputs.document)
    db = answers.database
    addresses = {node.name: str(node.address) for node in answers.harbor_nodes}
    distribute = DistributeInstaller(installer, addresses)
    phases = [
        Phase(
            "preflight", (HostPlan(OPERATOR, None, (Preflight(check_options or CheckOptions()),)),)
        ),
        Phase(
            "database",
            (HostPlan(DATABASE, f"{db.host}:{db.port}", (_database_step(inputs, installer),)),),
        ),
        Phase("installer", (HostPlan(OPERATOR, None, (distribute,)),)),
    ]
    if answers.load_balancer.mode != "external":
        lbs = tuple(_lb_plan(inputs, files))
        phases.append(Phase("load balancers", lbs, beside_next=True))
    nodes = [
        _node_plan(inputs, files, installer, node.name, str(node.address), notes)
        for node in answers.harbor_nodes
    ]
    phases.append(Phase("harbor nodes", tuple(nodes)))
    phases += _install_phases(inputs, files, installer, reinstall, batch, drain_wait, started_with)
    phases.append(Phase("verification", tuple(_verification(inputs, lb_wait))))
    return Plan(answers.name, tuple(phases), notes)


def _database_step(inputs: Inputs, installer: Path) -> Action:
    """What the profile's database phase does, before any node installs."""
    profile = profile_for(inputs.answers.harbor.version)
    db = inputs.answers.database
    if profile.database_phase is DatabasePhase.CREATE_DATABASE:
        return PrepareHarborDatabase(
            db.host, db.port, db.user, db.postgres_name, db.postgres_ssl_mode
        )
    assert profile.installer.schema is not None
    return LoadSchema(installer, profile.installer.schema)


def first_start_values(inputs: Inputs) -> dict[str, str]:
    """The values Harbor reads only on its first start (the profile's list), from the
    answers and secrets they are rendered from, as digests keyed with the deployment's
    secretkey: the journal that keeps them, with the install.sh step that starts Harbor
    with them, holds no secret and no way to guess one."""
    profile = profile_for(inputs.answers.harbor.version)
    key = inputs.artefacts.secretkey.encode()
    found: dict[str, str] = {}
    for entry in profile.first_start_only:
        value = _answer(inputs, entry.field)
        if value is not None:
            message = f"{entry.field}={value}".encode()
            found[entry.field] = hmac.new(key, message, hashlib.sha256).hexdigest()
    return found


def _answer(inputs: Inputs, path: str) -> str | None:
    """An answer by its dotted path (a secret's value for a secret path); None when its
    section is not in use (no Clair DB without scanning)."""
    if path in inputs.secrets:
        return inputs.secrets[path].get_secret_value()
    node: object = inputs.answers
    for part in path.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return str(node)


def first_start_notes(
    profile: Profile,
    planned: Mapping[str, Mapping[str, str]],
    before: Mapping[str, Mapping[str, str]],
) -> tuple[str, ...]:
    """One note per first-start-only value this plan gives some node a value unlike the
    one an earlier install.sh started Harbor with (`before`: the journal's, per host)."""
    earlier: dict[str, set[str]] = {}
    for values in before.values():
        for name, digest in values.items():
            earlier.setdefault(name, set()).add(digest)
    changed = {
        name
        for values in planned.values()
        for name, digest in values.items()
        if earlier.get(name, {digest}) != {digest}
    }
    return tuple(e.note(profile.release) for e in profile.first_start_only if e.field in changed)


def _files_of(files: list[RenderedFile], host: str) -> list[RenderedFile]:
    return [f for f in files if f.host == host]


def _put(
    files: list[RenderedFile],
    follow: Callable[[Then, list[RenderedFile]], Action | None],
    notes: Mapping[PurePosixPath, tuple[str, ...]] | None = None,
) -> list[Action]:
    """Each file written, and after the last file of a group (same `then`, same service)
    what its profile entry says must follow a change: `follow` builds that step. A file's
    `notes` are said when it is written."""
    steps: list[Action] = []
    for rendered in files:
        steps.append(PutFile(rendered, (notes or {}).get(rendered.path, ())))
        if rendered.then is Then.NOTHING:
            continue
        group = [f for f in files if (f.then, f.service) == (rendered.then, rendered.service)]
        if group[-1] is rendered:
            step = follow(rendered.then, group)
            if step is not None:
                steps.append(step)
    return steps


def _lb_plan(inputs: Inputs, files: list[RenderedFile]) -> list[HostPlan]:
    lb = inputs.answers.load_balancer
    profile = profile_for(inputs.answers.harbor.version)

    def follow(then: Then, group: list[RenderedFile]) -> Action | None:
        if then is Then.SYSCTL:
            return Sysctl(group[-1].path, dict(profile.lb_sysctl))
        if then is Then.RELOAD:
            return Service(group[-1].service, [f.path for f in group])
        return None

    plans = []
    for node in lb.nodes:
        steps: list[Action] = [Packages(dict(profile.lb_packages[lb.mode]))]
        steps += _put(_files_of(files, node.name), follow)
        plans.append(HostPlan(node.name, str(node.address), tuple(steps)))
    return plans


def _node_plan(
    inputs: Inputs,
    files: list[RenderedFile],
    installer: Path,
    host: str,
    address: str,
    notes: tuple[str, ...] = (),
) -> HostPlan:
    """Everything on the node but install.sh: its inputs in place, the VIP redirect; the
    file holding first-start-only values says the plan's `notes` when written."""
    answers = inputs.answers
    profile = profile_for(answers.harbor.version)
    noted = {entry.file: notes for entry in profile.first_start_only} if notes else {}
    redirect, vip = profile.vip_redirect, str(answers.vip)
    mine = _files_of(files, host)
    # The guard first: a node holding another secretkey stops before anything on it changes.
    steps: list[Action] = [KeepsSecretKey(f) for f in mine if f.guarded]
    steps.append(UnpackInstaller(installer, profile.installer))
    steps += [
        Directory(d.path, d.owner, d.mode) for d in profile.directories(tls=answers.tls is not None)
    ]

    def follow(then: Then, group: list[RenderedFile]) -> Action | None:
        if then is Then.VIP_REDIRECT:
            return RedirectRules(redirect.chain, redirect.script, vip, ports(answers))
        if then is Then.BOOT_UNIT:
            unit = group[-1].service
            title = f"{unit}.service enabled at boot (and run now)"
            paths = [f.path for f in group]
            return Service(unit, paths, reload=False, title=title, unit_file=True)
        return None

    steps += _put(mine, follow, noted)
    return HostPlan(host, address, tuple(steps))


def _drain(inputs: Inputs, address: str) -> Drain:
    answers = inputs.answers
    lb = answers.load_balancer
    pools = profile_for(answers.harbor.version).pools
    names = [node.name for node in lb.nodes]
    if lb.mode == "haproxy":
        return HaproxyDrain(names, pools.backends(ports(answers)), pools.haproxy_socket)
    if lb.mode == "lvs-dr":
        return IpvsDrain(names, str(answers.vip), ports(answers), address, pools.lvs_weight)
    return NoDrain()


def _install_phases(
    inputs: Inputs,
    files: list[RenderedFile],
    installer: Path,
    reinstall: bool,
    batch: int,
    drain_wait: float,
    started_with: Mapping[str, dict[str, str]],
) -> list[Phase]:
    """install.sh on the first node, then on the others. The first node serves (or is
    drained, installed and back) before any other starts: on an empty database it is the
    one whose Harbor fills it. Of the others, those that serve go `batch` at a time, each
    drained first; those that do not serve yet go at once. Each records in the journal
    the first-start-only values it starts Harbor with (`started_with`)."""
    answers = inputs.answers
    profile = profile_for(answers.harbor.version)
    flags = install_flags(inputs)
    values = source_values(inputs.artefacts)
    settings = tuple(
        (setting, value)
        for setting in profile.shared_settings
        if (value := values.get(setting.source)) is not None
    )
    nodes = answers.harbor_nodes
    roll = Roll(min(batch, max(1, len(nodes) - 1)))
    plans = []
    for node in nodes:
        address = str(node.address)
        inputs_of = [f for f in _files_of(files, node.name) if f.then is Then.INSTALL]
        step = RollingInstall(
            installer, profile.installer, inputs_of, flags, address,
            roll=roll, drain=_drain(inputs, address), health=profile.health,
            drain_wait=drain_wait, force=reinstall, settings=settings,
        )  # fmt: skip
        step.recorded = started_with.get(node.name, {})
        plans.append(HostPlan(node.name, address, (step,)))
    drained = _drain(inputs, str(nodes[0].address)).describe()
    first = f"where Harbor already serves: {drained} first, back once it serves again"
    phases = [Phase("install.sh: first node", tuple(plans[:1]), note=first)]
    if len(plans) > 1:
        at_a_time = "one" if roll.batch == 1 else str(roll.batch)
        note = f"{at_a_time} at a time {first}; nodes not serving yet all at once"
        phases.append(Phase("install.sh: other nodes", tuple(plans[1:]), note=note))
    return phases


def scanner_notes(inputs: Inputs) -> tuple[str, ...]:
    """Said before a release that offers Trivy is installed without it: easy to miss, as
    install.sh's default is no scanner."""
    harbor = inputs.answers.harbor
    if profile_for(harbor.version).installer.trivy_flag and not harbor.with_trivy:
        return (
            "Harbor is installed without a vulnerability scanner (harbor.with_trivy is "
            "false): set it to true to scan images with Trivy",
        )
    return ()


def install_flags(inputs: Inputs) -> list[str]:
    """install.sh's flags: the release's own, and its scanner's when asked for."""
    harbor = inputs.answers.harbor
    layout = profile_for(harbor.version).installer
    flags = list(layout.flags)
    if harbor.with_clair and layout.clair_flag:
        flags.append(layout.clair_flag)
    if harbor.with_trivy and layout.trivy_flag:
        flags.append(layout.trivy_flag)
    return flags


def _verification(inputs: Inputs, lb_wait: float) -> list[HostPlan]:
    answers = inputs.answers
    https = answers.harbor.protocol == "https"
    lb = answers.load_balancer
    profile = profile_for(answers.harbor.version)
    redirect, health = profile.vip_redirect, profile.health
    plans = []
    for harbor in answers.harbor_nodes:
        steps: list[Action] = [NodeServes(str(harbor.address), health)]
        if lb.mode == "lvs-dr":
            steps.append(
                RedirectPersists(redirect.chain, redirect.unit, str(answers.vip), ports(answers))
            )
        plans.append(HostPlan(harbor.name, str(harbor.address), tuple(steps)))
    holder = lb.vip_holder
    for node in lb.nodes:
        expected = holder is not None and node.name == holder.name
        plans.append(
            HostPlan(
                node.name,
                str(node.address),
                (HoldsVip(str(answers.vip), lb.interface or "", expected),),
            )
        )
    if lb.mode == "external":
        nodes = {node.name: str(node.address) for node in answers.harbor_nodes}
        vip_step: Action = ExternalLbServes(str(answers.vip), https, nodes, health, lb_wait)
    else:
        vip_step = VipServes(str(answers.vip), https, health)
    plans.append(HostPlan(OPERATOR, None, (vip_step,)))
    return plans
