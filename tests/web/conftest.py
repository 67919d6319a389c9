"""Mission control fixtures: a go-live plan with one person per role, its users and tokens in a
real store (SQLite or PostgreSQL), a real `golive run` engine process, the in-process app.

    store_url   a fresh store: SQLite in tmp_path, or a fresh PostgreSQL database (params)
    people      the users of PLAN in that store, each with an API token
    engine      `golive run` of PLAN, started by mia (so she manages it), in a subprocess
    app_client  FastAPI's TestClient on the app for that store, serving PLAN (base URL on
                127.0.0.1)
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from golive.store import open_store
from golive.store.accounts import Accounts, Role
from golive.web import create_app
from golive.web.launch import load_served_plans

# mia starts the run (manager); alba approves the gate; olly owns the steps and the checklist
# item; obi is in the plan and owns nothing (observer). Users without a person: "stranger" (no
# role at all), "boss" (admin), "viewer" (granted observer of this go-live).
PLAN = """\
golive: call
title: Mission control test
people:
  mia: {name: Mia Manager, role: release manager, contact: mia@example.com}
  alba: {name: Alba Approver, role: business owner, contact: alba@example.com}
  olly: {name: Olly Owner, role: ops, contact: olly@example.com}
  obi: {name: Obi Observer, role: support}
checklist:
  - {id: backup, title: Backup taken, owner: olly}
environments:
  staging: {}
steps:
  - {id: prepare, owner: olly, run: "echo prepared", undo: "true", estimate: 1m}
  - {id: confirm, owner: olly, needs: [prepare], manual: Tell the team, estimate: 2m}
  - {id: go, gate: Go or no-go, needs: [confirm], approvers: [alba]}
  - {id: finish, owner: olly, needs: [go], run: "echo finished", undo: "true", estimate: 1m}
"""


@dataclass(frozen=True)
class Person:
    name: str
    person: str | None
    token: str
    password: str


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    path = tmp_path / "call.golive.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


@pytest.fixture
def people(store_url: str) -> dict[str, Person]:
    made = {}
    with open_store(store_url) as store:
        accounts = Accounts(store)
        for name, person, admin in [
            ("mia", "mia", False),
            ("alba", "alba", False),
            ("olly", "olly", False),
            ("obi", "obi", False),
            ("stranger", None, False),
            ("boss", None, True),
            ("viewer", None, False),
        ]:
            password = f"{name}-password"
            accounts.add_user(
                name,
                password=password,
                person=person,
                plan_id="call" if person else None,
                admin=admin,
            )
            made[name] = Person(name, person, accounts.create_token(name), password)
        accounts.grant("viewer", Role.observer, plan_id="call")
    return made


def golive_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Engine:
    """A `golive run` process driving PLAN; `wait_for` polls the run through the store."""

    process: subprocess.Popen[str]
    store_url: str
    run_id: str = ""

    def status(self) -> dict[str, Any]:
        from golive.engine.operator import read_state

        with open_store(self.store_url) as store:
            if not self.run_id:
                runs = store.runs()
                if not runs:
                    return {}
                self.run_id = runs[-1].id
            state = read_state(store, self.run_id)
        return {
            "status": state.status.value,
            "steps": {s.id: s.status.value for s in state.steps.values()},
        }

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None and not predicate(self.status() or {"steps": {}}):
                out, err = self.process.communicate()
                raise AssertionError(f"the engine ended early: {out}\n{err}")
            current = self.status()
            if current and predicate(current):
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out; the run is {self.status()}")


@contextlib.contextmanager
def running(plan: Path, store_url: str, cwd: Path, *, until: str) -> Iterator[str]:
    """`golive run` of a plan in the background, once its step `until` waits: the run's id."""
    process = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", str(plan), "--env", "staging",
         "--state", store_url, "--plain"],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    engine = Engine(process, store_url)
    try:
        engine.wait_for(lambda s: s["steps"].get(until) == "waiting")
        yield engine.run_id
    finally:
        process.kill()
        process.communicate()


@pytest.fixture
def engine(
    plan_path: Path, store_url: str, people: dict[str, Person], tmp_path: Path
) -> Iterator[Engine]:
    """The run of PLAN, driven by a real engine process, waiting for olly to confirm."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "golive", "run", str(plan_path), "--env", "staging"),
            *("--as", "mia", "--state", store_url, "--plain"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = Engine(process, store_url)
    try:
        running.wait_for(lambda s: s["steps"].get("confirm") == "waiting")
        yield running
    finally:
        process.kill()
        process.communicate()


@pytest.fixture
def app_client(store_url: str, people: dict[str, Person], plan_path: Path) -> Iterator[TestClient]:
    """The app, serving PLAN (`golive serve --plan`): its managers may start it."""
    app = create_app(store_url, poll_interval=0.05, plans=load_served_plans([plan_path]))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def bearer(person: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


def login(client: TestClient | httpx.Client, person: Person) -> str:
    """Log in with the form; returns the session's CSRF token (from the runs page)."""
    response = client.post(
        "/login",
        data={"username": person.name, "password": person.password, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]
