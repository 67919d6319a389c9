"""evaluate(): dispatch, `within` retries on an injected clock, run: and step: checks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from golive.actions.base import RunResources
from golive.checks import CheckOutcome, evaluate
from golive.checks.evaluation import RETRY_PAUSE


class Clock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_within_pauses_between_tries_and_shortens_the_last_pause(
    run_check: Any, tmp_path: Path
) -> None:
    clock = Clock()
    outcome = run_check(
        f'{{run: "test -f {tmp_path}/ready", within: 5s}}',
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )
    assert not outcome.ok
    assert clock.sleeps == [RETRY_PAUSE, RETRY_PAUSE, 1.0]
    assert outcome.details["tries"] == 4
    assert outcome.summary == "exit code 1 (still failing after 5s, 4 tries)"


def test_within_stops_at_the_first_pass(run_check: Any, tmp_path: Path) -> None:
    clock = Clock()
    heard: list[str] = []

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        if len(clock.sleeps) == 2:
            (tmp_path / "ready").touch()

    outcome = run_check(
        f'{{run: "test -f {tmp_path}/ready", within: 2m}}',
        monotonic=clock.monotonic,
        sleep=sleep,
        on_retry=lambda failed: heard.append(failed.summary),
    )
    assert outcome.ok
    assert outcome.summary == "the command exited 0 (after 3 tries in 4s)"
    assert heard == ["exit code 1", "exit code 1"]


def test_without_within_a_check_is_tried_once(run_check: Any, tmp_path: Path) -> None:
    clock = Clock()
    outcome = run_check(
        f'{{run: "test -f {tmp_path}/ready"}}', monotonic=clock.monotonic, sleep=clock.sleep
    )
    assert not outcome.ok
    assert clock.sleeps == []
    assert "tries" not in outcome.details


def test_a_run_check_streams_its_output_and_uses_the_workdir_and_environment(
    run_check: Any, tmp_path: Path
) -> None:
    lines: list[tuple[str, str]] = []
    outcome = run_check(
        '{run: "pwd; echo $WHO; echo oops >&2; exit 3"}',
        workdir=tmp_path,
        environ={"WHO": "ann", "PATH": "/usr/bin:/bin"},
        output=lambda stream, line: lines.append((stream, line)),
    )
    assert not outcome.ok
    assert outcome.summary == "exit code 3: oops"
    assert outcome.details == {"exit_code": 3}
    assert ("stdout", str(tmp_path)) in lines
    assert ("stdout", "ann") in lines
    assert ("stderr", "oops") in lines


def test_a_run_check_takes_a_value_with_shell_syntax_as_data(
    run_check: Any, tmp_path: Path
) -> None:
    lines: list[tuple[str, str]] = []
    value = "x; touch pwned; $(touch pwned) `touch pwned`"
    outcome = run_check(
        '{run: "printf %s {{ vars.v }}"}',
        vars={"v": value},
        workdir=tmp_path,
        output=lambda stream, line: lines.append((stream, line)),
    )
    assert outcome.ok, outcome.summary
    assert lines == [("stdout", value)]
    assert not (tmp_path / "pwned").exists()
    refused = run_check("{run: \"test '{{ vars.v }}' = x\"}", vars={"v": "x"})
    assert not refused.ok
    assert "stands inside single quotes" in refused.summary


def test_a_run_check_is_stopped_at_its_timeout(run_check: Any) -> None:
    outcome = run_check('{run: "sleep 5", timeout: 200ms}')
    assert not outcome.ok
    assert outcome.summary == "timed out after 0.2s"


@pytest.mark.parametrize(
    ("status", "ok", "summary"),
    [
        ("succeeded", True, "step verify-data succeeded"),
        ("failed", False, "step verify-data has not succeeded (it is failed)"),
        (None, False, "no step verify-data in this run"),
    ],
)
def test_a_step_check_passes_when_the_step_has_succeeded(
    run_check: Any, status: str | None, ok: bool, summary: str
) -> None:
    outcome = run_check("{step: verify-data}", step_state={"verify-data": status}.get)
    assert (outcome.ok, outcome.summary) == (ok, summary)


def test_a_step_check_without_a_run_says_it_needs_one(run_check: Any) -> None:
    outcome = run_check("{step: verify-data}")
    assert not outcome.ok
    assert outcome.summary == "step verify-data: this check needs a run to look at"


def test_a_template_without_a_value_fails_the_check(run_check: Any) -> None:
    outcome = run_check('{http: "{{ vars.new_url }}/health"}')
    assert not outcome.ok
    assert outcome.summary == "cannot fill in the check: '{{ vars.new_url }}' has no value here"


def test_a_bug_in_a_check_still_raises() -> None:
    from golive.plan.models import HttpCheck

    def broken(text: str) -> str:
        raise KeyError(text)

    async def main() -> CheckOutcome:
        resources = RunResources()
        try:
            return await evaluate(
                HttpCheck(http="x"), render=broken, redact=str, resources=resources
            )
        finally:
            await resources.aclose()

    with pytest.raises(KeyError):
        asyncio.run(main())
