"""Checking a huge or hostile plan takes time in proportion to its size, and ends in diagnostics.

Times are CPU seconds compared with ruamel.yaml parsing the same text in the same test (the
floor: check parses it that way, then validates and lints): a machine shared by many processes
slows both alike, where a fixed number of seconds would be flaky.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from golive.plan import check_plan
from golive.plan.source import MAX_BYTES

# check measured 1.0-1.3x the parse (CPU) on 1k-100k steps; a quadratic spot was 50x and more
RATIO = 3.0
HEAD = (
    "golive: scale\ntitle: Scale\npeople:\n  ops: {name: Ops}\n"
    "environments:\n  prod: {vars: {v: x}}\nsteps:\n"
)


def steps(count: int, needs: Callable[[int], str | None] = lambda i: None) -> str:
    """`count` steps that pass check: each runs a command with its undo."""
    lines = []
    for i in range(count):
        lines += [f"  - id: s{i}", "    owner: ops", '    run: "echo {{ vars.v }}"', "    undo: x"]
        if (need := needs(i)) is not None:
            lines.append(f"    needs: [{need}]")
    return HEAD + "\n".join(lines) + "\n"


def cpu(function: Callable[[], object]) -> float:
    started = time.process_time()
    function()
    return time.process_time() - started


def ratio_to_parse(path: Path) -> float:
    text = path.read_text(encoding="utf-8")
    floor = cpu(lambda: YAML(typ="rt").load(text))
    return cpu(lambda: check_plan(path)) / floor


def test_a_10k_step_plan_checks_within_a_small_multiple_of_parsing_it(tmp_path: Path) -> None:
    plan = tmp_path / "big.golive.yaml"
    plan.write_text(steps(10_000, lambda i: f"s{i - 1}" if i else None), encoding="utf-8")
    result = check_plan(plan)
    assert result.ok
    assert result.diagnostics == []
    assert ratio_to_parse(plan) < RATIO


def test_unknown_step_references_are_reported_in_linear_time(tmp_path: Path) -> None:
    # regression: a did-you-mean hint compared each unknown name with every id: 10,000 took
    # 210 s; 3,000 here took about 20 s, and stay within the ratio now
    plan = tmp_path / "typos.golive.yaml"
    plan.write_text(steps(3_000, lambda i: f"s{i}x"), encoding="utf-8")
    errors = check_plan(plan).errors
    assert len(errors) == 3_000
    assert {e.rule for e in errors} == {"unknown-step"}
    assert errors[0].hint == "did you mean 's0'?"  # hints while the budget lasts
    assert errors[-1].hint == "name a step id from steps:"  # then the plain hint
    assert ratio_to_parse(plan) < RATIO


def test_a_10k_step_cycle_is_one_short_diagnostic(tmp_path: Path) -> None:
    # regression: the message listed all 10,000 steps on one line
    plan = tmp_path / "cycle.golive.yaml"
    plan.write_text(steps(10_000, lambda i: f"s{(i - 1) % 10_000}"), encoding="utf-8")
    (error,) = check_plan(plan).errors
    assert error.message == (
        "steps.s0.needs: dependency cycle: s0 -> s9999 -> s9998 -> s9997 -> s9996 -> "
        "... 9,991 more ... -> s4 -> s3 -> s2 -> s1 -> s0"
    )


def test_text_repeated_through_aliases_is_refused_before_it_is_scanned(tmp_path: Path) -> None:
    # 100 aliases of 100 kB are 10 MB of commands for lint to scan: more than a file may hold
    plan = tmp_path / "repeat.golive.yaml"
    command = "x" * 100_000
    runs = "".join(f"  - {{id: s{i}, owner: ops, run: *cmd}}\n" for i in range(1, 100))
    plan.write_text(
        HEAD + f"  - {{id: s0, owner: ops, run: &cmd '{command}'}}\n" + runs, encoding="utf-8"
    )
    assert [d.format() for d in check_plan(plan).diagnostics] == [
        f"{plan}:1:1: error: the plan's text adds up to more than {MAX_BYTES // 2**20} MiB "
        "(YAML aliases repeat it) (a plan needs no alias bomb; write the values out)"
    ]


def test_a_million_open_brackets_are_refused_where_the_49th_level_opens(tmp_path: Path) -> None:
    # regression: ruamel scanned every level first, slower with each (14 s), then overflowed
    plan = tmp_path / "deep.golive.yaml"
    plan.write_text(HEAD + "description: " + "[" * 1_000_000 + "\n", encoding="utf-8")
    started = time.process_time()
    (error,) = check_plan(plan).errors
    assert (error.line, error.column) == (8, 62)
    assert error.message == "the plan is nested more than 48 levels deep"
    assert time.process_time() - started < 5


def test_block_mappings_nested_too_deeply_are_refused_where_they_stand(tmp_path: Path) -> None:
    plan = tmp_path / "block.golive.yaml"
    plan.write_text(
        "golive: d\ntitle: D\n" + "".join(" " * i + f"k{i}:\n" for i in range(2000)) + "v: 1\n",
        encoding="utf-8",
    )
    (error,) = check_plan(plan).errors
    assert (error.line, error.message) == (51, "the plan is nested more than 48 levels deep")


def test_a_plan_is_read_once_so_its_digest_and_text_are_of_the_same_bytes(
    tmp_path: Path,
) -> None:
    plan = tmp_path / "p.golive.yaml"
    plan.write_text(steps(2), encoding="utf-8")
    result = check_plan(plan)
    assert result.text == plan.read_text(encoding="utf-8")


def test_a_name_missing_from_many_environments_names_a_few_of_them(tmp_path: Path) -> None:
    # regression: the message listed every environment, once per step that used the name
    plan = tmp_path / "envs.golive.yaml"
    environments = "".join(f"  e{i}: {{hosts: {{db: [h]}}}}\n" for i in range(200))
    runs = "".join(f"  - {{id: s{i}, owner: ops, run: x, undo: x, on: web}}\n" for i in range(3))
    plan.write_text(
        "golive: e\ntitle: E\npeople:\n  ops: {name: Ops}\nenvironments:\n"
        + environments
        + "steps:\n"
        + runs,
        encoding="utf-8",
    )
    errors = check_plan(plan).errors
    assert [e.message for e in errors] == [
        f"steps.s{i}.on: unknown host group 'web' in environments 'e0', 'e1', 'e2', 'e3', 'e4' "
        "and 195 more"
        for i in range(3)
    ]
