"""What every request meets before the routes: the client's address (from a trusted proxy's
X-Forwarded-For only), authentication before a body is read, a bound on the body's size, and
the security headers of every answer.

A request with a body (POST, PUT, PATCH, DELETE) is authenticated first, from its headers
alone: an anonymous one is refused with 401 before a byte of its body is read (only the login
and logout forms and the public feedback form may post anonymously). Then its body is read up
to `max_body` bytes (1 MiB; `ANONYMOUS_MAX_BODY` for the anonymous forms and any feedback
report): a Content-Length above it is refused with 413 at once, and a body without one
(chunked) is counted while it arrives and refused with 413 as soon as it passes the bound. So
nobody makes the server hold more than the bound per request.

X-Forwarded-For and X-Forwarded-Proto are believed only from the proxies given
(`golive serve --trusted-proxy CIDR`): from anyone else, a header would let a client choose
the address the login rate limit counts failures by.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from golive.errors import UsageError
from golive.store.accounts import Accounts
from golive.web.auth import identify, unauthorized

MAX_BODY = 1024 * 1024  # a JSON or form body; the largest the API takes is a few KiB of text
ANONYMOUS_MAX_BODY = 16 * 1024  # the login and logout forms
ANONYMOUS_POSTS = frozenset({"/login", "/logout"})
ANONYMOUS_POST_PREFIXES = ("/feedback/", "/api/feedback/")  # golive.web.feedback
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
TRUSTED_PROXIES_ENV = "GOLIVE_TRUSTED_PROXIES"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str], *, where: str = "--trusted-proxy") -> list[Network]:
    """Addresses or CIDR networks; a UsageError names the one that is neither."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise UsageError(
                f"{where} {value!r}: not an IP address or CIDR network "
                "(e.g. 127.0.0.1 or 10.0.0.0/8)"
            ) from None
    return networks


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, header: str, networks: Sequence[Network]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
    address of X-Forwarded-For that is not a trusted proxy (what a client wrote further left
    is not believed)."""
    if not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def _header(scope: Scope, name: bytes) -> str:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name]
    return ",".join(values)


class Guard:
    """The ASGI middleware that does all of the above, in front of the app's routes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        accounts: Accounts,
        trusted_proxies: Sequence[Network] = (),
        max_body: int = MAX_BODY,
    ) -> None:
        self.app = app
        self.accounts = accounts
        self.trusted = tuple(trusted_proxies)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._forwarded(scope)
        send = _with_security_headers(send)
        if scope["method"] in BODY_METHODS:
            limit, refusal = await self._admit(scope)
            if refusal is None:
                body, refusal = await _read_body(scope, receive, limit)
                receive = _replay(body, receive)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _forwarded(self, scope: Scope) -> None:
        client = scope.get("client")
        if not self.trusted or not client or not _trusted(client[0], self.trusted):
            return
        address = forwarded_client(client[0], _header(scope, b"x-forwarded-for"), self.trusted)
        scope["client"] = (address, 0)
        proto = _header(scope, b"x-forwarded-proto").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto

    async def _admit(self, scope: Scope) -> tuple[int, JSONResponse | None]:
        """The body's bound for this request, or its refusal (401, 413) from the headers."""
        request = Request(scope)
        try:
            principal = await asyncio.to_thread(identify, request, self.accounts)
        except HTTPException as exc:
            return 0, _refusal(exc)
        feedback = str(scope["path"]).startswith(ANONYMOUS_POST_PREFIXES)
        anonymous_allowed = scope["path"] in ANONYMOUS_POSTS or feedback
        if principal is None and not anonymous_allowed:
            return 0, _refusal(unauthorized())
        small = principal is None or feedback  # a report is small, whoever sends it
        limit = min(self.max_body, ANONYMOUS_MAX_BODY) if small else self.max_body
        length = request.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                return limit, _refusal(HTTPException(400, "the Content-Length is not a number"))
            if int(length) > limit:
                return limit, _too_large(limit)
        return limit, None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, Any]:
    """The whole body if it fits in `limit` bytes, else a 413 (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"", None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replayed


def _refusal(exc: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


def _too_large(limit: int) -> JSONResponse:
    message = f"the request body is larger than {limit // 1024} KiB: send less"
    return JSONResponse({"error": message}, status_code=413, headers={"Connection": "close"})


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending
