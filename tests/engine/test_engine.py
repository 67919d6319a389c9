"""The engine against real processes and a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.engine.commands import start_run
from golive.engine.events import Decision, Outcome
from golive.engine.operator import decide, mark_done, read_state
from golive.engine.state import StepStatus, UndoStatus
from golive.errors import SecretError, UsageError
from golive.store import EventStore, open_store
from golive.testing import PlanRunner, until

HEADER = """
golive: t
title: Engine test
people:
  ann: {name: Ann}
environments:
  staging:
    vars: {dir: DIR}
"""


def runner_for(tmp_path: Path, steps: str, *, extra: str = "") -> PlanRunner:
    text = HEADER.replace("DIR", str(tmp_path)) + extra + "steps:\n" + steps
    return PlanRunner.from_yaml(tmp_path, text)


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_steps_run_in_dependency_order(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: d, owner: ann, needs: [b, c], run: "echo d >> {{ vars.dir }}/log"}
  - {id: a, owner: ann, run: "echo a >> {{ vars.dir }}/log"}
  - {id: b, owner: ann, needs: [a], run: "echo b >> {{ vars.dir }}/log"}
  - {id: c, owner: ann, needs: [a], run: "echo c >> {{ vars.dir }}/log"}
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed
    order = lines(tmp_path / "log")
    assert order[0] == "a"
    assert order[-1] == "d"
    assert sorted(order[1:3]) == ["b", "c"]


MEET = """
  - id: b
    owner: ann
    run: "touch {{ vars.dir }}/b.on; for i in $(seq 100); do [ -f {{ vars.dir }}/c.on ] && exit 0; sleep 0.02; done; exit 1"
  - id: c
    owner: ann
    run: "touch {{ vars.dir }}/c.on; for i in $(seq 100); do [ -f {{ vars.dir }}/b.on ] && exit 0; sleep 0.02; done; exit 1"
"""


def test_independent_steps_run_at_the_same_time(tmp_path: Path) -> None:
    state = runner_for(tmp_path, MEET).run(env="staging")
    assert state.outcome is Outcome.completed


def test_max_parallel_one_runs_one_step_at_a_time(tmp_path: Path) -> None:
    runner = runner_for(tmp_path, MEET, extra="failure: continue\n")
    state = runner.run(env="staging", max_parallel=1)
    assert state.step("b").status is StepStatus.failed  # it never saw c running beside it


def test_a_failing_step_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - id: flaky
    owner: ann
    run: "echo x >> {{ vars.dir }}/tries; test $(wc -l < {{ vars.dir }}/tries) -ge 3"
    retries: 2
    retry_delay: 10ms
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed
    assert state.step("flaky").attempt == 3
    with open_store(runner.store_url) as store:
        failed = store.events(state.run_id, types={"StepFailed"})
    assert [e.data["will_retry"] for e in failed] == [True, True]


def test_a_step_that_outlives_its_timeout_is_killed_and_fails(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: slow, owner: ann, run: "sleep 3; touch {{ vars.dir }}/late", timeout: 200ms}
""",
        extra="failure: continue\n",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.failed
    assert "timed out" in (state.step("slow").error or "")
    assert not (tmp_path / "late").exists()


def test_a_failure_pauses_the_run_until_the_operator_retries(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: needs-file, owner: ann, run: "test -f {{ vars.dir }}/fixed"}
  - {id: after, owner: ann, needs: [needs-file], run: "true"}
""",
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).paused)
        assert read_state(store, run_id).step("after").status is StepStatus.pending
        (tmp_path / "fixed").touch()
        decide(
            store,
            store.get_run(run_id),
            decision=Decision.retry,
            by="ann",
            step=None,
            why="created the file",
        )

    state = runner.run(env="staging", operator=operator)
    assert state.outcome is Outcome.completed
    assert state.step("needs-file").attempt == 2


def test_skipping_a_failed_step_lets_its_dependents_run(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: broken, owner: ann, run: "false"}
  - {id: after, owner: ann, needs: [broken], run: "true"}
""",
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).paused)
        decide(
            store, store.get_run(run_id), decision=Decision.skip, by="ann", step="broken", why=None
        )

    state = runner.run(env="staging", operator=operator)
    assert state.outcome is Outcome.completed
    assert state.step("broken").status is StepStatus.skipped
    assert state.step("after").status is StepStatus.succeeded


def test_abort_ends_the_run_and_launches_nothing_more(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: broken, owner: ann, run: "false"}
  - {id: after, owner: ann, needs: [broken], run: "true"}
