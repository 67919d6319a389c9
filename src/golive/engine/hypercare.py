"""Hypercare: the phase after a run's steps complete, when monitors watch the new system.

A production run whose plan has `hypercare:` enters the phase when its steps complete; a
rehearsal only when asked to (`golive run --hypercare`), as nobody wants 48 h of staging
watched after each rehearsal. The objectives are measured when any run's steps complete. The run's
outcome (`completed`) is recorded first, so that readiness, history and forecasts count it as
done; `RunState.phase` says `hypercare` until the phase exits.

The phase is durable: its start is in the log (`HypercareStarted`, with `until`), so an engine
that takes the run over (`golive resume`) continues it. It keeps no state the log does not hold
but the consecutive failures of a monitor whose failing is already recorded, rebuilt from the
log on resume.

What the log holds, and why its growth is bounded over 72 h (see `HEARTBEAT`,
`MAX_CHANGES_PER_HOUR`): a monitor's probe is recorded (`MonitorChecked`) only when

- its state changes (green to red, red to green), or a failure counts toward `for:` (at most
  `for` records a failure streak);
- no record of it was made for `hypercare.heartbeat` (default 1 h): a heartbeat;

and at most MAX_CHANGES_PER_HOUR change records a monitor an hour: past that the monitor
flaps, and its changes are folded into the next heartbeat. So a monitor adds at most
`hours x (MAX_CHANGES_PER_HOUR + for + 1)` records to the log, whatever its `every:` (a
healthy 1-minute monitor over 72 h: 73 records, not 4,320), plus its incidents. Objectives are
recorded at each evaluation: at their `every:` (default hourly), so `hours / every` each.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

from golive.engine.clock import clock_from_environment
from golive.engine.events import (
    Event,
    HypercareExited,
    HypercareSignedOff,
    HypercareStarted,
    IncidentOpened,
    IncidentResolved,
    MonitorChecked,
    ObjectiveEvaluated,
    Severity,
    encode,
)
from golive.errors import DecisionRejected, UsageError

if TYPE_CHECKING:
    from golive.checks.outcome import CheckOutcome
    from golive.engine.runner import Engine
    from golive.engine.state import RunState
    from golive.plan.models import Check, Hypercare, Objective, Plan
    from golive.plan.outline import PlanOutline
    from golive.store import EventStore, RunRecord

DEFAULT_EVERY = dt.timedelta(minutes=1)  # a monitor without `every:`
MAX_CHANGES_PER_HOUR = 12  # change records a monitor an hour, before it counts as flapping
WAKE = 1.0  # wall seconds between two looks at the log for a close or a sign-off
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
FIGURES = ("latency_ms", "value", "error_rate", "days_left", "count", "exit_code", "status")
ENGINE = "golive"  # who records what the engine decides


# --- names ---------------------------------------------------------------------------------------


def check_label(check: Check) -> str:
    """A check's name, or its kind and target as written in the plan (a template, so no
    secret's value): `http {{ vars.new_url }}/health`."""
    if check.name:
        return check.name
    for kind, attribute in (
        ("http", "http"),
        ("tls", "tls"),
        ("sql", "sql"),
        ("http_error_rate", "http_error_rate"),
        ("run", "run"),
        ("step", "step"),
        ("sentry", "sentry"),
    ):
        target = getattr(check, attribute, None)
        if isinstance(target, str):
            line = " ".join(target.split())
            return f"{kind} {line[:60]}"
    return type(check).__name__


def monitor_ids(hypercare: Hypercare) -> list[str]:
    """Each monitor's id in the log: its label, made unique with #2, #3..."""
    ids: list[str] = []
    for check in hypercare.monitors:
        base, n = check_label(check), 1
        label = base
        while label in ids:
            n += 1
            label = f"{base} #{n}"
        ids.append(label)
    return ids


def figure(outcome: CheckOutcome) -> float | None:
    """The number an outcome measured (latency, value, error rate...), for sparklines."""
    for key in FIGURES:
        value = outcome.details.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    for value in outcome.details.values():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


# --- exit criteria -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Criterion:
    """One exit criterion, whether it holds now and why (what blocks the exit if not)."""

    name: str
    holds: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "holds": self.holds, "detail": self.detail}


