"""Time, injected: the engine asks a clock, so that tests can run without sleeping."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...
    def monotonic(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio  # loaded by the loop that awaits this; `golive status` needs no loop

        await asyncio.sleep(seconds)


TEST_CLOCK_VARIABLE = "GOLIVE_TEST_CLOCK"


class ScaledClock:
    """Testing only: time that starts at `start` and runs `scale` times faster than the wall.

    Anchored to the wall clock (`origin`, seconds since the epoch), so that every process given
    the same anchor, e.g. an engine killed and resumed, reads the same time. A 72 h hypercare
    at scale 3600 lasts 72 s.
    """

    def __init__(self, start: dt.datetime, *, scale: float, origin: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("the start of a scaled clock needs a UTC offset")
        if scale <= 0:
            raise ValueError("a scaled clock's scale must be above 0")
        self.start = start
        self.scale = scale
        self.origin = time.time() if origin is None else origin
        self._mono_origin = time.monotonic() - (time.time() - self.origin)

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.time() - self.origin) * self.scale)

    def monotonic(self) -> float:
        return (time.monotonic() - self._mono_origin) * self.scale

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(max(0.0, seconds) / self.scale)

    def encode(self) -> str:
        """The value of GOLIVE_TEST_CLOCK that gives another process this clock."""
        return f"{self.start.isoformat()},{self.origin!r},{self.scale!r}"


def clock_from_environment(environ: dict[str, str] | None = None) -> Clock:
    """The system clock, or the scaled test clock that GOLIVE_TEST_CLOCK describes
    (`START_ISO,ORIGIN_EPOCH_SECONDS,SCALE`, as `ScaledClock.encode` writes it)."""
    import os

    given = (environ if environ is not None else os.environ).get(TEST_CLOCK_VARIABLE)
    if not given:
        return SystemClock()
    try:
        start, origin, scale = given.split(",")
        return ScaledClock(
            dt.datetime.fromisoformat(start), scale=float(scale), origin=float(origin)
        )
    except ValueError as error:
        from golive.errors import UsageError

        raise UsageError(
            f"{TEST_CLOCK_VARIABLE}={given[:60]!r} is not START_ISO,ORIGIN,SCALE ({error}); "
            "unset it outside tests"
        ) from None
