"""Acknowledging from mission control (the API and the page's button), and a delivery failure
shown on the run page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.web.conftest import Engine, Person, bearer


def test_a_waiting_step_is_acknowledged_through_the_api_and_shown_on_the_page(
    app_client: TestClient, engine: Engine, people: dict[str, Person]
) -> None:
    olly = bearer(people["olly"])
    page = app_client.get(f"/runs/{engine.run_id}", headers=olly)
    assert 'data-testid="ack-confirm"' in page.text  # the button on the waiting step
    acked = app_client.post(
        f"/api/runs/{engine.run_id}/acks", json={"item": "confirm"}, headers=olly
    )
    assert acked.status_code == 200, acked.text
    view = app_client.get(f"/api/runs/{engine.run_id}", headers=olly).json()
    assert view["acknowledged"] == {"confirm": "olly"}
    assert view["notifications"] == {"sent": 0, "failing": []}
    page = app_client.get(f"/runs/{engine.run_id}", headers=olly)
    assert "acknowledged by" in page.text


def test_an_ack_of_nothing_is_one_clear_error(
    app_client: TestClient, engine: Engine, people: dict[str, Person]
) -> None:
    response = app_client.post(
        f"/api/runs/{engine.run_id}/acks", json={"item": "42"}, headers=bearer(people["olly"])
    )
    assert response.status_code == 400, response.text
    assert "nothing called '42' to acknowledge" in response.text
    assert "known: confirm" in response.text


def test_the_page_offers_to_acknowledge_an_issue(
    app_client: TestClient, engine: Engine, people: dict[str, Person]
) -> None:
    olly = bearer(people["olly"])
    raised = app_client.post(
        f"/api/runs/{engine.run_id}/issues", json={"title": "slow"}, headers=olly
    )
    assert raised.status_code == 200, raised.text
    page = app_client.get(f"/runs/{engine.run_id}", headers=olly)
    assert 'data-testid="ack-submit"' in page.text
    assert 'data-testid="notifications"' in page.text
