"""Who is asking: API tokens, login sessions, CSRF protection.

A request authenticates with `Authorization: Bearer TOKEN` (scripts, the CLI) or with the
session cookie set at login (browsers). A state-changing request that relies on the cookie
must also send the session's CSRF token in `X-CSRF-Token` (the pages put it in a meta tag);
a token is not sent by browsers on their own, so it needs none.

The cookie is HttpOnly and SameSite=Strict, and Secure whenever the request came over HTTPS
or to a host that is not the loopback address: a browser never sends it over plain HTTP to
another machine. Plain HTTP is fine on 127.0.0.1 / localhost only; put TLS (a reverse proxy
that sets X-Forwarded-Proto) in front of `golive serve` to use it from other machines.

Nothing here is held in the process: sessions and tokens are in the store, and a session's CSRF
token is derived from it, so any replica of `golive serve` checks what another one issued (the
login rate limit is in the store too: store/coordination.py).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response

from golive.store.accounts import SESSION_LIFETIME, Accounts, User, secret_hash

SESSION_COOKIE = "golive_session"
CSRF_HEADER = "X-CSRF-Token"
LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class Principal:
    """An authenticated user, the session they came with (None for an API token), and the
    SHA-256 of their token or session (how an open stream re-checks it is still valid)."""

    user: User
    session: str | None = None
    credential: str = ""

    @property
    def csrf(self) -> str | None:
        return csrf_token(self.session) if self.session is not None else None


def csrf_token(session: str) -> str:
    """The CSRF token of a session: derived from its secret id, so nothing more is stored."""
    return hmac.new(session.encode(), b"golive csrf", hashlib.sha256).hexdigest()


def unauthorized(
    message: str = "log in, or send an API token: Authorization: Bearer TOKEN",
) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def identify(request: Request, accounts: Accounts) -> Principal | None:
    """The principal of a request, None if anonymous; 401 for a token that is not valid."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = None
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("the Authorization header must be 'Bearer TOKEN'")
        user = accounts.user_for_token(token.strip())
        if user is None:
            raise unauthorized(
                "this API token is not valid (revoked, or its user disabled): create one with "
                "`golive token create`"
            )
        principal = Principal(user, credential=secret_hash(token.strip()))
    else:
        session = request.cookies.get(SESSION_COOKIE)
        user = accounts.user_for_session(session) if session else None
        principal = (
            Principal(user, session, credential=secret_hash(session))
            if user is not None and session
            else None
        )
    request.state.principal = principal
    return principal


def check_csrf(request: Request, principal: Principal) -> None:
    """403 unless a cookie-authenticated request carries its session's CSRF token."""
    expected = principal.csrf
    if expected is None:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, f"missing or wrong CSRF token: send it in {CSRF_HEADER}")


def check_same_origin(request: Request) -> None:
    """403 for a form posted from another site (login CSRF): its Origin names another host."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise HTTPException(403, "this form was posted from another site")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def set_session_cookie(request: Request, response: Response, session: str) -> None:
    secure = request.url.scheme == "https" or not is_loopback(request.url.hostname)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
