"""The docs are tested: a CLI command or option, a plan key, an event type or a lint rule that
the code has and docs/ does not describe fails here, with what to add and where."""

from __future__ import annotations

import ast
import dataclasses
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel, WithJsonSchema

from golive.cli.app import app, register
from golive.engine.events import EVENT_TYPES
from golive.plan import check_plan
from golive.plan.models import Plan

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RULE_SOURCES = [ROOT / "src" / "golive" / "plan" / name for name in ("lint.py", "schedule.py")]
RULES_SECTION = "What `golive check` reports"  # in plan.md; rules are defined there, keys elsewhere

# A heading or a list item whose first word is `key`: where the docs define something.
DEFINITION = re.compile(r"^\s*(?:#{1,6}\s+|[-*]\s+|\d+\.\s+)`([^`]+)`")


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def defined(text: str) -> set[str]:
    """What a document defines: the first `code` word of each heading and list item."""
    return {m.group(1) for line in text.splitlines() if (m := DEFINITION.match(line))}


def sections(text: str) -> dict[str, str]:
    """The document's `## ` sections by title, and the text before the first one as ''."""
    parts: dict[str, str] = {}
    title, lines = "", []
    for line in text.splitlines():
        if line.startswith("## "):
            parts[title] = "\n".join(lines)
            title, lines = line[3:].strip(), []
        else:
            lines.append(line)
    parts[title] = "\n".join(lines)
    return parts


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone: what is missing and where to document it."""
    if not condition:
        pytest.fail(message, pytrace=False)


def list_items(text: str) -> list[str]:
    """Each list item with its indented continuation lines, as one string."""
    items: list[str] = []
    for line in text.splitlines():
        if re.match(r"^\s*[-*]\s+", line):
            items.append(line)
        elif items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
    return items


# --- (a) every command and option in docs/cli.md -----------------------------------------------

register()  # the command line loads its modules on demand; the docs cover them all
CLICK = typer.main.get_group(app)
COMMANDS = dict(CLICK.commands)


def long_options(params: list[typing.Any]) -> list[str]:
    return [
        opt
        for param in params
        if param.param_type_name == "option"
        for opt in [*param.opts, *param.secondary_opts]
        if opt.startswith("--")
    ]


def option_documented(option: str, text: str) -> bool:
    pattern = re.compile(rf"`{re.escape(option)}(?:[ =][^`]*)?`")
    return any(pattern.search(item) for item in list_items(text))


def test_the_cli_has_commands_to_document() -> None:
    assert {"check", "run", "status"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_section_with_synopsis_example_and_exit_codes(name: str) -> None:
    section = sections(read("cli.md")).get(name)
    require(
        section is not None,
        f"docs/cli.md: the command `golive {name}` is not documented: add a '## {name}' section "
        "with its synopsis, options, what it prints, its exit codes and an example",
    )
    assert section is not None
    require(
        re.search(rf"^golive {name}\b", section, re.M) is not None,
        f"docs/cli.md, section '## {name}': no synopsis: add a code block with a line "
        f"'golive {name} [OPTIONS] ...'",
    )
    require(
        re.search(rf"^\$ golive {name}\b", section, re.M) is not None,
        f"docs/cli.md, section '## {name}': no example: add a console block starting "
        f"'$ golive {name} ...' (run it first)",
    )
    require(
        "Exit code" in section,
        f"docs/cli.md, section '## {name}': its exit codes are not documented: add a line "
        "'Exit codes: ...'",
    )


@pytest.mark.parametrize(
    ("name", "option"),
    sorted((name, opt) for name, cmd in COMMANDS.items() for opt in long_options(cmd.params)),
)
def test_every_command_option_is_documented_in_its_section(name: str, option: str) -> None:
    section = sections(read("cli.md")).get(name, "")
    require(
        option_documented(option, section),
        f"docs/cli.md, section '## {name}': the option `{option}` of `golive {name}` is not "
        f"documented: add a list item '- `{option}`: what it does' to that section",
    )


@pytest.mark.parametrize("option", long_options(CLICK.params))
def test_every_global_option_is_documented_before_the_commands(option: str) -> None:
    preamble = sections(read("cli.md"))[""]
    require(
        option_documented(option, preamble),
        f"docs/cli.md: the global option `golive {option}` is not documented: add a list item "
        f"'- `{option}`: what it does' above the first '## ' section",
    )


# --- (b) every plan key in docs/plan.md --------------------------------------------------------


def plan_keys() -> dict[str, str]:
    """Every key a plan file can hold (aliases where set), with the first place it appears."""
    keys: dict[str, str] = {}
    seen: set[type[BaseModel]] = set()

    def model(cls: type[BaseModel], where: str) -> None:
        if cls in seen:
            return
        seen.add(cls)
        for name, field in cls.model_fields.items():
            key = field.alias or name
            here = f"{where}.{key}" if where else key
            keys.setdefault(key, here)
            annotation(field.annotation, here)

    def annotation(tp: typing.Any, where: str) -> None:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Annotated:
            # a model with its own JSON Schema is written as a scalar (`batch: 25%`), not keys
            if not any(isinstance(m, WithJsonSchema) for m in tp.__metadata__):
                annotation(args[0], where)
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            model(tp, where)
        elif origin is dict:
            key_type, value_type = args
            for key in literal_values(key_type):
                keys.setdefault(key, f"{where}.{key}")
            annotation(value_type, f"{where}.NAME")
        elif origin is list:
            annotation(args[0], f"{where}[]")
        elif origin in (typing.Union, types.UnionType):
            for arg in args:
                annotation(arg, where)

    model(Plan, "")
    return keys


def literal_values(tp: typing.Any) -> list[str]:
    if typing.get_origin(tp) is typing.Literal:
        return [v for v in typing.get_args(tp) if isinstance(v, str)]
    return []


PLAN_KEYS = plan_keys()


def key_definitions() -> set[str]:
    """What plan.md defines outside its list of rules (`quorum` is a key and a rule)."""
    parts = sections(read("plan.md"))
    return defined("\n".join(text for title, text in parts.items() if title != RULES_SECTION))


def test_the_plan_has_keys_to_document() -> None:
    assert {"golive", "steps", "from", "assert", "json", "header"} <= set(PLAN_KEYS)
    assert "count" not in PLAN_KEYS  # batch: 2 / 25%, never {count: 2}


@pytest.mark.parametrize("key", sorted(PLAN_KEYS))
def test_every_plan_key_is_documented(key: str) -> None:
    require(
        key in key_definitions(),
        f"docs/plan.md: the plan key `{key}` (at {PLAN_KEYS[key]}) is not documented: add a "
        f"heading or a list item that starts with `{key}` and says what it does, its type and "
        "its default",
    )


# --- (c) every event type in docs/design.md ----------------------------------------------------


def event_rows() -> dict[str, str]:
    rows = {}
    for line in read("design.md").splitlines():
        if m := re.match(r"^\|\s*`(\w+)`\s*\|", line):
            rows[m.group(1)] = line
    return rows


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_event_type_and_its_fields_are_in_the_event_table(name: str) -> None:
    row = event_rows().get(name, "")
    require(
        bool(row),
        f"docs/design.md: the event `{name}` is not documented: add a row "
        f"'| `{name}` | when it is written | its fields |' to the table under '## Events'",
    )
    fields = [f.name for f in dataclasses.fields(EVENT_TYPES[name]) if f.name != "step"]
    missing = [f for f in fields if f"`{f}`" not in row]
    require(
        not missing,
        f"docs/design.md: the row of `{name}` in the table under '## Events' does not list the "
        f"field(s) {', '.join(f'`{f}`' for f in missing)}: add them to its fields column",
    )


# --- (d) every lint rule in docs/plan.md -------------------------------------------------------


def rule_names(source: Path) -> set[str]:
    """`rule="..."` keywords, and the first argument of `Finding(...)` (schedule.py's rules)."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "rule" and isinstance(keyword.value, ast.Constant):
                names.add(keyword.value.value)
        callee = node.func
        if isinstance(callee, ast.Name) and callee.id == "Finding" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


RULES = {rule: source.name for source in RULE_SOURCES for rule in sorted(rule_names(source))}


def test_the_linter_has_rules_to_document() -> None:
    assert {"cycle", "no-undo", "forbidden-weekday", "quiet-hours"} <= set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_lint_rule_is_documented(rule: str) -> None:
    require(
        rule in defined(sections(read("plan.md")).get(RULES_SECTION, "")),
        f"docs/plan.md: the rule `{rule}` ({RULES[rule]}) is not documented: add a list item "
        f"'- `{rule}`: what triggers it, and a tiny example' under '## {RULES_SECTION}'",
    )


# --- the plans shown in docs/ pass `golive check` ----------------------------------------------


def plan_examples() -> Iterator[tuple[str, int, str]]:
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"^```yaml\n(golive:.*?)^```", text, re.M | re.S):
            yield path.name, text[: m.start()].count("\n") + 2, m.group(1)


@pytest.mark.parametrize(
    ("doc", "line", "text"),
    [pytest.param(doc, line, text, id=f"{doc}:{line}") for doc, line, text in plan_examples()],
)
def test_every_whole_plan_shown_in_the_docs_passes_check(
    doc: str, line: int, text: str, tmp_path: Path
) -> None:
    plan = tmp_path / "example.golive.yaml"
    plan.write_text(text, encoding="utf-8")
    result = check_plan(plan)
    problems = "; ".join(d.format().replace(str(plan), "the example") for d in result.errors)
    require(result.ok, f"docs/{doc}:{line}: the plan shown there fails `golive check`: {problems}")
