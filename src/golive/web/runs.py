"""The runs mission control shows: each run's plan and folded state, kept and brought up to date
by reading only the events appended since the last look.

`Runs.sync` is the one place the web process reads a run's new events. Whoever calls it (the
broker's tail, a page, an action that just appended) folds them into the kept state and hands
them to the listener, the broker, which fans them out to the live streams: no event is read
twice, and none is folded without being sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from golive.engine.events import Recorded, decode
from golive.engine.operator import run_plan
from golive.engine.state import RunState
from golive.errors import RunNotFound
from golive.plan.models import Plan
from golive.store import EventRecord, EventStore, RunRecord

Listener = Callable[[str, list[EventRecord]], None]


@dataclass
class RunEntry:
    record: RunRecord
    state: RunState
    plan: Plan | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def public_data(type_name: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event's data as the API shows it: without the plan's text (long, in the plan file)."""
    if type_name == "RunStarted":
        return {k: v for k, v in data.items() if k != "plan_text"}
    return data


def event_json(record: EventRecord) -> dict[str, Any]:
    """One event as the API and the live stream show it (the shape of `golive log -f json`)."""
    return {
        "seq": record.seq,
        "at": record.at.isoformat(),
        "type": record.type,
        "step": record.step,
        "data": public_data(record.type, record.data),
    }


class Runs:
    """The runs of one store, each folded once and then kept up to date."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.listener: Listener | None = None
        self._entries: dict[str, RunEntry] = {}
        self._lock = threading.Lock()

    def entry(self, run_id: str) -> RunEntry:
        """The run, up to date; RunNotFound if the store has no such run."""
        found = self._entries.get(run_id)
        if found is None:
            record = self.store.get_run(run_id)
            with self._lock:
                found = self._entries.setdefault(run_id, RunEntry(record, RunState(run_id)))
        self.sync(run_id)
        return found

    def plan(self, entry: RunEntry) -> Plan:
        """The run's plan as it was when the run started (parsed once)."""
        if entry.plan is None:
            if not entry.state.plan_text:  # created, its RunStarted not written yet
                raise RunNotFound(
                    f"run {entry.record.id} is starting: its plan is not in the log yet; "
                    "try again in a moment"
                )
            entry.plan = run_plan(entry.state, display=entry.record.plan_path)
        return entry.plan

    def plan_id(self, run_id: str) -> str | None:
        entry = self._entries.get(run_id)
        return entry.record.plan_id if entry is not None else None

    def sync(self, run_id: str) -> list[EventRecord]:
        """Fold the run's new events, hand them to the listener, and return them."""
        entry = self._entries.get(run_id)
        if entry is None:
            self.entry(run_id)
            return []
        with entry.lock:
            new = self.store.events(run_id, after=entry.state.last_seq)
            for stored in new:
                where = f"run {run_id} event {stored.seq}"
                event = decode(stored.type, stored.step, stored.data, where=where)
                entry.state.apply(Recorded(stored.seq, stored.at, event))
            if new and self.listener is not None:
                self.listener(run_id, new)
        return new
