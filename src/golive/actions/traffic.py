"""`traffic:` steps: move traffic between two upstream groups at nginx, in the environment's
`nginx:` settings.

    - id: switch
      traffic: {strategy: canary, from: legacy, to: green, steps: [10%, 50%, 100%], pause: 5m,
                analysis: {error_rate_below: 0.5%, p95_latency_below: 800ms}}

Each move and each analysis is an output line for people and a JSON line on the `traffic`
stream (both recorded as `StepOutput` events); all of them are the step's `details`. Before its
first move, the step keeps a copy of the include file as it was (next to it, named after the
run and the step): the undo puts that copy back and reloads nginx.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

from golive.actions.base import Result, StepContext
from golive.plan.models import MaintenanceSpec, NginxSettings, Step, StepKind, TrafficSpec
from golive.plan.template import TemplateError
from golive.traffic.config import render
from golive.traffic.maintenance import PAGE_NAME, page_directory, page_text, render_maintenance
from golive.traffic.nginx import Nginx, TrafficError, write_atomically
from golive.traffic.rollout import Outcome, Rollout, back

STREAM = "traffic"  # the StepOutput stream of the figures, one JSON document a line


class TrafficAction:
    kind: ClassVar[StepKind] = StepKind.traffic

    def supports(self, step: Step) -> str | None:
        if step.on is not None:
            return f"runs on host group '{step.on}': traffic steps drive nginx from this machine"
        return None

    async def run(self, ctx: StepContext) -> Result:
        if isinstance(ctx.step.traffic, MaintenanceSpec):
            return await _maintenance(ctx, ctx.step.traffic)
        started = ctx.monotonic()
        try:
            nginx, spec = self._target(ctx)
        except (TrafficError, TemplateError) as exc:
            return Result.failure(ctx.redact(str(exc)))
        assert spec is not None, "a switch, not a maintenance page"
        rollout = Rollout(
            nginx,
            spec,
            note=f"run {ctx.run_id}, step {ctx.step.id}",
            say=lambda line: ctx.output("stdout", ctx.redact(line)),
            record=lambda figures: ctx.output(STREAM, ctx.redact(json.dumps(figures))),
            render=ctx.render,
        )
        try:
            _keep_before(nginx, ctx)
            async with asyncio.timeout(ctx.timeout):
                outcome = await rollout.carry_out()
        except TimeoutError:
            outcome = await _timed_out(rollout, ctx.timeout or 0.0)
        except OSError as exc:
            outcome = Outcome(False, f"cannot keep a copy of {nginx.include}: {exc.strerror}")
        return Result(
            ok=outcome.ok,
            duration=ctx.monotonic() - started,
            error=ctx.redact(outcome.error) if outcome.error else None,
            details=json.loads(ctx.redact(json.dumps(outcome.details))),
        )

    async def undo(self, ctx: StepContext) -> Result | None:
        started = ctx.monotonic()
        try:
            nginx, spec = self._target(ctx)
        except (TrafficError, TemplateError) as exc:
            return Result.failure(ctx.redact(str(exc)))
        kept = _before_path(nginx, ctx)
        try:
            if kept.exists():
                text = kept.read_text(encoding="utf-8")
                what = f"restored the include file as it was before {ctx.step.id}"
            elif spec is None:
                raise TrafficError(
                    f"no copy of the include file from before {ctx.step.id}: nginx still "
                    "serves the maintenance page; write the routing back by hand"
                )
            else:
                text = render(nginx.settings, back(spec), note=f"undo of step {ctx.step.id}")
                what = f"no copy of the include file from before {ctx.step.id}: wrote one "
                what += f"that sends every request to {spec.from_}"
            seconds = await nginx.apply(text)
            kept.unlink(missing_ok=True)
        except (TrafficError, OSError) as exc:
            error = exc.strerror if isinstance(exc, OSError) else str(exc)
            return Result.failure(ctx.redact(f"undo: {error}"), duration=ctx.monotonic() - started)
        ctx.output("stdout", ctx.redact(f"{what} (nginx reloaded in {seconds * 1000:.0f} ms)"))
        return Result(ok=True, duration=ctx.monotonic() - started)

    def _target(self, ctx: StepContext) -> tuple[Nginx, TrafficSpec | None]:
        """The nginx to drive, and the switch (None: a maintenance page)."""
        spec = ctx.step.traffic
        assert spec is not None, "a traffic step has a spec"
        settings = _settings(ctx)
        if isinstance(spec, MaintenanceSpec):
            return Nginx.from_settings(settings, render=ctx.render, workdir=ctx.workdir), None
        missing = [g for g in (spec.from_, spec.to) if g not in settings.upstreams]
        if missing:
            raise TrafficError(
                f"environments.{ctx.env_name}.nginx.upstreams has no group "
                f"{', '.join(repr(g) for g in missing)} (it has {', '.join(settings.upstreams)}): "
                "add its servers there"
            )
        return Nginx.from_settings(settings, render=ctx.render, workdir=ctx.workdir), spec


def _settings(ctx: StepContext) -> NginxSettings:
    environment = ctx.plan.environments.get(ctx.env_name)
    if environment is None or environment.nginx is None:
        raise TrafficError(
            f"environment '{ctx.env_name}' has no nginx settings: add environments."
            f"{ctx.env_name}.nginx with include and upstreams to the plan (see docs/traffic.md)"
        )
    return environment.nginx


def _before_path(nginx: Nginx, ctx: StepContext) -> Path:
    # not ending in .conf: an `include DIR/*.conf` must not pick the copy up
    name = f"{nginx.include.name}.golive-{ctx.run_id}-{ctx.step.id}.before"
    return nginx.include.with_name(name)


def _keep_before(nginx: Nginx, ctx: StepContext) -> None:
    """A copy of the include file as it was before this step's first move (once per run: a
    retry keeps the first copy, which is what the undo must restore)."""
    kept = _before_path(nginx, ctx)
    if kept.exists() or not nginx.include.exists():
        return
    write_atomically(kept, nginx.include.read_bytes())


async def _timed_out(rollout: Rollout, timeout: float) -> Outcome:
    why = f"timed out after {timeout:g}s"
    try:
        await rollout.move(back(rollout.spec))
    except TrafficError as exc:
        return Outcome(False, f"{why}; moving traffic back to {rollout.spec.from_} failed: {exc}")
    return Outcome(False, f"{why}; traffic moved back to {rollout.spec.from_}")


async def _maintenance(ctx: StepContext, spec: MaintenanceSpec) -> Result:
    """Write the page, then swap in the include file that serves it, as a switch does."""
    started = ctx.monotonic()
    try:
        settings = _settings(ctx)
        nginx = Nginx.from_settings(settings, render=ctx.render, workdir=ctx.workdir)
        source = None
        if spec.page_file is not None:
            source = Path(ctx.render(spec.page_file)).expanduser()
            source = source if source.is_absolute() else ctx.workdir / source
        page = page_text(spec, render_path=source)
        note = f"run {ctx.run_id}, step {ctx.step.id}"
        text = render_maintenance(settings, spec, include=nginx.include, note=note)
        await nginx.check_alone(text)
        _keep_before(nginx, ctx)
        write_atomically(page_directory(nginx.include, settings) / PAGE_NAME, page.encode())
        seconds = await nginx.apply(text)
    except (TrafficError, TemplateError) as exc:
        return Result.failure(ctx.redact(str(exc)), duration=ctx.monotonic() - started)
    except OSError as exc:
        error = f"cannot write next to {exc.filename}: {exc.strerror}"
        return Result.failure(ctx.redact(error), duration=ctx.monotonic() - started)
    retry = int(spec.retry_after.total_seconds())
    figures = {"event": "maintenance", "retry_after": retry, "seconds": round(seconds, 4)}
    ctx.output(STREAM, json.dumps(figures))
    ctx.output(
        "stdout",
        f"traffic: maintenance page (503, Retry-After {retry}s) for every request "
        f"(nginx reloaded in {seconds * 1000:.0f} ms)",
    )
    return Result(ok=True, duration=ctx.monotonic() - started, details={"moves": [figures]})
