"""Reading what a post-mortem needs from the store: the run's events, its plan as it was when
the run started, the plan's other runs, and the audit chain's check."""

from __future__ import annotations

from golive.engine.operator import read_events
from golive.engine.state import RunState
from golive.plan import parse_plan_text
from golive.report.history import read_run
from golive.report.postmortem.document import Postmortem
from golive.report.postmortem.model import build_postmortem
from golive.store import EventStore
from golive.store.audit import verify_run


def load_postmortem(*, store: EventStore, run_id: str) -> Postmortem:
    """The post-mortem of run `run_id` as the store records it now."""
    record = store.get_run(run_id)
    events = read_events(store, run_id)
    state = RunState.fold(run_id, events)
    plan = parse_plan_text(state.plan_text, display=record.plan_path)
    # Only the rehearsals before this one: a later rehearsal does not change this review.
    tried = [
        (earlier, read_run(store=store, run_id=earlier.id))
        for earlier in store.runs(plan_id=record.plan_id)
        if earlier.rehearsal and earlier.created_at < record.created_at and earlier.id != run_id
    ]
    chain = verify_run(store=store, run_id=run_id)
    return build_postmortem(plan, events, run_id=run_id, tried=tried, chain=chain)
