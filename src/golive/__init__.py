"""golive: run a software go-live from plan to post-mortem.

The public API: read and check plans. Import submodules (golive.plan, golive.store,
golive.engine) for more.
"""

from __future__ import annotations

from golive.errors import GoliveError, PlanError
from golive.plan import CheckResult, Plan, PlanFile, check_plan, load_plan

__version__ = "0.1.0"

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
