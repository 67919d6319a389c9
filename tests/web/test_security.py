"""Mission control against an attacker: every route refuses whoever may not use it (anonymous, a
user of another go-live, a disabled user, a revoked token, a viewer writing), and gives no data
away when it does; bodies are bounded and refused before authentication costs anything; stored
text comes back escaped; every answer carries the security headers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, Route
from tests.web.conftest import Engine, Person, bearer, golive_command, login, running

from golive.store import open_store
from golive.store.accounts import Accounts, secret_hash
from golive.store.schema import users
from golive.web import create_app
from golive.web.guard import (
    ANONYMOUS_MAX_BODY,
    CONTENT_SECURITY_POLICY,
    MAX_BODY,
    Guard,
)
from golive.web.launch import load_served_plans

TEMPLATES = Path(__file__).parents[2] / "src" / "golive" / "web" / "templates"
MARKER = "secret-marker-4711"  # posted to the run: no refused answer may contain it

# Every route of the app, by what it is: a new route fails `test_every_route_is_in_the_table`
# until it is added here (and so to every check below).
PUBLIC, LOGIN, LOGOUT, PAGE, READ, LIST, WRITE, START, STREAM, FEEDBACK = (
    "public", "login", "logout", "page", "read", "list", "write", "start", "stream", "feedback",
)  # fmt: skip
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,  # the API's description: no data of any run
    ("GET", "/static/{path}"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): LOGIN,
    ("POST", "/logout"): LOGOUT,
    ("GET", "/"): PAGE,
    ("GET", "/runs/{run_id}"): PAGE,
    ("GET", "/runs/{run_id}/live"): PAGE,
    ("GET", "/api/plans"): LIST,
    ("GET", "/api/runs"): LIST,
    ("GET", "/api/runs/{run_id}"): READ,
    ("GET", "/api/runs/{run_id}/events"): READ,
    ("GET", "/api/runs/{run_id}/stream"): STREAM,
    ("POST", "/api/plans/{plan_id}/runs"): START,
    ("POST", "/api/runs/{run_id}/resume"): WRITE,
    ("POST", "/api/runs/{run_id}/updates"): WRITE,
    ("POST", "/api/runs/{run_id}/gates/{step_id}/votes"): WRITE,
    ("POST", "/api/runs/{run_id}/steps/{step_id}/done"): WRITE,
    ("POST", "/api/runs/{run_id}/steps/{step_id}/decision"): WRITE,
    ("POST", "/api/runs/{run_id}/decision"): WRITE,
    ("POST", "/api/runs/{run_id}/issues"): WRITE,
    ("POST", "/api/runs/{run_id}/issues/{issue_id}/comments"): WRITE,
    ("POST", "/api/runs/{run_id}/issues/{issue_id}/resolve"): WRITE,
    ("POST", "/api/runs/{run_id}/checklist/{item_id}/done"): WRITE,
    ("POST", "/api/runs/{run_id}/hypercare/close"): WRITE,
    ("POST", "/api/runs/{run_id}/acks"): WRITE,
    ("POST", "/api/runs/{run_id}/hypercare/sign-off"): WRITE,
    # anonymous, the token in the path is the permission: a wrong one (or a run whose plan asks
    # for no feedback, as here) is the 404 of any unknown address (tests/web/test_feedback.py)
    ("GET", "/feedback/{run_id}/{token}"): FEEDBACK,
    ("POST", "/feedback/{run_id}/{token}"): FEEDBACK,
    ("POST", "/api/feedback/{run_id}/{token}"): FEEDBACK,
    ("GET", "/runs/{run_id}/postmortem"): PAGE,
    ("GET", "/postmortem.css"): PUBLIC,  # the review's stylesheet: no data of any run
    ("POST", "/api/runs/{run_id}/postmortem/lessons"): WRITE,
    ("POST", "/api/runs/{run_id}/postmortem/follow-ups"): WRITE,
}
BODIES: dict[str, dict[str, Any]] = {
    "/runs": {"env": "staging", "rehearsal": True},
    "/updates": {"text": "x", "severity": "info"},
    "/votes": {"vote": "go"},
    "/steps/{step_id}/decision": {"decision": "skip"},
    "/{run_id}/decision": {"decision": "abort"},
    "/issues": {"title": "x"},
    "/comments": {"text": "x"},
    "/resolve": {"resolution": "x"},
    "/hypercare/close": {"why": "x"},
    "/hypercare/sign-off": {},
    "/acks": {"item": "1"},
    "/{token}": {"what": "x"},
    "/lessons": {"text": "x", "kind": "lesson"},
    "/follow-ups": {"text": "x", "owner": "olly"},
}


def app_routes(routes: Sequence[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, walking into included routers."""
    found = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            inner = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
            found |= app_routes(included.routes, inner)
        elif isinstance(route, Mount):
            found.add(("GET", f"{prefix}{route.path}/{{path}}"))
        elif isinstance(route, Route):
            found |= {(m, prefix + route.path) for m in (route.methods or set()) - {"HEAD"}}
        else:
            raise AssertionError(f"a route of a kind this test does not know: {route!r}")
    return found


