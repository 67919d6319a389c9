"""`golive hypercare` and the phase across a killed engine: the real command line in subprocesses,
a real SQLite store, a scaled clock (GOLIVE_TEST_CLOCK) so that hours pass in seconds."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from golive.engine.clock import ScaledClock
from golive.engine.operator import read_events
from golive.store import open_store
from golive.testing import default_state_url

START = dt.datetime(2026, 12, 6, 22, 0, tzinfo=dt.UTC)

PLAN = """
golive: hc
title: Hypercare test
policy: {never_on: []}
people:
  ann: {name: Ann}
  bob: {name: Bob}
objectives:
  - id: bookings
    title: Clients book online
    check: {run: "test -f DIR/booked"}
environments:
  production:
    vars: {dir: DIR}
steps:
  - {id: deploy, owner: ann, run: "touch DIR/booked", undo: "true"}
hypercare:
  duration: 72h
  monitors:
    - {name: health, run: "test ! -f DIR/down", every: 10m, for: 2, severity: critical}
  exit:
    sign_off: [bob]
"""


def environ(clock: ScaledClock) -> dict[str, str]:
    return {
        **os.environ,
        "GOLIVE_TEST_CLOCK": clock.encode(),
        "GOLIVE_NOW": START.isoformat(),
        "NO_COLOR": "1",
    }


def golive(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "golive", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def start(*args: str | Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "golive", *map(str, args)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def view(path: Path, env: dict[str, str]) -> dict[str, Any]:
    result = golive("hypercare", "--plan", path, "--format", "json", env=env)
    if "no run of plan" in result.stderr or "no runs yet" in result.stderr:
        return {"hypercare": None}  # not started yet
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def wait_for(
    path: Path, env: dict[str, str], test: Any, *, timeout: float = 40.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        shown = view(path, env)
        if shown["hypercare"] is not None and test(shown["hypercare"]):
            return shown
        assert time.monotonic() < deadline, f"timed out; last seen: {shown}"
        time.sleep(0.2)


def test_a_killed_engine_resumed_continues_hypercare_with_no_duplicate_incident(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hc.golive.yaml"
    path.write_text(PLAN.replace("DIR", str(tmp_path)), encoding="utf-8")
    clock = ScaledClock(START, scale=72 * 3600 / 120)  # 72 h in 2 minutes: 10 m is 0.28 s
    env = environ(clock)
    log = tmp_path / "engine.log"
    engine = start("run", path, "--env", "production", "--plain", env=env, log=log)
    try:
        wait_for(path, env, lambda h: h["monitors"][0]["state"] == "green")
        (tmp_path / "down").touch()
        shown = wait_for(path, env, lambda h: h["incidents"])
        run_id = shown["run"]
        engine.send_signal(signal.SIGKILL)  # mid-hypercare, with the incident open
        engine.wait(timeout=10)
        time.sleep(1.0)  # the monitor stays red while nobody watches

        resumed = start("resume", run_id, "--plan", path, "--plain", env=env, log=log)
        try:
            wait_for(path, env, lambda h: h["active"] and h["monitors"][0]["failures"] > 2)
            time.sleep(1.0)  # more failing probes by the new engine: still one incident
            (tmp_path / "down").unlink()
            shown = wait_for(path, env, lambda h: h["incidents"][0]["recovered_at"])
            assert [c["name"] for c in shown["hypercare"]["blocked_by"]] == [
                "duration",
                "no_open_incidents",
                "sign_off",
            ]
            text = golive("hypercare", run_id, "--plan", path, env=env)
            assert text.returncode == 0, text.stderr
            assert "monitor health: green" in text.stdout
            assert "the handover waits for: duration, no_open_incidents, sign_off" in text.stdout
            signed = golive(
                "hypercare", run_id, "--sign-off", "--as", "bob", "--plan", path, env=env
            )
            assert signed.returncode == 0, signed.stderr
            closed = golive(
                "hypercare",
                run_id,
                "--close",
                "--as",
                "ann",
                "--why",
                "calm",
                "--plan",
                path,
                env=env,
            )
            assert closed.returncode == 0, closed.stderr
            assert resumed.wait(timeout=30) == 0, log.read_text()
        finally:
            if resumed.poll() is None:
                resumed.kill()
    finally:
        if engine.poll() is None:
            engine.kill()

    with open_store(default_state_url(path)) as store:
        events = read_events(store, run_id)
    kinds = Counter(type(e.event).__name__ for e in events)
    assert kinds["HypercareStarted"] == 1
    assert kinds["IncidentOpened"] == 1
    assert kinds["IncidentResolved"] == 1
    assert kinds["RunResumed"] == 1
    assert kinds["HypercareSignedOff"] == 1
    assert kinds["HypercareExited"] == 1
    status = golive("status", run_id, "--plan", path, "--format", "json", env=env)
    shown = json.loads(status.stdout)
    assert shown["status"] == "completed"
    assert shown["phase"] == "completed"
    assert shown["objectives"][0]["verdict"] == "met"
    assert shown["hypercare"]["exit"]["reason"] == "closed"
    assert shown["hypercare"]["exit"]["by"] == "ann"
    after = golive(
        "hypercare", run_id, "--close", "--as", "ann", "--why", "x", "--plan", path, env=env
    )
    assert after.returncode != 0
    assert after.stderr.count("\n") == 1
    assert "ended already" in after.stderr
    assert "Traceback" not in after.stderr


def test_bad_hypercare_plans_get_one_line_each(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    cases = {
        "every: 10m": ("every: 500ms", "every: must be at least 1s"),
        'run: "test ! -f': ('rnu: "test ! -f', "did you mean 'run'?"),
        "sign_off: [bob]": ("sign_off: [bbo]", "unknown person 'bbo'"),
    }
    for original, (broken, message) in cases.items():
        path = tmp_path / "bad.golive.yaml"
        path.write_text(PLAN.replace(original, broken), encoding="utf-8")
        result = golive("check", path, env=env)
        assert result.returncode == 1, result.stdout
        errors = [line for line in result.stderr.splitlines() if ": error: " in line]
        errors += [line for line in result.stdout.splitlines() if ": error: " in line]
        assert len(errors) == 1, (result.stdout, result.stderr)
        assert errors[0].startswith(f"{path}:")
        assert message in errors[0]
        assert "Traceback" not in result.stderr


def test_hypercare_of_a_run_without_one_says_why(tmp_path: Path) -> None:
    path = tmp_path / "hc.golive.yaml"
    path.write_text(
        PLAN.replace("DIR", str(tmp_path)).replace("production:", "staging:"), encoding="utf-8"
    )
    env = {**os.environ, "NO_COLOR": "1"}
    ran = golive("run", path, "--env", "staging", "--plain", env=env)
    assert ran.returncode == 0, ran.stderr
    shown = golive("hypercare", "--plan", path, env=env)
    assert shown.returncode == 0
    assert "no hypercare phase (a rehearsal has none unless run with --hypercare)" in shown.stdout
    assert "objective bookings: met" in shown.stdout
    closed = golive("hypercare", "--plan", path, "--close", "--as", "ann", "--why", "x", env=env)
    assert closed.returncode != 0
    assert "has no hypercare phase" in closed.stderr
