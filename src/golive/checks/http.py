"""`http:` checks: one request, whose status, body, JSON values and latency must match."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from golive.checks.comparison import jsonable, matches, show
from golive.checks.json_path import PathError, lookup
from golive.checks.outcome import CheckOutcome, Resources, first_line, redacted, shorten
from golive.checks.trust import TrustError, verifying_context
from golive.plan.models import HttpCheck

CLIENT_KEY = "golive.checks.http"
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
_SSL_REASON = re.compile(r"\[SSL: [A-Z_]+\] ([^(]+?)\s*(?:\(_ssl\.c:\d+\))?$")


def client(resources: Resources, *, insecure: bool) -> httpx.AsyncClient:
    """The run's HTTP client (one that verifies TLS, one that does not), made on first use."""
    if insecure:
        return resources.get(CLIENT_KEY + ".insecure", lambda: _new_client(verify=False))
    return resources.get(CLIENT_KEY, lambda: _new_client(verify=verifying_context()))


def _new_client(*, verify: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=verify,
        follow_redirects=False,
        headers={"User-Agent": "golive-check"},
    )


def hide_userinfo(url: str) -> str:
    """https://user:secret@host/ -> https://***@host/, for summaries."""
    return _USERINFO.sub("***@", url)


async def check_http(
    check: HttpCheck,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    resources: Resources,
    timeout: float,
) -> CheckOutcome:
    """Request the URL once and compare the answer with every expectation of the check."""
    url = render(check.http)
    shown = f"{check.method} {redact(hide_userinfo(url))}"
    headers = {name: render(value) for name, value in check.headers.items()}
    started = time.perf_counter()
    try:
        http = client(resources, insecure=check.insecure)
        response = await http.request(check.method, url, headers=headers, timeout=timeout)
    except TrustError as exc:
        return CheckOutcome(False, f"{shown}: {exc}")
    except httpx.TimeoutException:
        return CheckOutcome(False, f"{shown}: no answer within {timeout:g}s", {"url": url})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return CheckOutcome(False, f"{shown}: {redact(_reason(exc))}")
    latency = time.perf_counter() - started
    return _judge(check, response, latency, shown=shown, render=render, redact=redact)


def _judge(
    check: HttpCheck,
    response: httpx.Response,
    latency: float,
    *,
    shown: str,
    render: Callable[[str], str],
    redact: Callable[[str], str],
) -> CheckOutcome:
    ms = round(latency * 1000)
    details: dict[str, Any] = {"status": response.status_code, "latency_ms": ms}
    expected = [check.expect] if isinstance(check.expect, int) else check.expect
    if response.status_code not in expected:
        wanted = " or ".join(map(str, expected))
        got = f"{response.status_code} {response.reason_phrase}".strip()
        return CheckOutcome(False, f"{shown}: expected {wanted}, got {got}", details)
    problems = []
    if check.latency_below and latency >= check.latency_below.total_seconds():
        bound = round(check.latency_below.total_seconds() * 1000)
        problems.append(f"took {ms} ms, expected below {bound} ms")
    if check.body is not None and (wanted_text := render(check.body)) not in response.text:
        problems.append(f"the body does not contain {shorten(redact(wanted_text), 40)!r}")
    if check.json_path:
        problems.extend(_json_problems(check, response, details, render=render, redact=redact))
    if problems:
        return CheckOutcome(False, f"{shown}: " + redact("; ".join(problems)), details)
    return CheckOutcome(True, f"{shown}: HTTP {response.status_code} in {ms} ms", details)


def _json_problems(
    check: HttpCheck,
    response: httpx.Response,
    details: dict[str, Any],
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
) -> list[str]:
    # values are masked before show() cuts them: a cut never leaves part of a secret
    try:
        document = json.loads(response.content)
    except ValueError:
        return [f"the body is not JSON: {shorten(redact(response.text), 40)!r}"]
    problems = []
    found = details.setdefault("json", {})
    for path, expected in check.json_path.items():
        wanted = render(expected) if isinstance(expected, str) else expected
        try:
            value = lookup(document, path)
        except PathError as exc:
            problems.append(str(exc))
            continue
        found[path] = redacted(jsonable(value), redact)
        if not matches(value, wanted):
            shown, expected_shown = (redacted(jsonable(v), redact) for v in (value, wanted))
            problems.append(f"{path} is {show(shown)}, expected {show(expected_shown)}")
    return problems


def _reason(exc: Exception) -> str:
    """Why the request got no answer, in the words of the layer that knows."""
    cause: BaseException = exc
    while cause.__context__ is not None and not str(cause).strip():
        cause = cause.__context__
    text = first_line(cause)
    if tls := _SSL_REASON.search(text):
        return f"TLS: {tls.group(1)}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {text}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"not a URL golive can request ({text})"
    return text
