"""One engine per run, across hosts: `golive resume` refuses a run whose engine holds its lease,
`--force` takes over only an expired one, and an engine whose lease was taken over stops before
its next event. Engines are real `golive` processes; GOLIVE_HOSTNAME makes two of them two hosts
(with the same name they would see each other's processes, and take over a dead one at once)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from golive.engine.operator import read_state
from golive.engine.state import StepStatus
from golive.store import open_store
from golive.store.leases import Lease, current_lease
from golive.store.schema import events


def lease_plan(out: Path) -> str:
    """A step whose effect is a line in `out`, a gate nobody votes at, then another effect."""
    return f"""\
golive: lease
title: Lease test
people:
  ops: {{name: Ops}}
environments:
  staging: {{}}
steps:
  - {{id: effect, owner: ops, run: "echo effect >> {out}"}}
  - {{id: go, gate: Go or no-go, needs: [effect], approvers: [ops]}}
  - {{id: after, owner: ops, needs: [go], run: "echo after >> {out}"}}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


class Host:
    """Runs `golive` as if on the host `name`, against one store, with a lease ttl of `ttl` s."""

    def __init__(self, name: str, store_url: str, cwd: Path, ttl: float = 30) -> None:
        self.env = {
            **os.environ,
            "GOLIVE_HOSTNAME": name,
            "GOLIVE_STATE": store_url,
            "GOLIVE_LEASE_TTL": str(ttl),
            "NO_COLOR": "1",
            "COLUMNS": "400",
        }
        self.cwd = cwd

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "golive", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "golive", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "lease.golive.yaml"
    path.write_text(lease_plan(tmp_path / "effects.txt"), encoding="utf-8")
    return path


@pytest.fixture
def engines() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.communicate()


