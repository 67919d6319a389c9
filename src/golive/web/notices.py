"""The store's change notices, pushed by PostgreSQL: one LISTEN connection per replica.

Every append on PostgreSQL sends `NOTIFY golive_events, '{"run": id, "seq": n}'` in its own
transaction (store/queries.py), so the notice leaves when the event commits, in commit order.
`Notices.run` holds one asynchronous psycopg connection that LISTENs, and hands each notice to
the broker, which reads the run's new events from its last seq (the notice only says "look").
When the connection drops (the server restarted, a pg_terminate_backend, the network), the
broker is told (`on_state(False)`) and falls back to polling the store until a new connection
LISTENs again; then it reads every watched run once more from its last seq (`on_state(True)`),
so no event committed while nobody listened is missed. SQLite has no notices: polling only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from golive.store.queries import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MOST = 0.2, 5.0  # seconds between two tries to LISTEN again


def listen_url(store_url: str) -> str | None:
    """The libpq URL to LISTEN on for the store at `store_url`; None for SQLite."""
    url = sa.make_url(store_url)
    if url.get_backend_name() != "postgresql":
        return None
    query = {k: v for k, v in url.query.items() if k != "options" or v}
    plain = url.set(drivername="postgresql", query=query)
    return plain.render_as_string(hide_password=False)


class Notices:
    """LISTEN on the store's channel; `on_notice(payload)` for each notice, `on_state(live)`
    when the connection starts or stops listening."""

    def __init__(
        self,
        url: str,
        *,
        on_notice: Callable[[dict[str, Any]], None],
        on_state: Callable[[bool], None],
    ) -> None:
        self.url = url
        self._password = sa.make_url(url).password
        self.on_notice = on_notice
        self.on_state = on_state
        self.live = False
        self.connection: Any = None  # the psycopg.AsyncConnection while it is open
        self.pid: int | None = None  # its backend's pid (a test terminates it)

    async def run(self) -> None:
        """Listen until cancelled, connecting again after each drop."""
        import psycopg

        delay = RETRY_FIRST
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=5
                ) as connection:
                    self.connection = connection
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.pid = connection.info.backend_pid
                    self._state(True)
                    delay = RETRY_FIRST
                    async for notice in connection.notifies():
                        self._notice(notice.payload)
            except psycopg.Error as exc:
                reason = " ".join(str(exc).split())
                if self._password:  # never in a log, whatever the driver's message holds
                    reason = reason.replace(str(self._password), "***")
                log.warning(
                    "LISTEN on the state store dropped (%s): polling it until it is back", reason
                )
            finally:
                self.connection = None
                self._state(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MOST)

    def _state(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            self.on_state(live)

    def _notice(self, payload: str) -> None:
        with contextlib.suppress(ValueError, TypeError):
            decoded = json.loads(payload)
            if isinstance(decoded, dict):
                self.on_notice(decoded)
