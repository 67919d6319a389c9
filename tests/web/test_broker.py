"""The broker reads the store once per watched run, however many watch it, and sends each
event to every watcher once, in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from golive.engine.commands import start_run
from golive.plan import load_plan
from golive.store import EventRecord, EventStore, open_store
from golive.web.broker import Broker, Watcher
from golive.web.runs import Runs

PLAN = """\
golive: fan
title: Fan-out
people:
  ann: {name: Ann}
environments:
  staging: {}
steps:
  - {id: wait, owner: ann, manual: true}
"""


class CountingRuns(Runs):
    """Runs that count how often the store is read for new events."""

    reads = 0

    def sync(self, run_id: str) -> list[EventRecord]:
        self.reads += 1
        return super().sync(run_id)


def _run(tmp_path: Path, store: EventStore) -> str:
    path = tmp_path / "fan.golive.yaml"
    path.write_text(PLAN, encoding="utf-8")
    started = start_run(load_plan(path, env="staging"), store=store, env="staging",
                        release=None, by="ann")  # fmt: skip
    return started.run.id


@pytest.mark.parametrize("watchers", [1, 300])
def test_one_tail_per_run_serves_every_watcher_each_event_once(
    tmp_path: Path, watchers: int
) -> None:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        run_id = _run(tmp_path, store)
        runs = CountingRuns(store)

        async def main() -> tuple[list[list[int]], int]:
            broker = Broker(runs, interval=0.05)
            broker.start()
            subscriptions = [
                await broker.subscribe(run_id, Watcher(f"u{i}", None, f"U{i}"), after=None)
                for i in range(watchers)
            ]
            runs.reads = 0
            appended = []
            for n in range(10):
                appended.append(store.append(run_id, "UpdatePosted", data={
                    "by": "ann", "text": f"update {n}", "severity": "info"}).seq)  # fmt: skip
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            seen = []
            for subscription in subscriptions:
                seen.append([seq for seq, _ in subscription.pending if seq])
            reads = runs.reads
            await broker.close()
            assert appended == sorted(appended)
            return seen, reads

        seen, reads = asyncio.run(main())
    assert all(got == seen[0] for got in seen)
    assert len(seen[0]) == 10
    # ~0.5 s at one read per 0.05 s: the store is read per run, never per watcher
    assert reads < 20
