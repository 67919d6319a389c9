"""The Typer application and the consoles every command prints through."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import typer
from rich.console import Console

from golive import __version__

app = typer.Typer(
    name="golive",
    help="Run a software go-live from plan to post-mortem.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(highlight=False, soft_wrap=True)
console_err = Console(stderr=True, highlight=False, soft_wrap=True)


P = ParamSpec("P")


def exits(command: Callable[P, int]) -> Callable[P, None]:
    """For commands whose exit code means something: a non-zero return becomes the exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        code = command(*args, **kwargs)
        if code:
            raise typer.Exit(code)

    return wrapper


def _version(value: bool) -> None:
    if value:
        console.print(f"golive {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """golive: plan, rehearse, execute and review a go-live."""


def register() -> None:
    """Import the command modules so that they attach their commands to `app`."""
    from golive.cli import (  # noqa: F401
        call_commands,
        checklist_commands,
        hypercare_commands,
        plan_commands,
        postmortem_commands,
        report_commands,
        run_commands,
        verify_commands,
        web_commands,
    )


register()
