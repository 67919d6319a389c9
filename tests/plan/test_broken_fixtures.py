"""Each file in tests/fixtures/broken/ is the example plan with one change that breaks one rule.

Its header says what `golive check` must print about it, for instance

    # expect: 124:28: error: steps.migrate.needs[1]: unknown step 'deploy-gren'

The real command runs on it: every `expect` line must match a diagnostic at exactly that line
and column, and there must be no other diagnostic. Errors exit 1; warnings alone exit 0.
"""

from __future__ import annotations

import difflib
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gym-booking.golive.yaml"
FIXTURES = sorted(BROKEN.glob("*.golive.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (error|warning): (.+)$")
Golive = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Expectation:
    line: int
    column: int
    severity: str
    fragment: str

    def matches(self, path: Path, printed: str) -> bool:
        where = f"{path}:{self.line}:{self.column}: {self.severity}: "
        return printed.startswith(where) and self.fragment in printed


def expectations(path: Path) -> list[Expectation]:
    found = []
    for text in path.read_text(encoding="utf-8").splitlines():
        if match := EXPECT.match(text):
            line, column, severity, fragment = match.groups()
            found.append(Expectation(int(line), int(column), severity, fragment))
    return found


def diagnostics(path: Path, stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"{path}:")]


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.name.split(".")[0])
def test_broken_plan_gets_exactly_the_expected_diagnostics(golive: Golive, fixture: Path) -> None:
    expected = expectations(fixture)
    assert expected, f"{fixture.name} has no '# expect:' line"
    result = golive("check", fixture)
    printed = diagnostics(fixture, result.stdout)
    for expectation in expected:
        assert any(expectation.matches(fixture, line) for line in printed), (
            f"{fixture.name}: nothing at {expectation.line}:{expectation.column} "
            f"saying {expectation.fragment!r}; golive printed:\n{result.stdout}"
        )
    assert len(printed) == len(expected), result.stdout
    errors = sum(e.severity == "error" for e in expected)
    assert re.search(rf"\b{errors} errors?, ", result.stdout), result.stdout
    assert result.returncode == (1 if errors else 0), result.stdout + result.stderr


def test_there_is_a_broken_fixture_for_every_rule_the_foundation_promises() -> None:
    names = {path.name.split(".")[0] for path in FIXTURES}
    promised = {
        "yaml-syntax",
        "unknown-key",
        "wrong-type",
        "duplicate-step-id",
        "unknown-person",
        "unknown-step-in-needs",
        "unknown-host-group",
        "unknown-variable",
        "dependency-cycle",
        "step-without-owner",
        "checklist-item-without-owner",
        "checklist-due-after-window-start",
        "window-on-friday",
        "window-on-public-holiday",
        "window-in-freeze",
        "window-leaves-quiet-hours",
        "window-shorter-than-critical-path",
        "quorum-above-approvers",
        "run-step-without-undo",
    }
    assert promised <= names, sorted(promised - names)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.name.split(".")[0])
def test_broken_fixture_is_the_example_with_a_small_change(fixture: Path) -> None:
    """Guards against fixtures drifting into different plans (regenerate them if this fails)."""
    example = EXAMPLE.read_text(encoding="utf-8").splitlines()
    lines = fixture.read_text(encoding="utf-8").splitlines()
    body = lines[next(i for i, line in enumerate(lines) if line == example[0]) :]
    diff = difflib.unified_diff(example, body, n=0, lineterm="")
    changed = sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    assert 0 < changed <= 6, f"{fixture.name} differs from the example in {changed} lines"
