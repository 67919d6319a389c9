"""Finding a dead engine's step processes: by pid and start time, never by pid alone."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
from pathlib import Path

from golive.engine.orphans import settle, start_time
from golive.engine.state import RunState, StepProcess

NOW = dt.datetime(2026, 12, 6, 20, 14, 3, tzinfo=dt.UTC)


def state_with(*processes: StepProcess) -> RunState:
    state = RunState("r-test")
    state.step("deploy").processes.extend(processes)
    return state


def settled(state: RunState, *, stop: bool = False) -> list[str]:
    said: list[str] = []
    asyncio.run(settle(state, os.environ, stop=stop, say=said.append))
    return said


def test_a_live_process_with_another_start_time_is_a_reused_pid_not_the_step_command() -> None:
    started = start_time(os.getpid())
    assert started is not None
    reused = StepProcess(os.getpid(), os.uname().nodename, started + 1, False, False, NOW)
    assert settled(state_with(reused)) == []


def test_a_command_started_on_another_machine_is_named_as_not_checked() -> None:
    elsewhere = StepProcess(4242, "other-machine", 1, False, False, NOW)
    assert settled(state_with(elsewhere)) == [
        "cannot check whether the step commands started on host other-machine still run "
        "(not this machine): check there before you answer"
    ]


def test_stop_ends_the_whole_process_group_of_a_command_still_running() -> None:
    command = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60; wait"], start_new_session=True)
    try:
        process = StepProcess(
            command.pid, os.uname().nodename, start_time(command.pid), False, False, NOW
        )
        said = settled(state_with(process), stop=True)
        assert said[0].startswith(f"step deploy's command (pid {command.pid} on host ")
        assert said[0].endswith("is still running")
        assert command.wait(timeout=10) != 0
        group = [
            p
            for p in os.listdir("/proc")
            if p.isdigit() and _group_of(int(p)) == command.pid and not _zombie(int(p))
        ]
        assert group == []  # the background sleep went too
    finally:
        command.kill()


def _group_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[2])


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith("Z")
