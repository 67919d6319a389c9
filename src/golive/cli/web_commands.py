"""Mission control from the command line: users, roles, API tokens, and `golive serve`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from golive.cli.app import app, console, console_err
from golive.cli.options import StateOption, opened, state_url
from golive.errors import UsageError
from golive.store.accounts import Accounts, Role

user_app = typer.Typer(
    name="user",
    help="Accounts of mission control (golive serve).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
token_app = typer.Typer(
    name="token",
    help="API tokens for scripts and the CLI.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(user_app)
app.add_typer(token_app)


def _password_from_stdin() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise UsageError(
            "no password on standard input: pipe it in, e.g. `... | golive user add NAME "
            "--password-stdin`"
        )
    return password


@user_app.command(name="add")
def user_add(
    name: str = typer.Argument(..., help="The user name, used to log in."),
    person: str | None = typer.Option(
        None, "--person", help="The person id this user is in the plans (their role follows)."
    ),
    admin: bool = typer.Option(False, "--admin", help="Manager of every go-live."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (required)."
    ),
    state: str | None = StateOption,
) -> None:
    """Add a user who can log in to mission control."""
    if not password_stdin:
        raise UsageError(
            "pass --password-stdin and the password on standard input (never on the command line)"
        )
    password = _password_from_stdin()
    with opened(state, None, create=True) as store:
        user = Accounts(store).add_user(name, password=password, person=person, admin=admin)
    linked = f" (person {user.person})" if user.person else ""
    console.print(f"user {user.name}{linked} added" + (", admin" if user.admin else ""))


@user_app.command(name="grant")
def user_grant(
    name: str = typer.Argument(..., help="The user."),
    role: Role = typer.Argument(..., help="manager, approver, owner or observer."),
    plan: str | None = typer.Option(
        None, "--plan", help="The go-live id (golive: in the plan) it applies to (default: all)."
    ),
    state: str | None = StateOption,
) -> None:
    """Give a user a role on one go-live, or on all of them."""
    with opened(state, None, create=True) as store:
        Accounts(store).grant(name, role, plan_id=plan)
    console.print(f"{name} is {role} of " + (f"go-live {plan}" if plan else "every go-live"))


@token_app.command(name="create")
def token_create(
    name: str = typer.Argument(..., help="The user the token acts as."),
    state: str | None = StateOption,
) -> None:
    """Create an API token and print it (only once: it is not stored, only its hash)."""
    with opened(state, None, create=True) as store:
        token = Accounts(store).create_token(name)
    typer.echo(token)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(8150, "--port", min=1, max=65535, help="The port to listen on."),
    plan: list[Path] = typer.Option(
        [],
        "--plan",
        help="A plan its managers may start from the browser; a directory: each *.golive.yaml "
        "in it (repeatable).",
    ),
    state: str | None = StateOption,
) -> None:
    """Serve mission control: the live dashboard and the JSON API of the runs in the store."""
    import uvicorn

    from golive.web.app import create_app
    from golive.web.auth import is_loopback
    from golive.web.launch import load_served_plans

    plans = load_served_plans(plan)  # a broken plan stops the server here, with file:line
    url = state_url(state, None)
    with opened(url, None, create=True) as store:  # a bad --state fails here, in one line
        shown = store.display_url
    console.print(f"mission control on http://{host}:{port}/ (state store {shown})")
    for served in plans.values():
        console.print(f"  may start go-live {served.id} ({served.path})", markup=False)
    if not is_loopback(host):
        console_err.print(
            f"warning: {host} is not the loopback address: browsers keep the session cookie "
            "over HTTPS only there; put a TLS reverse proxy in front (see docs/web.md)",
            markup=False,
        )
    uvicorn.run(
        create_app(url, plans=plans),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=True,
        timeout_graceful_shutdown=2,
    )