""",
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).paused)
        decide(store, store.get_run(run_id), decision=Decision.abort, by="ann", step=None, why="no")

    state = runner.run(env="staging", operator=operator)
    assert state.outcome is Outcome.aborted
    assert state.step("after").status is StepStatus.pending


def test_continue_policy_skips_only_what_depends_on_the_failure(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: broken, owner: ann, run: "exit 3", failure: continue}
  - {id: child, owner: ann, needs: [broken], run: "true"}
  - {id: grandchild, owner: ann, needs: [child], run: "true"}
  - {id: other, owner: ann, run: "true"}
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.failed
    assert state.step("broken").exit_code == 3
    assert state.step("child").status is StepStatus.skipped
    assert state.step("grandchild").status is StepStatus.skipped
    assert state.step("other").status is StepStatus.succeeded


ROLLBACK_STEPS = """
  - {id: one, owner: ann, run: "echo one >> {{ vars.dir }}/do", undo: "echo one >> {{ vars.dir }}/undo"}
  - {id: two, owner: ann, needs: [one], run: "echo two >> {{ vars.dir }}/do", undo: "echo two >> {{ vars.dir }}/undo"}
  - {id: three, owner: ann, needs: [two], run: "exit 1", undo: "echo three >> {{ vars.dir }}/undo"}
  - {id: four, owner: ann, needs: [three], run: "true", undo: "echo four >> {{ vars.dir }}/undo"}
"""


def test_rollback_policy_undoes_what_ran_in_reverse_dependency_order(tmp_path: Path) -> None:
    state = runner_for(tmp_path, ROLLBACK_STEPS, extra="failure: rollback\n").run(env="staging")
    assert state.outcome is Outcome.rolled_back
    assert lines(tmp_path / "undo") == ["three", "two", "one"]
    assert state.step("four").undo is UndoStatus.none  # never ran, nothing to undo
    assert state.rollback_complete is True
    assert state.rollback_duration is not None
    assert state.rollback_duration >= 0


def test_a_failed_undo_pauses_the_rollback_and_a_skip_finishes_it_incomplete(
    tmp_path: Path,
) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: one, owner: ann, run: "true", undo: "echo one >> {{ vars.dir }}/undo"}
  - {id: two, owner: ann, needs: [one], run: "true", undo: "exit 7"}
  - {id: three, owner: ann, needs: [two], run: "false"}
""",
        extra="failure: rollback\n",
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: "two" in read_state(store, run_id).blocked)
        decide(store, store.get_run(run_id), decision=Decision.skip, by="ann", step="two", why=None)

    state = runner.run(env="staging", operator=operator)
    assert state.outcome is Outcome.rolled_back
    assert state.rollback_complete is False
    assert lines(tmp_path / "undo") == ["one"]


def test_a_manual_step_waits_for_its_owner_to_mark_it_done(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: tell, owner: ann, manual: Post the notice}
  - {id: after, owner: ann, needs: [tell], run: "true"}
""",
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).step("tell").status is StepStatus.waiting)
        state = read_state(store, run_id)
        assert state.step("tell").waiting_for == ["ann"]
        assert state.step("after").status is StepStatus.pending
        mark_done(store, store.get_run(run_id), step="tell", by="ann", note="posted")

    state = runner.run(env="staging", operator=operator)
    assert state.outcome is Outcome.completed
    assert state.step("tell").marked_by == "ann"


def test_decisions_by_unknown_people_are_refused(tmp_path: Path) -> None:
    runner = runner_for(tmp_path, "  - {id: tell, owner: ann, manual: true}\n")

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).step("tell").status is StepStatus.waiting)
        with pytest.raises(UsageError, match="not a person of this plan"):
            mark_done(store, store.get_run(run_id), step="tell", by="mallory", note=None)
        mark_done(store, store.get_run(run_id), step="tell", by="ann", note=None)

    assert runner.run(env="staging", operator=operator).outcome is Outcome.completed


SECRET_PLAN = """
golive: s
title: Secret test
people:
  ann: {name: Ann}
environments:
  staging:
    secrets:
      API_TOKEN: {env: GOLIVE_TEST_TOKEN}
steps:
  - id: use
    owner: ann
    run: "echo token is {{ secrets.API_TOKEN }}; echo env has $API_TOKEN >&2; exit 1"
    failure: continue
"""


def test_secrets_reach_steps_but_never_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-value-42"
    monkeypatch.setenv("GOLIVE_TEST_TOKEN", secret)
    runner = PlanRunner.from_yaml(tmp_path, SECRET_PLAN)
    state = runner.run(env="staging")
    assert state.step("use").status is StepStatus.failed
    assert list(state.step("use").output) == ["token is ••••••", "env has ••••••"]
    store_bytes = b"".join(p.read_bytes() for p in (tmp_path / ".golive").iterdir())
    assert secret.encode() not in store_bytes


def test_a_missing_secret_stops_the_run_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOLIVE_TEST_TOKEN", raising=False)
    runner = PlanRunner.from_yaml(tmp_path, SECRET_PLAN)
    with pytest.raises(SecretError, match="GOLIVE_TEST_TOKEN is not set"):
        runner.run(env="staging")


def test_a_plan_that_uses_release_needs_one(tmp_path: Path) -> None:
    runner = runner_for(tmp_path, "  - {id: d, owner: ann, run: 'echo {{ release }}'}\n")
    with pytest.raises(UsageError, match="pass --release"):
        runner.run(env="staging")
    assert runner.run(env="staging", release="2.0").step("d").output[-1] == "2.0"


def test_steps_this_golive_cannot_run_are_named_before_anything_runs(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: d, owner: ann, run: "touch {{ vars.dir }}/ran"}
  - {id: switch, owner: ann, needs: [d], on: app,
     traffic: {strategy: blue_green, from: blue, to: green}}
""",
    )
    text = runner.plan_path.read_text().replace(
        "vars: {dir:", "hosts: {app: [h1]}\n    vars: {dir:"
    )
    runner.plan_path.write_text(text)
    with pytest.raises(UsageError, match="switch: runs on host group 'app': traffic steps drive"):
        runner.run(env="staging")
    assert not (tmp_path / "ran").exists()


