"""The crash point the durability tests use: with GOLIVE_TEST_CRASH_AFTER_EVENT=N set, the engine
process ends at once, as kill -9 would end it (no cleanup, its step processes left running), right
after event N of its run is committed. `golive run` and `golive resume` install it; unset (always,
outside golive's own tests) it adds nothing to the engine.
"""

from __future__ import annotations

import os

from golive.engine.events import Recorded
from golive.engine.runner import Observer
from golive.engine.state import RunState

CRASH_AFTER_EVENT = "GOLIVE_TEST_CRASH_AFTER_EVENT"
CRASH_EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL


def crash_observers() -> list[Observer]:
    """The engine's observers for the crash point: none unless CRASH_AFTER_EVENT holds a seq."""
    wanted = os.environ.get(CRASH_AFTER_EVENT, "")
    if not wanted.isdigit():
        return []
    seq = int(wanted)

    def crash(recorded: Recorded, state: RunState) -> None:
        if recorded.seq == seq:
            os._exit(CRASH_EXIT_CODE)

    return [crash]
