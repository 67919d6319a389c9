"""The live stream's broker: one tail of the store per watched run, fanned out to every watcher.

However many browsers watch a run, the store is read once per run and per replica: a tail task
per watched run calls `Runs.sync` (read the events after the last seq) when PostgreSQL notifies
an append (web/notices.py: one LISTEN connection per process), when this process appended an
event, and, as the fallback, every `interval` seconds on SQLite or while the LISTEN connection
is down; with notices live it still reads every `resync_interval` seconds, in case. Each new
event is encoded as one Server-Sent Events message, once, and queued for every subscriber.

The broker knows who watches each run here, and with a `presence` (the store's, shared by
every replica of `golive serve`) who watches it anywhere ("watching now"); it tells the watchers
when that changes, at most every `presence_interval` seconds. Every `recheck_interval` seconds
it asks the accounts, in one look for all of a run's watchers, whether each watcher's token or
session is still valid: the stream of a revoked token, an ended session or a disabled user
ends then.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from golive.errors import GoliveError
from golive.store import EventRecord
from golive.store.coordination import Presence, Present
from golive.web.notices import Notices, listen_url
from golive.web.runs import Runs, event_json

HEARTBEAT = 15.0  # every so many seconds, a keep-alive comment to every watcher
KEEP_ALIVE = b": keep-alive\n\n"
RECHECK_INTERVAL = 2.0  # seconds between two checks of the watchers' tokens and sessions
QUEUE_LIMIT = 5000  # a watcher this far behind is dropped; its browser reconnects and catches up
RESYNC_INTERVAL = 5.0  # with notices live, read each watched run anyway this often
PRESENCE_REFRESH = 5.0  # rewrite this replica's watchers in the store this often (lifetime 15 s)

Watcher = Present  # who watches: user, person, name


def sse(*, event: str, data: Any, seq: int | None = None) -> bytes:
    """One Server-Sent Events message."""
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def event_message(record: EventRecord) -> bytes:
    return sse(event=record.type, data=event_json(record), seq=record.seq)


Message = tuple[int, bytes]  # (the event's seq, or 0 for presence, checklist, keep-alive; SSE)
BodySend = Callable[[dict[str, Any]], Awaitable[None]]
Sending = Generator[Any, None, None]  # an ASGI send's __await__()


@dataclass(eq=False)
class Subscription:
    """One watcher's stream. Until its response is `attach`ed (the backlog written), and while
    its connection cannot take more (the transport's buffer is full), messages wait in
    `pending`; else each fan-out writes them to the connection at once, in the broker's own
    pass over the run's watchers: no queue, no task, no wake-up per watcher and event."""

    run_id: str
    watcher: Watcher
    floor: int  # events up to this seq were sent already (or were before the watcher came)
    credential: str = ""  # the SHA-256 of the watcher's token or session, re-checked
    pending: list[Message] = field(default_factory=list)
    dropped: bool = False  # the stream ends: nothing more is sent after what is pending
    _send: BodySend | None = None  # the response's ASGI send, once attached
    _context: contextvars.Context | None = None  # the response task's, to send in
    _flushing: asyncio.Task[None] | None = None  # a write waiting for the connection
    _ended: asyncio.Future[None] | None = None

    @property
    def ended(self) -> asyncio.Future[None]:
        """Done when the stream must end (its credential is no longer valid, it fell too far
        behind, the server stops)."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
            if self.dropped:
                self._ended.set_result(None)
        return self._ended

    def deliver(self, messages: list[Message], data: bytes) -> None:
        """Send `messages` (in order, `data` their bytes joined) unless already sent."""
        if self.dropped:
            return
        last = messages[-1][0]
        if last > self.floor:
            self.floor = last
        if self._send is not None and self._flushing is None:
            self._write(data)
            return
        self.pending += messages
        if len(self.pending) >= QUEUE_LIMIT:
            self.cut()

    def push(self, seq: int, message: bytes) -> None:
        self.deliver([(seq, message)], message)

    def attach(self, send: BodySend, *, sent: int) -> None:
        """The response wrote its head, the backlog (events up to `sent`) and the presence:
        write what is pending after them, and every message from now on as it comes."""
        self.floor = max(self.floor, sent)
        data = b"".join(m for seq, m in self.pending if not seq or seq > sent)
        self.pending = []
        self._send, self._context = send, contextvars.copy_context()
        if data:
            self._write(data)

    def _write(self, data: bytes) -> None:
        assert self._send is not None
        assert self._context is not None
        # Run the ASGI send to its first suspension, in the response's context: a server
        # writes to its transport there and returns without suspending (uvicorn does), so
        # the one frame reaches the connection in this pass, however many watchers there are.
        # If it suspends (the connection's buffer is full), a task finishes it and then writes
        # what came meanwhile, in order.
        message = {"type": "http.response.body", "body": data, "more_body": True}
        sending: Sending = self._send(message).__await__()
        try:
            waiting = self._context.run(sending.send, None)
        except StopIteration:
            return
        except Exception:  # the connection is gone, whatever the server calls it
            sending.close()
            self.cut()
            return
        self._flushing = asyncio.get_running_loop().create_task(self._flush(sending, waiting))

    async def _flush(self, sending: Sending, waiting: Any) -> None:
        try:
            await _finish(sending, waiting)
            while self.pending and self._send is not None:
                data = b"".join(m for _, m in self.pending)
                self.pending = []
                await self._send({"type": "http.response.body", "body": data, "more_body": True})
        except Exception:  # the connection is gone
            self.pending = []
            self.cut()
        finally:
            self._flushing = None

    async def drained(self) -> None:
        """Until what was written so far has been handed to the connection."""
        while self._flushing is not None:
            await asyncio.wait([self._flushing])

    def detach(self) -> None:
        self._send = self._context = None
        if self._flushing is not None:
            self._flushing.cancel()

    def close(self) -> None:
        self.cut()

    def cut(self) -> None:
        """End the stream now: nothing more is sent after what is pending."""
        if not self.dropped:
            self.dropped = True
            if self._ended is not None and not self._ended.done():
                self._ended.set_result(None)


async def _finish(coroutine: Sending, waiting: Any) -> None:
    """Go on with an awaitable that suspended on `waiting` (what it yielded) until it returns."""
    while True:
        if waiting is None:  # a bare yield (asyncio.sleep(0))
            await asyncio.sleep(0)
        else:
            waiting._asyncio_future_blocking = False
            try:
                await asyncio.wait([waiting])
            except asyncio.CancelledError:
                coroutine.close()
                raise
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return


@dataclass(eq=False)
class Channel:
    run_id: str
    subscribers: set[Subscription] = field(default_factory=set)
    watchers: Counter[Watcher] = field(default_factory=Counter)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    presence_dirty: bool = False
    presence_sent: float = 0.0
    heartbeat_sent: float = field(default_factory=time.monotonic)
    rechecked: float = field(default_factory=time.monotonic)
    stale: bool = True  # new events may be in the store: read them at the next turn
    synced: float = 0.0
    seen: list[Watcher] = field(default_factory=list)  # everyone watching, as last told
    others: list[Watcher] = field(default_factory=list)  # watching on the other replicas
    others_read: int = 0  # the number of the read `others` comes from (a later one wins)
    presence_stale: bool = True  # another replica's watchers changed: read them again
    presence_reading: bool = False  # the tail reads them now (`others` may be out of date)
    presence_read: float = 0.0
    presence_written: float = 0.0


class Broker:
    """Live events and presence for every run watched through this process."""

    def __init__(
        self,
        runs: Runs,
        *,
        interval: float = 0.05,
        presence_interval: float = 0.5,
        recheck: Callable[[set[str]], set[str]] | None = None,
        recheck_interval: float = RECHECK_INTERVAL,
        presence: Presence | None = None,
        listen: bool = True,
        resync_interval: float = RESYNC_INTERVAL,
    ) -> None:
        self.runs = runs
        self.interval = interval
        self.presence_interval = presence_interval
        self.recheck = recheck  # of these credentials, those still valid
        self.recheck_interval = recheck_interval
        self.presence = presence
        self.resync_interval = resync_interval
        self._channels: dict[str, Channel] = {}
        self._presence_reads = itertools.count(1)
        self._presence_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        url = listen_url(runs.store.url) if listen else None
        self.notices = (
            Notices(url, on_notice=self._on_notice, on_state=self._on_notices)
            if url is not None
            else None
        )
        self._listening: asyncio.Task[None] | None = None
        runs.listener = self._from_any_thread

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.notices is not None and self._listening is None:
            self._listening = self._loop.create_task(self.notices.run())

    @property
    def pushed(self) -> bool:
        """PostgreSQL notifies appends to this process now (else the tails poll)."""
        return self.notices is not None and self.notices.live

    def _on_notices(self, live: bool) -> None:
        # Started or stopped listening: either way, read every watched run from its last seq
        # now (what committed while nobody listened), and poll or wait for notices from here.
        for channel in self._channels.values():
            channel.stale = channel.presence_stale = True
            channel.wake.set()

    def _on_notice(self, notice: dict[str, Any]) -> None:
        run_id = notice.get("run")
        if isinstance(run_id, str):
            channel = self._channels.get(run_id)
            if channel is not None:
                if "presence" in notice:
                    channel.presence_stale = True
                else:
                    channel.stale = True
                channel.wake.set()
            return
        plan_id, item = notice.get("plan"), notice.get("item")
        if isinstance(plan_id, str) and isinstance(item, str):
            self._notify_plan(plan_id, sse(event="checklist", data={"item": item}))

    async def close(self) -> None:
        for channel in self._channels.values():
            for subscription in channel.subscribers:
                subscription.close()
            # Empty, so that a tail ends even if its cancellation is lost (wait_for in 3.11
            # swallows one that comes as the wake-up it waits for is set).
            channel.subscribers.clear()
            channel.wake.set()
            if channel.task is not None:
                channel.task.cancel()
        tasks = [c.task for c in self._channels.values() if c.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._channels.clear()
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
            self._listening = None
        if self.presence is not None:
            with contextlib.suppress(GoliveError):
                await asyncio.to_thread(self.presence.leave)

    async def subscribe(
        self, run_id: str, watcher: Watcher, *, after: int | None, credential: str = ""
    ) -> Subscription:
        """Watch a run: events after `after` (None: from now on) and presence changes; the
        stream ends once `credential` (a token's or session's hash) is no longer valid."""
        if self._loop is None:
            self.start()
        entry = await asyncio.to_thread(self.runs.entry, run_id)
        channel = self._channels.get(run_id)
        if channel is None:
            channel = self._channels[run_id] = Channel(run_id)
        floor = entry.state.last_seq if after is None else after
        subscription = Subscription(run_id, watcher, floor, credential)
        channel.subscribers.add(subscription)
        channel.watchers[watcher] += 1
        if channel.watchers[watcher] == 1:
            channel.presence_dirty = True
        if channel.task is None or channel.task.done():
            channel.task = asyncio.get_running_loop().create_task(self._tail(channel))
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.detach()
        channel = self._channels.get(subscription.run_id)
        if channel is None or subscription not in channel.subscribers:
            return
        channel.subscribers.discard(subscription)
        channel.watchers[subscription.watcher] -= 1
        if channel.watchers[subscription.watcher] <= 0:
            del channel.watchers[subscription.watcher]
            channel.presence_dirty = True
            channel.wake.set()

    def watchers(self, run_id: str) -> list[Watcher]:
        """Who watches the run: here, and on every replica if the presence is in the store."""
        channel = self._channels.get(run_id)
        if channel is None:
            if self.presence is None:
                return []
            try:
                return self.presence.watching(run_id)
            except GoliveError:
                return []
        here = set(channel.watchers)
        if self.presence is None:
            return sorted(here)
        if channel.presence_stale or channel.presence_reading:
            with contextlib.suppress(GoliveError):
                return sorted(set(self._read_others(channel)) | here)
        return sorted(set(channel.others) | here)

    def _read_others(self, channel: Channel) -> list[Watcher]:
        """Read who watches the run on the other replicas; keep it unless a read that started
        later is kept already (reads run in threads and may end out of order)."""
        assert self.presence is not None
        number = next(self._presence_reads)
        others = self.presence.watching(channel.run_id, others=True)
        with self._presence_lock:
            if number > channel.others_read:
                channel.others, channel.others_read = others, number
        return others

    def presence_message(self, run_id: str) -> bytes:
        """Who watches the run, as last read (never waits for the store)."""
        channel = self._channels.get(run_id)
        here = set(channel.watchers) | set(channel.others) if channel is not None else set()
        watching = [{"user": w.user, "person": w.person, "name": w.name} for w in sorted(here)]
        return sse(event="presence", data={"watchers": watching})

    def wake(self, run_id: str) -> None:
        """Read the run's new events now (this process just appended one)."""
        channel = self._channels.get(run_id)
        if channel is not None:
            channel.stale = True
            channel.wake.set()

    def notify_plan(self, plan_id: str, item: str) -> None:
        """Tell the watchers of the go-live's runs that a checklist item changed (with notices
        live, PostgreSQL tells every replica, this one included)."""
        message = sse(event="checklist", data={"item": item})
        if self._loop is None or self.pushed:
            return
        self._loop.call_soon_threadsafe(self._notify_plan, plan_id, message)

    def _notify_plan(self, plan_id: str, message: bytes) -> None:
        for run_id, channel in self._channels.items():
            if self.runs.plan_id(run_id) == plan_id:
                self._push_all(channel, message)

    def _from_any_thread(self, run_id: str, records: list[EventRecord]) -> None:
        # Runs.sync runs in worker threads; the queues belong to the event loop's thread.
        loop = self._loop
        if loop is None or run_id not in self._channels:
            return
        messages = [(r.seq, event_message(r)) for r in records]
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fan_out(run_id, messages)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(self._fan_out, run_id, messages)

    def _fan_out(self, run_id: str, messages: list[Message]) -> None:
        channel = self._channels.get(run_id)
        if channel is None or not messages:
            return
        first, data = messages[0][0], b"".join(m for _, m in messages)
        for subscription in list(channel.subscribers):
            if subscription.floor < first:  # the usual case: every message, the same bytes
                subscription.deliver(messages, data)
            elif subscription.floor < messages[-1][0]:  # it has some already (its backlog)
                due = [(seq, m) for seq, m in messages if seq > subscription.floor]
                subscription.deliver(due, b"".join(m for _, m in due))

    async def _recheck(self, channel: Channel) -> None:
        """Cut the streams whose token or session is no longer valid."""
        held = {s.credential for s in channel.subscribers if s.credential}
        if self.recheck is None or not held:
            return
        try:
            valid = await asyncio.to_thread(self.recheck, held)
        except GoliveError:  # the store hiccuped: look again at the next recheck
            return
        for subscription in list(channel.subscribers):
            if subscription.credential and subscription.credential not in valid:
                subscription.cut()

    async def _presence(self, channel: Channel, now: float) -> None:
        """Write this replica's watchers, read everyone's, and tell the watchers if it changed."""
        presence = self.presence
        if presence is None:
            channel.presence_dirty, channel.presence_sent = False, now
            self._push_all(channel, self.presence_message(channel.run_id))
            return
        local = sorted(channel.watchers)
        if channel.presence_dirty or now - channel.presence_written >= PRESENCE_REFRESH:
            changed = channel.presence_dirty
            channel.presence_dirty, channel.presence_written = False, now
            try:
                await asyncio.to_thread(presence.publish, channel.run_id, local, changed=changed)
            except GoliveError:  # the store hiccuped: write it again at the next turn
                channel.presence_dirty |= changed
                channel.presence_written = 0.0
                return
        due = now - channel.presence_read >= (
            PRESENCE_REFRESH if self.pushed else 2 * self.presence_interval
        )
        if channel.presence_stale or due:
            # Cleared before the read: a notice that comes during it marks it stale again.
            channel.presence_stale, channel.presence_read = False, now
            channel.presence_reading = True
            try:
                await asyncio.to_thread(self._read_others, channel)
            except GoliveError:  # read it again at the next turn
                channel.presence_stale = True
                return
            finally:
                channel.presence_reading = False
        everyone = sorted(set(channel.others) | set(channel.watchers))
        channel.presence_sent = now
        if everyone != channel.seen:
            channel.seen = everyone
            self._push_all(channel, self.presence_message(channel.run_id))

    @staticmethod
    def _push_all(channel: Channel, message: bytes) -> None:
        messages = [(0, message)]
        for subscription in list(channel.subscribers):
            subscription.deliver(messages, message)

    async def _tail(self, channel: Channel) -> None:
        while channel.subscribers:
            channel.wake.clear()  # before reading: a notice from now on wakes the next turn
            now = time.monotonic()
            if channel.stale or not self.pushed or now - channel.synced >= self.resync_interval:
                channel.stale, channel.synced = False, now
                try:
                    await asyncio.to_thread(self.runs.sync, channel.run_id)
                except GoliveError:  # the store hiccuped: look again shortly
                    channel.stale = True
            if now - channel.presence_sent >= self.presence_interval and (
                channel.presence_dirty or channel.presence_stale or self.presence is not None
            ):
                await self._presence(channel, now)
            if now - channel.heartbeat_sent >= HEARTBEAT:
                # One timer per run rather than one per watcher and message.
                channel.heartbeat_sent = now
                self._push_all(channel, KEEP_ALIVE)
            if now - channel.rechecked >= self.recheck_interval:
                channel.rechecked = now
                await self._recheck(channel)
            timeout = self.interval if not self.pushed else self.presence_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(channel.wake.wait(), timeout)
        if not channel.subscribers and self._channels.get(channel.run_id) is channel:
            del self._channels[channel.run_id]
        if self.presence is not None:
            with contextlib.suppress(GoliveError):
                await asyncio.to_thread(self.presence.publish, channel.run_id, [])
