"""Mission control's post-mortem: the review page of a run, for everyone on the go-live, and
the API through which its managers add lessons and follow-ups (events, like everything else)."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from golive.errors import RunNotFound
from golive.report.postmortem.load import load_postmortem
from golive.report.postmortem.notes import MAX_TEXT, add_follow_up, add_lesson
from golive.report.postmortem.render import html_body
from golive.web.api import WRITE_ERRORS
from golive.web.app import Mission, mission, writer
from golive.web.auth import Principal, identify
from golive.web.pages import _login_redirect, _page

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api")
Writer = Annotated[Principal, Depends(writer)]
Missions = Annotated[Mission, Depends(mission)]


class LessonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    kind: str = Field(default="lesson", pattern=r"^(went_well|could_be_better|lesson)$")


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    owner: str = Field(min_length=1, max_length=64)
    due: str | None = Field(default=None, max_length=10)


class Added(BaseModel):
    seq: int
    message: str


@pages.get("/postmortem.css")
def postmortem_css() -> Response:
    """The report's stylesheet (the page may not carry inline styles)."""
    text = (
        resources.files("golive.report.postmortem")
        .joinpath("templates/postmortem.css")
        .read_text(encoding="utf-8")
    )
    return Response(text, media_type="text/css", headers={"Cache-Control": "max-age=300"})


@pages.get("/runs/{run_id}/postmortem")
def postmortem_page(run_id: str, request: Request, m: Mission = Depends(mission)) -> Response:
    principal = identify(request, m.accounts)
    if principal is None:
        return _login_redirect(request)
    try:
        entry, access = m.access(principal, run_id)
        report = load_postmortem(store=m.store, run_id=entry.record.id)
    except RunNotFound as exc:
        return _page(m, request, "error.html", {"message": exc.message}, 404)
    except HTTPException as exc:
        return _page(m, request, "error.html", {"message": exc.detail}, exc.status_code)
    context = {
        "report": Markup(html_body(report)),
        "run": entry.record,
        "manager": access.manager and access.person is not None,
        "people": sorted(m.runs.plan(entry).people),
        "last_seq": entry.state.last_seq,
    }
    return _page(m, request, "postmortem.html", context)


@api.post("/runs/{run_id}/postmortem/lessons", responses=WRITE_ERRORS)
def post_lesson(run_id: str, body: LessonIn, who: Writer, m: Missions) -> Added:
    """Add a line to the review (went_well, could_be_better or lesson); managers only."""
    entry, access = m.access(who, run_id)
    if not access.manager or access.person is None:
        raise HTTPException(403, "only the run's managers add to its post-mortem")
    plan = m.runs.plan(entry)
    record = add_lesson(
        m.store, entry.record, plan, text=body.text, kind=body.kind, by=access.person
    )
    m.runs.sync(entry.record.id)
    return Added(seq=record.seq, message="added to the review")


@api.post("/runs/{run_id}/postmortem/follow-ups", responses=WRITE_ERRORS)
def post_follow_up(run_id: str, body: FollowUpIn, who: Writer, m: Missions) -> Added:
    """Add a follow-up with its owner and due date (YYYY-MM-DD); managers only."""
    entry, access = m.access(who, run_id)
    if not access.manager or access.person is None:
        raise HTTPException(403, "only the run's managers add to its post-mortem")
    plan = m.runs.plan(entry)
    record = add_follow_up(
        m.store,
        entry.record,
        plan,
        text=body.text,
        owner=body.owner,
        due=body.due,
        by=access.person,
    )
    m.runs.sync(entry.record.id)
    return Added(seq=record.seq, message="follow-up added")
