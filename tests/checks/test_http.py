"""HTTP checks against a real local server (the `site` and `https_site` fixtures)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest


def test_a_healthy_endpoint_passes_with_its_status_and_latency(run_check: Any, site: Any) -> None:
    outcome = run_check(f'{{http: "{site.url}/health", expect: 200}}')
    assert outcome.ok
    assert outcome.summary.startswith(f"GET {site.url}/health: HTTP 200 in ")
    assert outcome.summary.endswith(" ms")
    assert outcome.details["status"] == 200
    assert 0 <= outcome.details["latency_ms"] < 5000


def test_an_unexpected_status_fails_saying_what_was_expected_and_got(
    run_check: Any, site: Any
) -> None:
    outcome = run_check(f'{{http: "{site.url}/status/503"}}')
    assert not outcome.ok
    assert "expected 200, got 503 Service Unavailable" in outcome.summary
    assert outcome.details["status"] == 503


def test_expect_may_list_several_statuses(run_check: Any, site: Any) -> None:
    assert run_check(f'{{http: "{site.url}/status/204", expect: [200, 204]}}').ok
    failed = run_check(f'{{http: "{site.url}/status/404", expect: [200, 204]}}')
    assert "expected 200 or 204, got 404" in failed.summary


def test_redirects_are_not_followed(run_check: Any, site: Any) -> None:
    assert run_check(f'{{http: "{site.url}/redirect", expect: 302}}').ok
    assert site.paths == ["/redirect"]


def test_method_and_rendered_headers_are_sent(run_check: Any, site: Any) -> None:
    outcome = run_check(
        f"""{{http: "{site.url}/echo", method: POST,
             headers: {{Authorization: "Bearer {{{{ secrets.TOKEN }}}}"}},
             json: {{method: POST, headers.authorization: "Bearer {{{{ secrets.TOKEN }}}}"}}}}""",
        secrets={"TOKEN": "s3cr3t-token"},
    )
    assert outcome.ok, outcome.summary


def test_the_body_must_contain_the_expected_text(run_check: Any, site: Any) -> None:
    assert run_check(f'{{http: "{site.url}/health", body: "ok"}}').ok
    failed = run_check(f'{{http: "{site.url}/json", body: "maintenance"}}')
    assert not failed.ok
    assert "the body does not contain 'maintenance'" in failed.summary


def test_json_values_are_compared_at_dotted_paths_with_list_indexes(
    run_check: Any, site: Any
) -> None:
    outcome = run_check(
        f"""{{http: "{site.url}/json",
             json: {{status: ok, "data.items[0].status": ready, "data.items[-1].id": 2,
                     ratio: 0.50, healthy: true, version: "2.4.1"}}}}"""
    )
    assert outcome.ok, outcome.summary
    assert outcome.details["json"]["data.items[0].status"] == "ready"


def test_each_wrong_or_missing_json_value_is_named(run_check: Any, site: Any) -> None:
    outcome = run_check(
        f"""{{http: "{site.url}/json",
             json: {{"data.items[1].status": ready, "data.items[5].id": 1, healthy: 1}}}}"""
    )
    assert not outcome.ok
    assert 'data.items[1].status is "draining", expected "ready"' in outcome.summary
    assert "no data.items[5] in the JSON body" in outcome.summary
    assert "healthy is true, expected 1" in outcome.summary


def test_a_body_that_is_not_json_fails_a_json_expectation(run_check: Any, site: Any) -> None:
    outcome = run_check(f'{{http: "{site.url}/health", json: {{status: ok}}}}')
    assert not outcome.ok
    assert "the body is not JSON: 'ok'" in outcome.summary


def test_an_answer_slower_than_latency_below_fails(run_check: Any, site: Any) -> None:
    outcome = run_check(f'{{http: "{site.url}/slow/300", latency_below: 100ms}}')
    assert not outcome.ok
    assert "expected below 100 ms" in outcome.summary
    assert outcome.details["latency_ms"] >= 300
    assert run_check(f'{{http: "{site.url}/slow/0", latency_below: 5s}}').ok


def test_a_server_that_does_not_answer_in_time_fails_without_waiting_longer(
    run_check: Any, site: Any
) -> None:
    started = time.monotonic()
    outcome = run_check(f'{{http: "{site.url}/slow/3000"}}', timeout=0.3)
    assert not outcome.ok
    assert outcome.summary.endswith("no answer within 0.3s")
    assert time.monotonic() - started < 2.5


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_a_failed_outcome_not_an_exception(run_check: Any) -> None:
    outcome = run_check(f'{{http: "http://127.0.0.1:{closed_port()}/health"}}')
    assert not outcome.ok
    assert "cannot connect" in outcome.summary


@pytest.mark.parametrize("url", ["booking.example/health", "ftp://example.org/x"])
def test_a_url_golive_cannot_request_is_a_failed_outcome(run_check: Any, url: str) -> None:
    outcome = run_check(f'{{http: "{url}"}}')
    assert not outcome.ok
    assert "not a URL golive can request" in outcome.summary


def test_secrets_and_passwords_in_the_url_are_not_shown(run_check: Any, site: Any) -> None:
    host = site.url.removeprefix("http://")
    outcome = run_check(
        f'{{http: "http://ann:pa55word@{host}/status/500?token={{{{ secrets.TOKEN }}}}"}}',
        secrets={"TOKEN": "s3cr3t-token"},
    )
    assert not outcome.ok
    assert "s3cr3t-token" not in outcome.summary
    assert "pa55word" not in outcome.summary
    assert f"http://***@{host}/status/500?token=••••••" in outcome.summary


# --- TLS verification --------------------------------------------------------------------------


def test_an_untrusted_certificate_fails_the_request(run_check: Any, https_site: Any) -> None:
    outcome = run_check(f'{{http: "{https_site.url}/health"}}')
    assert not outcome.ok
    assert "TLS: certificate verify failed" in outcome.summary


def test_golive_ca_bundle_adds_a_trusted_ca(
    run_check: Any, https_site: Any, certificates: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLIVE_CA_BUNDLE", str(certificates.ca_file))
    outcome = run_check(f'{{http: "{https_site.url}/health"}}')
    assert outcome.ok, outcome.summary


def test_insecure_skips_verification(run_check: Any, https_site: Any) -> None:
    assert run_check(f'{{http: "{https_site.url}/health", insecure: true}}').ok


def test_a_golive_ca_bundle_that_cannot_be_read_is_named(
    run_check: Any, https_site: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLIVE_CA_BUNDLE", str(tmp_path / "missing.pem"))
    outcome = run_check(f'{{http: "{https_site.url}/health"}}')
    assert not outcome.ok
    assert f"GOLIVE_CA_BUNDLE={tmp_path / 'missing.pem'}: cannot load it" in outcome.summary


# --- within: retried until it passes ----------------------------------------------------------


def test_within_retries_until_the_endpoint_becomes_healthy(run_check: Any, site: Any) -> None:
    site.healthy_in(1.0)
    outcome = run_check(f'{{http: "{site.url}/health", expect: 200, within: 20s}}')
    assert outcome.ok, outcome.summary
    assert outcome.details["tries"] == 2
    assert 1.0 <= outcome.duration < 8
    assert "tries in" in outcome.summary


def test_within_gives_up_at_its_end_with_the_last_failure(run_check: Any, site: Any) -> None:
    site.healthy_in(60)
    outcome = run_check(f'{{http: "{site.url}/health", within: 1500ms}}')
    assert not outcome.ok
    assert "expected 200, got 503" in outcome.summary
    assert "still failing after" in outcome.summary
    assert 1.5 <= outcome.duration < 4


def test_a_long_secret_in_a_json_value_is_masked_before_the_summary_cuts_it(
    run_check: Any, site: Any
) -> None:
    secret = "canary-" + "s" * 50
    outcome = run_check(
        f"""{{http: "{site.url}/echo", headers: {{X-Token: "{{{{ secrets.T }}}}"}},
             json: {{"headers.x-token": nope}}}}""",
        secrets={"T": secret},
    )
    assert not outcome.ok
    assert 'headers.x-token is "••••••", expected "nope"' in outcome.summary
    assert "canary-" not in outcome.summary
    assert outcome.details["json"]["headers.x-token"] == "••••••"
