"""What the commands share: their common options, where the state store is, and what time it is.

Every command module imports from here and from `app`, never from another command module.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from golive.errors import RunNotFound, UsageError

if TYPE_CHECKING:  # the store's SQL loads when a command opens it (status reads without it)
    from golive.store import EventStore
    from golive.store.records import RunRecord

# Testing only: the time the commands take as now (ISO 8601 with an offset), so that the schedule
# a production run is held to can be tried on any day. The engine's own timing is not affected.
NOW_VARIABLE = "GOLIVE_NOW"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


PlanArg = typer.Argument(..., help="The plan file (*.golive.yaml).", show_default=False)
FormatOption = typer.Option(OutputFormat.text, "--format", "-f", help="Output format.")
StateOption = typer.Option(
    None,
    "--state",
    help="State store URL (default: GOLIVE_STATE, or .golive/state.db beside the plan).",
)
PlanOption = typer.Option(None, "--plan", "-p", help="The plan whose store and runs to use.")
AsOption = typer.Option(None, "--as", help="Who you are: a person id of the plan.")
RunArg = typer.Argument(None, help="Run id or a unique prefix (default: the latest run).")
PlainOption = typer.Option(False, "--plain", help="Line-by-line output even on a terminal.")


def state_url(state: str | None, plan: Path | None) -> str:
    """Where the store is: --state, GOLIVE_STATE, beside --plan, or ./.golive/state.db."""
    if state:
        return state
    if os.environ.get("GOLIVE_STATE"):
        return os.environ["GOLIVE_STATE"]
    here = Path(".golive/state.db")
    if plan is None and here.exists():
        return f"sqlite:///{here.resolve()}"
    from golive.store.url import default_state_url  # SQLAlchemy: only beside a plan file

    if plan is not None:
        return default_state_url(plan)
    candidates = sorted(Path(".").glob("*.golive.yaml"))
    if len(candidates) == 1:
        return default_state_url(candidates[0])
    raise UsageError(
        "no state store here: pass --plan PLAN or --state URL, or cd to the plan's directory"
    )


@contextmanager
def opened(state: str | None, plan: Path | None, *, create: bool = False) -> Iterator[EventStore]:
    """The state store; a missing SQLite file is created only by commands that start things."""
    from golive.store import open_store
    from golive.store.url import missing_sqlite_file

    url = state_url(state, plan)
    missing = None if create else missing_sqlite_file(url)
    if missing is not None:
        raise RunNotFound(f"no runs yet: {missing} does not exist; start one with `golive run`")
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def find_run(store: EventStore, run: str | None, plan: Path | None = None) -> RunRecord:
    """RUN by id or unique prefix; without one, the latest run (of --plan's go-live if given)."""
    from golive.plan import load_plan  # the plan's models: only with --plan

    plan_id = load_plan(plan).plan.golive if plan is not None else None
    return store.find_run(run, plan_id=plan_id) if run else store.latest_run(plan_id=plan_id)


def now() -> dt.datetime:
    """The time now, aware; GOLIVE_NOW (testing only) stands in for the system clock when set."""
    given = os.environ.get(NOW_VARIABLE)
    if not given:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(given)
    except ValueError:
        raise UsageError(
            f"{NOW_VARIABLE}={given[:40]!r} is not an ISO 8601 time (2026-12-06T20:00+01:00); "
            "unset it outside tests"
        ) from None
    if moment.tzinfo is None:
        raise UsageError(
            f"{NOW_VARIABLE}={given[:40]!r} has no UTC offset; add one (+00:00) or unset it"
        )
    return moment
