"""Values from three databases made comparable: one canonical form per kind of value.

PostgreSQL, MariaDB and SQLite answer the same data with different Python types (a numeric is a
`Decimal` here, a float or text there; a timestamp is aware, naive, or text in SQLite). Each
value becomes a canonical one (numbers as exact decimals, timestamps as UTC instants), after the
table's normalizations (trim, case, numeric scale, timezone of naive timestamps, empty as NULL).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from golive.plan.models import Normalization


@dataclass(frozen=True)
class Canon:
    """A normalization ready to apply (the zone looked up once)."""

    trim: bool
    case: bool
    scale: Decimal | None
    zone: ZoneInfo
    empty_is_null: bool

    @classmethod
    def of(cls, normalize: Normalization) -> Canon:
        scale = None
        if normalize.numeric_scale is not None:
            scale = Decimal(1).scaleb(-normalize.numeric_scale)
        return cls(
            trim=normalize.trim,
            case=normalize.case,
            scale=scale,
            zone=ZoneInfo(normalize.timezone),
            empty_is_null=normalize.empty_is_null,
        )

    def value(self, value: Any) -> Any:
        """The canonical form of one database value."""
        if value is None:
            return None
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool):
            return self.number(Decimal(int(value)))
        if isinstance(value, int | Decimal):
            return self.number(Decimal(value))
        if isinstance(value, float):
            return self.number(Decimal(repr(value)))
        if isinstance(value, dt.datetime):
            return self.instant(value)
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True, ensure_ascii=False)
        return value  # date, time, timedelta: equal across drivers as they are

    def row(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(self.value(v) for v in values)

    def text(self, value: str) -> str | None:
        if self.trim:
            value = value.strip()
        if self.case:
            value = value.casefold()
        if self.empty_is_null and value == "":
            return None
        return value

    def number(self, value: Decimal) -> Decimal:
        if not value.is_finite():
            return value
        if self.scale is not None:
            value = value.quantize(self.scale, rounding=ROUND_HALF_EVEN)
        # 1.50 and 1.5 are the same amount; normalize() also makes 100 and 1E+2 one value
        return value.normalize()

    def instant(self, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(dt.UTC)

    def same(self, source: Any, target: Any) -> bool:
        """Whether two canonical values are equal, reading text as the other side's type
        (SQLite keeps numbers and timestamps as text)."""
        if source == target:
            return True
        if isinstance(source, str) and not isinstance(target, str):
            return bool(self.parsed(source, target) == target)
        if isinstance(target, str) and not isinstance(source, str):
            return bool(source == self.parsed(target, source))
        return False

    def parsed(self, text: str, like: Any) -> Any:
        """`text` read as the kind of `like`; `text` itself when it does not read as one."""
        try:
            if isinstance(like, Decimal):
                return self.number(Decimal(text.strip()))
            if isinstance(like, dt.datetime):
                return self.instant(dt.datetime.fromisoformat(text.strip()))
            if isinstance(like, dt.date):
                return dt.date.fromisoformat(text.strip())
        except (InvalidOperation, ValueError):
            return text
        return text


def shown(value: Any) -> Any:
    """A value as a report shows it: JSON-ready, decimals exact (as text when not whole)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)
