"""Changing what nginx does, safely: a candidate include file is checked with `nginx -t` twice
(alone, then in nginx's whole config) before nginx reads it, swapped in atomically, applied
with a graceful reload, and confirmed by the new worker processes; any refusal puts the
previous file back, so nginx keeps serving with the config it had.

A graceful reload (`nginx -s reload`, SIGHUP) starts workers with the new config; the old ones
stop accepting, finish the requests they are serving, and close their idle keep-alive
connections. No request in flight is lost; see docs/traffic.md for the one race a client sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from golive.errors import GoliveError
from golive.plan.models import NginxSettings
from golive.plan.shell import shell_command

COMMAND_TIMEOUT = 30.0
CONFIRM_TIMEOUT = 10.0
CONFIRM_POLL = 0.005


class TrafficError(GoliveError):
    """nginx refused a change, or golive could not make it; nginx serves as it did before."""


@dataclass(frozen=True)
class Nginx:
    """One nginx as an environment's `nginx:` settings describe it (templates rendered)."""

    settings: NginxSettings
    binary: tuple[str, ...]
    include: Path
    config: str | None = None
    prefix: str | None = None
    reload_command: str | None = None
    pid_file: Path | None = None
    access_log: Path | None = None

    @classmethod
    def from_settings(
        cls, settings: NginxSettings, *, render: Callable[[str], str], workdir: Path
    ) -> Nginx:
        def path(text: str) -> Path:
            found = Path(render(text)).expanduser()
            return found if found.is_absolute() else workdir / found

        return cls(
            settings=settings,
            binary=tuple(shlex.split(render(settings.binary))),
            include=path(settings.include),
            config=str(path(settings.config)) if settings.config else None,
            prefix=str(path(settings.prefix)) if settings.prefix else None,
            reload_command=(
                shell_command(settings.reload, render).script() if settings.reload else None
            ),
            pid_file=path(settings.pid),
            access_log=path(settings.access_log) if settings.access_log else None,
        )

    def command(self, *args: str) -> list[str]:
        """`nginx [-p PREFIX] [-c CONFIG] ARGS...`"""
        found = list(self.binary)
        if self.prefix:
            found += ["-p", self.prefix.rstrip("/") + "/"]
        if self.config:
            found += ["-c", self.config]
        return [*found, *args]

    # --- the moves ------------------------------------------------------------------------------

    async def apply(self, text: str) -> float:
        """Make `text` the include file nginx serves with; the seconds it took until nginx's new
        workers were running. Raises TrafficError, with the previous file back, on a refusal."""
        started = time.monotonic()
        await self.check_alone(text)
        previous = self.include.read_bytes() if self.include.exists() else None
        write_atomically(self.include, text.encode())
        try:
            await self._run(self.command("-t", "-q"), what="nginx -t")
            workers = self.workers()
            await self._reload()
            await self._confirm(workers)
        except TrafficError as exc:
            self._put_back(previous)
            raise TrafficError(f"{exc}; the previous include file is back in place") from None
        return time.monotonic() - started

    async def check_alone(self, text: str) -> None:
        """`nginx -t` on the candidate in a scratch config: no nginx reads it if this fails."""
        with tempfile.TemporaryDirectory(prefix="golive-nginx-") as scratch:
            root = Path(scratch)
            (root / "logs").mkdir()
            (root / "candidate.conf").write_text(text, encoding="utf-8")
            (root / "nginx.conf").write_text(
                f"pid {root / 'nginx.pid'};\nerror_log {root / 'error.log'};\n"
                "events {}\nhttp {\n    include candidate.conf;\n}\n",
                encoding="utf-8",
            )
            args = [*self.binary, "-t", "-q", "-p", f"{root}/", "-c", str(root / "nginx.conf")]
            try:
                await self._run(args, what="nginx -t on the new include file")
            except TrafficError as exc:
                raise TrafficError(str(exc).replace(str(root / "candidate.conf"), "it")) from None

    def _put_back(self, previous: bytes | None) -> None:
        if previous is None:
            self.include.unlink(missing_ok=True)
        else:
            write_atomically(self.include, previous)

    async def _reload(self) -> None:
        if self.reload_command:
            await self._run(["/bin/sh", "-c", self.reload_command], what="the reload command")
        else:
            await self._run(self.command("-s", "reload"), what="nginx -s reload")

    async def _confirm(self, before: set[int] | None) -> None:
        """Wait until workers started after the reload run and the old ones are shutting down
        (they stop accepting then): from then on, new connections get the new config."""
        if before is None:
            return  # no readable pid file: the reload command's success is all we know
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while time.monotonic() < deadline:
            now = self.workers()
            if now and now - before and not now & before:
                return
            await asyncio.sleep(CONFIRM_POLL)
        raise TrafficError(
            f"nginx started no new worker within {CONFIRM_TIMEOUT:g}s of the reload: it may have "
            "refused the config (see its error log)"
        )

    def workers(self) -> set[int] | None:
        """The pids of the master's live workers (not those shutting down); None if unknown."""
        master = self.master_pid()
        if master is None:
            return None
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) != master:
                    continue
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if "worker process" in title and "shutting down" not in title:
                    found.add(int(entry.name))
        return found

    def master_pid(self) -> int | None:
        if self.pid_file is None:
            return None
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    async def _run(self, args: list[str], *, what: str) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as exc:
            raise TrafficError(f"{what}: cannot run {args[0]}: {exc.strerror}") from None
        try:
            out, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise TrafficError(f"{what} did not finish within {COMMAND_TIMEOUT:g}s") from None
        if process.returncode != 0:
            raise TrafficError(f"{what} failed: {_last_error(out.decode(errors='replace'))}")


LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: ")


def _last_error(output: str) -> str:
    """nginx's first error line, in its stderr form (`nginx: [emerg] ...`) even when it came
    through the error log's (`2026/12/06 20:15:02 [emerg] 2651#2651: ...`)."""
    lines = [LOG_PREFIX.sub(r"nginx: \1 ", line.strip()) for line in output.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if "[emerg]" in line or "[error]" in line]
    return (errors or lines or ["no output"])[0]


def write_atomically(path: Path, data: bytes) -> None:
    """Write a sibling temporary file, flush it to disk, rename it over `path`: a reader sees
    the old file or the new one, never half of one. The temporary name does not end in .conf,
    so an `include DIR/*.conf` never picks it up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
