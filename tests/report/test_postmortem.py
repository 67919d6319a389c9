"""The post-mortem of a realistic production run states each fact of the record exactly, and is
reproduced byte for byte from the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golive.engine.call import post_update, raise_issue, resolve_issue
from golive.engine.events import (
    Decision,
    FollowUpAdded,
    HypercareExited,
    HypercareStarted,
    IncidentOpened,
    IncidentResolved,
    IssueRaised,
    IssueResolved,
    LessonAdded,
    ObjectiveEvaluated,
    Outcome,
    Severity,
    Vote,
    encode,
)
from golive.engine.operator import decide, read_state, vote
from golive.engine.state import StepStatus
from golive.report.postmortem import render_html, render_json, render_markdown
from golive.report.postmortem.load import load_postmortem
from golive.store import EventStore, open_store
from golive.testing import PlanRunner, until

CANARY = "s3cr3t-canary-7f1c9"

PLAN = """
golive: shop
title: Shop platform migration
people:
  alice: {name: Alice, role: release manager}
  dirk: {name: Dirk, role: business owner}
environments:
  staging:
    secrets: {DB_PASSWORD: {env: PM_TEST_SECRET}}
  production:
    secrets: {DB_PASSWORD: {env: PM_TEST_SECRET}}
policy:
  rollback_within: 30m
steps:
  - {id: freeze, owner: alice, run: "echo frozen", estimate: 1m}
  - id: migrate
    owner: alice
    needs: [freeze]
    run: "sleep 0.3; echo migrated with {{ secrets.DB_PASSWORD }}"
    estimate: 0.05s
  - id: flaky
    owner: alice
    needs: [freeze]
    run: "test -f FLAG || { touch FLAG; echo first try fails; exit 1; }"
    estimate: 10s
  - id: go-no-go
    gate: Go / No-Go for opening the shop
    needs: [migrate, flaky]
    approvers: [alice, dirk]
    checks: [migrate, flaky]
  - {id: open, owner: alice, needs: [go-no-go], run: "echo open", estimate: 30s}
"""


def _step_is(store: EventStore, run_id: str, step: str, status: StepStatus) -> bool:
    return read_state(store, run_id).step(step).status is status


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A rehearsal, then a production run with an overrun, a retried failure, a two-voter gate,
    an issue raised and resolved, and an update; returns (store URL, production run id)."""
    tmp_path = tmp_path_factory.mktemp("postmortem")
    monkey = pytest.MonkeyPatch()
    monkey.setenv("PM_TEST_SECRET", CANARY)
    monkey.chdir(tmp_path)
    try:
        runner = PlanRunner.from_yaml(tmp_path, PLAN)

        async def rehearse(store: EventStore, run_id: str) -> None:
            await until(lambda: _step_is(store, run_id, "go-no-go", StepStatus.waiting))
            run = store.get_run(run_id)
            vote(store, run, gate="go-no-go", ballot=Vote.go, by="alice", comment=None)
            vote(store, run, gate="go-no-go", ballot=Vote.go, by="dirk", comment=None)

        (tmp_path / "FLAG").touch()
        assert runner.run(env="staging", operator=rehearse).outcome is Outcome.completed
        (tmp_path / "FLAG").unlink()

        async def operate(store: EventStore, run_id: str) -> None:
            run = store.get_run(run_id)
            await until(lambda: _step_is(store, run_id, "flaky", StepStatus.failed), timeout=20)
            issue = raise_issue(
                store,
                run,
                title="flaky failed on first try",
                severity=Severity.warning,
                by="alice",
                step="flaky",
            )
            decide(
                store,
                run,
                decision=Decision.retry,
                by="alice",
                step="flaky",
                why="the flag file was missing; created it",
            )
            await until(lambda: _step_is(store, run_id, "go-no-go", StepStatus.waiting), timeout=20)
            resolve_issue(store, run, issue=issue.seq, resolution="retried, passed", by="alice")
            post_update(
                store, run, text="Data migrated, waiting for go", severity=Severity.info, by="alice"
            )
            vote(store, run, gate="go-no-go", ballot=Vote.go, by="alice", comment="checks green")
            vote(store, run, gate="go-no-go", ballot=Vote.go, by="dirk", comment="go")

        state = runner.run(env="production", release="4.2.0", by="alice", operator=operate)
        assert state.outcome is Outcome.completed
        return runner.store_url, state.run_id
    finally:
        monkey.undo()


