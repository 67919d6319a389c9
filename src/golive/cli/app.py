"""The Typer application and the consoles every command prints through.

The commands are loaded on demand: `golive status` imports the module of `status` and no other
(the web app, the engine runner, scipy... cost a second to import), and `golive --help` loads
them all to list them. A command module's commands are named in COMMANDS; a name not there loads
every module of MODULES before giving up.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, ParamSpec

import typer
import typer.main
from rich.console import Console
from typer.core import TyperGroup

from golive import __version__

# the modules that attach commands to `app`, and which module each command is in (in the order
# `--help` lists them)
MODULES = (
    "plan_commands",
    "run_commands",
    "operator_commands",
    "status_commands",
    "checklist_commands",
    "report_commands",
    "verify_commands",
    "web_commands",
    "hypercare_commands",
    "call_commands",
    "postmortem_commands",
)
COMMANDS = {
    "check": "plan_commands",
    "show": "plan_commands",
    "init": "plan_commands",
    "schema": "plan_commands",
    "run": "run_commands",
    "resume": "run_commands",
    "rollback": "run_commands",
    "done": "operator_commands",
    "decide": "operator_commands",
    "gate": "operator_commands",
    "status": "status_commands",
    "log": "run_commands",
    "checklist": "checklist_commands",
    "history": "report_commands",
    "forecast": "report_commands",
    "verify": "verify_commands",
    "user": "web_commands",
    "token": "web_commands",
    "serve": "web_commands",
    "hypercare": "hypercare_commands",
    "update": "call_commands",
    "issue": "call_commands",
    "ack": "call_commands",
    "notify": "call_commands",
    "postmortem": "postmortem_commands",
    "audit": "postmortem_commands",
}


class LazyGroup(TyperGroup):
    """A Typer group whose commands are imported when one is asked for by name. (Click's types
    are Any here: recent Typer has its own copy of Click, older Typer uses Click itself.)"""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*COMMANDS, *self.commands]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            module = COMMANDS.get(cmd_name)
            for name in (module,) if module else MODULES:
                importlib.import_module(f"golive.cli.{name}")
            self.commands.update(typer.main.get_group(app).commands)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in COMMANDS:
            register()  # an unknown name: every command, for the suggestions of close names
            self.commands.update(typer.main.get_group(app).commands)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="golive",
    cls=LazyGroup,
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
    """Import every command module, so that each attaches its commands to `app` (the command
    line loads them one by one, as they are asked for)."""
    for name in MODULES:
        importlib.import_module(f"golive.cli.{name}")
