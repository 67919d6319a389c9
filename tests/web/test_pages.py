"""The pages as each role gets them: the run page's parts, and buttons only for those allowed."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from tests.web.conftest import Engine, Person, bearer, login, running

from golive.store import open_store
from golive.store.accounts import Accounts
from golive.web import create_app
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


EVIDENCE_PLAN = """\
golive: evidence
title: Gate evidence
people:
  ann: {name: Ann}
environments:
  staging: {}
steps:
  - {id: wait, owner: ann, manual: Say when}
  - id: go
    gate: Go or no-go
    needs: [wait]
    approvers: [ann]
    checks:
      - wait
      - http: https://shop.example/health
        expect: [200, 204]
        latency_below: 250ms
        headers: {Authorization: Bearer very-secret}
        json: {status: ok}
      - {http_error_rate: /var/log/nginx/shop.json, below: 0.5%, over: 5m, min_requests: 1500}
      - name: Orders flow
        sql: select count(*) from orders
        db: postgresql://shop:hunter2@db.example/shop
        above: 1234.5
"""


def test_the_gate_card_shows_each_check_s_evidence_as_key_and_value(
    store_url: str, tmp_path: Path
) -> None:
    plan = tmp_path / "evidence.golive.yaml"
    plan.write_text(EVIDENCE_PLAN, encoding="utf-8")
    with open_store(store_url) as store:
        accounts = Accounts(store)
        accounts.add_user("ann", password="ann-password", person="ann", plan_id="evidence")
    with running(plan, store_url, tmp_path, until="wait") as run_id:
        app = create_app(store_url)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            html = page(client, Person("ann", "ann", "", "ann-password"), f"/runs/{run_id}")
    checks = html[html.index('data-testid="gate-checks"') :]
    checks = checks[: checks.index("</ul>")]
    shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", checks)).strip()
    assert "{" not in shown  # no dict, as Python or JSON would print it
    assert "step wait" in shown
    assert "http https://shop.example/health" in shown
    assert "expect : 200, 204" in shown
    assert "latency_below : 250ms" in shown
    assert "headers : Authorization" in shown
    assert "very-secret" not in html  # a header's value may be a credential
    assert "json : status = ok" in shown
    assert "below : 0.5%" in shown
    assert "over : 5m" in shown
    assert "min_requests : 1,500" in shown
    assert "Orders flow" in shown
    assert "above : 1,234.5" in shown
    assert "db : postgresql://shop:***@db.example/shop" in shown
    assert "hunter2" not in html
