"""`check:` steps in real runs (golive.testing.PlanRunner) against a local web site, a local TLS
server, SQLite, the machine's PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from golive.engine.events import Outcome
from golive.engine.state import StepStatus
from golive.store import open_store
from golive.testing import PlanRunner


def fill(url: str, rows: int) -> None:
    """A clients table of `rows` accounts, all but the last able to log in."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "create table clients (id integer primary key, can_login boolean not null)"
            )
            connection.execute(
                sa.text("insert into clients values (:id, :ok)"),
                [{"id": i, "ok": i < rows} for i in range(1, rows + 1)],
            )
    finally:
        engine.dispose()


def output_of(runner: PlanRunner, run_id: str, step: str) -> list[str]:
    with open_store(runner.store_url) as store:
        events = store.events(run_id, types={"StepOutput"})
    return [line for e in events if e.step == step for line in e.data["text"].splitlines()]


PLAN = """
golive: checks
title: Every kind of check step, against real servers
people:
  ann: {name: Ann}
environments:
  staging:
    vars:
      new_url: NEW_URL
      tls_host: TLS_HOST
      new_db: NEW_DB
      legacy_db: LEGACY_DB
      shop_db: sqlite:///shop.db
      access_log: access.json.log
steps:
  - id: smoke
    title: Smoke tests on the green servers
    owner: ann
    check: {http: "{{ vars.new_url }}/health", expect: 200, within: 2m}
  - id: health-json
    owner: ann
    check: {http: "{{ vars.new_url }}/json", json: {"data.items[0].status": ready}}
  - id: certificate
    owner: ann
    check: {tls: "{{ vars.tls_host }}", min_days: 14}
  - id: accounts-usable
    owner: ann
    check: {sql: "select count(*) from clients where can_login", db: "{{ vars.new_db }}", equals: 4999}
  - id: legacy-intact
    owner: ann
    check: {sql: "select count(*) from clients", db: "{{ vars.legacy_db }}", above: 4000}
  - id: shop-orphans
    owner: ann
    check: {sql: "select id from clients where id < 0", db: "{{ vars.shop_db }}", no_rows: true}
  - id: errors-low
    owner: ann
    check: {http_error_rate: "{{ vars.access_log }}", below: 0.5%, over: 10m}
  - id: migrated
    owner: ann
    needs: [accounts-usable, legacy-intact]
    check: {step: accounts-usable}
  - id: local
    owner: ann
    check: {run: "test -f shop.db"}
"""


@pytest.mark.postgres
@pytest.mark.mariadb
def test_a_plan_of_check_steps_runs_against_real_servers(
    tmp_path: Path,
    site: Any,
    https_site: Any,
    certificates: Any,
    postgres_url: str,
    mariadb_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOLIVE_CA_BUNDLE", str(certificates.ca_file))
    fill(postgres_url, 5000)
    fill(mariadb_url, 5000)
    fill(f"sqlite:///{tmp_path / 'shop.db'}", 10)
    now = time.time()
    (tmp_path / "access.json.log").write_text(
        "".join(json.dumps({"msec": now - i, "status": 200}) + "\n" for i in range(300, 0, -1))
    )
    text = (
        PLAN.replace("NEW_URL", site.url)
        .replace("TLS_HOST", https_site.url.removeprefix("https://"))
        .replace("NEW_DB", postgres_url)
        .replace("LEGACY_DB", mariadb_url)
    )
    site.healthy_in(3.0)  # the green servers are still starting
    runner = PlanRunner.from_yaml(tmp_path, text)

    state = runner.run(env="staging")

    failed = {s.id: s.error for s in state.steps.values() if s.status is not StepStatus.succeeded}
    assert state.outcome is Outcome.completed, failed
    smoke = output_of(runner, state.run_id, "smoke")
    assert smoke[0] == f"not yet: GET {site.url}/health: expected 200, got 503 Service Unavailable"
    assert len(smoke) == 2  # one line per change of answer, not one per try
    assert smoke[-1].startswith(f"GET {site.url}/health: HTTP 200 in ")
    assert "(after 3 tries in " in smoke[-1]
    assert output_of(runner, state.run_id, "accounts-usable") == [
        "select count(*) from clients where... = 4999"
    ]
    assert output_of(runner, state.run_id, "errors-low") == [
        "0.00% errors (0 of 300 requests in the last 10m), below 0.5%"
    ]
    assert output_of(runner, state.run_id, "migrated") == ["step accounts-usable succeeded"]
    assert "valid for 20 more days" in output_of(runner, state.run_id, "certificate")[0]


def test_a_failing_check_fails_its_step_with_the_summary(tmp_path: Path, site: Any) -> None:
    fill(f"sqlite:///{tmp_path / 'booking.db'}", 5000)
    runner = PlanRunner.from_yaml(
        tmp_path,
        f"""
golive: failing
title: A check that does not pass
people:
  ann: {{name: Ann}}
environments:
  staging: {{}}
failure: continue
steps:
  - id: accounts-usable
    owner: ann
    check: {{sql: "select count(*) from clients where can_login", db: "sqlite:///booking.db", equals: 5000}}
  - id: smoke
    owner: ann
    check: {{http: "{site.url}/status/503", expect: 200}}
""",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.failed
    accounts = state.step("accounts-usable")
    assert accounts.status is StepStatus.failed
    assert accounts.error == "select count(*) from clients where... = 4999, expected 5000"
    smoke = state.step("smoke")
    assert smoke.error == f"GET {site.url}/status/503: expected 200, got 503 Service Unavailable"
    assert output_of(runner, state.run_id, "smoke") == [smoke.error]


def test_a_check_step_that_outlives_its_timeout_fails_with_the_last_answer(
    tmp_path: Path, site: Any
) -> None:
    site.healthy_in(600)
    runner = PlanRunner.from_yaml(
        tmp_path,
        f"""
golive: slow
title: A service that never comes up
people:
  ann: {{name: Ann}}
environments:
  staging: {{}}
failure: continue
steps:
  - id: smoke
    owner: ann
    timeout: 1s
    check: {{http: "{site.url}/health", within: 2m}}
""",
    )
    started = time.monotonic()

    state = runner.run(env="staging")

    assert time.monotonic() - started < 10
    assert state.step("smoke").status is StepStatus.failed
    assert state.step("smoke").error == (
        f"timed out after 1s: GET {site.url}/health: expected 200, got 503 Service Unavailable"
    )
