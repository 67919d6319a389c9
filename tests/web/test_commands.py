"""golive user add / grant, token create and serve through the real `golive` entry point, and
the call's events (updates, issues) folded into a run's state."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from golive.engine.call import comment_issue, post_update, raise_issue, resolve_issue
from golive.engine.commands import start_run
from golive.engine.events import Severity, UpdatePosted
from golive.engine.operator import read_state
from golive.errors import DecisionRejected, UsageError
from golive.plan import load_plan
from golive.store import RunRecord, open_store
from golive.store.accounts import SESSION_LIFETIME, Accounts, Role, token_id
from golive.store.schema import web_sessions


def golive(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "golive", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_users_grants_and_tokens_are_made_from_the_command_line(tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    added = golive(
        "user", "add", "ann", "--person", "alice", "--plan", "shop", "--password-stdin",
        "--state", state,
        stdin="a-long-password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "a-long-password" not in added.stdout + added.stderr
    granted = golive("user", "grant", "ann", "manager", "--plan", "shop", "--state", state)
    assert granted.returncode == 0, granted.stderr
    token = golive("token", "create", "ann", "--state", state)
    assert token.returncode == 0, token.stderr
    assert token.stdout.startswith("glt_")
    assert len(token.stdout.strip().splitlines()) == 1
    with open_store(state) as store:
        accounts = Accounts(store)
        assert accounts.authenticate("ann", "a-long-password") is not None
        assert accounts.authenticate("ann", "wrong-password") is None
        user = accounts.user_for_token(token.stdout.strip())
        assert user is not None
        assert user.person_in("shop") == "alice"
        assert user.person_in("other") is None
        assert [g.role for g in accounts.grants("ann")] == [Role.manager]


@pytest.mark.parametrize(
    ("args", "stdin", "error"),
    [
        (["user", "add", "bob"], None, "--password-stdin"),
        (["user", "add", "bob", "--password-stdin"], "", "no password on standard input"),
        (["user", "add", "bob", "--password-stdin"], "short\n", "at least 8 characters"),
        (["user", "add", "bad name", "--password-stdin"], "long-enough\n", "user name 'bad name'"),
        (["user", "grant", "nobody", "observer"], None, "no user 'nobody'"),
        (["token", "create", "nobody"], None, "no user 'nobody'"),
        (
            ["user", "add", "bob", "--person", "bob", "--password-stdin"],
            "long-enough\n",
            "--person bob needs --plan GOLIVE_ID",
        ),
        (["user", "disable", "nobody"], None, "no user 'nobody'"),
        (["user", "link", "nobody", "--person", "x", "--plan", "shop"], None, "no user 'nobody'"),
        (["token", "revoke"], None, "name one token id"),
        (["token", "revoke", "abc"], None, "give at least 6 hex digits"),
        (["token", "revoke", "abcdef"], None, "no token has an id starting with abcdef"),
        (["serve", "--trusted-proxy", "proxy"], None, "--trusted-proxy 'proxy': not an IP"),
    ],
)
def test_bad_account_commands_say_what_to_do(
    tmp_path: Path, args: list[str], stdin: str | None, error: str
) -> None:
    result = golive(*args, "--state", f"sqlite:///{tmp_path / 's.db'}", stdin=stdin)
    assert result.returncode == 2
    assert error in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_user_is_a_person_in_each_go_live_it_is_linked_to(tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 's.db'}"
    added = golive("user", "add", "ann", "--password-stdin", "--state", state, stdin="long-pass\n")
    assert added.returncode == 0, added.stderr
    for plan, person in (("shop", "own"), ("bank", "ann"), ("shop", "alice")):
        linked = golive("user", "link", "ann", "--person", person, "--plan", plan, "--state", state)
        assert linked.returncode == 0, linked.stderr
        assert f"ann is person {person} in go-live {plan}" in linked.stdout
    unlinked = golive("user", "unlink", "ann", "--plan", "bank", "--state", state)
    assert unlinked.returncode == 0, unlinked.stderr
    with open_store(state) as store:
        user = Accounts(store).require_user("ann")
    assert user.links == (("shop", "alice"),)  # the second link in shop replaced the first


def test_tokens_are_listed_by_id_and_revoked_one_or_all(tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 's.db'}"
    for name in ("ann", "bob"):
        golive("user", "add", name, "--password-stdin", "--state", state, stdin="long-pass\n")
    made = [golive("token", "create", name, "--state", state) for name in ("ann", "ann", "bob")]
    tokens = [m.stdout.strip() for m in made]
    ids = [token_id(t) for t in tokens]
    assert f"token {ids[0]} of ann: revoke it with `golive token revoke {ids[0]}`" in made[0].stderr
    listed = golive("token", "list", "--state", state)
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [
        [ids[0], "ann"], [ids[1], "ann"], [ids[2], "bob"]
    ]  # fmt: skip
    assert not any(t in listed.stdout for t in tokens)  # ids only, never a token
    one = golive("token", "revoke", ids[2][:7], "--state", state)
    assert one.returncode == 0, one.stderr
    assert f"token {ids[2]} of bob revoked" in one.stdout
    every = golive("token", "revoke", "--user", "ann", "--state", state)
    assert "2 token(s) of ann revoked" in every.stdout
    with open_store(state) as store:
        accounts = Accounts(store)
        assert [accounts.user_for_token(t) for t in tokens] == [None, None, None]
        assert accounts.list_tokens() == []


def test_a_disabled_user_cannot_log_in_until_enabled(tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 's.db'}"
    golive("user", "add", "ann", "--password-stdin", "--state", state, stdin="long-pass\n")
    token = golive("token", "create", "ann", "--state", state).stdout.strip()
    with open_store(state) as store:
        session = Accounts(store).create_session("ann")
    disabled = golive("user", "disable", "ann", "--state", state)
    assert disabled.returncode == 0, disabled.stderr
    with open_store(state) as store:
        accounts = Accounts(store)
        assert accounts.authenticate("ann", "long-pass") is None
        assert accounts.user_for_token(token) is None
        assert accounts.user_for_session(session) is None
    enabled = golive("user", "enable", "ann", "--state", state)
    assert enabled.returncode == 0, enabled.stderr
    with open_store(state) as store:
        accounts = Accounts(store)
        assert accounts.authenticate("ann", "long-pass") is not None
        assert accounts.user_for_token(token) is not None
        assert accounts.user_for_session(session) is None  # ended when disabled


def test_a_user_name_is_taken_once(tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 's.db'}"
    first = golive("user", "add", "ann", "--password-stdin", "--state", state, stdin="long-pass\n")
    assert first.returncode == 0
    second = golive("user", "add", "ann", "--password-stdin", "--state", state, stdin="long-pass\n")
    assert second.returncode == 2
    assert "exists already" in second.stderr


def test_a_login_clears_the_expired_sessions_away(tmp_path: Path) -> None:
    now = [dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)]
    with open_store(f"sqlite:///{tmp_path / 's.db'}", clock=lambda: now[0]) as store:
        accounts = Accounts(store)
        accounts.add_user("ann", password="long-pass")
        old = accounts.create_session("ann")
        now[0] += SESSION_LIFETIME + dt.timedelta(seconds=1)
        assert accounts.user_for_session(old) is None
        new = accounts.create_session("ann")
        with store.transaction("count sessions") as connection:
            left = connection.execute(web_sessions.select()).all()
        assert len(left) == 1
        assert accounts.user_for_session(new) is not None


def test_serve_refuses_a_bad_store_in_one_line(tmp_path: Path) -> None:
    result = golive("serve", "--state", "oracle://x/y")
    assert result.returncode == 1
    assert "does not support" in result.stderr


PLAN = """\
golive: call
title: Call
people:
  ann: {name: Ann}
  bob: {name: Bob}
