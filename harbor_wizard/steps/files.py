"""A rendered file on its host: compared by checksum, mode and owner; replaced atomically."""

from __future__ import annotations

import hashlib

from harbor_wizard import remote
from harbor_wizard.render import RenderedFile
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed


class PutFile(Action):
    def __init__(self, rendered: RenderedFile, notes: tuple[str, ...] = ()) -> None:
        self.rendered = rendered
        self.notes = notes
        """Said when the file is written (plan.Plan.notes: values Harbor will ignore)."""
        self.content = rendered.content.encode()
        self.step_id = f"file:{rendered.path}"
        self.title = f"{rendered.path} ({rendered.mode:04o})"
        self.state_read = remote.file_state_read(rendered.path)

    def fingerprint(self) -> str:
        r = self.rendered
        return hashlib.sha256(
            f"{self.step_id}|{remote.sha256(self.content)}|{r.mode}|{r.owner}|{r.group}".encode()
        ).hexdigest()

    def reads(self) -> tuple[remote.Read, ...]:
        return (self.state_read,)

    def inspect(self, ctx: StepContext) -> Change | None:
        r = self.rendered
        state = remote.parse_file_state(ctx.read(self.state_read))
        if state.sha256 is None:
            return Change("missing", self._diff(ctx, ""))
        if state.sha256 != remote.sha256(self.content):  # a guarded file: see steps.guard
            return Change("content differs", self._diff(ctx, None))
        if state.mode != r.mode or not state.owned_by(r.owner, r.group):
            shown = f"{state.mode:04o} {state.owner}:{state.group}" if state.mode else "?"
            return Change(
                f"mode/owner {shown} -> {r.mode:04o} {r.owner}:{r.group}", kind="mode/owner"
            )
        return None

    def _diff(self, ctx: StepContext, current: str | None) -> str:
        """A dry run's diff, secrets masked by field on both sides (the host's current
        passwords too), keys not shown at all: see `RenderedFile.diff`. The host's copy
        (`current` None) is read only here: a real run has no use for it."""
        if not ctx.dry_run:
            return ""
        if self.rendered.secret and not self.rendered.secret_keys:
            return self.rendered.diff("", ctx.host)
        if current is None:
            current = remote.read_file(ctx.ssh, self.rendered.path)
        return self.rendered.diff(current or "", ctx.host)

    def apply(self, ctx: StepContext, change: Change) -> str:
        r = self.rendered
        if change.kind == "mode/owner":
            out = remote.run(
                ctx.ssh,
                'chown -- "$2" "$1" && chmod -- "$3" "$1"',
                r.path, f"{r.owner}:{r.group}", f"{r.mode:o}",
                sudo=True,
            )  # fmt: skip
        else:
            out = remote.write_file(
                ctx.ssh,
                r.path,
                self.content,
                mode=r.mode,
                owner=r.owner,
                group=r.group,
                validate=r.validate,  # on the host, from the temp file, before the rename
            )
        if not out.ok:
            raise StepFailed(
                f"{ctx.host}: writing {r.path} failed (exit {out.code})", out.code, out.tail()
            )
        return f"{r.path} written ({change.summary})" + "".join(f"; {n}" for n in self.notes)
