"""The secretkey guard: the first step of every Harbor node, read-only.

Why first, and why both files: Harbor encrypts the passwords it stores (replication
targets, LDAP, ...) with the 16-character secretkey. `prepare` copies `ha/secretkey` to
`/data/secretkey` (harbor.cfg's `secretkey_path`), and that copy is the key Harbor uses. A
node holding another key than the deployment's (a lost secrets file regenerated the
deployment's values, or the node was installed by hand) would be broken by our files: so
the node's plan starts by comparing both, and stops before anything on it changes.
"""

from __future__ import annotations

from harbor_wizard import remote
from harbor_wizard.artefacts import SECRETKEY
from harbor_wizard.render import RenderedFile
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed


class KeepsSecretKey(Action):
    """Passes when the node holds no secretkey yet, or the deployment's."""

    verifies = True

    def __init__(self, rendered: RenderedFile) -> None:
        self.rendered = rendered
        copy = rendered.entry.copied_to if rendered.entry else None
        self.paths = (rendered.path,) if copy is None else (copy, rendered.path)
        self.step_id = "guard:secretkey"
        self.title = f"{' and '.join(map(str, self.paths))}, where present, are the deployment's"
        self.sums_read = remote.sha256s_read(self.paths)

    def reads(self) -> tuple[remote.Read, ...]:
        return (self.sums_read,)

    def inspect(self, ctx: StepContext) -> Change | None:
        expected = remote.sha256(self.rendered.content.encode())
        out = ctx.read(self.sums_read)
        sums = remote.parse_sums(out.stdout, self.paths)
        if not out.ok:
            raise StepFailed(f"{ctx.host}: reading its secretkey failed", out.code, out.tail())
        present = [path for path, found in sums.items() if found is not None]
        differ = [path for path in present if sums[path] != expected]
        if differ:
            raise StepFailed(
                f"{ctx.host}: {' and '.join(map(str, differ))} "
                f"{'hold' if len(differ) > 1 else 'holds'} another secretkey than "
                f"this deployment's ({SECRETKEY}). Harbor encrypts the passwords it stored "
                "with it: replacing it would leave them unreadable, so nothing on "
                f"{ctx.host} was changed. Either restore the deployment's generated values "
                "(generated.* in the secrets file or the keyring) from your backup, or adopt "
                f"the node's key: put the 16 characters of {ctx.host}:{differ[0]} into "
                f"{SECRETKEY} of the secrets file (every node must hold the same key); then "
                "run again"
            )
        ctx.facts["checks"] = (
            "the deployment's secretkey" if present else "no secretkey yet (not installed)"
        )
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("the guard changes nothing")
