"""What mission control shows of a run, as plain data: the JSON API returns it, the pages
render it. Built from the run's folded state, its plan, and the user's rights."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from golive.engine.checklist import ItemStatus
from golive.engine.context import shown
from golive.engine.progress import eta_seconds
from golive.engine.state import RunState, StepState, StepStatus, UndoStatus
from golive.plan.graph import StepGraph, finish_times
from golive.plan.models import CHECK_KINDS, Plan, Step, StepKind
from golive.plan.values import format_duration, parse_percent
from golive.store import RunRecord
from golive.web.broker import Watcher
from golive.web.roles import ROLE_ORDER, Access

CURRENT = (StepStatus.running, StepStatus.waiting, StepStatus.retrying)
URL_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^@/\s]+@")


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_summary(record: RunRecord, state: RunState) -> dict[str, Any]:
    done = sum(1 for s in state.steps.values() if s.done)
    return {
        "id": record.id,
        "plan": record.plan_id,
        "env": record.env,
        "release": record.release,
        "rehearsal": record.rehearsal,
        "status": state.status.value,
        "started_by": record.started_by,
        "created_at": iso(record.created_at),
        "finished_at": iso(state.finished_at),
        "steps_done": done,
        "steps_total": len(state.steps),
        "open_issues": sum(1 for i in state.issues.values() if i.open),
        "feedback": sum(1 for i in state.issues.values() if i.source == "feedback"),
    }


def _planned(plan: Plan, graph: StepGraph) -> dict[str, tuple[float, float]]:
    """Each step's planned start and end, in seconds from the run's start (estimates)."""
    estimates = {s.id: s.estimate.total_seconds() if s.estimate else 0.0 for s in plan.steps}
    finish = finish_times(graph, estimates)
    return {sid: (end - estimates[sid], end) for sid, end in finish.items()}


def _ballots(state: StepState) -> list[dict[str, Any]]:
    return [
        {"by": who, "vote": b.vote.value, "comment": b.comment} for who, b in state.ballots.items()
    ]


def _step(
    step: Step,
    st: StepState,
    planned: tuple[float, float],
    state: RunState,
    access: Access,
    now: dt.datetime,
) -> dict[str, Any]:
    running_for = (
        (now - st.attempt_started_at).total_seconds()
        if st.status in CURRENT and st.attempt_started_at
        else None
    )
    is_gate = step.kind is StepKind.gate
    return {
        "id": step.id,
        "title": step.label,
        "named": step.label != step.id,  # the id is shown beside the title only then
        "kind": step.kind.value,
        "owner": step.owner,
        "approvers": list(step.approvers),
        "quorum": step.quorum_of() if is_gate else None,
        "checks": [c if isinstance(c, str) else c.model_dump(mode="json") for c in step.checks]
        if is_gate
        else [],
        "needs": list(step.needs),
        "status": st.status.value,
        "current": st.status in CURRENT or step.id in state.blocked,
        "blocked": state.blocked.get(step.id),
        "attempt": st.attempt,
        "estimate": step.estimate.total_seconds() if step.estimate else None,
        "planned_start": planned[0],
        "planned_end": planned[1],
        "started_at": iso(st.started_at),
        "finished_at": iso(st.finished_at),
        "duration": st.duration if st.duration is not None else running_for,
        "error": st.error,
        "waiting_for": list(st.waiting_for),
        "waiting_what": st.waiting_what,
        "marked_by": st.marked_by,
        "skipped_reason": st.skipped_reason,
        "output": list(st.output),
        "ballots": _ballots(st),
        "undo": st.undo.value,
        "undo_error": st.undo_error,
        "can_vote": is_gate and st.status is StepStatus.waiting and access.can_vote(step.id),
        "can_mark_done": (not is_gate)
        and (st.status in (StepStatus.waiting, StepStatus.interrupted) or step.id in state.blocked)
        and access.can_mark_done(step.id),
        "can_decide": step.id in state.blocked and access.can_decide_any(step.id),
        "check_evidence": [check_evidence(c) for c in step.checks] if is_gate else [],
    }


def _is_percent(check: BaseModel, key: str) -> bool:
    field = type(check).model_fields.get(key)
    return field is not None and any(
        getattr(m, "func", None) is parse_percent for m in field.metadata
    )


def _figure(value: Any, *, percent: bool = False) -> str:
    """A value of a check as people read it: 1,500 / 0.5% / 250ms / yes."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value * 100:g}%" if percent else f"{value:,.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(_figure(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_figure(v)}" for k, v in value.items())
    return URL_PASSWORD.sub(r"\1***@", str(value))  # a database URL's password stays off the page


