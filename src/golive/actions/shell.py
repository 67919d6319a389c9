"""`run:` steps: a local shell command, with `undo:` as another command."""

from __future__ import annotations

from typing import ClassVar

from golive.actions.base import Result, StepContext
from golive.actions.process import run_command
from golive.plan.models import Step, StepKind
from golive.plan.shell import shell_command
from golive.plan.template import TemplateError


class ShellAction:
    """Runs `step.run` on this machine (steps with `on: GROUP` need the ssh action)."""

    kind: ClassVar[StepKind] = StepKind.run

    def supports(self, step: Step) -> str | None:
        if step.on is not None:
            return f"runs on host group '{step.on}' (not on this machine)"
        return None

    async def run(self, ctx: StepContext) -> Result:
        return await self._execute(ctx, ctx.step.run or "")

    async def undo(self, ctx: StepContext) -> Result | None:
        if not ctx.step.undo:
            return None
        return await self._execute(ctx, ctx.step.undo)

    async def _execute(self, ctx: StepContext, command: str) -> Result:
        try:
            script = shell_command(command, ctx.render).script()
        except TemplateError as exc:
            return Result.failure(ctx.redact(f"cannot fill in the command: {exc}"))
        return await run_command(
            script,
            cwd=ctx.workdir,
            environ=ctx.environ,
            timeout=ctx.timeout,
            output=ctx.output,
            redact=ctx.redact,
            monotonic=ctx.monotonic,
            on_start=ctx.process_started,
        )
