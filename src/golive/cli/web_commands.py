"""Mission control from the command line: users, roles, API tokens, and `golive serve`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from golive.cli.app import app, console, console_err
from golive.cli.options import StateOption, opened, state_url
from golive.errors import UsageError
from golive.store.accounts import Accounts, Role, token_id

TRUSTED_PROXIES_ENV = "GOLIVE_TRUSTED_PROXIES"  # the same name as golive.web.guard's

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
        None, "--person", help="The person id this user is in the go-live --plan names."
    ),
    plan: str | None = typer.Option(
        None, "--plan", help="The go-live id (golive: in the plan) --person belongs to."
    ),
    admin: bool = typer.Option(False, "--admin", help="Manager of every go-live."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (required)."
    ),
    state: str | None = StateOption,
) -> None:
    """Add a user who can log in to mission control."""
    if person is not None and plan is None:
        raise UsageError(
            f"--person {person} needs --plan GOLIVE_ID: a person id means something only in "
            "one go-live's plan (the `golive:` id at its top)"
        )
    if not password_stdin:
        raise UsageError(
            "pass --password-stdin and the password on standard input (never on the command line)"
        )
    password = _password_from_stdin()
    with opened(state, None, create=True) as store:
        user = Accounts(store).add_user(
            name, password=password, person=person, plan_id=plan, admin=admin
        )
    linked = f" (person {person} in go-live {plan})" if person else ""
    console.print(f"user {user.name}{linked} added" + (", admin" if user.admin else ""))


@user_app.command(name="link")
def user_link(
    name: str = typer.Argument(..., help="The user."),
    person: str = typer.Option(..., "--person", help="The person id in the go-live's plan."),
    plan: str = typer.Option(..., "--plan", help="The go-live id (golive: in the plan)."),
    state: str | None = StateOption,
) -> None:
    """Make a user a person of one go-live (their roles there follow from the plan)."""
    with opened(state, None, create=True) as store:
        Accounts(store).link(name, plan_id=plan, person=person)
    console.print(f"{name} is person {person} in go-live {plan}", markup=False)


@user_app.command(name="unlink")
def user_unlink(
    name: str = typer.Argument(..., help="The user."),
    plan: str = typer.Option(..., "--plan", help="The go-live id (golive: in the plan)."),
    state: str | None = StateOption,
) -> None:
    """Remove a user's person in one go-live."""
    with opened(state, None, create=True) as store:
        removed = Accounts(store).unlink(name, plan_id=plan)
    shown = "is no longer a person" if removed else "was no person"
    console.print(f"{name} {shown} in go-live {plan}", markup=False)


@user_app.command(name="disable")
def user_disable(
    name: str = typer.Argument(..., help="The user."),
    state: str | None = StateOption,
) -> None:
    """Lock a user out at once: logins refused, sessions ended, tokens and streams cut."""
    with opened(state, None, create=True) as store:
        Accounts(store).set_disabled(name, True)
    console.print(f"{name} disabled: their sessions, tokens and live streams end", markup=False)


@user_app.command(name="enable")
def user_enable(
    name: str = typer.Argument(..., help="The user."),
    state: str | None = StateOption,
) -> None:
    """Let a disabled user log in again (their tokens work again too)."""
    with opened(state, None, create=True) as store:
        Accounts(store).set_disabled(name, False)
    console.print(f"{name} enabled", markup=False)


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
    console_err.print(
        f"token {token_id(token)} of {name}: revoke it with `golive token revoke "
        f"{token_id(token)}`",
        markup=False,
    )


@token_app.command(name="list")
def token_list(
    name: str | None = typer.Argument(None, help="Only this user's tokens."),
    state: str | None = StateOption,
) -> None:
    """The API tokens: id, user, created (never the token itself)."""
    with opened(state, None, create=True) as store:
        tokens = Accounts(store).list_tokens(name)
    for token in tokens:
        created = token.created_at.strftime("%Y-%m-%d %H:%M UTC")
        console.print(f"{token.id}  {token.user_name}  {created}", markup=False)
    if not tokens:
        console.print("no tokens", markup=False)


