"""Start a run, or attach an engine to one (resume, a rollback of a finished run).

What people do to a run while it goes (decide, mark done, vote) is in engine/operator.py, which
the commands that only append an event load without the runner and the actions.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from golive.actions.registry import unsupported
from golive.engine.clock import clock_from_environment
from golive.engine.context import RunContext, check_release
from golive.engine.events import RunStarted
from golive.engine.lease import EngineLease, claim, host_name, lease_ttl
from golive.engine.operator import check_person, read_state, run_plan
from golive.engine.runner import Engine, Observer
from golive.errors import UsageError
from golive.plan import PlanFile
from golive.plan.digest import step_digests
from golive.store import EventStore, RunRecord

DEFAULT_PARALLEL = 10


def who_am_i() -> str:
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return "unknown"


@dataclass(frozen=True)
class Started:
    run: RunRecord
    engine: Engine


def start_run(
    plan_file: PlanFile,
    *,
    store: EventStore,
    env: str,
    release: str | None,
    by: str | None,
    max_parallel: int = DEFAULT_PARALLEL,
    observers: list[Observer] | None = None,
    hypercare: bool = False,
) -> Started:
    """Record a new run of the plan and return the engine ready to drive it."""
    plan = plan_file.plan
    problems = unsupported(plan)
    if problems:
        raise UsageError(
            f"this golive cannot run every step of {plan_file.path}: " + "; ".join(problems)
        )
    check_release(release)
    starter = check_person(plan, by) if by else who_am_i()
    # Secrets and templates are checked before the run is recorded: a refused run leaves nothing.
    lease_ttl()
    RunContext.build(
        plan, env=env, release=release, run_id="r-validate", plan_path=plan_file.path
    ).validate()
    record = store.create_run(
        plan_id=plan.golive,
        plan_path=str(plan_file.path),
        plan_hash=plan_file.digest,
        env=env,
        release=release,
        rehearsal=not plan.is_production(env),
        started_by=starter,
    )
    context = RunContext.build(
        plan, env=env, release=release, run_id=record.id, plan_path=plan_file.path
    )
    lease = claim(store=store, run_id=record.id)
    engine = Engine(
        store=store,
        context=context,
        max_parallel=max_parallel,
        observers=observers,
        lease=lease,
        rehearse_hypercare=hypercare,
        clock=clock_from_environment(),
    )
    engine.begin(
        RunStarted(
            plan_id=plan.golive,
            plan_path=str(plan_file.path),
            plan_hash=plan_file.digest,
            plan_text=plan_file.text,
            env=env,
            release=release,
            rehearsal=record.rehearsal,
            started_by=starter,
            max_parallel=max_parallel,
            host=host_name(),
            pid=os.getpid(),
            steps=[step.id for step in plan.steps],
            step_digests=step_digests(plan),
        )
    )
    return Started(record, engine)


def attach_engine(
    *,
    store: EventStore,
    run: RunRecord,
    by: str | None,
    max_parallel: int | None = None,
    observers: list[Observer] | None = None,
    force: bool = False,
) -> Engine:
    """An engine that takes over `run` (resume, or a rollback of a finished run), holding its
    lease: LeaseHeld if another engine drives it (`force` takes over an expired lease)."""
    state = read_state(store, run.id)
    plan = run_plan(state, display=run.plan_path)
    who = check_person(plan, by) if by else who_am_i()
    context = RunContext.build(
        plan, env=run.env, release=run.release, run_id=run.id, plan_path=Path(run.plan_path)
    )
    lease = claim(store=store, run_id=run.id, force=force)
    engine = Engine(
        store=store,
        context=context,
        max_parallel=max_parallel or state.max_parallel,
        observers=observers,
        lease=lease,
        clock=clock_from_environment(),
    )
    with _released_on_error(lease):
        engine.attach(by=who)
    return engine


@contextlib.contextmanager
def _released_on_error(lease: EngineLease) -> Iterator[None]:
    """Give the lease up if the engine fails before it is driven (driving releases it)."""
    try:
        yield
    except BaseException:
        lease.release()
        raise
