"""Overdue checklist items tell their owner, once per item and deadline, and the managers after
the grace; an item done in time tells nobody; a channel that is down fails visibly and is
retried, and nothing is lost. On SQLite and PostgreSQL (the outbox's claims differ)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.notify.conftest import Golive

from golive.engine.clock import ScaledClock
from golive.notify.checklist import ChecklistCourier
from golive.plan import parse_plan_text
from golive.store import open_store
from golive.store.checklist_outbox import ChecklistOutbox
from golive.testing.receivers import WebhookReceiver

DEADLINE = dt.datetime(2026, 12, 4, 20, 0, tzinfo=dt.UTC)
PLAN = """
golive: shop
title: Shop
timezone: Europe/Brussels
people:
  ana: {name: Ana, role: release manager, notify: ["json://HOOKS/ana"]}
  bob: {name: Bob, notify: ["json://HOOKS/bob"]}
  cid: {name: Cid, notify: ["json://HOOKS/cid"]}
notifications: {checklist_grace: 2h}
checklist:
  - {id: backup, title: Take a backup, owner: bob, due: "2026-12-04 21:00"}
  - {id: dns-ttl, title: Lower the DNS TTL, owner: cid, due: "2026-12-04 21:00"}
environments:
  production: {}
steps:
  - {id: deploy, owner: ana, run: "true"}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def _until(clock: ScaledClock, moment: dt.datetime) -> None:
    while clock.now() < moment:
        time.sleep(0.01)


def test_an_overdue_item_tells_its_owner_once_and_one_done_in_time_tells_nobody(
    store_url: str,
) -> None:
    clock = ScaledClock(DEADLINE - dt.timedelta(minutes=1), scale=120.0)  # 2 min a second
    with WebhookReceiver() as hooks, open_store(store_url, clock=clock.now) as store:
        plan = parse_plan_text(PLAN.replace("HOOKS", hooks.address), display="shop")
        courier = ChecklistCourier(store=store, plan=plan, render=str, redact=str, clock=clock)
        assert courier.deliver() == 0  # before the deadline: nothing
        store.mark_checklist("shop", "dns-ttl", state="done", by="cid")  # in time
        _until(clock, DEADLINE + dt.timedelta(seconds=5))
        for _ in range(5):
            courier.deliver()
        received = hooks.wait_for(1)
        time.sleep(0.3)
        assert [r.path for r in hooks.received] == ["/bob"]
        assert received[0].json["title"] == "Shop: checklist item backup is overdue"
        assert "golive checklist PLAN --done backup --as YOU" in received[0].json["message"]
        assert "2026-12-04 21:00 (Europe/Brussels)" in received[0].json["message"]


def test_the_managers_hear_of_an_item_still_open_after_the_grace(store_url: str) -> None:
    clock = ScaledClock(DEADLINE + dt.timedelta(seconds=1), scale=7200.0)  # 2 h a second
    with WebhookReceiver() as hooks, open_store(store_url, clock=clock.now) as store:
        plan = parse_plan_text(PLAN.replace("HOOKS", hooks.address), display="shop")
        courier = ChecklistCourier(store=store, plan=plan, render=str, redact=str, clock=clock)
        courier.deliver()
        assert sorted(r.path for r in hooks.wait_for(2)) == ["/bob", "/cid"]
        store.mark_checklist("shop", "dns-ttl", state="done", by="cid")  # late, but done
        _until(clock, DEADLINE + dt.timedelta(hours=2, minutes=5))
        courier.deliver()
        reminder = hooks.wait_for(3)[2]
        assert reminder.path == "/ana"  # the release manager, about backup only
        assert "backup" in reminder.json["message"]
        assert "it is bob's" in reminder.json["message"]
        assert "dns-ttl" not in reminder.json["message"]
        courier.deliver()
        time.sleep(0.3)
        assert len(hooks.received) == 3


