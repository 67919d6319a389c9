"""Canary secrets through the real `golive run`: none may appear, in any form golive itself
writes, in its output, its errors, the event log in the store, `golive log` or `golive status`."""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from pathlib import Path

import pytest
from tests.conftest import Golive

from golive.store import open_store
from golive.store.url import default_state_url

TOKEN = "tok-5ecret-canary-0123"
PASSWORD = "pw@c4nary/x%y:z"
KEY = "-----BEGIN KEY-----\nl1ne0ne-canary-AAAA\nl1ne2two-canary-BBBB\n-----END KEY-----"

PLAN = """\
golive: masking
title: Masking
failure: continue
people: {ann: {name: Ann}}
environments:
  staging:
    secrets:
      TOKEN: {env: GOLIVE_TEST_TOKEN}
      KEY: {file: key.pem}
      PASSWORD: {env: GOLIVE_TEST_PASSWORD}
steps:
  - id: sql-value
    owner: ann
    check: {sql: "select token from t", db: "sqlite:///shop.db", equals: nope}
  - id: sql-row
    owner: ann
    check: {sql: "select token, n from t", db: "sqlite:///shop.db", no_rows: true}
  - id: missing-cwd
    owner: ann
    run: "true"
    cwd: "gone-{{ secrets.TOKEN }}"
  - id: multi-line
    owner: ann
    run: cat key.pem
  - id: long-line
    owner: ann
    run: python3 -c "import os; print('x' * 8180 + os.environ['TOKEN'])"
  - id: db-url
    owner: ann
    check:
      sql: select 1
      db: "postgresql+psycopg://golive:{{ secrets.PASSWORD }}@127.0.0.1:5432/nodb?x={{ secrets.PASSWORD }}"
      equals: 1
"""


def forms(secret: str) -> set[str]:
    """What must never be seen: the value, its lines, its URL and JSON encodings, a prefix."""
    found = {secret, secret[:10], *secret.splitlines()}
    found |= {
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
    }
    return {f for f in found if len(f) >= 8}


def everything(golive: Golive, path: Path, run: str) -> dict[str, str]:
    """Every text golive gives of the run: its commands' output and the store's rows."""
    texts = {"run": run}
    for name, args in {
        "log": ("log", "--plan", path),
        "log json": ("log", "--plan", path, "--format", "json"),
        "status": ("status", "--plan", path),
        "status json": ("status", "--plan", path, "--format", "json"),
    }.items():
        done = golive(*args)
        texts[name] = done.stdout + done.stderr
    with open_store(default_state_url(path)) as store:
        (record,) = store.runs()
        texts["store"] = "\n".join(
            json.dumps(e.data, ensure_ascii=False) for e in store.events(record.id)
        )
    return texts


@pytest.mark.postgres
def test_canary_secrets_appear_nowhere_golive_writes(
    tmp_path: Path, golive: Golive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLIVE_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("GOLIVE_TEST_PASSWORD", PASSWORD)
    (tmp_path / "key.pem").write_text(KEY + "\n", encoding="utf-8")
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("create table t (token text, n int)")
        db.execute("insert into t values (?, 1)", (TOKEN,))
    path = tmp_path / "masking.golive.yaml"
    path.write_text(PLAN, encoding="utf-8")

    done = golive("run", path, "--env", "staging", "--plain")

    assert done.returncode != 0  # the failing checks and the missing directory fail the run
    texts = everything(golive, path, done.stdout + done.stderr)
    leaks = {
        (where, form)
        for where, text in texts.items()
        for secret in (TOKEN, PASSWORD, KEY)
        for form in forms(secret)
        if form in text
    }
    assert leaks == set()
    run = texts["run"]
    assert 'select token from t = "••••••", expected "nope"' in run
    assert 'expected none: {"token": "••••••", "n": 1}' in run
    assert f"the directory {tmp_path}/gone-•••••• does not exist (cwd)" in run
    assert "command not found" not in run
    assert "  multi-line │ ••••••\n" in run
    assert "x" * 100 + "••••••" in texts["store"]  # masked, then cut at 8,192 characters
    assert "postgresql+psycopg://golive:***@127.0.0.1:5432/nodb" in run
