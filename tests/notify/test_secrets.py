"""A secret in a webhook URL reaches the webhook, and nowhere else: not the store, the command's
output, `status`, `log`, the run page or the API (grep for a canary value)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient
from tests.notify.conftest import Golive
from tests.web.conftest import Person, login

from golive.store import open_store
from golive.store.accounts import Accounts
from golive.testing.receivers import WebhookReceiver
from golive.web import create_app

CANARY = "canary-7d1e5b3a9f"
PLAN = """
golive: canary
title: Canary
people:
  ann: {name: Ann, role: release manager, notify: ["json://ann:{{ secrets.HOOK }}@127.0.0.1:DOWN/x"]}
channels: ["json://127.0.0.1:HOOKS/{{ secrets.HOOK }}/in"]
notifications: {group: 0s}
environments:
  staging:
    secrets:
      HOOK: {env: CANARY_HOOK}
steps:
  - {id: one, owner: ann, run: "true", undo: "true"}
  - {id: two, owner: ann, needs: [one], manual: Look}
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_secret_in_a_notification_url_never_leaves_the_delivery(
    tmp_path: Path, cli: Golive
) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with WebhookReceiver() as hooks:
        plan = tmp_path / "canary.golive.yaml"
        plan.write_text(PLAN.replace("HOOKS", str(hooks.port)).replace("DOWN", str(_closed_port())))
        env = {"CANARY_HOOK": CANARY}
        outputs = [cli("check", plan, env=env)]
        assert outputs[0].returncode == 0, outputs[0].stdout
        # the run waits at `two` (ann's notification fails: her URL's port is closed); the
        # engine is stopped there and `golive notify` delivers, then ann marks it done
        outputs.append(_run_to_wait(cli, plan, store_url, env))
        run = _latest(store_url)
        outputs.append(cli("done", run, "two", "--as", "ann", "--state", store_url))
        outputs.append(cli("resume", run, "--as", "ann", "--plain", "--state", store_url, env=env))
        outputs.append(cli("notify", run, "--once", "--state", store_url, env=env))
        for args in (
            ("status", run),
            ("status", run, "-f", "json"),
            ("log", run, "-f", "json"),
            ("log", run),
        ):
            outputs.append(cli(*args, "--state", store_url))
        assert any(r.path == f"/{CANARY}/in" for r in hooks.received)  # it was used

    for result in outputs:
        assert CANARY not in result.stdout + result.stderr
    assert "FAILING" in outputs[-4].stdout  # ann's failure is shown, masked
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "canary.golive.yaml":
            assert CANARY.encode() not in path.read_bytes(), path
    _check_web(store_url, run)


def _run_to_wait(
    cli: Golive, plan: Path, store_url: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`golive run` until a delivery failed (shown by status), then stopped (SIGTERM)."""
    engine = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "golive",
            "run",
            str(plan),
            "-e",
            "staging",
            "--plain",
            "--state",
            store_url,
        ],
        cwd=plan.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        status = cli("status", "--state", store_url)
        if "FAILING" in status.stdout:
            break
    engine.terminate()
    out, err = engine.communicate(timeout=30)
    return subprocess.CompletedProcess(engine.args, engine.returncode, out, err)


def _latest(store_url: str) -> str:
    with open_store(store_url) as store:
        return store.runs()[-1].id


def _check_web(store_url: str, run: str) -> None:
    with open_store(store_url) as store:
        accounts = Accounts(store)
        accounts.add_user("root", password="root-password", person=None, plan_id=None, admin=True)
        token = accounts.create_token("root")
    app = create_app(store_url, poll_interval=0.05)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        bearer = {"Authorization": f"Bearer {token}"}
        for url in (f"/api/runs/{run}", f"/api/runs/{run}/events", "/api/runs"):
            response = client.get(url, headers=bearer)
            assert response.status_code == 200, response.text
            assert CANARY not in response.text
        login(client, Person("root", None, token, "root-password"))
        page = client.get(f"/runs/{run}")
        assert page.status_code == 200
        assert CANARY not in page.text
        assert 'data-testid="notification-failing"' in page.text  # shown, masked
