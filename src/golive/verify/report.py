"""What a verification found, per table and per assertion, as people and scripts read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLE = 10  # differing rows shown per table


@dataclass(frozen=True)
class RowDifference:
    """One row that differs: `missing` from the target, `extra` in it, or `changed`."""

    kind: str
    key: dict[str, Any]
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)  # name: {source, target}

    def json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"kind": self.kind, "key": self.key}
        if self.columns:
            found["columns"] = self.columns
        return found

    def line(self) -> str:
        key = ", ".join(f"{k}={v!r}" for k, v in self.key.items())
        if not self.columns:
            return f"{self.kind} {key}"
        cells = "; ".join(
            f"{name}: {c['source']!r} -> {c['target']!r}" for name, c in self.columns.items()
        )
        return f"{self.kind} {key}: {cells}"


@dataclass(frozen=True)
class TableReport:
    """One table compared: its counts, its differences, and whether the data moved meanwhile."""

    source: str
    target: str
    source_rows: int = 0
    target_rows: int = 0
    missing: int = 0
    extra: int = 0
    changed: int = 0
    fetched_rows: int = 0  # rows read out of both databases (checksums spare the rest)
    checksums: dict[str, str] | None = None  # hash: record or md5; each side's sum of hashes
    sample: tuple[RowDifference, ...] = ()
    moved: str | None = None  # how the data changed while it was being compared
    error: str | None = None
    duration: float = 0.0

    @property
    def differences(self) -> int:
        return self.missing + self.extra + self.changed

    @property
    def ok(self) -> bool:
        return self.error is None and self.differences == 0 and self.moved is None

    @property
    def name(self) -> str:
        return self.source if self.source == self.target else f"{self.source} -> {self.target}"

    def json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "ok": self.ok,
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "missing": self.missing,
            "extra": self.extra,
            "changed": self.changed,
            "changed_during_check": self.moved,
            "fetched_rows": self.fetched_rows,
            "checksums": self.checksums,
            "error": self.error,
            "duration": round(self.duration, 3),
            "sample": [d.json() for d in self.sample],
        }

    def lines(self) -> list[str]:
        if self.error is not None:
            return [f"{self.name}: error: {self.error}"]
        counts = f"{self.source_rows} rows in the source, {self.target_rows} in the target"
        if self.differences == 0:
            head = f"{self.name}: identical ({counts})"
        else:
            head = (
                f"{self.name}: {self.missing} missing, {self.extra} extra, "
                f"{self.changed} changed ({counts})"
            )
        lines = [head]
        if self.moved is not None:
            lines.append(f"  the data changed during the check: {self.moved}")
        lines.extend(f"  {difference.line()}" for difference in self.sample)
        if len(self.sample) < self.differences:
            lines.append(f"  ... and {self.differences - len(self.sample)} more")
        return lines


@dataclass(frozen=True)
class AssertionReport:
    sql: str
    ok: bool
    summary: str

    def json(self) -> dict[str, Any]:
        return {"sql": self.sql, "ok": self.ok, "summary": self.summary}

    def lines(self) -> list[str]:
        return [f"assert {'ok' if self.ok else 'FAILED'}: {self.summary}"]


@dataclass(frozen=True)
class VerifyReport:
    source: str
    target: str
    tables: tuple[TableReport, ...] = ()
    assertions: tuple[AssertionReport, ...] = ()
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables) and all(a.ok for a in self.assertions)

    def json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "target": self.target,
            "duration": round(self.duration, 3),
            "tables": [t.json() for t in self.tables],
            "assertions": [a.json() for a in self.assertions],
        }

    def figures(self) -> dict[str, Any]:
        """The counts for the record, without the sample rows (the output lines show them)."""
        tables = []
        for t in self.tables:
            figures = t.json()
            del figures["sample"]
            tables.append(figures)
        return {**self.json(), "tables": tables}

    def lines(self) -> list[str]:
        lines = [line for t in self.tables for line in t.lines()]
        lines.extend(line for a in self.assertions for line in a.lines())
        failed = sum(not t.ok for t in self.tables) + sum(not a.ok for a in self.assertions)
        total = len(self.tables) + len(self.assertions)
        if failed:
            lines.append(f"verification failed: {failed} of {total} tables and assertions")
        else:
            lines.append(f"verified: {len(self.tables)} tables, {len(self.assertions)} assertions")
        return lines

    def summary(self) -> str:
        return self.lines()[-1]
