"""Sections of the post-mortem that need steps this machine's run would not produce quickly
(verify figures, traffic analyses, a rollback against `rollback_within`): built from events."""

from __future__ import annotations

import datetime as dt

from golive.engine.events import (
    Decision,
    DecisionMade,
    Outcome,
    Recorded,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepStarted,
    StepSucceeded,
)
from golive.plan import parse_plan_text
from golive.report.postmortem import build_postmortem, render_json, render_markdown

PLAN = """\
golive: shop
title: Shop
people: {ann: {name: Ann}}
environments: {production: {}}
policy: {rollback_within: 1m}
steps:
  - id: verify
    owner: ann
    verify:
      source: "sqlite:///a.db"
      target: "sqlite:///b.db"
      tables: [{source: orders, target: orders, key: id}]
  - id: switch
    owner: ann
    needs: [verify]
    traffic: {strategy: canary, from: blue, to: green, steps: ["10%", "100%"]}
"""
START = dt.datetime(2026, 12, 5, 20, 0, tzinfo=dt.UTC)


def test_verification_traffic_and_rollback_are_stated_exactly() -> None:
    plan = parse_plan_text(PLAN, display="shop.golive.yaml")
    tables = [
        {"source": "orders", "target": "orders", "ok": True, "source_rows": 1200,
         "target_rows": 1200, "missing": 0, "extra": 0, "changed": 0},
    ]  # fmt: skip
    moves = [
        {"event": "moved", "share": 10.0, "routing": "10% to green"},
        {"event": "analysed", "verdict": "passed", "decision": "promote", "reason": "0.1% errors"},
        {"event": "moved", "share": 100.0, "routing": "every request to green"},
    ]
    events = [
        RunStarted(
            plan_id="shop", plan_path="shop.golive.yaml", plan_hash="h", plan_text=PLAN,
            env="production", release="1", rehearsal=False, started_by="ann", max_parallel=1,
            host="h", pid=1, steps=["verify", "switch"],
        ),
        StepStarted(step="verify", attempt=1, kind="verify"),
        StepSucceeded(step="verify", attempt=1, duration=12.0, details={"tables": tables}),
        StepStarted(step="switch", attempt=1, kind="traffic"),
        StepSucceeded(step="switch", attempt=1, duration=30.0, details={"moves": moves}),
        RunFinished(outcome=Outcome.completed, duration=45.0),
        DecisionMade(decision=Decision.rollback, by="ann", why="checkout errors"),
        RollbackStarted(by="ann", reason="checkout errors"),
        RollbackFinished(complete=True, duration=95.0),
        RunFinished(outcome=Outcome.rolled_back, duration=150.0),
    ]  # fmt: skip
    recorded = [
        Recorded(n + 1, START + dt.timedelta(seconds=10 * n), e) for n, e in enumerate(events)
    ]

    pm = build_postmortem(plan, recorded, run_id="r-1")
    data = render_json(pm)
    markdown = render_markdown(pm)

    assert pm.verification[0].source_rows == 1200
    assert pm.verification[0].ok
    assert "| verify | orders | yes | 1200 | 1200 | 0 | 0 | 0 |" in markdown
    assert pm.traffic[0].verdict == "passed"
    assert "| switch | succeeded | 10% to green | - | - | - |" in markdown
    assert "| switch | succeeded | analysed | passed | promote | 0.1% errors |" in markdown
    (rollback,) = pm.rollbacks
    assert (rollback.duration, rollback.rollback_within, rollback.within) == (95.0, 60.0, False)
    assert "| ann | checkout errors | 1m35s | 1m | no | yes |" in markdown
    assert "longer than the 1m the policy allows" in markdown
    assert pm.summary.outcome == "rolled_back"
    assert '"rollback_within": 60.0' in data