def concrete(path: str, run_id: str) -> str:
    values = {
        "run_id": run_id, "plan_id": "call", "step_id": "confirm", "issue_id": "1",
        "item_id": "backup", "path": "mission.css", "token": "not-the-token",
    }  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)


def body_for(path: str) -> dict[str, Any] | None:
    return next((body for end, body in BODIES.items() if path.endswith(end)), None)


def test_every_route_is_in_the_table(app_client: TestClient) -> None:
    app = app_client.app
    assert isinstance(app, FastAPI)
    assert app_routes(app.routes) == set(ROUTES)


@pytest.fixture
def intruders(store_url: str, people: dict[str, Person]) -> dict[str, dict[str, str]]:
    """Credentials that must get nothing: a user of another go-live who is `mia` there (the
    plan `call` has a `mia` too), a disabled user's token and session, a revoked token."""
    with open_store(store_url) as store:
        accounts = Accounts(store)
        accounts.add_user("other", password="other-password", person="mia", plan_id="elsewhere")
        other = accounts.create_token("other")
        accounts.add_user("gone", password="gone-password", person="olly", plan_id="call")
        gone_token = accounts.create_token("gone")
        gone_session = accounts.create_session("gone")
        accounts.set_disabled("gone", True)
        revoked = accounts.create_token("olly")
        accounts.revoke_token(revoked_id(accounts, "olly"))
    return {
        "other go-live": {"Authorization": f"Bearer {other}"},
        "disabled token": {"Authorization": f"Bearer {gone_token}"},
        "disabled session": {"Cookie": f"golive_session={gone_session}"},
        "revoked token": {"Authorization": f"Bearer {revoked}"},
        "anonymous": {},
    }


def revoked_id(accounts: Accounts, name: str) -> str:
    return accounts.list_tokens(name)[-1].id


def expected_status(kind: str, who: str, headers: dict[str, str]) -> set[int]:
    """What `who` may get from a route of this kind: only refusals (or public answers). A
    token that is not valid (revoked, its user disabled) is a 401 wherever it is sent."""
    unauthenticated = who != "other go-live"
    bad_token = unauthenticated and "Authorization" in headers
    if kind == PUBLIC:
        return {200, 303}  # 303: the login page sends who is logged in on
    if kind == FEEDBACK:
        return {401, 404} if bad_token else {404}  # a token that is not valid: 401 on a POST
    if kind == LOGIN:
        return {401, 429}  # no password: a wrong login (five: locked)
    if kind == LOGOUT:
        return {401} if bad_token else {303}
    if kind == PAGE:
        if unauthenticated:
            return {401} if bad_token else {303}
        return {200, 403}  # 200: the runs page, without the run (checked below)
    if kind == LIST:
        return {401} if unauthenticated else {200}  # 200: an empty list (checked below)
    if kind == START:
        return {401} if unauthenticated else {403}
    return {401} if unauthenticated else {403}


