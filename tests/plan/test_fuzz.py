"""Whatever a plan file holds, `check_plan` answers with diagnostics that point into the file.

Four fuzzers: random YAML documents, raw text and bytes, mutations of the example plan, and
random plans of the right shape (which get past the schema, so the lint rules see odd values).
None may raise, and every diagnostic must carry a line inside the file, a column and a message.

Budget: the "ci" profile (tests/conftest.py, loaded when CI is set) gives the mutation test 2000
examples, random YAML and raw text 1000 each, shaped plans 500; the local profile a tenth.
`pytest --hypothesis-show-statistics` shows how often each fuzzer reaches YAML, schema or lint.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.representer import RepresenterError

from golive.plan import CheckResult, check_plan
from golive.plan import models as plan_models
from golive.plan.graph import StepGraph

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gym-booking.golive.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
EXAMPLE_DATA = YAML(typ="safe").load(EXAMPLE_TEXT)
# shares of the profile's budget (2000 examples in CI): the slower fuzzers get less of it
half = settings(max_examples=max(10, settings.default.max_examples // 2))
quarter = settings(max_examples=max(10, settings.default.max_examples // 4))

PLAN_KEYS = sorted(
    {
        info.alias or name
        for model in vars(plan_models).values()
        if isinstance(model, type) and issubclass(model, BaseModel)
        for name, info in model.model_fields.items()
    }
)
WEIRD_KEYS = ["<<", "? ", "&a", "*a", "!!str", "- x", "a: b", "#", "", " ", "null", "~", "{{ x }}"]
PLAN_SCALARS = [
    *["90m", "1h30m", "800ms", "0s", "-5m", "1e9d", "99999999w", "10 minutes", "9" * 30 + "s"],
    *["0.5%", "25%", "100%", "150%", "-1%", "%", "nan%", "1e400%", "inf%"],
    *["2026-12-06 20:00", "2026-12-06", "2026-02-30", "9999-12-31 23:59", "0001-01-01"],
    *["20:00-06:00", "06:00-06:00", "00:00-00:00", "24:00-01:00", "-", "2026-12-21..2027-01-04"],
    *["friday", "FRIDAY", "all", "BE", "be", "US-CA", "XX-YY", "Europe/Brussels", "../etc", ".."],
    *["{{ vars.x }}", "{{ release }}", "{{ secrets.X }}", "{{", "}}", "{{ }}", "{{ a.b.c }}"],
    *["nginx", "canary", "blue_green", "pause", "rollback", "GET", "&anchor", "*alias"],
    *["", " ", "\t", "\n", "~", "null", "true", "yes", "0x1F", "1_000", ".inf", "\x85", "\x1b[2J"],
]
EDGE_VALUES = [
    *[0, -1, 1, 2**31, 2**63, 10**20, 10**400, 0.5, -0.0, 1e308, float("inf"), float("nan")],
    *[dt.date.min, dt.date.max, dt.datetime.min, dt.datetime.max, dt.datetime(2026, 12, 31, 23)],
    *[True, False, None, [], {}, [None], {"": None}],
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-3, max_value=3),
    st.floats(),
    st.text(max_size=20),
    st.dates(),
    st.datetimes(),
    st.sampled_from(PLAN_SCALARS),
    st.sampled_from(EDGE_VALUES),
)
keys = st.one_of(
    st.sampled_from(PLAN_KEYS),
    st.sampled_from(WEIRD_KEYS),
    st.text(max_size=12),
    st.integers(-3, 3),
    st.booleans(),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=12,
)
plan_like = st.fixed_dictionaries(
    {"golive": st.sampled_from(["gym", "x y", ""]), "title": scalars},
    optional={
        key: values for key in plan_models.Plan.model_fields if key not in ("golive", "title")
    },
)

YAML_TOKENS = [
    *["golive: ", "title: ", "steps:", "- id: ", "needs: ", "window:", "start: ", "on: "],
    *["key: ", "- ", "[", "]", "{", "}", ", ", ": ", "? ", "&a ", "*a", "<<: ", "!!str ", "!x "],
    *["!!python/object:os.system ", "!!binary ", "!!set ", "!!omap ", "!!float ", "|", ">-"],
    *["'", '"', "\\", "#", "...", "---", "%YAML 1.2\n", "%TAG ! tag:x,2000:\n", "\n", "\n  "],
    *["\n    ", "  ", "\t", "\r\n", "\ufeff", "2026-12-06 20:00", "90m", "25%", "{{ vars.x }}"],
    *["null", "1e9999", "0o17", "é", "\x00", "\x85", "\u2028"],
]


def dump(document: Any) -> str:
    stream = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    try:
        yaml.dump(document, stream)
    except RepresenterError:
        reject()
    return stream.getvalue()


def assert_located(result: CheckResult, content: bytes) -> None:
    """Every diagnostic points at a real line of the file and says something."""
    assert isinstance(result, CheckResult)
    last_line = content.count(b"\n") + 1
    for diagnostic in result.diagnostics:
        assert 1 <= diagnostic.line <= last_line, diagnostic
        assert diagnostic.column >= 1, diagnostic
        assert diagnostic.message.strip(), diagnostic
        assert "\x1b" not in diagnostic.format(), diagnostic
        json.dumps(diagnostic.to_json())
    if result.ok:
        # a plan that checks OK can be outlined and run: the graph orders it
        assert result.plan is not None
        graph = StepGraph(result.plan.steps)
        assert sorted(graph.order()) == sorted({s.id for s in result.plan.steps})
        graph.critical_path(lambda step_id: dt.timedelta())
    else:
        assert result.errors
    event(f"ends in: {_stage(result)}")


def _stage(result: CheckResult) -> str:
    rules = {d.rule for d in result.errors}
    if not rules:
        return "no errors"
    return "yaml" if "yaml" in rules else "schema" if "schema" in rules else "lint"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "plan.golive.yaml"


def check_bytes(plan_file: Path, content: bytes) -> None:
    plan_file.write_bytes(content)
    assert_located(check_plan(plan_file), content)


# --- random documents ------------------------------------------------------------------------


@half
@given(document=st.one_of(values, plan_like))
def test_random_yaml_documents_get_located_diagnostics(plan_file: Path, document: Any) -> None:
    check_bytes(plan_file, dump(document).encode("utf-8"))


@half
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map(
            lambda parts: "".join(parts).encode("utf-8")
        ),
    )
)
def test_random_text_and_bytes_get_located_diagnostics(plan_file: Path, content: bytes) -> None:
    check_bytes(plan_file, content)


# --- mutations of the example ----------------------------------------------------------------

DataPath = tuple[Any, ...]


def paths(node: Any, prefix: DataPath = ()) -> Iterator[DataPath]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def at(node: Any, path: DataPath) -> Any:
    for part in path:
        node = node[part]
    return node


def _sections(text: str) -> dict[str, str]:
    """The example's text cut at each top-level key; "" holds the header comment."""
    sections: dict[str, str] = {}
    current = ""
    for line in text.splitlines(keepends=True):
        match = re.match(r"([A-Za-z_]+):", line)
        if match:
            current = match.group(1)
        sections[current] = sections.get(current, "") + line
    return sections


