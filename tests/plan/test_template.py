"""Templates: `{{ vars.x }}`, `{{ release }}`, `{{ secrets.X }}` and nothing more."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from golive.plan import check_plan
from golive.plan.template import (
    Reference,
    TemplateError,
    has_template,
    references,
    render,
    render_url,
)


def test_references_name_each_substitution_in_order() -> None:
    found = list(references("deploy {{ release }} to {{vars.app_dir}} as {{ secrets.DB_PASS }}"))
    assert [(r.name, r.attribute) for r in found] == [
        ("release", None),
        ("vars", "app_dir"),
        ("secrets", "DB_PASS"),
    ]
    assert all(r.problem is None for r in found)


def test_text_without_templates_has_no_references() -> None:
    assert list(references("echo { not } a {template}")) == []
    assert not has_template("plain")
    assert has_template("{{ release }}")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{{ vars }}", "'{{ vars }}' needs a name: vars.x"),
        ("{{ release.x }}", "unknown template name 'release.x'"),
        ("{{ version }}", "unknown template name 'version' (known: vars.NAME, secrets.NAME"),
        ("{{ vars.a | upper }}", "unknown template name 'vars.a | upper'"),
        ("{{ }}", "unknown template name ''"),
    ],
)
def test_a_reference_that_cannot_be_substituted_says_why(text: str, problem: str) -> None:
    (reference,) = references(text)
    assert reference.problem is not None
    assert reference.problem.startswith(problem)


def test_a_reference_may_span_lines() -> None:
    assert list(references("{{\n release\n}}")) == [Reference("release", None, "\n release\n")]


def test_render_substitutes_values_and_namespaces() -> None:
    text = "./deploy.sh {{ release }} {{ vars.target }} {{secrets.TOKEN}}"
    rendered = render(
        text,
        values={"release": "1.4.2"},
        namespaces={"vars": {"target": "green"}, "secrets": {"TOKEN": "t0k"}},
    )
    assert rendered == "./deploy.sh 1.4.2 green t0k"


def test_render_leaves_text_without_templates_alone() -> None:
    assert render("echo {a} }}{{", values={}, namespaces={}) == "echo {a} }}{{"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ vars.missing }}", "'{{ vars.missing }}' has no value here"),
        ("{{ release }}", "'{{ release }}' has no value here"),
        ("{{ nowhere.x }}", "'{{ nowhere.x }}' has no value here"),
        ("{{ vars.a | upper }}", "cannot read template"),
    ],
)
def test_render_refuses_a_name_it_has_no_value_for(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("|", r"\|")):
        render(text, values={}, namespaces={"vars": {"a": "1"}})


# --- linear scanning: a text full of `{{` costs one pass ----------------------------------------


def test_scanning_a_megabyte_of_open_braces_is_linear() -> None:
    started = time.perf_counter()
    assert list(references("{{" * 500_000)) == []
    assert render("{{" * 500_000, values={}, namespaces={}) == "{{" * 500_000
    assert len(list(references("{{ release }}" * 80_000))) == 80_000
    # the regex this replaced took 29 s for 80 KB; one pass over 1 MB takes milliseconds
    assert time.perf_counter() - started < 2.0


def test_golive_check_of_a_plan_with_80_kb_of_braces_in_notes_is_fast(tmp_path: Path) -> None:
    path = tmp_path / "braces.golive.yaml"
    notes = "{{" * 40_000
    path.write_text(
        "golive: braces\ntitle: Braces\npeople: {ann: {name: Ann}}\nsteps:\n"
        f"  - {{id: a, owner: ann, run: 'true', notes: '{notes}'}}\n",
        encoding="utf-8",
    )
    started = time.perf_counter()
    check_plan(path)
    assert time.perf_counter() - started < 2.0


# --- raw, and database URLs ---------------------------------------------------------------------


def test_raw_is_read_as_a_keyword_and_renders_the_plain_value_outside_shell_commands() -> None:
    (reference,) = references("{{ raw vars.x }}")
    assert (reference.name, reference.attribute, reference.raw) == ("vars", "x", True)
    assert reference.problem is None
    assert render("{{ raw vars.x }}", values={}, namespaces={"vars": {"x": "a b"}}) == "a b"
    (unknown,) = references("{{ raw }}")
    assert unknown.problem is not None
    assert "unknown template name 'raw'" in unknown.problem


def test_keep_unknown_leaves_a_name_without_value_as_written() -> None:
    text = "deploy {{ release }} by {{ vars.who }}"
    assert render(text, values={}, namespaces={"vars": {"who": "ann"}}, keep_unknown=True) == (
        "deploy {{ release }} by ann"
    )


def test_a_value_in_the_password_or_query_of_a_database_url_is_percent_encoded() -> None:
    secrets = {"PW": "p@ss:w/rd%", "URL": "postgresql://u:x@h/d"}

    def fill(text: str) -> str:
        return render(text, values={}, namespaces={"secrets": secrets, "vars": {"h": "db:5432"}})

    url = "postgresql://golive:{{ secrets.PW }}@{{ vars.h }}/shop?password={{ secrets.PW }}"
    assert render_url(url, fill) == (
        "postgresql://golive:p%40ss%3Aw%2Frd%25@db:5432/shop?password=p%40ss%3Aw%2Frd%25"
    )
    assert render_url("{{ secrets.URL }}", fill) == "postgresql://u:x@h/d"  # a whole URL as is
