"""SSH steps against a real sshd on loopback: every host alias h001..h200 reaches it, and each
session knows its alias in $GOLIVE_TEST_HOST, so the files a command creates show where it ran."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import asyncssh
import pytest

from golive.actions.ssh import SshAction, batches_of
from golive.actions.ssh_config import ConfigIndex
from golive.engine.events import Decision, Outcome
from golive.engine.operator import decide, read_state
from golive.engine.state import StepStatus, UndoStatus
from golive.plan.models import Step
from golive.store import EventStore, open_store
from golive.testing import PlanRunner, until
from golive.testing.ssh import Sshd, alias, free_port, new_key, write_key

H = '"$GOLIVE_TEST_HOST"'


def runner_for(
    tmp_path: Path, hosts: dict[str, list[str]], steps: str, *, extra: str = ""
) -> PlanRunner:
    groups = "".join(f"      {name}: [{', '.join(names)}]\n" for name, names in hosts.items())
    text = (
        "golive: ssh-test\n"
        "title: SSH test\n"
        "people:\n  ann: {name: Ann}\n"
        "environments:\n"
        "  staging:\n"
        "    hosts:\n" + groups + f"    vars: {{dir: {tmp_path}}}\n"
        "    secrets:\n      TOKEN: {env: GOLIVE_TEST_TOKEN}\n" + extra + "steps:\n" + steps
    )
    return PlanRunner.from_yaml(tmp_path, text)


def hosts(first: int, last: int) -> list[str]:
    return [alias(n) for n in range(first, last + 1)]


def made(directory: Path, prefix: str = "ran-") -> set[str]:
    return {p.name.removeprefix(prefix) for p in directory.glob(f"{prefix}*")}


def events(runner: PlanRunner, run_id: str, kind: str) -> list[dict[str, object]]:
    with open_store(runner.store_url) as store:
        return [e.data for e in store.events(run_id, types={kind})]


def add_hosts(sshd: Sshd, text: str) -> None:
    """Append Host entries to the config the test points golive at."""
    with open(os.environ["GOLIVE_SSH_CONFIG"], "a", encoding="utf-8") as config:
        config.write("\n" + text)


# --- what a step runs where -------------------------------------------------------------------


def test_a_step_on_a_group_runs_on_every_host_with_output_per_host_and_redacted(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = runner_for(
        tmp_path,
        {"web": hosts(1, 3)},
        f"""
  - id: deploy
    owner: ann
    on: web
    run: touch {{{{ vars.dir }}}}/ran-{H} && echo "hello from {H} with {{{{ secrets.TOKEN }}}}"
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("deploy").error
    assert made(tmp_path) == {"h001", "h002", "h003"}
    assert set(state.step("deploy").hosts) == {"h001", "h002", "h003"}
    assert all(h["ok"] and h["exit_code"] == 0 for h in state.step("deploy").hosts.values())
    output = events(runner, state.run_id, "StepOutput")
    assert {(o["host"], o["text"]) for o in output} == {
        (h, f"hello from {h} with ••••••") for h in ("h001", "h002", "h003")
    }
    with open_store(runner.store_url) as store:
        recorded = "".join(str(e.data) for e in store.events(state.run_id))
    assert "s3cr3t-value" not in recorded


