"""Check evaluators: what `check:` steps, gate checks, checklist verifications and hypercare
monitors use to ask a system whether it is right.

    outcome = await evaluate(check, render=..., redact=..., resources=run_resources)
    outcome.ok       # True
    outcome.summary  # "GET https://booking.gym.example/health: HTTP 200 in 43 ms"

One function a kind (`check_http`, `check_tls`, `check_sql`, `check_error_rate`,
`check_command`, `check_step`), each answering a `CheckOutcome`; `evaluate` picks the right one
and retries for `within:`. See docs/checks.md for what each kind does.
"""

from __future__ import annotations

from golive.checks.access_log import check_error_rate
from golive.checks.command import check_command
from golive.checks.evaluation import evaluate
from golive.checks.http import check_http
from golive.checks.outcome import CheckOutcome, Resources
from golive.checks.sql import check_sql
from golive.checks.step import check_step
from golive.checks.tls import check_tls

__all__ = [
    "CheckOutcome",
    "Resources",
    "check_command",
    "check_error_rate",
    "check_http",
    "check_sql",
    "check_step",
    "check_tls",
    "evaluate",
]
