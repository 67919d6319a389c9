"""Mission control's start form holds production to the schedule policy as `golive run` does:
the engine it starts refuses, and the answer says why in one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import Person, bearer

from golive.store import open_store
from golive.store.accounts import Accounts, Role
from golive.web import create_app
from golive.web.launch import load_served_plans

PLAN = """\
golive: call
title: Mission control test
people:
  mia: {name: Mia Manager, role: release manager}
policy: {never_on: [friday]}
environments: {staging: {}, production: {}}
steps:
  - {id: prepare, owner: mia, run: "echo prepared", undo: "true", estimate: 1m}
"""


@pytest.fixture
def client(store_url: str, people: dict[str, Person], tmp_path: Path) -> Iterator[TestClient]:
    plan = tmp_path / "call.golive.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    with open_store(store_url) as store:
        Accounts(store).grant("mia", Role.manager, plan_id="call")
    app = create_app(store_url, poll_interval=0.05, plans=load_served_plans([plan]))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def test_a_production_start_on_a_forbidden_day_is_refused_with_the_reason(
    client: TestClient,
    people: dict[str, Person],
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOLIVE_NOW", "2026-12-04T21:00+00:00")  # a Friday

    started = client.post(
        "/api/plans/call/runs",
        json={"env": "production", "rehearsal": False},
        headers=bearer(people["mia"]),
    )

    assert started.status_code == 400, started.text
    error = started.json()["error"]
    assert error.startswith("the engine did not start: ")
    assert "production run refused: it is Fri 2026-12-04 21:00 UTC" in error
    assert "policy.never_on forbids a Friday" in error
    assert "golive: error" not in error
    with open_store(store_url) as store:
        assert store.runs() == []