def exit_criteria(plan: Plan, state: RunState, now: dt.datetime) -> list[Criterion]:
    """The plan's exit criteria judged on the run's state at `now` (empty without hypercare)."""
    hypercare, phase = plan.hypercare, state.hypercare
    if hypercare is None or phase is None:
        return []
    rules = hypercare.exit
    found: list[Criterion] = []
    if now >= phase.until:
        found.append(Criterion("duration", True, "the hypercare period is over"))
    elif rules.early:
        found.append(
            Criterion("duration", True, f"early exit allowed; {_left(phase.until - now)} left")
        )
    else:
        found.append(Criterion("duration", False, f"{_left(phase.until - now)} left"))
    if rules.no_open_incidents is not None:
        bar = SEVERITY_RANK[rules.no_open_incidents]
        blocking = [
            issue
            for issue in state.issues.values()
            if issue.open
            and issue.source != "feedback"  # the public cannot hold a handover back
            and SEVERITY_RANK.get(issue.severity, 0) >= bar
        ]
        detail = (
            f"no open incident of severity {rules.no_open_incidents} or above"
            if not blocking
            else "open: "
            + "; ".join(f"issue {i.id} ({i.severity}) {i.title}" for i in blocking[:5])
            + (f" and {len(blocking) - 5} more" if len(blocking) > 5 else "")
        )
        found.append(Criterion("no_open_incidents", not blocking, detail))
    if rules.objectives_met:
        measured = [o for o in plan.objectives if o.check is not None]
        not_met = []
        for objective in measured:
            verdict = state.objectives.get(objective.id)
            if verdict is None or verdict.verdict != "met":
                shown = verdict.verdict.replace("_", " ") if verdict else "not measured yet"
                not_met.append(f"{objective.id} ({shown})")
        detail = (
            f"{len(measured)} objective(s) met" if not not_met else "not met: " + ", ".join(not_met)
        )
        found.append(Criterion("objectives_met", not not_met, detail))
    if rules.green_for is not None:
        found.append(_green_for(rules.green_for, state, now))
    if rules.sign_off:
        missing = [p for p in rules.sign_off if p not in phase.signed_off]
        detail = (
            "signed off by " + ", ".join(rules.sign_off)
            if not missing
            else "waiting for the sign-off of " + ", ".join(missing)
        )
        found.append(Criterion("sign_off", not missing, detail))
    return found


def _green_for(wanted: dt.timedelta, state: RunState, now: dt.datetime) -> Criterion:
    phase = state.hypercare
    assert phase is not None
    monitors = list(phase.monitors.values())
    red = [m.id for m in monitors if m.ok is False]
    unchecked = [m.id for m in monitors if m.ok is None]
    name = f"green_for {_left(wanted)}"
    if red:
        return Criterion(name, False, "red: " + ", ".join(red))
    if unchecked:
        return Criterion(name, False, "not checked yet: " + ", ".join(unchecked))
    since = max([phase.started_at] + [m.since for m in monitors if m.since is not None])
    green = now - since
    if green >= wanted:
        return Criterion(name, True, f"every monitor green for {_left(green)}")
    return Criterion(name, False, f"green for {_left(green)} of {_left(wanted)}")


def blockers(criteria: list[Criterion]) -> list[Criterion]:
    return [c for c in criteria if not c.holds]


