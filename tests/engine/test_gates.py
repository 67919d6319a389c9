"""Go/No-Go gates: checks first, then approvers' votes; a no-go applies the failure policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.engine.events import Decision, Outcome, Vote
from golive.engine.gates import Ballot, verdict
from golive.engine.operator import decide, mark_done, read_state, vote
from golive.engine.state import StepStatus
from golive.errors import DecisionRejected
from golive.plan.models import Step
from golive.store import EventStore
from golive.testing import PlanRunner, until

PLAN = """
golive: g
title: Gate test
people:
  alice: {name: Alice, role: release manager}
  dirk: {name: Dirk, role: business owner}
  eva: {name: Eva}
environments:
  staging: {}
steps:
  - {id: verify, owner: alice, run: "true"}
  - {id: smoke, owner: alice, run: "true"}
  - id: go-no-go
    gate: Go / No-Go for switching clients
    needs: [verify, smoke]
    approvers: [alice, dirk]
    quorum: QUORUM
    checks: [verify, smoke]
  - {id: switch, owner: alice, needs: [go-no-go], run: "echo switched"}
"""


def gate_runner(tmp_path: Path, quorum: str = "all") -> PlanRunner:
    return PlanRunner.from_yaml(tmp_path, PLAN.replace("QUORUM", quorum))


def gate_is_open(store: EventStore, run_id: str) -> bool:
    return read_state(store, run_id).step("go-no-go").status is StepStatus.waiting


def test_the_gate_waits_for_every_approver_when_the_quorum_is_all(tmp_path: Path) -> None:
    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: gate_is_open(store, run_id))
        run = store.get_run(run_id)
        first = vote(store, run, gate="go-no-go", ballot=Vote.go, by="alice", comment="data ok")
        assert not first.decided
        assert first.waiting_for == ("dirk",)
        assert read_state(store, run_id).step("switch").status is StepStatus.pending
        second = vote(store, run, gate="go-no-go", ballot=Vote.go, by="dirk", comment=None)
        assert second.decided
        assert second.go

    state = gate_runner(tmp_path).run(env="staging", operator=operator)
    assert state.outcome is Outcome.completed
    assert set(state.step("go-no-go").ballots) == {"alice", "dirk"}


def test_one_go_is_enough_with_a_quorum_of_one(tmp_path: Path) -> None:
    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: gate_is_open(store, run_id))
        vote(store, store.get_run(run_id), gate="go-no-go", ballot=Vote.go, by="dirk", comment=None)

    assert (
        gate_runner(tmp_path, "1").run(env="staging", operator=operator).outcome
        is Outcome.completed
    )


def test_a_no_go_pauses_the_run_and_a_retry_opens_the_gate_again(tmp_path: Path) -> None:
    async def operator(store: EventStore, run_id: str) -> None:
        run = store.get_run(run_id)
        await until(lambda: gate_is_open(store, run_id))
        vote(store, run, gate="go-no-go", ballot=Vote.no_go, by="dirk", comment="support not ready")
        await until(lambda: read_state(store, run_id).paused)
        state = read_state(store, run_id)
        assert state.step("go-no-go").error == "no-go from dirk: support not ready"
        assert state.step("switch").status is StepStatus.pending
        decide(
            store, run, decision=Decision.retry, by="alice", step="go-no-go", why="support ready"
        )
        await until(
            lambda: (
                gate_is_open(store, run_id)
                and not read_state(store, run_id).step("go-no-go").ballots
            )
        )
        for person in ("alice", "dirk"):
            vote(store, run, gate="go-no-go", ballot=Vote.go, by=person, comment=None)

    state = gate_runner(tmp_path).run(env="staging", operator=operator)
    assert state.outcome is Outcome.completed
    assert state.step("go-no-go").attempt == 2


def test_only_approvers_vote_and_only_while_the_gate_is_open(tmp_path: Path) -> None:
    async def operator(store: EventStore, run_id: str) -> None:
        run = store.get_run(run_id)
        await until(lambda: gate_is_open(store, run_id))
        with pytest.raises(DecisionRejected, match="eva is not an approver of go-no-go"):
            vote(store, run, gate="go-no-go", ballot=Vote.go, by="eva", comment=None)
        with pytest.raises(DecisionRejected, match="its approvers decide it"):
            mark_done(store, run, step="go-no-go", by="alice", note=None)
        for person in ("alice", "dirk"):
            vote(store, run, gate="go-no-go", ballot=Vote.go, by=person, comment=None)
        await until(lambda: read_state(store, run_id).status.finished)
        with pytest.raises(DecisionRejected, match="closed"):
            vote(store, run, gate="go-no-go", ballot=Vote.no_go, by="dirk", comment="late")

    assert gate_runner(tmp_path).run(env="staging", operator=operator).outcome is Outcome.completed


def test_a_failed_gate_check_fails_the_gate_before_anyone_votes(tmp_path: Path) -> None:
    plan = PLAN.replace("QUORUM", "all").replace(
        '{id: smoke, owner: alice, run: "true"}',
        '{id: smoke, owner: alice, run: "false", failure: continue}',
    )
    state = PlanRunner.from_yaml(tmp_path, plan).run(env="staging")
    assert state.outcome is Outcome.failed
    assert state.step("go-no-go").status is StepStatus.skipped  # it needs the failed smoke step


@pytest.mark.parametrize(
    ("ballots", "quorum", "expected"),
    [
        ({}, "all", (False, False)),
        ({"a": Vote.go}, "all", (False, False)),
        ({"a": Vote.go, "b": Vote.go}, "all", (True, True)),
        ({"a": Vote.go}, 1, (True, True)),
        ({"a": Vote.go, "b": Vote.no_go}, 1, (True, False)),
        ({"outsider": Vote.no_go}, 1, (False, False)),
    ],
)
def test_the_verdict_follows_quorum_and_any_no_go_blocks(
    ballots: dict[str, Vote], quorum: str | int, expected: tuple[bool, bool]
) -> None:
    gate = Step.model_validate(
        {"id": "g", "gate": "Go?", "approvers": ["a", "b"], "quorum": quorum}
    )
    result = verdict(gate, {who: Ballot(v, None) for who, v in ballots.items()})
    assert (result.decided, result.go) == expected
