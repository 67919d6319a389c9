"""The live stream against a real `golive serve` and a real engine: a whole go-live followed and
steered through the API alone, every watcher seeing each event within a second, Last-Event-ID,
presence, and the CLI and the web writing the same events."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.web.conftest import Engine, Person, bearer, golive_command

from golive.engine.operator import engine_alive, read_state
from golive.engine.state import RunState
from golive.store import open_store
from golive.store.accounts import Accounts, Role


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(
    store_url: str, cwd: Path, *options: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`golive serve` on a free port; its base URL once /api/health answers, and its process."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "golive", "serve", "--state", store_url),
            *("--port", str(port), *options),
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/api/health", timeout=1).json() == {"ok": True}:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"golive serve did not start: {process.communicate()}")
            time.sleep(0.05)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture
def server(store_url: str, people: dict[str, Person], tmp_path: Path) -> Iterator[str]:
    """`golive serve` on a free port; its base URL once /api/health answers."""
    with serving(store_url, tmp_path) as (url, _):
        yield url


PRESENCE_BOUND = 30.0  # seconds to wait for a presence change (generous: the machine is shared)


@dataclass
class Message:
    event: str
    data: dict[str, Any]
    id: str | None
    received: float


class Watch:
    """One SSE watcher in a thread: its messages land in `inbox` as they arrive."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.inbox: queue.Queue[Message] = queue.Queue()
        self._client = httpx.Client(timeout=None)
        self._response = self._client.send(
            self._client.build_request("GET", url, headers=headers), stream=True
        )
        assert self._response.status_code == 200, self._response.read()
        assert self._response.headers["content-type"].startswith("text/event-stream")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        with contextlib.suppress(httpx.HTTPError, OSError, ValueError, AttributeError):
            for line in self._response.iter_lines():
                if line == "" and "data" in fields:
                    data = json.loads(fields["data"])
                    event, seq = fields.get("event", "message"), fields.get("id")
                    self.inbox.put(Message(event, data, seq, time.monotonic()))
                    fields = {}
                elif line and not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value

    def next(
        self, event: str, timeout: float = 5, where: Callable[[Message], bool] = lambda m: True
    ) -> Message:
        """The next message of this event type (that `where` accepts), within `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {event} message in {timeout} s")
            try:
                message = self.inbox.get(timeout=left)
            except queue.Empty:
                raise AssertionError(f"no {event} message in {timeout} s") from None
            if message.event == event and where(message):
                return message

    def close(self) -> None:
        # Shut the socket down: a close() alone waits for the reading thread's recv to return.
        stream = self._response.extensions["network_stream"]
        with contextlib.suppress(OSError):
            stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self._response.close()
        self._client.close()
        self._thread.join(timeout=5)


def test_a_go_live_is_followed_and_steered_through_the_api_alone(
    engine: Engine, people: dict[str, Person], server: str, plan_path: Path
) -> None:
    stream = f"{server}/api/runs/{engine.run_id}/stream"
    watchers = [Watch(stream, bearer(people[name])) for name in ("obi", "alba")]
    api = httpx.Client(base_url=f"{server}/api/runs/{engine.run_id}", timeout=10)
    try:
        sent = time.monotonic()
        posted = api.post(
            "/updates",
            json={"text": "prepared; confirming", "severity": "warning"},
            headers=bearer(people["olly"]),
        )
        assert posted.status_code == 200, posted.text
        for watch in watchers:
            update = watch.next("UpdatePosted")
            assert update.data["data"] == {
                "by": "olly",
                "text": "prepared; confirming",
                "severity": "warning",
            }
            assert update.id == str(update.data["seq"])
            assert update.received - sent < 1.0
        done = api.post("/steps/confirm/done", headers=bearer(people["olly"]))
        assert done.status_code == 200, done.text
        watchers[0].next("StepWaiting")  # the gate opens, for alba
        voted = api.post(
            "/gates/go/votes",
            json={"vote": "go", "reason": "all green"},
            headers=bearer(people["alba"]),
        )
        assert voted.status_code == 200, voted.text
        for watch in watchers:
            assert watch.next("GateVoted").data["data"]["by"] == "alba"
            assert watch.next("RunFinished").data["data"]["outcome"] == "completed"
    finally:
        api.close()
        for watch in watchers:
            watch.close()
    engine.process.wait(timeout=30)
    assert engine.process.returncode == 0
    log = golive_command("log", engine.run_id, "--state", engine.store_url, cwd=plan_path.parent)
    assert "warning update from olly: prepared; confirming" in log.stdout.replace(
        "WARNING", "warning"
    )
    assert "confirm marked done by olly" in log.stdout
    assert "alba voted go at go: all green" in log.stdout


def test_a_watcher_that_reconnects_gets_what_it_missed_and_presence_shows_who_watches(
    engine: Engine, people: dict[str, Person], server: str
) -> None:
    stream = f"{server}/api/runs/{engine.run_id}/stream"
    first = Watch(stream + "?after=0", bearer(people["obi"]))
    try:
        started = first.next("RunStarted")
        assert "plan_text" not in started.data["data"]
        presence = first.next("presence")
        assert [w["user"] for w in presence.data["watchers"]] == ["obi"]
        second = Watch(stream, bearer(people["mia"]))
        names = ["Mia Manager", "Obi Observer"]
        # Presence changes are told within about a second; the bound is for a loaded machine.
        both = first.next(
            "presence", PRESENCE_BOUND, lambda m: [w["name"] for w in m.data["watchers"]] == names
        )
        second.close()
        alone = first.next(
            "presence", PRESENCE_BOUND, lambda m: [w["user"] for w in m.data["watchers"]] == ["obi"]
        )
        assert alone.received > both.received
    finally:
        first.close()
    for text in ("one", "two"):
        api = f"{server}/api/runs/{engine.run_id}/updates"
        assert (
            httpx.post(api, json={"text": text}, headers=bearer(people["mia"])).status_code == 200
        )
    events = httpx.get(
        f"{server}/api/runs/{engine.run_id}/events", headers=bearer(people["obi"])
    ).json()
    one = next(e for e in events if e["type"] == "UpdatePosted" and e["data"]["text"] == "one")
    again = Watch(stream, {**bearer(people["obi"]), "Last-Event-ID": str(one["seq"] - 1)})
    try:
        assert again.next("UpdatePosted").data["data"]["text"] == "one"
        assert again.next("UpdatePosted").data["data"]["text"] == "two"
    finally:
        again.close()


def test_the_cli_and_the_api_see_the_same_run(
    engine: Engine, people: dict[str, Person], server: str, plan_path: Path
) -> None:
    cwd = plan_path.parent
    done = golive_command(
        "done", engine.run_id, "confirm", "--as", "olly", "--state", engine.store_url, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    engine.wait_for(lambda s: s["steps"]["go"] == "waiting")
    vote = golive_command(
        "gate",
        engine.run_id,
        "go",
        "no-go",
        "--as",
        "alba",
        "-m",
        "smoke red",
        "--state",
        engine.store_url,
        cwd=cwd,
    )
    assert vote.returncode == 0, vote.stderr
    view = httpx.get(f"{server}/api/runs/{engine.run_id}", headers=bearer(people["obi"])).json()
    steps = {s["id"]: s for s in view["steps"]}
    assert steps["confirm"]["marked_by"] == "olly"
    assert steps["go"]["ballots"] == [{"by": "alba", "vote": "no_go", "comment": "smoke red"}]
    status = golive_command(
        "status", engine.run_id, "--format", "json", "--state", engine.store_url, cwd=cwd
    )
    api_issue = httpx.post(
        f"{server}/api/runs/{engine.run_id}/issues",
        json={"title": "smoke test red", "severity": "critical", "owner": "olly", "step": "go"},
        headers=bearer(people["alba"]),
    )
    assert api_issue.status_code == 200
    status = golive_command(
        "status", engine.run_id, "--format", "json", "--state", engine.store_url, cwd=cwd
    )
    issues = json.loads(status.stdout)["issues"]
    assert issues[0]["title"] == "smoke test red"
    assert issues[0]["owner"] == "olly"
    text = golive_command("status", engine.run_id, "--state", engine.store_url, cwd=cwd).stdout
    assert "open issue" in text
    assert "smoke test red" in text


def _state(store_url: str, run_id: str) -> RunState:
    with open_store(store_url) as store:
        return read_state(store, run_id)


def _alive(store_url: str, run_id: str) -> bool:
    with open_store(store_url) as store:
        return engine_alive(store=store, run_id=run_id)


def _until(what: str, test: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def test_a_run_is_started_and_resumed_from_the_api_alone(
    store_url: str, people: dict[str, Person], plan_path: Path, tmp_path: Path
) -> None:
    with open_store(store_url) as store:
        Accounts(store).grant("mia", Role.manager, plan_id="call")
    mia, olly, alba = (bearer(people[name]) for name in ("mia", "olly", "alba"))
    engines: list[int] = []
    try:
        with serving(store_url, tmp_path, "--plan", str(plan_path.parent)) as (url, _):
            plans = httpx.get(f"{url}/api/plans", headers=mia).json()
            assert [(p["id"], p["can_start"]) for p in plans] == [("call", True)]
            assert plans[0]["environments"] == [{"name": "staging", "production": False}]
            assert plans[0]["readiness"]["verdict"] in ("ready", "not_ready")
            home = httpx.get(url, headers=mia).text
            assert 'data-start="/api/plans/call/runs"' in home
            assert "data-start" not in httpx.get(url, headers=bearer(people["obi"])).text
            started = httpx.post(
                f"{url}/api/plans/call/runs",
                json={"env": "staging", "release": "1.2", "rehearsal": True},
                headers=mia,
                timeout=60,
            )
            assert started.status_code == 200, started.text
            run_id = started.json()["run_id"]
            state = _state(store_url, run_id)
            assert state.started_by == "mia"
            engines.append(state.engine_pid)
            assert os.getsid(state.engine_pid) == state.engine_pid  # a session of its own
            # the store's URL (a password, with PostgreSQL) is not on its command line
            assert store_url.encode() not in Path(f"/proc/{state.engine_pid}/cmdline").read_bytes()
            _until(
                "confirm waits",
                lambda: _state(store_url, run_id).step("confirm").status == "waiting",
            )
        # The server has stopped; the engine it started drives the run still.
        assert _alive(store_url, run_id)
        with serving(store_url, tmp_path, "--plan", str(plan_path)) as (url, _):
            api = f"{url}/api/runs/{run_id}"
            assert httpx.post(f"{api}/steps/confirm/done", headers=olly).status_code == 200
            _until(
                "the gate opens", lambda: _state(store_url, run_id).step("go").status == "waiting"
            )
            os.kill(engines[0], signal.SIGKILL)
            _until("the engine is gone", lambda: not _alive(store_url, run_id))
            page = httpx.get(f"{url}/runs/{run_id}", headers=mia).text
            assert "No engine drives this run" in page
            assert f'data-post="/api/runs/{run_id}/resume"' in page
            seen = httpx.get(f"{url}/runs/{run_id}", headers=bearer(people["obi"])).text
            assert "No engine drives this run" in seen
            assert "/resume" not in seen  # an observer sees the banner, not the button
            resumed = httpx.post(f"{api}/resume", headers=mia, timeout=60)
            assert resumed.status_code == 200, resumed.text
            engines.append(_state(store_url, run_id).engine_pid)
            assert "No engine drives" not in httpx.get(f"{url}/runs/{run_id}", headers=mia).text
            again = httpx.post(f"{api}/resume", headers=mia, timeout=60)
            assert again.status_code == 409
            assert "nothing to resume" in again.json()["error"]
            _until(
                "the gate opens again",
                lambda: _state(store_url, run_id).step("go").status == "waiting",
            )
            voted = httpx.post(f"{api}/gates/go/votes", json={"vote": "go"}, headers=alba)
            assert voted.status_code == 200, voted.text
            _until("the run completes", lambda: _state(store_url, run_id).status == "completed")
            ended = httpx.post(f"{api}/resume", headers=mia, timeout=60)
            assert ended.status_code == 409, ended.text
    finally:
        for pid in engines:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    log = (plan_path.parent / ".golive" / "engines" / f"{run_id}.log").read_text()
    assert f"run {run_id}" in log
    assert f"run {run_id}  resumed" in log
    assert list((plan_path.parent / ".golive" / "engines").iterdir()) == [
        plan_path.parent / ".golive" / "engines" / f"{run_id}.log"
    ]


def test_a_broken_plan_stops_the_server_with_its_file_and_line(
    store_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.golive.yaml"
    broken.write_text("golive: broken\nsteps:\n  - {id: a, run: true, needs: [nope]}\n")
    served = golive_command("serve", "--state", store_url, "--plan", str(broken), cwd=tmp_path)
    assert served.returncode == 1
    assert f"{broken}:3:" in served.stderr + served.stdout


SECRET_PLAN = """\
golive: secretive
title: Needs a secret
people:
  mia: {name: Mia Manager, role: release manager}
