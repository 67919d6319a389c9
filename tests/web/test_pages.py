"""The pages as each role gets them: the run page's parts, and buttons only for those allowed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.web.conftest import Engine, Person, bearer, login

from golive.web.pages import timeline

PARTS = [
    "step-prepare", "step-confirm", "step-go", "step-finish", "gate-go", "ballots", "progress",
    "eta", "timeline", "participants", "watchers", "updates", "issues", "checklist",
]  # fmt: skip


def page(client: TestClient, person: Person, path: str) -> str:
    login(client, person)
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.text


def test_the_run_page_shows_every_part_and_olly_may_confirm_his_step(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    html = page(app_client, people["olly"], f"/runs/{engine.run_id}")
    for part in PARTS:
        assert f'data-testid="{part}"' in html, part
    assert re.search(r'data-testid="step-confirm" data-state="waiting"', html)
    assert 'data-testid="done-confirm"' in html
    assert 'data-testid="vote-go"' not in html  # the gate is alba's, and not open yet
    assert 'data-testid="update-submit"' in html
    assert 'data-testid="check-backup"' in html
    assert "Olly Owner" in html
    assert 'src="/static/mission.js"' in html
    assert app_client.get("/static/mission.js").status_code == 200
    live = app_client.get(f"/runs/{engine.run_id}/live").text
    assert 'data-testid="step-confirm"' in live
    runs = app_client.get("/").text
    assert f'data-testid="run-{engine.run_id}"' in runs


def test_an_observer_gets_no_button(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    html = page(app_client, people["obi"], f"/runs/{engine.run_id}")
    assert 'data-testid="step-confirm"' in html
    for button in ("done-confirm", "update-submit", "issue-submit", "vote-go", "check-backup"):
        assert f'data-testid="{button}"' not in html, button


def test_a_user_without_a_role_gets_a_403_page(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    login(app_client, people["stranger"])
    response = app_client.get(f"/runs/{engine.run_id}")
    assert response.status_code == 403
    assert "has no role in go-live call" in response.text
    assert engine.run_id not in app_client.get("/").text
    missing = app_client.get("/runs/r-nope")
    assert missing.status_code == 404


def _view(finished: bool) -> dict[str, object]:
    start = "2026-12-06T20:00:00+00:00"
    step = {"id": "s", "title": "S", "status": "succeeded", "kind": "run", "duration": 30.0,
            "started_at": start, "planned_start": 0.0, "planned_end": 600.0}  # fmt: skip
    gate = {**step, "id": "g", "kind": "gate", "started_at": None, "planned_start": 600.0,
            "planned_end": 600.0}  # fmt: skip
    return {"started_at": start, "elapsed": 60.0, "planned_total": 600.0, "steps": [step, gate],
            "updates": [], "issues": [],
            "run": {"finished_at": "2026-12-06T20:01:00+00:00" if finished else None}}  # fmt: skip


def test_the_timeline_holds_the_plan_while_running_and_what_happened_once_finished() -> None:
    running = timeline(_view(finished=False))
    assert running["bars"][0]["planned"] == (0.0, 100.0)
    assert running["bars"][0]["actual"] == (0.0, 5.0)
    assert running["bars"][1]["milestone"]
    assert [t["label"] for t in running["ticks"]][:3] == ["start", "+2m", "+4m"]
    done = timeline(_view(finished=True))
    assert done["bars"][0]["actual"] == (0.0, 50.0)
    assert done["bars"][0]["planned"] == (0.0, 100.0)  # cut at the end of the scale
    assert not done["bars"][1]["milestone"]  # planned after the run's end


def test_a_checklist_item_a_manager_marked_shows_for_whom_she_marked_it(
    engine: Engine, people: dict[str, Person], app_client: TestClient
) -> None:
    marked = app_client.post(
        f"/api/runs/{engine.run_id}/checklist/backup/done", headers=bearer(people["mia"])
    )
    html = page(app_client, people["olly"], f"/runs/{engine.run_id}")

    assert marked.status_code == 200, marked.text
    assert re.search(r"done · <span[^>]*>Mia Manager</span> for <span[^>]*>Olly Owner</span>", html)
