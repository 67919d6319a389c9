"""`run:` steps with `on: GROUP`: the command runs on every host of the group over SSH.

Hosts are ssh aliases or addresses, resolved through the user's ssh client config
(`~/.ssh/config`, or the file in GOLIVE_SSH_CONFIG): HostName, Port, User, IdentityFile,
ProxyJump apply. Authentication is by key (files or the ssh agent); host keys are checked
against `~/.ssh/known_hosts` (or GOLIVE_SSH_KNOWN_HOSTS), strictly: an unknown key fails that
host with the `ssh-keyscan` line that adds it.

Hosts run in parallel, at most GOLIVE_SSH_CONCURRENCY at once (default 50), in rolling batches
(`batch: 2` or `batch: 25%`): a batch starts when the previous one has finished and no more
than `max_failures` hosts (default 0) have failed. Past that bound the step fails and the hosts
not started yet are left untouched. `timeout` applies to each host's command, which is then
stopped (TERM, then KILL to its process group, and the channel closed). `undo` runs on the
hosts the step touched only, batch by batch in reverse order.

Connections are opened once per run and host (`golive.actions.ssh_pool`): a later step on the
same host reuses it, so a command costs a round trip, not a handshake.

Shell start-up files: sshd runs each command as `$SHELL -c COMMAND` for the login user, and
bash reads `~/.bashrc` (and `/etc/bash.bashrc`) even for that non-interactive shell when sshd
started it. A `~/.bashrc` that does real work (pyenv, nvm, conda, completions) adds 100 ms or
more to every command: keep its early return for non-interactive shells at the top
(`case $- in *i*) ;; *) return;; esac`), or give the deploy account a plain shell (`/bin/sh`),
and do not wrap it in a `ForceCommand`. golive asks for no terminal and no login shell, so
`~/.profile` and `~/.bash_profile` are not read. See docs/ssh.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import asyncssh

from golive.actions.base import Result, StepContext
from golive.actions.ssh_pool import SshConnectError, SshPool, SshSettingError, SshSettings
from golive.plan.models import Step, StepKind
from golive.plan.shell import shell_command
from golive.plan.template import TemplateError

TAIL = 20
MAX_LINE = 8192
STOP_GRACE = 2.0  # seconds between TERM and KILL for a command that outlived its timeout
SUDO_PASSWORD = ("sudo: a terminal is required", "sudo: a password is required")
# Stops the commands of the session's connection but itself: sshd runs each command as the
# leader of its own process group, a child of the connection's sshd process (our $PPID here).
# sshd's own `signal` request would be simpler, but sshd refuses it for root sessions.
STOP = 'for p in $(pgrep -P $PPID); do [ "$p" = $$ ] || kill -{signal} -$p 2>/dev/null; done'
# Before the command, the remote shell says who it is: its pid (the leader of the command's
# process group) and its /proc stat line (field 22: its start time), read without a fork. The
# engine records them, so that a later engine can find the command still running if this one
# dies. The line goes to stdout first, and is not the step's output.
PID_MARK = "\x1egolive-pid "
ANNOUNCE = (
    "read -r _golive_stat 2>/dev/null < /proc/$$/stat; "
    "printf '\\036golive-pid %s %s\\n' $$ \"$_golive_stat\"; "
)


class SshAction:
    """Runs `step.run` (and `step.undo`) on the hosts of `step.on`."""

    kind: ClassVar[StepKind] = StepKind.run

    def supports(self, step: Step) -> str | None:
        if step.on is None:
            return "runs on this machine (no `on:` host group)"
        if step.env:
            return (
                f"runs on host group '{step.on}': env: is not passed to remote hosts; "
                "set the variables in the command instead"
            )
        return None

    async def run(self, ctx: StepContext) -> Result:
        return await self._fan_out(ctx, ctx.step.run or "", undo=False)

    async def undo(self, ctx: StepContext) -> Result | None:
        if not ctx.step.undo:
            return None
        return await self._fan_out(ctx, ctx.step.undo, undo=True)

    async def _fan_out(self, ctx: StepContext, command: str, *, undo: bool) -> Result:
        try:
            fanout = Fanout.of(ctx, command, undo=undo)
        except SshSettingError as exc:
            return Result.failure(str(exc))
        except TemplateError as exc:
            return Result.failure(ctx.redact(f"cannot fill in the command: {exc}"))
        return await fanout.run()


def batches_of(hosts: Sequence[str], step: Step) -> list[list[str]]:
    """The step's hosts in rolling batches (one batch of all hosts without `batch:`)."""
    size = step.batch.of(len(hosts), at_least=1) if step.batch else len(hosts)
    size = max(size, 1)
    return [list(hosts[i : i + size]) for i in range(0, len(hosts), size)]