SECTIONS = _sections(EXAMPLE_TEXT)


def render(document: Any) -> str:
    """The mutated example as YAML: untouched sections keep their text (and comments), the
    others are dumped again; cheaper than dumping it all and closer to a hand-edited file."""
    if not isinstance(document, dict):
        return dump(document)
    parts = [SECTIONS[""]]
    for key, value in document.items():
        same = isinstance(key, str) and key in SECTIONS and key and EXAMPLE_DATA[key] == value
        parts.append(SECTIONS[key] if same else dump({key: value}))
    return "".join(parts)


MUTATIONS = ["delete", "replace", "edge", "transplant", "duplicate", "shuffle", "unknown"]


def mutate(data: st.DataObject, document: Any) -> Any:
    path = data.draw(st.sampled_from(list(paths(document))), label="path")
    node = at(document, path)
    operation = data.draw(st.sampled_from(MUTATIONS), label="operation")
    if not path:
        return data.draw(values) if operation == "replace" else document
    parent = at(document, path[:-1])
    if operation == "delete":
        del parent[path[-1]]
    elif operation == "replace":
        parent[path[-1]] = data.draw(values, label="value")
    elif operation == "edge":
        parent[path[-1]] = data.draw(st.sampled_from(EDGE_VALUES + PLAN_SCALARS), label="value")
    elif operation == "transplant":
        donor = data.draw(st.sampled_from(list(paths(document))), label="donor")
        parent[path[-1]] = copy.deepcopy(at(document, donor))
    elif operation == "duplicate" and isinstance(node, list) and node:
        item = data.draw(st.sampled_from(node))
        node.insert(data.draw(st.integers(0, len(node))), copy.deepcopy(item))
    elif operation == "shuffle" and isinstance(node, list):
        parent[path[-1]] = data.draw(st.permutations(node))
    elif operation == "unknown" and isinstance(node, dict):
        node[data.draw(keys, label="key")] = data.draw(values, label="value")
    return document


TEXT_EDITS = ["indent", "dedent", "tab", "delete", "duplicate", "swap", "insert"]


def edit_text(data: st.DataObject, text: str) -> str:
    lines = text.split("\n")
    operation = data.draw(st.sampled_from(TEXT_EDITS), label="text edit")
    index = data.draw(st.integers(0, len(lines) - 1), label="line")
    line = lines[index]
    if operation == "indent":
        lines[index] = " " * data.draw(st.integers(1, 3)) + line
    elif operation == "dedent":
        lines[index] = line[data.draw(st.integers(1, 4)) :] if line.startswith(" ") else line
    elif operation == "tab":
        lines[index] = "\t" + line.lstrip(" ")
    elif operation == "delete":
        del lines[index]
    elif operation == "duplicate":
        lines.insert(index, line)
    elif operation == "swap":
        other = data.draw(st.integers(0, len(lines) - 1))
        lines[index], lines[other] = lines[other], line
    else:
        column = data.draw(st.integers(0, len(line)))
        snippet = data.draw(st.one_of(st.sampled_from(YAML_TOKENS), st.text(max_size=8)))
        lines[index] = line[:column] + snippet + line[column:]
    return "\n".join(lines)


