"""`golive status` reads the store through the light reader (store/reader.py) and prints exactly
what it prints through `open_store`: text and JSON, on a run with gates, hypercare, incidents,
issues, updates and notifications, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from golive.engine import events as ev
from golive.store import open_store

PLAN = """
golive: fast
title: Fast status
policy: {never_on: []}
people:
  ann: {name: Ann}
  bob: {name: Bob}
objectives:
  - id: bookings
    title: Clients book online
    check: {run: "true"}
steps:
  - {id: deploy, owner: ann, run: "true", estimate: 2m}
  - {id: go, gate: Go/No-Go, approvers: [ann, bob], needs: [deploy]}
  - {id: announce, owner: bob, manual: Tell the clients, needs: [go], estimate: 5m}
hypercare:
  duration: 72h
  monitors:
    - {name: health, run: "true", every: 10m, for: 2, severity: critical}
  exit:
    sign_off: [bob]
"""

EVENTS: list[ev.Event] = [
    ev.RunStarted(
        plan_id="fast",
        plan_path="/plans/fast.golive.yaml",
        plan_hash="sha256:00",
        plan_text=PLAN,
        env="production",
        release="1.2",
        rehearsal=False,
        started_by="ann",
        max_parallel=10,
        host="h",
        pid=1,
        steps=["deploy", "go", "announce"],
    ),
    ev.StepStarted(step="deploy", attempt=1, kind="run"),
    ev.StepOutput(step="deploy", stream="stdout", text="done \x1b[2J"),
    ev.StepSucceeded(step="deploy", attempt=1, duration=3.5, exit_code=0),
    ev.StepStarted(step="go", attempt=1, kind="gate"),
    ev.StepWaiting(step="go", who=["ann", "bob"], what="Go/No-Go"),
    ev.GateVoted(step="go", by="ann", vote=ev.Vote.go, comment="fine"),
    ev.GateVoted(step="go", by="bob", vote=ev.Vote.go),
    ev.StepSucceeded(step="go", attempt=1, duration=60.0),
    ev.UpdatePosted(by="ann", text="deploying\nnow", severity=ev.Severity.info),
    ev.IssueRaised(by="bob", title="slow page", severity=ev.Severity.warning, owner="ann"),
    ev.IssueCommented(issue=12, by="ann", text="looking"),
    ev.StepStarted(step="announce", attempt=1, kind="manual"),
    ev.StepMarkedDone(step="announce", by="bob", note="sent"),
    ev.NotificationSent(notifications=["n1"], recipient="ann", by="h:1"),
    ev.NotificationFailed(
        notifications=["n2"],
        recipient="bob",
        by="h:1",
        attempt=2,
        error="refused",
        retry_at="2026-12-06T22:10:00+00:00",
    ),
    ev.RunFinished(outcome=ev.Outcome.completed, duration=90.0),
    ev.HypercareStarted(duration=3600.0, until="2026-12-06T23:00:00+00:00", monitors=["health"]),
    ev.MonitorChecked(monitor="health", ok=True, detail="ok", value=1.0),
    ev.MonitorChecked(monitor="health", ok=False, detail="down", failures=2),
    ev.IncidentOpened(
        monitor="health", title="health down", severity=ev.Severity.critical, detail="down"
    ),
    ev.ObjectiveEvaluated(objective="bookings", verdict="met", detail="1 booking", value=1.0),
    ev.Acknowledged(item="go", by="ann"),
    ev.HypercareSignedOff(by="bob"),
    ev.HypercareExited(reason="exit_criteria", by="bob", criteria={"signed_off": True}),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def status(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "TZ": "UTC"}
    env.pop("GOLIVE_STATE", None)
    return subprocess.run(
        [sys.executable, "-m", "golive", "status", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )  # fmt: skip


def imported(args: list[str], cwd: Path) -> set[str]:
    code = (
        "import sys, json\nfrom golive.cli import main\n"
        f"sys.argv = ['golive', 'status', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    import json

    return set(json.loads(done.stderr.splitlines()[-1]))


def full_path_url(url: str) -> str:
    """The same store under a URL the light reader leaves to `open_store` (a query)."""
    return url + ("?timeout=10" if url.startswith("sqlite") else "?connect_timeout=10")


def record(url: str) -> str:
    with open_store(url) as store:
        run = store.create_run(
            plan_id="fast", plan_path="/plans/fast.golive.yaml", plan_hash="sha256:00",
            env="production", release="1.2", rehearsal=False, started_by="ann",
        )  # fmt: skip
        for event in EVENTS:
            type_name, step, data = ev.encode(event)
            store.append(run.id, type_name, step=step, data=data)
        return run.id


@pytest.mark.parametrize("output", [[], ["--format", "json"]])
def test_status_prints_the_same_through_the_reader_as_through_the_store(
    store_url: str, tmp_path: Path, output: list[str]
) -> None:
    run_id = record(store_url)
    fast = status("--state", store_url, *output, cwd=tmp_path)
    full = status("--state", full_path_url(store_url), *output, cwd=tmp_path)
    assert fast.returncode == full.returncode == 0, fast.stderr + full.stderr
    assert fast.stdout == full.stdout
    for shown in (run_id, "health", "bob"):
        assert shown in fast.stdout
    assert "refused" in fast.stdout  # the failing delivery
    same_prefix = status(run_id[:-3], "--state", store_url, *output, cwd=tmp_path)
    assert same_prefix.stdout == fast.stdout


def test_status_errors_read_the_same_through_the_reader(store_url: str, tmp_path: Path) -> None:
    record(store_url)
    record(store_url)  # two runs: "r-" is ambiguous
    for args in (["r-nope"], ["r-"]):
        fast = status(*args, "--state", store_url, cwd=tmp_path)
        full = status(*args, "--state", full_path_url(store_url), cwd=tmp_path)
        assert fast.returncode == full.returncode != 0
        assert fast.stderr.replace(store_url, "URL") == full.stderr.replace(
            full_path_url(store_url), "URL"
        )


EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.golive.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_outline_of_a_plan_is_what_the_models_read_of_it(path: Path) -> None:
    from golive.plan import parse_plan_text
    from golive.plan.outline import outline

    text = path.read_text(encoding="utf-8")
    plan, light = parse_plan_text(text, display=str(path)), outline(text)
    assert light is not None
    assert light.title == plan.title
    for seen, step in zip(light.steps, plan.steps, strict=True):
        assert (seen.id, seen.needs, seen.owner, seen.approvers, seen.estimate) == (
            step.id,
            step.needs,
            step.owner,
            step.approvers,
            step.estimate,
        )
        assert seen.kind == step.kind
    assert [(o.id, o.title, o.check is None) for o in light.objectives] == [
        (o.id, o.title, o.check is None) for o in plan.objectives
    ]


def test_the_outline_knows_the_step_kinds_in_the_models_order() -> None:
    from golive.plan.models import StepKind
    from golive.plan.outline import KINDS

    assert list(KINDS) == [kind.value for kind in StepKind]


@pytest.mark.parametrize(
    "change",
    [
        ("title: Fast status", "title: &t Fast status"),  # an anchor
        ("estimate: 2m", "estimate: 120"),  # a number: 010 is 8 in YAML 1.1, 10 in 1.2
        ("owner: ann, run", "owner: on, run"),  # `on` is true in YAML 1.1
        ("title: Fast status", "title: !!str Fast status"),  # a tag
        ("golive: fast", "golive: fast\t"),  # a tab
    ],
)
def test_the_outline_leaves_what_yaml_versions_read_differently_to_the_models(
    change: tuple[str, str],
) -> None:
    from golive.plan.outline import outline

    assert outline(PLAN) is not None
    assert change[0] in PLAN
    assert outline(PLAN.replace(change[0], change[1], 1)) is None


def test_the_board_drawn_from_the_outline_is_the_board_drawn_from_the_plan() -> None:
    import datetime as dt

    from rich.console import Console

    from golive.cli.live import Board
    from golive.engine.state import RunState
    from golive.plan import parse_plan_text
    from golive.plan.outline import outline

    # two hours ago: a waiting step's time shows as "2h" in both drawings, a second apart or not
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    recorded = [
        ev.Recorded(seq, at + dt.timedelta(seconds=seq), event)
        for seq, event in enumerate(EVENTS[:14], start=1)  # up to the manual step, done
    ]
    state = RunState.fold("r-1", [*recorded[:6], *recorded[9:14]])  # the gate still open
    end = at + dt.timedelta(minutes=30)
    state.apply(ev.Recorded(20, end, ev.RunFinished(outcome=ev.Outcome.aborted, duration=9.0)))
    light, plan = outline(PLAN), parse_plan_text(PLAN, display="p")
    assert light is not None
    drawn = []
    for shown in (light, plan):
        console = Console(record=True, width=120, color_system=None)
        console.print(Board(shown, state))
        drawn.append(console.export_text())
    assert drawn[0] == drawn[1]
    assert "waiting for ann, bob" in drawn[0]
    assert "3.5s / 2m" in drawn[0]
