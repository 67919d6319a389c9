"""The run loop: launch what the graph allows, record every fact before acting on it.

One `Engine` drives one run. It never keeps state of its own that the log does not hold: it
folds the run's events into a `RunState`, decides the next move from that state, records the
event announcing the move (committed), then makes it. Decisions taken from another terminal
arrive as events in the store and are folded in the same way, so a killed engine is replaced
by `golive resume` without losing anything but the processes it was running.
"""

from __future__ import annotations

import asyncio
import heapq
import os
from collections.abc import Callable

from golive.actions.base import Action, Result, RunResources, StepContext
from golive.actions.registry import action_for
from golive.engine.clock import Clock, SystemClock
from golive.engine.context import RunContext
from golive.engine.events import (
    Decision,
    DecisionMade,
    Event,
    GateVoted,
    Outcome,
    Recorded,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    StepFailed,
    StepProcessStarted,
    StepStarted,
    StepSucceeded,
    StepWaiting,
    UndoFailed,
    UndoSkipped,
    UndoStarted,
    UndoSucceeded,
    decode,
    encode,
)
from golive.engine.gates import Verdict, verdict
from golive.engine.lease import EngineLease, host_name
from golive.engine.orphans import start_time
from golive.engine.output import FLUSH_SECONDS, OutputBuffer
from golive.engine.recovery import interrupted, owed
from golive.engine.state import RunState, StepStatus, UndoStatus
from golive.plan.graph import StepGraph
from golive.plan.models import Plan, Step, StepKind
from golive.store import EventStore

Observer = Callable[[Recorded, RunState], None]
POLL_INTERVAL = 0.2


class _Aborted(Exception):
    pass


