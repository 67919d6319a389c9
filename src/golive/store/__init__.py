"""golive's event store: runs and their append-only event logs, in SQLite or PostgreSQL.

    with open_store(default_state_url(plan_path)) as store:
        run = store.create_run(plan_id="shop", plan_path=..., plan_hash=..., env="staging",
                               release="4.2", rehearsal=True, started_by="ana")
        store.append(run.id, "StepStarted", step="deploy", data={"attempt": 1})
        for event in store.events(run.id, after=0):
            ...

One SQLAlchemy Core implementation serves both databases; the schema is migrated with Alembic
(migrations ship inside this package) whenever a store is opened. That machinery (SQLAlchemy)
loads when `EventStore`, `open_store` or `default_state_url` is first asked for: `golive status`
reads through store/reader.py without it.
"""

import importlib as _importlib
import typing as _typing

from golive.store.records import ChecklistMark, EventRecord, RunRecord

if _typing.TYPE_CHECKING:
    from golive.store.event_store import EventStore, open_store
    from golive.store.url import default_state_url

_LAZY = {
    "EventStore": "golive.store.event_store",
    "open_store": "golive.store.event_store",
    "default_state_url": "golive.store.url",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ChecklistMark",
    "EventRecord",
    "EventStore",
    "RunRecord",
    "default_state_url",
    "open_store",
]
