"""`golive serve` delivers: a run's notifications after its engine stopped, and the served plans'
overdue checklist items; beside the engine's courier, `golive notify` and another server, each
notification arrives once."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.notify.conftest import Golive, wait_until

from golive.engine.clock import ScaledClock
from golive.engine.events import NotificationSent, Severity, UpdatePosted, encode
from golive.engine.operator import read_events
from golive.notify.dispatch import Dispatcher
from golive.notify.rules import decide
from golive.plan import parse_plan_text
from golive.store import open_store
from golive.testing.nginx import free_port
from golive.testing.receivers import WebhookReceiver

RACE = """
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
  - {id: deploy, owner: ana, run: "sleep 4", undo: "true"}
"""
UPDATE = re.compile(r"update \d+")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def _golive(*args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "golive", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_servers_the_engine_and_golive_notify_racing_send_each_notification_once(
    store_url: str, tmp_path: Path
) -> None:
    with WebhookReceiver() as hooks:
        path = tmp_path / "race.golive.yaml"
        path.write_text(RACE.replace("HOOKS", hooks.address))
        engine = _golive(
            "run", path, "-e", "staging", "--plain", "--state", store_url, cwd=tmp_path
        )
        with open_store(store_url) as store:
            wait_until(lambda: bool(store.runs()) and store.last_seq(store.runs()[-1].id) > 1)
            run_id = store.runs()[-1].id
            servers = [Dispatcher(store_url, poll=0.05, head_start=dt.timedelta(0)) for _ in "ab"]
            notify = _golive("notify", run_id, "--state", store_url, cwd=tmp_path)
            for server in servers:
                server.start()
            try:
                for n in range(12):  # while the engine runs, and after it finished
                    update = UpdatePosted(by="ana", text=f"update {n}", severity=Severity.info)
                    type_name, step, data = encode(update)
                    store.append(run_id, type_name, step=step, data=data)
                    time.sleep(0.4)
                out, err = engine.communicate(timeout=60)
                assert engine.returncode == 0, out + err
                wait_until(lambda: len(_mentions(hooks)) == 36)  # 12 updates x 3 recipients
                time.sleep(1.0)  # time for a duplicate to arrive, if one would
            finally:
                for server in servers:
                    server.close()
                notify.send_signal(signal.SIGINT)
                notify.communicate(timeout=30)
            events = read_events(store, run_id)
    assert max(_mentions(hooks).values()) == 1  # each update reached each recipient once
    sent = Counter(
        nid
        for r in events
        if isinstance(r.event, NotificationSent)
        for nid in r.event.notifications
    )
    plan = parse_plan_text(RACE.replace("HOOKS", hooks.address), display="race")
    assert set(sent) == {n.id for n in decide(plan, events, now=events[-1].at)}
    assert max(sent.values()) == 1
    senders = {r.event.by for r in events if isinstance(r.event, NotificationSent)}
    assert len(senders) >= 2  # a race indeed: more than one deliverer sent
    messages = sum(1 for r in events if isinstance(r.event, NotificationSent))
    assert len(hooks.received) == messages  # no message went out unrecorded


def _mentions(hooks: WebhookReceiver) -> Counter[tuple[str, str]]:
    return Counter(
        (r.path, text) for r in hooks.received for text in UPDATE.findall(r.json["message"])
    )


SERVED = """
golive: served
title: Served
people:
  ana: {name: Ana, role: release manager, notify: ["json://HOOKS/ana"]}
  bob: {name: Bob, notify: ["json://HOOKS/bob"]}
channels: ["json://HOOKS/channel"]
notifications: {group: 0s, mute: [run_started, run_finished]}
checklist:
  - {id: backup, title: Take a backup, owner: bob, due: "DUE"}
environments:
  staging: {}
steps:
  - {id: deploy, owner: ana, run: "true", undo: "true"}
