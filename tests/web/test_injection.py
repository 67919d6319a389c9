"""The web start form (`POST /api/plans/{id}/runs`) and values: a release with shell syntax is
a 400 that says why, and nothing starts; a valid one reaches the command literally, and step
titles on the run page show the run's values (a secret stays masked)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from golive.engine.operator import read_state
from golive.store import open_store
from golive.store.accounts import Accounts
from golive.web import create_app
from golive.web.launch import load_served_plans

PLAN = """\
golive: titled
title: Titled
people: {ann: {name: Ann}}
environments:
  staging:
    vars: {colour: green}
    secrets: {TOKEN: {env: GOLIVE_TEST_TITLE_TOKEN}}
steps:
  - id: deploy
    owner: ann
    title: "Deploy {{ release }} to {{ env }} ({{ vars.colour }}), token {{ secrets.TOKEN }}"
    run: printf '%s' {{ release }} > released.txt
"""
HOSTILE = {
    "semicolon": "1.0; touch pwned; echo",
    "substitution": "$(touch pwned)",
    "backticks": "`touch pwned`",
    "newline": "1.0\ntouch pwned",
    "quotes": "1.0'\"; touch pwned",
}
SECRET = "tok-5ecret-canary"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    """The app serving PLAN on a SQLite store, and an admin's bearer token."""
    monkeypatch.setenv("GOLIVE_TEST_TITLE_TOKEN", SECRET)
    path = tmp_path / "titled.golive.yaml"
    path.write_text(PLAN, encoding="utf-8")
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(store_url) as store:
        accounts = Accounts(store)
        accounts.add_user("boss", password="boss-password", admin=True)
        token = accounts.create_token("boss")
    app = create_app(store_url, poll_interval=0.05, plans=load_served_plans([path]))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c, store_url


@pytest.mark.parametrize("kind", HOSTILE)
def test_the_start_form_refuses_a_release_with_shell_syntax_and_starts_nothing(
    kind: str, client: tuple[TestClient, str], tmp_path: Path
) -> None:
    app, store_url = client
    answer = app.post(
        "/api/plans/titled/runs",
        json={"env": "staging", "release": HOSTILE[kind], "rehearsal": True},
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error.startswith("release ")
    assert "is not valid: a release is 1 to 64" in error
    assert "\n" not in error
    with open_store(store_url) as store:
        assert store.runs() == []
    assert not (tmp_path / "pwned").exists()


def test_a_run_started_from_the_form_gets_its_release_and_shows_it_in_step_titles(
    client: tuple[TestClient, str], tmp_path: Path
) -> None:
    app, store_url = client
    answer = app.post(
        "/api/plans/titled/runs",
        json={"env": "staging", "release": "1.4.2+b7", "rehearsal": True},
    )
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["run_id"]
    deadline = time.monotonic() + 60
    while True:
        with open_store(store_url) as store:
            if read_state(store, run_id).status.finished:
                break
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.1)
    assert (tmp_path / "released.txt").read_text(encoding="utf-8") == "1.4.2+b7"

    (step,) = app.get(f"/api/runs/{run_id}").json()["steps"]
    assert step["title"] == "Deploy 1.4.2+b7 to staging (green), token ••••••"
    assert step["named"] is True
    page = app.get(f"/runs/{run_id}").text
    assert "Deploy 1.4.2+b7 to staging (green), token ••••••" in page
    assert "{{" not in page.split("<script")[0]
    assert SECRET not in page