def _left(delta: dt.timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


# --- evaluating checks ---------------------------------------------------------------------------


async def _evaluate(engine: Engine, check: Check) -> CheckOutcome:
    from golive.checks import evaluate  # httpx and friends: loaded when a check runs

    context = engine.context
    return await evaluate(
        check,
        render=context.render,
        redact=context.redact,
        resources=engine.resources,
        step_state=engine.step_status,
        workdir=context.workdir,
        environ=context.base_environ,
        monotonic=engine.clock.monotonic,
        sleep=engine.clock.sleep,
    )


def objective_verdict(objective: Objective, outcome: CheckOutcome) -> tuple[str, float | None]:
    """met when the check passes; not met when it measured something else; unknown when it
    could not measure (a connection refused, a log that cannot be read)."""
    value = figure(outcome)
    if outcome.ok:
        return "met", value
    from golive.plan.models import CommandCheck, StepCheck

    definite = isinstance(objective.check, StepCheck | CommandCheck) or value is not None
    return ("not_met" if definite else "unknown"), value


async def evaluate_objectives(engine: Engine, *, phase: str, only: list[str] | None = None) -> None:
    """Measure the objectives (those with a check; `only` these ids) and record each verdict."""
    objectives = [o for o in engine.plan.objectives if o.check is not None]
    if only is not None:
        objectives = [o for o in objectives if o.id in only]
    if not objectives:
        return
    import asyncio  # loaded by the loop that awaits this; `golive status` needs no loop

    outcomes = await asyncio.gather(
        *(_evaluate(engine, o.check) for o in objectives if o.check is not None)
    )
    for objective, outcome in zip(objectives, outcomes, strict=True):
        verdict, value = objective_verdict(objective, outcome)
        engine.record(
            ObjectiveEvaluated(
                objective=objective.id,
                verdict=verdict,
                detail=outcome.summary,
                value=value,
                phase=phase,
            )
        )


# --- the phase -----------------------------------------------------------------------------------


async def after_steps(engine: Engine) -> None:
    """What follows a completed run's steps: the objectives measured, then hypercare until it
    exits. Called again by an engine that resumes the run: it continues where the log stops."""
    state = engine.state
    if state.hypercare is None:
        missing = [o.id for o in engine.plan.objectives if o.id not in state.objectives]
        if missing:
            await evaluate_objectives(engine, phase="steps_completed", only=missing)
    hypercare = engine.plan.hypercare
    if hypercare is None or not engine.hypercare_wanted:
        return
    if state.hypercare is None:
        until = engine.clock.now() + hypercare.duration
        engine.record(
            HypercareStarted(
                duration=hypercare.duration.total_seconds(),
                until=until.astimezone(dt.UTC).isoformat(),
                monitors=monitor_ids(hypercare),
            )
        )
    if state.hypercare is not None and state.hypercare.active:
        await Phase(engine, hypercare).run()


class Phase:
    """One engine's stint of a run's hypercare: monitors, objectives and exit, until it exits."""

    def __init__(self, engine: Engine, hypercare: Hypercare) -> None:
        self.engine, self.hypercare = engine, hypercare
        self.clock = engine.clock
        self.monitors = dict(zip(monitor_ids(hypercare), hypercare.monitors, strict=True))
        phase = engine.state.hypercare
        assert phase is not None
        # the streak of a monitor red in the log goes on: no second incident for it
        self.failures = {
            m: (
                phase.monitors[m].failures
                if m in phase.monitors and phase.monitors[m].ok is False
                else 0
            )
            for m in self.monitors
        }
        start = self.clock.monotonic()
        self.due = dict.fromkeys(self.monitors, start)  # every monitor is checked at once
        self.objective_due = {o.id: start + o.every.total_seconds() for o in engine.plan.objectives}
        self.changes: dict[str, collections.deque[float]] = {
            m: collections.deque() for m in self.monitors
        }
        self.tried_exit_at: float | None = None
        self.opened: dict[int, dt.datetime] = {}  # incident -> when it opened, by our clock

    @property
    def _scale(self) -> float:
        scale = getattr(self.clock, "scale", 1.0)
        return float(scale) if isinstance(scale, int | float) and scale > 0 else 1.0

    async def run(self) -> None:
        engine = self.engine
        while True:
            engine.sync()  # a close or a sign-off from another terminal, resolved incidents
            phase = engine.state.hypercare
            if phase is None or not phase.active:
                return
            if engine.state.rollback_requested:  # the go-live is being reverted: watch no more
                engine.record(
                    HypercareExited(reason="closed", by=ENGINE, why="the run is rolled back")
                )
                return
            now = self.clock.monotonic()
            due = [m for m, at in self.due.items() if at <= now]
            if due:
                await self._probe(due)
            objectives = [o for o, at in self.objective_due.items() if at <= now]
            if objectives:
                await evaluate_objectives(engine, phase="hypercare", only=objectives)
                for objective in engine.plan.objectives:
                    if objective.id in objectives:
                        self.objective_due[objective.id] = now + objective.every.total_seconds()
            if await self._try_exit():
                return
            await self._nap()

    async def _nap(self) -> None:
        now = self.clock.monotonic()
        upcoming = list(self.due.values()) + list(self.objective_due.values())
        phase = self.engine.state.hypercare
        assert phase is not None
        until = now + phase.left(self.clock.now())
        upcoming.append(until)
        wait = min(upcoming) - now
        await self.clock.sleep(max(0.0, min(wait, WAKE * self._scale)))

    def _now(self) -> str:
        return self.clock.now().astimezone(dt.UTC).isoformat()

    # monitors --------------------------------------------------------------------------------

    async def _probe(self, due: list[str]) -> None:
        import asyncio

        outcomes = await asyncio.gather(*(_evaluate(self.engine, self.monitors[m]) for m in due))
        for monitor, outcome in zip(due, outcomes, strict=True):
            every = self.monitors[monitor].every or DEFAULT_EVERY
            self.due[monitor] = self.clock.monotonic() + every.total_seconds()
            self._observe(monitor, outcome)

    def _observe(self, monitor: str, outcome: CheckOutcome) -> None:
        engine, check = self.engine, self.monitors[monitor]
        phase = engine.state.hypercare
        assert phase is not None
        known = phase.monitors.get(monitor)
        was = known.ok if known else None
        value = figure(outcome)
        if outcome.ok:
            self.failures[monitor] = 0
            if was is not True:
                self._change(monitor, True, outcome.summary, value, 0)
            else:
                self._heartbeat(monitor, True, outcome.summary, value, 0)
            incident = known.incident if known else None
            if incident is not None and incident in engine.state.issues:
                opened = self.opened.get(incident, engine.state.issues[incident].at)
                engine.record(
                    IncidentResolved(
                        issue=incident,
                        monitor=monitor,
                        detail=f"{monitor} passes again: {outcome.summary}",
                        down_for=max(0.0, (self.clock.now() - opened).total_seconds()),
                    )
                )
            return
        failures = self.failures[monitor] = self.failures[monitor] + 1
        incident = known.incident if known else None
        if was is not False or (failures <= check.for_ and incident is None):
            self._change(monitor, False, outcome.summary, value, failures)
        else:
            self._heartbeat(monitor, False, outcome.summary, value, failures)
        if failures >= check.for_ and incident is None:
            figures = {k: v for k, v in outcome.details.items() if _scalar(v)}
            opened_at = self.clock.now()
            recorded = engine.record(
                IncidentOpened(
                    monitor=monitor,
                    title=f"{monitor} failed {failures} times in a row",
                    severity=Severity(check.severity),
                    detail=outcome.summary,
                    figures={**figures, "failures": failures},
                )
            )
            self.opened[recorded.seq] = opened_at

    def _change(self, monitor: str, ok: bool, detail: str, value: float | None, n: int) -> None:
        now = self.clock.monotonic()
        recent = self.changes[monitor]
        while recent and recent[0] <= now - 3600:
            recent.popleft()
        if len(recent) >= MAX_CHANGES_PER_HOUR:  # flapping: the next heartbeat says where it is
            self._heartbeat(monitor, ok, f"flapping: {detail}", value, n)
            return
        recent.append(now)
        self.engine.record(
            MonitorChecked(
                monitor=monitor, ok=ok, detail=detail, value=value, failures=n, at=self._now()
            )
        )

    def _heartbeat(self, monitor: str, ok: bool, detail: str, value: float | None, n: int) -> None:
        phase = self.engine.state.hypercare
        assert phase is not None
        known = phase.monitors.get(monitor)
        last = known.checked_at if known else None
        if last is not None and self.clock.now() - last < self.hypercare.heartbeat:
            return
        self.engine.record(
            MonitorChecked(
                monitor=monitor,
                ok=ok,
                detail=detail,
                value=value,
                failures=n,
                heartbeat=True,
                at=self._now(),
            )
        )

    # exit ------------------------------------------------------------------------------------

    async def _try_exit(self) -> bool:
        engine = self.engine
        now = self.clock.now()
        criteria = exit_criteria(engine.plan, engine.state, now)
        others = [c for c in criteria if c.name != "objectives_met"]
        if any(not c.holds for c in others):
            return False
        # Everything else holds: measure the objectives for the exit (at most once an objective
        # interval while they do not hold), then judge again.
        mono = self.clock.monotonic()
        every = min(
            (o.every.total_seconds() for o in engine.plan.objectives if o.check is not None),
            default=0.0,
        )
        if self.tried_exit_at is None or mono - self.tried_exit_at >= every:
            self.tried_exit_at = mono
            await evaluate_objectives(engine, phase="exit")
        engine.sync()
        criteria = exit_criteria(engine.plan, engine.state, self.clock.now())
        phase = engine.state.hypercare
        if blockers(criteria) or phase is None or not phase.active:
            return phase is None or not phase.active
        engine.record(
            HypercareExited(
                reason="exit_criteria",
                by=ENGINE,
                why="the exit criteria hold: handover",
                criteria={c.name: {"holds": c.holds, "detail": c.detail} for c in criteria},
            )
        )
        return True


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


# --- what people do: close it early, sign off ---------------------------------------------------


def _open_phase(store: EventStore, run: RunRecord) -> tuple[RunState, Plan]:
    from golive.engine.operator import read_state, run_plan

    state = read_state(store, run.id)
    plan = run_plan(state, display=run.plan_path)
    if state.hypercare is None:
        raise DecisionRejected(
            f"run {run.id} has no hypercare phase"
            + (" (its plan has no hypercare:)" if plan.hypercare is None else " yet")
        )
    if not state.hypercare.active:
        raise DecisionRejected(
            f"the hypercare of run {run.id} has ended already ({state.hypercare.exit_reason})"
        )
    return state, plan


def _person_of(plan: Plan, who: str) -> None:
    if who not in plan.people:
        known = ", ".join(plan.people) or "nobody: add people: to the plan"
        raise UsageError(f"--as {who}: not a person of this plan (known: {known})")


def close_hypercare(*, store: EventStore, run: RunRecord, by: str, why: str) -> None:
    """A person ends the hypercare early (or despite what blocks its exit), with a reason."""
    if not why.strip():
        raise UsageError("closing hypercare needs a reason: --why TEXT")
    state, plan = _open_phase(store, run)
    _person_of(plan, by)
    criteria = exit_criteria(plan, state, clock_from_environment().now())
    _append(
        store,
        run.id,
        HypercareExited(
            reason="closed",
            by=by,
            why=why.strip(),
            criteria={c.name: {"holds": c.holds, "detail": c.detail} for c in criteria},
        ),
    )


def sign_off_hypercare(*, store: EventStore, run: RunRecord, by: str, note: str | None) -> None:
    """A person of `hypercare.exit.sign_off` agrees to the handover."""
    state, plan = _open_phase(store, run)
    _person_of(plan, by)
    wanted = plan.hypercare.exit.sign_off if plan.hypercare else []
    if by not in wanted:
        listed = ", ".join(wanted) or "nobody: the plan's hypercare.exit has no sign_off"
        raise UsageError(f"--as {by}: not asked to sign off this hypercare (asked: {listed})")
    assert state.hypercare is not None
    if by in state.hypercare.signed_off:
        raise DecisionRejected(f"{by} has signed off the hypercare of run {run.id} already")
    _append(store, run.id, HypercareSignedOff(by=by, note=note))


def _append(store: EventStore, run_id: str, event: Event) -> None:
    type_name, step, data = encode(event)
    store.append(run_id, type_name, step=step, data=data)


# --- what the CLI, the API and the run page show ------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def objectives_view(plan: Plan | PlanOutline, state: RunState) -> list[dict[str, Any]]:
    """Each objective of the plan with its last verdict (unknown until measured)."""
    shown = []
    for objective in plan.objectives:
        verdict = state.objectives.get(objective.id)
        shown.append(
            {
                "id": objective.id,
                "title": objective.title,
                "verdict": verdict.verdict if verdict else "unknown",
                "detail": verdict.detail
                if verdict
                else ("no check: not measured" if objective.check is None else "not measured yet"),
                "value": verdict.value if verdict else None,
                "phase": verdict.phase if verdict else None,
                "at": _iso(verdict.at) if verdict else None,
            }
        )
    return shown


def hypercare_view(plan: Plan, state: RunState, now: dt.datetime) -> dict[str, Any] | None:
    """The hypercare phase as JSON: time left, monitors, incidents, exit criteria, feedback."""
    phase = state.hypercare
    if phase is None:
        return None
    criteria = exit_criteria(plan, state, now) if phase.active else []
    checks = (
        dict(zip(monitor_ids(plan.hypercare), plan.hypercare.monitors, strict=True))
        if (plan.hypercare)
        else {}
    )
    return {
        "active": phase.active,
        "started_at": _iso(phase.started_at),
        "until": _iso(phase.until),
        "left": phase.left(now) if phase.active else 0.0,
        "monitors": [
            {
                "id": m.id,
                "state": "unknown" if m.ok is None else ("green" if m.ok else "red"),
                "detail": m.detail,
                "failures": m.failures,
                "since": _iso(m.since),
                "checked_at": _iso(m.checked_at),
                "incident": m.incident,
                "values": list(m.values),
                "every": (checks[m.id].every or DEFAULT_EVERY).total_seconds()
                if m.id in checks
                else None,
            }
            for m in phase.monitors.values()
        ],
        "incidents": [
            {
                "id": i.id,
                "monitor": i.monitor,
                "title": i.title,
                "severity": i.severity,
                "opened_at": _iso(i.at),
                "recovered_at": _iso(i.recovered_at),
                "open": i.open,
                "resolved_by": i.resolved_by,
                "resolution": i.resolution,
            }
            for i in state.issues.values()
            if i.source == "monitor"
        ],
        "criteria": [c.as_json() for c in criteria],
        "blocked_by": [c.as_json() for c in blockers(criteria)],
        "signed_off": sorted(phase.signed_off),
        "feedback": state.feedback_count,
        "exit": None
        if phase.active
        else {
            "reason": phase.exit_reason,
            "by": phase.exited_by,
            "why": phase.exit_why,
            "at": _iso(phase.exited_at),
            "criteria": phase.exit_criteria,
        },
    }
