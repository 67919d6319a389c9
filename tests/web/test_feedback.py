"""The public feedback form of a run (`hypercare.feedback: true`), in process: its link for
managers, anonymous reports in the issue log, and what it refuses (a wrong token, too much, too
often) without giving anything away."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import PLAN, Engine, Person, bearer, login

from golive.engine.operator import read_state
from golive.store import open_store
from golive.web import create_app
from golive.web.feedback import REPORTS, feedback_url
from golive.web.guard import ANONYMOUS_MAX_BODY
from golive.web.launch import load_served_plans

FEEDBACK_PLAN = PLAN + "hypercare:\n  duration: 48h\n  feedback: true\n"
LINK = re.compile(r'data-testid="feedback-link"[^>]*>(http://[^<]+)</a>')


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    path = tmp_path / "call.golive.yaml"
    path.write_text(FEEDBACK_PLAN, encoding="utf-8")
    return path


def link_of(client: TestClient, manager: Person, run_id: str) -> str:
    """The feedback link, as the run page shows it to a manager (path only)."""
    client.cookies.clear()
    login(client, manager)
    page = client.get(f"/runs/{run_id}")
    found = LINK.search(page.text)
    assert found, "no feedback link on the manager's run page"
    client.cookies.clear()
    return found[1].removeprefix("http://127.0.0.1")


def test_a_report_lands_in_the_issue_log_marked_as_user_feedback(
    engine: Engine, people: dict[str, Person], app_client: TestClient, store_url: str
) -> None:
    path = link_of(app_client, people["mia"], engine.run_id)

    form = app_client.get(path)
    sent = app_client.post(
        "/api" + path,
        json={"what": "I cannot book <b>yoga</b> since 9:00", "contact": "kim@example.com"},
    )

    assert form.status_code == 200
    assert 'data-testid="feedback-form"' in form.text
    assert sent.status_code == 201, sent.text
    issue = sent.json()["issue"]
    with open_store(store_url) as store:
        state = read_state(store, engine.run_id)
    raised = state.issues[issue]
    assert (raised.by, raised.source, raised.contact, raised.severity) == (
        "feedback",
        "feedback",
        "kim@example.com",
        "warning",
    )
    login(app_client, people["mia"])
    page = app_client.get(f"/runs/{engine.run_id}").text
    assert 'data-testid="user-feedback"' in page
    assert "I cannot book &lt;b&gt;yoga&lt;/b&gt; since 9:00" in page  # escaped on display
    assert "kim@example.com" in page
    assert re.search(r'data-testid="feedback-count">1<', page)
    app_client.cookies.clear()
    login(app_client, people["obi"])  # an observer: sees the report, not the user's contact
    observed = app_client.get(f"/runs/{engine.run_id}").text
    assert "I cannot book" in observed
    assert "kim@example.com" not in observed
    assert 'data-testid="feedback-link"' not in observed


def test_the_html_form_posts_a_report_and_says_thank_you(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    path = link_of(app_client, people["mia"], engine.run_id)
    long_text = "The schedule page is empty. " * 20  # longer than a title: kept whole in a comment

    sent = app_client.post(path, data={"what": long_text, "severity": "critical"})
    elsewhere = app_client.post(
        path, data={"what": "x"}, headers={"Origin": "https://evil.example"}
    )

    assert sent.status_code == 201, sent.text
    assert 'data-testid="feedback-sent"' in sent.text
    assert elsewhere.status_code == 403
    run = app_client.get(f"/api/runs/{engine.run_id}", headers=bearer(people["mia"])).json()
    (issue,) = [i for i in run["issues"] if i["source"] == "feedback"]
    assert issue["severity"] == "critical"
    assert len(issue["title"]) <= 200
    assert issue["comments"][0]["text"] == long_text.strip()


def test_a_wrong_token_an_unknown_run_and_a_run_without_feedback_are_plain_404s(
    engine: Engine, people: dict[str, Person], app_client: TestClient, store_url: str
) -> None:
    path = link_of(app_client, people["mia"], engine.run_id)
    token = path.rsplit("/", 1)[1]
    unknown_page = app_client.get("/no-such-page")
    wrong = [
        app_client.get(path[:-1] + ("A" if path[-1] != "A" else "B")),
        app_client.get(f"/feedback/{engine.run_id}/nope"),
        app_client.get(f"/feedback/r-nope/{token}"),
        app_client.post(f"/api/feedback/{engine.run_id}/nope", json={"what": "x"}),
        app_client.post(f"/feedback/r-nope/{token}", data={"what": "x"}),
    ]
    for answer in wrong:
        assert (answer.status_code, answer.text) == (404, unknown_page.text)
        assert engine.run_id not in answer.text


def test_feedback_url_is_none_for_a_plan_without_feedback(
    store_url: str, people: dict[str, Person], tmp_path: Path
) -> None:
    from tests.web.conftest import running

    plain = tmp_path / "plain.golive.yaml"
    plain.write_text(PLAN, encoding="utf-8")
    with running(plain, store_url, tmp_path, until="confirm") as run_id:
        with open_store(store_url) as store:
            assert feedback_url(store=store, run_id=run_id, public_url="https://x") is None
        app = create_app(store_url, plans=load_served_plans([plain]))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            login(client, people["mia"])
            assert 'data-testid="feedback"' not in client.get(f"/runs/{run_id}").text
            client.cookies.clear()
            answer = client.post(f"/api/feedback/{run_id}/anything", json={"what": "x"})
            assert answer.status_code == 404


def test_a_report_too_big_or_malformed_is_refused_in_one_line(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    path = "/api" + link_of(app_client, people["mia"], engine.run_id)
    giant = b'{"what": "' + b"x" * ANONYMOUS_MAX_BODY + b'"}'

    answers = {
        "giant": app_client.post(path, content=giant, headers={"Content-Type": "application/json"}),
        "chunked": app_client.post(path, content=iter([giant[:9000], giant[9000:]])),
        "long": app_client.post(path, json={"what": "x" * 4001}),
        "empty": app_client.post(path, json={"what": "  "}),
        "not json": app_client.post(path, content=b"what=x"),
        "severity": app_client.post(path, json={"what": "x", "severity": "panic"}),
        "unknown": app_client.post(path, json={"what": "x", "admin": True}),
    }

    assert {k: a.status_code for k, a in answers.items()} == {
        "giant": 413,
        "chunked": 413,
        "long": 400,
        "empty": 400,
        "not json": 400,
        "severity": 400,
        "unknown": 400,
    }
    assert answers["giant"].json() == {"error": "the request body is larger than 16 KiB: send less"}
    assert answers["long"].json() == {"error": "what: 4001 characters; at most 4000"}
    for answer in answers.values():
        assert "\n" not in answer.json()["error"]


@pytest.fixture
def proxied(store_url: str, people: dict[str, Person], plan_path: Path) -> Iterator[TestClient]:
    """The app behind a trusted proxy at 10.0.0.1: X-Forwarded-For names the client."""
    app = create_app(
        store_url,
        plans=load_served_plans([plan_path]),
        trusted_proxies=[ipaddress.ip_network("10.0.0.1/32")],
    )
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.1", 4000)) as client:
        yield client


def test_reports_are_rate_limited_per_client_address(
    engine: Engine, people: dict[str, Person], proxied: TestClient
) -> None:
    path = "/api" + link_of(proxied, people["mia"], engine.run_id)
    ann = {"X-Forwarded-For": "203.0.113.7"}
    for n in range(REPORTS):
        assert proxied.post(path, json={"what": f"report {n}"}, headers=ann).status_code == 201

    refused = proxied.post(path, json={"what": "one more"}, headers=ann)
    # a client's own X-Forwarded-For entry left of the real one is not believed
    spoofed = proxied.post(
        path, json={"what": "spoofed"}, headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}
    )
    other = proxied.post(
        path, json={"what": "another user"}, headers={"X-Forwarded-For": "198.51.100.2"}
    )

    assert refused.status_code == 429
    assert refused.json()["error"].startswith("too many reports from your address: try again in")
    assert int(refused.headers["Retry-After"]) > 0
    assert spoofed.status_code == 429
    assert other.status_code == 201


def test_reports_are_closed_once_hypercare_is_over(
    engine: Engine, people: dict[str, Person], app_client: TestClient, store_url: str
) -> None:
    from golive.engine.events import HypercareExited, encode

    path = link_of(app_client, people["mia"], engine.run_id)
    with open_store(store_url) as store:
        type_name, step, data = encode(HypercareExited(reason="exit_criteria", by="mia"))
        store.append(engine.run_id, type_name, step=step, data=data)

    page = app_client.get(path)
    posted = app_client.post("/api" + path, json={"what": "too late"})
    wrong = app_client.get(path[:-1] + ("A" if path[-1] != "A" else "B"))

    assert page.status_code == 410
    assert 'data-testid="feedback-closed"' in page.text
    assert 'data-testid="feedback-form"' not in page.text
    assert posted.status_code == 410
    assert posted.json()["error"].startswith("this go-live's hypercare is over")
    assert wrong.status_code == 404  # a wrong token learns nothing, not even that it is over
