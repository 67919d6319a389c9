"""The hypercare panel of the run page and its API: time left, monitors with sparklines,
incidents, success metrics, exit criteria with what blocks, feedback count; sign-off and close."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from fastapi.testclient import TestClient
from tests.web.conftest import PLAN, Person, bearer, login

from golive.engine.events import (
    HypercareStarted,
    IncidentOpened,
    IssueRaised,
    MonitorChecked,
    ObjectiveEvaluated,
    Outcome,
    RunFinished,
    RunStarted,
    Severity,
    StepSucceeded,
    encode,
)
from golive.store import EventStore, open_store

HYPERCARE_PLAN = (
    PLAN.replace(
        "steps:\n",
        'objectives:\n  - {id: bookings, title: Clients book, check: {run: "true"}}\nsteps:\n',
        1,
    )
    + """hypercare:
  duration: 72h
  monitors:
    - {name: health, run: "true", every: 1m, severity: critical}
  exit:
    sign_off: [alba]
"""
)


def append(store: EventStore, run_id: str, event: Any) -> int:
    type_name, step, data = encode(event)
    return store.append(run_id, type_name, step=step, data=data).seq


def hypercare_run(store_url: str) -> str:
    with open_store(store_url) as store:
        record = store.create_run(
            plan_id="call",
            plan_path="call.golive.yaml",
            plan_hash=hashlib.sha256(HYPERCARE_PLAN.encode()).hexdigest(),
            env="staging",
            release=None,
            rehearsal=True,
            started_by="mia",
        )
        run = record.id
        steps = ["prepare", "confirm", "go", "finish"]
        append(store, run, RunStarted(
            plan_id="call", plan_path="call.golive.yaml", plan_hash="x",
            plan_text=HYPERCARE_PLAN, env="staging", release=None, rehearsal=True,
            started_by="mia", max_parallel=1, host="h", pid=1, steps=steps,
        ))  # fmt: skip
        for step in steps:
            append(store, run, StepSucceeded(step=step, attempt=1, duration=1.0))
        append(store, run, RunFinished(outcome=Outcome.completed, duration=4.0))
        append(store, run, ObjectiveEvaluated(
            objective="bookings", verdict="met", detail="the command exited 0", value=0.0,
            phase="steps_completed"))  # fmt: skip
        until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=71, minutes=30)
        append(store, run, HypercareStarted(duration=72 * 3600.0, until=until.isoformat(),
                                            monitors=["health"]))  # fmt: skip
        for value, ok in ((120.0, True), (900.0, False), (950.0, False)):
            append(store, run, MonitorChecked(monitor="health", ok=ok, detail=f"{value} ms",
                                              value=value, failures=0 if ok else 1))  # fmt: skip
        append(store, run, IncidentOpened(monitor="health", title="health failed 2 times in a row",
                                          severity=Severity.critical, detail="down"))  # fmt: skip
        append(store, run, IssueRaised(by="feedback", title="<script>x</script> cannot book",
                                       severity=Severity.warning, source="feedback"))  # fmt: skip
        return run


def test_the_panel_shows_the_phase_and_a_manager_closes_it(
    store_url: str, people: dict[str, Person], app_client: TestClient
) -> None:
    run = hypercare_run(store_url)
    login(app_client, people["mia"])
    html = app_client.get(f"/runs/{run}").text
    assert 'data-testid="hypercare"' in html
    assert 'data-testid="hypercare-left"' in html
    assert ">71h" in html
    assert 'data-testid="monitor-1" data-state="red"' in html
    assert "<polyline" in html  # the sparkline of the three values
    assert 'data-testid="incidents"' in html
    assert "health failed 2 times in a row" in html
    assert 'data-testid="objective-bookings" data-verdict="met"' in html
    assert "1 feedback report from users" in html
    assert "<script>x</script>" not in html  # user text is escaped
    assert 'data-testid="exit-blocked"' in html
    assert 'data-testid="criterion-sign_off"' in html
    assert 'data-testid="hypercare-close"' in html  # mia manages the run
    assert 'data-testid="hypercare-sign-off"' not in html  # alba signs off, not mia
    live = app_client.get(f"/runs/{run}/live").text
    assert 'id="hypercare"' in live  # pushed again on each event, like the other sections

    shown = app_client.get(f"/api/runs/{run}", headers=bearer(people["mia"])).json()
    assert shown["phase"] == "hypercare"
    assert shown["hypercare"]["monitors"][0]["values"] == [120.0, 900.0, 950.0]
    assert shown["hypercare"]["feedback"] == 1
    assert shown["objectives"][0]["verdict"] == "met"
    blocked = [c["name"] for c in shown["hypercare"]["blocked_by"]]
    assert blocked == ["duration", "no_open_incidents", "sign_off"]

    refused = app_client.post(f"/api/runs/{run}/hypercare/sign-off", json={},
                              headers=bearer(people["olly"]))  # fmt: skip
    assert refused.status_code == 400
    assert "not asked to sign off" in refused.json()["error"]
    signed = app_client.post(f"/api/runs/{run}/hypercare/sign-off", json={},
                             headers=bearer(people["alba"]))  # fmt: skip
    assert signed.status_code == 200, signed.text
    forbidden = app_client.post(f"/api/runs/{run}/hypercare/close", json={"why": "calm"},
                                headers=bearer(people["olly"]))  # fmt: skip
    assert forbidden.status_code == 403
    empty = app_client.post(f"/api/runs/{run}/hypercare/close", json={"why": ""},
                            headers=bearer(people["mia"]))  # fmt: skip
    assert empty.status_code == 422
    closed = app_client.post(f"/api/runs/{run}/hypercare/close", json={"why": "calm night"},
                             headers=bearer(people["mia"]))  # fmt: skip
    assert closed.status_code == 200, closed.text
    shown = app_client.get(f"/api/runs/{run}", headers=bearer(people["mia"])).json()
    assert shown["phase"] == "completed"
    assert shown["hypercare"]["exit"] == {
        **shown["hypercare"]["exit"],
        "reason": "closed",
        "by": "mia",
        "why": "calm night",
    }
    html = app_client.get(f"/runs/{run}").text
    assert 'data-testid="hypercare-ended"' in html
    assert "closed" in html
    again = app_client.post(f"/api/runs/{run}/hypercare/close", json={"why": "x"},
                            headers=bearer(people["mia"]))  # fmt: skip
    assert again.status_code == 409
    assert "ended already" in again.json()["error"]
