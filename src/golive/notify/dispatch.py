"""`golive serve` delivers too: a courier for each run with notifications pending, and one for
the checklist of each plan the server serves.

A run whose engine stopped (hypercare's escalations, acknowledged from the page; retries of a
failed channel) would otherwise wait for someone to run `golive notify`. The dispatcher is one
background thread on its own store connections. Each pass it asks the store which runs have
new events (one query), keeps a `Courier` for each of them while it owes something, now or
later (an escalation level), and lets it deliver. A run driven by a live engine is delivered by
the engine's courier first: the dispatcher waits `ENGINE_HEAD_START` longer before sending.
Claims (outbox.py, store/checklist_outbox.py) make it safe beside engines, `golive notify` and
other replicas of `golive serve`: each notification is sent once.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import sqlalchemy as sa

from golive.engine.clock import Clock, SystemClock
from golive.errors import GoliveError
from golive.notify.checklist import ChecklistCourier, renderers
from golive.notify.courier import Courier, notifies, run_courier
from golive.plan.models import Plan
from golive.store import EventStore, open_store, schema

POLL_SECONDS = 1.0
LOOKBACK = dt.timedelta(days=7)  # at start, the runs with an event this recent are looked at
ENGINE_HEAD_START = dt.timedelta(seconds=20)
COMMIT_LAG = 10.0  # seconds: on PostgreSQL a lower seq may commit after a higher one


class Dispatcher:
    """Delivers the notifications of the store's runs and of the served plans' checklists."""

    def __init__(
        self,
        state_url: str,
        *,
        plans: Mapping[str, tuple[Plan, Path]] | None = None,
        clock: Clock | None = None,
        poll: float = POLL_SECONDS,
        head_start: dt.timedelta = ENGINE_HEAD_START,
    ) -> None:
        self.state_url = state_url
        self.plans = dict(plans or {})
        self.clock = clock or SystemClock()
        self.poll = poll
        self.head_start = head_start
        self.couriers: dict[str, Courier] = {}  # the runs that owe something
        self.checklists: list[ChecklistCourier] = []
        self.error: BaseException | None = None
        self._store: EventStore | None = None
        self._seen: dict[str, int] = {}  # run -> the last seq looked at
        self._marks: deque[tuple[float, int]] = deque()  # (when, highest seq seen then)
        self._ignored: set[str] = set()  # runs whose plan notifies nobody (or cannot be read)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> EventStore:
        if self._store is None:
            self._store = open_store(self.state_url, clock=self.clock.now)
            for plan, path in self.plans.values():
                if notifies(plan) and any(item.due for item in plan.checklist):
                    render, redact = renderers(plan, path, env=None, strict=False)
                    courier = ChecklistCourier(
                        store=self._store, plan=plan, render=render, redact=redact, clock=self.clock
                    )
                    self.checklists.append(courier)
        return self._store

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="golive-dispatcher", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread (a hanging channel holds it `timeout` seconds at most) and close
        the store (left open if the thread still runs: a daemon, it ends with the process)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if (self._thread is None or not self._thread.is_alive()) and self._store is not None:
            self._store.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver()
                self.error = None
            except Exception as exc:  # the store is down, say: the next pass tries again
                self.error = exc
            self._stop.wait(self.poll)

    def deliver(self) -> int:
        """One pass over the runs with something to send and the checklists; messages sent."""
        store = self.store
        for run_id in self._changed_runs(store):
            if run_id not in self.couriers and run_id not in self._ignored:
                self._watch(store, run_id)
        sent = 0
        for run_id, courier in list(self.couriers.items()):
            sent += self._attempt(partial(self._deliver_run, store, run_id, courier))
        for checklist in self.checklists:
            sent += self._attempt(checklist.deliver)
        return sent

    def _deliver_run(self, store: EventStore, run_id: str, courier: Courier) -> int:
        engine = self._engine_runs(store, run_id)
        courier.patience = self.head_start if engine else dt.timedelta(0)
        sent = courier.deliver()
        if not courier.pending():
            del self.couriers[run_id]  # a new event brings it back
        return sent

    def _attempt(self, deliver: Callable[[], int]) -> int:
        """One courier's pass; its failure (a store error, say) keeps the others going."""
        try:
            return deliver()
        except Exception as exc:  # the next pass tries again
            self.error = exc
            return 0

    def _changed_runs(self, store: EventStore) -> list[str]:
        """The runs with an event not looked at yet (at first, those active in LOOKBACK)."""
        events = schema.events
        query = sa.select(events.c.run_id, sa.func.max(events.c.seq)).group_by(events.c.run_id)
        now = time.monotonic()
        if not self._marks:
            query = query.where(events.c.at >= self.clock.now() - LOOKBACK)
        else:
            while len(self._marks) > 1 and self._marks[1][0] <= now - COMMIT_LAG:
                self._marks.popleft()
            query = query.where(events.c.seq > self._marks[0][1])
        with store.transaction("look for new events in") as connection:
            rows = connection.execute(query).all()
        changed = [str(r[0]) for r in rows if int(r[1]) > self._seen.get(str(r[0]), 0)]
        self._seen.update({str(r[0]): int(r[1]) for r in rows})
        highest = max([int(r[1]) for r in rows] + [self._marks[-1][1] if self._marks else 0])
        self._marks.append((now, highest))
        return changed

    def _watch(self, store: EventStore, run_id: str) -> None:
        from golive.engine.operator import read_state, run_plan

        record = store.get_run(run_id)
        state = read_state(store, run_id)
        if not state.plan_text:
            return  # its RunStarted is not written yet: its next event brings it here again
        try:
            plan = run_plan(state, display=record.plan_path)
        except GoliveError:
            self._ignored.add(run_id)
            return
        if not notifies(plan):
            self._ignored.add(run_id)
            return
        self.couriers[run_id] = run_courier(store, record, plan, clock=self.clock, strict=False)

    def _engine_runs(self, store: EventStore, run_id: str) -> bool:
        from golive.store.leases import current_lease

        lease = current_lease(store=store, run_id=run_id)
        return lease is not None and lease.held_at(store.now())
