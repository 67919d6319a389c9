"""`golive check | show | init | schema`, run as the real command in a subprocess."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

Golive = Callable[..., subprocess.CompletedProcess[str]]
BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken"


# --- check ------------------------------------------------------------------------------------


def test_check_passes_the_example_plan(golive: Golive, example_plan: Path) -> None:
    result = golive("check", example_plan)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"✓ {example_plan}: plan OK (11 steps, 0 errors, 0 warnings)" in result.stdout


def test_check_json_reports_a_clean_plan(golive: Golive, example_plan: Path) -> None:
    result = golive("check", example_plan, "--format", "json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["file"] == str(example_plan)
    assert (report["ok"], report["errors"], report["warnings"]) == (True, 0, 0)
    assert report["diagnostics"] == []


def test_check_json_reports_each_diagnostic_with_its_position_and_rule(golive: Golive) -> None:
    plan = BROKEN / "unknown-step-in-needs.golive.yaml"
    result = golive("check", plan, "-f", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["ok"], report["errors"], report["warnings"]) == (False, 1, 0)
    assert report["diagnostics"] == [
        {
            "file": str(plan),
            "line": 174,
            "column": 28,
            "severity": "error",
            "message": "steps.migrate.needs[1]: unknown step 'deploy-gren'",
            "hint": "did you mean 'deploy-green'?",
            "rule": "unknown-step",
        }
    ]


def test_check_json_counts_warnings_and_stays_ok(golive: Golive) -> None:
    result = golive("check", BROKEN / "run-step-without-undo.golive.yaml", "-f", "json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert (report["ok"], report["errors"], report["warnings"]) == (True, 0, 1)
    assert report["diagnostics"][0]["rule"] == "no-undo"


def test_check_with_an_unknown_environment_exits_2_with_one_line(
    golive: Golive, example_plan: Path
) -> None:
    result = golive("check", example_plan, "--env", "prod")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"golive: error: {example_plan}: no environment 'prod' (known: staging, production)"
    ]


def test_check_with_a_known_environment_passes(golive: Golive, example_plan: Path) -> None:
    assert golive("check", example_plan, "--env", "staging").returncode == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such plan file (check the path, or create one with `golive init`)"),
        ("directory", "this is a directory, not a plan file (name a *.golive.yaml file)"),
        (b"golive: caf\xe9\n", "the plan file is not valid UTF-8 (save it as UTF-8)"),
        (b"", "the plan is empty (start from `golive init`)"),
        (b"# only a comment\n", "the plan is empty (start from `golive init`)"),
        (b"- golive: x\n", "a plan is a mapping of keys (golive, title, steps, ...)"),
        (b"just text\n", "a plan is a mapping of keys (golive, title, steps, ...)"),
    ],
    ids=["missing", "directory", "not-utf8", "empty", "comment-only", "list", "scalar"],
)
def test_check_reports_an_unreadable_file_as_a_diagnostic(
    golive: Golive, tmp_path: Path, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / "plan.golive.yaml"
    if content == "directory":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    result = golive("check", path)
    assert result.returncode == 1
    assert f"{path}:1:1: error: {message}" in result.stdout
    assert f"✗ {path}: 1 error, 0 warnings" in result.stdout


# --- show -------------------------------------------------------------------------------------


def test_show_outlines_the_plan_with_its_critical_path(golive: Golive, example_plan: Path) -> None:
    result = golive("show", example_plan)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Online booking platform go-live  (gym-booking, times in Europe/Brussels)"
    assert "Window  Sun 2026-12-06 20:00 → Mon 2026-12-07 06:00  (10h)" in lines
    assert (
        "Critical path  deploy-green → migrate → verify-data → go-no-go → switch → welcome" in lines
    )
    assert "Total  1h30m if every estimate holds, in a window of 10h" in lines
    for step in ("announce", "freeze-legacy", "deploy-green", "welcome"):
        assert step in result.stdout


def test_show_refuses_a_broken_plan_with_its_errors(golive: Golive) -> None:
    plan = BROKEN / "dependency-cycle.golive.yaml"
    result = golive("show", plan)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{plan}:164:12: error: ")
    assert result.stderr.count("error:") == 1
    assert "dependency cycle: deploy-green -> smoke -> deploy-green" in result.stderr


def test_show_prints_square_brackets_in_a_title_as_written(
    golive: Golive, example_plan: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "brackets.golive.yaml"
    text = example_plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("title: Online booking platform go-live", 'title: "[/] [red]"'))
    result = golive("show", plan)
    assert result.returncode == 0
    assert result.stdout.startswith("[/] [red]  (gym-booking")


# --- init -------------------------------------------------------------------------------------


def test_init_writes_a_plan_that_passes_check(golive: Golive, tmp_path: Path) -> None:
    result = golive("init", tmp_path / "shop", "--timezone", "Europe/Brussels")
    assert result.returncode == 0, result.stderr
    plan = tmp_path / "shop" / "shop.golive.yaml"
    assert f"wrote {plan}" in result.stdout
    checked = golive("check", plan)
    assert checked.returncode == 0, checked.stdout
    assert "plan OK (4 steps, 0 errors, 0 warnings)" in checked.stdout
    assert golive("show", plan).returncode == 0


def test_init_names_the_plan_after_the_option(golive: Golive, tmp_path: Path) -> None:
    assert golive("init", "--name", "Big Launch!", cwd=tmp_path).returncode == 0
    assert (tmp_path / "Big-Launch.golive.yaml").exists()


def test_init_refuses_to_overwrite_without_force(golive: Golive, tmp_path: Path) -> None:
    assert golive("init", tmp_path, "--name", "shop").returncode == 0
    plan = tmp_path / "shop.golive.yaml"
    plan.write_text("# my edits\n", encoding="utf-8")
    refused = golive("init", tmp_path, "--name", "shop")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"golive: error: {plan} exists already; pass --force to overwrite it"
    )
    assert plan.read_text(encoding="utf-8") == "# my edits\n"
    forced = golive("init", tmp_path, "--name", "shop", "--force")
    assert forced.returncode == 0
    assert plan.read_text(encoding="utf-8").startswith("# A golive plan.")


def test_init_with_an_unknown_timezone_exits_2(golive: Golive, tmp_path: Path) -> None:
    result = golive("init", tmp_path, "--name", "shop", "--timezone", "Mars/Olympus")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "golive: error: --timezone 'Mars/Olympus' is not an IANA timezone (e.g. Europe/Brussels)"
    )


# --- schema -----------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """YAML as an editor's schema validator sees it: times are text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@pytest.fixture(scope="module")
def schema(golive: Golive) -> dict[str, Any]:
    result = golive("schema")
    assert result.returncode == 0
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_schema_describes_every_top_level_key(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "golive plan"
    assert schema["required"] == ["golive", "title"]
    assert schema["additionalProperties"] is False
    assert {"golive", "window", "policy", "people", "checklist", "steps", "hypercare"} <= set(
        schema["properties"]
    )
    assert {"Step", "Window", "Policy", "HttpCheck"} <= set(schema["$defs"])


def test_schema_accepts_the_example_and_the_starter_plan(
    schema: dict[str, Any], golive: Golive, example_plan: Path, tmp_path: Path
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    golive("init", tmp_path, "--name", "starter")
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    for path in (example_plan, tmp_path / "starter.golive.yaml"):
        data = plain(YAML(typ="safe").load(path.read_text(encoding="utf-8")))
        assert [e.message for e in validator.iter_errors(data)] == [], path


def test_schema_rejects_what_check_rejects(schema: dict[str, Any], example_plan: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = plain(YAML(typ="safe").load(example_plan.read_text(encoding="utf-8")))
    data["policy"]["rehearsals"] = "three"
    data["steps"][0]["estimte"] = "5m"
    messages = sorted(e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert messages[0] == "'three' is not valid under any of the given schemas"
    assert "'estimte' was unexpected" in " ".join(messages)
