"""`verify:` steps: the migrated data compared with its source, then assertions on the target.

    - id: verify-data
      verify:
        source: "{{ vars.legacy_db }}"
        target: "{{ vars.new_db }}"
        tables: [{source: customers, target: clients, key: id}]

Each table's outcome is an output line (counts, missing / extra / changed, a sample of the
differing rows), and the figures without the sample rows are recorded as one JSON line on the
`verify` stream, so that rehearsals can be compared. Never writes to either database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from golive.actions.base import Result, StepContext
from golive.plan.models import Step, StepKind
from golive.plan.template import TemplateError

STREAM = "verify"  # the StepOutput stream of the figures, one JSON document
NO_TIMEOUT = 0.0


class VerifyAction:
    kind: ClassVar[StepKind] = StepKind.verify

    def supports(self, step: Step) -> str | None:
        if step.on is not None:
            return f"runs on host group '{step.on}': verify steps talk to their databases directly"
        return None

    async def run(self, ctx: StepContext) -> Result:
        from golive.verify import verify  # database drivers: loaded when a step runs

        spec = ctx.step.verify
        assert spec is not None, "a verify step has a spec"
        started = ctx.monotonic()
        try:
            report = await verify(
                spec,
                render=ctx.render,
                redact=ctx.redact,
                resources=ctx.resources,
                timeout=ctx.timeout or NO_TIMEOUT,
                workdir=ctx.workdir,
            )
        except TemplateError as exc:
            return Result.failure(ctx.redact(str(exc)), duration=ctx.monotonic() - started)
        lines = [ctx.redact(line) for line in report.lines()]
        for line in lines:
            ctx.output("stdout", line)
        figures = json.dumps(report.figures(), ensure_ascii=False, sort_keys=True)
        ctx.output(STREAM, ctx.redact(figures))
        return Result(
            ok=report.ok,
            duration=ctx.monotonic() - started,
            output="\n".join(lines),
            error=None if report.ok else lines[-1],
            details=_redacted(report.figures(), ctx.redact),
        )

    async def undo(self, ctx: StepContext) -> Result | None:
        return None


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """Every string in the figures masked, keys included: they go into the event log."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value
