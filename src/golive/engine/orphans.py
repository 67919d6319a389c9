"""Step commands a dead engine left running: found from the log, checked, waited for or stopped.

An engine killed while a step ran leaves the step's command running: it was started in a
process group of its own, which the engine's death does not end. The log holds each command's
process (`StepProcessStarted`: pid, start time, host) until the engine records how it ended, so
the next engine can tell whether it still runs, say so, and wait for it or stop it before
anyone is asked whether the step completed: deciding while it still runs would be a guess, and
a retry would run it twice at once.

A process is the same one only if its start time (field 22 of /proc/PID/stat, in clock ticks
after boot) is the recorded one: a pid reused by another process is not taken for it. Remote
processes (steps with `on:`) are checked and stopped over SSH, with the run's SSH settings.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from golive.engine.lease import host_name
from golive.engine.state import RunState, StepProcess

if TYPE_CHECKING:  # asyncssh costs a fifth of a second to import: only for remote processes
    from golive.actions.ssh_pool import SshPool

STOP_GRACE = 5.0  # seconds between TERM and KILL
POLL = 0.2


@dataclass(frozen=True)
class Orphan:
    """A step's process found still running after its engine died."""

    step: str
    process: StepProcess

    def describe(self) -> str:
        what = "undo" if self.process.undo else "command"
        since = self.process.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"step {self.step}'s {what} (pid {self.process.pid} on host {self.process.host}, "
            f"started {since}) is still running"
        )


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot; None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None


def local_alive(process: StepProcess) -> bool:
    started = start_time(process.pid)
    if started is None:
        return False
    if _zombie(process.pid):
        return False
    return process.started is None or started == process.started


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].startswith("Z")
    return False


def remote_check(process: StepProcess) -> str:
    """A shell command printing the start time of the process if it still runs, else nothing."""
    pid = process.pid
    return f"kill -0 {pid} 2>/dev/null && cut -d' ' -f22 /proc/{pid}/stat 2>/dev/null || true"


def remote_stop(process: StepProcess, signal_name: str) -> str:
    # the remote shell was the session leader: its pid is the process group to signal
    return f"kill -{signal_name} -- -{process.pid} 2>/dev/null || kill -{signal_name} {process.pid}"


class Orphans:
    """The live processes of a run's steps whose end no engine recorded."""

    def __init__(self, state: RunState, environ: Mapping[str, str]) -> None:
        self.candidates = [
            Orphan(step.id, process) for step in state.steps.values() for process in step.processes
        ]
        self.environ = environ
        self.unchecked: dict[str, str] = {}  # host -> why it could not be reached
        self._pool: SshPool | None = None

    async def alive(self) -> list[Orphan]:
        found = []
        for orphan in self.candidates:
            if await self._alive(orphan.process):
                found.append(orphan)
        return found

    async def wait(self, orphans: list[Orphan]) -> None:
        """Until every one of `orphans` has ended."""
        import asyncio  # loaded by the loop that awaits this; `golive decide` needs no loop

        pending = list(orphans)
        while pending:
            await asyncio.sleep(POLL)
            pending = [o for o in pending if await self._alive(o.process)]

    async def stop(self, orphans: list[Orphan]) -> None:
        """TERM each orphan's process group, then KILL what is left after STOP_GRACE."""
        import asyncio

        for orphan in orphans:
            await self._signal(orphan.process, "TERM")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE
        pending = list(orphans)
        while pending and loop.time() < deadline:
            await asyncio.sleep(POLL)
            pending = [o for o in pending if await self._alive(o.process)]
        for orphan in pending:
            await self._signal(orphan.process, "KILL")
        await self.wait(pending)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    def _unknown_host(self, process: StepProcess) -> bool:
        return not process.remote and process.host != host_name()

    async def _alive(self, process: StepProcess) -> bool:
        if self._unknown_host(process):
            self.unchecked[process.host] = "not this machine"
            return False
        if not process.remote:
            return local_alive(process)
        result = await self._ssh(process.host, remote_check(process))
        text = (result or "").strip()
        if not text.isdigit():
            return False
        return process.started is None or int(text) == process.started

    async def _signal(self, process: StepProcess, name: str) -> None:
        if self._unknown_host(process):
            return
        if process.remote:
            await self._ssh(process.host, remote_stop(process, name))
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if local_alive(process):
                os.killpg(process.pid, getattr(signal, f"SIG{name}"))

    async def _ssh(self, host: str, command: str) -> str | None:
        """The command's stdout on `host`; None (noted in `unchecked`) if it cannot run there."""
        import asyncssh

        from golive.actions.ssh_pool import SshConnectError, SshPool, SshSettingError, SshSettings

        try:
            if self._pool is None:
                self._pool = SshPool(SshSettings.from_environ(self.environ))
            async with self._pool.lease(host) as connection:
                done = await connection.run(command, check=False)
        except (SshConnectError, SshSettingError, asyncssh.Error, OSError) as exc:
            self.unchecked[host] = str(getattr(exc, "reason", None) or exc)
            return None
        out = done.stdout
        return out if isinstance(out, str) else None


async def settle(
    state: RunState,
    environ: Mapping[str, str],
    *,
    stop: bool,
    say: Callable[[str], None],
) -> list[Orphan]:
    """Before an engine takes over: say which step commands still run, and wait for them to
    end (or stop them, with `stop`). Returns those found running."""
    orphans = Orphans(state, environ)
    try:
        found = await orphans.alive() if orphans.candidates else []
        for orphan in found:
            say(orphan.describe())
        for host, why in orphans.unchecked.items():
            say(
                f"cannot check whether the step commands started on host {host} still run "
                f"({why}): check there before you answer"
            )
        if found and stop:
            say(f"stopping: TERM to each process group, KILL after {STOP_GRACE:g}s")
            await orphans.stop(found)
            say("stopped; now check what each step did before you answer")
        elif found:
            say(
                "waiting for it to end before the run goes on (or Ctrl-C, then "
                "`golive resume --stop-orphans` to stop it)"
            )
            await orphans.wait(found)
            say("ended; now check what each step did before you answer")
        return found
    finally:
        await orphans.aclose()


async def still_running(state: RunState, environ: Mapping[str, str]) -> list[Orphan]:
    """The run's step processes that a dead engine left running (for `status`)."""
    orphans = Orphans(state, environ)
    try:
        return await orphans.alive() if orphans.candidates else []
    finally:
        await orphans.aclose()