def test_the_deploy_green_shape_rolls_out_two_hosts_at_a_time_after_the_legacy_freeze(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    log = tmp_path / "log"
    runner = runner_for(
        tmp_path,
        {"app": hosts(1, 4), "legacy": ["h005"]},
        f"""
  - id: freeze-legacy
    owner: ann
    on: legacy
    run: echo frozen {H} >> {log}
    undo: echo thawed {H} >> {log}
  - id: deploy-green
    owner: ann
    needs: [freeze-legacy]
    on: app
    batch: 2
    max_failures: 0
    run: echo start {H} >> {log}; sleep 0.3; echo end {H} >> {log}
    undo: echo removed {H} >> {log}
  - id: smoke
    owner: ann
    needs: [deploy-green]
    run: echo smoke >> {log}
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("deploy-green").error
    lines = log.read_text().splitlines()
    assert lines[0] == "frozen h005"
    assert lines[-1] == "smoke"
    rollout = lines[1:-1]
    first, second = rollout[:4], rollout[4:]
    assert sorted(first) == ["end h001", "end h002", "start h001", "start h002"]
    assert sorted(second) == ["end h003", "end h004", "start h003", "start h004"]


def test_a_failing_host_stops_the_rollout_and_leaves_the_later_batches_untouched(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = runner_for(
        tmp_path,
        {"app": hosts(1, 10)},
        f"""
  - id: deploy
    owner: ann
    on: app
    batch: 2
    max_failures: 0
    run: if [ {H} = h003 ]; then echo broken >&2; exit 3; fi; touch {tmp_path}/ran-{H}
""",
        extra="failure: continue\n",
    )
    state = runner.run(env="staging")
    step = state.step("deploy")
    assert state.outcome is Outcome.failed
    assert made(tmp_path) == {"h001", "h002", "h004"}  # h005..h010 never touched
    assert set(step.hosts) == {"h001", "h002", "h003", "h004"}
    assert step.hosts["h003"]["exit_code"] == 3
    assert step.error == (
        "1 of 10 hosts failed (max_failures: 0), 6 not touched (h005, h006, h007, h008, h009 "
        "and 1 more); h003: exit code 3: broken"
    )
    assert step.exit_code == 3


def test_max_failures_as_a_share_lets_the_step_succeed_with_that_many_failed_hosts(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = runner_for(
        tmp_path,
        {"app": hosts(1, 10)},
        f"""
  - id: deploy
    owner: ann
    on: app
    batch: 50%
    max_failures: 20%
    run: case {H} in h002|h007) exit 1;; esac; touch {tmp_path}/ran-{H}
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed
    assert len(made(tmp_path)) == 8
    failed = {h for h, r in state.step("deploy").hosts.items() if not r["ok"]}
    assert failed == {"h002", "h007"}


# --- errors, one line per host ----------------------------------------------------------------


def one_host_step(tmp_path: Path, host: str, *, timeout: str = "") -> PlanRunner:
    return runner_for(
        tmp_path,
        {"app": ["h001", host]},
        f"""
  - id: deploy
    owner: ann
    on: app
    run: touch {tmp_path}/ran-{H}
{timeout}""",
        extra="failure: continue\n",
    )


def host_error(state: object, host: str) -> str:
    error = state.step("deploy").hosts[host]["error"]  # type: ignore[attr-defined]
    assert isinstance(error, str)
    assert "\n" not in error
    assert "Traceback" not in error
    return error


def test_a_host_refusing_connections_fails_as_unreachable(tmp_path: Path, ssh_env: Sshd) -> None:
    closed = free_port()
    add_hosts(ssh_env, ssh_env.client_config(["down"], port=closed))
    state = one_host_step(tmp_path, "down").run(env="staging")
    assert state.step("deploy").status is StepStatus.failed
    assert made(tmp_path) == {"h001"}
    assert host_error(state, "down") == (
        f"unreachable: connection refused by 127.0.0.1 port {closed}: is sshd running there?"
    )
    assert state.step("deploy").error.endswith(f"down: {host_error(state, 'down')}")  # type: ignore[union-attr]


def test_a_host_that_never_answers_fails_after_the_connect_timeout(
    tmp_path: Path, ssh_env: Sshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as silent:  # accepts (in the kernel) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        add_hosts(ssh_env, ssh_env.client_config(["mute"], port=port))
        monkeypatch.setenv("GOLIVE_SSH_CONNECT_TIMEOUT", "0.5")
        started = time.monotonic()
        state = one_host_step(tmp_path, "mute").run(env="staging")
    assert time.monotonic() - started < 5
    assert host_error(state, "mute") == (
        f"unreachable: no answer from 127.0.0.1 port {port} within 0.5s "
        "(GOLIVE_SSH_CONNECT_TIMEOUT sets how long to wait)"
    )


def test_a_key_the_host_does_not_accept_fails_as_authentication_refused(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    stranger = write_key(tmp_path / "stranger_key", new_key())
    entry = ssh_env.client_config(["stranger"]).replace(str(ssh_env.user_key), str(stranger))
    add_hosts(ssh_env, entry)
    state = one_host_step(tmp_path, "stranger").run(env="staging")
    assert made(tmp_path) == {"h001"}
    assert host_error(state, "stranger").startswith(
        f"authentication refused for user {ssh_env.user} at 127.0.0.1 port {ssh_env.port}: "
    )


def test_an_unknown_host_key_fails_with_the_line_that_adds_it(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    known = Path(os.environ["GOLIVE_SSH_KNOWN_HOSTS"])
    known.write_text("")
    state = one_host_step(tmp_path, "h002").run(env="staging")
    assert made(tmp_path) == set()
    assert host_error(state, "h002") == (
        f"unknown host key for [127.0.0.1]:{ssh_env.port} (not in {known}); if this is the "
        f"right host, add it: ssh-keyscan -p {ssh_env.port} 127.0.0.1 >> {known}"
    )


def test_a_changed_host_key_fails_as_a_mismatch(tmp_path: Path, ssh_env: Sshd) -> None:
    known = Path(os.environ["GOLIVE_SSH_KNOWN_HOSTS"])
    other = new_key().export_public_key("openssh").decode().split()
    known.write_text(f"[127.0.0.1]:{ssh_env.port} {other[0]} {other[1]}\n")
    state = one_host_step(tmp_path, "h002").run(env="staging")
    assert made(tmp_path) == set()
    assert host_error(state, "h002").startswith(
        f"host key mismatch for [127.0.0.1]:{ssh_env.port}: the server's key is not the one in "
        f"{known}"
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status").read_text()
    return "State:\tZ" not in status


def test_a_timeout_mid_batch_stops_the_remote_command_and_the_rollout(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = runner_for(
        tmp_path,
        {"app": hosts(1, 4)},
        f"""
  - id: deploy
    owner: ann
    on: app
    batch: 2
    timeout: 700ms
    run: if [ {H} = h002 ]; then sleep 30 & echo $! > {tmp_path}/sleep; wait; fi; touch {tmp_path}/ran-{H}
""",
        extra="failure: continue\n",
    )
    started = time.monotonic()
    state = runner.run(env="staging")
    assert time.monotonic() - started < 10
    assert made(tmp_path) == {"h001"}  # h002 stopped, h003 and h004 untouched
    assert host_error(state, "h002") == "timed out after 0.7s; the remote command was stopped"
    pid = int((tmp_path / "sleep").read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


# --- undo ---------------------------------------------------------------------------------------


def test_undo_runs_only_on_the_hosts_the_step_touched_last_batch_first(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    log = tmp_path / "undo"
    runner = runner_for(
        tmp_path,
        {"app": hosts(1, 8)},
        f"""
  - id: deploy
    owner: ann
    on: app
    batch: 2
    run: test {H} != h004
    undo: echo {H} >> {log}
    failure: rollback
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.rolled_back
    assert state.step("deploy").undo is UndoStatus.succeeded
    undone = log.read_text().split()
    assert sorted(undone[:2]) == ["h003", "h004"]
    assert sorted(undone[2:]) == ["h001", "h002"]


def test_an_undo_that_fails_on_one_host_still_runs_on_the_others_and_fails(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    log = tmp_path / "undo"
    runner = runner_for(
        tmp_path,
        {"app": hosts(1, 4)},
        f"""
  - id: deploy
    owner: ann
    on: app
    batch: 2
    run: "true"
    undo: echo {H} >> {log}; test {H} != h004
  - id: break
    owner: ann
    needs: [deploy]
    run: "false"
    failure: rollback
""",
    )

    async def skip_the_failed_undo(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).paused, timeout=30)
        decide(
            store, store.get_run(run_id), decision=Decision.skip, by="ann", step="deploy", why="x"
        )

    state = runner.run(env="staging", operator=skip_the_failed_undo)
    assert sorted(log.read_text().split()) == ["h001", "h002", "h003", "h004"]
    with open_store(runner.store_url) as store:
        failed = [e.data for e in store.events(state.run_id, types={"UndoFailed"})]
    assert failed[0]["error"].startswith("1 of 4 hosts failed; h004: exit code 1")
    assert not failed[0]["hosts"]["h003"]["error"]


# --- many hosts, one connection each --------------------------------------------------------


def accepted(sshd: Sshd) -> int:
    return len(re.findall("Accepted publickey", (sshd.directory / "sshd.log").read_text()))


@pytest.mark.slow
def test_two_hundred_hosts_against_a_stock_sshd_all_succeed_on_one_connection_each(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    before = accepted(ssh_env)
    runner = runner_for(
        tmp_path,
        {"fleet": hosts(1, 200)},
        f"""
  - id: first
    owner: ann
    on: fleet
    run: touch {tmp_path}/ran-{H}
  - id: second
    owner: ann
    on: fleet
    needs: [first]
    run: touch {tmp_path}/again-{H}
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("first").error
    assert len(made(tmp_path)) == 200
    assert len(made(tmp_path, "again-")) == 200
    assert accepted(ssh_env) - before == 200  # the second step reused the connections


def test_hosts_behind_a_proxy_jump_share_one_connection_to_the_jump_host(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    behind = ssh_env.client_config(["behind-1", "behind-2", "behind-3"])
    add_hosts(
        ssh_env,
        behind.replace("    IdentitiesOnly yes\n", "    IdentitiesOnly yes\n    ProxyJump h001\n"),
    )
    before = accepted(ssh_env)
    runner = runner_for(
        tmp_path,
        {"inside": ["behind-1", "behind-2", "behind-3"]},
        f"""
  - id: deploy
    owner: ann
    on: inside
    run: touch {tmp_path}/ran-{H}
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("deploy").error
    assert made(tmp_path) == {"behind-1", "behind-2", "behind-3"}
    assert accepted(ssh_env) - before == 4  # the jump host once, then each host through it


def test_an_unusable_ssh_config_fails_each_host_with_the_line_at_fault(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    add_hosts(ssh_env, "Host broken\n    Port many\n")
    state = one_host_step(tmp_path, "broken").run(env="staging")
    assert made(tmp_path) == {"h001"}
    error = host_error(state, "broken")
    assert error.startswith("cannot use the ssh configuration: ")
    assert f"{os.environ['GOLIVE_SSH_CONFIG']} line" in error


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "GOLIVE_SSH_CONCURRENCY",
            "lots",
            "GOLIVE_SSH_CONCURRENCY must be a whole number above 0, got 'lots'",
        ),
        (
            "GOLIVE_SSH_CONNECT_TIMEOUT",
            "-1",
            "GOLIVE_SSH_CONNECT_TIMEOUT must be a number of seconds above 0, got '-1'",
        ),
        (
            "GOLIVE_SSH_CONFIG",
            "/nonexistent/config",
            "GOLIVE_SSH_CONFIG: cannot read /nonexistent/config",
        ),
    ],
)
def test_a_bad_setting_fails_the_step_with_what_to_fix(
    tmp_path: Path,
    ssh_env: Sshd,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(name, value)
    state = one_host_step(tmp_path, "h002").run(env="staging")
    assert state.step("deploy").error == message
    assert made(tmp_path) == set()


# --- pieces -------------------------------------------------------------------------------------


def test_only_steps_with_a_host_group_and_without_env_are_supported() -> None:
    action = SshAction()
    assert action.supports(Step(id="a", run="true", on="web")) is None
    assert action.supports(Step(id="a", run="true")) is not None
    refused = action.supports(Step(id="a", run="true", on="web", env={"A": "1"}))
    assert refused is not None
    assert "env" in refused


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        (None, [10]),
        (2, [2, 2, 2, 2, 2]),
        (3, [3, 3, 3, 1]),
        ("25%", [2, 2, 2, 2, 2]),
        ("5%", [1] * 10),
    ],
)
def test_batches_cut_the_hosts_in_order(batch: object, expected: list[int]) -> None:
    step = Step.model_validate({"id": "a", "run": "true", "on": "web", "batch": batch})
    names = hosts(1, 10)
    cut = batches_of(names, step)
    assert [len(b) for b in cut] == expected
    assert [h for b in cut for h in b] == names


CONFIG = """\
User base
Host web-*
    Port 2201
Host web-1 db
    HostName 10.0.0.1
Host !web-2 *
    ProxyJump bastion
Host db
    Port 5432
Host *
    User everyone
    Port 22
"""


@pytest.mark.parametrize("host", ["web-1", "web-2", "db", "other"])
def test_the_config_index_gives_each_host_what_the_whole_file_gives_it(
    tmp_path: Path, host: str
) -> None:
    path = tmp_path / "config"
    path.write_text(CONFIG)
    index = ConfigIndex.read(str(path))
    assert index is not None
    try:
        whole = asyncssh.SSHClientConnectionOptions(config=[str(path)], host=host)
        part = asyncssh.SSHClientConnectionOptions(config=[index.path_for(host)], host=host)
    finally:
        index.close()
    assert (part.host, part.port, part.username) == (whole.host, whole.port, whole.username)
    assert part.tunnel == whole.tunnel


def test_a_config_with_match_or_include_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Include other\nHost a\n    Port 1\n")
    assert ConfigIndex.read(str(path)) is None
    path.write_text("Host a\n    Port 1\nMatch user x\n    Port 2\n")
    assert ConfigIndex.read(str(path)) is None
