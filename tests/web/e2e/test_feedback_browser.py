"""The public feedback form in real headless Chromium, anonymous, against a real `golive serve`
and `golive run`: a user's report shows up on the manager's live run page within a second."""

from __future__ import annotations

import re
import secrets
import time

import pytest
from playwright.sync_api import Browser, expect
from tests.web.e2e.conftest import PLAN, Login, Server, running_plan, screenshot
from tests.web.e2e.test_mission_control import VISIBLE_WITHIN_S, WATCH_JS, open_run, seen_after

pytestmark = pytest.mark.slow

FEEDBACK_PLAN = PLAN + "hypercare:\n  duration: 72h\n  feedback: true\n"


def test_an_anonymous_report_reaches_the_managers_page_within_a_second(
    server: Server, login: Login, browser: Browser
) -> None:
    with running_plan(server, FEEDBACK_PLAN) as run:
        ann = login("ann")
        open_run(ann, run)
        link = ann.get_by_test_id("feedback-link")
        expect(link).to_be_visible()
        url = link.get_attribute("href")
        assert url is not None
        assert url.startswith(f"{server.url}/feedback/{run.id}/")

        anonymous = browser.new_context(locale="en-GB")  # no cookie, no account
        blocked: list[str] = []
        user = anonymous.new_page()
        user.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        user.goto(url)
        expect(user.get_by_role("heading", name="Report a problem")).to_be_visible()
        what = f"The booking page says <b>error 500</b> ({secrets.token_hex(3)})"
        user.get_by_test_id("feedback-what").fill(what)
        user.get_by_test_id("feedback-contact").fill("kim@example.com")
        user.get_by_test_id("feedback-severity").select_option("critical")
        ann.evaluate(WATCH_JS, [["report", "[data-testid=issues] [data-issue]", what]])
        sent = time.time()
        user.get_by_test_id("feedback-submit").click()
        seen_s = seen_after(ann, "report", sent)
        print(f"ann saw the anonymous report after {seen_s * 1e3:.0f} ms")

        assert 0 < seen_s < VISIBLE_WITHIN_S
        expect(user.get_by_test_id("feedback-sent")).to_be_visible()
        report = ann.get_by_test_id("issues").locator("[data-issue]").filter(has_text=what)
        expect(report).to_have_class(re.compile(r"\bsev-critical\b"))
        expect(report.get_by_test_id("user-feedback")).to_have_text("user feedback")
        expect(report.get_by_test_id("feedback-contact")).to_have_text("kim@example.com")
        expect(ann.get_by_test_id("feedback-count")).to_have_text("1")
        screenshot(user, "feedback-form-sent")
        screenshot(ann, "run-page-with-user-feedback")

        user.goto(url[:-2] + "xx")  # a wrong token: nothing about the run
        assert run.id not in user.content()
        assert "Not Found" in user.content()
        anonymous.close()
        assert blocked == []
