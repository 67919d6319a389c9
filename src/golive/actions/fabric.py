"""`fabric:` steps: a task of the project's fabfile on every host of the step's `on:` group.

Each host runs the task in a process of its own (`golive.actions.fabric_host`), so that its
output is recorded live as that host's output, a `timeout` stops it, and the fabfile's code
never runs inside the engine. The step shares with `run: ... on: GROUP` steps the host groups,
`batch:`, `max_failures:`, the undo order (touched hosts only, last batch first) and the SSH
settings (GOLIVE_SSH_CONFIG, GOLIVE_SSH_KNOWN_HOSTS with strict host key checking,
GOLIVE_SSH_CONNECT_TIMEOUT, GOLIVE_SSH_CONCURRENCY). It does not share the connection pool:
Fabric speaks SSH through paramiko, golive through asyncssh, so each host's task opens its own
connection. `undo:` names another task of the same fabfile.

Fabric is an optional dependency: `pip install 'golive[fabric]'`.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

from golive.actions.base import Result, StepContext
from golive.actions.process import run_command
from golive.actions.ssh import Fanout
from golive.actions.ssh_pool import SshSettingError, SshSettings
from golive.plan.models import Step, StepKind
from golive.plan.template import TemplateError

MISSING = "Fabric is not installed: pip install 'golive[fabric]'"


def fabric_installed() -> bool:
    return importlib.util.find_spec("fabric") is not None


class FabricAction:
    """Runs `step.fabric.task` (and the `undo:` task) on the hosts of `step.on`."""

    kind: ClassVar[StepKind] = StepKind.fabric

    def supports(self, step: Step) -> str | None:
        if step.on is None:
            return "a fabric step runs on a host group: add on: GROUP"
        if step.env:
            return "env: is not passed to remote hosts; give the task args: instead"
        if not fabric_installed():
            return MISSING
        return None

    async def run(self, ctx: StepContext) -> Result:
        assert ctx.step.fabric is not None
        return await self._fan_out(ctx, ctx.step.fabric.task, undo=False)

    async def undo(self, ctx: StepContext) -> Result | None:
        if not ctx.step.undo:
            return None
        return await self._fan_out(ctx, ctx.render(ctx.step.undo).strip(), undo=True)

    async def _fan_out(self, ctx: StepContext, task: str, *, undo: bool) -> Result:
        spec = ctx.step.fabric
        assert spec is not None
        try:
            settings = SshSettings.from_environ(ctx.environ)
            args = {name: ctx.render(value) for name, value in spec.args.items()}
            fabfile = (ctx.workdir / ctx.render(spec.fabfile)).resolve()
        except SshSettingError as exc:
            return Result.failure(str(exc))
        except TemplateError as exc:
            return Result.failure(ctx.redact(f"cannot fill in the task's arguments: {exc}"))
        if not fabfile.is_file():
            return Result.failure(f"no fabfile at {fabfile} (fabric.fabfile)")
        # the ssh fan-out's batches, failure bounds and per-host results (its command, `true`,
        # is never run: each host's work is the task's process below)
        fanout = Fanout.of(ctx, "true", undo=undo)

        def on(host: str) -> Awaitable[Result]:
            request = {
                "fabfile": str(fabfile),
                "task": task,
                "host": host,
                "args": args,
                "ssh_config": settings.config[0] if settings.config else None,
                "known_hosts": settings.known_hosts,
                "connect_timeout": settings.connect_timeout,
            }
            return self._on(ctx, fanout, host, request)

        return await _HostFanout.wrap(fanout, on).run()

    async def _on(
        self, ctx: StepContext, fanout: Fanout, host: str, request: Mapping[str, object]
    ) -> Result:
        argv = [sys.executable, "-m", "golive.actions.fabric_host", json.dumps(request)]

        def output(stream: str, line: str) -> None:
            fanout.tail.append(f"[{host}] {line}")
            ctx.output(stream, line, host=host)

        environ = {**ctx.environ, "PYTHONUNBUFFERED": "1"}
        result = await run_command(
            shlex.join(argv),
            cwd=ctx.workdir,
            environ=environ,
            timeout=ctx.timeout,
            output=output,
            redact=ctx.redact,
            monotonic=ctx.monotonic,
            on_start=ctx.process_started,  # this machine's process that drives the host
        )
        if result.ok:
            return result
        # the runner's own last word ("golive: ...") says it best
        said = [line for line in result.output.splitlines() if line.startswith("golive: ")]
        error = said[-1].removeprefix("golive: ") if said else result.error
        code = None if result.exit_code == 255 else result.exit_code  # 255: never reached it
        return Result(False, result.duration, code, result.output, error)


class _HostFanout(Fanout):
    """The ssh fan-out's batches and failure bounds, with each host's work done by `per_host`."""

    per_host: Callable[[str], Awaitable[Result]]

    @classmethod
    def wrap(cls, fanout: Fanout, per_host: Callable[[str], Awaitable[Result]]) -> _HostFanout:
        wrapped = cls(
            fanout.ctx,
            fanout.command,
            fanout.batches,
            fanout.allowed,
            fanout.stop_after,
            fanout.settings,
            fanout.pool,
            tail=fanout.tail,
        )
        wrapped.per_host = per_host
        return wrapped

    async def _on(self, host: str) -> Result:
        return await self.per_host(host)