@dataclass
class Fanout:
    """One command over one step's hosts: batches, the failure bound, per-host results."""

    ctx: StepContext
    command: str  # rendered
    batches: list[list[str]]
    allowed: int  # host failures the step may have and still succeed
    stop_after: int  # host failures past which no other host is started
    settings: SshSettings
    pool: SshPool
    results: dict[str, Result] = field(default_factory=dict)
    failed: int = 0
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL))

    @classmethod
    def of(cls, ctx: StepContext, command: str, *, undo: bool) -> Fanout:
        step = ctx.step
        settings = SshSettings.from_environ(ctx.environ)
        pool = ctx.resources.get(settings.key, lambda: SshPool(settings))
        shell = shell_command(command, ctx.render)
        cd = f"cd {shlex.quote(ctx.render(step.cwd))} && " if step.cwd else ""
        text = ANNOUNCE + shell.script(before=cd)
        batches = batches_of(ctx.hosts, step)
        if undo:
            # the hosts the step touched (all of them when that is unknown, after a crash),
            # last batch first; every one is tried, and any failure fails the undo
            touched = set(ctx.hosts if ctx.changed_hosts is None else ctx.changed_hosts)
            batches = [b for b in ([h for h in b if h in touched] for b in batches) if b]
            batches.reverse()
            allowed, stop_after = 0, len(ctx.hosts)
        else:
            allowed = step.max_failures.of(len(ctx.hosts)) if step.max_failures else 0
            stop_after = allowed
        return cls(ctx, text, batches, allowed, stop_after, settings, pool)

    async def run(self) -> Result:
        ctx = self.ctx
        started = ctx.monotonic()
        if not ctx.hosts:
            return Result.failure(
                f"no hosts in group '{ctx.step.on}' of environment '{ctx.env_name}'"
            )
        limit = asyncio.Semaphore(self.settings.concurrency)
        for batch in self.batches:
            if self.failed > self.stop_after:
                break
            await asyncio.gather(*(self._host(host, limit) for host in batch))
        return self._result(ctx.monotonic() - started)

    async def _host(self, host: str, limit: asyncio.Semaphore) -> None:
        async with limit:
            if self.failed > self.stop_after:
                return  # the step has already failed: leave this host untouched
            result = await self._on(host)
        self.results[host] = result
        if not result.ok:
            self.failed += 1
            self.ctx.output("stderr", f"golive: {result.error}", host=host)

    async def _on(self, host: str) -> Result:
        ctx = self.ctx
        started = ctx.monotonic()
        for last_try in (False, True):
            try:
                async with self.pool.lease(host) as connection:
                    try:
                        process = await connection.create_process(
                            self.command, encoding="utf-8", errors="replace"
                        )
                    except (asyncssh.ChannelOpenError, asyncssh.DisconnectError, OSError) as exc:
                        # a connection that died since it was opened: open a new one, once
                        self.pool.discard(connection)
                        if not last_try:
                            continue
                        reason = getattr(exc, "reason", None) or str(exc)
                        return Result.failure(
                            ctx.redact(f"cannot start the command: {reason}"),
                            duration=ctx.monotonic() - started,
                        )
                    remote = Remote(connection, process, host, ctx, self.tail)
                    return await remote.finish(started)
            except SshConnectError as exc:
                return Result.failure(ctx.redact(str(exc)), duration=ctx.monotonic() - started)
        raise AssertionError("unreachable")  # pragma: no cover

    def _result(self, duration: float) -> Result:
        hosts = self.ctx.hosts
        ordered = {h: self.results[h] for h in hosts if h in self.results}
        ok = self.failed <= self.allowed
        failures = [(h, r) for h, r in ordered.items() if not r.ok]
        exit_code = 0 if ok else next((r.exit_code for _, r in failures), None)
        error = None if ok else self._error(ordered, failures)
        output = "\n".join(self.tail)
        return Result(ok, duration, exit_code, output, error, ordered)

    def _error(self, ordered: dict[str, Result], failures: list[tuple[str, Result]]) -> str:
        total = sum(len(b) for b in self.batches)
        bound = "" if self.stop_after >= total else f" (max_failures: {self.allowed})"
        text = f"{len(failures)} of {total} hosts failed{bound}"
        untouched = [h for b in self.batches for h in b if h not in ordered]
        if untouched:
            text += f", {len(untouched)} not touched ({_names(untouched)})"
        first, result = failures[0]
        return f"{text}; {first}: {result.error}"


