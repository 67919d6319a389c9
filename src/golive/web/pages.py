"""The pages: login, the runs, and the run page (server-rendered; a few lines of JS keep the
run page live over the event stream)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from golive.engine.events import EVENT_TYPES
from golive.engine.operator import engine_alive
from golive.errors import RunNotFound
from golive.plan.values import format_duration
from golive.web.api import plan_json
from golive.web.app import Mission, mission
from golive.web.auth import (
    SESSION_COOKIE,
    Principal,
    check_same_origin,
    clear_session_cookie,
    csrf_token,
    identify,
    set_session_cookie,
)
from golive.web.feedback import feedback_url
from golive.web.roles import Access
from golive.web.runs import RunEntry
from golive.web.views import duration_text, run_summary, run_view

router = APIRouter(include_in_schema=False)
STREAM_TYPES = sorted(EVENT_TYPES)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _page(
    m: Mission, request: Request, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    base = {
        "user": principal.user if principal else None,
        "csrf": principal.csrf if principal else "",
        "duration": duration_text,
    }
    return m.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


@router.get("/login")
def login_form(
    request: Request, next: str | None = None, m: Mission = Depends(mission)
) -> Response:
    try:
        known = identify(request, m.accounts) is not None
    except HTTPException:  # a token that is not valid (revoked): the form is the way back in
        known = False
    if known:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _page(m, request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    m: Mission = Depends(mission),
) -> Response:
    check_same_origin(request)
    client = request.client.host if request.client else "unknown"
    keys = [f"user:{username.lower()}", f"addr:{client}"]
    wait = m.limiter.wait(keys)
    if wait > 0:
        error = f"too many failed logins: try again in {int(wait) + 1} s"
        response = _page(m, request, "login.html", {"next": next, "error": error}, 429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    user = m.accounts.authenticate(username, password) if username and password else None
    if user is None:
        m.limiter.failed(keys)
        error = "wrong user name or password"
        return _page(m, request, "login.html", {"next": next, "error": error}, 401)
    m.limiter.succeeded(keys[0])
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, redirect, m.accounts.create_session(user.name))
    return redirect


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), m: Mission = Depends(mission)) -> Response:
    check_same_origin(request)
    principal = identify(request, m.accounts)
    session = request.cookies.get(SESSION_COOKIE)
    if principal is not None and session and csrf == csrf_token(session):
        m.accounts.end_session(session)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/")
def runs_page(request: Request, m: Mission = Depends(mission)) -> Response:
    principal = identify(request, m.accounts)
    if principal is None:
        return _login_redirect(request)
    shown = []
    for record in reversed(m.store.runs()):
        entry = m.runs.entry(record.id)
        if entry.state.plan_text and m.access_to(entry, principal).can_view:
            shown.append(
                {**run_summary(entry.record, entry.state), "title": m.runs.plan(entry).title}
            )
    plans = []
    for plan in m.plans.values():
        access = m.plan_access(principal, plan)
        if access.can_view:
            plans.append(plan_json(m, plan, access))
    return _page(m, request, "runs.html", {"runs": shown, "plans": plans})


def _feedback_link(m: Mission, entry: RunEntry, access: Access, public_url: str) -> str | None:
    """The public feedback form's link, for the run's managers, if its plan asks for feedback."""
    hypercare = m.runs.plan(entry).hypercare
    if not access.manager or hypercare is None or not hypercare.feedback:
        return None
    return feedback_url(store=m.store, run_id=entry.record.id, public_url=public_url)


def _view(m: Mission, principal: Principal, run_id: str, public_url: str) -> dict[str, Any]:
    entry, access = m.access(principal, run_id)
    checklist = m.checklist(entry)
    with entry.lock:
        view = run_view(
            entry.record,
            entry.state,
            m.runs.plan(entry),
            access=access,
            watchers=m.broker.watchers(run_id),
            checklist=checklist,
            now=dt.datetime.now(dt.UTC),
        )
        stalled = (
            not entry.state.status.finished
            or entry.state.rollback_requested
            or entry.state.phase == "hypercare"
        ) and not engine_alive(store=m.store, run_id=run_id)
    view["timeline"] = timeline(view)
    view["feedback_url"] = _feedback_link(m, entry, access, public_url)
    view["engine"] = {
        "stalled": stalled,
        "can_resume": stalled and access.manager and entry.record.plan_id in m.plans,
        "served": entry.record.plan_id in m.plans,
    }
    return view


def _run_response(m: Mission, request: Request, run_id: str, template: str) -> Response:
    principal = identify(request, m.accounts)
    if principal is None:
        return _login_redirect(request)
    try:
        view = _view(m, principal, run_id, str(request.base_url))
    except RunNotFound as exc:
        return _page(m, request, "error.html", {"message": exc.message}, 404)
    except HTTPException as exc:
        return _page(m, request, "error.html", {"message": exc.detail}, exc.status_code)
    return _page(m, request, template, {"v": view, "stream_types": STREAM_TYPES})


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request, m: Mission = Depends(mission)) -> Response:
    return _run_response(m, request, run_id, "run.html")


@router.get("/runs/{run_id}/live")
def run_live(run_id: str, request: Request, m: Mission = Depends(mission)) -> Response:
    """The live part of the run page, fetched again by the page when an event arrives."""
    return _run_response(m, request, run_id, "live.html")


TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)


def _at(value: str | None, start: dt.datetime) -> float | None:
    return (dt.datetime.fromisoformat(value) - start).total_seconds() if value else None


def timeline(view: dict[str, Any]) -> dict[str, Any]:
    """The Gantt-like timeline: each step's planned bar (from the estimates) against its actual
    one, the updates and issues as marks on their own row, and a time axis; positions are
    percentages of a scale that holds all of it."""
    start = dt.datetime.fromisoformat(view["started_at"]) if view["started_at"] else None
    finished = view["run"]["finished_at"] is not None
    # While running, the scale holds the whole plan; once finished, what actually happened.
    scale: float = max(view["elapsed"] if finished else view["planned_total"], view["elapsed"], 1.0)
    actuals: dict[str, tuple[float, float]] = {}
    for step in view["steps"]:
        begin = _at(step["started_at"], start) if start else None
        if begin is not None:
            actuals[step["id"]] = (begin, step["duration"] or 0.0)
            scale = max(scale, begin + (step["duration"] or 0.0))

    def pct(seconds: float) -> float:
        return round(100 * float(seconds) / scale, 2)

    def span(begin: float, length: float) -> tuple[float, float]:
        """(left, width) in percent, cut at the scale's end (a finished run's plan may be
        longer than what happened)."""
        left = min(pct(begin), 100.0)
        return left, min(pct(length), 100.0 - left)

    bars = []
    for step in view["steps"]:
        length = step["planned_end"] - step["planned_start"]
        actual = actuals.get(step["id"])
        bars.append(
            {
                "id": step["id"],
                "title": step["title"],
                "status": step["status"],
                "planned": span(step["planned_start"], length),
                "milestone": length == 0
                and step["kind"] == "gate"
                and pct(step["planned_start"]) <= 100,
                "actual": None if actual is None else span(*actual),
            }
        )
    marks = []
    for kind, items in (("update", view["updates"]), ("issue", view["issues"])):
        for item in items:
            offset = _at(item["at"], start) if start else None
            if offset is not None:
                label = item.get("text") or f"#{item.get('number')} {item.get('title')}"
                marks.append({"kind": kind, "at": pct(offset), "severity": item["severity"],
                              "label": f"{item['by']}: {label}"})  # fmt: skip
    step = next((t for t in TICKS if scale / t <= 8), TICKS[-1])
    ticks = [
        {"at": pct(t), "label": f"+{format_duration(t)}" if t else "start"}
        for t in range(0, int(scale) + 1, step)
    ]
    return {"bars": bars, "marks": marks, "ticks": ticks, "now": pct(view["elapsed"])}
