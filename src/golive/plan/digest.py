"""Each step's digest: a hash of its definition as written, to tell which steps a plan change
touched (the rehearsals of an unchanged step still count; see `golive.report.rehearsals`)."""

from __future__ import annotations

import hashlib
import json

from golive.plan.models import Plan


def step_digests(plan: Plan) -> dict[str, str]:
    """Step id -> sha256 of the keys the plan file sets for the step, in canonical JSON (keys
    left to their defaults are left out, so a new default in golive changes no digest)."""
    digests: dict[str, str] = {}
    for step in plan.steps:
        written = step.model_dump(mode="json", exclude_unset=True, by_alias=True)
        canonical = json.dumps(written, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digests[step.id] = hashlib.sha256(canonical.encode()).hexdigest()
    return digests
