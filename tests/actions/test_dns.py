"""`dns:` steps against real BIND 9 servers (a primary that takes signed updates and a
secondary it notifies): the cutover, its propagation, the failure policy, and the undo that
puts back exactly the record set there was (or none)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from golive.engine.events import Decision, Outcome
from golive.engine.operator import decide, read_state
from golive.engine.state import StepStatus, UndoStatus
from golive.store import EventStore, open_store
from golive.testing import PlanRunner, until
from golive.testing.bind import BindServer, BindUnavailable, named_binary
from golive.testing.nginx import free_port

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[BindServer, BindServer]]:
    """ns1 (primary: www 3600 A 192.0.2.1, two TXT values) and ns2 (its secondary)."""
    try:
        named_binary()
    except BindUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    second = free_port()
    records = ["www 3600 IN A 192.0.2.1", 'info 600 IN TXT "one"', 'info 600 IN TXT "two"']
    with (
        BindServer.start(tmp_path / "ns1", records=records, notify=[second]) as ns1,
        BindServer.start(tmp_path / "ns2", secondary_of=ns1, port=second) as ns2,
    ):
        yield ns1, ns2


def dns_plan(
    tmp_path: Path,
    ns: tuple[BindServer, BindServer],
    dns: dict[str, object],
    *,
    after: str = "",
    failure: str = "pause",
) -> PlanRunner:
    ns1, ns2 = ns
    spec = {
        "zone": "example.test",
        "server": "{{ vars.primary }}",
        "tsig": {"name": ns1.key_name, "secret": "DNS_KEY"},
        "authoritative": [ns1.server, ns2.server],
        "propagation": "20s",
        **dns,
    }
    text = f"""\
golive: dns-test
title: DNS test
people: {{ann: {{name: Ann}}}}
environments:
  staging:
    vars: {{primary: "{ns1.server}"}}
    secrets: {{DNS_KEY: {{env: GOLIVE_TEST_DNS_KEY}}}}
steps:
  - id: cutover
    owner: ann
    failure: {failure}
    dns: {json.dumps(spec)}
{after}"""
    return PlanRunner.from_yaml(tmp_path, text)


BREAK = """\
  - id: break
    owner: ann
    needs: [cutover]
    run: "false"
    failure: rollback
"""


def details(runner: PlanRunner, run_id: str, kind: str = "StepSucceeded") -> dict[str, object]:
    with open_store(runner.store_url) as store:
        events = [e.data for e in store.events(run_id, types={kind})]
    found: dict[str, object] = events[-1]["details"]
    return found


def test_a_dns_cutover_changes_the_record_and_waits_for_every_authoritative_server(
    tmp_path: Path, servers: tuple[BindServer, BindServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ns1, ns2 = servers
    monkeypatch.setenv("GOLIVE_TEST_DNS_KEY", ns1.key)
    runner = dns_plan(tmp_path, servers, {"name": "www", "values": ["192.0.2.2"], "ttl": 60})
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("cutover").error
    assert ns1.query("www.example.test", "A") == ["192.0.2.2"]
    assert ns2.query("www.example.test", "A") == ["192.0.2.2"]
    assert ns2.ttl("www.example.test", "A") == 60
    found = details(runner, state.run_id)
    assert found["previous"] == {"ttl": 3600, "values": ["192.0.2.1"]}
    assert found["new"] == {"ttl": 60, "values": ["192.0.2.2"]}
    propagation = found["propagation"]
    assert isinstance(propagation, dict)
    assert propagation["ok"] is True
    assert set(propagation["servers"]) == {ns1.server, ns2.server}
    assert all(seconds is not None for seconds in propagation["servers"].values())
    with open_store(runner.store_url) as store:
        events = list(store.events(state.run_id))
    assert ns1.key not in json.dumps([e.data for e in events])  # the canary: the key is nowhere
    (before,) = [json.loads(e.data["text"]) for e in events if e.data.get("stream") == "dns"]
    assert before["event"] == "previous"  # the record set as it was, before the update
    assert before["previous"] == {"ttl": 3600, "values": ["192.0.2.1"]}


def test_a_rollback_restores_the_exact_previous_record_set(
    tmp_path: Path, servers: tuple[BindServer, BindServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ns1, ns2 = servers
    monkeypatch.setenv("GOLIVE_TEST_DNS_KEY", ns1.key)
    runner = dns_plan(
        tmp_path,
        servers,
        {"name": "info", "type": "TXT", "values": ['"three"'], "ttl": 30},
        after=BREAK,
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.rolled_back
    assert state.step("cutover").undo is UndoStatus.succeeded, state.step("cutover").undo_error
    for ns in (ns1, ns2):
        assert ns.query("info.example.test", "TXT") == ['"one"', '"two"']
        assert ns.ttl("info.example.test", "TXT") == 600


def test_undo_deletes_a_record_set_that_did_not_exist_before(
    tmp_path: Path, servers: tuple[BindServer, BindServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ns1, ns2 = servers
    monkeypatch.setenv("GOLIVE_TEST_DNS_KEY", ns1.key)
    runner = dns_plan(
        tmp_path, servers, {"name": "new", "type": "AAAA", "values": ["2001:db8::7"]}, after=BREAK
    )
    seen: dict[str, list[str]] = {}

    async def watch(store: EventStore, run_id: str) -> None:
        await until(
            lambda: read_state(store, run_id).step("cutover").status is StepStatus.succeeded
        )
        seen["during"] = ns2.query("new.example.test", "AAAA")

    state = runner.run(env="staging", operator=watch)
    assert state.outcome is Outcome.rolled_back
    assert seen["during"] == ["2001:db8::7"]
    assert state.step("cutover").undo is UndoStatus.succeeded
    assert ns1.query("new.example.test", "AAAA") == []
    assert ns2.query("new.example.test", "AAAA") == []


def test_a_wrong_tsig_key_fails_the_step_and_pauses_the_run_with_the_zone_untouched(
    tmp_path: Path, servers: tuple[BindServer, BindServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ns1, _ = servers
    wrong = "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1rZXktb2YtdGhlLXNlcnZlcg=="
    monkeypatch.setenv("GOLIVE_TEST_DNS_KEY", wrong)
    runner = dns_plan(tmp_path, servers, {"name": "www", "values": ["192.0.2.9"]})
    errors: dict[str, str | None] = {}

    async def abort_when_paused(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).paused, timeout=30)
        errors["cutover"] = read_state(store, run_id).step("cutover").error
        decide(
            store, store.get_run(run_id), decision=Decision.rollback, by="ann", step=None, why="x"
        )

    state = runner.run(env="staging", operator=abort_when_paused)
    error = errors["cutover"] or ""
    assert "refused the TSIG key golive-test-key" in error, error
    assert "check the key's name, algorithm and secret" in error
    assert ns1.query("www.example.test", "A") == ["192.0.2.1"]
    # the refused update changed nothing: the rollback has nothing to put back
    assert state.step("cutover").undo in (UndoStatus.skipped, UndoStatus.none)
    with open_store(runner.store_url) as store:
        everything = json.dumps([e.data for e in store.events(state.run_id)])
    assert wrong not in everything  # the canary: the key's value is nowhere on the record
    assert ns1.key not in everything


def test_an_unknown_zone_is_a_clear_failure_at_run_time(
    tmp_path: Path, servers: tuple[BindServer, BindServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ns1, _ = servers
    monkeypatch.setenv("GOLIVE_TEST_DNS_KEY", ns1.key)
    runner = dns_plan(
        tmp_path,
        servers,
        {"zone": "nowhere.test", "name": "www", "values": ["192.0.2.9"]},
        failure="continue",
    )
    state = runner.run(env="staging")
    error = state.step("cutover").error or ""
    assert "answered REFUSED for www.nowhere.test.: it does not serve that zone" in error, error


def test_a_dns_check_passes_only_when_every_server_answers_the_expected_values(
    tmp_path: Path, servers: tuple[BindServer, BindServer]
) -> None:
    ns1, ns2 = servers

    def run(expect: str) -> tuple[StepStatus, str | None]:
        check = {"dns": "www.example.test", "expect": [expect], "servers": [ns1.server, ns2.server]}
        text = f"""\