@pytest.mark.slow
def test_no_route_gives_an_intruder_anything(
    engine: Engine,
    people: dict[str, Person],
    intruders: dict[str, dict[str, str]],
    store_url: str,
    plan_path: Path,
) -> None:
    app = create_app(store_url, plans=load_served_plans([plan_path]))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        posted = client.post(
            f"/api/runs/{engine.run_id}/updates",
            json={"text": MARKER},
            headers=bearer(people["mia"]),
        )
        assert posted.status_code == 200, posted.text
        wrong = []
        for (method, template), kind in sorted(ROUTES.items()):
            path = concrete(template, engine.run_id)
            for who, headers in intruders.items():
                client.cookies.clear()
                response = client.request(
                    method, path, json=body_for(template), headers=headers, follow_redirects=False
                )
                if response.status_code not in expected_status(kind, who, headers):
                    wrong.append(f"{who} {method} {path}: {response.status_code}")
                if MARKER in response.text or (kind != PUBLIC and engine.run_id in response.text):
                    wrong.append(f"{who} {method} {path}: the run's data in the answer")
                if kind == PAGE and response.status_code == 303:
                    assert response.headers["location"].startswith("/login")
        assert wrong == []
        # the runs page and the lists of a user of another go-live hold nothing of this one
        other = intruders["other go-live"]
        assert client.get("/api/runs", headers=other).json() == []
        assert client.get("/api/plans", headers=other).json() == []
    assert engine.status()["steps"]["confirm"] == "waiting"  # nothing moved the run


