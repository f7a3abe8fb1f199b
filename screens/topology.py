"""Topology: the Harbor release, the deployment's name, Harbor's address, the VIP, and the
Harbor nodes.

The release comes first: it decides the screens and fields that follow (the Harbor DB is
MariaDB or PostgreSQL, the scanner Clair or Trivy), and changing it re-shapes the draft
(``Draft.switch_release``).
"""

from __future__ import annotations

import ipaddress
import re
from functools import partial
from pathlib import PurePath
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Label, Static

from harbor_wizard.answers.rules import HARBOR_NODES_WHY, MIN_HARBOR_NODES
from harbor_wizard.views.draft import RELEASES
from harbor_wizard.views.fields import FieldRow, Spec
from harbor_wizard.views.form import FormScreen, Job, LiveCheck

RELEASE_MEANS = {
    "1.4": "the HA guide's: MariaDB, Redis, Clair",
    "2.15": "current: PostgreSQL, Redis auth, Trivy",
}
"""What choosing each release means, beside the choice."""

SCANNER = {
    "1.4": ("harbor.with_clair", "Scanning (Clair)"),
    "2.15": ("harbor.with_trivy", "Scanning (Trivy)"),
}
STRAY_SECTIONS = {"1.4": (), "2.15": ("clair_database",)}
"""Sections only the other release has, fixed on this screen (with its scanner) when an
opened file has them."""
_INSTALLER_VERSION = re.compile(r"harbor-offline-installer-v(\d+\.\d+\.\d+)\.tgz")


