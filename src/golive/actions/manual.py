"""`manual:` steps: a person does it and says so (`golive done RUN STEP --as PERSON`)."""

from __future__ import annotations

from typing import ClassVar

from golive.actions.base import Result, StepContext
from golive.plan.models import Step, StepKind


class ManualAction:
    kind: ClassVar[StepKind] = StepKind.manual

    def supports(self, step: Step) -> str | None:
        return None

    async def run(self, ctx: StepContext) -> Result:
        step = ctx.step
        what = step.manual if isinstance(step.manual, str) else step.label
        started = ctx.monotonic()
        await ctx.wait_for_person([step.owner] if step.owner else [], what)
        return Result(ok=True, duration=ctx.monotonic() - started)

    async def undo(self, ctx: StepContext) -> Result | None:
        return None
