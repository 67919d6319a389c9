"""`sentry:` checks against golive.testing.sentry, a fake Sentry serving the documented API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Golive

from golive.checks.sentry import next_cursor, stats_period
from golive.plan import load_plan
from golive.store import open_store
from golive.store.url import default_state_url
from golive.testing.sentry import SentryServer

TOKEN = "sntrys_canary-5ecret-0123456789"


@pytest.fixture
def sentry() -> Iterator[SentryServer]:
    with SentryServer.start(token=TOKEN) as server:
        server.add_project("gym", "booking")
        server.add_project("gym", "website")
        yield server


def check(sentry: SentryServer, *extra: str, release: str = "2.0.0") -> str:
    more = "".join(f", {e}" for e in extra) if extra else ", below: 1"
    return (
        f'{{sentry: gym/booking, url: "{sentry.url}", release: "{release}", '
        f'token: "{{{{ secrets.SENTRY_TOKEN }}}}"{more}}}'
    )


SECRETS = {"SENTRY_TOKEN": TOKEN}


def test_new_issues_in_the_release_turn_the_check_red(sentry: SentryServer, run_check: Any) -> None:
    first = sentry.add_issue("gym", "booking", "TypeError: slot is undefined", release="2.0.0")
    sentry.add_issue("gym", "booking", "KeyError: 'room'", release="2.0.0")

    outcome = run_check(check(sentry), secrets=SECRETS)

    assert not outcome.ok
    assert outcome.summary.endswith(f"2 new issues ({first}, BOOKING-2), expected below 1")
    assert outcome.details["count"] == 2
    assert outcome.details["issues"][0] == {"id": first, "title": "TypeError: slot is undefined"}
    assert TOKEN not in json.dumps(outcome.details) + outcome.summary


def test_old_issues_and_other_releases_and_projects_keep_it_green(
    sentry: SentryServer, run_check: Any
) -> None:
    old = sentry.add_issue("gym", "booking", "Old bug", release="1.9.0")
    sentry.add_events(old, release="2.0.0", count=40)  # an old issue seen again: not new
    sentry.add_issue("gym", "booking", "Next release bug", release="2.1.0")
    sentry.add_issue("gym", "website", "Other project", release="2.0.0")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    sentry.add_issue("gym", "booking", "Beyond the period", release="2.0.0", first_seen=long_ago)

    outcome = run_check(check(sentry), secrets=SECRETS)

    assert outcome.ok, outcome.summary
    assert outcome.summary.endswith(
        "sentry " + sentry.url + " gym/booking release 2.0.0: 0 new issues"
    )
    query = next(r for r in sentry.requests if "/issues/" in r)
    assert "query=firstRelease%3A2.0.0" in query
    assert "project=1" in query


def test_events_are_counted_in_the_release(sentry: SentryServer, run_check: Any) -> None:
    old = sentry.add_issue("gym", "booking", "Old bug", release="1.9.0", events=7)
    sentry.add_events(old, release="2.0.0", count=40)
    sentry.add_issue("gym", "booking", "New bug", release="2.0.0", events=3)

    red = run_check(check(sentry, "measure: events", "below: 25"), secrets=SECRETS)
    green = run_check(check(sentry, "measure: events", "equals: 43"), secrets=SECRETS)

    assert not red.ok
    assert red.summary.endswith("43 events, expected below 25")
    assert green.ok
    assert green.details == {"count": 43}


def test_every_page_is_read_through_the_link_header(sentry: SentryServer, run_check: Any) -> None:
    for n in range(230):
        sentry.add_issue("gym", "booking", f"Bug {n}", release="2.0.0")

    outcome = run_check(check(sentry, "equals: 230"), secrets=SECRETS)

    assert outcome.ok, outcome.summary
    pages = [r for r in sentry.requests if "/issues/" in r]
    assert len(pages) == 3
    assert "cursor=0%3A100%3A0" in pages[1]
    assert "cursor=0%3A200%3A0" in pages[2]
    assert len(outcome.details["issues"]) == 10  # the record keeps the first ten


def test_a_query_narrows_the_count(sentry: SentryServer, run_check: Any) -> None:
    sentry.add_issue("gym", "booking", "Fixed already", release="2.0.0", status="resolved")
    sentry.add_issue("gym", "booking", "A warning", release="2.0.0", level="warning")

    outcome = run_check(
        check(sentry, 'query: "is:unresolved level:error"', "below: 1"), secrets=SECRETS
    )

    assert outcome.ok, outcome.summary


def test_a_release_with_spaces_is_quoted(sentry: SentryServer, run_check: Any) -> None:
    sentry.add_issue("gym", "booking", "Bug", release="booking 2.0")

    outcome = run_check(check(sentry, release="booking 2.0"), secrets=SECRETS)

    assert not outcome.ok
    assert "1 new issue (BOOKING-1)" in outcome.summary


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("bad-token", "Sentry refused the token (401): check the secret holds a valid token"),
        ("unknown-project", "no such organization or project (404): check the slugs"),
        ("forbidden", "the token may not read this project (403)"),
        ("rate-limited", "rate limited by Sentry (429); Sentry asks to wait 30s: run the check"),
    ],
)
def test_sentry_refusals_are_clear_failures_without_the_token(
    sentry: SentryServer, run_check: Any, setup: str, expected: str
) -> None:
    text = check(sentry)
    secrets = SECRETS
    if setup == "bad-token":
        secrets = {"SENTRY_TOKEN": "sntrys_wrong-canary-token-42"}
    elif setup == "unknown-project":
        text = text.replace("gym/booking", "gym/bookng")
    elif setup == "forbidden":
        sentry.fail_next(403)
    else:
        sentry.fail_next(429, retry_after="30")

    outcome = run_check(text, secrets=secrets)

    assert not outcome.ok
    assert expected in outcome.summary
    for secret in secrets.values():
        assert secret not in outcome.summary
        assert secret[:10] not in outcome.summary


def test_an_unreachable_sentry_is_a_failure(run_check: Any) -> None:
    text = '{sentry: gym/booking, url: "http://127.0.0.1:9", release: r, token: t, below: 1}'

    outcome = run_check(text)

    assert not outcome.ok
    assert "cannot reach Sentry" in outcome.summary


def test_the_link_header_and_the_period_are_read_as_sentry_writes_them() -> None:
    link = (
        '<https://sentry.io/api/0/organizations/gym/issues/?cursor=0:0:1>; rel="previous"; '
        'results="false"; cursor="0:0:1", '
        '<https://sentry.io/api/0/organizations/gym/issues/?cursor=0:100:0>; rel="next"; '
        'results="true"; cursor="0:100:0"'
    )
    assert next_cursor(link) == "0:100:0"
    assert next_cursor(link.replace('results="true"', 'results="false"')) is None
    assert next_cursor("") is None
    assert [stats_period(dt.timedelta(seconds=s)) for s in (86400 * 14, 7200, 90, 604800)] == [
        "2w",
        "2h",
        "90s",
        "1w",
    ]


PLAN = """\
golive: sentry
title: Sentry everywhere
people: {{ann: {{name: Ann}}}}
objectives:
  - id: no-new-errors
    title: No new errors
    check: {check}
