"""Shell injection through values, with the real `golive run`: a release with shell syntax is
refused; a variable or secret with shell syntax reaches the command literally, on this machine
and over SSH (the test sshd), and runs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Golive

from golive.engine.context import check_release
from golive.errors import UsageError
from golive.store import open_store
from golive.testing.ssh import alias

KINDS = {
    "semicolon": "1.0; touch {pwned}; echo",
    "substitution": "$(touch {pwned})",
    "backticks": "`touch {pwned}`",
    "newline": "1.0\ntouch {pwned}",
    "quotes": "a'b\"c'; touch {pwned}; echo \"'",
}


def plan(tmp_path: Path, value: str, *, on: str | None) -> Path:
    """One step that writes the variable, the secret and the release to a file, one a line."""
    where = "    on: web\n" if on else ""
    text = (
        "golive: inject\n"
        "title: Injection\n"
        "people: {ann: {name: Ann}}\n"
        "environments:\n"
        "  staging:\n"
        f"    hosts: {{web: [{alias(1)}]}}\n"
        f"    vars: {{dir: {json.dumps(str(tmp_path))}, odd: {json.dumps(value)}}}\n"
        "    secrets: {TOKEN: {env: GOLIVE_TEST_ODD}}\n"
        "steps:\n"
        "  - id: write\n"
        "    owner: ann\n" + where + "    run: >-\n"
        "      printf '%s\\n' {{ vars.odd }} \"secret={{ secrets.TOKEN }}\" {{ release }}\n"
        "      > {{ vars.dir }}/out.txt\n"
    )
    path = tmp_path / "inject.golive.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def runs(tmp_path: Path) -> list[str]:
    with open_store(f"sqlite:///{tmp_path / '.golive' / 'state.db'}") as store:
        return [r.id for r in store.runs()]


@pytest.fixture(params=["local", "ssh"])
def on(request: pytest.FixtureRequest) -> str | None:
    if request.param == "ssh":
        request.getfixturevalue("ssh_env")
        return "web"
    return None


@pytest.mark.parametrize("kind", KINDS)
def test_a_variable_and_a_secret_with_shell_syntax_arrive_literally_and_run_nothing(
    kind: str,
    on: str | None,
    tmp_path: Path,
    golive: Golive,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pwned = tmp_path / "pwned"
    value = KINDS[kind].format(pwned=pwned)
    monkeypatch.setenv("GOLIVE_TEST_ODD", value)
    path = plan(tmp_path, value, on=on)

    done = golive("run", path, "--env", "staging", "--release", "1.4.2+build.7", "--plain")

    assert done.returncode == 0, done.stdout + done.stderr
    assert not pwned.exists()
    written = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert written == f"{value}\nsecret={value}\n1.4.2+build.7\n"


@pytest.mark.parametrize("kind", KINDS)
def test_a_release_with_shell_syntax_is_refused_in_one_line_before_anything_runs(
    kind: str, on: str | None, tmp_path: Path, golive: Golive, monkeypatch: pytest.MonkeyPatch
) -> None:
    pwned = tmp_path / "pwned"
    release = KINDS[kind].format(pwned=pwned)
    monkeypatch.setenv("GOLIVE_TEST_ODD", "fine")
    path = plan(tmp_path, "fine", on=on)

    done = golive("run", path, "--env", "staging", "--release", release, "--plain")

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("golive: error: release ")
    assert "a release is 1 to 64 letters, digits and . _ + -" in done.stderr
    assert not pwned.exists()
    assert not (tmp_path / "out.txt").exists()
    assert runs(tmp_path) == []  # refused before the run is recorded


@pytest.mark.parametrize("release", ["", "-rc1", ".1", "x" * 65, "1.0 beta", "1/2", "1.0é"])
def test_a_release_outside_the_pattern_is_refused(release: str) -> None:
    with pytest.raises(UsageError, match="is not valid: a release is 1 to 64 letters"):
        check_release(release)


@pytest.mark.parametrize("release", ["1", "1.4.2", "2026.12-rc1", "1.4.2+build.7", "v_2", "x" * 64])
def test_a_plain_version_is_a_valid_release(release: str) -> None:
    check_release(release)
