"""Reading a plan file: every problem becomes a diagnostic at a line and column, never a crash.

Most tests here are regressions for inputs the fuzzer (test_fuzz.py) or a review turned up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from golive.errors import PlanError, UsageError
from golive.plan import Diagnostic, Severity, check_plan, load_plan

HEAD = "golive: demo\ntitle: Demo\n"


def check(tmp_path: Path, text: str) -> list[tuple[int, int, str]]:
    path = tmp_path / "plan.golive.yaml"
    path.write_text(text, encoding="utf-8")
    return [(d.line, d.column, d.format().split(": ", 2)[2]) for d in check_plan(path).diagnostics]


def test_the_example_plan_checks_clean(example_plan: Path) -> None:
    result = check_plan(example_plan)
    assert result.ok
    assert result.diagnostics == []
    assert result.digest == hashlib.sha256(example_plan.read_bytes()).hexdigest()


def test_load_plan_returns_the_plan_with_its_digest(example_plan: Path) -> None:
    loaded = load_plan(example_plan)
    assert loaded.plan.golive == "gym-booking"
    assert loaded.digest == check_plan(example_plan).digest
    assert loaded.warnings == []


def test_load_plan_raises_plan_error_with_every_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.golive.yaml"
    path.write_text(HEAD + "steps:\n  - {id: a, run: x, needs: [b]}\n  - {id: a, manual: true}\n")
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    rules = [d.rule for d in caught.value.diagnostics]
    assert "unknown-step" in rules
    assert "duplicate-id" in rules
    assert "(and " in caught.value.message


def test_an_unknown_environment_is_a_usage_error_naming_the_known_ones(example_plan: Path) -> None:
    with pytest.raises(UsageError, match=r"no environment 'stagin' \(known: staging, production\)"):
        check_plan(example_plan, env="stagin")


def test_a_problem_with_the_whole_plan_points_at_its_first_key(tmp_path: Path) -> None:
    # regression: it pointed at line 1, column 1, which is often a comment
    assert check(tmp_path, "# my plan\n\n  # notes\ngolive: demo\n") == [
        (4, 1, "plan: missing required key 'title'")
    ]


def test_an_unclosed_bracket_names_the_line_it_was_opened_on(tmp_path: Path) -> None:
    found = check(tmp_path, HEAD + "policy:\n  never_on: [friday\n  rehearsals: 1\n")
    assert found == [
        (5, 13, "YAML syntax: expected ',' or ']', but got ':' (the '[' on line 4 is not closed)")
    ]


def test_an_unclosed_quote_names_the_line_it_was_opened_on(tmp_path: Path) -> None:
    (found,) = check(tmp_path, HEAD + 'description: "oops\nsteps: []\n')
    assert found[2].endswith("(the quote on line 3 is not closed)")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (HEAD + "title: again\n", "each key may appear once in a mapping"),
        (HEAD + "policy:\n\trehearsals: 1\n", "indent with spaces, not tabs"),
        (HEAD + "description: a: b\n", "quote a value that contains ': '"),
    ],
)
def test_common_yaml_mistakes_get_a_hint(tmp_path: Path, text: str, hint: str) -> None:
    (found,) = check(tmp_path, text)
    assert found[2].startswith("YAML syntax: ")
    assert found[2].endswith(f"({hint})")


@pytest.mark.parametrize(
    ("estimate", "message"),
    [
        ("100000000000000000000", "duration 100000000000000000000 is longer than ten years"),
        (".inf", "expected a duration like 90m, 1h30m or 800ms, got inf"),
        (".nan", "expected a duration like 90m, 1h30m or 800ms, got nan"),
    ],
)
def test_an_enormous_or_infinite_estimate_is_an_error_not_a_crash(
    tmp_path: Path, estimate: str, message: str
) -> None:
    # regression: OverflowError escaped from pydantic (found by the fuzzer: 2**63 as estimate)
    found = check(
        tmp_path, HEAD + f"steps:\n  - {{id: a, run: x, undo: y, estimate: {estimate}}}\n"
    )
    assert found == [(4, 40, f"steps.a.estimate: {message}")]


def test_a_window_at_the_end_of_the_calendar_is_judged_not_a_crash(tmp_path: Path) -> None:
    # regression: OverflowError from days_touched, quiet hours and due dates
    text = HEAD + (
        "window: {start: 9999-12-31 20:00, end: 9999-12-31 23:00}\n"
        "policy: {never_on: [], quiet_hours: '20:00-23:30'}\n"
        "people: {p: {name: P}}\n"
        "checklist: [{id: c, title: t, owner: p, due: 9999-12-31}]\n"
    )
    assert check(tmp_path, text) == [
        (
            6,
            46,
            "checklist.c.due: due 9999-12-31, after the window starts (9999-12-31 20:00) "
            "(a checklist item must be done before the go-live)",
        )
    ]


def test_a_mapping_as_a_key_is_refused_where_it_stands(tmp_path: Path) -> None:
    # regression: `? [a, b]` became the key "('a', 'b')" and was reported as an unknown key
    assert check(tmp_path, HEAD + "? [a, b]\n: 1\n") == [(3, 3, "a mapping key must be plain text")]


def test_an_alias_inside_itself_is_refused(tmp_path: Path) -> None:
    assert check(tmp_path, "&top [x, *top]\n") == [
        (1, 1, "a YAML alias refers to the mapping that contains it")
    ]


def test_an_alias_inside_itself_deeper_down_is_an_error_not_a_hang(tmp_path: Path) -> None:
    # ruamel hands back None for the inner alias here, so it reads as a missing value
    found = check(tmp_path, HEAD + "steps: &s [{id: a, manual: true, needs: *s}]\n")
    assert found == [(3, 8, "steps.a.needs: expected a list, got nothing")]


def test_a_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert check(tmp_path, "\n".join(lines) + "\n") == [
        (
            1,
            1,
            "YAML aliases repeat more than 100,000 values "
            "(a plan needs no alias bomb; write the values out)",
        )
    ]


def test_a_plan_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    # where the 49th level opens: ruamel stops there rather than scanning every level
    assert check(tmp_path, HEAD + "description: " + "[" * 60 + "]" * 60 + "\n") == [
        (3, 62, "the plan is nested more than 48 levels deep")
    ]


def test_control_characters_from_the_plan_are_escaped_when_printed(tmp_path: Path) -> None:
    # an escape sequence in a key must not reach the terminal (it could rewrite the screen)
    (found,) = check(tmp_path, HEAD + '"\\e[2Jx": 1\n')
    assert found[2].startswith("plan: unknown key '\\x1b[2Jx'")
    assert "\x1b" not in found[2]


def test_odd_keys_are_quoted_in_the_path(tmp_path: Path) -> None:
    text = HEAD + "environments: {s: {hosts: {'a b': [h]}}}\n"
    assert check(tmp_path, text) == [
        (
            3,
            28,
            "environments.s.hosts['a b']: 'a b' is not a valid name: use letters, digits, - _ . "
            "(in a key)",
        )
    ]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "plan.golive.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + HEAD.encode())
    assert check_plan(path).ok


def test_a_nul_byte_means_a_binary_file(tmp_path: Path) -> None:
    assert check(tmp_path, HEAD + "\x00") == [
        (1, 1, "the plan file contains a NUL byte (is it a binary file?)")
    ]


def test_a_non_utf8_file_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "plan.golive.yaml"
    path.write_bytes(HEAD.encode() + b"description: caf\xe9\n")
    (diagnostic,) = check_plan(path).diagnostics
    assert (diagnostic.line, diagnostic.message) == (3, "the plan file is not valid UTF-8")


def test_a_diagnostic_formats_as_file_line_column_severity_message_hint() -> None:
    diagnostic = Diagnostic("p.yaml", 3, 7, Severity.warning, "m", "h", "rule")
    assert diagnostic.format() == "p.yaml:3:7: warning: m (h)"
    assert diagnostic.to_json() == {
        "file": "p.yaml",
        "line": 3,
        "column": 7,
        "severity": "warning",
        "message": "m",
        "hint": "h",
        "rule": "rule",
    }
