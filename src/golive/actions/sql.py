"""`sql:` steps: one statement on a database, in a transaction; `undo:` is another statement on
the same database.

    - id: close-legacy-signups
      sql: {db: "{{ vars.legacy_db }}", statement: "update settings set signups = false"}
      undo: update settings set signups = true

The transaction commits when the statement succeeds and rolls back when it fails, times out or
the run is aborted (the statement is cancelled on the server). MariaDB and MySQL commit DDL
(create, alter, drop) at once, whatever the transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from golive.actions.base import Result, StepContext
from golive.plan.models import Step, StepKind
from golive.plan.template import TemplateError, render_url

if TYPE_CHECKING:
    from golive.checks.database import Executed


class SqlAction:
    kind: ClassVar[StepKind] = StepKind.sql

    def supports(self, step: Step) -> str | None:
        if step.on is not None:
            return f"runs on host group '{step.on}': sql steps talk to their database directly"
        return None

    async def run(self, ctx: StepContext) -> Result:
        assert ctx.step.sql is not None, "a sql step has a statement"
        return await self._execute(ctx, ctx.step.sql.statement)

    async def undo(self, ctx: StepContext) -> Result | None:
        if not ctx.step.undo:
            return None
        return await self._execute(ctx, ctx.step.undo)

    async def _execute(self, ctx: StepContext, statement: str) -> Result:
        from golive.checks.database import DatabaseError, database  # loaded when a step runs

        assert ctx.step.sql is not None
        started = ctx.monotonic()
        try:
            db = database(
                ctx.resources,
                render_url(ctx.step.sql.db, ctx.render),
                read_only=False,
                workdir=ctx.workdir,
            )
            done = await db.execute(ctx.render(statement), timeout=ctx.timeout)
        except (DatabaseError, TemplateError) as exc:
            return Result.failure(ctx.redact(str(exc)), duration=ctx.monotonic() - started)
        lines = [ctx.redact(line) for line in _report(done)]
        for line in lines:
            ctx.output("stdout", line)
        return Result(ok=True, duration=ctx.monotonic() - started, output="\n".join(lines))


def _report(done: Executed) -> list[str]:
    """What the statement did, for people: the rows it returned, then the rows it touched."""
    from golive.checks.comparison import jsonable
    from golive.checks.outcome import shorten

    lines = []
    if done.columns:
        lines.append(" | ".join(done.columns))
        lines.extend(" | ".join(shorten(str(jsonable(v)), 40) for v in row) for row in done.rows)
    if done.rowcount >= 0:
        lines.append(f"{done.rowcount} row{'' if done.rowcount == 1 else 's'} affected")
    return lines or ["done"]
