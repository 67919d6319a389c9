"""`check:` steps: a verification that must pass, retried until it does within `within`."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from golive.actions.base import Result, StepContext
from golive.actions.process import run_command
from golive.plan.models import CommandCheck, Step, StepKind

RETRY_PAUSE = 2.0


class CheckAction:
    kind: ClassVar[StepKind] = StepKind.check

    def supports(self, step: Step) -> str | None:
        if not isinstance(step.check, CommandCheck):
            kind = type(step.check).__name__.removesuffix("Check").lower()
            return f"'{kind}' checks are not supported yet (only run: checks)"
        return None

    async def run(self, ctx: StepContext) -> Result:
        check = ctx.step.check
        assert isinstance(check, CommandCheck)
        started = ctx.monotonic()
        deadline = started + (check.within.total_seconds() if check.within else 0)
        timeout = check.timeout.total_seconds() if check.timeout else ctx.timeout
        while True:
            result = await run_command(
                ctx.render(check.run),
                cwd=ctx.workdir,
                environ=ctx.environ,
                timeout=timeout,
                output=ctx.output,
                redact=ctx.redact,
                monotonic=ctx.monotonic,
            )
            if result.ok or ctx.monotonic() + RETRY_PAUSE > deadline:
                return result
            await asyncio.sleep(RETRY_PAUSE)

    async def undo(self, ctx: StepContext) -> Result | None:
        return None
