"""The rule table, decided from events alone: who gets what, overrides, mute, severity, and the
grouping of a burst into one message."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from golive.engine.events import (
    Event,
    GateVoted,
    Recorded,
    RollbackStarted,
    RunPaused,
    RunStarted,
    Severity,
    StepWaiting,
    UpdatePosted,
    Vote,
    encode,
)
from golive.notify.courier import Courier
from golive.notify.rules import decide
from golive.plan import parse_plan_text
from golive.plan.models import Plan
from golive.store import open_store
from golive.testing import PlanRunner
from golive.testing.receivers import WebhookReceiver

PLAN = """
golive: rules
title: Rules
people:
  ana: {name: Ana, role: release manager}
  bob: {name: Bob, role: ops}
  cleo: {name: Cleo, role: business}
channels: ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"]
environments:
  staging: {}
steps:
  - {id: deploy, owner: bob, run: "true", undo: "true"}
  - {id: go, needs: [deploy], gate: Go?, approvers: [ana, cleo]}
"""
T0 = dt.datetime(2026, 12, 4, 20, 0, tzinfo=dt.UTC)


def _plan(extra: str = "") -> Plan:
    return parse_plan_text(PLAN + extra, display="rules.golive.yaml")


def _log(*events: Event) -> list[Recorded]:
    return [Recorded(i, T0 + dt.timedelta(seconds=i), e) for i, e in enumerate(events, start=1)]


def _started() -> RunStarted:
    return RunStarted(
        plan_id="rules", plan_path="p", plan_hash="h", plan_text="", env="staging",
        release=None, rehearsal=True, started_by="ana", max_parallel=1, host="h", pid=1,
        steps=["deploy", "go"],
    )  # fmt: skip


def _ids(plan: Plan, *events: Event) -> list[str]:
    return [n.id for n in decide(plan, _log(*events), now=T0 + dt.timedelta(hours=1))]


def test_the_default_table_sends_each_event_to_its_people() -> None:
    ids = _ids(
        _plan(),
        _started(),
        StepWaiting(step="go", who=["cleo"], what="Go/No-Go: Go?"),
        RunPaused(step="go", reason="no-go"),
        RollbackStarted(by="ana", reason="no-go"),
    )
    assert ids == [
        "1:run_started:channel:0",
        "1:run_started:channel:1",
        "2:gate_opened:cleo",  # ana voted already: the event names who is still awaited
        "3:run_paused:ana",  # the managers: role "release manager"
        "4:rollback_started:ana",
        "4:rollback_started:bob",
        "4:rollback_started:cleo",
        "4:rollback_started:channel:0",
        "4:rollback_started:channel:1",
    ]


def test_rules_are_overridden_and_muted_from_the_plan() -> None:
    plan = _plan(
        "notifications:\n  rules: {run_started: [bob]}\n  mute: [rollback_started, cleo]\n"
    )
    ids = _ids(
        plan,
        _started(),
        StepWaiting(step="go", who=["ana", "cleo"], what="Go/No-Go: Go?"),
        RollbackStarted(by="ana", reason="x"),
    )
    assert ids == ["1:run_started:bob", "2:gate_opened:ana"]


def test_updates_below_the_channel_severity_stay_on_mission_control() -> None:
    plan = _plan("notifications: {severity: warning}\n")
    ids = _ids(
        plan,
        UpdatePosted(by="ana", text="fine", severity=Severity.info),
        UpdatePosted(by="ana", text="slow", severity=Severity.warning),
    )
    assert ids == ["2:update_posted:channel:0", "2:update_posted:channel:1"]


def test_the_nights_ladder_stops_at_a_vote() -> None:
    plan = _plan("escalation:\n  - {after: 10m, notify: [bob]}\n  - {after: 20m, notify: [ana]}\n")
    waiting = StepWaiting(step="go", who=["cleo"], what="Go/No-Go: Go?")
    vote = GateVoted(step="go", by="cleo", vote=Vote.go)
    events = _log(waiting)
    at = T0 + dt.timedelta(seconds=1)
    assert [n.id for n in decide(plan, events, now=at + dt.timedelta(minutes=5))] == [
        "1:gate_opened:cleo"
    ]
    assert [n.id for n in decide(plan, events, now=at + dt.timedelta(minutes=25))][1:] == [
        "1:escalation.0:bob",
        "1:escalation.1:ana",
    ]
    voted = [*events, Recorded(2, at + dt.timedelta(minutes=12), vote)]
    # once voted, no level is owed any more: one due but not yet delivered is dropped too
    assert [n.id for n in decide(plan, voted, now=at + dt.timedelta(minutes=25))] == [
        "1:gate_opened:cleo"
    ]


PLAN_GROUPED = """
golive: burst
title: Burst
people:
  ana: {name: Ana, role: release manager}
channels: ["json://HOOKS/channel"]
notifications: {group: 1s}
environments:
  staging: {}
steps:
  - {id: deploy, owner: ana, run: "true", undo: "true"}
"""


def test_a_burst_to_one_recipient_leaves_as_one_message(tmp_path: Path) -> None:
    with WebhookReceiver() as hooks:
        runner = PlanRunner.from_yaml(tmp_path, PLAN_GROUPED.replace("HOOKS", hooks.address))
        state = runner.run(env="staging")  # in-process: no courier; nothing sent yet
        with open_store(runner.store_url) as store:
            for text in ("one", "two", "three"):
                type_name, step, data = encode(
                    UpdatePosted(by="ana", text=text, severity=Severity.info)
                )
                store.append(state.run_id, type_name, step=step, data=data)
            plan = parse_plan_text(state.plan_text, display="burst")
            courier = Courier(store=store, run_id=state.run_id, plan=plan, render=str, redact=str)
            time.sleep(1.2)
            assert courier.deliver() == 1
            assert courier.deliver(flush=True) == 0
        [message] = hooks.received
        assert message.json["title"] == "Burst: 5 updates"  # started, completed, three updates
        assert all(word in message.json["message"] for word in ("one", "two", "three"))
