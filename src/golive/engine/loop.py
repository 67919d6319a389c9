"""The asyncio loop a run is driven on: `asyncio.run`, with a cheaper child watcher on Linux.

Python 3.11 learns that a child process ended through its default ThreadedChildWatcher, which
starts one thread per process; a run of a thousand short steps pays for a thousand threads.
A PidfdChildWatcher (Linux 5.3+) waits on a pid file descriptor in the loop instead. Python 3.12
picks it by default where it works (and deprecates choosing), so there `run` is `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, with a PidfdChildWatcher for this loop only on Python 3.11."""
    if not _pidfd_watcher_needed():
        return asyncio.run(main)
    policy = asyncio.get_event_loop_policy()
    previous = policy.get_child_watcher()
    if not isinstance(previous, asyncio.ThreadedChildWatcher):
        return asyncio.run(main)  # chosen by someone else: theirs to keep
    # asyncio.run attaches the policy's watcher to its new loop (and detaches it at the end).
    # Replacing the threaded watcher closes it, which it survives: it needs no loop.
    policy.set_child_watcher(asyncio.PidfdChildWatcher())
    try:
        return asyncio.run(main)
    finally:
        policy.set_child_watcher(previous)


def child_watcher_name() -> str:
    """How a loop made by `run` learns that a child process ended, for benchmarks and reports."""
    if sys.version_info >= (3, 12):
        return "Python's default (pidfd where it works, else a thread per process)"
    if _pidfd_watcher_needed():
        return "PidfdChildWatcher"
    return "ThreadedChildWatcher (pidfd unavailable)"


def _pidfd_watcher_needed() -> bool:
    # The policy attaches watchers to loops of the main thread only; elsewhere keep the default.
    return (
        sys.version_info < (3, 12)
        and threading.current_thread() is threading.main_thread()
        and type(asyncio.get_event_loop_policy()) is asyncio.DefaultEventLoopPolicy
        and _pidfd_works()
    )


def _pidfd_works() -> bool:
    # Present in os since 3.9 on Linux, but the kernel (< 5.3) or a seccomp filter may refuse it.
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True