def test_a_channel_down_fails_visibly_then_is_retried_and_nothing_is_lost(
    store_url: str, tmp_path: Path, cli: Golive
) -> None:
    clock = ScaledClock(DEADLINE + dt.timedelta(seconds=1), scale=60.0)  # the 10 s backoff: 1/6 s
    with WebhookReceiver(status=503) as hooks, open_store(store_url, clock=clock.now) as store:
        text = PLAN.replace("HOOKS", hooks.address)
        plan = parse_plan_text(text, display="shop")
        store.mark_checklist("shop", "dns-ttl", state="done", by="cid")
        courier = ChecklistCourier(store=store, plan=plan, render=str, redact=str, clock=clock)
        assert courier.deliver() == 0
        (failed,) = ChecklistOutbox(store).deliveries("shop").values()
        assert (failed.state, failed.attempts, failed.key.recipient) == ("failed", 1, "bob")
        assert failed.retry_at is not None
        assert failed.error
        assert courier.deliver() == 0  # not before its retry time
        assert len(hooks.received) == 1

        hooks.status = 200  # the channel is back; the failure shows until the retry
        path = tmp_path / "shop.golive.yaml"
        path.write_text(text)
        shown = cli("checklist", path, "--no-verify", "--state", store_url)
        assert "notification to bob about backup FAILING (attempt 1, retry at" in shown.stdout
        _until(clock, failed.retry_at + dt.timedelta(seconds=1))
        assert courier.deliver() == 1
        assert [r.path for r in hooks.received] == ["/bob", "/bob"]  # refused once, then taken
        (sent,) = ChecklistOutbox(store).deliveries("shop").values()
        assert (sent.state, sent.attempts) == ("sent", 2)
        assert courier.deliver() == 0
        shown = cli("checklist", path, "--no-verify", "--state", store_url)
        assert "FAILING" not in shown.stdout
        assert "notifications: 1 sent" in shown.stdout


ITEM = re.compile(r"The checklist item (i\d+) ")
RACE = """
golive: race
title: Race
people:
PEOPLE
checklist:
ITEMS
environments:
  production: {}
steps:
  - {id: deploy, owner: p0, run: "true"}
"""


def test_couriers_and_golive_notify_racing_send_each_notice_once(
    store_url: str, tmp_path: Path, cli: Golive
) -> None:
    owners = 12
    clock = ScaledClock(DEADLINE + dt.timedelta(seconds=1), scale=1.0)
    with WebhookReceiver() as hooks:
        people = "\n".join(
            f'  p{i}: {{name: P{i}, notify: ["json://{hooks.address}/p{i}"]}}'
            for i in range(owners)
        )
        items = "\n".join(
            f'  - {{id: i{i}, title: Item {i}, owner: p{i % owners}, due: "2026-12-04 19:00"}}'
            for i in range(owners * 2)
        )
        text = RACE.replace("PEOPLE", people).replace("ITEMS", items)
        path = tmp_path / "race.golive.yaml"
        path.write_text(text)
        plan = parse_plan_text(text, display="race")
        stores = [open_store(store_url, clock=clock.now) for _ in range(2)]
        try:
            couriers = [
                ChecklistCourier(store=s, plan=plan, render=str, redact=str, clock=clock)
                for s in stores
            ]
            threads = [threading.Thread(target=c.deliver) for c in couriers for _ in range(2)]
            results: list[subprocess.CompletedProcess[str]] = []
            notify = threading.Thread(
                target=lambda: results.append(
                    cli(
                        "notify",
                        "--checklist",
                        path,
                        "--once",
                        "--state",
                        store_url,
                        env={"GOLIVE_TEST_CLOCK": clock.encode()},
                    )
                )
            )
            for thread in [notify, *threads]:
                thread.start()
            for thread in [notify, *threads]:
                thread.join(timeout=120)
            for courier in couriers:
                courier.deliver()
            rows = ChecklistOutbox(stores[0]).deliveries("race")
        finally:
            for store in stores:
                store.close()
    assert results[0].returncode == 0, results[0].stderr
    assert "message(s) sent for the checklist of race" in results[0].stdout
    arrived = Counter(r.path for r in hooks.received)
    assert arrived == Counter({f"/p{i}": 1 for i in range(owners)})  # each owner, one message
    mentions = Counter(item for r in hooks.received for item in ITEM.findall(r.json["message"]))
    assert mentions == Counter({f"i{i}": 1 for i in range(owners * 2)})  # each item, once
    assert {d.state for d in rows.values()} == {"sent"}
    assert len(rows) == owners * 2