@token_app.command(name="revoke")
def token_revoke(
    token: str | None = typer.Argument(None, help="The token's id (6+ first hex digits)."),
    user: str | None = typer.Option(None, "--user", help="Revoke every token of this user."),
    state: str | None = StateOption,
) -> None:
    """Revoke an API token, or all of a user's: refused at once, live streams cut."""
    if (token is None) == (user is None):
        raise UsageError(
            "name one token id (see `golive token list`) or --user NAME for all of theirs"
        )
    with opened(state, None, create=True) as store:
        accounts = Accounts(store)
        if token is not None:
            found = accounts.revoke_token(token)
            console.print(f"token {found.id} of {found.user_name} revoked", markup=False)
        elif user is not None:
            count = accounts.revoke_tokens(user)
            console.print(f"{count} token(s) of {user} revoked", markup=False)


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
    trusted_proxy: list[str] = typer.Option(
        [],
        "--trusted-proxy",
        help="An address or CIDR network of a reverse proxy whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (repeatable; default: none, the peer's address "
        f"counts; or {TRUSTED_PROXIES_ENV}, comma-separated).",
    ),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        help="Mission control's address as people reach it, for the links in notifications "
        "(sets GOLIVE_PUBLIC_URL for the engines it starts).",
    ),
    listen: bool = typer.Option(
        True,
        "--listen/--no-listen",
        help="On PostgreSQL, be told of new events by LISTEN/NOTIFY (default); --no-listen "
        "polls the store instead (e.g. behind a pooler in transaction mode, where LISTEN fails).",
    ),
    deliver: bool = typer.Option(
        True,
        "--deliver/--no-deliver",
        help="Deliver the notifications of the store's runs (escalations, retries of a run "
        "whose engine stopped) and of the served plans' overdue checklist items (default); "
        "safe beside engines, `golive notify` and other servers.",
    ),
    state: str | None = StateOption,
) -> None:
    """Serve mission control: the live dashboard and the JSON API of the runs in the store."""
    import uvicorn

    from golive.web.app import create_app
    from golive.web.auth import is_loopback
    from golive.web.guard import parse_networks
    from golive.web.launch import load_served_plans

    if trusted_proxy:
        proxies = parse_networks(trusted_proxy)
    else:
        from_env = os.environ.get(TRUSTED_PROXIES_ENV, "").replace(",", " ").split()
        proxies = parse_networks(from_env, where=TRUSTED_PROXIES_ENV)
    if public_url is not None:
        if not public_url.startswith(("http://", "https://")) or " " in public_url:
            raise UsageError(f"--public-url {public_url!r}: give an http:// or https:// URL")
        os.environ["GOLIVE_PUBLIC_URL"] = public_url  # the engines it starts inherit it
    plans = load_served_plans(plan)  # a broken plan stops the server here, with file:line
    url = state_url(state, None)
    with opened(url, None, create=True) as store:  # a bad --state fails here, in one line
        shown = store.display_url
    console.print(f"mission control on http://{host}:{port}/ (state store {shown})")
    for served in plans.values():
        console.print(f"  may start go-live {served.id} ({served.path})", markup=False)
    if deliver:
        console.print("  delivers the notifications of its runs and checklists", markup=False)
    if proxies:
        shown_proxies = ", ".join(str(p) for p in proxies)
        console.print(f"  X-Forwarded-For believed from {shown_proxies}", markup=False)
    if not is_loopback(host):
        console_err.print(
            f"warning: {host} is not the loopback address: browsers keep the session cookie "
            "over HTTPS only there; put a TLS reverse proxy in front (see docs/web.md)",
            markup=False,
        )
    uvicorn.run(
        create_app(url, plans=plans, trusted_proxies=proxies, listen=listen, deliver=deliver),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,  # the app's Guard believes forwarded headers from --trusted-proxy
        timeout_graceful_shutdown=2,
    )
