"""End-to-end fixtures: a real `golive serve` subprocess, a real `golive run` beside it, and
Debian's Chromium driven by Playwright (scripts/browser.sh installs it; never `playwright install`).

    server     `golive serve` on a free port against a fresh SQLite store, with three users made
               by the CLI (ann: manager, bob: approver, olga: observer: she owns nothing in PLAN, so
               observer is all she is), ready on /api/health
    live_run   `golive run` of PLAN in the background on the same store, waiting at its gate
    browser    headless /usr/bin/chromium, one per test module
    login      a logged-in page (own browser context, so own cookies) for one of the users

Screenshots go to test-artifacts/screenshots/ (git-ignored; GOLIVE_SCREENSHOTS moves them).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

# What a page shows eventually is awaited up to 15 s, not Playwright's 5: CI shares two cores
# with PostgreSQL, MariaDB, the engines and Chromium. The 1-second promise of the live view is
# measured on its own, with a clock, in test_mission_control.py.
expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("GOLIVE_SCREENSHOTS") or ROOT / "test-artifacts" / "screenshots")

# The go-live the browser tests follow: a gate both approvers must open, then a switch, then a
# manual step that keeps the run live (waiting for ann) until the fixture stops it.
PLAN = """\
golive: e2e-shop
title: Web shop go-live
timezone: Europe/Brussels
people:
  ann: {name: Ann Lambert, role: release manager, contact: ann@shop.example}
  bob: {name: Bob Peeters, role: ops lead, contact: bob@shop.example}
  olga: {name: Olga Smet, role: support lead, contact: olga@shop.example}
checklist:
  - {id: backup, title: Full backup of the legacy database taken and restore tested, owner: bob}
  - {id: comms, title: Customers told about the maintenance window, owner: ann}
environments:
  staging: {}
steps:
  - {id: freeze, owner: ann, run: "true", estimate: 2m, undo: "true"}
  - {id: migrate, owner: bob, needs: [freeze], run: "echo migrated 1200 orders", estimate: 10m, undo: "true"}
  - {id: smoke, owner: bob, needs: [migrate], run: "echo smoke ok", estimate: 3m}
  - id: go-no-go
    gate: Go / No-Go for switching customers to the new shop
    needs: [smoke]
    approvers: [ann, bob]
  - {id: switch, owner: ann, needs: [go-no-go], run: "echo switched", estimate: 2m, undo: "true"}
  - {id: announce, owner: ann, needs: [switch], manual: Tell customers the new shop is live, estimate: 5m}