@pytest.mark.slow
def test_a_viewer_reads_every_read_route_and_writes_through_none(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    viewer = bearer(people["viewer"])
    for (_, template), kind in sorted(ROUTES.items()):
        path = concrete(template, engine.run_id)
        if kind in (READ, LIST):
            assert app_client.get(path, headers=viewer).status_code == 200, path
        elif kind in (WRITE, START):
            response = app_client.post(path, json=body_for(template), headers=viewer)
            assert response.status_code == 403, (path, response.text)
    login(app_client, people["viewer"])
    assert app_client.get(f"/runs/{engine.run_id}").status_code == 200
    assert engine.status()["steps"]["confirm"] == "waiting"


# --- bodies: bounded, and never read before authentication -------------------------------------


class Asgi:
    """One request straight through the app: what it answered, and how much body it read."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def post(
        self, path: str, *, headers: dict[str, str], size: int, chunked: bool = False
    ) -> tuple[int, int]:
        return asyncio.run(self._post(path, headers=headers, size=size, chunked=chunked))

    async def _post(
        self, path: str, *, headers: dict[str, str], size: int, chunked: bool
    ) -> tuple[int, int]:
        chunk = b"x" * 65536
        sent = 0
        answer: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent >= size:
                return {"type": "http.disconnect"}
            sent += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": sent < size}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]

        length = [] if chunked else [(b"content-length", str(size).encode())]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8150),
            "headers": [
                (b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *length,
                *((k.lower().encode(), v.encode()) for k, v in headers.items()),
            ],
        }  # fmt: skip
        await self.app(scope, receive, send)
        return answer["status"], sent


async def greedy(scope: Any, receive: Any, send: Any) -> None:
    """An app that reads every byte it is given, then answers 200: what the guard protects."""
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def guarded(store_url: str, people: dict[str, Person]) -> Iterator[Asgi]:
    with open_store(store_url) as store:
        yield Asgi(Guard(greedy, accounts=Accounts(store)))


GIANT = 200 * 1024 * 1024


def test_an_anonymous_giant_post_is_refused_before_a_byte_of_it_is_read(
    guarded: Asgi,
) -> None:
    status, read = guarded.post("/api/runs/r-1/updates", headers={}, size=GIANT)
    assert (status, read) == (401, 0)
    status, read = guarded.post("/api/runs/r-1/updates", headers={}, size=GIANT, chunked=True)
    assert (status, read) == (401, 0)


def test_an_authenticated_post_above_the_bound_is_a_413_read_no_further_than_it(
    guarded: Asgi, people: dict[str, Person]
) -> None:
    token = bearer(people["mia"])
    assert guarded.post("/api/runs/r-1/updates", headers=token, size=65536) == (200, 65536)
    status, read = guarded.post("/api/runs/r-1/updates", headers=token, size=GIANT)
    assert (status, read) == (413, 0)  # from Content-Length alone
    status, read = guarded.post("/api/runs/r-1/updates", headers=token, size=GIANT, chunked=True)
    assert status == 413
    assert read <= MAX_BODY + 65536  # counted while it arrived, and dropped past the bound


def test_the_login_form_takes_a_small_body_only(guarded: Asgi) -> None:
    status, read = guarded.post("/login", headers={}, size=ANONYMOUS_MAX_BODY + 1)
    assert (status, read) == (413, 0)
    status, read = guarded.post("/login", headers={}, size=GIANT, chunked=True)
    assert status == 413
    assert read <= ANONYMOUS_MAX_BODY + 65536


@pytest.mark.slow
def test_every_post_route_refuses_a_body_above_the_bound(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    big = b'{"text": "' + b"x" * (MAX_BODY + 1) + b'"}'
    boss = {**bearer(people["boss"]), "Content-Type": "application/json"}
    posts = [template for (method, template) in ROUTES if method == "POST"]
    for template in posts:
        path = concrete(template, engine.run_id)
        whole = app_client.post(path, content=big, headers=boss)
        assert whole.status_code == 413, (path, whole.text)
        bound = "16 KiB" if ROUTES[("POST", template)] == FEEDBACK else "1024 KiB"
        assert f"larger than {bound}" in whole.json()["error"]
        chunked = app_client.post(path, content=iter([big[:700_000], big[700_000:]]), headers=boss)
        assert chunked.status_code == 413, (path, chunked.text)
        anonymous = app_client.post(path, content=big, headers={"Cookie": ""})
        assert anonymous.status_code in (401, 413), path
    assert engine.status()["steps"]["confirm"] == "waiting"


# --- every answer carries the security headers; no template needs inline script or style -------


def test_every_answer_carries_the_security_headers(
    app_client: TestClient, people: dict[str, Person]
) -> None:
    answers = [
        app_client.get("/login"),
        app_client.get("/api/health"),
        app_client.get("/static/mission.css"),
        app_client.get("/api/runs"),  # 401
        app_client.get("/api/runs/r-nope", headers=bearer(people["mia"])),  # 404
        app_client.post(  # 413
            "/api/runs/r-1/updates", content=b"x" * (MAX_BODY + 1), headers=bearer(people["mia"])
        ),
        app_client.get("/", follow_redirects=False),  # 303
    ]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, answer.url
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-frame-options"] == "DENY"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_no_template_has_inline_script_style_or_handler() -> None:
    for template in sorted(TEMPLATES.glob("*.html")):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\sstyle\s*=", text), template.name
        assert not re.search(r"<style", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        for script in re.findall(r"<script[^>]*>", text):
            assert 'src="/static/' in script, (template.name, script)


# --- stored text comes back escaped ------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
XSS_PLAN = f"""\
golive: xss
title: 'Go-live {SCRIPT}'
people:
  evil: {{name: '{IMG}', role: '{SCRIPT}', contact: '{IMG}'}}
checklist:
  - {{id: item, title: '{SCRIPT}', owner: evil}}
environments:
  staging: {{}}
steps:
  - {{id: vote, gate: '{IMG}', approvers: [evil]}}
  - {{id: wait, title: '{SCRIPT}', owner: evil, manual: '{IMG}'}}
  - id: later
    gate: '{SCRIPT}'
    needs: [wait]
    approvers: [evil]
    checks:
      - {{name: '{IMG}', run: 'true'}}
      - {{http: 'https://shop.example/{SCRIPT}', body: '{IMG}'}}
"""


def test_every_stored_text_comes_back_escaped_in_the_pages(store_url: str, tmp_path: Path) -> None:
    plan = tmp_path / "xss.golive.yaml"
    plan.write_text(XSS_PLAN, encoding="utf-8")
    with open_store(store_url) as store:
        accounts = Accounts(store)
        accounts.add_user("evil", password="evil-password", person="evil", plan_id="xss")
        token = {"Authorization": f"Bearer {accounts.create_token('evil')}"}
    with running(plan, store_url, tmp_path, until="wait") as run_id:
        app = create_app(store_url, plans=load_served_plans([plan]))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            api = f"/api/runs/{run_id}"
            for path, body in [
                ("/updates", {"text": SCRIPT + IMG}),
                ("/issues", {"title": SCRIPT + IMG, "owner": "evil", "step": "wait"}),
                ("/issues/ISSUE/comments", {"text": SCRIPT + IMG}),
                ("/issues/ISSUE/resolve", {"resolution": SCRIPT + IMG}),
                ("/gates/vote/votes", {"vote": "go", "reason": SCRIPT + IMG}),
            ]:
                issue = str(_first_issue(client, api, token))
                answer = client.post(api + path.replace("ISSUE", issue), json=body, headers=token)
                assert answer.status_code == 200, (path, answer.text)
            login(client, Person("evil", "evil", "", "evil-password"))
            pages = [client.get(f"/runs/{run_id}").text, client.get("/").text]
            pages.append(client.get(f"/runs/{run_id}/live").text)
    for html in pages:
        assert "<script>alert" not in html
        assert "<img src=x" not in html
    run_page = pages[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in run_page
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in run_page


def _first_issue(client: TestClient, api: str, token: dict[str, str]) -> int | str:
    issues = client.get(api, headers=token).json()["issues"]
    return issues[0]["id"] if issues else "0"


# --- a person id means something in its own go-live only ----------------------------------------


def _twin_plan(golive: str) -> str:
    return f"""\
golive: {golive}
title: Go-live {golive}
people:
  own: {{name: Owner of {golive}}}
environments:
  staging: {{}}
steps:
  - {{id: only, owner: own, run: "echo {golive}"}}
"""


def test_a_person_of_one_go_live_reads_nothing_of_another_with_the_same_person_id(
    store_url: str, tmp_path: Path
) -> None:
    runs = {}
    for golive in ("alpha", "beta"):
        plan = tmp_path / f"{golive}.golive.yaml"
        plan.write_text(_twin_plan(golive), encoding="utf-8")
        ran = golive_command("run", str(plan), "--env", "staging", "--state", store_url,
                             "--plain", cwd=tmp_path)  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        with open_store(store_url) as store:
            runs[golive] = store.runs()[-1].id
    with open_store(store_url) as store:
        accounts = Accounts(store)
        accounts.add_user("ann", password="ann-password", person="own", plan_id="alpha")
        token = {"Authorization": f"Bearer {accounts.create_token('ann')}"}
        accounts.add_user("old", password="old-password")
        old = {"Authorization": f"Bearer {accounts.create_token('old')}"}
        with store.transaction("link old as before 0004 in", write=True) as connection:
            connection.execute(users.update().where(users.c.name == "old").values(person="own"))
    app = create_app(store_url)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        listed = client.get("/api/runs", headers=token).json()
        assert [r["id"] for r in listed] == [runs["alpha"]]
        assert client.get(f"/api/runs/{runs['alpha']}", headers=token).status_code == 200
        for path in ("", "/events", "/stream"):
            answer = client.get(f"/api/runs/{runs['beta']}{path}", headers=token)
            assert answer.status_code == 403, path
            assert "echo beta" not in answer.text
        # a link from before links named a go-live grants nothing, and the 403 says so
        assert client.get("/api/runs", headers=old).json() == []
        refused = client.get(f"/api/runs/{runs['alpha']}", headers=old)
        assert refused.status_code == 403
        assert "`golive user link old --person own --plan alpha`" in refused.json()["error"]
        login(client, Person("ann", "own", "", "ann-password"))
        assert client.get(f"/runs/{runs['beta']}").status_code == 403
        assert runs["beta"] not in client.get("/").text


def test_an_open_stream_s_credentials_stay_valid_until_revoked_ended_or_disabled(
    store_url: str, people: dict[str, Person]
) -> None:
    with open_store(store_url) as store:
        accounts = Accounts(store)
        session, other = accounts.create_session("mia"), accounts.create_session("olly")
        token = accounts.create_token("alba")
        held = {secret_hash(session), secret_hash(other), secret_hash(token), "f" * 64}
        assert accounts.live_credentials(held) == held - {"f" * 64}
        accounts.end_session(other)
        accounts.revoke_tokens("alba")
        assert accounts.live_credentials(held) == {secret_hash(session)}
        accounts.set_disabled("mia", True)
        assert accounts.live_credentials(held) == set()