def until(what: str, condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def gate_waits(store_url: str, *, after_seq: int = 0) -> bool:
    """Whether the gate has been opened (StepWaiting) by an engine after event `after_seq`."""
    with open_store(store_url) as store:
        runs = store.runs()
        if not runs:
            return False
        waits = store.events(runs[-1].id, after=after_seq, types=["StepWaiting"])
        return any(e.step == "go" for e in waits)


def only_run(store_url: str) -> str:
    with open_store(store_url) as store:
        return store.latest_run().id


def lease_of(store_url: str, run_id: str) -> Lease:
    with open_store(store_url) as store:
        lease = current_lease(store=store, run_id=run_id)
    assert lease is not None
    return lease


def expired(store_url: str, run_id: str) -> bool:
    return lease_of(store_url, run_id).expires_at < datetime.now(UTC)


def last_seq(store_url: str, run_id: str) -> int:
    with open_store(store_url) as store:
        return store.last_seq(run_id)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_resume_of_a_run_driven_from_another_host_is_refused_naming_host_process_and_since(
    store_url: str, plan: Path, tmp_path: Path, engines: list[subprocess.Popen[str]]
) -> None:
    a = Host("host-a", store_url, tmp_path)
    b = Host("host-b", store_url, tmp_path)
    engines.append(a.start("run", str(plan), "--env", "staging", "--plain"))
    until("the gate opens", lambda: gate_waits(store_url))
    run_id = only_run(store_url)
    before = last_seq(store_url, run_id)

    refused = b.run("resume", run_id, "--plain")

    assert refused.returncode == 1
    message = one_line(refused.stderr)
    pid = engines[0].pid
    assert re.fullmatch(
        rf"golive: error: run {run_id} is driven by the engine on host host-a \(process {pid}\) "
        r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, lease renewed \d+ s ago: "
        r"steer it with `golive decide`/`golive done`, or stop that engine first",
        message,
    ), message
    assert last_seq(store_url, run_id) == before  # no RunResumed, nothing else
    assert engines[0].poll() is None
    status = b.run("status", run_id)
    assert f"driven by the engine on host host-a (process {pid})" in status.stdout


@pytest.mark.slow
def test_force_is_refused_while_the_lease_lives_and_takes_over_once_it_expired(
    store_url: str, plan: Path, tmp_path: Path, engines: list[subprocess.Popen[str]]
) -> None:
    a = Host("host-a", store_url, tmp_path, ttl=1)
    b = Host("host-b", store_url, tmp_path, ttl=1)
    engines.append(a.start("run", str(plan), "--env", "staging", "--plain"))
    until("the gate opens", lambda: gate_waits(store_url))
    run_id = only_run(store_url)
    time.sleep(1.5)  # longer than the ttl: the heartbeat keeps the lease alive

    forced = b.run("resume", run_id, "--force", "--plain")
    assert forced.returncode == 1
    assert "--force takes over only an expired lease" in one_line(forced.stderr)

    engines[0].kill()  # host-a's engine dies without releasing; host-b cannot see its process
    engines[0].communicate()
    plain = b.run("resume", run_id, "--plain")
    assert plain.returncode == 1
    until("the lease expires", lambda: expired(store_url, run_id))
    message = one_line(b.run("resume", run_id).stderr)
    assert "stopped renewing its lease" in message
    assert "host host-a" in message
    assert f"take over with `golive resume {run_id} --force`" in message

    before = last_seq(store_url, run_id)
    engines.append(b.start("resume", run_id, "--force", "--plain"))
    until("the gate opens again", lambda: gate_waits(store_url, after_seq=before))
    lease = lease_of(store_url, run_id)
    assert (lease.token, lease.host, lease.pid) == (2, "host-b", engines[1].pid)
    assert b.run("gate", run_id, "go", "go", "--as", "ops").returncode == 0
    out, err = engines[1].communicate(timeout=60)
    assert engines[1].returncode == 0, out + err
    assert (tmp_path / "effects.txt").read_text().split() == ["effect", "after"]


@pytest.mark.slow
def test_an_engine_whose_expired_lease_was_taken_over_stops_before_its_next_event(
    store_url: str, plan: Path, tmp_path: Path, engines: list[subprocess.Popen[str]]
) -> None:
    a = Host("host-a", store_url, tmp_path, ttl=1)
    b = Host("host-b", store_url, tmp_path, ttl=1)
    engines.append(a.start("run", str(plan), "--env", "staging", "--plain"))
    until("the gate opens", lambda: gate_waits(store_url))
    run_id = only_run(store_url)
    engines[0].send_signal(signal.SIGSTOP)  # host-a is cut off: no heartbeat, no events
    until("the lease expires", lambda: expired(store_url, run_id))
    before = last_seq(store_url, run_id)
    engines.append(b.start("resume", run_id, "--force", "--plain"))
    until("host-b's engine opens the gate", lambda: gate_waits(store_url, after_seq=before))
    # The gate is decided while host-a is frozen: both engines would now run `after`.
    assert b.run("gate", run_id, "go", "go", "--as", "ops").returncode == 0

    engines[0].send_signal(signal.SIGCONT)
    out, err = engines[0].communicate(timeout=60)
    assert engines[0].returncode == 1, out + err
    assert re.search(
        rf"golive: error: this engine lost its lease on run {run_id} \(token 1\): .*; it stops "
        rf"here without acting further: see who drives the run with `golive status {run_id}`",
        one_line(err),
    ), err
    b_out, b_err = engines[1].communicate(timeout=60)
    assert engines[1].returncode == 0, b_out + b_err
    assert (tmp_path / "effects.txt").read_text().split() == ["effect", "after"]
    with open_store(store_url) as store:
        after_takeover = store.events(run_id, after=before)
        state = read_state(store, run_id)
    assert state.step("after").status is StepStatus.succeeded
    assert [e for e in after_takeover if e.type == "StepStarted" and e.step == "after"]
    resumed = [e for e in after_takeover if e.type == "RunResumed"]
    assert [(e.data["host"], e.data["pid"]) for e in resumed] == [("host-b", engines[1].pid)]
    assert set(engine_tokens(store_url, run_id, after=before)) == {2}


def engine_tokens(store_url: str, run_id: str, *, after: int) -> list[int]:
    """The lease tokens on the events engines appended after seq `after`."""
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as connection:
            query = sa.select(events.c.lease).where(
                events.c.run_id == run_id, events.c.seq > after, events.c.lease.is_not(None)
            )
            return [int(row[0]) for row in connection.execute(query)]
    finally:
        engine.dispose()


def test_a_lease_lifetime_that_is_not_a_number_of_seconds_is_refused_before_the_run_starts(
    plan: Path, tmp_path: Path, sqlite_url: str
) -> None:
    host = Host("host-a", sqlite_url, tmp_path, ttl=30)
    host.env["GOLIVE_LEASE_TTL"] = "soon"

    refused = host.run("run", str(plan), "--env", "staging")

    assert refused.returncode == 2
    assert one_line(refused.stderr) == (
        "golive: error: GOLIVE_LEASE_TTL='soon': not a lease lifetime; give seconds between "
        "0.1 and 86400, or unset it for 30 s"
    )
    assert not (tmp_path / "effects.txt").exists()
    with open_store(sqlite_url) as store:
        assert store.runs() == []
