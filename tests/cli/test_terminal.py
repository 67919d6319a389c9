"""Escape sequences and line breaks in the log reach no terminal raw: `golive log` and
`golive status` show each control character as its escape, and a one-line field stays one line."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Golive

from golive.cli.terminal import visible, visible_lines
from golive.engine.call import comment_issue, post_update, raise_issue
from golive.engine.events import Severity
from golive.store import open_store
from golive.store.url import default_state_url

PLAN = r"""
golive: escapes
title: Escapes
people: {ann: {name: Ann}}
environments: {staging: {}}
steps:
  - id: noisy
    owner: ann
    run: printf 'clear\033[2J title\033]0;owned\007 back\rforged\n'
"""
RAW = ("\x1b", "\x07", "\r", "\x9b")


def test_control_characters_become_their_escapes_and_tabs_stay() -> None:
    assert visible("a\x1b[31mb\x07\r\n\x9bc\td\u202e") == "a\\x1b[31mb\\x07\\r\\n\\x9bc\td\\u202e"
    assert visible_lines("one\x1b[2J\ntwo\r") == ["one\\x1b[2J", "two\\r"]
    assert visible("plain • text ✓") == "plain • text ✓"


def test_log_and_status_show_escape_sequences_and_line_breaks_visibly(
    tmp_path: Path, golive: Golive
) -> None:
    path = tmp_path / "escapes.golive.yaml"
    path.write_text(PLAN, encoding="utf-8")
    assert golive("run", path, "--env", "staging", "--plain").returncode == 0
    with open_store(default_state_url(path)) as store:
        (run,) = store.runs()
        post_update(
            store,
            run,
            text="all good\n12:00:00 ✓ forged succeeded\x1b]0;title\x07",
            severity=Severity.info,
            by="ann",
        )
        issue = raise_issue(
            store, run, title="slow\r\x1b[1Afake line", severity=Severity.warning, by="ann"
        )
        comment_issue(store, run, issue=issue.seq, text="see\x1b[2Kthis\nnow", by="ann")

    log = golive("log", "--plan", path).stdout
    status = golive("status", "--plan", path).stdout

    for shown in (log, status):
        assert not any(char in shown for char in RAW), repr(shown)
    assert "noisy │ clear\\x1b[2J title\\x1b]0;owned\\x07 back\\rforged" in log
    assert "update from ann: all good\\n12:00:00 ✓ forged succeeded\\x1b]0;title\\x07" in log
    assert "raised by ann: slow\\r\\x1b[1Afake line" in log
    assert "ann commented: see\\x1b[2Kthis\\nnow" in log
    assert not any(line.startswith("12:00:00 ✓ forged") for line in log.splitlines())
    assert "open issue" in status
    assert "slow\\r\\x1b[1Afake line" in status
    assert "all good\\n12:00:00 ✓ forged succeeded" in status
