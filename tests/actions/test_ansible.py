"""ansible: steps with ansible-core against the test sshd: a real playbook on a host group in
batches (`--limit`), live per-task output per host from golive's callback plugin, the recap on
the record, the failure policy, an undo playbook, and `golive check` naming a missing
playbook with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.engine.events import Outcome
from golive.engine.state import StepStatus, UndoStatus
from golive.plan import check_plan
from golive.store import open_store
from golive.testing import PlanRunner
from golive.testing.ssh import Sshd

pytestmark = pytest.mark.timeout(180)

DEPLOY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: write the release
      ansible.builtin.copy:
        content: "{{ release }}\\n"
        dest: "{{ dir }}/release-{{ inventory_hostname }}"
    - name: check the disk
      ansible.builtin.fail:
        msg: disk full
      when: inventory_hostname == (failing | default(''))
"""

ROLLBACK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: restore the release
      ansible.builtin.copy:
        content: "1.0\\n"
        dest: "{{ dir }}/release-{{ inventory_hostname }}"
"""


def setup(tmp_path: Path, *, extra: str = "", failing: str = "", step: str = "") -> PlanRunner:
    (tmp_path / "deploy.yml").write_text(DEPLOY, encoding="utf-8")
    (tmp_path / "rollback.yml").write_text(ROLLBACK, encoding="utf-8")
    for host in ("h001", "h002", "h003"):
        (tmp_path / f"release-{host}").write_text("1.0\n")
    text = (
        "golive: ansible-test\n"
        "title: Ansible test\n"
        "people:\n  ann: {name: Ann}\n"
        "environments:\n"
        "  staging:\n"
        "    hosts:\n      web: [h001, h002, h003]\n"
        "    secrets:\n      TOKEN: {env: GOLIVE_TEST_TOKEN}\n"
        "steps:\n"
        + (
            step
            or "  - id: deploy\n"
            "    owner: ann\n"
            "    on: web\n"
            "    batch: 2\n"
            "    ansible:\n"
            "      playbook: deploy.yml\n"
            f"      extra_vars: {{release: '2.0-{{{{ secrets.TOKEN }}}}', dir: '{tmp_path}', "
            f"failing: '{failing}'}}\n"
            "    undo: rollback.yml\n"
            + extra
        )
    )
    return PlanRunner.from_yaml(tmp_path, text)


def releases(tmp_path: Path) -> dict[str, str]:
    return {
        p.name.removeprefix("release-"): p.read_text().strip() for p in tmp_path.glob("release-*")
    }


def recorded(runner: PlanRunner, run_id: str, kind: str) -> list[dict[str, object]]:
    with open_store(runner.store_url) as store:
        return [e.data for e in store.events(run_id, types={kind})]


def test_a_playbook_runs_in_batches_with_per_task_output_and_the_recap_on_the_record(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = setup(tmp_path)
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("deploy").error
    assert releases(tmp_path) == dict.fromkeys(("h001", "h002", "h003"), "2.0-s3cr3t-value")
    (succeeded,) = recorded(runner, state.run_id, "StepSucceeded")
    details = succeeded["details"]
    assert isinstance(details, dict)
    assert details["recap"] == {
        h: {"ok": 1, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 1}
        for h in ("h001", "h002", "h003")
    }
    output = [(o["host"], o["text"]) for o in recorded(runner, state.run_id, "StepOutput")]
    # two batches: the task lines come twice, and each host's result is its own
    assert output.count((None, "TASK [write the release]")) == 2
    assert ("h003", "changed: write the release") in output
    everything = str(recorded(runner, state.run_id, "StepSucceeded")) + str(output)
    assert "s3cr3t-value" not in everything


def test_a_failed_task_fails_the_step_and_the_rollback_policy_runs_the_undo_playbook(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = setup(tmp_path, failing="h002", extra="    failure: rollback\n")
    state = runner.run(env="staging")
    deploy = state.step("deploy")
    assert state.outcome is Outcome.rolled_back
    assert deploy.status is StepStatus.failed
    assert "1 of 3 hosts failed, 1 not touched (h003)" in (deploy.error or "")
    assert "h002: failed: check the disk: disk full" in (deploy.error or "")
    (failed,) = recorded(runner, state.run_id, "StepFailed")
    assert isinstance(failed["details"], dict)
    assert failed["details"]["recap"]["h002"]["failed"] == 1
    assert deploy.undo is UndoStatus.succeeded
    assert releases(tmp_path) == dict.fromkeys(("h001", "h002", "h003"), "1.0")


def test_an_unreachable_host_counts_against_max_failures(
    tmp_path: Path, ssh_env: Sshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = setup(tmp_path, extra="    max_failures: 3\n")
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    monkeypatch.setenv("GOLIVE_SSH_KNOWN_HOSTS", str(empty))  # every host key is unknown
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed
    assert all(h["touched"] is False for h in state.step("deploy").hosts.values())
    assert releases(tmp_path) == dict.fromkeys(("h001", "h002", "h003"), "1.0")


def test_check_names_a_playbook_that_does_not_exist_with_file_and_line(tmp_path: Path) -> None:
    runner = setup(
        tmp_path,
        step="  - id: deploy\n    owner: ann\n    on: web\n    ansible: {playbook: site.yml}\n"
        "    undo: undo.yml\n",
    )
    errors = [d.format() for d in check_plan(runner.plan_path).errors]
    assert errors == [
        f"{runner.plan_path}:15:25: error: steps.deploy.ansible.playbook: no playbook at "
        f"{tmp_path / 'site.yml'} (give the playbook's path relative to the plan)",
        f"{runner.plan_path}:16:11: error: steps.deploy.undo: no playbook at "
        f"{tmp_path / 'undo.yml'} (give the playbook's path relative to the plan)",
    ]
