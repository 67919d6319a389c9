"""`golive verify`: compare tables between two databases without a plan."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from pydantic import ValidationError

from golive.actions.base import RunResources
from golive.cli.app import app, console, exits
from golive.cli.options import OutputFormat
from golive.cli.terminal import visible
from golive.errors import UsageError
from golive.plan.models import Normalization, TableMapping, VerifySpec
from golive.verify import VerifyReport, verify


@app.command(name="verify")
@exits
def verify_command(
    source: str = typer.Argument(..., help="The source database URL.", show_default=False),
    target: str = typer.Argument(..., help="The target database URL.", show_default=False),
    tables: list[str] = typer.Option(
        ..., "--table", "-t", help="SOURCE[:TARGET] table to compare; repeat for several."
    ),
    key: str | None = typer.Option(
        None, "--key", "-k", help="Key column(s), comma-separated; none: compare whole rows."
    ),
    columns: str | None = typer.Option(
        None, "--columns", "-c", help="Columns to compare: name or source:target, comma-separated."
    ),
    where: str | None = typer.Option(None, "--where", help="Compare only the rows matching this."),
    trim: bool = typer.Option(False, "--trim", help="Ignore leading and trailing spaces."),
    case: bool = typer.Option(False, "--ignore-case", help="Compare text case-insensitively."),
    scale: int | None = typer.Option(None, "--numeric-scale", help="Round numbers to N decimals."),
    timezone: str = typer.Option("UTC", "--timezone", help="Zone of timestamps without one."),
    empty_is_null: bool = typer.Option(False, "--empty-is-null", help="'' equals NULL."),
    timeout: float = typer.Option(600, "--timeout", help="Seconds each query may take."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Output format."),
) -> int:
    """Compare tables between two databases (PostgreSQL, MariaDB/MySQL, SQLite): row counts,
    missing, extra and changed rows. Read-only. Exit 1 on any difference."""
    normalize = {
        "trim": trim,
        "case": case,
        "numeric_scale": scale,
        "timezone": timezone,
        "empty_is_null": empty_is_null,
    }
    spec = _spec(source, target, tables, key, columns, where, normalize)
    report = asyncio.run(_verify(spec, timeout))
    if output is OutputFormat.json:
        typer.echo(json.dumps(report.json(), indent=2, ensure_ascii=False))
    else:
        for line in report.lines():
            console.print(visible(line), markup=False, highlight=False)
    return 0 if report.ok else 1


def _spec(
    source: str,
    target: str,
    tables: list[str],
    key: str | None,
    columns: str | None,
    where: str | None,
    normalize: dict[str, Any],
) -> VerifySpec:
    keys = [k.strip() for k in (key or "").split(",") if k.strip()]
    mapped: dict[str, str] | None = None
    if columns is not None:
        pairs = [c.strip().partition(":") for c in columns.split(",") if c.strip()]
        mapped = {name: other or name for name, _, other in pairs}
    try:
        return VerifySpec(
            source=source,
            target=target,
            tables=[
                TableMapping(
                    source=name,
                    target=other or None,
                    key=(keys[0] if len(keys) == 1 else keys) or None,
                    columns=mapped,
                    where=where,
                    normalize=Normalization.model_validate(normalize),
                )
                for name, _, other in (t.partition(":") for t in tables)
            ],
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'][-1:]))}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(f"verify: {problems}") from None


async def _verify(spec: VerifySpec, timeout: float) -> VerifyReport:
    resources = RunResources()
    try:
        return await verify(
            spec,
            render=lambda text: text,
            redact=lambda text: text,
            resources=resources,
            timeout=timeout,
        )
    finally:
        await resources.aclose()
