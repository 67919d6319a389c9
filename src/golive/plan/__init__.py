"""The plan file: models, reading with file:line diagnostics, the step graph, lint.

Pure: no network, no database. `check_plan` reports every problem; `load_plan` returns a
valid plan or raises `PlanError` carrying the diagnostics. The models (pydantic) and the YAML
readers load when a plan is read, not with the package: `golive status` reads the plan's
outline (plan/outline.py) without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.errors import PlanError, UsageError
from golive.plan.diagnostics import Diagnostic, Severity, did_you_mean, sort_key

if TYPE_CHECKING:
    from golive.plan.models import Plan


def __getattr__(name: str) -> Any:
    if name == "Plan":
        from golive.plan.models import Plan

        return Plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class CheckResult:
    """What `golive check` found: the plan when it validated, and every diagnostic, sorted."""

    path: Path
    plan: Plan | None
    diagnostics: list[Diagnostic]
    digest: str
    text: str | None = field(default=None, repr=False)  # the file as read, when it was UTF-8

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
    """Read, validate and lint a plan file. Raises UsageError only for an unknown `env`.

    The file is read once (at most `MAX_BYTES` + 1 bytes of a regular file; a FIFO, a device or a
    directory is a diagnostic): the digest and the text come from those bytes."""
    from golive.plan.source import read_document

    document = read_document(path)
    diagnostics = list(document.diagnostics)
    if document.plan is not None:
        from golive.plan.lint import lint  # its checks (holidays...) only for a plan file read

        if env is not None and env not in document.plan.environments:
            known = ", ".join(document.plan.environments) or "none defined"
            hint = did_you_mean(env, document.plan.environments)
            raise UsageError(
                f"{path}: no environment '{env}' (known: {known})" + (f"; {hint}" if hint else "")
            )
        diagnostics.extend(
            lint(document.plan, document.data, document.positions, env, directory=path.parent)
        )
    diagnostics.sort(key=sort_key)
    return CheckResult(path, document.plan, diagnostics, document.digest, document.text)


def load_plan(path: Path, *, env: str | None = None) -> PlanFile:
    """A plan ready to run, or PlanError with every error found."""
    result = check_plan(path, env=env)
    if result.plan is None or result.text is None or not result.ok:
        raise PlanError(result.errors)
    return PlanFile(path, result.plan, result.digest, result.warnings, result.text)


def parse_plan_text(text: str, *, display: str) -> Plan:
    """A plan from text kept in the event log (it passed `check` when its run started)."""
    from golive.plan.source import parse_text

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
