"""What the replicas of mission control share through the store: the login rate limit and who
watches each run ("watching now"). Login sessions and API tokens are in accounts.py already, and
a session's CSRF token is derived from it (web/auth.py), so any replica checks any of them.

Times come from the store's clock: the hosts of one store must agree on the time (NTP).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from golive.store import queries
from golive.store.event_store import EventStore
from golive.store.schema import login_failures, presence

PRESENCE_LIFETIME = dt.timedelta(seconds=15)  # a replica rewrites its watchers more often


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class LoginFailures:
    """At most `failures` failed logins per key (a user name, a client address) in `window`
    seconds, counted in the store so that every replica sees the same count."""

    def __init__(self, store: EventStore, *, failures: int = 5, window: float = 300.0) -> None:
        self.store, self.failures, self.window = store, failures, window

    def wait(self, keys: list[str]) -> float:
        """Seconds to wait before another try; 0 if one is allowed now."""
        now = self.store.now()
        since = now - dt.timedelta(seconds=self.window)
        query = (
            sa.select(login_failures.c.key, login_failures.c.at)
            .where(login_failures.c.key.in_(keys), login_failures.c.at > since)
            .order_by(login_failures.c.at.desc())
        )
        with self.store.transaction("read the failed logins in") as connection:
            rows = connection.execute(query).all()
        longest = 0.0
        for key in keys:
            times = [_aware(at) for k, at in rows if k == key]
            if len(times) >= self.failures:
                # the failure that must leave the window before one more try is allowed
                oldest = times[self.failures - 1]
                left = (oldest + dt.timedelta(seconds=self.window) - now).total_seconds()
                longest = max(longest, left)
        return longest

    def failed(self, keys: list[str]) -> None:
        now = self.store.now()
        with self.store.transaction("record a failed login in", write=True) as connection:
            connection.execute(sa.insert(login_failures), [{"key": k, "at": now} for k in keys])
            old = now - dt.timedelta(seconds=self.window)
            connection.execute(sa.delete(login_failures).where(login_failures.c.at <= old))

    def succeeded(self, key: str) -> None:
        with self.store.transaction("record a login in", write=True) as connection:
            connection.execute(sa.delete(login_failures).where(login_failures.c.key == key))


@dataclass(frozen=True, order=True)
class Present:
    """Someone watching a run: the user, their person in the go-live (if any), the name shown."""

    user: str
    person: str | None
    name: str


class Presence:
    """Who watches each run, over every replica: each replica writes its own watchers."""

    def __init__(
        self, store: EventStore, *, replica: str, lifetime: dt.timedelta = PRESENCE_LIFETIME
    ) -> None:
        self.store, self.replica, self.lifetime = store, replica, lifetime

    def publish(self, run_id: str, watchers: Iterable[Present], *, changed: bool = True) -> None:
        """This replica's watchers of the run are now `watchers` (seen now); if they `changed`,
        the other replicas are told (on PostgreSQL) to read them again."""
        now = self.store.now()
        rows = [
            {
                "replica": self.replica,
                "run_id": run_id,
                "user_name": w.user,
                "person": w.person,
                "name": w.name,
                "seen_at": now,
            }
            for w in {w.user: w for w in watchers}.values()
        ]
        mine = (presence.c.replica == self.replica) & (presence.c.run_id == run_id)
        with self.store.transaction("record who watches a run in", write=True) as connection:
            connection.execute(sa.delete(presence).where(mine))
            if rows:
                connection.execute(sa.insert(presence), rows)
            stale = presence.c.seen_at < now - 4 * self.lifetime
            connection.execute(sa.delete(presence).where(presence.c.run_id == run_id, stale))
            if changed and connection.dialect.name == "postgresql":  # the others read it again
                payload = json.dumps({"run": run_id, "presence": True})
                connection.execute(queries.notify, {"payload": payload})

    def watching(self, run_id: str, *, others: bool = False) -> list[Present]:
        """Everyone watching the run on any replica that wrote within the lifetime (`others`:
        on the other replicas only; this one knows its own watchers better than the store)."""
        since = self.store.now() - self.lifetime
        query = sa.select(presence.c.user_name, presence.c.person, presence.c.name).where(
            presence.c.run_id == run_id, presence.c.seen_at > since
        )
        if others:
            query = query.where(presence.c.replica != self.replica)
        with self.store.transaction("read who watches a run in") as connection:
            rows = connection.execute(query).all()
        return sorted({Present(r.user_name, r.person, r.name) for r in rows})

    def leave(self) -> None:
        """This replica stops: its watchers are gone."""
        with self.store.transaction("record who watches a run in", write=True) as connection:
            connection.execute(sa.delete(presence).where(presence.c.replica == self.replica))
