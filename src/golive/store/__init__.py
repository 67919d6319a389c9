"""golive's event store: runs and their append-only event logs, in SQLite or PostgreSQL.

    with open_store(default_state_url(plan_path)) as store:
        run = store.create_run(plan_id="shop", plan_path=..., plan_hash=..., env="staging",
                               release="4.2", rehearsal=True, started_by="ana")
        store.append(run.id, "StepStarted", step="deploy", data={"attempt": 1})
        for event in store.events(run.id, after=0):
            ...

One SQLAlchemy Core implementation serves both databases; the schema is migrated with Alembic
(migrations ship inside this package) whenever a store is opened.
"""

from golive.store.event_store import EventStore, open_store
from golive.store.records import ChecklistMark, EventRecord, RunRecord
from golive.store.url import default_state_url

__all__ = [
    "ChecklistMark",
    "EventRecord",
    "EventStore",
    "RunRecord",
    "default_state_url",
    "open_store",
]
