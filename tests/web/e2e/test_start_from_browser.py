"""A go-live started from the browser alone: `golive serve --plan`, a manager starts a rehearsal
from the runs page and follows it on the run page, the engine a child of the server."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from tests.web.e2e.conftest import (
    GATE,
    PLAN,
    PLAN_ID,
    Login,
    Server,
    add_users,
    screenshot,
    serving,
)

from golive.engine.operator import read_state
from golive.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`golive serve --plan shop.golive.yaml` on a fresh store (ann manages the go-live)."""
    directory = tmp_path_factory.mktemp("serve-plans")
    (directory / "shop.golive.yaml").write_text(PLAN, encoding="utf-8")
    state_url = f"sqlite:///{directory / 'state.db'}"
    users = add_users(state_url)
    with serving(directory, state_url, "--plan", str(directory)) as running:
        running.users = users
        yield running


def _engines(server: Server) -> list[int]:
    with open_store(server.state_url) as store:
        return [read_state(store, run.id).engine_pid for run in store.runs()]


def test_a_manager_starts_a_rehearsal_from_the_runs_page_and_follows_it(
    server: Server, login: Login
) -> None:
    ann = login("ann")
    try:
        ann.goto("/")
        card = ann.get_by_test_id(f"plan-{PLAN_ID}")
        expect(card).to_contain_text("Web shop go-live")
        expect(ann.get_by_test_id(f"readiness-{PLAN_ID}")).to_contain_text("not ready")
        form = ann.get_by_test_id(f"start-{PLAN_ID}")
        form.get_by_test_id("start-env").select_option("staging")
        form.get_by_test_id("start-release").fill("2.1")
        form.get_by_test_id("start-kind").select_option("true")
        screenshot(ann, "start-runs-page")
        form.get_by_test_id("start-submit").click()
        ann.wait_for_url(re.compile(r"/runs/r-[^/]+$"), timeout=30_000)
        expect(ann.get_by_test_id("connection")).to_have_class(re.compile(r"\blive\b"))
        expect(ann.get_by_test_id(f"step-{GATE}")).to_have_attribute(
            "data-state", "waiting", timeout=30_000
        )
        expect(ann.locator(".run-head .meta")).to_contain_text("release 2.1")
        expect(ann.get_by_test_id("no-engine")).to_have_count(0)
        screenshot(ann, "start-run-page")
        # its engine dies: the page says so, and the manager resumes it with one click
        for pid in _engines(server):
            os.kill(pid, signal.SIGKILL)
        ann.reload()
        banner = ann.get_by_test_id("no-engine")
        expect(banner).to_contain_text("No engine drives this run")
        screenshot(ann, "start-no-engine", full_page=False)
        banner.get_by_test_id("resume").click()
        expect(ann.get_by_test_id("no-engine")).to_have_count(0, timeout=30_000)
        expect(ann.get_by_test_id(f"step-{GATE}")).to_have_attribute(
            "data-state", "waiting", timeout=30_000
        )
        ann.get_by_test_id(f"gate-{GATE}").get_by_test_id("vote-go").click()
        bob = login("bob")
        bob.goto(ann.url)
        bob.get_by_test_id(f"gate-{GATE}").get_by_test_id("vote-go").click()
        expect(ann.get_by_test_id("step-announce")).to_have_attribute(
            "data-state", "waiting", timeout=30_000
        )
        ann.get_by_test_id("done-announce").click()
        expect(ann.get_by_test_id("run-status")).to_have_text("completed", timeout=30_000)
        screenshot(ann, "start-completed")
        # a viewer without the manager role sees the plan, not the form
        olga = login("olga")
        olga.goto("/")
        expect(olga.get_by_test_id(f"plan-{PLAN_ID}")).to_have_count(1)
        expect(olga.get_by_test_id(f"start-{PLAN_ID}")).to_have_count(0)
    finally:
        for pid in _engines(server):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    logs = list(Path(server.directory / ".golive" / "engines").iterdir())
    assert [p.suffix for p in logs] == [".log"]
    assert "resumed" in logs[0].read_text()
