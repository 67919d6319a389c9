"""`check:` steps: a verification that must pass, retried until it does within `within`.

Every check kind (http, tls, sql, http_error_rate, sentry, step, run) is evaluated by
`golive.checks`; the step reports the outcome's summary as an output line and fails with it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from golive.actions.base import Result, StepContext
from golive.plan.models import Step, StepKind

if TYPE_CHECKING:
    from golive.checks import CheckOutcome


class CheckAction:
    kind: ClassVar[StepKind] = StepKind.check

    def supports(self, step: Step) -> str | None:
        return None

    async def run(self, ctx: StepContext) -> Result:
        from golive.checks import evaluate  # httpx and friends: loaded when a check runs

        check = ctx.step.check
        assert check is not None, "a check step has a check"
        started = ctx.monotonic()
        seen: list[str] = []

        def retrying(outcome: CheckOutcome) -> None:
            if not seen or seen[-1] != outcome.summary:  # one line per change, not per try
                seen.append(outcome.summary)
                ctx.output("stdout", f"not yet: {outcome.summary}")

        try:
            async with asyncio.timeout(ctx.timeout):
                outcome = await evaluate(
                    check,
                    render=ctx.render,
                    redact=ctx.redact,
                    resources=ctx.resources,
                    step_state=ctx.step_status,
                    workdir=ctx.workdir,
                    environ=ctx.environ,
                    output=ctx.output,
                    timeout=ctx.timeout,
                    on_retry=retrying,
                    monotonic=ctx.monotonic,
                )
        except TimeoutError:
            error = f"timed out after {ctx.timeout:g}s" + (f": {seen[-1]}" if seen else "")
            return Result.failure(error, duration=ctx.monotonic() - started)
        ctx.output("stdout", outcome.summary)
        exit_code = outcome.details.get("exit_code")
        return Result(
            ok=outcome.ok,
            duration=outcome.duration,
            exit_code=exit_code if isinstance(exit_code, int) else None,
            output=outcome.summary,
            error=None if outcome.ok else outcome.summary,
        )

    async def undo(self, ctx: StepContext) -> Result | None:
        return None
