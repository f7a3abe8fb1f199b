"""Preflight: every live check, before any host is touched; any error stops the run."""

from __future__ import annotations

from harbor_wizard.checks import CheckOptions, CheckResult, Status, run_all
from harbor_wizard.steps.base import Action, Change, StepContext, StepFailed


class Preflight(Action):
    verifies = True

    def __init__(self, options: CheckOptions) -> None:
        self.options = options
        self.step_id = "checks"
        self.title = "live checks: SSH, hosts, VIP, databases, Redis, storage, TLS, installer"
        self.warnings: tuple[CheckResult, ...] | None = None
        """What the last run of the checks warned about (None: they have not run), for
        the views that sum a run up: the install went on with them."""

    def inspect(self, ctx: StepContext) -> Change | None:
        inputs = ctx.inputs
        results = run_all(
            inputs.answers,
            inputs.secrets,
            inputs.document.base_dir,
            self.options,
            keep=ctx.keep_connection,
        )
        for result in results:
            ctx.emit_line(output_line(result))
        errors = [r for r in results if r.status is Status.ERROR]
        warnings = [r for r in results if r.status is Status.WARNING]
        self.warnings = tuple(warnings)
        if self.options.strict:  # --strict: warnings stop the run like errors
            errors += warnings
        if errors:
            first = errors[0]
            raise StepFailed(
                f"{len(errors)} check(s) failed, e.g. {first.line}",
                output="\n".join(r.line for r in errors),
            )
        ctx.facts["checks"] = f"{len(results)} checks passed, {len(warnings)} warning(s)"
        return None

    def apply(self, ctx: StepContext, change: Change) -> str:
        raise AssertionError("checks change nothing")


def output_line(result: CheckResult) -> str:
    """One result as the step's output says it: its status, then ``target: message``."""
    return f"{result.status.value:7} {result.line}"
