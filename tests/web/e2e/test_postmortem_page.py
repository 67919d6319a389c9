"""The post-mortem in Chromium: the self-contained HTML report opened as a file, and mission
control's page, where a manager adds a lesson; screenshots to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect
from tests.web.e2e.conftest import (
    Login,
    Server,
    golive,
    ok,
    running_plan,
    screenshot,
    wait_until,
)

pytestmark = pytest.mark.slow

PLAN = """\
golive: e2e-shop
title: Web shop go-live
people:
  ann: {name: Ann Lambert, role: release manager}
  bob: {name: Bob Peeters, role: ops lead}
  olga: {name: Olga Smet, role: support lead}
environments:
  staging: {}
policy:
  rollback_within: 20m
steps:
  - {id: freeze, owner: ann, run: "echo frozen", estimate: 2m}
  - {id: migrate, owner: bob, needs: [freeze], run: "sleep 1; echo migrated 1200 orders", estimate: 0.2s}
  - {id: reindex, owner: bob, needs: [freeze], run: "echo reindexed", estimate: 1m}
  - {id: smoke, owner: bob, needs: [migrate, reindex], run: "echo smoke ok", estimate: 3m}
  - id: go-no-go
    gate: Go / No-Go for switching customers to the new shop
    needs: [smoke]
    approvers: [ann, bob]
    checks: [smoke]
  - {id: switch, owner: ann, needs: [go-no-go], run: "echo switched", estimate: 2m}
  - {id: announce, owner: ann, needs: [switch], run: "echo announced", estimate: 1m}
"""


def _go_live(server: Server) -> str:
    """One run of PLAN through its gate (two votes), with an issue raised and resolved and an
    update posted; its id once it has completed."""
    with running_plan(server, PLAN) as live:
        with server.client("ann") as ann_api, server.client("bob") as bob_api:
            base = f"/api/runs/{live.id}"
            issue = ann_api.post(
                f"{base}/issues",
                json={"title": "Search is slow after migration", "severity": "warning"},
            )
            assert issue.status_code == 200, issue.text
            update = {"text": "Data migrated; smoke tests green. Voting now."}
            assert ann_api.post(f"{base}/updates", json=update).status_code == 200
            votes = f"{base}/gates/go-no-go/votes"
            go = {"vote": "go", "reason": "checks green"}
            assert ann_api.post(votes, json=go).status_code == 200
            assert bob_api.post(votes, json={"vote": "go"}).status_code == 200
            resolved = ann_api.post(
                f"{base}/issues/{issue.json()['seq']}/resolve", json={"resolution": "reindexed"}
            )
            assert resolved.status_code == 200, resolved.text
        wait_until(lambda: live.status()["status"] == "completed", timeout=60, what="completed")
        return live.id


def test_the_report_and_the_page_show_the_review(
    server: Server, login: Login, browser: Browser
) -> None:
    _go_live(server)  # an earlier run: the rehearsal history, and P50/P90 beside each step
    run_id = _go_live(server)

    report = server.directory / "review.html"
    ok(golive("postmortem", run_id, "--state", server.state_url, "-f", "html", "-o", str(report)))
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url))
        page.goto(report.as_uri())
        expect(page.get_by_role("heading", name="Post-mortem: Web shop go-live")).to_be_visible()
        expect(page.locator("svg")).to_be_visible()
        screenshot(page, "postmortem-report")
        assert all(url.startswith("file:") for url in fetched), fetched
        page.emulate_media(media="print")
        screenshot(page, "postmortem-report-print")
    finally:
        context.close()

    ann = login("ann")
    ann.goto(f"/runs/{run_id}/postmortem")
    review = ann.get_by_test_id("postmortem")
    expect(review).to_contain_text("Audit chain holds")
    expect(review).to_contain_text("Search is slow after migration")
    expect(review).to_contain_text("1 rehearsal(s)")
    ann.get_by_test_id("lesson-text").fill("Rehearse the reindex with production-sized data")
    ann.get_by_test_id("lesson-kind").select_option("lesson")
    ann.get_by_test_id("lesson-submit").click()
    expect(review).to_contain_text("Rehearse the reindex with production-sized data (ann)")
    ann.get_by_test_id("follow-up-text").fill("Make the migration resumable")
    ann.get_by_test_id("follow-up-owner").select_option("bob")
    ann.get_by_test_id("follow-up-due").fill("2026-12-18")
    ann.get_by_test_id("follow-up-submit").click()
    expect(review).to_contain_text("Make the migration resumable")
    screenshot(ann, "postmortem-page")

    olga = login("olga")
    olga.goto(f"/runs/{run_id}/postmortem")
    expect(olga.get_by_test_id("postmortem")).to_contain_text("Make the migration resumable")
    expect(olga.get_by_test_id("postmortem-add")).to_have_count(0)
