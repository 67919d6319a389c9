"""The plan file: models, reading with file:line diagnostics, the step graph, lint.

Pure: no network, no database. `check_plan` reports every problem; `load_plan` returns a
valid plan or raises `PlanError` carrying the diagnostics.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from golive.errors import PlanError, UsageError
from golive.plan.diagnostics import Diagnostic, Severity, did_you_mean, sort_key
from golive.plan.lint import lint
from golive.plan.models import Plan
from golive.plan.source import parse_text, read_document


@dataclass(frozen=True)
class CheckResult:
    """What `golive check` found: the plan when it validated, and every diagnostic, sorted."""

    path: Path
    plan: Plan | None
    diagnostics: list[Diagnostic]
    digest: str

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.warning]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class PlanFile:
    """A plan that passed `check`, with where it came from and the hash of its bytes."""

    path: Path
    plan: Plan
    digest: str
    warnings: list[Diagnostic]
    text: str


def check_plan(path: Path, *, env: str | None = None) -> CheckResult:
    """Read, validate and lint a plan file. Raises UsageError only for an unknown `env`."""
    document = read_document(path)
    digest = _digest(path)
    diagnostics = list(document.diagnostics)
    if document.plan is not None:
        if env is not None and env not in document.plan.environments:
            known = ", ".join(document.plan.environments) or "none defined"
            hint = did_you_mean(env, document.plan.environments)
            raise UsageError(
                f"{path}: no environment '{env}' (known: {known})" + (f"; {hint}" if hint else "")
            )
        diagnostics.extend(lint(document.plan, document.data, document.positions, env))
    diagnostics.sort(key=sort_key)
    return CheckResult(path, document.plan, diagnostics, digest)


def load_plan(path: Path, *, env: str | None = None) -> PlanFile:
    """A plan ready to run, or PlanError with every error found."""
    result = check_plan(path, env=env)
    if result.plan is None or not result.ok:
        raise PlanError(result.errors)
    text = path.read_text(encoding="utf-8-sig")
    return PlanFile(path, result.plan, result.digest, result.warnings, text)


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def parse_plan_text(text: str, *, display: str) -> Plan:
    """A plan from text kept in the event log (it passed `check` when its run started)."""
    document = parse_text(text, path=Path(display), display=display)
    if document.plan is None:
        raise PlanError(document.diagnostics)
    return document.plan


__all__ = [
    "CheckResult",
    "Diagnostic",
    "Plan",
    "PlanFile",
    "Severity",
    "check_plan",
    "load_plan",
    "parse_plan_text",
]