environments:
  staging: {}
steps:
  - {id: deploy, owner: ann, manual: true}
"""


@pytest.fixture
def run(tmp_path: Path, store_url: str) -> tuple[str, RunRecord]:
    path = tmp_path / "call.golive.yaml"
    path.write_text(PLAN, encoding="utf-8")
    with open_store(store_url) as store:
        started = start_run(load_plan(path, env="staging"), store=store, env="staging",
                            release=None, by="ann")  # fmt: skip
    return store_url, started.run


class Recorder:
    def __init__(self) -> None:
        self.sent: list[UpdatePosted] = []

    def send(self, run: RunRecord, update: UpdatePosted) -> None:
        self.sent.append(update)


def test_updates_and_issues_are_events_folded_into_the_run(run: tuple[str, RunRecord]) -> None:
    url, record = run
    channel = Recorder()
    with open_store(url) as store:
        post_update(store, record, text=" on time ", severity=Severity.info, by="ann",
                    channels=[channel])  # fmt: skip
        issue = raise_issue(store, record, title="disk", severity=Severity.critical, by="bob",
                            owner="ann", step="deploy").seq  # fmt: skip
        comment_issue(store, record, issue=issue, text="cleaning", by="ann")
        resolve_issue(store, record, issue=issue, resolution="cleaned", by="ann")
        state = read_state(store, record.id)
        with pytest.raises(DecisionRejected, match="resolved already"):
            resolve_issue(store, record, issue=issue, resolution="again", by="ann")
        with pytest.raises(UsageError, match="no issue 999"):
            comment_issue(store, record, issue=999, text="x", by="ann")
        with pytest.raises(UsageError, match="not a person of this plan"):
            raise_issue(store, record, title="x", severity=Severity.info, by="ann", owner="zed")
        with pytest.raises(UsageError, match="no step 'deplo'"):
            raise_issue(store, record, title="x", severity=Severity.info, by="ann", step="deplo")
        with pytest.raises(UsageError, match="the update is empty"):
            post_update(store, record, text="  ", severity=Severity.info, by="ann")
    assert [(u.by, u.text, u.severity) for u in state.updates] == [("ann", "on time", "info")]
    assert [u.text for u in channel.sent] == ["on time"]
    found = state.issues[issue]
    assert (found.title, found.owner, found.step, found.by) == ("disk", "ann", "deploy", "bob")
    assert [c.text for c in found.comments] == ["cleaning"]
    assert (found.open, found.resolution, found.resolved_by) == (False, "cleaned", "ann")