class ReleaseRow(FieldRow):
    """The release, and what it means beside it (one line: screen 1 is full)."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="line"):
            yield Label(Text(self._label(False)), classes="label")
            yield self._editor()
            yield Static(Text(RELEASE_MEANS.get(self._initial, "")), classes="means")
            yield Static("", classes="status")
        yield Static("", classes="message")


class TopologyScreen(FormScreen):
    CSS_PATH = "topology.tcss"
    TITLE_TEXT = "Topology: release, name, Harbor's address, VIP, Harbor nodes"
    SECTIONS = ("version", "name", "harbor", "vip", "harbor_nodes")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f6", "add_node", "Add node"),
        Binding("f7", "remove_node", "Remove node"),
    ]

    @classmethod
    def sections_for(cls, line: str) -> tuple[str, ...]:
        return (*cls.SECTIONS, *STRAY_SECTIONS[line])

    def __init__(self) -> None:
        super().__init__()
        self._stray: dict[str, Any] = {}
        """The other release's scanner key and sections, while switched off here."""

    def fields(self) -> ComposeResult:
        line = self.draft.release_line()
        release = Spec("harbor.version", "Harbor release", "choice", tuple(RELEASES), bound=False)
        yield ReleaseRow(release, line)
        yield self.row(Spec("name", "Deployment name", placeholder="harbor-prod"))
        yield self.row(
            Spec("harbor.hostname", "Harbor hostname", placeholder="registry.example.com")
        )
        yield self.row(Spec("vip", "Virtual IP (VIP)", placeholder="192.0.2.220"))
        yield self.row(Spec("harbor.protocol", "Protocol", "choice", ("http", "https")))
        scanner, label = SCANNER[line]
        yield self.row(Spec(scanner, label, "bool"))
        yield from self._stray_scanner(line)
        yield self.row(Spec("harbor.installer", "Offline installer", placeholder="./harbor-*.tgz"))
        yield self.row(Spec("harbor.admin_password", "Admin password", "secret"))
        note = self.first_start_note("harbor.admin_password")
        if note:
            yield Static(Text(note), id="admin-password-note", classes="first-start")
        yield Static(
            f"Harbor nodes (at least {MIN_HARBOR_NODES}; F6 adds one, F7 removes the last):",
            classes="section",
        )
        for index in range(len(self.draft.get("harbor_nodes", []) or [])):
            yield self.row(Spec(f"harbor_nodes[{index}].name", f"Node {index + 1} name"))
            yield self.row(
                Spec(
                    f"harbor_nodes[{index}].address",
                    f"Node {index + 1} address",
                    also=(f"harbor_nodes[{index}]",),
                )
            )

    def _stray_scanner(self, line: str) -> ComposeResult:
        """The other release's scanner, when an opened file switches it on (a 2.x file
        with Clair, or a Clair DB section): refused, on a field that switching it off
        clears (its key and sections leave the answers)."""
        other = "2.15" if line == "1.4" else "1.4"
        path, label = SCANNER[other]
        sections = STRAY_SECTIONS[line]
        if self.draft.get(path) or any(s in self.draft.data for s in sections):
            spec = Spec(path, label, "bool", also=sections, bound=False)
            yield FieldRow(spec, True)
            gone = " ".join(f"and the file's {section} section" for section in sections)
            yield Static(
                Text(f"Harbor {line} has no {label[10:-1]}: 'no' removes {path} {gone}".strip()),
                classes="stray",
            )

    def _switch_stray(self, row: FieldRow) -> None:
        """Switch the other release's scanner off (its key and sections kept aside on
        this screen) or back on."""
        harbor = self.draft.data.setdefault("harbor", {})
        key = row.spec.path.split(".", 1)[1]
        if row.value:
            if key in self._stray:
                harbor[key] = self._stray.pop(key)
            for section in row.spec.also:
                if section in self._stray:
                    self.draft.data[section] = self._stray.pop(section)
            harbor.setdefault(key, True)
        else:
            if key in harbor:
                self._stray[key] = harbor.pop(key)
            for section in row.spec.also:
                if section in self.draft.data:
                    self._stray[section] = self.draft.data.pop(section)

    def row(self, spec: Spec, default: Any = None) -> FieldRow:
        if spec.path == "harbor_nodes[0].name":
            spec = Spec(spec.path, spec.label, also=("harbor_nodes",))
        return super().row(spec, default)

    def first_start_note(self, path: str) -> str:
        """Said under an answer Harbor reads only on its first start (the profile's list),
        once this deployment's journal shows Harbor started with a value for it."""
        from harbor_wizard.journal import Journal
        from harbor_wizard.problems import StateFileError
        from harbor_wizard.profiles import profile_for
        from harbor_wizard.views.resume import state_root

        name = str(self.draft.get("name") or "")
        try:
            profile = profile_for(str(self.draft.get("harbor.version") or ""))
            entry = profile.first_start(path)
            if not name or entry is None:
                return ""
            recorded = Journal.load(state_root() / name / "journal.json").recorded()
        except (ValueError, StateFileError):
            return ""
        if not any(path in values for values in recorded.values()):
            return ""
        return f"note: {name} is installed, and {entry.why(profile.release)}"

    def live_checks(self) -> list[LiveCheck]:
        return [
            LiveCheck("vip", "vip", ("vip",), self._vip_job),
            LiveCheck(
                "installer",
                "harbor.installer",
                ("harbor.installer", "harbor.version"),
                self._installer_job,
            ),
        ]

    def _vip_job(self) -> Job | None:
        from harbor_wizard.views.live import vip_check

        address = ipaddress.IPv4Address(str(self.draft.get("vip")))
        try:
            answers = self.draft.answers()  # complete: its LBs can say whose the VIP is
        except ValueError:
            answers = None
        draft = self.draft
        accepted = frozenset(draft.accepted)
        return partial(
            vip_check, self.wizard.probes, address, answers, draft.base_dir, accepted, draft.path
        )

    def _installer_job(self) -> Job | None:
        from harbor_wizard.certs import resolve_path

        path = resolve_path(str(self.draft.get("harbor.installer")), self.draft.base_dir)
        return partial(self.wizard.probes.installer, path, str(self.draft.get("harbor.version")))

    async def edited(self, row: FieldRow) -> None:
        if row.spec.path == "harbor.version":
            line = str(row.value)
            if line != self.draft.release_line():
                self.draft.switch_release(line, self._installer_version(line))
                await self._rebuild("harbor-version")
        elif not row.spec.bound:
            self._switch_stray(row)
        elif row.spec.path == "harbor.with_clair":
            self.draft.enable("clair_database", bool(row.value))
        elif row.spec.path == "harbor.protocol":
            self.draft.enable("tls", row.value == "https")
        elif row.spec.path == "harbor.installer":
            version = self._installer_version(self.draft.release_line())
            if version:
                self.draft.switch_release(self.draft.release_line(), version)

    def _installer_version(self, line: str) -> str | None:
        """The version the installer's file name says, when it is one of release `line`
        (harbor-offline-installer-v2.15.3.tgz: 2.15.3); the installer check reads the
        version inside the file and says when the two differ."""
        name = PurePath(str(self.draft.get("harbor.installer") or "")).name
        found = _INSTALLER_VERSION.fullmatch(name)
        if found and found[1].startswith(line + "."):
            return found[1]
        return None

    async def action_add_node(self) -> None:
        nodes = list(self.draft.get("harbor_nodes", []) or [])
        nodes.append({"name": f"harbor{len(nodes) + 1:02d}"})
        self.draft.set("harbor_nodes", nodes)
        await self._rebuild(f"harbor_nodes-{len(nodes) - 1}-address")

    async def action_remove_node(self) -> None:
        nodes = list(self.draft.get("harbor_nodes", []) or [])
        if len(nodes) <= MIN_HARBOR_NODES:
            notice = self.query_one(".notice", Static)
            notice.update(
                Text(
                    f"F7: node {len(nodes)} not removed: at least {MIN_HARBOR_NODES} Harbor "
                    f"nodes are needed ({HARBOR_NODES_WHY})."
                )
            )
            notice.scroll_visible()
            return
        self.draft.data["harbor_nodes"] = nodes[:-1]
        await self._rebuild(f"harbor_nodes-{len(nodes) - 2}-address")

    async def _rebuild(self, focus: str) -> None:
        await self.recompose()
        self.revalidate()
        for check in self.live_checks():
            self.paint_check(check)
        for widget in self.query(f"#{focus}"):
            widget.focus()
