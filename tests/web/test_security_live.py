"""Mission control's defences against a real `golive serve`: a giant body neither waits for nor
grows the server, a rotating X-Forwarded-For is believed from trusted proxies only, and a
revoked token or a disabled user loses their open live streams within seconds."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from pathlib import Path

import httpx
import pytest
from tests.web.conftest import Engine, Person, bearer, golive_command, login
from tests.web.test_live import Watch, serving

from golive.errors import UsageError
from golive.store import open_store
from golive.store.accounts import Accounts
from golive.web.guard import forwarded_client, parse_networks

GIANT = 200 * 1024 * 1024

# --- against a real `golive serve`: memory, forwarded addresses, revocation of live streams ------


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None
    return int(found[1])


def giant_post(url: str, *, headers: str, size: int, chunked: bool) -> tuple[str, int, float]:
    """POST `size` bytes on a raw socket, sending until the server answers; its status line,
    how many bytes it took before answering, and how long that took."""
    host, port = url.removeprefix("http://").split(":")
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        f"POST /api/runs/r-1/updates HTTP/1.1\r\nHost: {host}\r\n{headers}"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    )
    chunk = b"x" * 65536
    piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
    began = time.monotonic()
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        answer = b""
        while sent < size and not answer:
            with contextlib.suppress(BlockingIOError):
                answer = sock.recv(4096)
                if not answer:
                    break
            try:
                sent += sock.send(piece)
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:  # the server closed the connection: it wants no more
                break
        sock.setblocking(True)
        while b"\r\n" not in answer:
            more = sock.recv(4096)
            if not more:
                break
            answer += more
    return answer.split(b"\r\n", 1)[0].decode(), sent, time.monotonic() - began


@pytest.mark.slow
def test_a_giant_post_neither_waits_for_nor_grows_the_real_server(
    store_url: str, people: dict[str, Person], tmp_path: Path
) -> None:
    with serving(store_url, tmp_path) as (url, process):
        before = rss_kib(process.pid)
        token = f"Authorization: Bearer {people['mia'].token}\r\n"
        answers = [
            giant_post(url, headers="", size=GIANT, chunked=False),
            giant_post(url, headers="", size=GIANT, chunked=True),
            giant_post(url, headers=token, size=GIANT, chunked=False),
            giant_post(url, headers=token, size=GIANT, chunked=True),
        ]
        grown = rss_kib(process.pid) - before
    print(f"server RSS {before} KiB, grew by {grown} KiB; answers {answers}")
    statuses = [status.split(" ")[1] for status, _, _ in answers]
    assert statuses == ["401", "401", "413", "413"], answers
    for _, sent, took in answers:
        assert sent < GIANT / 4  # answered long before the body was through
        assert took < 10
    assert grown < 20 * 1024, f"the server grew by {grown} KiB"


def failed_logins(url: str, forwarded: list[str]) -> list[int]:
    """One failed login per X-Forwarded-For value, each for a user name of its own (so only
    the address can lock them out)."""
    statuses = []
    with httpx.Client(base_url=url) as client:
        for n, address in enumerate(forwarded):
            answer = client.post(
                "/login",
                data={"username": f"nobody{n}", "password": "wrong-password"},
                headers={"X-Forwarded-For": address},
            )
            statuses.append(answer.status_code)
    return statuses


@pytest.mark.slow
def test_a_rotating_x_forwarded_for_from_an_untrusted_peer_is_still_locked_out(
    store_url: str, people: dict[str, Person], tmp_path: Path
) -> None:
    rotating = [f"203.0.113.{n}" for n in range(7)]
    with serving(store_url, tmp_path) as (url, _):
        assert failed_logins(url, rotating) == [401] * 5 + [429] * 2


@pytest.mark.slow
@pytest.mark.parametrize("given", ["option", "environment"])
def test_a_trusted_proxy_s_x_forwarded_for_names_the_client(
    store_url: str,
    people: dict[str, Person],
    tmp_path: Path,
    given: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = ["--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "127.0.0.0/8"]
    if given == "environment":
        monkeypatch.setenv("GOLIVE_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.0/8")
        options = []
    with serving(store_url, tmp_path, *options) as (url, _):
        rotating = [f"203.0.113.{n}" for n in range(7)]
        assert failed_logins(url, rotating) == [401] * 7  # seven clients, one failure each
        # a client's own X-Forwarded-For is not believed: the proxy appends the address it saw
        one = [f"198.51.100.{n}, 192.0.2.9" for n in range(7)]
        assert failed_logins(url, one) == [401] * 5 + [429] * 2


def test_forwarded_addresses_are_read_from_the_right_past_trusted_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/8", "127.0.0.1"])
    assert forwarded_client("127.0.0.1", "1.2.3.4, 10.1.1.1", proxies) == "1.2.3.4"
    assert forwarded_client("127.0.0.1", "6.6.6.6, 1.2.3.4", proxies) == "1.2.3.4"
    assert forwarded_client("192.0.2.1", "1.2.3.4", proxies) == "192.0.2.1"  # not a proxy
    assert forwarded_client("127.0.0.1", "", proxies) == "127.0.0.1"
    with pytest.raises(UsageError, match="--trusted-proxy 'proxy': not an IP address"):
        parse_networks(["proxy"])


def stream_ends(watch: Watch, within: float) -> bool:
    watch._thread.join(timeout=within)
    return not watch._thread.is_alive()


@pytest.mark.slow
def test_revoking_a_token_ends_its_open_stream_and_refuses_it(
    engine: Engine, store_url: str, people: dict[str, Person], tmp_path: Path
) -> None:
    with serving(store_url, tmp_path) as (url, _):
        stream = f"{url}/api/runs/{engine.run_id}/stream"
        olly, alba = Watch(stream, bearer(people["olly"])), Watch(stream, bearer(people["alba"]))
        try:
            olly.next("presence")
            with open_store(store_url) as store:
                token_id = Accounts(store).list_tokens("olly")[0].id
            revoked = golive_command("token", "revoke", token_id[:8], "--state", store_url,
                                     cwd=tmp_path)  # fmt: skip
            assert revoked.returncode == 0, revoked.stderr
            assert f"token {token_id} of olly revoked" in revoked.stdout
            began = time.monotonic()
            assert stream_ends(olly, within=6), "the revoked token's stream is still open"
            print(f"revoked token's stream ended in {time.monotonic() - began:.2f} s")
            answer = httpx.get(f"{url}/api/runs/{engine.run_id}", headers=bearer(people["olly"]))
            assert answer.status_code == 401
            assert not stream_ends(alba, within=0.5)  # another user's stream goes on
        finally:
            olly.close()
            alba.close()


@pytest.mark.slow
def test_disabling_a_user_ends_their_sessions_and_streams_until_enabled(
    engine: Engine, store_url: str, people: dict[str, Person], tmp_path: Path
) -> None:
    with serving(store_url, tmp_path) as (url, _):
        browser = httpx.Client(base_url=url)
        login(browser, people["mia"])
        stream = f"{url}/api/runs/{engine.run_id}/stream"
        cookie = {"Cookie": f"golive_session={browser.cookies['golive_session']}"}
        by_session, by_token = Watch(stream, cookie), Watch(stream, bearer(people["mia"]))
        try:
            by_session.next("presence")
            disabled = golive_command("user", "disable", "mia", "--state", store_url, cwd=tmp_path)
            assert disabled.returncode == 0, disabled.stderr
            assert stream_ends(by_session, within=6)
            assert stream_ends(by_token, within=1)
            run = f"/api/runs/{engine.run_id}"
            assert browser.get(run).status_code == 401
            assert httpx.get(url + run, headers=bearer(people["mia"])).status_code == 401
            refused = browser.post("/login", data={"username": "mia", "password": "mia-password"})
            assert refused.status_code == 401
            enabled = golive_command("user", "enable", "mia", "--state", store_url, cwd=tmp_path)
            assert enabled.returncode == 0, enabled.stderr
            assert httpx.get(url + run, headers=bearer(people["mia"])).status_code == 200
            assert browser.get(run).status_code == 401  # the session ended for good: log in
        finally:
            by_session.close()
            by_token.close()
            browser.close()