environments:
  staging:
    secrets:
      SENTRY_TOKEN: {{env: GOLIVE_TEST_SENTRY_TOKEN}}
steps:
  - id: errors
    owner: ann
    check: {check}
  - id: go
    owner: ann
    needs: [errors]
    gate: Go?
    approvers: [ann]
    checks: [{check}]
hypercare:
  duration: 48h
  monitors: [{check}]
"""


def test_a_sentry_check_fits_steps_gates_objectives_and_monitors(
    tmp_path: Path, sentry: SentryServer
) -> None:
    path = tmp_path / "sentry.golive.yaml"
    path.write_text(PLAN.format(check=check(sentry)), encoding="utf-8")

    plan = load_plan(path, env="staging").plan

    assert plan.objectives[0].check is not None
    assert plan.hypercare is not None
    kinds = {type(c).__name__ for c in (plan.objectives[0].check, plan.step("go").checks[0])}
    assert kinds == {"SentryCheck"}


def test_a_sentry_check_needs_an_expectation(tmp_path: Path, golive: Golive) -> None:
    path = tmp_path / "sentry.golive.yaml"
    no_bound = "{sentry: gym/booking, release: r, token: t}"
    path.write_text(PLAN.format(check=no_bound).replace("{{", "{"), encoding="utf-8")

    done = golive("check", path)

    assert done.returncode == 1
    assert (
        "a sentry check needs one expectation: below: N or equals: N" in done.stdout + done.stderr
    )


def test_the_token_appears_nowhere_golive_writes(
    tmp_path: Path, golive: Golive, sentry: SentryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sentry.add_issue("gym", "booking", "TypeError: slot is undefined", release="2.0.0")
    monkeypatch.setenv("GOLIVE_TEST_SENTRY_TOKEN", TOKEN)
    plan = f"""\
golive: sentry
title: Sentry canary
failure: continue
people: {{ann: {{name: Ann}}}}
environments:
  staging:
    secrets:
      SENTRY_TOKEN: {{env: GOLIVE_TEST_SENTRY_TOKEN}}
steps:
  - id: errors
    owner: ann
    check: {check(sentry)}
  - id: wrong-project
    owner: ann
    check: {check(sentry).replace("gym/booking", "gym/x")}
"""
    path = tmp_path / "sentry.golive.yaml"
    path.write_text(plan, encoding="utf-8")

    done = golive("run", path, "--env", "staging", "--plain")
    texts = [done.stdout + done.stderr]
    for args in (("log", "--plan", path), ("status", "--plan", path, "--format", "json")):
        shown = golive(*args)
        texts.append(shown.stdout + shown.stderr)
    with open_store(default_state_url(path)) as store:
        (record,) = store.runs()
        texts.append("\n".join(json.dumps(e.data) for e in store.events(record.id)))

    assert done.returncode != 0
    assert "1 new issue (BOOKING-1), expected below 1" in texts[0]
    assert "no such organization or project (404)" in texts[0]
    everything = "\n".join(texts)
    assert TOKEN not in everything
    assert TOKEN[:12] not in everything


def test_a_gate_card_shows_what_the_check_expects_but_not_its_token() -> None:
    from tests.checks.conftest import parse_check

    from golive.web.views import check_evidence

    card = check_evidence(
        parse_check('{sentry: gym/booking, release: r, token: "sntrys_x1", below: 1}')
    )

    assert card["label"] == "sentry gym/booking"
    assert {"key": "token", "value": "••••••"} in card["evidence"]
    assert {"key": "below", "value": "1"} in card["evidence"]
    assert "sntrys_x1" not in str(card)


def test_a_secret_quoted_in_an_error_title_is_masked_before_the_title_is_cut(
    sentry: SentryServer, run_check: Any
) -> None:
    password = "canary-pa55word-" + "p" * 80
    sentry.add_issue(
        "gym", "booking", f"OperationalError: postgresql://app:{password}@db", release="2.0.0"
    )

    outcome = run_check(check(sentry), secrets={**SECRETS, "DB_PASSWORD": password})

    (issue,) = outcome.details["issues"]
    assert issue["title"].startswith("OperationalError: postgresql://app:••••••@db")
    assert "canary-pa55" not in json.dumps(outcome.details)
