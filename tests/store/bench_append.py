"""Median cost of one `EventStore.append` (and of a 100-event `append_many`).

    PYTHONPATH=src python tests/store/bench_append.py                      # SQLite in a temp dir
    PYTHONPATH=src python tests/store/bench_append.py postgresql+psycopg://postgres@127.0.0.1/db

Not collected by pytest (the name does not start with test_); belongs in bench/ once it exists.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from golive.store import open_store


def main(url: str) -> None:
    with open_store(url) as store:
        run = store.create_run(
            plan_id="bench",
            plan_path="/bench.golive.yaml",
            plan_hash="h",
            env="staging",
            release=None,
            rehearsal=True,
            started_by="bench",
        )
        for _ in range(200):
            store.append(run.id, "Warmup")
        one = []
        for n in range(3000):
            started = time.perf_counter()
            store.append(run.id, "StepOutput", step="deploy", data={"line": f"line {n}"})
            one.append(time.perf_counter() - started)
        batch = [("StepOutput", "deploy", {"line": f"line {n}"}) for n in range(100)]
        many = []
        for _ in range(50):
            started = time.perf_counter()
            store.append_many(run.id, batch)
            many.append(time.perf_counter() - started)
        print(
            f"{store.display_url}\n"
            f"  append:            median {statistics.median(one) * 1e3:.3f} ms, "
            f"p95 {statistics.quantiles(one, n=20)[18] * 1e3:.3f} ms\n"
            f"  append_many(100):  median {statistics.median(many) * 1e3:.3f} ms"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        main(sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{directory}/state.db")
