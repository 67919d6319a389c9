"""http_error_rate checks on JSON access logs written the way nginx writes them."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest

from golive.checks.access_log import count


def write_log(path: Path, entries: list[tuple[float, int]], *, iso: bool = False) -> None:
    """One JSON line per (seconds ago, status), oldest first, as nginx appends them."""
    now = time.time()
    with path.open("w", encoding="utf-8") as log:
        for ago, status in sorted(entries, key=lambda e: -e[0]):
            at = now - ago
            stamp: dict[str, Any] = (
                {"time": dt.datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")}
                if iso
                else {"msec": f"{at:.3f}"}
            )
            log.write(json.dumps({**stamp, "status": str(status), "uri": "/book"}) + "\n")


@pytest.mark.parametrize("iso", [False, True], ids=["msec", "time_iso8601"])
def test_an_error_rate_below_the_bound_passes(run_check: Any, tmp_path: Path, iso: bool) -> None:
    log = tmp_path / "access.json.log"
    write_log(log, [(i, 200) for i in range(1, 1000)] + [(500.5, 502)], iso=iso)
    outcome = run_check(f'{{http_error_rate: "{log}", below: 0.5%, over: 20m}}')
    assert outcome.ok, outcome.summary
    assert outcome.summary == "0.10% errors (1 of 1000 requests in the last 20m), below 0.5%"
    assert outcome.details["error_rate"] == pytest.approx(0.001)


def test_an_error_rate_at_the_bound_fails(run_check: Any, tmp_path: Path) -> None:
    log = tmp_path / "access.json.log"
    write_log(log, [(i, 200) for i in range(1, 199)] + [(10.5, 500), (20.5, 503)])
    outcome = run_check(f'{{http_error_rate: "{log}", below: 1%, over: 10m}}')
    assert not outcome.ok
    assert outcome.summary == "1.00% errors (2 of 200 requests in the last 10m), expected below 1%"


def test_requests_older_than_the_period_are_not_counted(run_check: Any, tmp_path: Path) -> None:
    log = tmp_path / "access.json.log"
    old_errors = [(7200 + i, 500) for i in range(100)]
    write_log(log, [*old_errors, *[(i, 200) for i in range(1, 11)]])
    outcome = run_check(f'{{http_error_rate: "{log}", below: 0.5%, over: 1h}}')
    assert outcome.ok, outcome.summary
    assert outcome.details["requests"] == 10


def test_too_few_requests_is_no_evidence_and_fails(run_check: Any, tmp_path: Path) -> None:
    log = tmp_path / "access.json.log"
    write_log(log, [(1, 200), (2, 200), (3, 200)])
    outcome = run_check(f'{{http_error_rate: "{log}", below: 0.5%, min_requests: 100}}')
    assert not outcome.ok
    assert outcome.summary == "only 3 requests in the last 5m, need 100"


def test_an_empty_log_fails(run_check: Any, tmp_path: Path) -> None:
    log = tmp_path / "access.json.log"
    log.write_text("")
    outcome = run_check(f'{{http_error_rate: "{log}", below: 0.5%}}')
    assert not outcome.ok
    assert outcome.summary == "only 0 requests in the last 5m, need 1"


def test_the_period_of_a_monitor_defaults_to_how_often_it_runs(
    run_check: Any, tmp_path: Path
) -> None:
    log = tmp_path / "access.json.log"
    write_log(log, [(30, 200), (90, 500)])
    outcome = run_check(f'{{http_error_rate: "{log}", below: 0.5%, every: 1m}}')
    assert outcome.ok, outcome.summary
    assert "in the last 1m" in outcome.summary


def test_lines_that_cannot_be_read_are_counted_apart(tmp_path: Path) -> None:
    log = tmp_path / "access.json.log"
    now = time.time()
    log.write_text(
        "\n".join(
            [
                json.dumps({"msec": now - 5, "status": 200}),
                "127.0.0.1 - - [06/Dec/2026:20:00:00 +0100] GET / 200",  # the combined format
                json.dumps({"msec": now - 4, "status": "-"}),
                json.dumps({"status": 200}),
                json.dumps({"time": "2026-12-06T20:00:00+01:00"}),
                json.dumps({"msec": now - 3, "status": 503}),
            ]
        )
    )
    tally = count(log, since=now - 60)
    assert (tally.requests, tally.errors, tally.unreadable) == (2, 1, 4)


def test_a_large_log_is_read_from_its_end_only(tmp_path: Path) -> None:
    log = tmp_path / "access.json.log"
    now = time.time()
    line = json.dumps({"msec": f"{now - 86400:.3f}", "status": "200", "pad": "x" * 200})
    with log.open("w") as out:
        out.write((line + "\n") * 200_000)  # about 45 MB of yesterday
        for i in range(10):
            out.write(json.dumps({"msec": f"{now - i:.3f}", "status": "500"}) + "\n")
    started = time.perf_counter()
    tally = count(log, since=now - 60)
    assert (tally.requests, tally.errors) == (10, 10)
    assert time.perf_counter() - started < 0.5


def test_a_missing_log_fails_naming_it(run_check: Any, tmp_path: Path) -> None:
    outcome = run_check(f'{{http_error_rate: "{tmp_path}/nope.log", below: 1%}}')
    assert not outcome.ok
    assert (
        outcome.summary
        == f"cannot read the access log {tmp_path}/nope.log: No such file or directory"
    )
