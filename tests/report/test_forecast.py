from __future__ import annotations

from collections.abc import Callable

import pytest

from golive.plan import Plan
from golive.report.forecast import Basis, forecast
from golive.report.history import RunAndState
from golive.store import RunRecord

Parse = Callable[[str], Plan]
RunsOf = Callable[[Plan], list[RunAndState]]
Record = Callable[..., RunRecord]

CHAIN = """
golive: shop
title: Shop
environments: {staging: {}, production: {}}
window: {start: 2026-12-13 20:00, end: 2026-12-13 21:00}
steps:
  - {id: deploy, run: "true", estimate: 10m}
  - {id: migrate, run: "true", needs: [deploy], estimate: 10m}
  - {id: announce, manual: true, needs: [migrate], estimate: 5m}
"""


def test_a_steps_p50_and_p90_are_those_of_its_rehearsed_durations(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(CHAIN)
    for seconds in (50, 10, 40, 20, 30):
        record(plan, {"deploy": seconds, "migrate": 60, "announce": 5})

    deploy = forecast(plan, runs_of(plan), seed=1).steps[0]

    assert deploy.step == "deploy"
    assert deploy.samples == (50, 10, 40, 20, 30)
    assert (deploy.p50, deploy.p90) == (30, 46)  # linear interpolation, like numpy's default
    assert deploy.basis is Basis.rehearsed


def test_the_finish_time_adds_up_the_durations_along_a_chain(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(CHAIN)
    for _ in range(3):
        record(plan, {"deploy": 600, "migrate": 1200, "announce": 300})

    predicted = forecast(plan, runs_of(plan), seed=7)

    assert predicted.finish_p50 == pytest.approx(2100, rel=0.02)
    assert 2100 < predicted.finish_p90 < 2100 * 1.1  # identical rehearsals still jitter by ~5%
    assert predicted.critical_path == ("deploy", "migrate", "announce")
    assert predicted.critical_share == 1
    assert not predicted.weak


FORK = """
golive: shop
title: Shop
environments: {staging: {}}
steps:
  - {id: deploy, run: "true"}
  - {id: slow-migration, run: "true", needs: [deploy]}
  - {id: warm-cache, run: "true", needs: [deploy]}
  - {id: smoke, run: "true", needs: [slow-migration, warm-cache]}
"""


def test_parallel_branches_finish_with_the_slower_one_which_is_the_critical_path(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(FORK)
    for migration in (900, 1000, 1100):
        record(plan, {"deploy": 60, "slow-migration": migration, "warm-cache": 120, "smoke": 30})

    predicted = forecast(plan, runs_of(plan), seed=3)

    assert predicted.critical_path == ("deploy", "slow-migration", "smoke")
    assert predicted.critical_share > 0.99
    assert predicted.finish_p50 == pytest.approx(60 + 1000 + 30, rel=0.05)


def test_the_most_frequent_critical_path_is_reported_with_its_share_when_branches_are_close(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(FORK)
    for migration, cache in ((100, 130), (110, 90), (120, 125)):
        record(plan, {"deploy": 1, "slow-migration": migration, "warm-cache": cache, "smoke": 1})

    predicted = forecast(plan, runs_of(plan), seed=5)

    assert predicted.critical_path[0] == "deploy"
    assert predicted.critical_path[-1] == "smoke"
    assert 0.5 <= predicted.critical_share < 0.95


def test_a_step_never_rehearsed_falls_back_to_its_estimate_and_weakens_the_forecast(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(CHAIN)
    for _ in range(3):
        record(plan, {"deploy": 600, "migrate": 1200})

    predicted = forecast(plan, runs_of(plan), seed=1)
    announce = predicted.steps[-1]

    assert announce.basis is Basis.estimate
    assert (announce.p50, announce.p90) == (300, 300)
    assert predicted.estimated_steps == ["announce"]
    assert predicted.weak
    assert predicted.finish_p50 == pytest.approx(2100, rel=0.03)


def test_fewer_than_three_rehearsed_durations_make_a_step_weak(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(CHAIN)
    record(plan, {"deploy": 600, "migrate": 1200, "announce": 300})
    record(plan, {"deploy": 600, "migrate": 1200, "announce": 300})

    predicted = forecast(plan, runs_of(plan), seed=1)

    assert predicted.weak_steps == ["deploy", "migrate", "announce"]
    assert predicted.weak
    assert predicted.rehearsals == 2


def test_production_runs_are_not_rehearsals_and_do_not_feed_the_forecast(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(CHAIN.replace("staging: {}", "staging: {}, prod: {production: true}"))
    record(plan, {"deploy": 60}, env="prod")
    record(plan, {"deploy": 30})

    predicted = forecast(plan, runs_of(plan), seed=1)

    assert predicted.steps[0].samples == (30,)
    assert predicted.rehearsals == 1


def test_a_p90_finish_longer_than_the_window_overflows_it(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(CHAIN)  # a one-hour window
    for minutes in (30, 35, 40):
        record(plan, {"deploy": 60 * minutes, "migrate": 1200, "announce": 300})

    predicted = forecast(plan, runs_of(plan), seed=1)

    assert predicted.window == 3600
    assert predicted.overflow
    assert predicted.to_json()["overflow"] is True
    assert predicted.within_window is not None
    assert predicted.within_window < 0.9
    assert (predicted.window_note() or "").startswith("P90 finish 1h")
    assert "overflows the 1h window" in (predicted.window_note() or "")


def test_a_p90_finish_inside_the_window_fits(parse: Parse, record: Record, runs_of: RunsOf) -> None:
    plan = parse(CHAIN)
    for _ in range(3):
        record(plan, {"deploy": 600, "migrate": 600, "announce": 300})

    predicted = forecast(plan, runs_of(plan), seed=1)

    assert not predicted.overflow
    assert predicted.within_window == 1
    assert "fits the 1h window (100% of simulated runs fit)" in (predicted.window_note() or "")


def test_the_same_seed_gives_the_same_forecast_and_another_seed_a_close_one(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(CHAIN)
    for seconds in (500, 650, 800):
        record(plan, {"deploy": seconds, "migrate": 1200, "announce": 300})
    runs = runs_of(plan)

    first, again, other = (forecast(plan, runs, seed=s) for s in (11, 11, 12))

    assert first == again
    assert other.finish_p90 != first.finish_p90
    assert other.finish_p90 == pytest.approx(first.finish_p90, rel=0.02)


def test_without_any_rehearsal_the_forecast_rests_on_the_estimates(parse: Parse) -> None:
    plan = parse(CHAIN)

    predicted = forecast(plan, [], seed=1)

    assert predicted.rehearsals == 0
    assert {s.basis for s in predicted.steps} == {Basis.estimate}
    assert predicted.finish_p50 == pytest.approx(1500, rel=0.05)
