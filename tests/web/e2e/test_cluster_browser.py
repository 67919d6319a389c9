"""Two people in Chromium on two replicas of mission control behind nginx, one PostgreSQL: a vote
in one browser shows in the other within a second; the replica of one browser is killed by its
PID, its page reconnects through nginx to the other replica (Last-Event-ID), its session still
holds there, and it misses nothing."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Response, expect
from tests.web.e2e.conftest import (
    GATE,
    USERS,
    Server,
    add_users,
    running_plan,
    screenshot,
)
from tests.web.e2e.test_mission_control import VISIBLE_WITHIN_S, WATCH_JS, seen_after

from golive.testing.cluster import Cluster, served_by

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Cluster, Server]]:
    users = add_users(postgres_url)
    with Cluster.start(
        tmp_path / "cluster", state=postgres_url, replicas=2, show_upstream=True
    ) as started:
        first = started.replicas[0]
        assert first.process is not None
        yield started, Server(started.url, postgres_url, tmp_path, first.process, first.log, users)


class Tab:
    """A logged-in page in its own browser context, and the replica of its live stream."""

    def __init__(self, browser: Browser, url: str, name: str) -> None:
        self.context = browser.new_context(base_url=url, viewport={"width": 1440, "height": 900})
        self.page = self.context.new_page()
        self.streams: list[tuple[str, str | None]] = []  # (replica, Last-Event-ID) per stream
        self.page.on("response", self._response)
        password = next(u.password for u in USERS if u.name == name)
        self.page.goto("/login")
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", password)
        self.page.get_by_test_id("login").click()
        self.page.wait_for_url(lambda u: "/login" not in u)

    def _response(self, response: Response) -> None:
        if response.url.split("?")[0].endswith("/stream"):
            resumed = response.request.all_headers().get("last-event-id")
            self.streams.append((served_by(response.headers.get("x-upstream", "")), resumed))

    def open(self, run_id: str) -> None:
        self.streams.clear()
        self.page.goto(f"/runs/{run_id}")
        expect(self.page.get_by_test_id("connection")).to_have_class(re.compile(r"\blive\b"))
        deadline = time.monotonic() + 10
        while not self.streams and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)

    @property
    def replica(self) -> str:
        return self.streams[-1][0]


def test_two_browsers_on_two_replicas_and_one_replica_killed(
    cluster: tuple[Cluster, Server], browser: Browser
) -> None:
    nodes, server = cluster
    with running_plan(server) as live:
        ann = Tab(browser, nodes.url, "ann")
        bob = Tab(browser, nodes.url, "bob")
        try:
            ann.open(live.id)
            bob.open(live.id)
            for _ in range(6):  # round-robin: a reload lands bob's stream on the other replica
                if bob.replica != ann.replica:
                    break
                bob.open(live.id)
            assert bob.replica != ann.replica, (ann.streams, bob.streams)
            for tab in (ann, bob):  # presence comes from the store: both, on both replicas
                watchers = tab.page.locator("[data-testid=watchers]")
                expect(watchers.locator("[data-user=ann]")).to_have_count(1)
                expect(watchers.locator("[data-user=bob]")).to_have_count(1)

            ballot = f"[data-testid=gate-{GATE}] [data-testid=ballots] [data-by=ann].go"
            bob.page.evaluate(WATCH_JS, [["vote", ballot, ""]])
            voted = time.time()
            ann.page.get_by_test_id(f"gate-{GATE}").get_by_test_id("vote-go").click()
            vote_s = seen_after(bob.page, "vote", voted)
            print(f"bob (replica {bob.replica}) saw ann's vote after {vote_s * 1e3:.0f} ms")
            assert 0 < vote_s < VISIBLE_WITHIN_S

            # kill bob's replica: his page reconnects through nginx to ann's, resuming by seq
            nodes.kill(nodes.index_of(bob.replica))
            text = f"Replica down, the call goes on ({secrets.token_hex(3)})"
            ann.page.get_by_test_id("update-text").fill(text)
            ann.page.get_by_test_id("update-submit").click()
            updates = bob.page.get_by_test_id("updates").get_by_test_id("update")
            expect(updates.filter(has_text=text)).to_have_count(1)
            expect(bob.page.get_by_test_id("connection")).to_have_class(re.compile(r"\blive\b"))
            replica, resumed = bob.streams[-1]
            assert replica == ann.replica, bob.streams
            assert resumed is not None, bob.streams  # EventSource resumed after its last seq
            # bob's session holds on the other replica: his vote there opens the gate
            bob.page.get_by_test_id(f"gate-{GATE}").get_by_test_id("vote-go").click()
            for tab in (ann, bob):
                expect(tab.page.get_by_test_id(f"step-{GATE}")).to_have_attribute(
                    "data-state", "succeeded"
                )
                expect(tab.page.get_by_test_id("updates").get_by_test_id("update").filter(
                    has_text=text)).to_have_count(1)  # fmt: skip
            screenshot(bob.page, "cluster-after-a-replica-died")
        finally:
            ann.context.close()
            bob.context.close()
