"""The audit chain: each event's hash chains it to the previous event of its run.

The canonical encoding of an event (its *body*) is the JSON object

    {"at": ISO-8601 UTC with microseconds, "data": {...}, "run_id": ..., "step": ..., "type": ...}

with sorted keys, no whitespace and ASCII only (`json.dumps(..., sort_keys=True,
separators=(",", ":"), ensure_ascii=True)`). An event's hash is the hex SHA-256 of the UTF-8 bytes
of `prev + body`, where `prev` is the hash of the run's previous event (by seq), or the empty
string for a run's first event. Each row keeps `hash` and `prev_hash`, so a check can tell an
event changed in place (its own hash no longer matches) from one removed (the next event names a
predecessor that is gone) and one slipped in (the next event skips over it). The seq is not part
of the body: the order is the chain's, and renumbering seqs without reordering changes nothing.

What the chain proves: that the log read now is the one golive wrote, unless someone with write
access to the database recomputed every hash after the change. Publishing the head hash
(`golive audit head RUN`) somewhere else (an update, a chat channel) is what makes a later
rewrite detectable: a rewritten log no longer contains the published head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from golive.store.records import EventRecord, event_from_row

if TYPE_CHECKING:
    from golive.store.event_store import EventStore

_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)

Problem = Literal["altered", "deleted", "inserted", "unchained", "head_missing"]


def event_body(
    run_id: str, at: datetime, type: str, step: str | None, data: Mapping[str, Any]
) -> str:
    """The canonical encoding of an event (see the module docstring)."""
    moment = at.astimezone(UTC).isoformat(timespec="microseconds")
    return _CANONICAL.encode(
        {"at": moment, "data": data, "run_id": run_id, "step": step, "type": type}
    )


def chain_hash(prev: str | None, body: str) -> str:
    """The hash of an event whose body is `body` after an event hashed `prev` (None: first)."""
    return hashlib.sha256(((prev or "") + body).encode()).hexdigest()


def hash_of(event: EventRecord, prev: str | None) -> str:
    """What `event`'s hash must be when it follows an event hashed `prev`."""
    return chain_hash(prev, event_body(event.run_id, event.at, event.type, event.step, event.data))


@dataclass(frozen=True)
class ChainedEvent:
    """One event of the chain as stored: the record, its stored hash and predecessor's hash."""

    event: EventRecord
    hash: str | None
    prev_hash: str | None


@dataclass(frozen=True)
class ChainBreak:
    """The first place a run's chain does not hold: the event's seq, what happened, and what
    to do next (in `message`)."""

    seq: int
    problem: Problem
    message: str


@dataclass(frozen=True)
class ChainCheck:
    """The result of recomputing one run's chain."""

    run_id: str
    events: int
    head: str | None
    broken: ChainBreak | None

    @property
    def holds(self) -> bool:
        return self.broken is None

    def summary(self) -> str:
        """One line: whether the chain holds, for `golive log` and the post-mortem."""
        if self.broken is None:
            head = self.head[:16] if self.head else "-"
            return f"audit chain holds: {self.events} events, head {head}"
        return f"audit chain BROKEN at seq {self.broken.seq}: {self.broken.problem}"


_NEXT = (
    "compare with a backup or the published head hash (`golive audit head`), and treat "
    "this run's log as untrustworthy from this event on"
)


def check_chain(
    run_id: str, chained: Sequence[ChainedEvent], *, head: str | None = None
) -> ChainCheck:
    """Recompute the chain of `chained` (one run's events by seq) and find its first break.

    With `head` (a published head hash), also require that hash to be in the chain: a log
    rewritten or cut short after it was published no longer contains it.
    """
    seen: dict[str, int] = {}
    expected: str | None = None
    for index, item in enumerate(chained):
        following = chained[index + 1] if index + 1 < len(chained) else None
        broken = _break_at(item, expected, following, seen)
        if broken is not None:
            return ChainCheck(run_id, len(chained), expected, broken)
        assert item.hash is not None  # _break_at checked it
        seen[item.hash] = item.event.seq
        expected = item.hash
    if head is not None and head not in seen:
        where = f"after seq {chained[-1].event.seq}" if chained else "in an empty log"
        message = (
            f"the published head hash {head[:16]}... is not in run {run_id}'s chain: the log "
            f"was rewritten or events were deleted from its end ({where}); {_NEXT}"
        )
        last = chained[-1].event.seq if chained else 0
        return ChainCheck(run_id, len(chained), expected, ChainBreak(last, "head_missing", message))
    return ChainCheck(run_id, len(chained), expected, None)


def _break_at(
    item: ChainedEvent,
    expected: str | None,
    following: ChainedEvent | None,
    seen: Mapping[str, int],
) -> ChainBreak | None:
    seq = item.event.seq
    if item.hash is None:
        return ChainBreak(
            seq,
            "inserted",
            f"event seq {seq} ({item.event.type}) has no hash: it was written to the database "
            f"directly, not by golive; {_NEXT}",
        )
    intact = hash_of(item.event, item.prev_hash) == item.hash
    linked = item.prev_hash == expected
    if not intact:
        if following is not None and following.prev_hash == expected:
            # The next event chains to the one before this: this one was slipped in.
            what = f"event seq {seq} ({item.event.type}) was inserted into the log"
            return ChainBreak(seq, "inserted", f"{what}: it does not belong to the chain; {_NEXT}")
        what = f"event seq {seq} ({item.event.type}) was changed after it was written"
        return ChainBreak(seq, "altered", f"{what}: its hash no longer matches; {_NEXT}")
    if linked:
        return None
    if item.prev_hash is not None and item.prev_hash in seen:
        # This event follows an earlier one directly: what lies between was slipped in.
        after = seen[item.prev_hash]
        return ChainBreak(
            seq,
            "inserted",
            f"an event was inserted after seq {after}, before seq {seq}: seq {seq} "
            f"({item.event.type}) chains to seq {after}; {_NEXT}",
        )
    return ChainBreak(
        seq,
        "deleted",
        f"an event before seq {seq} ({item.event.type}) was deleted: seq {seq} names a "
        f"predecessor that is no longer in the log; {_NEXT}",
    )


def chained_from_rows(rows: Sequence[Mapping[Any, Any]], *, store: str) -> list[ChainedEvent]:
    """`ChainedEvent`s from raw `events` rows (with their hash columns)."""
    return [
        ChainedEvent(event_from_row(row, store=store), row["hash"], row["prev_hash"])
        for row in rows
    ]


def verify_run(*, store: EventStore, run_id: str, head: str | None = None) -> ChainCheck:
    """Recompute run `run_id`'s chain from the store (RunNotFound if there is no such run)."""
    from golive.store import queries

    store.get_run(run_id)
    query = queries.select_events(run_id, after=0, types=None)
    with store.transaction(f"verify the audit chain of run {run_id} in") as connection:
        rows = connection.execute(query).mappings().all()
    return check_chain(run_id, chained_from_rows(rows, store=store.display_url), head=head)
