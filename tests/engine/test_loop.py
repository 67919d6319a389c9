"""The loop runs are driven on: asyncio.run, with a child watcher that needs no thread per process."""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from golive.engine import loop

needs_311_pidfd = pytest.mark.skipif(
    sys.version_info >= (3, 12) or loop.child_watcher_name() != "PidfdChildWatcher",
    reason="the watcher is chosen by golive on Python 3.11 with pidfd support only",
)


async def exit_codes(count: int) -> list[int]:
    async def one(code: int) -> int:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", f"raise SystemExit({code})", stdout=asyncio.subprocess.PIPE
        )
        await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode

    return await asyncio.gather(*(one(code) for code in range(count)))


def watcher_now() -> str:
    async def name() -> str:
        return type(asyncio.get_event_loop_policy().get_child_watcher()).__name__

    return loop.run(name())


def test_run_returns_the_result_and_reports_each_child_exit() -> None:
    assert loop.run(exit_codes(5)) == [0, 1, 2, 3, 4]


@needs_311_pidfd
def test_the_pidfd_watcher_serves_only_the_loop_of_run() -> None:
    before = asyncio.get_event_loop_policy().get_child_watcher()

    assert watcher_now() == "PidfdChildWatcher"
    assert asyncio.get_event_loop_policy().get_child_watcher() is before


def test_run_in_another_thread_keeps_the_default_watcher() -> None:
    with ThreadPoolExecutor(1) as pool:
        codes = pool.submit(loop.run, exit_codes(3)).result(timeout=60)

    assert codes == [0, 1, 2]
