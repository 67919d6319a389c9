"""Two deliverers at once (say an engine and `golive notify`): the claims in the store keep them
apart, so every notification is sent once, and every message arrives once."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from golive.engine.events import NotificationSent, Severity, UpdatePosted, encode
from golive.engine.operator import read_events
from golive.notify.courier import Courier
from golive.notify.rules import decide
from golive.plan import parse_plan_text
from golive.store import open_store
from golive.testing import PlanRunner
from golive.testing.receivers import WebhookReceiver

PLAN = """
golive: race
title: Race
people:
  ana: {name: Ana, role: release manager, notify: ["json://HOOKS/ana"]}
  bob: {name: Bob, notify: ["json://HOOKS/bob"]}
channels: ["json://HOOKS/channel"]
notifications:
  group: 0s
  rules: {update_posted: [channels, everyone]}
environments:
  staging: {}
steps:
  - {id: deploy, owner: ana, run: "true", undo: "true"}
"""


def test_two_couriers_racing_send_each_notification_once(tmp_path: Path) -> None:
    with WebhookReceiver() as hooks:
        runner = PlanRunner.from_yaml(tmp_path, PLAN.replace("HOOKS", hooks.address))
        state = runner.run(env="staging")
        plan = parse_plan_text(state.plan_text, display="race")
        stores = [open_store(runner.store_url) for _ in range(2)]
        try:
            couriers = [
                Courier(store=s, run_id=state.run_id, plan=plan, render=str, redact=str)
                for s in stores
            ]
            writer = stores[0]

            def post(count: int) -> None:
                for n in range(count):
                    update = UpdatePosted(by="ana", text=f"update {n}", severity=Severity.info)
                    type_name, step, data = encode(update)
                    writer.append(state.run_id, type_name, step=step, data=data)

            def work(courier: Courier) -> None:
                for _ in range(40):
                    courier.deliver()

            threads = [threading.Thread(target=post, args=(15,))]
            threads += [threading.Thread(target=work, args=(c,)) for c in couriers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            for courier in couriers:
                courier.deliver(flush=True)
            events = read_events(writer, state.run_id)
        finally:
            for store in stores:
                store.close()

    sent = Counter(
        nid
        for r in events
        if isinstance(r.event, NotificationSent)
        for nid in r.event.notifications
    )
    owed = {n.id for n in decide(plan, events, now=events[-1].at)}
    assert set(sent) == owed  # all of them
    assert max(sent.values()) == 1  # once each
    messages = sum(1 for r in events if isinstance(r.event, NotificationSent))
    assert len(hooks.received) == messages  # and no message went out unrecorded
