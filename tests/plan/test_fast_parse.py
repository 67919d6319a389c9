"""The fast path (libyaml's events) reads a plan exactly as ruamel.yaml's round-trip loader does.

Every plan in examples/ and tests/fixtures/, and documents holding plain scalars of many forms,
give the same data (same types), the same positions and the same diagnostics both ways; what the
fast path does not handle identically falls back to ruamel, whose answer is the one given.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from golive.plan import check_plan, source
from golive.plan.source import Document, parse_text

ROOT = Path(__file__).resolve().parents[2]
PLANS = sorted(
    path
    for folder in (ROOT / "examples", ROOT / "tests" / "fixtures")
    for pattern in ("*.yaml", "*.yml")
    for path in folder.rglob(pattern)
)
HEAD = "golive: p\ntitle: T\n"


def typed(value: Any) -> Any:
    """The value with its types spelled out: 1, 1.0 and True are equal, but not here."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    if isinstance(value, dt.datetime):
        return ("datetime", value.isoformat(), repr(value.tzinfo))
    return (type(value).__name__, value)


def read(text: str, *, fast: bool) -> Document:
    return parse_text(text, path=Path("p.golive.yaml"), display="p.golive.yaml", fast=fast)


def assert_same(text: str) -> Document:
    fast, reference = read(text, fast=True), read(text, fast=False)
    assert typed(fast.data) == typed(reference.data)
    assert fast.positions == reference.positions
    assert [d.format() for d in fast.diagnostics] == [d.format() for d in reference.diagnostics]
    return fast


def takes_fast_path(text: str) -> bool:
    return source._fast_parse(text, "p.golive.yaml") is not None


