"""Helpers for testing go-live plans and golive itself: real plans, real stores, no mocks.

from golive.testing import PlanRunner
runner = PlanRunner.from_yaml(tmp_path, PLAN_TEXT)
state = runner.run(env="staging")
assert state.outcome == "completed"
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from golive.engine.commands import attach_engine, start_run
from golive.engine.runner import Engine
from golive.engine.state import RunState
from golive.plan import PlanFile, load_plan
from golive.store import EventStore, default_state_url, open_store

Operator = Callable[[EventStore, str], Awaitable[None]]


@dataclass
class PlanRunner:
    """Runs a plan file in this process against a real store, optionally with an operator
    coroutine acting from the side (deciding, confirming) while the engine drives."""

    plan_path: Path
    store_url: str
    poll_interval: float = 0.02
    engines: list[Engine] = field(default_factory=list)

    @classmethod
    def from_yaml(
        cls,
        directory: Path,
        text: str,
        *,
        name: str = "test.golive.yaml",
        store_url: str | None = None,
    ) -> PlanRunner:
        path = directory / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return cls(path, store_url or default_state_url(path))

    def plan_file(self, env: str | None = None) -> PlanFile:
        return load_plan(self.plan_path, env=env)

    def run(
        self,
        *,
        env: str,
        release: str | None = None,
        by: str | None = None,
        max_parallel: int = 10,
        operator: Operator | None = None,
    ) -> RunState:
        with open_store(self.store_url) as store:
            started = start_run(
                self.plan_file(env),
                store=store,
                env=env,
                release=release,
                by=by,
                max_parallel=max_parallel,
            )
            return self._drive(store, started.engine, operator)

    def resume(
        self, run_id: str, *, by: str | None = None, operator: Operator | None = None
    ) -> RunState:
        with open_store(self.store_url) as store:
            engine = attach_engine(store=store, run=store.get_run(run_id), by=by)
            return self._drive(store, engine, operator)

    def _drive(self, store: EventStore, engine: Engine, operator: Operator | None) -> RunState:
        engine.poll_interval = self.poll_interval
        self.engines.append(engine)

        async def main() -> RunState:
            drive = asyncio.ensure_future(engine.drive())
            if operator is None:
                return await drive
            side = asyncio.ensure_future(operator(store, engine.run_id))
            await asyncio.wait({drive, side}, return_when=asyncio.FIRST_COMPLETED)
            if side.done() and side.exception() is not None:
                drive.cancel()  # the operator failed: its exception is the test's answer
                await asyncio.gather(drive, return_exceptions=True)
                raise side.exception()  # type: ignore[misc]
            state = await drive
            side.cancel()
            await asyncio.gather(side, return_exceptions=True)
            return state

        return asyncio.run(main())


async def until(
    condition: Callable[[], bool], *, timeout: float = 10.0, every: float = 0.01
) -> None:
    """Wait (without blocking the loop) until `condition()` holds; TimeoutError after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(every)
