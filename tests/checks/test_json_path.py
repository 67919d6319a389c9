"""The JSON path language of `json:` expectations, and how values compare."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from golive.checks.comparison import matches
from golive.checks.json_path import PathError, lookup, parse

DOCUMENT = {"data": {"items": [{"status": "ready"}, {"status": "draining"}]}, "n": 3}


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("status", ["status"]),
        ("data.items[0].status", ["data", "items", 0, "status"]),
        ("[2]", [2]),
        ("matrix[1][-1]", ["matrix", 1, -1]),
        ("a-b.c_d", ["a-b", "c_d"]),
    ],
)
def test_a_path_is_dotted_keys_and_list_indexes(path: str, steps: list[str | int]) -> None:
    assert parse(path) == steps


@pytest.mark.parametrize("path", ["", "a..b", "a.", "items[x]", "items[0", "a[0]b"])
def test_a_malformed_path_is_refused_with_an_example(path: str) -> None:
    with pytest.raises(PathError, match=r"write it like data\.items"):
        parse(path)


@pytest.mark.parametrize(
    ("path", "value"),
    [("data.items[0].status", "ready"), ("data.items[-1].status", "draining"), ("n", 3)],
)
def test_lookup_finds_the_value_at_a_path(path: str, value: Any) -> None:
    assert lookup(DOCUMENT, path) == value


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("data.items[2].status", "no data.items[2] in the JSON body"),
        ("data.missing", "no data.missing in the JSON body"),
        ("n.x", "no n.x in the JSON body"),
        ("data[0]", "no data[0] in the JSON body"),
    ],
)
def test_lookup_names_the_first_missing_part(path: str, message: str) -> None:
    with pytest.raises(PathError, match=message.replace("[", r"\[").replace("]", r"\]")):
        lookup(DOCUMENT, path)


@pytest.mark.parametrize(
    ("actual", "expected", "loose", "same"),
    [
        (5000, 5000, False, True),
        (5000.0, 5000, False, True),
        (Decimal("0.10"), 0.1, False, True),
        ("5000", 5000, False, False),
        ("5000", 5000, True, True),
        (True, 1, False, False),
        (1, True, False, False),
        (1, True, True, True),
        (True, True, False, True),
        ("ready", "ready", False, True),
        ("Ready", "ready", False, False),
        (dt.date(2026, 12, 6), "2026-12-06", True, True),
        (dt.date(2026, 12, 6), "2026-12-06", False, False),
        (None, "x", True, False),
        ([1, 2], [1, 2], False, True),
    ],
)
def test_numbers_compare_by_value_and_text_exactly(
    actual: Any, expected: Any, loose: bool, same: bool
) -> None:
    assert matches(actual, expected, loose=loose) is same
