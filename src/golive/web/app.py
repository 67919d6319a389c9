"""The mission control application: `create_app(state_url)` returns the FastAPI app.

Errors are translated here, once: a GoliveError becomes a status code and `{"error": "..."}`
(RunNotFound 404, DecisionRejected 409, StoreError 503, any other 400), as does every
HTTPException and a request body that does not validate (422, one line per problem).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from golive import __version__
from golive.engine.checklist import ItemStatus, statuses
from golive.errors import DecisionRejected, GoliveError, RunNotFound, StoreError
from golive.store import EventStore, open_store
from golive.store.accounts import Accounts
from golive.store.coordination import LoginFailures, Presence
from golive.web.auth import Principal, check_csrf, identify, unauthorized
from golive.web.broker import RECHECK_INTERVAL, Broker
from golive.web.guard import MAX_BODY, Guard, Network
from golive.web.launch import ServedPlan
from golive.web.roles import Access
from golive.web.runs import RunEntry, Runs

if TYPE_CHECKING:
    from golive.notify.dispatch import Dispatcher

HERE = Path(__file__).parent
STATUS_OF = {RunNotFound: 404, DecisionRejected: 409, StoreError: 503}


@dataclass
class Mission:
    """What every request works with: the store, the runs, the broker, the accounts."""

    store: EventStore
    accounts: Accounts
    runs: Runs
    broker: Broker
    limiter: LoginFailures
    templates: Jinja2Templates
    state_url: str
    plans: dict[str, ServedPlan]

    def principal(self, request: Request) -> Principal:
        """The authenticated user; 401 for an anonymous request."""
        principal = identify(request, self.accounts)
        if principal is None:
            raise unauthorized()
        return principal

    def access(self, principal: Principal, run_id: str) -> tuple[RunEntry, Access]:
        """The run and the user's rights in it; 403 if they have no role in it."""
        entry = self.runs.entry(run_id)
        access = self.access_to(entry, principal)
        if not access.can_view:
            name, plan_id = principal.user.name, entry.record.plan_id
            unbound = principal.user.unbound_person
            hint = (
                f"link them to their person there: `golive user link {name} --person "
                f"{unbound} --plan {plan_id}` (their link to {unbound} names no go-live)"
                if unbound
                else f"grant one: `golive user grant {name} observer --plan {plan_id}`"
            )
            raise HTTPException(
                403, f"{name} has no role in go-live {plan_id}: an admin can {hint}"
            )
        return entry, access

    def access_to(self, entry: RunEntry, principal: Principal) -> Access:
        plan = self.runs.plan(entry)
        grants = self.accounts.grants(principal.user.name)
        return Access.of(principal.user, plan, started_by=entry.state.started_by, grants=grants)

    def plan_access(self, principal: Principal, plan: ServedPlan) -> Access:
        """The user's rights in a go-live of a served plan, before any run of it: from the
        plan's people, the grants, and admin (no run, so nobody is its starter)."""
        grants = self.accounts.grants(principal.user.name)
        return Access.of(principal.user, plan.file.plan, started_by="", grants=grants)

    def served(self, plan_id: str) -> ServedPlan:
        """The plan this server may start; 404 if it was not given with `--plan`."""
        found = self.plans.get(plan_id)
        if found is None:
            known = ", ".join(sorted(self.plans)) or "none: start the server with --plan PATH"
            raise HTTPException(404, f"no plan '{plan_id}' on this server (known: {known})")
        return found

    def checklist(self, entry: RunEntry) -> list[ItemStatus]:
        plan = self.runs.plan(entry)
        marks = self.store.checklist_marks(plan.golive)
        return statuses(plan, marks, now=dt.datetime.now(dt.UTC))


def mission(request: Request) -> Mission:
    found: Mission = request.app.state.mission
    return found


def reader(request: Request) -> Principal:
    """Dependency: the authenticated user (401 if anonymous), before the body is read."""
    return mission(request).principal(request)


def writer(request: Request) -> Principal:
    """Dependency: the user of a state-changing request: 401 anonymous, 403 without the
    session's CSRF token."""
    principal = mission(request).principal(request)
    check_csrf(request, principal)
    return principal


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def replica_id() -> str:
    """This process among the replicas of mission control on one store."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def _dispatcher(state_url: str, plans: dict[str, ServedPlan]) -> Dispatcher:
    from golive.engine.clock import clock_from_environment
    from golive.notify.dispatch import Dispatcher

    served = {plan.id: (plan.file.plan, plan.path) for plan in plans.values()}
    dispatcher = Dispatcher(state_url, plans=served, clock=clock_from_environment())
    dispatcher.start()
    return dispatcher


def create_app(
    state_url: str,
    *,
    poll_interval: float = 0.05,
    plans: dict[str, ServedPlan] | None = None,
    trusted_proxies: Sequence[Network] = (),
    max_body: int = MAX_BODY,
    recheck_interval: float = RECHECK_INTERVAL,
    listen: bool = True,
    deliver: bool = False,
) -> FastAPI:
    """Mission control for the runs of the state store at `state_url` (opened now); `plans`
    are those its managers may start from the browser (`golive serve --plan`); X-Forwarded-For
    is believed from `trusted_proxies` only; a request body may have `max_body` bytes; an open
    stream re-checks its token or session every `recheck_interval` seconds; on PostgreSQL the
    live streams are pushed by LISTEN/NOTIFY unless `listen` is False (then they poll); with
    `deliver` (`golive serve`), a background courier delivers the runs' and the checklists'
    notifications (golive.notify.dispatch)."""
    store = open_store(state_url)
    runs = Runs(store)
    accounts = Accounts(store)
    broker = Broker(
        runs,
        interval=poll_interval,
        recheck=accounts.live_credentials,
        recheck_interval=recheck_interval,
        presence=Presence(store, replica=replica_id()),
        listen=listen,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broker.start()
        dispatcher = _dispatcher(state_url, plans or {}) if deliver else None
        try:
            yield
        finally:
            if dispatcher is not None:
                await asyncio.to_thread(dispatcher.close)
            await broker.close()
            store.close()

    app = FastAPI(
        title="golive mission control",
        version=__version__,
        description="The live go-live call: runs, steps, gates, updates and issues.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: nothing may
        redoc_url=None,  # come from the internet; /openapi.json is the API's description
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.mission = Mission(
        store,
        accounts,
        runs,
        broker,
        LoginFailures(store),
        templates,
        state_url,
        dict(plans or {}),
    )
    app.add_middleware(Guard, accounts=accounts, trusted_proxies=trusted_proxies, max_body=max_body)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(GoliveError)
    async def _golive_error(request: Request, exc: GoliveError) -> Response:
        status = next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 400)
        return _error(status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
            for error in exc.errors()
        ]
        return _error(422, "; ".join(problems) or "invalid request")

    from golive.web import api, feedback, pages, postmortem

    app.include_router(api.router)
    app.include_router(feedback.api_router)
    app.include_router(pages.router)
    app.include_router(feedback.router)
    app.include_router(postmortem.api)
    app.include_router(postmortem.pages)
    return app
