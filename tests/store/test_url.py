"""Store URLs: the default next to the plan, and passwords kept out of sight."""

from __future__ import annotations

import os
import pkgutil
from pathlib import Path

import pytest

import golive.store
from golive.store import default_state_url, open_store
from golive.store.url import mask_password


def test_the_default_store_is_a_sqlite_file_next_to_the_plan(tmp_path: Path) -> None:
    plan = tmp_path / "shop" / "plan.golive.yaml"

    assert default_state_url(plan) == f"sqlite:///{tmp_path}/shop/.golive/state.db"


def test_the_default_store_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    url = default_state_url(Path("shop/../shop/plan.golive.yaml"))

    assert url == f"sqlite:///{tmp_path}/shop/.golive/state.db"
    assert os.path.isabs(url.removeprefix("sqlite:///"))


def test_opening_the_default_store_creates_its_directory(tmp_path: Path) -> None:
    plan = tmp_path / "plan.golive.yaml"

    with open_store(default_state_url(plan)) as store:
        assert store.runs() == []

    assert (tmp_path / ".golive" / "state.db").is_file()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ana:hunter2@db/golive", "postgresql://ana:***@db/golive"),
        ("postgresql://ana:p@ss:w@rd@db:5432/golive", "postgresql://ana:***@db:5432/golive"),
        (
            "postgresql://db/golive?user=ana&password=hunter2",
            "postgresql://db/golive?user=ana&password=***",
        ),
        ("postgresql://ana@db/golive", "postgresql://ana@db/golive"),
        ("sqlite:////srv/golive/state.db", "sqlite:////srv/golive/state.db"),
    ],
)
def test_passwords_are_masked_for_display(url: str, shown: str) -> None:
    assert mask_password(url) == shown


def test_the_store_keeps_its_url_and_shows_it_without_a_password(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        assert store.url == sqlite_url
        assert store.display_url == sqlite_url
        assert repr(store) == f"<EventStore {sqlite_url}>"


def test_the_public_api_is_sorted_and_complete() -> None:
    public = sorted(name for name in dir(golive.store) if not name.startswith("_"))  # lazy too
    modules = {m.name for m in pkgutil.iter_modules(golive.store.__path__)}

    assert golive.store.__all__ == sorted(golive.store.__all__)
    assert set(golive.store.__all__) == set(public) - modules
