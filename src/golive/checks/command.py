"""`run:` checks: a local command that must exit 0."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from golive.actions.process import run_command
from golive.checks.outcome import CheckOutcome
from golive.plan.models import CommandCheck
from golive.plan.shell import shell_command


async def check_command(
    check: CommandCheck,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    timeout: float | None,
    workdir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    output: Callable[[str, str], None] | None = None,
) -> CheckOutcome:
    """Run the command; its output lines go to `output`, redacted."""
    own = check.timeout.total_seconds() if check.timeout else None
    limit = min((t for t in (own, timeout) if t is not None), default=None)
    result = await run_command(
        shell_command(check.run, render).script(),
        cwd=workdir or Path.cwd(),
        environ=os.environ if environ is None else environ,
        timeout=limit,
        output=output or (lambda _stream, _line: None),
        redact=redact,
        monotonic=time.monotonic,
    )
    details = {"exit_code": result.exit_code}
    if result.ok:
        return CheckOutcome(True, "the command exited 0", details, result.duration)
    return CheckOutcome(False, result.error or "the command failed", details, result.duration)
