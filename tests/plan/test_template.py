"""Templates: `{{ vars.x }}`, `{{ release }}`, `{{ secrets.X }}` and nothing more."""

from __future__ import annotations

import pytest

from golive.plan.template import Reference, TemplateError, has_template, references, render


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
