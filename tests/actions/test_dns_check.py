"""`golive check` on dns steps, dns checks and maintenance pages: offline, each mistake one
line with file:line; a long TTL is a warning, not an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from golive.plan import check_plan

PLAN = """\
golive: dns-check
title: DNS check
people: {ann: {name: Ann}}
policy: {rollback_within: 15m}
environments:
  production:
    secrets: {DNS_KEY: {env: DNS_KEY}}
steps:
  - id: cutover
    owner: ann
    estimate: 10m
    dns:
      zone: example.com
      name: www
      type: A
      values: [203.0.113.7]
      ttl: 60
      current_ttl: 300
      server: ns1.example.com
      tsig: {name: golive, secret: DNS_KEY}
  - id: answers
    owner: ann
    needs: [cutover]
    check: {dns: www.example.com, expect: [203.0.113.7], servers: [ns1.example.com], within: 5m}
"""


def check(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "plan.golive.yaml"
    path.write_text(text, encoding="utf-8")
    return [d.format() for d in check_plan(path).diagnostics]


def test_a_correct_dns_step_and_dns_check_pass(tmp_path: Path) -> None:
    assert check(tmp_path, PLAN) == []


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ("values: [203.0.113.7]", "values: [203.0.113]", 16, "is not a valid A value"),
        ("name: www", "name: www.example.org.", 14, "outside the zone example.com."),
        ("type: A", "type: AX", 15, "unknown record type 'AX'"),
        ("zone: example.com", "zone: exa mple..com", 13, "is not a DNS name"),
        ("secret: DNS_KEY}", "secret: DNS_KEX}", 20, "unknown secret 'DNS_KEX'"),
        ("expect: [203.0.113.7]", "expect: [nope]", 24, "is not a valid A value"),
    ],
)
def test_bad_dns_input_is_one_error_at_its_line(
    tmp_path: Path, old: str, new: str, line: int, expected: str
) -> None:
    found = check(tmp_path, PLAN.replace(old, new))
    errors = [d for d in found if ": error:" in d]
    assert len(errors) == 1, found
    assert errors[0].startswith(f"{tmp_path / 'plan.golive.yaml'}:{line}:"), errors[0]
    assert expected in errors[0]


def test_a_ttl_longer_than_the_switch_or_the_rollback_budget_is_a_warning(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        PLAN.replace("current_ttl: 300", "current_ttl: 86400").replace("ttl: 60\n", "ttl: 3600\n"),
    )
    assert all(": warning:" in d for d in found), found
    assert any("longer than the 10m it is given" in d and "48 h before" in d for d in found), found
    assert any("policy.rollback_within (15m)" in d for d in found), found


def test_golive_check_exits_1_on_a_bad_dns_step_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "plan.golive.yaml"
    path.write_text(PLAN.replace("type: A", "type: SOA"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "golive", "check", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert "cannot be set by a dns step" in done.stdout + done.stderr


def test_a_maintenance_page_with_both_page_and_page_file_is_an_error(tmp_path: Path) -> None:
    text = (
        PLAN.split("steps:")[0]
        + """steps:
  - id: maintenance
    owner: ann
    traffic: {strategy: maintenance, page: "<p>x</p>", page_file: page.html}
"""
    )
    found = check(tmp_path, text)
    assert len(found) == 1, found
    assert ":11:" in found[0]
    assert "not both" in found[0]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "servers: [ns1.example.com]",
            "server: [ns1.example.com]",
            "24:58: error: steps.answers.check: unknown key 'server' (did you mean 'servers'?)",
        ),
        (
            "values: [203.0.113.7]",
            "value: [203.0.113.7]",
            "16:7: error: steps.cutover.dns: unknown key 'value' (did you mean 'values'?)",
        ),
    ],
)
def test_a_misspelled_key_of_a_dns_step_or_check_is_named_with_a_hint(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    found = check(tmp_path, PLAN.replace(old, new))
    assert any(d.endswith(expected) or expected in d for d in found), found


def test_a_misspelled_key_of_a_maintenance_page_is_named_not_its_mode(tmp_path: Path) -> None:
    text = (
        PLAN.split("steps:")[0]
        + """steps:
  - id: maintenance
    owner: ann
    traffic: {strategy: maintenance, pag: "<p>x</p>"}
"""
    )
    (found,) = check(tmp_path, text)
    assert "steps.maintenance.traffic: unknown key 'pag' (did you mean 'page'?)" in found
