"""Real local receivers for notification tests: an SMTP server and an HTTP webhook endpoint.

Both listen on loopback, keep what they receive, and let a test wait for it:

    with WebhookReceiver() as hooks:          # apprise json://127.0.0.1:PORT/path
        ...
        hooks.wait_for(1)
        assert hooks.received[0].json["title"] == ...

    with SmtpReceiver() as smtp:              # apprise mailto://127.0.0.1:PORT?from=...&to=...
        ...
        mail = smtp.wait_for(1)[0]

SmtpReceiver needs aiosmtpd (the `test` extra).
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from golive.testing.nginx import free_port


@dataclass(frozen=True)
class Request:
    """An HTTP request a webhook receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class Mail:
    """A message an SMTP receiver got: the envelope and the parsed message."""

    sender: str
    recipients: list[str]
    subject: str
    text: str
    raw: bytes


class _Collected:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._items: list[Any] = []

    def add(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)
            self._lock.notify_all()

    def snapshot(self) -> list[Any]:
        with self._lock:
            return list(self._items)

    def wait_for(self, count: int, timeout: float) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} deliveries within {timeout}s, got {len(self._items)}"
                    )
                self._lock.wait(left)
            return list(self._items)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that answers `status` to every request and keeps it."""

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self._collected = _Collected()
        collected, receiver = self._collected, self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                collected.add(Request(self.command, self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def received(self) -> list[Request]:
        return self._collected.snapshot()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Request]:
        return self._collected.wait_for(count, timeout)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class SmtpReceiver:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that accepts every message and keeps it."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self._collected = _Collected()
        collected = self._collected

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                raw = bytes(envelope.original_content or envelope.content)
                parsed = email.message_from_bytes(raw, policy=email.policy.default)
                body = parsed.get_body(preferencelist=("plain", "html"))
                collected.add(
                    Mail(
                        sender=str(envelope.mail_from),
                        recipients=[str(r) for r in envelope.rcpt_tos],
                        subject=str(parsed.get("Subject", "")),
                        text=body.get_content() if body is not None else "",
                        raw=raw,
                    )
                )
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def received(self) -> list[Mail]:
        return self._collected.snapshot()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Mail]:
        return self._collected.wait_for(count, timeout)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._controller.stop()
