"""A secret in the URL of an overdue item's owner reaches the webhook and nowhere else: not the
store, `golive notify`'s or `golive checklist`'s output (grep for a canary value)."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

from tests.notify.conftest import Golive

from golive.engine.clock import ScaledClock
from golive.testing.receivers import WebhookReceiver

CANARY = "canary-4be0c2d17a"
PLAN = """
golive: vault
title: Vault
people:
  ann: {name: Ann, role: release manager}
  bob: {name: Bob, notify: ["json://127.0.0.1:HOOKS/{{ secrets.HOOK }}/in"]}
  cid: {name: Cid, notify: ["json://cid:{{ secrets.HOOK }}@127.0.0.1:DOWN/x"]}
checklist:
  - {id: backup, title: Take a backup, owner: bob, due: "2026-12-04 20:00"}
  - {id: certs, title: Renew the certificates, owner: cid, due: "2026-12-04 20:00"}
environments:
  production:
    secrets:
      HOOK: {env: CANARY_HOOK}
steps:
  - {id: deploy, owner: ann, run: "true"}
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_secret_in_an_owners_url_never_leaves_the_delivery(tmp_path: Path, cli: Golive) -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    clock = ScaledClock(dt.datetime(2026, 12, 4, 20, 1, tzinfo=dt.UTC), scale=1.0)
    env = {"CANARY_HOOK": CANARY, "GOLIVE_TEST_CLOCK": clock.encode()}
    with WebhookReceiver() as hooks:
        plan = tmp_path / "vault.golive.yaml"
        plan.write_text(PLAN.replace("HOOKS", str(hooks.port)).replace("DOWN", str(_closed_port())))
        outputs = [cli("check", plan, env=env)]
        assert outputs[0].returncode == 0, outputs[0].stdout
        outputs.append(cli("notify", "--checklist", plan, "--once", "--state", state, env=env))
        assert outputs[-1].returncode == 0, outputs[-1].stderr
        assert "1 message(s) sent for the checklist of vault" in outputs[-1].stdout
        for args in ((), ("-f", "json")):
            outputs.append(cli("checklist", plan, "--no-verify", "--state", state, *args))
        assert [r.path for r in hooks.received] == [f"/{CANARY}/in"]  # it was used

    assert "notification to cid about certs FAILING (attempt 1" in outputs[2].stdout
    assert '"state": "failed"' in outputs[3].stdout
    for result in outputs:
        assert CANARY not in result.stdout + result.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "vault.golive.yaml":
            assert CANARY.encode() not in path.read_bytes(), path


def test_golive_notify_names_a_run_or_a_plan_and_says_which_environment_fills_templates(
    tmp_path: Path, cli: Golive
) -> None:
    neither = cli("notify")
    assert neither.returncode == 2
    assert "name a run (golive notify RUN) or a plan" in neither.stderr
    plan = tmp_path / "vault.golive.yaml"
    plan.write_text(
        PLAN.replace("production:", "staging:").replace("HOOKS", "9").replace("DOWN", "9")
    )
    both = cli("notify", "r-1", "--checklist", plan)
    assert both.returncode == 2
    templated = cli("notify", "--checklist", plan, "--once")
    assert templated.returncode == 2
    assert "have templates: pass --env ENV to fill them" in templated.stderr
