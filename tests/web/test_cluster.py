"""Two `golive serve` replicas behind a real nginx on one PostgreSQL: a watcher on each, a vote
posted on one reaches the other within a second (pushed by NOTIFY), a replica killed by its PID,
its watcher back through nginx on the other one with Last-Event-ID; each page gets every event
exactly once, in order. Login sessions, the login rate limit and presence hold across replicas.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from golive.store import open_store
from golive.testing.cluster import Cluster, Follower
from golive.testing.nginx import NginxUnavailable, nginx_binary

from .conftest import Engine, Person, bearer

pytestmark = pytest.mark.postgres


@pytest.fixture
def store_url(postgres_url: str) -> str:
    """The cluster's store: a fresh PostgreSQL database (the replicas LISTEN on it)."""
    return postgres_url


@pytest.fixture
def cluster(store_url: str, tmp_path: Path, plan_path: Path) -> Iterator[Cluster]:
    try:
        nginx_binary()
    except NginxUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    with Cluster.start(
        tmp_path / "cluster", state=store_url, replicas=2, plans=[plan_path], show_upstream=True
    ) as started:
        yield started


def _all_seqs(store_url: str, run_id: str) -> list[int]:
    with open_store(store_url) as store:
        return [e.seq for e in store.events(run_id)]


def test_two_replicas_deliver_every_event_once_in_order_across_a_crash(
    cluster: Cluster, engine: Engine, people: dict[str, Person], store_url: str
) -> None:
    run = engine.run_id
    # Through nginx. Each nginx worker keeps its own round-robin, so two streams may land on one
    # replica: obi's is opened again until it is on the other replica than mia's.
    mia = Follower(cluster.url, run, people["mia"].token, after=0).start()
    obi = Follower(cluster.url, run, people["obi"].token, after=0).start()
    try:
        mia.wait(lambda f: f.connections == 1 and bool(f.presence))
        for _ in range(10):
            obi.wait(lambda f: f.connections == 1 and bool(f.presence))
            if obi.upstreams[0] != mia.upstreams[0]:
                break
            obi.stop()
            obi = Follower(cluster.url, run, people["obi"].token, after=0).start()
        assert obi.upstreams[0] != mia.upstreams[0], (mia.upstreams, obi.upstreams)
        first, second = cluster.replicas
        # presence is shared: either replica lists both watchers, wherever they are
        for replica in cluster.replicas:
            deadline = time.monotonic() + 10
            while True:
                view = httpx.get(f"{replica.url}/api/runs/{run}", headers=bearer(people["mia"]))
                users = sorted(w["user"] for w in view.json()["watchers"])
                if users == ["mia", "obi"] or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert users == ["mia", "obi"], view.json()

        api = f"/api/runs/{run}"
        done = httpx.post(f"{first.url}{api}/steps/confirm/done", headers=bearer(people["olly"]))
        assert done.status_code == 200, done.text
        engine.wait_for(lambda s: s["steps"].get("go") == "waiting")
        voted = httpx.post(
            f"{second.url}{api}/gates/go/votes",
            json={"vote": "go", "reason": "all green"},
            headers=bearer(people["alba"]),
        )
        committed = time.monotonic()  # the vote is in the store when the answer comes
        assert voted.status_code == 200, voted.text
        for follower in (mia, obi):
            follower.wait(lambda f: any(r.type == "GateVoted" for r in f.received))
            got = next(r for r in follower.received if r.type == "GateVoted")
            assert got.at - committed < 1.0, f"the vote took {got.at - committed:.2f} s"

        down = cluster.index_of(mia.upstreams[0])  # mia's replica dies; obi's stream stays
        killed = cluster.kill(down)
        assert not cluster.replicas[down].alive(), killed
        for n in range(5):
            posted = httpx.post(
                f"{cluster.url}{api}/updates",
                json={"text": f"after the crash {n}", "severity": "info"},
                headers=bearer(people["mia"]),
            )
            assert posted.status_code == 200, posted.text
        engine.wait_for(lambda s: s["status"] == "completed", timeout=30)
        expected = _all_seqs(store_url, run)
        for follower in (mia, obi):
            follower.wait(lambda f: bool(f.seqs) and f.seqs[-1] >= expected[-1])
            assert follower.seqs == expected  # each exactly once, in order, none missed
        assert mia.connections == 2, mia.upstreams  # back through nginx, on obi's replica
        assert mia.upstreams[1] == obi.upstreams[0], (mia.upstreams, obi.upstreams)
        assert obi.connections == 1, obi.upstreams  # the other replica's watcher never dropped
    finally:
        mia.stop()
        obi.stop()


def test_a_login_on_one_replica_holds_on_the_other_and_failures_count_everywhere(
    cluster: Cluster, people: dict[str, Person]
) -> None:
    first, second = cluster.replicas
    with httpx.Client(base_url=first.url) as browser:
        answer = browser.post("/login", data={"username": "mia", "password": "mia-password"})
        assert answer.status_code == 303, answer.text
        cookie = browser.cookies.get("golive_session")
    assert cookie
    with httpx.Client(base_url=second.url, cookies={"golive_session": cookie}) as browser:
        page = browser.get("/")
        assert page.status_code == 200
        assert "mia" in page.text.lower()
    # five wrong passwords spread over both replicas: the sixth try is refused on either
    for n in range(5):
        replica = cluster.replicas[n % 2]
        wrong = httpx.post(f"{replica.url}/login", data={"username": "obi", "password": "nope"})
        assert wrong.status_code == 401
    for replica in cluster.replicas:
        right = httpx.post(
            f"{replica.url}/login", data={"username": "obi", "password": "obi-password"}
        )
        assert right.status_code == 429, right.text
