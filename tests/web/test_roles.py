"""The role matrix: every state-changing endpoint, asked by every role, anonymously, and with a
session whose CSRF token is wrong, answers exactly the status expected; the run is driven by a
real engine process, waiting for olly to confirm a manual step."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import Engine, Person, bearer, login

from golive.store import open_store
from golive.store.accounts import Accounts, Role

ANON, BAD_CSRF = "anonymous", "wrong-csrf"
ROLES = ["mia", "alba", "olly", "obi", "stranger", "boss", "viewer"]
SKIP = None  # allowed, but it would change the run for the rows after it: tested on its own

# (what, method, path, body): {asker: status}. The run waits at `confirm` (olly's manual
# step); the gate `go` is not open yet; `finish` has not started; `prepare` succeeded; ISSUE
# was raised by olly, with no owner. 409: allowed, and refused by the run's state.
MATRIX: list[tuple[str, str, dict[str, Any] | None, dict[str, int | None]]] = [
    (
        "updates",
        "/updates",
        {"text": "all good", "severity": "info"},
        {
            "mia": 200,
            "alba": 200,
            "olly": 200,
            "obi": 403,
            "stranger": 403,
            "boss": 200,
            "viewer": 403,
        },
    ),
    (
        "vote",
        "/gates/go/votes",
        {"vote": "go"},
        {
            "mia": 403,
            "alba": 409,
            "olly": 403,
            "obi": 403,
            "stranger": 403,
            "boss": 403,
            "viewer": 403,
        },
    ),
    (
        "step done",
        "/steps/finish/done",
        None,
        {
            "mia": 409,
            "alba": 403,
            "olly": 409,
            "obi": 403,
            "stranger": 403,
            "boss": 403,
            "viewer": 403,
        },
    ),
    (
        "retry",
        "/steps/prepare/decision",
        {"decision": "retry"},
        {
            "mia": 409,
            "alba": 403,
            "olly": 409,
            "obi": 403,
            "stranger": 403,
            "boss": 403,
            "viewer": 403,
        },
    ),
    (
        "abort",
        "/steps/prepare/decision",
        {"decision": "abort"},
        {
            "mia": SKIP,
            "alba": 403,
            "olly": 403,
            "obi": 403,
            "stranger": 403,
            "boss": 403,
            "viewer": 403,
        },
    ),
    (
        "run rollback",
        "/decision",
        {"decision": "rollback"},
        {
            "mia": SKIP,
            "alba": 403,
            "olly": 403,
            "obi": 403,
            "stranger": 403,
            "boss": 403,
            "viewer": 403,
        },
    ),
    (
        "issue",
        "/issues",
        {"title": "disk filling up", "severity": "warning"},
        {
            "mia": 200,
            "alba": 200,
            "olly": 200,
            "obi": 403,
            "stranger": 403,
            "boss": 200,
            "viewer": 403,
        },
    ),
    (
        "comment",
        "/issues/ISSUE/comments",
        {"text": "looking"},
        {
            "mia": 200,
            "alba": 200,
            "olly": 200,
            "obi": 403,
            "stranger": 403,
            "boss": 200,
            "viewer": 403,
        },
    ),
    (
        "resolve",
        "/issues/ISSUE/resolve",
        {"resolution": "cleaned up"},
        {
            "mia": SKIP,
            "alba": 403,
            "olly": SKIP,
            "obi": 403,
            "stranger": 403,
            "boss": SKIP,
            "viewer": 403,
        },
    ),
    (
        "checklist",
        "/checklist/backup/done",
        None,
        {
            "mia": 200,
            "alba": 403,
            "olly": 200,
            "obi": 403,
            "stranger": 403,
            "boss": 403,
            "viewer": 403,
        },
    ),
]

READS = ["", "/events"]


def _ask(
    client: TestClient,
    people: dict[str, Person],
    asker: str,
    path: str,
    body: dict[str, Any] | None,
    csrf: str,
) -> int:
    if asker == ANON:
        return client.post(path, json=body, cookies={}).status_code
    if asker == BAD_CSRF:
        return client.post(path, json=body, headers={"X-CSRF-Token": csrf + "x"}).status_code
    return client.post(path, json=body, headers=bearer(people[asker])).status_code


@pytest.mark.slow
def test_every_state_changing_endpoint_answers_each_role_exactly(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    run = f"/api/runs/{engine.run_id}"
    raised = app_client.post(
        f"{run}/issues", json={"title": "slow disk"}, headers=bearer(people["olly"])
    )
    assert raised.status_code == 200, raised.text
    issue = str(raised.json()["seq"])
    csrf = login(app_client, people["mia"])  # the cookie session the BAD_CSRF rows use
    got: dict[tuple[str, str], int | None] = {}
    want: dict[tuple[str, str], int | None] = {}
    for what, path, body, expected in MATRIX:
        url = run + path.replace("ISSUE", issue)
        for asker, status in {ANON: 401, BAD_CSRF: 403, **expected}.items():
            want[what, asker] = status
            if status is None:
                got[what, asker] = None
                continue
            if asker == ANON:
                anonymous = TestClient(app_client.app, base_url="http://127.0.0.1")
                got[what, asker] = anonymous.post(url, json=body).status_code
            else:
                got[what, asker] = _ask(app_client, people, asker, url, body, csrf)
    assert got == want
    # a cookie session without any CSRF header is refused the same way
    assert app_client.post(f"{run}/updates", json={"text": "x"}).status_code == 403
    assert engine.status()["steps"]["confirm"] == "waiting"  # no refused action moved the run


# Starting and resuming an engine: a manager of the go-live (granted, or admin) starts it; a
# manager of the run resumes it. The run's engine is alive, so a resume is refused (409); the
# start asks for an environment the plan does not have (400), so that nothing starts.
ENGINE_MATRIX: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    (
        "start",
        "/api/plans/call/runs",
        {"env": "nowhere", "rehearsal": True},
        {
            "mia": 403,
            "alba": 403,
            "olly": 403,
            "obi": 403,
            "stranger": 403,
            "boss": 400,
            "viewer": 403,
            "planner": 400,
        },
    ),
    (
        "resume",
        "/api/runs/RUN/resume",
        None,
        {
            "mia": 409,
            "alba": 403,
            "olly": 403,
            "obi": 403,
            "stranger": 403,
            "boss": 409,
            "viewer": 403,
            "planner": 409,
        },
    ),
]


def test_starting_and_resuming_an_engine_answers_each_role_exactly(
    engine: Engine, people: dict[str, Person], app_client: TestClient, store_url: str
) -> None:
    with open_store(store_url) as store:
        accounts = Accounts(store)
        accounts.add_user("planner", password="planner-password")
        accounts.grant("planner", Role.manager, plan_id="call")
        people = {
            **people,
            "planner": Person("planner", None, accounts.create_token("planner"), ""),
        }
    csrf = login(app_client, people["mia"])
    anonymous = TestClient(app_client.app, base_url="http://127.0.0.1")
    got: dict[tuple[str, str], int] = {}
    want: dict[tuple[str, str], int] = {}
    for what, path, body, expected in ENGINE_MATRIX:
        url = path.replace("RUN", engine.run_id)
        for asker, status in {ANON: 401, BAD_CSRF: 403, **expected}.items():
            want[what, asker] = status
            if asker == ANON:
                got[what, asker] = anonymous.post(url, json=body).status_code
            else:
                got[what, asker] = _ask(app_client, people, asker, url, body, csrf)
    assert got == want
    assert app_client.post(
        "/api/plans/nope/runs", json={"env": "staging"}, headers=bearer(people["boss"])
    ).json() == {"error": "no plan 'nope' on this server (known: call)"}
    production = app_client.post(
        "/api/plans/call/runs",
        json={"env": "staging", "rehearsal": False},
        headers=bearer(people["boss"]),
    )
    assert production.status_code == 400
    assert "send rehearsal: true" in production.json()["error"]
    listed = {
        name: [
            (p["id"], p["can_start"])
            for p in app_client.get("/api/plans", headers=bearer(people[name])).json()
        ]
        for name in ("mia", "obi", "stranger", "boss", "planner")
    }
    assert listed == {
        "mia": [("call", False)],
        "obi": [("call", False)],
        "stranger": [],
        "boss": [("call", True)],
        "planner": [("call", True)],
    }
    assert _runs(store_url) == [engine.run_id]  # nothing was started


def _runs(store_url: str) -> list[str]:
    with open_store(store_url) as store:
        return [r.id for r in store.runs()]


def test_reading_needs_a_role_and_anonymous_gets_nothing(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    anonymous = TestClient(app_client.app, base_url="http://127.0.0.1")
    run = f"/api/runs/{engine.run_id}"
    for path in ("/api/runs", run, f"{run}/events", f"{run}/stream", "/api/runs/r-nope"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert engine.run_id not in response.text
    for page in ("/", f"/runs/{engine.run_id}", f"/runs/{engine.run_id}/live"):
        response = anonymous.get(page, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    for name in ("mia", "alba", "olly", "obi", "boss", "viewer"):
        for suffix in READS:
            assert app_client.get(run + suffix, headers=bearer(people[name])).status_code == 200
    stranger = bearer(people["stranger"])
    assert app_client.get(run, headers=stranger).status_code == 403
    assert app_client.get("/api/runs", headers=stranger).json() == []
    listed = app_client.get("/api/runs", headers=bearer(people["obi"])).json()
    assert [r["id"] for r in listed] == [engine.run_id]
    assert app_client.get(run, headers={"Authorization": "Bearer glt_forged"}).status_code == 401


def test_roles_follow_the_plan_and_the_grants(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    roles = {
        name: app_client.get(f"/api/runs/{engine.run_id}", headers=bearer(people[name])).json()[
            "you"
        ]["roles"]
        for name in ("mia", "alba", "olly", "obi", "boss", "viewer")
    }
    assert roles == {
        "mia": ["manager", "observer"],
        "alba": ["approver", "observer"],
        "olly": ["owner", "observer"],
        "obi": ["observer"],
        "boss": ["manager"],
        "viewer": ["observer"],
    }


def test_a_manager_aborts_and_an_issue_is_resolved_once(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    run = f"/api/runs/{engine.run_id}"
    raised = app_client.post(
        f"{run}/issues", json={"title": "queue backlog"}, headers=bearer(people["olly"])
    )
    issue = raised.json()["seq"]
    resolve = {"resolution": "drained"}
    first = app_client.post(
        f"{run}/issues/{issue}/resolve", json=resolve, headers=bearer(people["olly"])
    )
    assert first.status_code == 200, first.text
    again = app_client.post(
        f"{run}/issues/{issue}/resolve", json=resolve, headers=bearer(people["mia"])
    )
    assert again.status_code == 409
    assert "resolved already" in again.json()["error"]
    aborted = app_client.post(
        f"{run}/steps/confirm/decision", json={"decision": "abort"}, headers=bearer(people["mia"])
    )
    assert aborted.status_code == 200, aborted.text
    engine.wait_for(lambda s: s["status"] == "aborted")


def test_a_manager_rolls_the_whole_run_back_from_the_page(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    run = f"/api/runs/{engine.run_id}"
    retry = app_client.post(
        f"{run}/decision", json={"decision": "retry"}, headers=bearer(people["mia"])
    )
    assert retry.status_code == 422
    decided = app_client.post(
        f"{run}/decision",
        json={"decision": "rollback", "why": "drill"},
        headers=bearer(people["mia"]),
    )
    assert decided.status_code == 200, decided.text
    assert "the engine acts on it now" in decided.json()["message"]
    engine.wait_for(lambda s: s["status"] == "rolled_back")