"""
PLAN_ID = "e2e-shop"
GATE = "go-no-go"


@dataclass(frozen=True)
class User:
    name: str
    password: str
    role: str
    person: str | None
    token: str = ""


USERS = (
    User("ann", "ann-correct-horse-1", "manager", "ann"),
    User("bob", "bob-battery-staple-2", "approver", "bob"),
    User("olga", "olga-observer-pass-3", "observer", "olga"),
)


@dataclass
class Server:
    """A running `golive serve`; `client(user)` is an httpx client authenticated by token."""

    url: str
    state_url: str
    directory: Path
    process: subprocess.Popen[bytes]
    log: Path
    users: dict[str, User] = field(default_factory=dict)

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.users[user].token}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class LiveRun:
    """A `golive run` in the background; `status()` is `golive status --format json`."""

    id: str
    plan: Path
    state_url: str
    process: subprocess.Popen[str]

    def status(self) -> dict[str, Any]:
        result = golive("status", self.id, "--format", "json", "--state", self.state_url)
        assert result.returncode == 0, result.stderr
        parsed: dict[str, Any] = json.loads(result.stdout)
        return parsed

    def step(self, step_id: str) -> dict[str, Any]:
        steps: list[dict[str, Any]] = self.status()["steps"]
        return next(s for s in steps if s["id"] == step_id)


def golive(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line, in a subprocess; it never prints a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "golive", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "GOLIVE_DEBUG": ""},
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.stdout}{result.stderr}"
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def add_users(state_url: str) -> dict[str, User]:
    """ann, bob and olga through `golive user add/grant` and `golive token create`."""
    made: dict[str, User] = {}
    for user in USERS:
        person = ["--person", user.person, "--plan", PLAN_ID] if user.person else []
        ok(golive("user", "add", user.name, *person, "--password-stdin", "--state", state_url,
                  stdin=user.password + "\n"))  # fmt: skip
        ok(golive("user", "grant", user.name, user.role, "--plan", PLAN_ID, "--state", state_url))
        token = ok(golive("token", "create", user.name, "--state", state_url)).strip()
        assert len(token.split()) == 1, f"token create printed {token!r}"
        made[user.name] = User(user.name, user.password, user.role, user.person, token)
    return made


@contextlib.contextmanager
def serving(directory: Path, state_url: str, *options: str) -> Iterator[Server]:
    """`golive serve [OPTIONS]` on a free port until the block ends; its output goes to
    serve.log."""
    port = free_port()
    log = directory / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "golive", "serve", "--state", state_url),
                *("--port", str(port), *options),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", state_url, directory, process, log)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"golive serve exited {process.returncode}:\n{server.output()}")
        try:
            answer = httpx.get(f"{server.url}/api/health", timeout=1)
        except httpx.TransportError:
            return False
        return answer.status_code == 200 and answer.json() == {"ok": True}

    try:
        wait_until(healthy, timeout=30, what=f"{server.url}/api/health")
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any], grace: float = 10) -> None:
    """SIGTERM, then SIGKILL to the whole process group after `grace` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `golive serve` on a fresh store, shared by one test module's tests."""
    directory = tmp_path_factory.mktemp("serve")
    state_url = f"sqlite:///{directory / 'state.db'}"
    users = add_users(state_url)
    with serving(directory, state_url) as running:
        running.users = users
        yield running


@contextlib.contextmanager
def running_plan(
    server: Server, plan_text: str = PLAN, *, step: str = GATE, status: str = "waiting"
) -> Iterator[LiveRun]:
    """`golive run PLAN --env staging --as ann` in the background on the server's store, until
    `step` has `status` (by default: the gate waits for votes); stopped (SIGTERM, then SIGKILL)
    when the block ends. DIR in the plan's text is replaced with the run's own folder."""
    folder = server.directory / f"run-{time.monotonic_ns()}"
    folder.mkdir()
    plan = folder / "shop.golive.yaml"
    plan.write_text(plan_text.replace("DIR", str(folder)), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", str(plan), "--env", "staging", "--release",
         "2.0", "--plain", "--as", "ann", "--state", server.state_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=folder,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # "run <id>  (e2e-shop, staging, rehearsal)"
        assert first.startswith("run "), f"golive run printed {first!r}"
        live = LiveRun(first.split()[1], plan, server.state_url, process)
        wait_until(lambda: live.step(step)["status"] == status, timeout=60, what=f"{step} {status}")
        yield live
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def live_run(server: Server) -> Iterator[LiveRun]:
    """A run of PLAN driven by a `golive run` subprocess, waiting for ann's and bob's votes."""
    with running_plan(server) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Playwright and Chromium for one test module: its event loop is gone before other tests."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/browser.sh", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


Login = Callable[[str], Page]


@pytest.fixture
def login(browser: Browser, server: Server) -> Iterator[Login]:
    """`login("ann")`: a page in a browser context of its own, logged in through /login. At
    the end, no page may have had anything blocked by the Content-Security-Policy."""
    contexts = []
    blocked: list[str] = []

    def log_in(name: str) -> Page:
        context = browser.new_context(
            base_url=server.url, viewport={"width": 1440, "height": 900}, locale="en-GB"
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto("/login")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", server.users[name].password)
        page.get_by_test_id("login").click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    yield log_in
    for context in contexts:
        context.close()
    assert blocked == [], "the Content-Security-Policy blocked something"


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """A PNG of the page under SCREENSHOTS, for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
