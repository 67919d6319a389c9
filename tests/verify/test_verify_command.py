"""`golive verify SOURCE TARGET --table ... --key ...`, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Golive
from tests.verify.conftest import Db

COLUMNS = {"id": "int", "full_name": "text", "amount": "numeric"}


def databases(tmp_path: Path) -> tuple[Db, Db]:
    (tmp_path / "legacy.db").touch()
    (tmp_path / "new.db").touch()
    legacy, new = Db(f"sqlite:///{tmp_path / 'legacy.db'}"), Db(f"sqlite:///{tmp_path / 'new.db'}")
    legacy.create("customers", COLUMNS, [(1, "Ann", 10), (2, "Bob ", 20), (3, "Cy", 30)])
    new.create(
        "clients",
        {"id": "int", "name": "text", "amount": "numeric"},
        [(1, "Ann", 10), (2, "Bob", 21)],
    )
    return legacy, new


def test_differences_are_printed_and_exit_1(tmp_path: Path, golive: Golive) -> None:
    legacy, new = databases(tmp_path)
    result = golive(
        "verify",
        legacy.url,
        new.url,
        "--table",
        "customers:clients",
        "--key",
        "id",
        "--columns",
        "full_name:name,amount",
        "--trim",
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "customers -> clients: 1 missing, 0 extra, 1 changed (3 rows in the source, 2 in the target)",
        "  changed id=2: amount: 20 -> 21",
        "  missing id=3",
        "verification failed: 1 of 1 tables and assertions",
    ]


def test_json_output_and_exit_0_when_the_columns_compared_match(
    tmp_path: Path, golive: Golive
) -> None:
    legacy, new = databases(tmp_path)
    result = golive(
        "verify",
        legacy.url,
        new.url,
        "-t",
        "customers:clients",
        "-k",
        "id",
        "-c",
        "full_name:name",
        "--where",
        "id < 3",
        "--trim",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["tables"][0]["source_rows"] == 2


def test_a_missing_table_is_an_error_in_the_report(tmp_path: Path, golive: Golive) -> None:
    legacy, new = databases(tmp_path)
    result = golive("verify", legacy.url, new.url, "-t", "nosuch", "-k", "id")
    assert result.returncode == 1
    assert result.stdout.startswith("nosuch: error: sqlite:///")
    assert "no such table: nosuch" in result.stdout


def test_without_a_key_whole_rows_are_compared(tmp_path: Path, golive: Golive) -> None:
    legacy, new = databases(tmp_path)
    result = golive(
        "verify", legacy.url, new.url, "-t", "customers:clients", "-c", "full_name:name", "--trim"
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "customers -> clients: 1 missing, 0 extra, 0 changed (3 rows in the source, 2 in the target)",
        "  missing full_name='Cy'",
        "verification failed: 1 of 1 tables and assertions",
    ]