@given(data=st.data())
def test_mutated_example_plans_get_located_diagnostics(
    plan_file: Path, data: st.DataObject
) -> None:
    structural = data.draw(st.integers(0, 4), label="structural mutations")
    document = copy.deepcopy(EXAMPLE_DATA)
    for _ in range(structural):
        document = mutate(data, document)
    text = render(document)
    for _ in range(data.draw(st.integers(0 if structural else 1, 3), label="text edits")):
        text = edit_text(data, text)
    content = text.encode("utf-8", "surrogatepass")
    if data.draw(st.booleans(), label="truncate"):
        content = content[: data.draw(st.integers(0, len(content)), label="cut at")]
    check_bytes(plan_file, content)


# --- plans of the right shape, odd values: these reach the lint rules --------------------------

ids = st.sampled_from(["a", "b", "c", "deploy", "smoke", "x.y"])
people_ids = st.sampled_from(["alice", "bob", "nobody"])
durations = st.one_of(
    st.sampled_from(["0s", "90m", "1h30m", "800ms", "3650d", "1e3s", 10**20, float("inf")]),
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=0, max_value=1e6),
)
moments = st.one_of(
    st.datetimes(),
    st.dates(),
    st.sampled_from([dt.datetime.max, dt.datetime.min, dt.date.max, dt.datetime(2026, 12, 6, 20)]),
)
clock = st.times().map(lambda t: f"{t:%H:%M}")


@st.composite
def windows(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(moments)
    length = draw(st.timedeltas(min_value=dt.timedelta(minutes=1), max_value=dt.timedelta(400)))
    start_time = start if isinstance(start, dt.datetime) else dt.datetime.combine(start, dt.time())
    try:
        end: Any = start_time + length
    except OverflowError:
        end = dt.datetime.max
    if draw(st.integers(0, 4)) == 0:
        end = draw(moments)  # anywhere, before the start too
    return {"start": start, "end": end}


@st.composite
def shaped_plans(draw: st.DrawFn) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "golive": draw(ids),
        "title": "t",
        "timezone": draw(st.sampled_from(["UTC", "Europe/Brussels", "Pacific/Kiritimati"])),
        "window": draw(windows()),
        "people": {"alice": {"name": "A"}, "bob": {"name": "B"}},
        "policy": {
            "never_on": draw(st.lists(st.sampled_from(["friday", "sunday", "Monday"]))),
            "quiet_hours": draw(st.tuples(clock, clock).map("-".join)),
            "holidays": draw(st.sampled_from([None, "BE", "us-ca", "XX", ["BE", "FR"], []])),
            "freeze": draw(st.lists(st.tuples(st.dates(), st.dates()).map(sorted), max_size=2)),
        },
        "checklist": draw(
            st.lists(
                st.fixed_dictionaries(
                    {"id": ids, "title": st.just("t")},
                    optional={"owner": people_ids, "due": moments},
                ),
                max_size=3,
            )
        ),
        "environments": draw(
            st.dictionaries(
                st.sampled_from(["staging", "production"]),
                st.fixed_dictionaries(
                    {"hosts": st.dictionaries(ids, st.lists(st.just("h1"), min_size=1))},
                    optional={"vars": st.dictionaries(ids, st.sampled_from(["1", "p://u:pw@h"]))},
                ),
            )
        ),
        "steps": draw(st.lists(shaped_steps(), max_size=8)),
    }
    freeze = plan["policy"]["freeze"]
    plan["policy"]["freeze"] = [f"{first}..{last}" for first, last in freeze]
    return plan


@st.composite
def shaped_steps(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["run", "manual", "gate", "check"]))
    action: dict[str, Any] = {
        "run": {"run": "echo {{ vars.a }} {{ release }} {{ nope }}"},
        "manual": {"manual": True},
        "gate": {"gate": "Go?", "approvers": draw(st.lists(people_ids, max_size=3))},
        "check": {"check": {"step": draw(ids)}},
    }[kind]
    step = {"id": draw(ids), **action}
    optional = {
        "owner": people_ids,
        "needs": st.lists(ids, max_size=3),
        "estimate": durations,
        "undo": st.just("undo"),
        "on": ids,
        "batch": st.sampled_from([1, 0, "25%", "0%", "100%"]),
        "quorum": st.sampled_from(["all", 1, 2, 5]) if kind == "gate" else st.nothing(),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()) and not strategy.is_empty:
            step[key] = draw(strategy)
    return step


@quarter
@given(plan=shaped_plans())
def test_random_plans_of_the_right_shape_get_located_diagnostics(
    plan_file: Path, plan: dict[str, Any]
) -> None:
    check_bytes(plan_file, dump(plan).encode("utf-8"))
