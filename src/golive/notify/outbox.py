"""The outbox as the log holds it: which notifications were claimed, sent or failed.

Notifications are decided from events (rules.py); their deliveries are events too
(NotificationClaimed, NotificationSent, NotificationFailed), so one log says what is owed and
what was done, in every process. Two processes never deliver the same notification: each
appends a claim first, and the first live claim of an id (in the log's order) wins it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from golive.engine.events import (
    NotificationClaimed,
    NotificationFailed,
    NotificationSent,
    Recorded,
)
from golive.engine.state import RunState

MAX_ATTEMPTS = 6
CLAIM_TTL = dt.timedelta(minutes=2)


class Addressed(Protocol):
    @property
    def recipient(self) -> str: ...


T = TypeVar("T", bound=Addressed)


def backoff(attempt: int) -> dt.timedelta:
    """The wait before attempt `attempt + 1`: 10 s, 20 s, 40 s... at most 10 min."""
    return dt.timedelta(seconds=min(10 * 2 ** (attempt - 1), 600))


def retry_at(attempt: int, now: dt.datetime) -> dt.datetime | None:
    """When to try again after attempt `attempt` failed at `now`; None once it is the last."""
    return None if attempt >= MAX_ATTEMPTS else now + backoff(attempt)


def by_recipient(owed: Iterable[T]) -> dict[str, list[T]]:
    """What is owed, one batch (one message) per recipient, in order."""
    batches: dict[str, list[T]] = {}
    for item in owed:
        batches.setdefault(item.recipient, []).append(item)
    return batches


@dataclass
class Delivery:
    """What the log says about one notification id."""

    sent: bool = False
    attempts: int = 0
    error: str | None = None
    retry_at: dt.datetime | None = None
    given_up: bool = False
    closed_at: int = 0  # seq of the last Sent/Failed: claims before it are over


@dataclass
class Outbox:
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    claims: dict[str, list[tuple[int, str, dt.datetime]]] = field(default_factory=dict)

    @classmethod
    def read(cls, events: Sequence[Recorded]) -> Outbox:
        book = cls()
        for recorded in events:
            event = recorded.event
            if isinstance(event, NotificationClaimed):
                until = dt.datetime.fromisoformat(event.until)
                for nid in event.notifications:
                    book.claims.setdefault(nid, []).append((recorded.seq, event.by, until))
            elif isinstance(event, NotificationSent):
                for nid in event.notifications:
                    entry = book.of(nid)
                    entry.sent, entry.closed_at = True, recorded.seq
                    entry.attempts = max(entry.attempts, event.attempt)
            elif isinstance(event, NotificationFailed):
                for nid in event.notifications:
                    entry = book.of(nid)
                    entry.attempts = max(entry.attempts, event.attempt)
                    entry.error, entry.closed_at = event.error, recorded.seq
                    entry.retry_at = (
                        None
                        if event.retry_at is None
                        else dt.datetime.fromisoformat(event.retry_at)
                    )
                    entry.given_up = event.retry_at is None
        return book

    def of(self, nid: str) -> Delivery:
        return self.deliveries.setdefault(nid, Delivery())

    def winner(self, nid: str, now: dt.datetime) -> tuple[int, str] | None:
        """The live claim of `nid` (seq, by): the first one since its last attempt ended."""
        closed = self.deliveries[nid].closed_at if nid in self.deliveries else 0
        for seq, by, until in self.claims.get(nid, []):
            if seq > closed and until > now:
                return seq, by
        return None

    def won(self, nid: str, claim_seq: int, now: dt.datetime) -> bool:
        """Whether the claim at `claim_seq` wins `nid`: the first live claim since its last
        attempt, of a notification still owed (a deliverer that read the log before another
        one sent it may claim it after: that claim wins nothing)."""
        entry = self.deliveries.get(nid)
        if entry is not None and (entry.sent or entry.given_up):
            return False
        if entry is not None and entry.retry_at is not None and entry.retry_at > now:
            return False
        winner = self.winner(nid, now)
        return winner is not None and winner[0] == claim_seq

    def deliverable(self, nid: str, now: dt.datetime) -> bool:
        """Not sent, not given up, not waiting for its retry time, not claimed by anyone."""
        entry = self.deliveries.get(nid)
        if entry is not None and (entry.sent or entry.given_up):
            return False
        if entry is not None and entry.retry_at is not None and entry.retry_at > now:
            return False
        return self.winner(nid, now) is None

    def attempt(self, nid: str) -> int:
        entry = self.deliveries.get(nid)
        return (entry.attempts if entry else 0) + 1

    def failing(self) -> dict[str, Delivery]:
        """The notifications whose last attempt failed (retrying or given up)."""
        return {n: d for n, d in self.deliveries.items() if not d.sent and d.error is not None}

    def sent(self) -> int:
        return sum(1 for d in self.deliveries.values() if d.sent)


def delivery_lines(state: RunState) -> list[str]:
    """For `golive status`: how many messages went out, and each recipient whose last delivery
    failed (with the masked reason and what happens next)."""
    if not state.notifications_sent and not state.notification_failures:
        return []
    lines = [f"notifications: {state.notifications_sent} message(s) sent"]
    for recipient, failed in state.notification_failures.items():
        then = f"retry at {failed.retry_at[11:19]} UTC" if failed.retry_at else "given up"
        lines.append(
            f"notification to {recipient} FAILING (attempt {failed.attempt}, {then}): "
            f"{failed.error}"
        )
    return lines
