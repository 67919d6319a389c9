"""golive: run a software go-live from plan to post-mortem.

The public API: read and check plans. Import submodules (golive.plan, golive.store,
golive.engine) for more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from golive.errors import GoliveError, PlanError

if TYPE_CHECKING:
    from golive.plan import CheckResult, Plan, PlanFile, check_plan, load_plan

__version__ = "0.1.0"

_FROM_PLAN = ("CheckResult", "Plan", "PlanFile", "check_plan", "load_plan")


def __getattr__(name: str) -> Any:
    """The plan API, imported on first use (`golive --version` need not build the models)."""
    if name in _FROM_PLAN:
        from golive import plan

        return getattr(plan, name)
    raise AttributeError(f"module 'golive' has no attribute {name!r}")


__all__ = [
    "CheckResult",
    "GoliveError",
    "Plan",
    "PlanError",
    "PlanFile",
    "__version__",
    "check_plan",
    "load_plan",
]
