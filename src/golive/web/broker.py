"""The live stream's broker: one tail of the store per watched run, fanned out to every watcher.

However many browsers watch a run, the store is read once per run: a tail task per watched run
calls `Runs.sync` every `interval` seconds (at once when this process appended an event), and
each new event is encoded as one Server-Sent Events message, once, and queued for every
subscriber. The broker also knows who watches each run now (presence), and tells the watchers
when that changes, at most every `presence_interval` seconds. Every `recheck_interval` seconds
it asks the accounts, in one look for all of a run's watchers, whether each watcher's token or
session is still valid: the stream of a revoked token, an ended session or a disabled user
ends then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from golive.errors import GoliveError
from golive.store import EventRecord
from golive.web.runs import Runs, event_json

HEARTBEAT = 15.0  # every so many seconds, a keep-alive comment to every watcher
KEEP_ALIVE = b": keep-alive\n\n"
RECHECK_INTERVAL = 2.0  # seconds between two checks of the watchers' tokens and sessions
QUEUE_LIMIT = 5000  # a watcher this far behind is dropped; its browser reconnects and catches up


@dataclass(frozen=True, order=True)
class Watcher:
    user: str
    person: str | None
    name: str


def sse(*, event: str, data: Any, seq: int | None = None) -> bytes:
    """One Server-Sent Events message."""
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def event_message(record: EventRecord) -> bytes:
    return sse(event=record.type, data=event_json(record), seq=record.seq)


@dataclass(eq=False)
class Subscription:
    run_id: str
    watcher: Watcher
    floor: int  # events up to this seq were sent already (or were before the watcher came)
    credential: str = ""  # the SHA-256 of the watcher's token or session, re-checked
    queue: asyncio.Queue[tuple[int, bytes] | None] = field(default_factory=asyncio.Queue)
    dropped: bool = False

    def push(self, seq: int, message: bytes) -> None:
        if self.dropped:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.dropped = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait((seq, message))

    def close(self) -> None:
        self.queue.put_nowait(None)

    def cut(self) -> None:
        """End the stream now: nothing more is queued after its end."""
        if not self.dropped:
            self.dropped = True
            self.queue.put_nowait(None)


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
    ) -> None:
        self.runs = runs
        self.interval = interval
        self.presence_interval = presence_interval
        self.recheck = recheck  # of these credentials, those still valid
        self.recheck_interval = recheck_interval
        self._channels: dict[str, Channel] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        runs.listener = self._from_any_thread

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        for channel in self._channels.values():
            for subscription in channel.subscribers:
                subscription.close()
            if channel.task is not None:
                channel.task.cancel()
        tasks = [c.task for c in self._channels.values() if c.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._channels.clear()

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
        channel = self._channels.get(run_id)
        return sorted(channel.watchers) if channel is not None else []

    def presence_message(self, run_id: str) -> bytes:
        watching = [
            {"user": w.user, "person": w.person, "name": w.name} for w in self.watchers(run_id)
        ]
        return sse(event="presence", data={"watchers": watching})

    def wake(self, run_id: str) -> None:
        """Read the run's new events now (this process just appended one)."""
        channel = self._channels.get(run_id)
        if channel is not None:
            channel.wake.set()

    def notify_plan(self, plan_id: str, item: str) -> None:
        """Tell the watchers of the go-live's runs that a checklist item changed."""
        message = sse(event="checklist", data={"item": item})
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._notify_plan, plan_id, message)

    def _notify_plan(self, plan_id: str, message: bytes) -> None:
        for run_id, channel in self._channels.items():
            if self.runs.plan_id(run_id) == plan_id:
                for subscription in list(channel.subscribers):
                    subscription.push(0, message)

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

    def _fan_out(self, run_id: str, messages: list[tuple[int, bytes]]) -> None:
        channel = self._channels.get(run_id)
        if channel is None:
            return
        for subscription in list(channel.subscribers):
            for seq, message in messages:
                if seq > subscription.floor:
                    subscription.push(seq, message)

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

    async def _tail(self, channel: Channel) -> None:
        while channel.subscribers:
            with contextlib.suppress(GoliveError):  # the store hiccuped: look again shortly
                await asyncio.to_thread(self.runs.sync, channel.run_id)
            now = time.monotonic()
            if channel.presence_dirty and now - channel.presence_sent >= self.presence_interval:
                channel.presence_dirty, channel.presence_sent = False, now
                message = self.presence_message(channel.run_id)
                for subscription in list(channel.subscribers):
                    subscription.push(0, message)
            if now - channel.heartbeat_sent >= HEARTBEAT:
                # One timer per run rather than one per watcher and message.
                channel.heartbeat_sent = now
                for subscription in list(channel.subscribers):
                    subscription.push(0, KEEP_ALIVE)
            if now - channel.rechecked >= self.recheck_interval:
                channel.rechecked = now
                await self._recheck(channel)
            channel.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(channel.wake.wait(), self.interval)
        if not channel.subscribers and self._channels.get(channel.run_id) is channel:
            del self._channels[channel.run_id]
