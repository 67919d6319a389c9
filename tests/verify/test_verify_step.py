"""The example plan's `verify-data` step, for real: a legacy MariaDB and a new PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from tests.conftest import Golive
from tests.verify.conftest import Db

from golive.engine.events import Outcome
from golive.engine.state import StepStatus
from golive.store import open_store
from golive.testing import PlanRunner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gym-booking.golive.yaml"
pytestmark = [pytest.mark.postgres, pytest.mark.mariadb]


def example_verify_step(workdir: Path, legacy: str, new: str) -> PlanRunner:
    """The example plan with its verify-data step alone, pointed at the two databases."""
    yaml = YAML()
    plan: dict[str, Any] = yaml.load(EXAMPLE.read_text(encoding="utf-8"))
    del plan["window"]
    plan["objectives"] = []
    plan["checklist"] = []
    plan["environments"]["staging"]["vars"].update(legacy_db=legacy, new_db=new)
    del plan["environments"]["staging"]["secrets"]  # Sentry's and the DNS key: steps left out
    del plan["hypercare"]
    step = next(s for s in plan["steps"] if s["id"] == "verify-data")
    del step["needs"]
    step["failure"] = "continue"  # a failed verification ends the test's run, not pauses it
    plan["steps"] = [step]
    path = workdir / "gym-booking.golive.yaml"
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(plan, out)
    return PlanRunner.from_yaml(workdir, path.read_text(encoding="utf-8"))


def migrate(legacy: Db, new: Db, *, lose_a_booking: bool) -> None:
    customers = [(i, f"c{i}@gym.example", f"Client {i}", f"+32 470 {i:06}") for i in range(1, 51)]
    legacy.create(
        "customers",
        {"id": "int", "email": "text", "full_name": "text", "phone": "text"},
        customers,
        key=["id"],
    )
    new.create(
        "clients",
        {"id": "int", "email": "text", "name": "text", "phone": "text"},
        customers,
        key=["id"],
    )
    bookings = [(i, 1 + i % 50, f"class {i % 7}") for i in range(1, 301)]
    columns = {"id": "int", "client_id": "int", "class": "text"}
    legacy.create("reservations", columns, bookings, key=["id"])
    new.create("bookings", columns, bookings[1:] if lose_a_booking else bookings, key=["id"])


def outputs(runner: PlanRunner, run_id: str, stream: str) -> list[str]:
    with open_store(runner.store_url) as store:
        events = list(store.events(run_id, types={"StepOutput"}))
        text = "\n".join(e.data["text"] for e in events if e.data["stream"] == stream)
    return text.splitlines()


def test_the_example_verify_step_passes_on_a_faithful_migration(
    tmp_path: Path, mariadb_url: str, postgres_url: str
) -> None:
    migrate(Db(mariadb_url), Db(postgres_url), lose_a_booking=False)
    runner = example_verify_step(tmp_path, mariadb_url, postgres_url)
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed
    assert outputs(runner, state.run_id, "stdout") == [
        "customers -> clients: identical (50 rows in the source, 50 in the target)",
        "reservations -> bookings: identical (300 rows in the source, 300 in the target)",
        "assert ok: select count(*) from bookings b left... = 0",
        "verified: 2 tables, 1 assertions",
    ]
    [figures] = [json.loads(text) for text in outputs(runner, state.run_id, "verify")]
    assert [(t["source"], t["source_rows"], t["target_rows"]) for t in figures["tables"]] == [
        ("customers", 50, 50),
        ("reservations", 300, 300),
    ]


def test_the_example_verify_step_fails_on_a_lost_row_and_records_the_figures(
    tmp_path: Path, mariadb_url: str, postgres_url: str
) -> None:
    migrate(Db(mariadb_url), Db(postgres_url), lose_a_booking=True)
    runner = example_verify_step(tmp_path, mariadb_url, postgres_url)
    state = runner.run(env="staging")
    step = state.step("verify-data")
    assert step.status is StepStatus.failed
    assert step.error == "verification failed: 1 of 3 tables and assertions"
    assert "  missing id=1" in outputs(runner, state.run_id, "stdout")
    [figures] = [json.loads(text) for text in outputs(runner, state.run_id, "verify")]
    bookings = figures["tables"][1]
    assert (bookings["missing"], bookings["extra"], bookings["changed"]) == (1, 0, 0)
    assert "sample" not in bookings  # figures only: the sample rows are in the output lines
    with open_store(runner.store_url) as store:
        [failed] = store.events(state.run_id, types={"StepFailed"})
    assert failed.data["details"]["tables"][1]["missing"] == 1  # the figures are in the event log


def test_history_compares_what_rehearsal_n_and_n_plus_1_verified(
    tmp_path: Path, mariadb_url: str, postgres_url: str, golive: Golive
) -> None:
    legacy, new = Db(mariadb_url), Db(postgres_url)
    migrate(legacy, new, lose_a_booking=True)
    runner = example_verify_step(tmp_path, mariadb_url, postgres_url)
    first = runner.run(env="staging")
    new.insert("bookings", ["id", "client_id", "class"], [(1, 2, "class 1")])  # the fix
    second = runner.run(env="staging")

    shown = golive("history", runner.plan_path, "--state", runner.store_url, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    runs = json.loads(shown.stdout)["runs"]
    assert [r["id"] for r in runs] == [first.run_id, second.run_id]
    bookings = [r["verified"]["verify-data"]["reservations -> bookings"] for r in runs]
    assert [(b["ok"], b["missing"], b["source_rows"], b["target_rows"]) for b in bookings] == [
        (False, 1, 300, 299),
        (True, 0, 300, 300),
    ]
    sums = [b["checksums"] for b in bookings]  # MariaDB to PostgreSQL: MD5 of each row's text
    assert [s["hash"] for s in sums] == ["md5v2", "md5v2"]
    assert sums[0]["source"] == sums[1]["source"] == sums[1]["target"] != sums[0]["target"]
    text = golive("history", runner.plan_path, "--state", runner.store_url).stdout
    assert "verify-data: reservations -> bookings" in text
    assert "was 1 / 0 / 0" in text  # rehearsal N+1 beside what rehearsal N found
    assert "target data changed" in text
    assert "source data changed" not in text