@pytest.mark.parametrize("plan", PLANS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_example_and_fixture_reads_the_same_on_the_fast_path_as_with_ruamel(
    plan: Path,
) -> None:
    text = plan.read_bytes().decode("utf-8-sig", "replace")
    assert_same(text)


def test_the_example_plans_take_the_fast_path() -> None:
    examples = [path for path in PLANS if path.is_relative_to(ROOT / "examples")]
    assert examples
    for plan in examples:
        assert takes_fast_path(plan.read_text(encoding="utf-8-sig")), plan


def test_positions_of_block_flow_quoted_empty_and_unicode_values_match_ruamel() -> None:
    text = (
        HEAD + "owner: 'é ü'\nnote: |\n  two\n  lines\nfolded: >-\n  a\n  b\n"
        "list:\n- a\n-\n- {x: 1, 'y': \"2\"}\n-   - nested\n    - [p, q]\n"
        "flow: {a: [1, 2.5, ~], b: {c: d}}\n"
        "indented:\n  - k: v\n    w: [z]\n"
        "emoji: 😀 then text\nafter: 😀\n"
        "...\n"
    )
    assert takes_fast_path(text)
    assert_same(text)


ODD_BUT_READ = {
    "multi-line plain": "a: one\n  two\n\n  three\n",
    "double-quoted escapes": 'a: "x\\x41\\u00e9\\/ \\N\\_\\L\\P\\e\\0"\n',
    "an escaped line break": 'a: "x\\\n  y"\n',
    "single-quoted folding": "a: 'it''s\n\n  more'\n",
    "block scalar indicators": "a: |+\n  x\n\nb: |2\n   y\nc: >\n  p\n\n  q\n   r\nd: |-\n  z\n",
    "comments": "a: value # c\nb: a#b\n# end\nc: 'x' # c\n",
    "trailing commas in flow": "a: [a, b, ]\nb: {x: 1, }\n",
    "a pair in a flow list": "a: [x: 1, y]\n",
    "an explicit key": "? x\n: y\n",
    "empty quoted values": "a: \"\"\nb: ''\n",
    "not quite numbers": "a: 1 2\nb: 0x\nc: 1e\nd: -.5\ne: +.inf\nf: 12:30\n",
    "an empty list item": "list:\n  - a\n  -\n  - b\n",
    "a document end marker": "a: b\n...\n# after\n",
    "blank lines around": "\n\n" + "a: b\n\n\n",
}


@pytest.mark.parametrize("body", ODD_BUT_READ.values(), ids=ODD_BUT_READ.keys())
def test_less_common_yaml_reads_the_same_on_the_fast_path(body: str) -> None:
    text = HEAD + body
    assert takes_fast_path(text)
    assert_same(text)


def plain_forms() -> st.SearchStrategy[str]:
    numeric = st.text(alphabet="0123456789_+-.:eExobXOB", min_size=1, max_size=14)
    words = st.sampled_from(
        [
            *"null Null NULL ~ true True TRUE false False FALSE yes no on off Yes NO On OFF".split(),
            *".inf .Inf .INF -.inf +.inf .nan .NaN .NAN nan inf 1e3 1E-3 -1.5e+3 1.e5 .5 .5e-3".split(),
            *"0o17 0O17 0x1F 0X1f 0b101 017 09 1_000 +12 -0 0 00 1:30 190:20:30 0.1_5 1__2".split(),
            *"2026-01-02 2026-1-2 2026-01-02T03:04:05Z 2026-01-02t03:04:05.5-05:00".split(),
            "2026-01-02 03:04:05 +02:00",
            "2026-01-02 03:04:05.123456789",
            "<<",
            "=",
        ]
    )
    dates = st.builds(
        lambda moment, sep, frac, zone: moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + frac + zone,
        st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
        st.sampled_from(["T", "t", " ", "  "]),
        st.sampled_from(["", ".1", ".123456", ".1234567"]),
        st.sampled_from(["", "Z", "+01:00", " -05:30", "+5", " Z"]),
    )
    mixed = st.text(alphabet="abcxyzTFN019 .-_:/é", min_size=1, max_size=16)
    return st.one_of(numeric, words, dates, mixed)


@given(plain_forms())
def test_plain_scalars_of_every_form_resolve_as_ruamel_resolves_them(scalar: str) -> None:
    assert_same(f"{HEAD}value: {scalar}\nlist:\n- {scalar}\nflow: [{scalar}]\n")


@given(plain_forms())
def test_plain_scalar_keys_are_text_or_ruamel_reads_the_document(scalar: str) -> None:
    text = f"{HEAD}map:\n  {scalar}: v\n"
    assert_same(text)


FALLBACKS = {
    "a YAML syntax error": HEAD + "steps: [a, b\n",
    "a colon in a plain value": HEAD + "owner: a: b\n",
    "an anchor and an alias": HEAD + "a: &x {k: v}\nb: *x\n",
    "an explicit tag": HEAD + "a: !!str 1\n",
    "a local tag": HEAD + "a: !thing x\n",
    "a duplicate key": HEAD + "a: 1\na: 2\n",
    "a duplicate key, once quoted": HEAD + "a: 1\n'a': 2\n",
    "a list as a key": HEAD + "? [a, b]\n: v\n",
    "a mapping as a key": HEAD + "? {a: b}\n: v\n",
    "a number as a key": HEAD + "1: v\n",
    "a boolean as a key": HEAD + "true: v\n",
    "a null key": HEAD + "~: v\n",
    "a date as a key": HEAD + "2026-01-01: v\n",
    "a merge key": HEAD + "base: &b {x: 1}\nm:\n  <<: *b\n",
    "a bare merge key": HEAD + "m:\n  <<: {x: 1}\n",
    "two documents": HEAD + "---\nsecond: doc\n",
    "a %YAML 1.1 directive": "%YAML 1.1\n---\n" + HEAD + "on: yes\n",
    "a %TAG directive": "%TAG !e! tag:example.com,2026:\n---\n" + HEAD,
    "deep nesting": HEAD + "deep: " + "[" * 60 + "]" * 60 + "\n",
    "deep block nesting": HEAD
    + "".join(f"{'  ' * i}k{i}:\n" for i in range(60))
    + "  " * 60
    + "x\n",
    "a tab": HEAD + "a:\tb\n",
    "CRLF line ends": HEAD.replace("\n", "\r\n") + "a: b\r\n",
    "a scalar document": "just text\n",
    "a list document": "- a\n- b\n",
    "an empty document": "# nothing\n",
    "a NUL byte": HEAD + "a: \x00\n",
    "an empty mapping value": HEAD + "empty:\nnext: x\n",
    "an empty value in a flow mapping": HEAD + "flow: {a: , b: 1}\n",
    "an explicit key with no value": HEAD + "? lone\n",
    "an explicit key in a flow mapping": HEAD + "a: {? x, y: 1}\n",
    "a key longer than 1024 characters": HEAD + "k" * 1100 + ": v\n",
    "a block scalar then a less indented key": HEAD + "a: |\n  x\n b: y\n",
    "a non-printable character": HEAD + "a: x\x7f\n",
    "a character that cannot start a plain scalar": HEAD + "a: @x\n",
}


@pytest.mark.parametrize("text", FALLBACKS.values(), ids=FALLBACKS.keys())
def test_what_the_fast_path_does_not_handle_falls_back_to_ruamel_and_its_answer(text: str) -> None:
    assert not takes_fast_path(text)
    assert_same(text)


def test_more_values_than_the_bound_fall_back_to_ruamel_which_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(source, "MAX_NODES", 20)
    text = HEAD + "list: [" + ", ".join(str(i) for i in range(30)) + "]\n"
    assert not takes_fast_path(text)
    document = assert_same(text)
    assert "more than 20 values" in document.diagnostics[0].message


def test_more_text_than_the_bound_falls_back_to_ruamel_which_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(source, "MAX_TEXT", 100)
    text = HEAD + "note: " + "x" * 200 + "\n"
    assert not takes_fast_path(text)
    document = assert_same(text)
    assert "text adds up to more than" in document.diagnostics[0].message


def ten_thousand_steps() -> str:
    """As bench/check_scale.py writes it: one chain of steps, each with its command and undo."""
    lines = [HEAD.rstrip("\n"), "people:", "  ops: {name: Ops}", "environments:", "  prod: {}"]
    lines.append("steps:")
    for i in range(10_000):
        needs = f", needs: [s{i - 1}]" if i else ""
        lines.append(f"  - {{id: s{i}, owner: ops, run: deploy, undo: revert{needs}}}")
    return "\n".join(lines) + "\n"


def test_a_10k_step_plan_checks_in_under_2_cpu_seconds(tmp_path: Path) -> None:
    plan = tmp_path / "big.golive.yaml"
    plan.write_text(ten_thousand_steps(), encoding="utf-8")
    started = time.process_time()
    result = check_plan(plan)
    spent = time.process_time() - started
    assert result.ok, [d.format() for d in result.diagnostics[:3]]
    assert spent < 2.0, f"check took {spent:.2f} CPU seconds"
