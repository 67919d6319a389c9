"""Comparing what a system answered with what the plan expects: numbers by value, text exactly."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from golive.checks.outcome import shorten


def as_number(value: Any, *, from_text: bool = False) -> Decimal | None:
    """The value as an exact number (1 == 1.0 == Decimal("1.00")), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))  # 0.1 is "0.1", not 0.1000000000000000055...
    if from_text and isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def matches(actual: Any, expected: Any, *, loose: bool = False) -> bool:
    """Whether `actual` is `expected`: numbers compare by value, everything else exactly.

    `loose` is for database values, which have fewer types than YAML: text that spells a number
    compares as that number ("5000" from a text column), 0 and 1 as false and true, and a date
    or a decimal as its text when the plan wrote text.
    """
    wanted = as_number(expected)
    if wanted is not None:
        return as_number(actual, from_text=loose) == wanted
    if isinstance(expected, bool):
        if loose and not isinstance(actual, bool) and as_number(actual) in (0, 1):
            actual = as_number(actual) == 1
        return isinstance(actual, bool) and actual == expected
    if loose and isinstance(expected, str) and not isinstance(actual, str) and actual is not None:
        return str(jsonable(actual)) == expected
    return type(actual) is type(expected) and bool(actual == expected)


def jsonable(value: Any) -> Any:
    """`value` as something json.dumps accepts, keeping numbers numbers."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def show(value: Any) -> str:
    """A value as people read it in a summary: JSON spelling, shortened."""
    return shorten(json.dumps(jsonable(value), ensure_ascii=False), 40)