def check_evidence(check: str | BaseModel) -> dict[str, Any]:
    """A gate's check for the page: a label (its name, else its kind and target) and what it
    expects, one `key: value` each, figures formatted; an HTTP check's header values are not
    shown (they may carry credentials), only their names, nor a URL's password, nor a token."""
    if isinstance(check, str):
        return {"label": f"step {check}", "evidence": []}
    fields = check.model_dump(exclude_defaults=True, by_alias=True, exclude={"name"})
    kind = next((k for k in CHECK_KINDS if k in fields), "")
    label = str(getattr(check, "name", None) or "")
    if not label:
        label = f"{kind} {_figure(fields.pop(kind))}" if kind else kind
    evidence = []
    for key, value in fields.items():
        shown = (
            ", ".join(value)
            if key == "headers"
            else "••••••"  # a sentry check's token: a credential, even as a template
            if key == "token"
            else _figure(value, percent=_is_percent(check, key))
        )
        evidence.append({"key": key, "value": shown})
    return {"label": label, "evidence": evidence}


def waiting_on(plan: Plan, state: RunState) -> list[str]:
    """What the run waits for, in words: step titles and people's names."""
    if state.status.finished:
        return []
    ids = {s.id for s in plan.steps}

    def names(people: list[str]) -> str:
        return ", ".join(plan.people[p].name if p in plan.people else p for p in people)

    def title(step_id: str) -> str:
        return plan.step(step_id).label if step_id in ids else step_id

    lines = [
        f"a decision on {title(step_id)} ({why}): retry, skip, roll back or abort"
        for step_id, why in state.blocked.items()
    ]
    for st in state.steps.values():
        if st.status is not StepStatus.waiting or st.id not in ids:
            continue
        step = plan.step(st.id)
        if step.kind is StepKind.gate:
            missing = [a for a in step.approvers if a not in st.ballots]
            lines.append(f"votes at {step.label} from {names(missing) or 'its approvers'}")
        else:
            who = names(st.waiting_for) or "someone"
            lines.append(f"{who} to confirm {step.label}: {st.waiting_what}")
    return lines


SPARK_WIDTH, SPARK_HEIGHT = 120, 24


