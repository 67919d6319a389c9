"""The courier: a background thread that delivers what the rules owe, never holding up the run.

It runs beside the engine (golive run/resume), in `golive serve`, or alone (`golive notify`).
Each pass reads the run's log, decides what is owed (rules.py), groups what falls due for one
recipient within `notifications.group` into one message, claims it (outbox.py), sends it, and
records the outcome. The engine only appends events: a channel that hangs or is down costs the
engine nothing, and its failure is an event that `golive status` and the page show.

Exactly once, honestly: the claim is committed before sending and the result after, so a crash
between apprise's send and the NotificationSent commit (milliseconds) sends that message again
once the claim expires (CLAIM_TTL). Every other crash loses and duplicates nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from golive.engine.clock import Clock, SystemClock
from golive.engine.events import (
    EVENT_TYPES,
    Event,
    NotificationClaimed,
    NotificationFailed,
    NotificationSent,
    Recorded,
    decode,
    encode,
)
from golive.errors import GoliveError
from golive.notify.delivery import Render, message, public_url, recipient_urls, refusing, send
from golive.notify.outbox import CLAIM_TTL, Outbox, by_recipient, retry_at
from golive.notify.rules import Notification, decide
from golive.plan.models import Plan
from golive.store import EventStore, RunRecord

if TYPE_CHECKING:
    from golive.engine.runner import Engine

POLL_SECONDS = 0.5
# what the rules and the outbox never look at: left in the store (a run's output is most of it)
IGNORED = frozenset({"StepOutput", "StepProcessStarted", "MonitorChecked"})
READ_TYPES = tuple(name for name in EVENT_TYPES if name not in IGNORED)
FOREVER = dt.timedelta(days=3650)  # beyond every escalation ladder's last level
FLUSH_SECONDS = 10.0  # the longest a finished engine waits for its last messages


class Courier:
    """Delivers run `run_id`'s notifications; `render` fills a URL's templates (secrets)."""

    def __init__(
        self,
        *,
        store: EventStore,
        run_id: str,
        plan: Plan,
        render: Render,
        redact: Render,
        clock: Clock | None = None,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.plan = plan
        self.render = render
        self.redact = redact
        self.clock = clock or SystemClock()
        self.poll = poll
        self.by = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._flush = True
        # how much longer than `notifications.group` to wait before sending: golive serve gives
        # a run's live engine (whose courier sends the same) a head start, to race it less
        self.patience = dt.timedelta(0)
        self._events: list[Recorded] = []  # the log so far, read incrementally
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    # --- the thread ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="golive-courier", daemon=True)
        self._thread.start()

    def stop(self, *, flush: bool = True, timeout: float = FLUSH_SECONDS) -> None:
        """Stop the thread after, with `flush`, one last pass that sends what is due ungrouped.
        Waits `timeout` seconds at most: a channel that hangs never holds the process; what
        it did not send is sent by the next deliverer once its claim expires."""
        self._flush = flush
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        elif flush:
            self.deliver(flush=True)

    def close(self) -> None:
        """Stop (flushing) and close the courier's own store (left open if the thread still
        runs: a daemon thread, it ends with the process)."""
        self.stop(flush=True)
        if self._thread is None or not self._thread.is_alive():
            self.store.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            self._pass(flush=False)
        if self._flush:
            self._pass(flush=True)

    def _pass(self, *, flush: bool) -> None:
        try:
            self.deliver(flush=flush)
            self.error = None  # only a failure of the last pass is worth a word
        except Exception as exc:  # the run goes on; the next pass (or deliverer) retries
            self.error = exc

    # --- one pass ------------------------------------------------------------------------------

    def deliver(self, *, flush: bool = False) -> int:
        """One pass: send every message due now; the number of messages sent."""
        now = self.clock.now()
        events = self._read()
        book = Outbox.read(events)
        owed = [n for n in decide(self.plan, events, now=now) if book.deliverable(n.id, now)]
        sent = 0
        for recipient, batch in by_recipient(owed).items():
            oldest = min(n.due for n in batch)
            if not flush and oldest + self.plan.notifications.group + self.patience > now:
                continue  # wait for the burst to end: one message for it
            sent += self._deliver(recipient, batch, book)
        return sent

    def _deliver(self, recipient: str, batch: list[Notification], book: Outbox) -> int:
        now = self.clock.now()
        ids = [n.id for n in batch]
        claim = self._append(
            NotificationClaimed(
                notifications=ids,
                recipient=recipient,
                by=self.by,
                until=(now + CLAIM_TTL).isoformat(),
            )
        )
        won = self._won(ids, claim.seq, now)
        batch = [n for n in batch if n.id in won]
        if not batch:
            return 0
        ids = [n.id for n in batch]
        attempt = max(book.attempt(i) for i in ids)
        subject, body = message(self.plan, self.run_id, batch, link=public_url(self.plan))
        error = send(
            recipient_urls(self.plan, recipient),
            subject=subject,
            body=body,
            render=self.render,
            redact=self.redact,
        )
        if error is None:
            self._append(
                NotificationSent(
                    notifications=ids, recipient=recipient, by=self.by, attempt=attempt
                )
            )
            return 1
        retry = retry_at(attempt, now)
        self._append(
            NotificationFailed(
                notifications=ids,
                recipient=recipient,
                by=self.by,
                attempt=attempt,
                error=error,
                retry_at=None if retry is None else retry.isoformat(),
            )
        )
        return 0

    def pending(self) -> bool:
        """Whether the run still owes a notification, now or later (an escalation level that
        falls due with time), that is neither sent nor given up."""
        events = self._read()
        book = Outbox.read(events)
        later = self.clock.now() + FOREVER
        for item in decide(self.plan, events, now=later):
            entry = book.deliveries.get(item.id)
            if entry is None or not (entry.sent or entry.given_up):
                return True
        return False

    def _won(self, ids: Sequence[str], claim_seq: int, now: dt.datetime) -> set[str]:
        book = Outbox.read(self._read())
        return {i for i in ids if book.won(i, claim_seq, now)}

    def _read(self) -> list[Recorded]:
        """The run's events that matter here, reading only what is new since the last call
        (appends to a run are serialized, so seqs become visible in order)."""
        with self._lock:
            after = self._events[-1].seq if self._events else 0
            for s in self.store.events(self.run_id, after=after, types=READ_TYPES):
                where = f"run {self.run_id} event {s.seq}"
                self._events.append(
                    Recorded(s.seq, s.at, decode(s.type, s.step, s.data, where=where))
                )
            return list(self._events)

    def _append(self, event: Event) -> Recorded:
        type_name, step, data = encode(event)
        stored = self.store.append(self.run_id, type_name, step=step, data=data)
        return Recorded(stored.seq, stored.at, event)


def notifies(plan: Plan) -> bool:
    """Whether the plan names anywhere to send to (else no courier runs at all)."""
    return bool(
        plan.channels
        or (plan.hypercare and plan.hypercare.channels)
        or any(p.notify for p in plan.people.values())
        or (plan.notifications.email and any(p.contact for p in plan.people.values()))
    )


def run_courier(
    store: EventStore, record: RunRecord, plan: Plan, *, clock: Clock, strict: bool = True
) -> Courier:
    """A courier for the run of `record`, its URLs filled with the secrets of the run's
    environment. If they cannot be read, a GoliveError with `strict`; else each delivery that
    needs them fails, saying why (`golive serve`)."""
    from pathlib import Path

    from golive.engine.context import RunContext

    render: Render
    redact: Render
    try:
        context = RunContext.build(
            plan,
            env=record.env,
            release=record.release,
            run_id=record.id,
            plan_path=Path(record.plan_path),
        )
        render, redact = context.render, context.redact
    except GoliveError as exc:
        if strict:
            raise
        render, redact = refusing(exc.message), str
    return Courier(
        store=store, run_id=record.id, plan=plan, render=render, redact=redact, clock=clock
    )


def engine_courier(engine: Engine) -> Courier | None:
    """A started courier beside a running engine, on its own connections; None if the plan
    notifies nobody."""
    if not notifies(engine.plan):
        return None
    from golive.store import open_store

    courier = Courier(
        store=open_store(engine.store.url),
        run_id=engine.run_id,
        plan=engine.plan,
        render=engine.context.render,
        redact=engine.context.redact,
        clock=engine.clock,
    )
    courier.start()
    return courier