def test_a_missing_command_fails_with_exit_code_127(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path, "  - {id: d, owner: ann, run: no-such-command-x, failure: continue}\n"
    )
    state = runner.run(env="staging")
    assert state.step("d").exit_code == 127
    assert "no-such-command-x" in (state.step("d").error or "")


def test_output_is_recorded_in_batches_and_long_lines_are_cut(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: chatty, owner: ann, run: "seq 1 500; head -c 20000 /dev/zero | tr '\\\\0' x; echo"}
""",
    )
    state = runner.run(env="staging")
    with open_store(runner.store_url) as store:
        outputs = store.events(state.run_id, types={"StepOutput"})
    text = "\n".join(e.data["text"] for e in outputs)
    assert text.splitlines()[:500] == [str(i) for i in range(1, 501)]
    assert max(len(line) for line in text.splitlines()) <= 8192
    assert len(outputs) < 50


def test_resume_reruns_an_interrupted_idempotent_step_and_pauses_on_another(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: safe, owner: ann, idempotent: true, run: "echo safe >> {{ vars.dir }}/ran"}
  - {id: unsafe, owner: ann, run: "echo unsafe >> {{ vars.dir }}/ran"}
""",
    )
    # A log as a killed engine leaves it: both steps started, neither finished.
    with open_store(runner.store_url) as store:
        started = start_run(
            runner.plan_file("staging"), store=store, env="staging", release=None, by="ann"
        )
        for step in ("safe", "unsafe"):
            store.append(
                started.run.id,
                "StepStarted",
                step=step,
                data={"attempt": 1, "kind": "run", "command": None},
            )
        run_id = started.run.id

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: "unsafe" in read_state(store, run_id).blocked)
        mark_done(store, store.get_run(run_id), step="unsafe", by="ann", note="it had run")

    state = runner.resume(run_id, by="ann", operator=operator)
    assert state.outcome is Outcome.completed
    assert lines(tmp_path / "ran") == ["safe"]


def test_abort_kills_the_steps_that_are_running(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: long, owner: ann, run: "sleep 30; touch {{ vars.dir }}/finished"}
  - {id: broken, owner: ann, run: "false"}
""",
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).paused)
        decide(
            store, store.get_run(run_id), decision=Decision.abort, by="ann", step=None, why="stop"
        )

    state = runner.run(env="staging", operator=operator)
    assert state.outcome is Outcome.aborted
    assert state.step("long").status is StepStatus.failed
    assert state.step("long").error == "stopped: run aborted by ann"
    assert not (tmp_path / "finished").exists()


def test_a_rollback_does_not_wait_for_a_manual_step_nobody_will_do(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        """
  - {id: one, owner: ann, run: "true", undo: "echo one >> {{ vars.dir }}/undo"}
  - {id: ask, owner: ann, needs: [one], manual: Call the bank}
""",
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).step("ask").status is StepStatus.waiting)
        decide(
            store,
            store.get_run(run_id),
            decision=Decision.rollback,
            by="ann",
            step=None,
            why="the bank is closed",
        )

    state = runner.run(env="staging", operator=operator)
    assert state.outcome is Outcome.rolled_back
    assert lines(tmp_path / "undo") == ["one"]


def test_a_refused_run_leaves_no_run_behind(tmp_path: Path) -> None:
    runner = runner_for(tmp_path, "  - {id: d, owner: ann, run: 'echo {{ release }}'}\n")
    with pytest.raises(UsageError, match="pass --release"):
        runner.run(env="staging")
    with open_store(runner.store_url) as store:
        assert store.runs() == []


def test_a_secret_file_under_the_home_directory_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "token").write_text("from-a-file-123\n")
    monkeypatch.setenv("HOME", str(home))
    plan = SECRET_PLAN.replace("{env: GOLIVE_TEST_TOKEN}", "{file: ~/.config/token}")
    state = PlanRunner.from_yaml(tmp_path, plan).run(env="staging")
    assert list(state.step("use").output) == ["token is ••••••", "env has ••••••"]
