"""`golive audit verify|head` and `golive log` through the real command line."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PLAN = """\
golive: shop
title: Shop
people: {ann: {name: Ann}}
environments: {staging: {}}
steps:
  - {id: one, owner: ann, run: "echo one"}
  - {id: two, owner: ann, needs: [one], run: "echo two"}
"""


def golive(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def ran(tmp_path: Path) -> Path:
    (tmp_path / "shop.golive.yaml").write_text(PLAN)
    result = golive("run", "shop.golive.yaml", "--env", "staging", "--plain", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_audit_verify_passes_then_names_the_event_changed_by_sql(ran: Path) -> None:
    plan = ["--plan", "shop.golive.yaml"]
    ok = golive("audit", "verify", *plan, cwd=ran)
    assert ok.returncode == 0, ok.stderr
    assert "audit chain holds" in ok.stdout

    head = golive("audit", "head", *plan, cwd=ran)
    assert head.returncode == 0, head.stderr
    published = head.stdout.strip()
    assert len(published) == 64

    with sqlite3.connect(ran / ".golive" / "state.db") as db:
        (seq,) = db.execute(
            "SELECT seq FROM events WHERE type = 'StepSucceeded' LIMIT 1"
        ).fetchone()
        db.execute(
            'UPDATE events SET data = \'{"attempt": 1, "duration": 0.1}\' WHERE seq = ?', (seq,)
        )

    broken = golive("audit", "verify", *plan, "--head", published, cwd=ran)
    assert broken.returncode == 1
    assert f"event seq {seq} (StepSucceeded) was changed after it was written" in broken.stderr
    assert "Traceback" not in broken.stderr

    log = golive("log", *plan, cwd=ran)
    assert f"audit chain BROKEN at seq {seq}: altered" in log.stdout

    postmortem = golive("postmortem", *plan, "--rehearsal", cwd=ran)
    assert postmortem.returncode == 0, postmortem.stderr
    assert "BROKEN" in postmortem.stdout


def test_lessons_and_follow_ups_are_added_from_the_command_line(ran: Path) -> None:
    plan = ["--plan", "shop.golive.yaml", "--rehearsal"]
    added = golive("postmortem", *plan, "--lesson", "Keep it small", "--as", "ann", cwd=ran)
    assert added.returncode == 0, added.stderr
    follow = golive(
        "postmortem",
        *plan,
        "--follow-up",
        "Automate one",
        "--owner",
        "ann",
        "--due",
        "2026-12-31",
        "--as",
        "ann",
        cwd=ran,
    )
    assert follow.returncode == 0, follow.stderr
    bad = golive("postmortem", *plan, "--follow-up", "x", "--owner", "bob", "--as", "ann", cwd=ran)
    assert bad.returncode != 0
    assert "owner bob: not a person of this plan" in bad.stderr
    bad_due = golive(
        "postmortem",
        *plan,
        "--follow-up",
        "x",
        "--owner",
        "ann",
        "--due",
        "soon",
        "--as",
        "ann",
        cwd=ran,
    )
    assert "is not a date: write it as YYYY-MM-DD" in bad_due.stderr

    out = ran / "review.html"
    written = golive("postmortem", *plan, "-f", "html", "-o", str(out), cwd=ran)
    assert written.returncode == 0, written.stderr
    html = out.read_text()
    assert "Keep it small" in html
    assert "Automate one" in html
    md = golive("postmortem", *plan, cwd=ran).stdout
    assert "- Keep it small (ann)" in md
    assert "| Automate one | ann | 2026-12-31 | ann |" in md
    assert "- **Audit chain:** holds" in md


def test_a_postmortem_without_production_runs_says_what_to_do(ran: Path) -> None:
    result = golive("postmortem", "--plan", "shop.golive.yaml", cwd=ran)
    assert result.returncode != 0
    assert "there is no production run" in result.stderr
    assert "--rehearsal" in result.stderr
