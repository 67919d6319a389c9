"""Logging in and out, the session cookie's flags, the login rate limit, CSRF, API tokens, and
no secret in the store but hashes."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.web.conftest import Person, bearer, login

from golive.web import create_app


def test_login_sets_an_httponly_strict_cookie_and_the_pages_follow_it(
    app_client: TestClient, people: dict[str, Person]
) -> None:
    assert app_client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    form = app_client.get("/login")
    assert 'data-testid="login"' in form.text
    response = app_client.post(
        "/login",
        data={"username": "obi", "password": "obi-password", "next": "/runs/x"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/runs/x"
    cookie = response.headers["set-cookie"].lower()
    assert "golive_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "secure" not in cookie  # plain HTTP on the loopback address: see docs/web.md
    assert "obi" in app_client.get("/").text
    assert app_client.get("/login", follow_redirects=False).status_code == 303


def test_the_cookie_is_secure_anywhere_but_on_the_loopback_address(
    store_url: str, people: dict[str, Person]
) -> None:
    for base in ("https://127.0.0.1", "http://mission.example", "https://mission.example"):
        with TestClient(create_app(store_url), base_url=base) as client:
            response = client.post(
                "/login",
                data={"username": "obi", "password": "obi-password"},
                follow_redirects=False,
            )
            assert response.status_code == 303, base
            assert "; secure" in response.headers["set-cookie"].lower(), base


def test_a_wrong_password_or_user_is_refused_the_same_way_then_rate_limited(
    app_client: TestClient, people: dict[str, Person]
) -> None:
    wrong_user = app_client.post("/login", data={"username": "nobody", "password": "x" * 10})
    wrong_password = app_client.post("/login", data={"username": "obi", "password": "x" * 10})
    assert wrong_user.status_code == wrong_password.status_code == 401
    assert "wrong user name or password" in wrong_user.text
    assert "set-cookie" not in wrong_password.headers
    for _ in range(4):
        app_client.post("/login", data={"username": "obi", "password": "nope-nope"})
    limited = app_client.post("/login", data={"username": "obi", "password": "obi-password"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "too many failed logins" in limited.text


def test_a_form_posted_from_another_site_is_refused(
    app_client: TestClient, people: dict[str, Person]
) -> None:
    response = app_client.post(
        "/login",
        data={"username": "obi", "password": "obi-password"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_logout_ends_the_session_only_with_its_csrf_token(
    app_client: TestClient, people: dict[str, Person]
) -> None:
    csrf = login(app_client, people["obi"])
    session = app_client.cookies.get("golive_session")
    assert session
    app_client.post("/logout", data={"csrf": "forged"})
    # the forged logout cleared the cookie in this client, but the session itself lives on
    app_client.cookies.set("golive_session", session)
    assert app_client.get("/api/runs").status_code == 200
    app_client.post("/logout", data={"csrf": csrf})
    app_client.cookies.set("golive_session", session)
    assert app_client.get("/api/runs").status_code == 401


def test_a_session_posts_with_its_csrf_token_and_a_token_needs_none(
    app_client: TestClient, people: dict[str, Person]
) -> None:
    csrf = login(app_client, people["obi"])
    assert len(csrf) == 64
    assert app_client.get("/api/runs").status_code == 200
    assert app_client.get("/api/runs", headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert app_client.get("/api/runs", headers=bearer(people["mia"])).status_code == 200


def test_the_store_keeps_hashes_never_passwords_or_tokens(
    store_url: str, people: dict[str, Person], app_client: TestClient
) -> None:
    login(app_client, people["obi"])
    session = app_client.cookies.get("golive_session")
    secrets = [p.password for p in people.values()] + [p.token for p in people.values()]
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as connection:
            dump = " ".join(
                str(row)
                for table in ("users", "api_tokens", "web_sessions", "grants")
                for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
            )
    finally:
        engine.dispose()
    assert "$argon2id$" in dump
    for secret in [*secrets, session]:
        assert secret
        assert secret not in dump


def test_health_answers_without_authentication_and_openapi_lists_the_api(
    app_client: TestClient,
) -> None:
    assert app_client.get("/api/health").json() == {"ok": True}
    paths = app_client.get("/openapi.json").json()["paths"]
    assert "/api/runs/{run_id}/gates/{step_id}/votes" in paths
    assert "/login" not in paths
    assert app_client.get("/docs").status_code == 404  # Swagger UI would load a CDN's scripts


def test_bad_bodies_get_one_line_errors_after_authentication(
    app_client: TestClient, people: dict[str, Person]
) -> None:
    anonymous = TestClient(app_client.app, base_url="http://127.0.0.1")
    assert anonymous.post("/api/runs/r-nope/updates", json={"text": 3}).status_code == 401
    invalid = app_client.post(
        "/api/runs/r-nope/updates",
        json={"text": "", "severity": "loud"},
        headers=bearer(people["mia"]),
    )
    assert invalid.status_code == 422
    message = invalid.json()["error"]
    assert "body.text" in message
    assert "body.severity" in message
    assert "\n" not in message
    missing = app_client.post(
        "/api/runs/r-nope/updates", json={"text": "hi"}, headers=bearer(people["mia"])
    )
    assert missing.status_code == 404
    assert "there is no run 'r-nope'" in missing.json()["error"]