environments:
  staging:
    secrets:
      TOKEN: {env: GOLIVE_TEST_UNSET_SECRET}
steps:
  - {id: use, owner: mia, run: "echo {{ secrets.TOKEN }}"}
"""


def test_an_engine_that_refuses_to_start_is_a_400_that_says_why(
    store_url: str, people: dict[str, Person], tmp_path: Path
) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "secretive.golive.yaml").write_text(SECRET_PLAN, encoding="utf-8")
    with serving(store_url, tmp_path, "--plan", str(plans)) as (url, _):
        started = httpx.post(
            f"{url}/api/plans/secretive/runs",
            json={"env": "staging"},
            headers=bearer(people["boss"]),
            timeout=60,
        )
    assert started.status_code == 400, started.text
    error = started.json()["error"]
    assert error.startswith("the engine did not start: ")
    assert "GOLIVE_TEST_UNSET_SECRET" in error
    assert "Traceback" not in error
    with open_store(store_url) as store:
        assert store.runs() == []  # a refused run leaves nothing
    assert not list((plans / ".golive" / "engines").iterdir())


def test_serve_refuses_plans_it_cannot_serve(store_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    served = golive_command("serve", "--state", store_url, "--plan", str(empty), cwd=tmp_path)
    assert served.returncode == 2
    assert "no *.golive.yaml file in this directory" in served.stderr
    missing = golive_command("serve", "--state", store_url, "--plan", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2
    assert "--plan nope.yaml: no such file or directory" in missing.stderr
    for name in ("one", "two"):
        (tmp_path / f"{name}.golive.yaml").write_text(SECRET_PLAN, encoding="utf-8")
    twice = golive_command("serve", "--state", store_url, "--plan", str(tmp_path), cwd=tmp_path)
    assert twice.returncode == 2
    assert "go-live 'secretive' is also" in twice.stderr
