"""Pairs of real databases for verification tests: a legacy (source) and a new one (target).

Tables are described with portable column types (`int`, `text`, `numeric`, `float`, `timestamp`,
`timestamptz`) and created with each database's own spelling of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from golive.actions.base import RunResources
from golive.plan.models import VerifySpec
from golive.verify import VerifyReport, verify

TYPES = {
    "postgresql": {
        "int": "INTEGER",
        "text": "TEXT",
        "numeric": "NUMERIC(14,4)",
        "float": "DOUBLE PRECISION",
        "timestamp": "TIMESTAMP(6)",
        "timestamptz": "TIMESTAMPTZ(6)",
    },
    "mysql": {
        "int": "INT",
        "text": "VARCHAR(200)",
        "numeric": "DECIMAL(14,4)",
        "float": "DOUBLE",
        "timestamp": "DATETIME(6)",
        "timestamptz": "DATETIME(6)",  # MariaDB has no zone: legacy data in local or UTC time
    },
    "sqlite": {
        "int": "INTEGER",
        "text": "TEXT",
        "numeric": "NUMERIC",
        "float": "REAL",
        "timestamp": "TEXT",
        "timestamptz": "TEXT",
    },
}


@dataclass(frozen=True)
class Db:
    url: str

    @property
    def backend(self) -> str:
        return sa.make_url(self.url).get_backend_name()

    def execute(self, *statements: str) -> None:
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as connection:
                for statement in statements:
                    connection.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def create(
        self,
        table: str,
        columns: dict[str, str],
        rows: list[tuple[Any, ...]] = (),  # type: ignore[assignment]
        *,
        key: list[str] | None = None,
    ) -> None:
        spelled = ", ".join(f"{name} {TYPES[self.backend][kind]}" for name, kind in columns.items())
        if key:
            spelled += f", PRIMARY KEY ({', '.join(key)})"
        suffix = " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin" if self.backend == "mysql" else ""
        self.execute(f"CREATE TABLE {table} ({spelled}){suffix}")
        if rows:
            self.insert(table, list(columns), rows)

    def insert(self, table: str, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(f":{n}" for n in names)
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    sa.text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"),
                    [dict(zip(names, map(self.value, row), strict=True)) for row in rows],
                )
        finally:
            engine.dispose()

    def value(self, value: Any) -> Any:
        """A Python value as this database stores it (MariaDB keeps no zone; SQLite text)."""
        if isinstance(value, dt.datetime):
            if self.backend == "mysql" and value.tzinfo is not None:
                return value.astimezone(dt.UTC).replace(tzinfo=None)
            if self.backend == "sqlite":
                return value.isoformat(sep=" ")
        if isinstance(value, Decimal) and self.backend == "sqlite":
            return str(value)
        return value

    def scalar(self, sql: str) -> Any:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as connection:
                return connection.exec_driver_sql(sql).scalar()
        finally:
            engine.dispose()


def database(request: pytest.FixtureRequest, kind: str, path: Path) -> Db:
    if kind == "sqlite":
        path.touch()
        return Db(f"sqlite:///{path}")
    return Db(request.getfixturevalue(f"{kind}_url"))


PAIRS = [
    pytest.param(("postgres", "postgres"), marks=pytest.mark.postgres, id="pg-pg"),
    pytest.param(
        ("mariadb", "postgres"), marks=[pytest.mark.postgres, pytest.mark.mariadb], id="maria-pg"
    ),
    pytest.param(("sqlite", "postgres"), marks=pytest.mark.postgres, id="sqlite-pg"),
    pytest.param(("mariadb", "mariadb"), marks=pytest.mark.mariadb, id="maria-maria"),
    pytest.param(("sqlite", "sqlite"), id="sqlite-sqlite"),
]


TO_POSTGRES = [p for p in PAIRS if p.id.endswith("-pg")]


@dataclass(frozen=True)
class Pair:
    source: Db
    target: Db

    def verify(self, text: str, **options: Any) -> VerifyReport:
        """Run a verification written as the YAML of a `verify:` step (source and target
        filled in)."""
        return run_verify(self.spec(text), **options)

    def spec(self, text: str) -> VerifySpec:
        from ruamel.yaml import YAML

        body = YAML(typ="safe").load(text)
        return VerifySpec.model_validate(
            {"source": self.source.url, "target": self.target.url, **body}
        )


def run_verify(spec: VerifySpec, **options: Any) -> VerifyReport:
    async def main() -> VerifyReport:
        resources = RunResources()
        try:
            return await verify(
                spec,
                render=lambda text: text,
                redact=lambda text: text,
                resources=resources,
                timeout=30,
                **options,
            )
        finally:
            await resources.aclose()

    return asyncio.run(main())


@pytest.fixture(params=PAIRS)
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Pair:
    """A source and a target database: each pair of kinds a migration goes between. Two
    databases of one kind are one database here; the tables are `legacy_*` and `new_*`."""
    source_kind, target_kind = request.param
    source = database(request, source_kind, tmp_path / "legacy.db")
    if source_kind == target_kind:
        return Pair(source, source)
    return Pair(source, database(request, target_kind, tmp_path / "new.db"))


@pytest.fixture(params=TO_POSTGRES)
def pair_to_postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Pair:
    """A source of each kind, and a PostgreSQL target (which keeps instants, not local times)."""
    source_kind, _ = request.param
    source = database(request, source_kind, tmp_path / "legacy.db")
    return Pair(
        source, source if source_kind == "postgres" else database(request, "postgres", tmp_path)
    )
