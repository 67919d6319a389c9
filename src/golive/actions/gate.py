"""`gate:` steps: Go/No-Go. The automatic checks run first, then the approvers vote
(`golive gate RUN GATE go|no-go --as PERSON`). A no-go fails the step, so the plan's failure
policy applies: pause (the default) lets the release manager decide what happens next."""

from __future__ import annotations

from typing import ClassVar

from golive.actions.base import Result, StepContext
from golive.plan.models import Check, Step, StepCheck, StepKind


def _label(check: Check) -> str:
    if check.name:
        return check.name
    if isinstance(check, StepCheck):
        return f"step {check.step}"
    return type(check).__name__.removesuffix("Check").lower()


class GateAction:
    kind: ClassVar[StepKind] = StepKind.gate

    def supports(self, step: Step) -> str | None:
        return None

    async def run(self, ctx: StepContext) -> Result:
        started = ctx.monotonic()
        for check in ctx.step.checks:
            ok, summary = await self._check(check, ctx)
            ctx.output("stdout", f"{'✓' if ok else '✗'} {_label(check)}: {summary}")
            if not ok:
                error = f"check {_label(check)} failed: {summary}"
                return Result.failure(error, duration=ctx.monotonic() - started)
        if not ctx.step.approvers or ctx.wait_for_votes is None:
            return Result(ok=True, duration=ctx.monotonic() - started)
        verdict = await ctx.wait_for_votes()
        ctx.output("stdout", verdict.reason)
        duration = ctx.monotonic() - started
        return (
            Result(ok=True, duration=duration)
            if verdict.go
            else Result.failure(verdict.reason, duration=duration)
        )

    async def _check(self, check: Check, ctx: StepContext) -> tuple[bool, str]:
        if isinstance(check, StepCheck):
            status = ctx.step_status(check.step)
            return status == "succeeded", f"{check.step} {status or 'unknown'}"
        from golive.checks import evaluate

        outcome = await evaluate(
            check,
            render=ctx.render,
            redact=ctx.redact,
            resources=ctx.resources,
            step_state=ctx.step_status,
            workdir=ctx.workdir,
            environ=ctx.environ,
        )
        return outcome.ok, outcome.summary

    async def undo(self, ctx: StepContext) -> Result | None:
        return None
