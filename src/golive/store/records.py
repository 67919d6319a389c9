"""The values the store hands out, and the checks that turn untrusted rows into them.

Run ids look like `r-20261206-200012-a3f9`: `r-`, the UTC creation time to the second, and four
random hex digits. They sort by creation (to the second), and a unique prefix is enough to name a
run, so `r-20261206-2000` usually does.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from golive.errors import StoreError

RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# json.dumps(data, allow_nan=False), without building an encoder on every call.
_JSON = json.JSONEncoder(allow_nan=False)


@dataclass(frozen=True)
class RunRecord:
    """One run of a plan, as created by `EventStore.create_run`.

    `id` is short, unique and sorts by creation (see the module docstring); `rehearsal` is True
    for any run outside production; `created_at` is aware and in UTC.
    """

    id: str
    plan_id: str
    plan_path: str
    plan_hash: str
    env: str
    release: str | None
    rehearsal: bool
    started_by: str
    created_at: datetime


@dataclass(frozen=True)
class EventRecord:
    """One event of a run's log.

    `seq` is global and strictly increasing, assigned by the database; within one run it also
    follows commit order. `at` is aware UTC, assigned at append; `data` is a JSON object.
    """

    seq: int
    run_id: str
    at: datetime
    type: str
    step: str | None
    data: dict[str, Any]
    # Its audit-chain hash (store/audit.py); not part of equality, None for unchained rows.
    hash: str | None = field(default=None, compare=False)


def new_run_id(now: datetime) -> str:
    """A fresh run id for a run created at `now` (aware)."""
    return f"r-{now.astimezone(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def check_run_id(run_id: str) -> str:
    """`run_id` if it is usable as a run id; ValueError otherwise (a caller's bug)."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise ValueError(
            f"run id {run_id!r} must be 1-64 letters, digits or . _ : - (starting alphanumeric)"
        )
    return run_id


def round_trip(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Event `data` as readers will see it after storage; TypeError/ValueError if not JSON."""
    decoded: dict[str, Any] = json.loads(json_text(data))
    return decoded


def json_text(data: Mapping[str, Any] | None) -> str:
    """Event `data` as JSON text, as the store keeps it; TypeError/ValueError if not JSON."""
    if data is None:
        return "{}"
    if not isinstance(data, Mapping):
        raise TypeError(f"event data must be a mapping, not {type(data).__name__}")
    return _JSON.encode(data)


class DamagedRow(Exception):
    """A column value that cannot be what the schema says; the caller adds which row."""


def run_from_row(row: Mapping[Any, Any], *, store: str) -> RunRecord:
    """A `RunRecord` from a raw `runs` row; StoreError naming the run if a value is damaged."""
    run_id = row["id"]
    try:
        return RunRecord(
            id=_text(run_id, "id"),
            plan_id=_text(row["plan_id"], "plan_id"),
            plan_path=_text(row["plan_path"], "plan_path"),
            plan_hash=_text(row["plan_hash"], "plan_hash"),
            env=_text(row["env"], "env"),
            release=None if row["release"] is None else _text(row["release"], "release"),
            rehearsal=_flag(row["rehearsal"], "rehearsal"),
            started_by=_text(row["started_by"], "started_by"),
            created_at=_moment(row["created_at"], "created_at"),
        )
    except DamagedRow as exc:
        raise _damaged(store, f"run {run_id!r}", exc) from None


def event_from_row(row: Mapping[Any, Any], *, store: str) -> EventRecord:
    """An `EventRecord` from a raw `events` row; StoreError naming run and seq if damaged."""
    try:
        return EventRecord(
            seq=_integer(row["seq"], "seq"),
            run_id=_text(row["run_id"], "run_id"),
            at=_moment(row["at"], "at"),
            type=_text(row["type"], "type"),
            step=None if row["step"] is None else _text(row["step"], "step"),
            data=_object(row["data"], "data"),
            hash=None if row.get("hash") is None else _text(row["hash"], "hash"),
        )
    except DamagedRow as exc:
        where = f"run {row['run_id']!r}, event seq {row['seq']!r}"
        raise _damaged(store, where, exc) from None


def _damaged(store: str, where: str, exc: DamagedRow) -> StoreError:
    return StoreError(
        f"the state store {store} has a damaged row ({where}): {exc}; "
        "restore the store from a backup, or start a new run with another --state"
    )


def _text(value: object, column: str) -> str:
    if not isinstance(value, str):
        raise DamagedRow(f"column {column!r} holds {_show(value)}, not text")
    return value


def _integer(value: object, column: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DamagedRow(f"column {column!r} holds {_show(value)}, not an integer")
    return value


def _flag(value: object, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise DamagedRow(f"column {column!r} holds {_show(value)}, not a boolean")


def _moment(value: object, column: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise DamagedRow(f"column {column!r} holds {_show(value)}, not a time") from None
    if not isinstance(value, datetime):
        raise DamagedRow(f"column {column!r} holds {_show(value)}, not a time")
    # SQLite keeps no offset; the store only ever writes UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _object(value: object, column: str) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise DamagedRow(f"column {column!r} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise DamagedRow(f"column {column!r} holds {_show(value)}, not a JSON object")
    return value


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class ChecklistMark:
    """One mark on a checklist item: done or reopened by a person, or a verification's result."""

    id: int
    plan_id: str
    item: str
    state: str  # done | open | verified | failed
    by: str
    note: str | None
    at: datetime


@dataclass(frozen=True)
class Lease:
    """A run's lease as the store holds it: the engine `host`/`pid` that took it with `token`."""

    run_id: str
    token: int
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    released_at: datetime | None

    def held_at(self, now: datetime) -> bool:
        """Whether an engine holds it at `now`: neither released nor expired."""
        return self.released_at is None and now < self.expires_at


def lease_from_row(row: Mapping[Any, Any]) -> Lease:
    """A `Lease` from a raw `leases` row; DamagedRow if a time is not a time."""
    return Lease(
        run_id=str(row["run_id"]),
        token=int(row["token"]),
        host=str(row["host"]),
        pid=int(row["pid"]),
        started_at=_lease_time(row["started_at"]),
        heartbeat_at=_lease_time(row["heartbeat_at"]),
        expires_at=_lease_time(row["expires_at"]),
        released_at=None if row["released_at"] is None else _lease_time(row["released_at"]),
    )


def _lease_time(value: object) -> datetime:
    # SQLite keeps times as text without a zone; every time the store writes is UTC.
    time = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(time, datetime):
        raise DamagedRow(f"a lease time is {value!r:.40}, not a time")
    return time if time.tzinfo else time.replace(tzinfo=UTC)


def moment(value: datetime) -> str:
    """A lease's time for messages: UTC, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
