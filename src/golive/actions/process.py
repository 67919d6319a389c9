"""Running a local command: exec directly when no shell is needed, stream output, time out."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from golive.actions.base import Result

SHELL_SYNTAX = set("|&;<>()$`\\\"'*?[]#~=%{}!\n")
MAX_LINE = 8192  # characters of one output line that are recorded
RAW_LINE = 4 * MAX_LINE  # bytes of one line read before masking: a secret cut at MAX_LINE is whole
KILL_GRACE = 5.0


# Words sh treats itself: exec'ing them directly would not do what sh does.
SHELL_WORDS = frozenset(
    (
        "! . : [ [[ alias bg break builtin case cd command continue declare do done elif else "
        "esac eval exec exit export fc fg fi for function getopts hash if in jobs kill let local "
        "read readonly return select set shift source test then time times trap type typeset "
        "ulimit umask unalias unset until wait while"
    ).split()
)


def argv_for(command: str) -> list[str]:
    """Plain commands are exec'd directly (one process less); anything shell-like goes to sh."""
    if SHELL_SYNTAX.isdisjoint(command):
        words = command.split()
        if words and words[0] not in SHELL_WORDS and _on_path(words[0]):
            return words
    return ["/bin/sh", "-c", command]


@functools.cache
def _on_path(program: str) -> bool:
    return shutil.which(program) is not None


async def run_command(
    command: str,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    timeout: float | None,
    output: Callable[[str, str], None],
    redact: Callable[[str], str],
    monotonic: Callable[[], float],
    on_start: Callable[[int], None] | None = None,
) -> Result:
    """Run `command` to its end; every output line goes through `redact` before `output`.
    The command leads a session (and process group) of its own; `on_start` is told its pid."""
    started = monotonic()
    tail: deque[str] = deque(maxlen=20)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv_for(command),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=dict(environ),
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        if not cwd.is_dir():
            where = redact(str(cwd))
            return Result.failure(f"the directory {where} does not exist (cwd)", exit_code=127)
        missing = exc.filename or command.split()[0]
        return Result.failure(f"command not found: {redact(str(missing))}", exit_code=127)
    except PermissionError:
        return Result.failure(f"permission denied running: {redact(command)}", exit_code=126)
    except OSError as exc:
        return Result.failure(f"cannot start the command: {exc.strerror}", exit_code=126)

    if on_start is not None:
        on_start(proc.pid)

    def emit(stream: str, line: str) -> None:
        text = redact(line)[:MAX_LINE]  # masked first: a cut never leaves part of a secret
        tail.append(text)
        output(stream, text)

    assert proc.stdout is not None
    assert proc.stderr is not None
    pumps = asyncio.gather(_pump(proc.stdout, "stdout", emit), _pump(proc.stderr, "stderr", emit))
    try:
        await asyncio.wait_for(_finish(proc, pumps), timeout)
    except TimeoutError:
        await _kill(proc)
        pumps.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumps
        return Result(
            ok=False,
            duration=monotonic() - started,
            exit_code=proc.returncode,
            output="\n".join(tail),
            error=f"timed out after {timeout:g}s",
        )
    except asyncio.CancelledError:
        await _kill(proc)
        raise
    code = proc.returncode if proc.returncode is not None else -1
    duration = monotonic() - started
    if code == 0:
        return Result(ok=True, duration=duration, exit_code=0, output="\n".join(tail))
    reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    last = next((line for line in reversed(tail) if line.strip()), "")
    error = f"{reason}: {last}" if last else reason
    return Result(ok=False, duration=duration, exit_code=code, output="\n".join(tail), error=error)


async def _finish(proc: asyncio.subprocess.Process, pumps: asyncio.Future[Any]) -> None:
    await pumps
    await proc.wait()


async def _pump(stream: asyncio.StreamReader, name: str, emit: Callable[[str, str], None]) -> None:
    """Emit each line; a line longer than RAW_LINE is emitted once, its rest is dropped."""
    pending, skipping = b"", False
    while chunk := await stream.read(65536):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if not skipping:
                emit(name, line[:RAW_LINE].decode("utf-8", "replace"))
            skipping = False
        if len(pending) > RAW_LINE:
            if not skipping:
                emit(name, pending[:RAW_LINE].decode("utf-8", "replace"))
            pending, skipping = b"", True
    if pending and not skipping:
        emit(name, pending[:RAW_LINE].decode("utf-8", "replace"))


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Terminate the whole process group, then kill it if it does not go."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