class Engine:
    """Drives one run of a plan to its end, from the state its event log describes."""

    def __init__(
        self,
        *,
        store: EventStore,
        context: RunContext,
        max_parallel: int,
        clock: Clock | None = None,
        observers: list[Observer] | None = None,
        poll_interval: float = POLL_INTERVAL,
        lease: EngineLease | None = None,
        rehearse_hypercare: bool = False,
    ) -> None:
        self.store = store
        # hypercare follows a production run's steps; a rehearsal's only when asked for
        self.rehearse_hypercare = rehearse_hypercare
        self.lease = lease  # when set, every event is appended under its token (engine/lease.py)
        self.context = context
        self.plan: Plan = context.plan
        self.run_id = context.run_id
        self.max_parallel = max(1, max_parallel)
        self.clock = clock or SystemClock()
        self.observers = list(observers or [])
        self.poll_interval = poll_interval
        self.state = RunState(self.run_id)
        self.steps = {step.id: step for step in self.plan.steps}
        self.graph = StepGraph(self.plan.steps)
        self.order = self.graph.order()
        self.position = {step_id: index for index, step_id in enumerate(self.order)}
        # Steps that wait for people take no parallel slot and are not waited for by a rollback.
        # (Step.kind is computed on every access; the scheduler asks on every pass.)
        self._human = {s.id for s in self.plan.steps if s.kind in (StepKind.manual, StepKind.gate)}
        self._own: set[int] = set()  # seqs we appended and folded already
        self._seen = 0  # every event up to this seq has been folded
        self._tasks: dict[str, asyncio.Task[Result]] = {}
        self._ready: list[tuple[int, str]] = []
        self._person_waits: dict[str, asyncio.Event] = {}
        self._vote_waits: dict[str, asyncio.Event] = {}
        self._output = OutputBuffer(self.record, self.clock.monotonic)
        self.resources = RunResources()

    # --- the log -------------------------------------------------------------------------------

    def record(self, event: Event) -> Recorded:
        """Append an event (committed when this returns), then fold it into the state."""
        type_name, step, data = encode(event)
        token = None
        if self.lease is not None:
            self.lease.check()
            token = self.lease.token
        stored = self.store.append(self.run_id, type_name, step=step, data=data, lease=token)
        recorded = Recorded(stored.seq, stored.at, event)
        self._own.add(stored.seq)
        self._apply(recorded)
        return recorded

    def load(self) -> None:
        """Fold the whole log (when attaching to an existing run)."""
        self.sync()
        self._refresh_ready()

    def sync(self) -> bool:
        """Fold events other processes appended since the last look; True if there were any."""
        if self.lease is not None:
            self.lease.check()  # a lost lease stops the engine between moves too
        foreign = False
        own = self._own
        if own and min(own) == self._seen + 1 and max(own) == self._seen + len(own):
            # Performance: our own events follow the last one seen without a gap in the seqs,
            # so nothing came in between them: no need to read them back and decode them.
            self._seen += len(own)
            own.clear()
        # Read from the last seq seen in order, not from the state's last seq: another process
        # may have appended between two of our own events, and its event must not be skipped.
        for stored in self.store.events(self.run_id, after=self._seen):
            self._seen = stored.seq
            if stored.seq in self._own:
                self._own.discard(stored.seq)
                continue
            where = f"run {self.run_id} event {stored.seq}"
            event = decode(stored.type, stored.step, stored.data, where=where)
            self._apply(Recorded(stored.seq, stored.at, event))
            foreign = True
        if foreign:
            self._refresh_ready()
        return foreign

    def _apply(self, recorded: Recorded) -> None:
        self.state.apply(recorded)
        step_id = recorded.event.step
        if (
            step_id in self._person_waits
            and self.state.step(step_id).status is not StepStatus.waiting
        ):
            self._person_waits.pop(step_id).set()
        if isinstance(recorded.event, GateVoted) and step_id in self._vote_waits:
            self._vote_waits[step_id].set()
        for observer in self.observers:
            observer(recorded, self.state)

    # --- attaching -----------------------------------------------------------------------------

    def begin(self, started: RunStarted) -> None:
        """Start a new run: its first event, then the steps with no needs are ready."""
        self.record(started)
        self._refresh_ready()

    def attach(self, *, by: str) -> None:
        """Take over an existing run: note the interrupted steps and undos, then record what
        the log implies and lacks (see `golive.engine.recovery`)."""
        self.load()
        self.record(RunResumed(by=by, host=host_name(), pid=os.getpid()))
        for event in interrupted(self.state, self.plan):
            self.record(event)
        self._catch_up()
        self._refresh_ready()

    def _catch_up(self) -> None:
        for event in owed(self.state, self.plan, self.graph, self.order):
            self.record(event)

    # --- the loop ------------------------------------------------------------------------------

    async def drive(self) -> RunState:
        """Run until the run finishes (completed, failed, rolled back or aborted)."""
        if self.lease is not None:
            self.lease.start()
        try:
            while True:
                self.sync()
                state = self.state
                if state.abort_requested:
                    await self._stop_all(by=self._decider(Decision.abort))
                    self._finish(Outcome.aborted)
                    break
                if state.rollback_requested:
                    await self._drain()
                    await self._rollback()
                    break
                if state.rollback_end_unrecorded:
                    self._finish(Outcome.rolled_back)
                    break
                if state.status.finished:
                    break
                if not state.paused:
                    self._launch_ready()
                if not self._tasks and (outcome := self._outcome()) is not None:
                    self._finish(outcome)
                    break
                await self._wait()
            if self._after_steps_owed():
                from golive.engine.hypercare import after_steps

                await after_steps(self)  # objectives, then hypercare until it exits
                if self.state.rollback_requested:  # decided during hypercare: roll back now
                    await self._rollback()
        except _Aborted:
            self._finish(Outcome.aborted)
        finally:
            for task in self._tasks.values():
                task.cancel()
            # wait for the cancelled steps: their processes are killed and reaped, not orphaned
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            try:
                self._output.flush_all()
                await self.resources.aclose()
            finally:
                if self.lease is not None:
                    self.lease.release()
        return self.state

    def _after_steps_owed(self) -> bool:
        """The steps completed and the plan measures objectives or has hypercare, not done yet."""
        state, plan = self.state, self.plan
        if state.outcome is not Outcome.completed:
            return False
        if plan.hypercare is not None and self.hypercare_wanted:
            return state.hypercare is None or state.hypercare.active
        return state.hypercare is None and any(
            o.id not in state.objectives for o in plan.objectives
        )

    @property
    def hypercare_wanted(self) -> bool:
        """Whether this run has a hypercare phase: production, a rehearsal asked to rehearse
        it, or a run whose log holds its start already."""
        state = self.state
        return not state.rehearsal or self.rehearse_hypercare or state.hypercare is not None

    def step_status(self, step_id: str) -> str | None:
        """A step's status in this run, for `step:` checks."""
        return self._status_of(step_id)

    def _outcome(self) -> Outcome | None:
        statuses = [self.state.step(s).status for s in self.order]
        if not all(status.settled for status in statuses) or self.state.paused:
            return None
        return Outcome.failed if StepStatus.failed in statuses else Outcome.completed

    async def _wait(self) -> None:
        if self._tasks:
            done, _ = await asyncio.wait(
                self._tasks.values(),
                timeout=self.poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                self._completed(task.get_name(), task)
        else:
            await self.clock.sleep(self.poll_interval)
        self._output.flush_all(older_than=FLUSH_SECONDS)

    async def _drain(self) -> None:
        """Before a rollback: let running commands end (their results recorded); nobody is
        asked any more to do a manual step or to vote."""
        for step_id, task in list(self._tasks.items()):
            if step_id in self._human:
                task.cancel()
        while self._tasks:
            await self._wait()

    async def _stop_all(self, *, by: str) -> None:
        """On abort: kill what runs now, and record each as failed."""
        tasks = dict(self._tasks)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        for step_id in tasks:
            del self._tasks[step_id]
            self._output.flush(step_id)
            step_state = self.state.step(step_id)
            if step_state.status in (StepStatus.running, StepStatus.waiting):
                started = step_state.attempt_started_at
                spent = (self.clock.now() - started).total_seconds() if started else 0.0
                self.record(
                    StepFailed(
                        step=step_id,
                        attempt=step_state.attempt,
                        duration=spent,
                        error=f"stopped: run aborted by {by}",
                    )
                )

    def _decider(self, decision: Decision) -> str:
        for recorded in reversed(self.state.decisions):
            event = recorded.event
            if isinstance(event, DecisionMade) and event.decision is decision:
                return event.by
        return "operator"

    # --- launching -----------------------------------------------------------------------------

    def _refresh_ready(self) -> None:
        self._ready = [(self.position[s], s) for s in self.order if self._is_ready(s)]
        heapq.heapify(self._ready)

    def _is_ready(self, step_id: str) -> bool:
        if self.state.step(step_id).status is not StepStatus.pending or step_id in self._tasks:
            return False
        return all(self.state.step(n).done for n in self.graph.needs[step_id])

    def _launch_ready(self) -> None:
        busy = sum(1 for s in self._tasks if s not in self._human)
        deferred: list[tuple[int, str]] = []
        while self._ready:
            item = heapq.heappop(self._ready)
            step_id = item[1]
            if not self._is_ready(step_id):
                continue
            manual = step_id in self._human
            if not manual and busy >= self.max_parallel:
                deferred.append(item)
                break
            busy += 0 if manual else 1
            self._launch(step_id, self.state.step(step_id).attempt + 1, delay=0.0)
        for item in deferred:
            heapq.heappush(self._ready, item)

    def _launch(self, step_id: str, attempt: int, *, delay: float) -> None:
        task = asyncio.get_running_loop().create_task(
            self._attempt(step_id, attempt, delay), name=step_id
        )
        self._tasks[step_id] = task

    async def _attempt(self, step_id: str, attempt: int, delay: float) -> Result:
        if delay:
            await self.clock.sleep(delay)
        step = self.steps[step_id]
        command = self.context.redact(self.context.render(step.run)) if step.run else None
        self.record(
            StepStarted(step=step_id, attempt=attempt, kind=step.kind.value, command=command)
        )
        action = action_for(step)
        return await action.run(self._step_context(step, attempt, action))

    def _step_context(
        self, step: Step, attempt: int, action: Action, *, undo: bool = False
    ) -> StepContext:
        timeout = step.timeout.total_seconds() if step.timeout else None
        touched = self.state.step(step.id).hosts
        return StepContext(
            run_id=self.run_id,
            plan=self.plan,
            step=step,
            attempt=attempt,
            env_name=self.context.env,
            workdir=self.context.workdir_for(step),
            environ=self.context.environ(step, attempt),
            timeout=timeout,
            render=self.context.render,
            redact=self.context.redact,
            output=lambda stream, line, *, host=None: self._output.add(step.id, stream, line, host),
            wait_for_person=lambda who, what: self._wait_for_person(step.id, who, what),
            monotonic=self.clock.monotonic,
            resources=self.resources,
            hosts=self.context.hosts_for(step),
            # None: not known (a crash mid-step), so undo every host; else the touched ones.
            changed_hosts=(
                tuple(h for h, s in touched.items() if s.get("touched", True))
                if undo and touched
                else None
            ),
            wait_for_votes=lambda: self._wait_for_votes(step.id),
            step_status=lambda other: self._status_of(other),
            process_started=lambda pid, *, host=None, started=None: self._process_started(
                step.id, pid, host=host, started=started, undo=undo
            ),
            recorded=self.state.step(step.id).details,
        )

    def _process_started(
        self, step_id: str, pid: int, *, host: str | None, started: int | None, undo: bool
    ) -> None:
        """Record where the command runs, for a later engine to find it if this one dies."""
        remote = host is not None
        if host is None:
            host, started = host_name(), start_time(pid)
        event = StepProcessStarted(
            step=step_id, pid=pid, host=host, started=started, remote=remote, undo=undo
        )
        self.record(event)

    def _status_of(self, step_id: str) -> str | None:
        found = self.state.steps.get(step_id)
        return found.status.value if found else None

    async def _wait_for_votes(self, step_id: str) -> Verdict:
        """Wait until the gate's votes decide it; the waiting is recorded, each vote folded."""
        gate = self.steps[step_id]
        current = verdict(gate, self.state.step(step_id).ballots)
        if current.decided:
            return current
        signal = self._vote_waits[step_id] = asyncio.Event()
        what = f"Go/No-Go: {gate.label}"
        self.record(StepWaiting(step=step_id, who=list(current.waiting_for), what=what))
        try:
            while not current.decided:
                await signal.wait()
                signal.clear()
                current = verdict(gate, self.state.step(step_id).ballots)
        finally:
            del self._vote_waits[step_id]
        return current

    async def _wait_for_person(self, step_id: str, who: list[str], what: str) -> None:
        signal = self._person_waits[step_id] = asyncio.Event()
        self.record(StepWaiting(step=step_id, who=who, what=what))
        await signal.wait()

    # --- results -------------------------------------------------------------------------------

    def _completed(self, step_id: str, task: asyncio.Task[Result]) -> None:
        del self._tasks[step_id]
        self._output.flush(step_id)
        if task.cancelled():
            return
        result = task.result()
        step_state = self.state.step(step_id)
        if step_state.status in (StepStatus.succeeded, StepStatus.skipped):
            self._after_settled(step_id)  # marked done or skipped while it waited
            return
        step = self.steps[step_id]
        attempt = step_state.attempt
        if result.ok:
            self.record(
                StepSucceeded(
                    step=step_id,
                    attempt=attempt,
                    duration=result.duration,
                    exit_code=result.exit_code,
                    hosts=result.host_summary(),
                    details=result.details,
                )
            )
            self._after_settled(step_id)
            return
        retry = attempt <= step.retries
        self.record(
            StepFailed(
                step=step_id,
                attempt=attempt,
                duration=result.duration,
                error=result.error or "failed",
                exit_code=result.exit_code,
                will_retry=retry,
                hosts=result.host_summary(),
                details=result.details,
            )
        )
        if retry:
            delay = step.retry_delay.total_seconds() * (2 ** (attempt - 1))
            self._launch(step_id, attempt + 1, delay=delay)
        else:
            self._catch_up()  # the failure policy: pause, rollback, or skip what needs it

    def _after_settled(self, step_id: str) -> None:
        for dependent in self.graph.dependents[step_id]:
            if self._is_ready(dependent):
                heapq.heappush(self._ready, (self.position[dependent], dependent))

    # --- rollback ------------------------------------------------------------------------------

    async def _rollback(self) -> None:
        state = self.state
        if state.rollback_started_at is None or state.rollback_duration is not None:
            why = next(
                (
                    d.event
                    for d in reversed(state.decisions)
                    if isinstance(d.event, DecisionMade) and d.event.decision is Decision.rollback
                ),
                None,
            )
            by = why.by if isinstance(why, DecisionMade) else "operator"
            reason = (why.why if isinstance(why, DecisionMade) else None) or "rollback requested"
            self.record(RollbackStarted(by=by, reason=reason))
        for step_id in reversed(self.order):
            step_state = self.state.step(step_id)
            ran = step_state.attempt > 0 and step_state.status is not StepStatus.skipped
            if ran and step_state.undo not in (UndoStatus.succeeded, UndoStatus.skipped):
                await self._undo(self.steps[step_id])
        started = self.state.rollback_started_at
        duration = (self.clock.now() - started).total_seconds() if started else 0.0
        complete = all(
            self.state.step(s).undo is not UndoStatus.failed for s in self.order
        ) and not any(
            self.state.step(s).undo is UndoStatus.skipped and self.steps[s].undo for s in self.order
        )
        self.record(RollbackFinished(complete=complete, duration=duration))
        self._finish(Outcome.rolled_back)

    async def _undo(self, step: Step) -> None:
        action = action_for(step)
        while True:
            if step.id in self.state.blocked:  # failed, or interrupted by a crash: ask first
                await self._until_decided(step.id)
            if self.state.step(step.id).undo in (UndoStatus.succeeded, UndoStatus.skipped):
                return
            attempt = max(1, self.state.step(step.id).attempt)
            command = self.context.redact(self.context.render(step.undo)) if step.undo else None
            if command is None and not step.undoes_itself:
                self.record(UndoSkipped(step=step.id, reason="no undo defined"))
                return
            self.record(UndoStarted(step=step.id, command=command))
            started = self.clock.monotonic()
            result = await action.undo(self._step_context(step, attempt, action, undo=True))
            self._output.flush(step.id)
            if result is None:
                self.record(UndoSkipped(step=step.id, reason="nothing to undo"))
                return
            duration = self.clock.monotonic() - started
            hosts = result.host_summary()
            if result.ok:
                self.record(UndoSucceeded(step=step.id, duration=duration, hosts=hosts))
                return
            error = result.error or "failed"
            self.record(UndoFailed(step=step.id, duration=duration, error=error, hosts=hosts))
            self.record(RunPaused(step=step.id, reason=f"undo failed: {result.error}"))

    async def _until_decided(self, step_id: str) -> None:
        while step_id in self.state.blocked:
            await self.clock.sleep(self.poll_interval)
            self.sync()
            if self.state.abort_requested:
                raise _Aborted

    def _finish(self, outcome: Outcome) -> None:
        started = self.state.started_at
        duration = (self.clock.now() - started).total_seconds() if started else 0.0
        self.record(RunFinished(outcome=outcome, duration=duration))

    # --- output --------------------------------------------------------------------------------
