"""The hypercare ladder climbs with an injected clock (ScaledClock, 15 min in 1.5 s): nobody
acknowledges the incident at 0 m, so the 15 m level is notified; an ack stops the ladder."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from golive.engine.call import acknowledge
from golive.engine.clock import ScaledClock
from golive.engine.events import IncidentOpened, Severity, encode
from golive.errors import UsageError
from golive.notify.courier import Courier
from golive.plan import parse_plan_text
from golive.store import open_store
from golive.testing import PlanRunner
from golive.testing.receivers import WebhookReceiver

PLAN = """
golive: care
title: Care
people:
  chloe: {name: Chloe, role: on call, notify: ["json://HOOKS/chloe"]}
  bob: {name: Bob, role: release manager, notify: ["json://HOOKS/bob"]}
  alice: {name: Alice, notify: ["json://HOOKS/alice"]}
  dave: {name: Dave, notify: ["json://HOOKS/dave"]}
notifications: {group: 0s}
environments:
  staging: {}
steps:
  - {id: switch, owner: bob, run: "true", undo: "true"}
hypercare:
  escalation:
    - {after: 0m, notify: [chloe]}
    - {after: 15m, notify: [bob, alice]}
    - {after: 30m, notify: [dave]}
"""
SCALE = 600.0  # ten minutes a second


def _at_least(clock: ScaledClock, moment: dt.datetime) -> None:
    while clock.now() < moment:
        time.sleep(0.02)


def test_an_unacknowledged_incident_climbs_the_ladder_until_an_ack(tmp_path: Path) -> None:
    with WebhookReceiver() as hooks:
        runner = PlanRunner.from_yaml(tmp_path, PLAN.replace("HOOKS", hooks.address))
        state = runner.run(env="staging")
        clock = ScaledClock(dt.datetime.now(dt.UTC), scale=SCALE)  # after the run
        with open_store(runner.store_url, clock=clock.now) as store:
            incident = IncidentOpened(
                monitor="checkout", title="checkout 5xx", severity=Severity.critical, detail="502"
            )
            type_name, step, data = encode(incident)
            opened = store.append(state.run_id, type_name, step=step, data=data)
            plan = parse_plan_text(state.plan_text, display="care")
            courier = Courier(
                store=store, run_id=state.run_id, plan=plan, render=str, redact=str, clock=clock
            )

            courier.deliver()  # 0 m: the first level
            assert [r.path for r in hooks.wait_for(1)] == ["/chloe"]
            assert "INCIDENT" in hooks.received[0].json["title"]

            _at_least(clock, opened.at + dt.timedelta(minutes=15, seconds=1))
            courier.deliver()  # nobody acknowledged: the 15 m level
            assert sorted(r.path for r in hooks.wait_for(3)[1:]) == ["/alice", "/bob"]

            run = store.get_run(state.run_id)
            acknowledge(store, run, item=str(opened.seq), by="chloe")
            _at_least(clock, opened.at + dt.timedelta(minutes=30, seconds=1))
            courier.deliver()  # the ack stopped the ladder: dave is not called
            time.sleep(0.3)
            assert len(hooks.received) == 3
            assert courier.deliver(flush=True) == 0


def test_an_ack_of_something_that_does_not_exist_says_what_can_be(tmp_path: Path) -> None:
    runner = PlanRunner.from_yaml(tmp_path, PLAN.replace("HOOKS", "127.0.0.1:9"))
    state = runner.run(env="staging")
    with open_store(runner.store_url) as store:
        run = store.get_run(state.run_id)
        with pytest.raises(UsageError, match=r"nothing called '77' to acknowledge in run"):
            acknowledge(store, run, item="77", by="chloe")
        with pytest.raises(UsageError, match="not a person of this plan"):
            acknowledge(store, run, item="switch", by="nobody")
