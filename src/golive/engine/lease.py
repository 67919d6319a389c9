"""One engine per run, across hosts: the engine's lease on its run, and its heartbeat.

An engine takes the run's lease (store/leases.py) before its first event, renews it every
`heartbeat` seconds from a thread of its own (so a busy event loop cannot starve it), appends
every event with the lease's token, and releases the lease when it stops. An engine whose lease
is gone (expired, or taken over with a higher token) stops before its next event: the store
refuses the append, and the engine checks between moves.

Who may take a run's lease:
- nobody holds it (never taken, or released by an engine that stopped): anyone;
- an engine on this host whose process has ended (killed): anyone here, at once;
- an engine that holds it, renewing it: nobody, not even with `--force`;
- an engine that stopped renewing it without releasing it, and whose lease expired: only
  `--force`, since that engine may be cut off rather than gone (its step processes may live on).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from golive.errors import GoliveError, LeaseHeld, LeaseLost, StoreError, UsageError
from golive.store.records import Lease, moment

if TYPE_CHECKING:  # the store's SQL loads when a lease is read or written: `golive status` reads
    from golive.store import EventStore  # leases without it (store/reader.py)

TTL_SECONDS = 30.0  # how long a lease lives without a heartbeat
HEARTBEATS_PER_TTL = 3  # a heartbeat every 10 s: two may fail before the lease expires
TTL_VARIABLE = "GOLIVE_LEASE_TTL"
HOSTNAME_VARIABLE = "GOLIVE_HOSTNAME"


def host_name() -> str:
    """The name this machine's engines go by in leases and events: GOLIVE_HOSTNAME, else the
    host name (set GOLIVE_HOSTNAME where containers get random host names)."""
    return os.environ.get(HOSTNAME_VARIABLE) or socket.gethostname()


def lease_ttl() -> timedelta:
    """A lease's lifetime without a heartbeat: GOLIVE_LEASE_TTL seconds, else 30 s."""
    text = os.environ.get(TTL_VARIABLE, "").strip()
    if not text:
        return timedelta(seconds=TTL_SECONDS)
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0.1 <= seconds <= 86_400:
        raise UsageError(
            f"{TTL_VARIABLE}={text!r}: not a lease lifetime; give seconds between 0.1 and "
            f"86400, or unset it for {TTL_SECONDS:.0f} s"
        )
    return timedelta(seconds=seconds)


def holder_gone(lease: Lease) -> bool:
    """Whether the lease's engine is known to have ended: it ran on this host, and its process
    is not a golive process any more (or it is this very process, which holds no engine now)."""
    if lease.host != host_name():
        return False
    if lease.pid == os.getpid():
        return True
    try:
        cmdline = Path(f"/proc/{lease.pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"golive" not in cmdline


def driving_lease(*, store: EventStore, run_id: str) -> Lease | None:
    """The lease of the engine driving the run now, wherever it runs; None if none does."""
    from golive.store.leases import current_lease

    return driving(current_lease(store=store, run_id=run_id), now=store.now())


def driving(lease: Lease | None, *, now: datetime) -> Lease | None:
    """`lease` if an engine drives the run with it at `now`, else None (see driving_lease)."""
    if lease is None or not lease.held_at(now) or holder_gone(lease):
        return None
    return lease


def describe_holder(lease: Lease) -> str:
    """Who holds a lease: "the engine on host H (process P) since T"."""
    return f"the engine on host {lease.host} (process {lease.pid}) since {moment(lease.started_at)}"


def claim(*, store: EventStore, run_id: str, force: bool = False) -> EngineLease:
    """Take the run's lease for an engine of this process; LeaseHeld, saying who holds it and
    what to do, if another engine does (see the module's docstring for who may take it)."""
    ttl = lease_ttl()

    def check(current: Lease | None, now: datetime) -> None:
        if current is None or current.released_at is not None or holder_gone(current):
            return
        holder = describe_holder(current)
        if current.held_at(now):
            renewed = max(0, round((now - current.heartbeat_at).total_seconds()))
            forcing = (
                f"; --force takes over only an expired lease, and this one is renewed until "
                f"{moment(current.expires_at)}"
                if force
                else ""
            )
            raise LeaseHeld(
                f"run {run_id} is driven by {holder}, lease renewed {renewed} s ago{forcing}: "
                f"steer it with `golive decide`/`golive done`, or stop that engine first",
                lease=current,
            )
        if not force:
            raise LeaseHeld(
                f"run {run_id} was driven by {holder}, which stopped renewing its lease at "
                f"{moment(current.heartbeat_at)} without releasing it: make sure that engine "
                f"is gone, then take over with `golive resume {run_id} --force`",
                lease=current,
            )

    from golive.store.leases import take_lease

    lease = take_lease(
        store=store, run_id=run_id, host=host_name(), pid=os.getpid(), ttl=ttl, check=check
    )
    return EngineLease(store=store, lease=lease, ttl=ttl)


class EngineLease:
    """The lease an engine holds: its token for every append, and the heartbeat renewing it."""

    def __init__(self, *, store: EventStore, lease: Lease, ttl: timedelta) -> None:
        self.store = store
        self.ttl = ttl
        self.heartbeat = ttl.total_seconds() / HEARTBEATS_PER_TTL
        self._lease = lease
        self._lost: LeaseLost | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def token(self) -> int:
        return self._lease.token

    @property
    def lease(self) -> Lease:
        return self._lease

    def check(self) -> None:
        """Raise LeaseLost if the heartbeat found the lease gone, or it has expired meanwhile."""
        if self._lost is None and self.store.now() >= self._lease.expires_at:
            self._lost = LeaseLost(
                f"this engine lost its lease on run {self._lease.run_id} (token {self.token}): "
                f"it expired at {moment(self._lease.expires_at)} (no heartbeat got through in "
                f"time); it stops here without acting further: see who drives the run with "
                f"`golive status {self._lease.run_id}`"
            )
        if self._lost is not None:
            raise self._lost

    def start(self) -> None:
        """Start the heartbeat (a daemon thread), once."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._beat, name=f"lease-{self._lease.run_id}", daemon=True
            )
            self._thread.start()

    def release(self) -> None:
        """Stop the heartbeat and give the lease up (a no-op if it was lost)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._lost is not None:
            return
        # If the store is unreachable now, the lease expires by itself within its ttl.
        from golive.store.leases import release_lease

        with contextlib.suppress(StoreError):
            release_lease(store=self.store, lease=self._lease)

    def _beat(self) -> None:
        from golive.store.leases import renew_lease

        while not self._stop.wait(self.heartbeat):
            try:
                renewed = renew_lease(store=self.store, lease=self._lease, ttl=self.ttl)
            except StoreError:
                continue  # a busy or unreachable store: try again; check() sees the expiry
            if renewed is None:
                self._lost = self._why_lost()
                return
            self._lease = renewed

    def _why_lost(self) -> LeaseLost:
        from golive.store.leases import lost_lease

        try:
            return lost_lease(store=self.store, run_id=self._lease.run_id, token=self.token)
        except GoliveError:  # the loss is what matters; why is a courtesy the store may refuse
            return LeaseLost(
                f"this engine lost its lease on run {self._lease.run_id} (token {self.token}); "
                f"it stops here without acting further: see who drives the run with "
                f"`golive status {self._lease.run_id}`"
            )
