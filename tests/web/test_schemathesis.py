"""Schemathesis against mission control's OpenAPI, in process (ASGI), as a manager with a token.

Every operation of /openapi.json but the live stream gets generated requests, valid ones and
invalid ones, and every answer is checked: no 5xx, a status code the schema documents for the
operation, and a content type and a body that conform to the schema. Path parameters are either
generated or taken from a real run stopped at its gate (the run id, its steps, its checklist
items), so the handlers behind the 404s run too. Bounded: EXAMPLES valid and EXAMPLES invalid
requests per operation.
"""

from __future__ import annotations

import itertools
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from golive.store import open_store
from golive.store.accounts import Accounts, Role

EXAMPLES = 15
PLAN = """\
golive: api-fuzz
title: API fuzzing
people:
  ann: {name: Ann, role: release manager}
checklist:
  - {id: backup, title: Backup taken, owner: ann}
environments:
  staging: {}
steps:
  - {id: prepare, owner: ann, run: "true"}
  - {id: go-no-go, gate: Go / No-Go, needs: [prepare], approvers: [ann]}
  - {id: switch, owner: ann, needs: [go-no-go], manual: Switch the clients}
"""
KNOWN = {"step_id": ["prepare", "go-no-go", "switch"], "item_id": ["backup"]}
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
]


@dataclass(frozen=True)
class Api:
    schema: Any
    token: str
    run_id: str


def stopped_at_gate(directory: Path, state_url: str) -> str:
    """A run of PLAN whose engine (`golive run`) was killed once the gate waits for votes."""
    plan = directory / "fuzz.golive.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    engine = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", str(plan), "--env", "staging", "--plain",
         "--state", state_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=directory,
    )  # fmt: skip
    try:
        assert engine.stdout is not None
        run_id = engine.stdout.readline().split()[1]
        deadline = time.monotonic() + 60
        while '"waiting"' not in status(run_id, state_url):
            assert time.monotonic() < deadline, "the gate never waited for votes"
            time.sleep(0.1)
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait()
        if engine.stdout is not None:
            engine.stdout.close()
    return run_id


def status(run_id: str, state_url: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "golive", "status", run_id, "--format", "json", "--state",
         state_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout  # fmt: skip


@dataclass(frozen=True)
class Store:
    url: str
    token: str
    run_id: str


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store with a manager (token) and a run stopped at its gate."""
    directory = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{directory / 'state.db'}"
    with open_store(url) as opened:
        accounts = Accounts(opened)
        accounts.add_user("manager", password="fuzz-manager-pw", person="ann", plan_id="api-fuzz")
        accounts.grant("manager", Role.manager, plan_id="api-fuzz")
        token = accounts.create_token("manager")
    return Store(url, token, stopped_at_gate(directory, url))


@pytest.fixture
def api(store: Store) -> Api:
    """The app on that store, loaded by schemathesis; a new one per test, as schemathesis's
    pytest plugin ends the lifespan of the apps it reached (closing the store) after each test."""
    from golive.web.app import create_app

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(store.url))
    return Api(schema, store.token, store.run_id)


def operations(api: Api) -> Iterator[Any]:
    for result in api.schema.get_all_operations():
        operation = result.ok()
        if not operation.path.endswith("/stream"):  # endless by design: the e2e tests read it
            yield operation


def real_parameters(path: str, run_id: str) -> list[dict[str, str]]:
    """Every combination of the real values of the path's parameters that we know."""
    names = re.findall(r"{(\w+)}", path)
    known = {"run_id": [run_id], **KNOWN}
    if not names or not all(name in known for name in names):
        return []
    return [dict(zip(names, values, strict=True)) for values in
            itertools.product(*(known[name] for name in names))]  # fmt: skip


def exercise(api: Api, operation: Any, mode: GenerationMode) -> list[int]:
    """EXAMPLES generated requests of one kind against one operation; the statuses answered."""
    choices = [operation.as_strategy(generation_mode=mode)]
    choices += [
        operation.as_strategy(generation_mode=mode, path_parameters=values)
        for values in real_parameters(operation.path, api.run_id)
    ]
    statuses: list[int] = []

    @given(case=st.one_of(choices))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case[Any]) -> None:
        headers = {"Authorization": f"Bearer {api.token}"}
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses.append(response.status_code)

    try:
        check()
    except Unsatisfiable:  # nothing in this operation's input can be made invalid
        assert mode is GenerationMode.NEGATIVE
    return statuses


def test_the_api_documents_its_operations(api: Api) -> None:
    paths = {operation.path for operation in operations(api)}
    run = "/api/runs/{run_id}"
    assert {"/api/runs", run, f"{run}/events", f"{run}/updates"} <= paths
    assert f"{run}/gates/{{step_id}}/votes" in paths


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_server_error_or_an_undocumented_answer(
    api: Api, mode: GenerationMode
) -> None:
    answered = {operation.label: exercise(api, operation, mode) for operation in operations(api)}
    exercised = [label for label, statuses in answered.items() if statuses]
    if mode is GenerationMode.NEGATIVE:  # an operation without input has no invalid request
        assert len(exercised) >= len(answered) - 5, answered
        return
    assert exercised == list(answered), answered
    # the token works, and the real run's handlers ran: not everything was a 401 or a 404
    for label in ("GET /api/runs/{run_id}", "POST /api/runs/{run_id}/updates"):
        assert any(200 <= status < 300 for status in answered[label]), (label, answered[label])
    # this server serves no plan: nothing is started, and the run is not resumed from here
    assert set(answered["POST /api/plans/{plan_id}/runs"]) <= {400, 404, 422}
    assert set(answered["POST /api/runs/{run_id}/resume"]) <= {404, 409}
