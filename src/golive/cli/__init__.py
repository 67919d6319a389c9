"""The command line: `golive CHECK|SHOW|INIT|SCHEMA|RUN|...`.

Errors are translated here, once: a GoliveError becomes one line on stderr and its exit code;
anything else is a bug and says so (the traceback only with --debug).
"""

from __future__ import annotations

import os
import sys

import typer

from golive.cli.app import app, console_err
from golive.errors import GoliveError, PlanError

INTERNAL_ERROR = 70


def main() -> None:
    """Entry point of the `golive` console script."""
    debug = "--debug" in sys.argv[1:] or os.environ.get("GOLIVE_DEBUG") == "1"
    try:
        app()  # Typer handles usage errors (exit 2), --help and typer.Exit itself
    except PlanError as exc:
        for diagnostic in exc.diagnostics:  # already "file:line:col: error: ..." each
            console_err.print(diagnostic.format(), markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except GoliveError as exc:
        console_err.print(f"golive: error: {exc.message}", markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console_err.print("golive: interrupted")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        console_err.print(
            f"golive: internal error: {type(exc).__name__}: {exc}. This is a bug in golive; "
            "rerun with --debug for the traceback and report it.",
            markup=False,
            highlight=False,
        )
        sys.exit(INTERNAL_ERROR)


__all__ = ["app", "main", "typer"]