def test_the_markdown_and_json_state_each_fact_of_the_run(production: tuple[str, str]) -> None:
    url, run_id = production
    with open_store(url) as store:
        pm = load_postmortem(store=store, run_id=run_id)
        state = read_state(store, run_id)
    data = json.loads(render_json(pm))
    markdown = render_markdown(pm)

    # the summary
    assert data["summary"]["outcome"] == "completed"
    assert data["summary"]["release"] == "4.2.0"
    assert data["summary"]["rehearsal"] is False
    assert data["summary"]["people"] == ["alice", "dirk"]
    assert "- **Outcome:** completed" in markdown
    assert "release 4.2.0" in markdown
    assert "- **On the call:** alice, dirk" in markdown

    steps = {row["id"]: row for row in data["steps"]}
    # a step over its estimate, marked
    migrate = steps["migrate"]
    assert migrate["estimate"] == 0.05
    assert migrate["duration"] == round(state.step("migrate").duration or 0, 3)
    assert migrate["over_by"] == round(migrate["duration"] - 0.05, 3)
    assert migrate["overran"] is True
    assert steps["freeze"]["overran"] is False
    assert "⚠ over estimate" in next(
        line for line in markdown.splitlines() if line.startswith("| migrate")
    )
    # rehearsal P50 beside it (one rehearsal: its own duration)
    assert steps["migrate"]["rehearsal_p50"] is not None
    # the retried failure
    assert steps["flaky"]["attempts"] == 2
    assert steps["flaky"]["status"] == "succeeded"
    assert "Step flaky needed 2 attempts." in markdown
    decision = data["decisions"][0]
    assert (decision["by"], decision["decision"], decision["step"]) == ("alice", "retry", "flaky")
    assert decision["why"] == "the flag file was missing; created it"
    assert "| alice | retry | flaky | the flag file was missing; created it |" in markdown
    # the gate with two voters
    gate = data["gates"][0]
    assert [(v["by"], v["vote"], v["comment"]) for v in gate["votes"]] == [
        ("alice", "go", "checks green"),
        ("dirk", "go", "go"),
    ]
    assert gate["status"] == "succeeded"
    assert gate["decision_time"] is not None
    assert gate["decision_time"] >= 0
    assert "- **alice** voted **go**" in markdown
    assert "- **dirk** voted **go**" in markdown
    # the issue raised and resolved, with its time to resolution
    (issue,) = data["issues"]
    assert issue["title"] == "flaky failed on first try"
    assert issue["resolution"] == "retried, passed"
    assert issue["resolved_by"] == "alice"
    assert issue["time_to_resolution"] is not None
    assert f"| {issue['id']} | flaky failed on first try | warning | alice |" in markdown
    # the update
    assert [(u["by"], u["text"]) for u in data["updates"]] == [
        ("alice", "Data migrated, waiting for go")
    ]
    assert "**alice** (info): Data migrated, waiting for go" in markdown
    # the critical path as it happened ends with the last step
    assert data["critical_path"][-2:] == ["go-no-go", "open"]
    assert data["critical_path"][0] == "freeze"
    # the rehearsal history
    assert data["rehearsals"]["count"] == 1
    # the audit chain
    assert data["audit"]["holds"] is True
    assert "- **Audit chain:** holds: all " in markdown
    # the review is pre-filled with facts
    assert any("migrate took" in e["text"] for e in data["review"]["could_be_better"])
    assert any("resolved in" in e["text"] for e in data["review"]["went_well"])
    # hypercare's place is kept
    assert "Hypercare has not started for this run." in markdown


def test_the_report_is_the_same_bytes_every_time_and_never_holds_a_secret(
    production: tuple[str, str],
) -> None:
    url, run_id = production
    rendered = []
    for _ in range(2):
        with open_store(url) as store:
            pm = load_postmortem(store=store, run_id=run_id)
        rendered.append((render_markdown(pm), render_json(pm), render_html(pm)))
    assert rendered[0] == rendered[1]
    for text in rendered[0]:
        assert CANARY not in text
    assert "<script" not in rendered[0][2]
    assert "http" not in rendered[0][2].split("</style>")[0]


def _append(store: EventStore, run_id: str, *events: object) -> None:
    for event in events:
        type_name, step, data = encode(event)  # type: ignore[arg-type]
        store.append(run_id, type_name, step=step, data=data)


def test_hypercare_lessons_and_follow_ups_appear_from_their_events(
    production: tuple[str, str], tmp_path: Path
) -> None:
    source, run_id = production
    copy = tmp_path / "copy.db"
    copy.write_bytes(Path(source.removeprefix("sqlite:///")).read_bytes())
    with open_store(f"sqlite:///{copy}") as store:
        _append(
            store,
            run_id,
            HypercareStarted(duration=3600.0, until="2026-12-05T22:00:00+00:00", monitors=["api"]),
        )
        incident = store.append(
            run_id,
            *encode(
                IncidentOpened(
                    monitor="api", title="api down", severity=Severity.critical, detail="503"
                )
            )[0:1],
            data=encode(
                IncidentOpened(
                    monitor="api", title="api down", severity=Severity.critical, detail="503"
                )
            )[2],
        )
        _append(
            store,
            run_id,
            IncidentResolved(issue=incident.seq, monitor="api", detail="200", down_for=42.0),
            IssueResolved(issue=incident.seq, by="alice", resolution="restarted the pool"),
            IssueRaised(
                by="public", title="checkout slow", severity=Severity.warning, source="feedback"
            ),
            ObjectiveEvaluated(objective="error rate < 1%", verdict="met", detail="0.2%"),
            ObjectiveEvaluated(objective="p95 < 300ms", verdict="not_met", detail="410ms"),
            HypercareExited(reason="exit_criteria", by="alice"),
            LessonAdded(text="Rehearse the flag file too", by="alice", kind="lesson"),
            LessonAdded(text="The gate was quick", by="dirk", kind="went_well"),
            FollowUpAdded(text="Make flaky idempotent", owner="alice", due="2026-12-20", by="dirk"),
        )
        pm = load_postmortem(store=store, run_id=run_id)
    data = json.loads(render_json(pm))
    markdown = render_markdown(pm)
    hypercare = data["hypercare"]
    assert hypercare["started"] is True
    assert hypercare["feedback"] == 1
    assert hypercare["objectives"] == {"error rate < 1%": "met", "p95 < 300ms": "not_met"}
    (row,) = hypercare["incidents"]
    assert (row["title"], row["recovered_after"]) == ("api down", 42.0)
    assert hypercare["exit_reason"] == "exit_criteria"
    incident_issue = next(i for i in data["issues"] if i["id"] == incident.seq)
    assert incident_issue["resolution"] == "restarted the pool"
    assert "- **User feedback received:** 1" in markdown
    assert "| p95 < 300ms | not_met |" in markdown
    assert "- Rehearse the flag file too (alice)" in markdown
    assert "- The gate was quick (dirk)" in markdown
    assert "| Make flaky idempotent | alice | 2026-12-20 | dirk |" in markdown
    assert "Objectives not met: p95 < 300ms." in markdown