"""


def test_golive_serve_delivers_after_the_engine_stopped_unless_told_not_to(
    tmp_path: Path, cli: Golive
) -> None:
    with WebhookReceiver() as hooks:
        path = tmp_path / "served.golive.yaml"
        # The servers' clock starts at the wall's time (the run's events are written at it: a
        # clock fixed in the past would hold the update back), the item falls due 2 min later.
        start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        due = (start + dt.timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M")
        path.write_text(SERVED.replace("HOOKS", hooks.address).replace("DUE", due))
        state = f"sqlite:///{tmp_path / 'state.db'}"
        assert cli("run", path, "-e", "staging", "--plain", "--state", state).returncode == 0
        with open_store(state) as store:
            run_id = store.runs()[-1].id
        posted = cli("update", run_id, "the shop is live", "--as", "ana", "--state", state)
        assert posted.returncode == 0, posted.stderr
        # the checklist item falls due 2 s after the servers start (60 x faster)
        clock = ScaledClock(start, scale=60.0)
        env = {"GOLIVE_TEST_CLOCK": clock.encode()}

        with _serving(tmp_path, state, path, "--no-deliver", env=env):
            time.sleep(4.0)
        assert hooks.received == []  # --no-deliver: nothing

        with _serving(tmp_path, state, path, env=env):
            received = hooks.wait_for(2)
            time.sleep(1.0)
        paths = sorted(r.path for r in hooks.received)
        assert paths == ["/bob", "/channel"]
        assert (
            "the shop is live" in next(r for r in received if r.path == "/channel").json["message"]
        )


class _serving:
    """`golive serve` in a subprocess while the block runs; stopped with SIGINT."""

    def __init__(self, cwd: Path, state: str, plan: Path, *args: str, env: dict[str, str]) -> None:
        port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "golive",
                "serve",
                "--port",
                str(port),
                "--plan",
                str(plan),
                "--state",
                state,
                *args,
            ],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        self.port = port

    def __enter__(self) -> _serving:
        import httpx

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/api/health").status_code < 500
            except httpx.HTTPError:
                return False

        wait_until(up)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate(timeout=30)
        assert "Traceback" not in err, err


CARE = """
golive: care
title: Care
people:
  chloe: {name: Chloe, role: on call, notify: ["json://HOOKS/chloe"]}
  bob: {name: Bob, role: release manager, notify: ["json://HOOKS/bob"]}
notifications: {group: 0s, mute: [run_started, run_finished]}
environments:
  staging: {}
steps:
  - {id: switch, owner: bob, run: "true", undo: "true"}
hypercare:
  escalation:
    - {after: 0m, notify: [chloe]}
    - {after: 15m, notify: [bob]}
"""


def test_the_server_keeps_a_run_while_its_ladder_may_climb_and_drops_it_once_acknowledged(
    tmp_path: Path,
) -> None:
    from golive.engine.call import acknowledge
    from golive.engine.events import IncidentOpened
    from golive.testing import PlanRunner

    with WebhookReceiver() as hooks:
        runner = PlanRunner.from_yaml(tmp_path, CARE.replace("HOOKS", hooks.address))
        state = runner.run(env="staging")  # the engine stopped: only the server delivers
        clock = ScaledClock(dt.datetime.now(dt.UTC), scale=600.0)  # ten minutes a second
        server = Dispatcher(runner.store_url, clock=clock)
        try:
            assert server.deliver() == 0
            assert server.couriers == {}  # the run owes nothing: not kept
            with open_store(runner.store_url, clock=clock.now) as store:
                incident = IncidentOpened(
                    monitor="checkout", title="5xx", severity=Severity.critical, detail="502"
                )
                type_name, step, data = encode(incident)
                opened = store.append(state.run_id, type_name, step=step, data=data)
                assert server.deliver() == 1  # chloe, at once
                assert [r.path for r in hooks.wait_for(1)] == ["/chloe"]
                assert list(server.couriers) == [state.run_id]  # bob's level may fall due
                acknowledge(store, store.get_run(state.run_id), item=str(opened.seq), by="chloe")
            while clock.now() < opened.at + dt.timedelta(minutes=16):
                time.sleep(0.05)
            assert server.deliver() == 0  # acknowledged: bob is not called
            assert server.couriers == {}  # and the run owes nothing more
        finally:
            server.close()
        assert len(hooks.received) == 1