def _names(hosts: list[str], shown: int = 5) -> str:
    more = f" and {len(hosts) - shown} more" if len(hosts) > shown else ""
    return ", ".join(hosts[:shown]) + more


@dataclass
class Remote:
    """One command running on one host: its output, its end, its timeout."""

    connection: asyncssh.SSHClientConnection
    process: asyncssh.SSHClientProcess[str]
    host: str
    ctx: StepContext
    step_tail: deque[str]
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL))

    async def finish(self, started: float) -> Result:
        ctx, process = self.ctx, self.process
        try:
            async with asyncio.timeout(ctx.timeout):
                process.stdin.write_eof()  # nothing to read: a command waiting for input ends
                await asyncio.gather(
                    self._pump(process.stdout, "stdout"), self._pump(process.stderr, "stderr")
                )
                await process.wait_closed()
        except TimeoutError:
            await self._stop()
            return Result(
                ok=False,
                duration=ctx.monotonic() - started,
                output="\n".join(self.tail),
                error=f"timed out after {ctx.timeout:g}s; the remote command was stopped",
            )
        except asyncio.CancelledError:
            await self._stop()
            raise
        except (asyncssh.Error, OSError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            return Result.failure(
                ctx.redact(f"connection lost while the command ran: {reason}"),
                duration=ctx.monotonic() - started,
            )
        return self._result(ctx.monotonic() - started)

    def _result(self, duration: float) -> Result:
        process = self.process
        output = "\n".join(self.tail)
        status = process.exit_status
        if status == 0:
            return Result(ok=True, duration=duration, exit_code=0, output=output)
        if status is None or status < 0:
            signal = process.exit_signal[0] if process.exit_signal else "?"
            reason, code = f"killed by signal {signal}", -1
        else:
            reason, code = f"exit code {status}", status
        last = next((line for line in reversed(self.tail) if line.strip()), "")
        error = f"{reason}: {last}" if last else reason
        if any(line.startswith(SUDO_PASSWORD) for line in self.tail):
            error += " (sudo wants a password: allow the command with NOPASSWD in sudoers)"
        return Result(ok=False, duration=duration, exit_code=code, output=output, error=error)

    async def _pump(self, stream: asyncssh.SSHReader[str], name: str) -> None:
        emit = self._emitter(name)
        first = name == "stdout"
        async for line in stream:
            if not line:  # the end of the stream (an empty line is '\n')
                break
            if first and line.startswith(PID_MARK):
                self._announced(line[len(PID_MARK) :])
                first = False
                continue
            first = False
            emit(line.rstrip("\r\n"))

    def _announced(self, text: str) -> None:
        """The remote shell's pid and stat line: recorded as the command's process."""
        pid, _, stat = text.strip().partition(" ")
        if not pid.isdigit():
            return
        fields = stat[stat.rfind(")") + 2 :].split() if ")" in stat else []
        started = int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None
        self.ctx.process_started(int(pid), host=self.host, started=started)

    def _emitter(self, name: str) -> Callable[[str], None]:
        ctx, host = self.ctx, self.host

        def emit(line: str) -> None:
            text = ctx.redact(line)[:MAX_LINE]  # masked first: a cut leaves no part of a secret
            self.tail.append(text)
            self.step_tail.append(f"[{host}] {text}")
            ctx.output(name, text, host=host)

        return emit

    async def _stop(self) -> None:
        """TERM the remote command's process group, KILL it if it stays, close the channel."""
        process = self.process
        with contextlib.suppress(Exception):
            await self._signal("TERM")
            try:
                await asyncio.wait_for(process.wait_closed(), STOP_GRACE)
            except TimeoutError:
                await self._signal("KILL")
        process.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait_closed(), STOP_GRACE)

    async def _signal(self, name: str) -> None:
        """Signal the command's process group, from a second session on its connection (which
        runs nothing else: a lease is for one command at a time)."""
        stop = f"exec /bin/sh -c {shlex.quote(STOP.format(signal=name))}"
        await asyncio.wait_for(self.connection.run(stop), STOP_GRACE)