golive: dns-check-test
title: DNS check test
people: {{ann: {{name: Ann}}}}
environments: {{staging: {{}}}}
steps:
  - id: answers
    owner: ann
    failure: continue
    check: {json.dumps(check)}
"""
        directory = tmp_path / expect
        directory.mkdir()
        state = PlanRunner.from_yaml(directory, text).run(env="staging")
        return state.step("answers").status, state.step("answers").error

    assert run("192.0.2.1") == (StepStatus.succeeded, None)
    status, error = run("192.0.2.5")
    assert status is StepStatus.failed
    assert f"{ns1.server} answers 192.0.2.1" in (error or ""), error


def test_before_production_the_live_ttl_of_each_dns_record_is_judged(
    tmp_path: Path, servers: tuple[BindServer, BindServer]
) -> None:
    from golive.report.dns_ttl import live_ttl_warnings

    ns1, _ = servers

    def warnings(name: str, zone: str = "example.test") -> list[str]:
        runner = dns_plan(tmp_path, servers, {"zone": zone, "name": name, "values": ["192.0.2.2"]})
        text = runner.plan_path.read_text().replace(
            "    owner: ann\n", "    owner: ann\n    estimate: 10m\n"
        )
        runner.plan_path.write_text(text)
        return live_ttl_warnings(runner.plan_file("staging").plan, env="staging")

    (found,) = warnings("www")  # 3600 s, in a step given 10 minutes
    assert "www.example.test. A has a TTL of 1h on its server now" in found, found
    assert "lower the TTL 48 h before" in found
    assert warnings("info") == []  # TXT records are not asked for A: no such record, no TTL
    (unknown,) = warnings("www", zone="nowhere.test")
    assert "cannot read its TTL" in unknown
    assert ns1.server in unknown


def test_a_production_run_warns_of_a_live_ttl_longer_than_the_step_before_it_starts(
    tmp_path: Path,
    servers: tuple[BindServer, BindServer],
    monkeypatch: pytest.MonkeyPatch,
    golive: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    ns1, ns2 = servers
    monkeypatch.setenv("GOLIVE_TEST_DNS_KEY", ns1.key)
    runner = dns_plan(tmp_path, servers, {"name": "www", "values": ["192.0.2.2"]})
    text = runner.plan_path.read_text().replace("staging:", "production:")
    text = text.replace("environments:", "policy: {never_on: []}\nenvironments:")
    runner.plan_path.write_text(
        text.replace("    owner: ann\n", "    owner: ann\n    estimate: 5m\n")
    )
    done = golive("run", runner.plan_path, "--env", "production", "--plain")
    assert "www.example.test. A has a TTL of 1h on its server now" in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout + done.stderr  # a warning: the run goes on
    assert ns2.query("www.example.test", "A") == ["192.0.2.2"]