def sparkline_points(values: Sequence[float]) -> str:
    """An SVG polyline's points for a monitor's recent values, scaled to the sparkline's box."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = SPARK_WIDTH / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 2 - (v - low) / span * (SPARK_HEIGHT - 4):.1f}"
        for i, v in enumerate(values)
    )


def hypercare_panel(
    plan: Plan, state: RunState, access: Access, now: dt.datetime
) -> dict[str, Any] | None:
    """The hypercare panel: `hypercare_view` with sparklines and what this user may do."""
    from golive.engine.hypercare import hypercare_view

    shown = hypercare_view(plan, state, now)
    if shown is None:
        return None
    for monitor in shown["monitors"]:
        monitor["sparkline"] = sparkline_points(monitor["values"])
    wanted = plan.hypercare.exit.sign_off if plan.hypercare else []
    shown["can_close"] = shown["active"] and access.manager
    shown["can_sign_off"] = (
        shown["active"] and access.person in wanted and access.person not in shown["signed_off"]
    )
    shown["sign_off"] = list(wanted)
    return shown


def run_view(
    record: RunRecord,
    state: RunState,
    plan: Plan,
    *,
    access: Access,
    watchers: Sequence[Watcher],
    checklist: Sequence[ItemStatus],
    now: dt.datetime,
) -> dict[str, Any]:
    """Everything the run page shows."""
    graph = StepGraph(plan.steps)
    planned = _planned(plan, graph)
    order = graph.order()
    steps = [_step(plan.step(s), state.step(s), planned[s], state, access, now) for s in order]
    for row in steps:  # a title may say `{{ release }}`: shown with the run's values
        row["title"] = shown(
            row["title"], plan, env=state.env, release=state.release, run_id=state.run_id
        )
        row["named"] = row["title"] != row["id"]
    eta = eta_seconds(plan, state, now=now)
    end = state.finished_at if state.status.finished and state.finished_at else now
    elapsed = (end - state.started_at).total_seconds() if state.started_at else 0.0
    done = sum(1 for s in steps if s["status"] in ("succeeded", "skipped"))
    from golive.engine.hypercare import objectives_view

    return {
        "run": run_summary(record, state),
        "phase": state.phase,
        "objectives": objectives_view(plan, state) if state.status.finished else [],
        "hypercare": hypercare_panel(plan, state, access, now),
        "title": plan.title,
        "started_at": iso(state.started_at),
        "elapsed": elapsed,
        "progress": {"done": done, "total": len(steps)},
        "eta": eta,
        "eta_at": iso(now + dt.timedelta(seconds=eta)) if eta else None,
        "planned_total": max((p[1] for p in planned.values()), default=0.0),
        "last_seq": state.last_seq,
        "waiting_on": waiting_on(plan, state),
        "rollback": None
        if state.rollback_started_at is None
        else {
            "started_at": iso(state.rollback_started_at),
            "duration": state.rollback_duration,
            "complete": state.rollback_complete,
        },
        "steps": steps,
        "names": {pid: person.name for pid, person in plan.people.items()},
        "participants": [
            {
                "id": pid,
                "name": person.name,
                "role": person.role,
                "contact": person.contact,
                "watching": any(w.person == pid for w in watchers),
            }
            for pid, person in plan.people.items()
        ],
        "watchers": [{"user": w.user, "person": w.person, "name": w.name} for w in watchers],
        "updates": [
            {"seq": u.seq, "at": iso(u.at), "by": u.by, "text": u.text, "severity": u.severity}
            for u in reversed(state.updates)
        ],
        "issues": [
            {
                "id": i.id,
                "number": number,  # 1, 2, ... in the run: what people say on the call
                "at": iso(i.at),
                "by": i.by,
                "title": i.title,
                "severity": i.severity,
                "owner": i.owner,
                "step": i.step,
                "open": i.open,
                "resolution": i.resolution,
                "resolved_by": i.resolved_by,
                "resolved_at": iso(i.resolved_at),
                "comments": [{"at": iso(c.at), "by": c.by, "text": c.text} for c in i.comments],
                "can_resolve": i.open and access.can_resolve(i.owner, i.by),
                "source": i.source,
                "contact": i.contact if access.manager else None,  # a user's: managers only
            }
            for number, i in sorted(
                enumerate(state.issues.values(), start=1),
                key=lambda n_i: (not n_i[1].open, -n_i[0]),
            )
        ],
        "checklist": [
            {
                "id": s.item.id,
                "title": s.item.title,
                "owner": s.item.owner,
                "due": str(s.item.due) if s.item.due else None,
                "state": s.state.value,
                "done_by": s.last.by if s.done and s.last is not None else None,
                "done_for": s.item.owner if s.done and s.marked_for else None,
                "can_mark_done": not s.done and access.can_mark_item(s.item.id),
            }
            for s in checklist
        ],
        "notifications": {
            "sent": state.notifications_sent,
            "failing": [
                {
                    "recipient": recipient,
                    "attempt": f.attempt,
                    "error": f.error,
                    "retry_at": f.retry_at,
                }
                for recipient, f in state.notification_failures.items()
            ],
        },
        "acknowledged": dict(state.acknowledged),
        "you": {
            "user": access.user.name,
            "person": access.person,
            "roles": [r.value for r in ROLE_ORDER if r in access.roles],
            "shown_roles": access.shown_roles(),
            "can_post": access.can_post,
            "manager": access.manager,
        },
    }


def duration_text(value: float | None) -> str:
    """A duration for the page: '' when unknown, '<1s' under a second (never '2ms', which
    reads like '2m' from across the room)."""
    if value is None:
        return ""
    return "<1s" if value < 1 else format_duration(value)


def undo_shown(value: str) -> bool:
    return value != UndoStatus.none.value
