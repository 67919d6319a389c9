"""A plan with `policy.checklist_marks: owner_only`: mission control refuses a manager's mark of
an item she does not own, as `golive checklist` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import PLAN, Engine, Person, bearer


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    path = tmp_path / "call.golive.yaml"
    path.write_text(PLAN + "policy: {checklist_marks: owner_only}\n", encoding="utf-8")
    return path


def test_owner_only_refuses_a_managers_mark_and_takes_the_owners(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    api = f"/api/runs/{engine.run_id}/checklist/backup/done"

    refused = app_client.post(api, headers=bearer(people["mia"]))
    by_owner = app_client.post(api, headers=bearer(people["olly"]))

    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "checklist item 'backup' is marked by its owner only "
        "(policy.checklist_marks: owner_only): ask olly to mark it"
    )
    assert by_owner.status_code == 200, by_owner.text
