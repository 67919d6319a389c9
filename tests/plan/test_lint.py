"""Lint rules that need the whole plan, beyond the one-rule fixtures in tests/fixtures/broken."""

from __future__ import annotations

from pathlib import Path

from golive.plan import check_plan

PLAN = """\
golive: demo
title: Demo
people: {ann: {name: Ann}}
environments:
  staging: {hosts: {app: [s1]}, vars: {url: http://staging}}
  production: {hosts: {web: [p1]}, vars: {url: https://prod, api_token: abc}}
steps:
  - id: deploy
    owner: ann
    on: app
    run: ./deploy.sh {{ vars.url }} {{ vars.colour }} {{ release }} {{ vars }}
    undo: ./undeploy.sh
  - id: tidy
    owner: ann
    batch: 2
    manual: true
"""


def rules(tmp_path: Path, env: str | None = None) -> list[tuple[int, str, str]]:
    path = tmp_path / "plan.golive.yaml"
    path.write_text(PLAN, encoding="utf-8")
    found = check_plan(path, env=env).diagnostics
    return [(d.line, d.rule, d.message) for d in found]


def test_references_are_checked_against_every_environment(tmp_path: Path) -> None:
    found = rules(tmp_path)
    assert (
        10,
        "unknown-host-group",
        "steps.deploy.on: unknown host group 'app' in environment 'production'",
    ) in found
    assert (
        11,
        "unknown-variable",
        "steps.deploy.run: '{{ vars.colour }}' is not defined in "
        "environments 'staging', 'production'",
    ) in found


def test_env_narrows_the_references_to_that_environment(tmp_path: Path) -> None:
    found = [rule for _, rule, _ in rules(tmp_path, env="staging")]
    assert "unknown-host-group" not in found
    assert found.count("unknown-variable") == 1


def test_a_namespace_without_a_name_is_a_template_error(tmp_path: Path) -> None:
    assert (11, "template", "steps.deploy.run: '{{ vars }}' needs a name: vars.x") in rules(
        tmp_path
    )


def test_batch_without_a_host_group_is_an_error(tmp_path: Path) -> None:
    assert (
        13,
        "batch-without-hosts",
        "steps.tidy: batch and max_failures apply to steps with on: GROUP",
    ) in rules(tmp_path)


def test_a_secret_looking_variable_is_a_warning(tmp_path: Path) -> None:
    assert (
        6,
        "literal-secret",
        "environments.production.vars.api_token: looks like a secret written into the plan",
    ) in rules(tmp_path)


def test_steps_without_estimates_are_warned_about_only_when_there_is_a_window(
    tmp_path: Path,
) -> None:
    assert "no-estimate" not in [rule for _, rule, _ in rules(tmp_path)]


QUOTED = """\
golive: quoted
title: Quoted
people: {ann: {name: Ann}}
environments:
  staging: {vars: {name: x, db: "sqlite:///x.db"}}
steps:
  - id: greet
    owner: ann
    run: echo 'hello {{ vars.name }}' "and {{ vars.name }}"
    undo: echo '{{ raw vars.name }}'
  - id: test
    owner: ann
    check: {run: "test '{{ vars.name }}' = x"}
  - id: store
    owner: ann
    sql: {db: "{{ vars.db }}", statement: "insert into t values ('{{ vars.name }}')"}
    undo: delete from t where name = '{{ vars.name }}'
"""


def test_a_template_inside_single_quotes_of_a_shell_command_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "quoted.golive.yaml"
    path.write_text(QUOTED, encoding="utf-8")
    found = [(d.line, d.rule, d.message) for d in check_plan(path).diagnostics]
    quoting = [f for f in found if f[1] == "shell-quoting"]
    assert [(line, message.split(":")[0]) for line, _, message in quoting] == [
        (9, "steps.greet.run"),
        (13, "steps.test.check.run"),
    ]
    assert "{{ vars.name }} stands inside single quotes" in quoting[0][2]
