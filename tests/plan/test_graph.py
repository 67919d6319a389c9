"""The steps as a graph: the order they run in, cycles, the critical path."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from golive.plan import check_plan
from golive.plan.graph import StepGraph, finish_times
from golive.plan.models import Step

EXAMPLE_ORDER = [
    "announce",
    "switch-dns",
    "maintenance-on",
    "freeze-legacy",
    "deploy-green",
    "migrate",
    "verify-data",
    "smoke",
    "go-no-go",
    "switch",
    "welcome",
]


def graph(*steps: tuple[str, list[str]]) -> StepGraph:
    return StepGraph([Step(id=ident, run="x", needs=needs) for ident, needs in steps])


def minutes(**durations: int) -> Any:
    return lambda step_id: dt.timedelta(minutes=durations.get(step_id, 0))


def test_order_keeps_the_file_order_when_nothing_forbids_it() -> None:
    assert graph(("c", []), ("a", []), ("b", [])).order() == ["c", "a", "b"]


def test_order_puts_what_a_step_needs_before_it() -> None:
    steps = graph(("deploy", ["build"]), ("announce", []), ("build", []), ("smoke", ["deploy"]))
    assert steps.order() == ["announce", "build", "deploy", "smoke"]


def test_order_takes_the_earliest_ready_step_in_the_file_first() -> None:
    steps = graph(("a", []), ("b", ["d"]), ("c", []), ("d", []))
    assert steps.order() == ["a", "c", "d", "b"]


def test_order_of_the_example_is_its_file_order(example_plan: Any) -> None:
    plan = check_plan(example_plan).plan
    assert plan is not None
    assert StepGraph(plan.steps).order() == EXAMPLE_ORDER


def test_an_acyclic_graph_has_no_cycle() -> None:
    assert graph(("a", []), ("b", ["a"]), ("c", ["a", "b"])).find_cycle() is None


def test_a_cycle_is_returned_from_its_first_step_back_to_it() -> None:
    steps = graph(("a", ["c"]), ("b", ["a"]), ("c", ["b"]), ("d", []))
    assert steps.find_cycle() == ["a", "c", "b", "a"]


def test_a_step_that_needs_itself_is_a_cycle() -> None:
    assert graph(("a", []), ("b", ["b"])).find_cycle() == ["b", "b"]


def test_a_cycle_behind_an_acyclic_part_is_found() -> None:
    steps = graph(("a", []), ("b", ["a"]), ("c", ["b", "e"]), ("d", ["c"]), ("e", ["d"]))
    assert steps.find_cycle() == ["c", "e", "d", "c"]


def test_order_refuses_a_cycle() -> None:
    with pytest.raises(ValueError, match="cycle"):
        graph(("a", ["b"]), ("b", ["a"])).order()


def test_unknown_and_repeated_needs_are_ignored_by_the_graph() -> None:
    steps = graph(("a", ["ghost"]), ("b", ["a", "a"]))
    assert steps.needs == {"a": (), "b": ("a",)}
    assert steps.order() == ["a", "b"]


def test_ancestors_are_everything_a_step_waits_for() -> None:
    steps = graph(("a", []), ("b", ["a"]), ("c", ["b"]), ("d", []))
    assert steps.ancestors("c") == {"a", "b"}
    assert steps.ancestors("d") == set()


def test_critical_path_is_the_longest_chain() -> None:
    steps = graph(("a", []), ("b", ["a"]), ("c", []), ("d", ["b", "c"]))
    path = steps.critical_path(minutes(a=10, b=20, c=45, d=5))
    assert path.steps == ("c", "d")
    assert path.total == dt.timedelta(minutes=50)


def test_critical_path_of_no_steps_is_empty() -> None:
    path = StepGraph([]).critical_path(minutes())
    assert path.steps == ()
    assert path.total == dt.timedelta()


def test_critical_path_of_the_example_runs_through_the_migration(example_plan: Any) -> None:
    plan = check_plan(example_plan).plan
    assert plan is not None
    estimates = {s.id: s.estimate or dt.timedelta() for s in plan.steps}
    path = StepGraph(plan.steps).critical_path(estimates.__getitem__)
    assert path.steps == ("deploy-green", "migrate", "verify-data", "go-no-go", "switch", "welcome")
    assert path.total == dt.timedelta(minutes=90)


def test_finish_times_add_up_along_the_needs() -> None:
    steps = graph(("a", []), ("b", ["a"]), ("c", []))
    assert finish_times(steps, {"a": 60, "b": 30, "c": 10}) == {"a": 60, "b": 90, "c": 10}


def test_a_wide_graph_orders_in_well_under_a_second() -> None:
    # regression: the order was O(n^2), a list sorted and popped from the front for every
    # step: 5.6 s for these 20,000 steps, against 0.04 s now
    steps = StepGraph([Step(id=f"s{i}", run="x") for i in range(20_000)])
    started = time.perf_counter()
    order = steps.order()
    assert time.perf_counter() - started < 1.0
    assert order[:3] == ["s0", "s1", "s2"]
