"""Reading a plan file: YAML with positions, then the pydantic model, every problem located.

The YAML is read by libyaml's event stream (PyYAML's C parser: fast, iterative, so no nesting
can overflow a stack) and turned, in one pass with an explicit stack, into plain Python together
with a `Positions` index of where each key and value stood. Anything that pass does not handle
exactly as ruamel.yaml's round-trip loader does (an error, an alias, a tag, a duplicate or
non-text key, a %YAML directive, deep nesting...) makes it give up, and the document is read
again by ruamel, the reference, whose messages point at the problem. pydantic's errors are
mapped back through the index.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml as pyyaml
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import ScalarNode

from golive.plan.diagnostics import Diagnostic, Severity, did_you_mean
from golive.plan.models import Plan
from golive.plan.schema_walk import keys_at

DataPath = tuple[str | int, ...]
# The bounds that keep a hostile file from exhausting memory or time (docs/plan.md says them):
MAX_BYTES = 8 * 1024 * 1024  # read at most this + 1 bytes, so /dev/zero cannot fill memory
MAX_NODES = 2_000_000  # values in the document: 20 times a 100,000-step plan
MAX_ALIASED = 100_000  # values reached again through YAML aliases (a "billion laughs")
MAX_TEXT = MAX_BYTES  # characters of all the text; more than the file holds comes from aliases
MAX_DEPTH = 48


@dataclass
class Positions:
    """Where each value (and each mapping key) of the document stands, 1-based."""

    file: str
    values: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[DataPath, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: DataPath, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def diagnostic(
        self,
        path: DataPath,
        message: str,
        *,
        hint: str | None = None,
        severity: Severity = Severity.error,
        rule: str,
        key: bool = False,
    ) -> Diagnostic:
        line, column = self.of(path, key=key)
        return Diagnostic(self.file, line, column, severity, message, hint, rule)


@dataclass
class Document:
    """A plan file read as plain data, with positions; `plan` is set when it validated."""

    path: Path
    data: Any
    positions: Positions
    diagnostics: list[Diagnostic]
    plan: Plan | None = None
    text: str | None = None  # as read, once: what a run keeps in its log
    digest: str = ""  # sha256 of the bytes read


class _Unreadable(Exception):
    """The YAML parsed but cannot be a plan: too big, too deep, a recursive alias, a list key."""

    def __init__(
        self, message: str, position: tuple[int, int] | None = None, *, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.position = position or (1, 1)
        self.hint = hint


def read_document(path: Path, *, display: str | None = None) -> Document:
    """Read and validate a plan file; never raises for a bad file, it reports diagnostics."""
    name = display or str(path)
    positions = Positions(name)
    positions.values[()] = (1, 1)

    def fail(message: str, hint: str | None = None, line: int = 1, column: int = 1) -> Document:
        diag = Diagnostic(name, line, column, Severity.error, message, hint, "yaml")
        return Document(path, None, positions, [diag])

    try:
        raw = read_plan_bytes(path)
    except PlanFileRefused as exc:
        return fail(str(exc), exc.hint)
    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) > MAX_BYTES:
        return fail(f"the plan file is larger than {MAX_BYTES // 2**20} MiB", "split it up")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return fail("the plan file is not valid UTF-8", "save it as UTF-8", line)
    document = parse_text(text, path=path, display=name)
    document.text, document.digest = text, digest
    return document


class PlanFileRefused(Exception):
    """The path names no regular file that can be read (a FIFO, a device, a directory...)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def read_plan_bytes(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes of a regular file. Anything else is refused before it is
    read: a FIFO would block, /dev/zero never ends. The file is opened without blocking and
    checked again once open, in case it was swapped between the two looks."""
    try:
        _regular(os.stat(path))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PlanFileRefused(
            "no such plan file", "check the path, or create one with `golive init`"
        ) from None
    except OSError as exc:
        raise PlanFileRefused(f"cannot read the plan file: {exc.strerror}") from None
    try:
        _regular(os.fstat(fd))
        chunks: list[bytes] = []
        left = MAX_BYTES + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise PlanFileRefused(f"cannot read the plan file: {exc.strerror}") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _regular(status: os.stat_result) -> None:
    if stat.S_ISREG(status.st_mode):
        return
    kind = _KINDS.get(stat.S_IFMT(status.st_mode), "a special file")
    if kind == "a directory":
        raise PlanFileRefused("this is a directory, not a plan file", "name a *.golive.yaml file")
    raise PlanFileRefused(
        f"this is {kind}, not a plan file", "golive reads regular files: name a *.golive.yaml file"
    )


def parse_text(text: str, *, path: Path, display: str, fast: bool = True) -> Document:
    """Parse and validate; `fast=False` reads with ruamel only (the reference the tests compare)."""
    positions = Positions(display)
    positions.values[()] = (1, 1)

    def fail(message: str, hint: str | None = None, line: int = 1, column: int = 1) -> Document:
        diag = Diagnostic(display, line, column, Severity.error, message, hint, "yaml")
        return Document(path, None, positions, [diag])

    if "\x00" in text:
        return fail("the plan file contains a NUL byte", "is it a binary file?")
    read = _fast_parse(text, display) if fast else None
    if read is not None:
        return _validated(Document(path, read[0], read[1], []))
    yaml = YAML(typ="rt")
    # the composer stops at this depth: ruamel's scanner slows down with every level of [ or {
    yaml.max_depth = MAX_DEPTH + 1
    try:
        node = yaml.load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return fail(f"the plan is nested more than {MAX_DEPTH} levels deep", None, line, column)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = _one_line(exc.problem or exc.context or "invalid YAML")
        return fail(f"YAML syntax: {problem}", _yaml_hint(problem, exc), line, column)
    except RecursionError:
        return fail("the YAML is nested too deeply to read")
    except Exception as exc:  # ruamel raises plain ValueErrors etc. on odd input
        return fail(f"YAML syntax: {_one_line(str(exc)) or type(exc).__name__}")
    if node is None:
        return fail("the plan is empty", "start from `golive init`")
    # problems with the whole plan (a missing title) point at its first key, not a comment
    positions.values[()] = _node_pos(node) or (1, 1)
    try:
        data = _Converter(positions).convert(node, ())
    except _Unreadable as exc:
        return fail(str(exc), exc.hint, *exc.position)
    if not isinstance(data, dict):
        return fail("a plan is a mapping of keys (golive, title, steps, ...)", "see `golive init`")
    return _validated(Document(path, data, positions, []))


def _validated(document: Document) -> Document:
    try:
        document.plan = Plan.model_validate(document.data)
    except ValidationError as exc:
        document.diagnostics.extend(_translate(exc, document.data, document.positions))
    return document


_UNCLOSED = {
    "while parsing a flow sequence": "the '[' on line {line} is not closed",
    "while parsing a flow mapping": "the '{{' on line {line} is not closed",
    "while scanning a quoted scalar": "the quote on line {line} is not closed",
}


def _yaml_hint(problem: str, exc: MarkedYAMLError | None = None) -> str | None:
    opened = _UNCLOSED.get(str(exc.context)) if exc is not None else None
    opener, problem_at = (exc.context_mark, exc.problem_mark) if exc else (None, None)
    if opened and opener and problem_at and opener.line != problem_at.line:
        return opened.format(line=opener.line + 1)
    if "found duplicate key" in problem:
        return "each key may appear once in a mapping"
    if "'\\t'" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': '"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


# --- the fast path: libyaml's events -> plain data and positions ---------------------------------


class _GiveUp(Exception):
    """The fast path meets something it does not read exactly as ruamel does: ruamel reads it."""


# Characters whose handling differs between YAML 1.1 (libyaml) and 1.2 (ruamel), or that libyaml
# and ruamel count differently in a column: a text with any of them goes to ruamel.
_AWKWARD = re.compile("[\\t\\r\\x85\\u2028\\u2029\\ufeff]")
_STR_TAG = "tag:yaml.org,2002:str"
# the plain-scalar types ruamel's round-trip constructor makes plain values of (via `_scalar`)
_CONSTRUCTED = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}


class _PlainScalars:
    """Resolve plain scalars with ruamel's own YAML 1.2 resolver and round-trip constructor,
    so a plain `1_000`, `0o17`, `.inf`, `2026-01-01` or `True` is exactly what ruamel makes
    of it. Text no implicit resolver can match (most of a plan) is returned without a look."""

    def __init__(self) -> None:
        self._yaml = YAML(typ="rt")
        self._yaml.load("a: 1")  # settles the resolver on the version it reads by default (1.2)
        resolver = self._yaml.resolver
        if resolver.processing_version != (1, 2):
            raise _GiveUp("ruamel reads another YAML version by default")
        table = resolver.versioned_resolver
        anywhere = list(table.get(None, []))
        self.first: dict[str, list[tuple[str, Any]]] = {
            str(char): [*rules, *anywhere] for char, rules in table.items() if char is not None
        }
        self.anywhere = anywhere
        self.cache: dict[str, Any] = {}

    def value(self, text: str) -> Any:
        """The plain scalar `text` as `_scalar` would return ruamel's value of it."""
        rules = self.first.get(text[:1], self.anywhere)
        if not rules:
            return text
        if text in self.cache:
            return self.cache[text]
        tag = _STR_TAG
        for rule_tag, regexp in rules:
            if regexp.match(text):
                tag = str(rule_tag)
                break
        if tag == _STR_TAG:
            value: Any = text
        elif tag in _CONSTRUCTED:
            constructor = self._yaml.constructor
            node = ScalarNode(tag, text, start_mark=None, end_mark=None)
            value = _scalar(constructor.yaml_constructors[tag](constructor, node))
        else:  # a merge key `<<`, `=`, ...: ruamel's business
            raise _GiveUp(f"a plain scalar resolves to {tag}")
        if len(self.cache) >= 4096:  # a server reads plan after plan: keep the memo small
            self.cache.clear()
        self.cache[text] = value
        return value


_PLAIN: list[_PlainScalars] = []


def _plain_scalars() -> _PlainScalars:
    if not _PLAIN:
        _PLAIN.append(_PlainScalars())
    return _PLAIN[0]


def _fast_parse(text: str, display: str) -> tuple[dict[str, Any], Positions] | None:
    """The document as plain data and positions, or None where ruamel must read it."""
    if _AWKWARD.search(text):
        return None
    try:
        return _build(pyyaml.parse(text, Loader=pyyaml.CSafeLoader), display)
    except Exception:  # a YAML error, a _GiveUp, anything unexpected: ruamel reads it
        return None


def _build(events: Iterator[Any], display: str) -> tuple[dict[str, Any], Positions]:
    plain = _plain_scalars()
    positions = Positions(display)
    values, keys = positions.values, positions.keys
    scalar_event, mapping_start = pyyaml.ScalarEvent, pyyaml.MappingStartEvent
    sequence_start = pyyaml.SequenceStartEvent
    # one frame per open collection: [the dict or list, its path, the key awaiting its value]
    # (a mapping's third slot is None while the next scalar is a key)
    stack: list[list[Any]] = []
    root: dict[str, Any] | None = None
    documents = count = text_size = 0
    for event in events:
        kind = event.__class__
        if kind is scalar_event or kind is mapping_start or kind is sequence_start:
            if event.anchor is not None or event.tag is not None:
                raise _GiveUp("an anchor or an explicit tag")
            mark = event.start_mark
            pos = (mark.line + 1, mark.column + 1)
            if not stack:
                if root is not None or kind is not mapping_start:
                    raise _GiveUp("not one mapping")
                root = {}
                values[()] = pos
                stack.append([root, (), None])
                count += 1
                continue
            frame = stack[-1]
            container, parent, key = frame
            if kind is scalar_event and key is None and type(container) is dict:
                # a mapping key
                name = plain.value(event.value) if event.implicit[0] else event.value
                if type(name) is not str or name in container:
                    raise _GiveUp("a key that is not text, or a duplicate key")
                text_size += len(name)
                frame[2] = name
                keys[(*parent, name)] = pos
                continue
            if type(container) is dict:
                if key is None:
                    raise _GiveUp("a mapping or list as a key")
                if kind is scalar_event and not event.value and event.implicit[0]:
                    # `key:` with nothing: ruamel places the null at the next token, not here
                    raise _GiveUp("an empty mapping value")
                path = (*parent, key)
                frame[2] = None
            else:
                key = len(container)
                path = (*parent, key)
            count += 1
            if len(path) >= MAX_DEPTH or count > MAX_NODES:
                raise _GiveUp("deep or huge: ruamel says which bound it passes")
            values[path] = pos
            if kind is scalar_event:
                value = plain.value(event.value) if event.implicit[0] else event.value
                if type(value) is str:
                    text_size += len(value)
            else:
                value = {} if kind is mapping_start else []
                stack.append([value, path, None])
            if type(container) is dict:
                container[key] = value
            else:
                container.append(value)
        elif kind is pyyaml.MappingEndEvent or kind is pyyaml.SequenceEndEvent:
            stack.pop()
        elif kind is pyyaml.DocumentStartEvent:
            documents += 1
            if documents > 1 or event.version is not None or event.tags:
                raise _GiveUp("several documents, or a %YAML or %TAG directive")
        elif kind not in (pyyaml.StreamStartEvent, pyyaml.StreamEndEvent, pyyaml.DocumentEndEvent):
            raise _GiveUp(f"a YAML {kind.__name__}")  # an alias
    if root is None or stack or text_size > MAX_TEXT:
        raise _GiveUp("no mapping, or more text than a plan holds")
    return root, positions


class _Converter:
    """ruamel's node tree -> plain dict/list/scalars, recording positions on the way."""

    def __init__(self, positions: Positions) -> None:
        self.positions = positions
        self.count = 0
        self.text = 0
        self.aliased = 0
        self.active: set[int] = set()
        self.seen: set[int] = set()
        self.again = 0  # > 0 while converting a mapping or list met before (through an alias)

    def convert(self, node: Any, path: DataPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Unreadable(f"the plan has more than {MAX_NODES:,} values", hint="split it up")
        if self.again:
            self.aliased += 1
            if self.aliased > MAX_ALIASED:
                raise _Unreadable(
                    f"YAML aliases repeat more than {MAX_ALIASED:,} values",
                    hint="a plan needs no alias bomb; write the values out",
                )
        if len(path) > MAX_DEPTH:
            raise _Unreadable(f"the plan is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, CommentedMap | CommentedSeq):
            return self._collection(node, path)
        value = _scalar(node)
        if isinstance(value, str):
            self._count_text(value)
        return value

    def _collection(self, node: CommentedMap | CommentedSeq, path: DataPath) -> Any:
        if id(node) in self.active:
            raise _Unreadable(
                "a YAML alias refers to the mapping that contains it", _node_pos(node)
            )
        again = id(node) in self.seen
        self.seen.add(id(node))
        self.active.add(id(node))
        self.again += again
        try:
            if isinstance(node, CommentedMap):
                return self._mapping(node, path)
            return self._sequence(node, path)
        finally:
            self.active.discard(id(node))
            self.again -= again

    def _count_text(self, text: str) -> None:
        self.text += len(text)
        if self.text > MAX_TEXT:
            raise _Unreadable(
                f"the plan's text adds up to more than {MAX_TEXT // 2**20} MiB "
                "(YAML aliases repeat it)",
                hint="a plan needs no alias bomb; write the values out",
            )

    def _mapping(self, node: CommentedMap, path: DataPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in node.items():
            key_pos = _lc(node, "key", key)
            if not isinstance(key, _PLAIN_KEYS):
                # `? [a, b]` and `? {a: b}` come back as tuples and frozen mappings
                raise _Unreadable("a mapping key must be plain text", key_pos or _node_pos(node))
            name = _key_text(key)
            self._count_text(name)
            child = (*path, name)
            if key_pos:
                self.positions.keys[child] = key_pos
            value_pos = _node_pos(value) or _lc(node, "value", key) or key_pos
            if value_pos:
                self.positions.values[child] = value_pos
            result[name] = self.convert(value, child)
        return result

    def _sequence(self, node: CommentedSeq, path: DataPath) -> list[Any]:
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            pos = _node_pos(value) or _lc(node, "item", index)
            if pos:
                self.positions.values[child] = pos
            items.append(self.convert(value, child))
        return items


_PLAIN_KEYS = (str, int, float, dt.date, type(None))


def _key_text(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _lc(node: Any, what: str, arg: Any) -> tuple[int, int] | None:
    try:
        line, column = getattr(node.lc, what)(arg)
    except Exception:  # ruamel keeps no position for some generated nodes
        return None
    return int(line) + 1, int(column) + 1


def _node_pos(node: Any) -> tuple[int, int] | None:
    if isinstance(node, CommentedMap | CommentedSeq):
        lc = node.lc
        if lc.line is not None:
            return int(lc.line) + 1, int(lc.col) + 1
    return None


def _scalar(node: Any) -> Any:
    if isinstance(node, TaggedScalar):
        return str(node.value)
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dt.datetime):
        return dt.datetime(*node.timetuple()[:6], node.microsecond, tzinfo=node.tzinfo)
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    if isinstance(node, bytes):
        return node.decode("utf-8", "replace")
    if isinstance(node, set | frozenset):
        return sorted(str(x) for x in node)
    return str(node)


# --- pydantic errors -> diagnostics -------------------------------------------------------------


def _resolve(data: Any, loc: tuple[Any, ...]) -> tuple[DataPath, bool, Any]:
    """Map a pydantic `loc` onto the document: (path, is a mapping key, the value there)."""
    path: list[str | int] = []
    node = data
    on_key = False
    for index, part in enumerate(loc):
        if part == "[key]":
            on_key = True
            continue
        if _union_tag(node, part, loc[index + 1 :]):
            continue
        inside_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        inside_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if inside_dict or inside_list:
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and part not in node:
            # a missing or unknown key: stop at the mapping, remember the name
            return (*path, part), on_key, _MISSING
        # anything else is a union tag or a validator name: not part of the document
    return tuple(path), on_key, node


_KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _union_tag(node: Any, part: Any, rest: tuple[Any, ...]) -> bool:
    """Whether `part` names the member of a tagged union (`check: {http: URL, expct: 200}` has
    loc check.http.expct; `traffic: {strategy: maintenance, pag: x}` traffic.maintenance.pag)
    rather than a key of the document: a key follows it, inside the same mapping."""
    if not (isinstance(node, dict) and isinstance(part, str) and rest):
        return False
    following = rest[0]
    if not (isinstance(following, str) and _KEY_NAME.match(following)):
        return False
    if part not in node:
        return True
    return not isinstance(node[part], dict | list) and (following in node or len(rest) == 1)


_MISSING = object()


def human_path(data: Any, path: DataPath) -> str:
    """steps.migrate.needs rather than steps.3.needs: list items with an id are named by it."""
    parts: list[str] = []
    node = data
    for part in path:
        child = _child(node, part)
        if isinstance(part, int):
            ident = child.get("id") if isinstance(child, dict) else None
            parts.append(_name(ident) if isinstance(ident, str) and ident else f"[{part}]")
        else:
            parts.append(_name(part))
        node = child
    return ".".join(parts).replace(".[", "[") or "plan"


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _name(part: str) -> str:
    """A key as a path segment; one that is empty or has spaces or symbols is quoted: ['a b']."""
    return part if _PLAIN_NAME.fullmatch(part) else f"[{_describe(part)}]"


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


_EXPECT = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "nothing",
}


def _translate(exc: ValidationError, data: Any, positions: Positions) -> Iterator[Diagnostic]:
    grouped: dict[tuple[DataPath, bool], list[dict[str, Any]]] = {}
    for error in exc.errors(include_url=False):
        path, on_key, _value = _resolve(data, tuple(error["loc"]))
        grouped.setdefault((path, on_key), []).append(dict(error))
    for (path, on_key), errors in grouped.items():
        yield _diagnostic(path, on_key, errors, data, positions)


def _diagnostic(
    path: DataPath, on_key: bool, errors: list[dict[str, Any]], data: Any, positions: Positions
) -> Diagnostic:
    first = errors[0]
    kind = first["type"]
    where = human_path(data, path)
    if kind == "missing":
        parent = path[:-1]
        return positions.diagnostic(
            parent, f"{human_path(data, parent)}: missing required key '{path[-1]}'", rule="schema"
        )
    if kind == "extra_forbidden":
        known = keys_at(data, path[:-1])
        hint = did_you_mean(str(path[-1]), known) or (
            f"known keys: {', '.join(sorted(known))}" if known else None
        )
        return positions.diagnostic(
            path,
            f"{human_path(data, path[:-1])}: unknown key '{path[-1]}'",
            hint=hint,
            rule="unknown-key",
            key=True,
        )
    expectations = [_EXPECT[e["type"]] for e in errors if e["type"] in _EXPECT]
    if expectations and len(expectations) == len(errors):
        got = _describe(first.get("input"))
        message = f"{where}: expected {' or '.join(dict.fromkeys(expectations))}, got {got}"
    else:
        message = f"{where}: {_message(first)}"
    if on_key:
        message = f"{where}: {_message(first)} (in a key)"
    return positions.diagnostic(path, message, rule="schema", key=on_key)


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    text = str(error["msg"])
    if kind == "value_error":
        return text.removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return f"{_describe(error.get('input'))} is not a valid name: use letters, digits, - _ ."
    if kind in ("literal_error", "enum"):
        return (
            text.replace("Input should be", "expected") + f", got {_describe(error.get('input'))}"
        )
    if kind == "check_kind":
        value = error.get("input")
        if isinstance(value, dict):
            from golive.plan.models import CHECK_KINDS

            for key in value:
                hint = did_you_mean(str(key), CHECK_KINDS)
                if hint and key not in CHECK_KINDS:
                    return f"{text}; found '{key}': {hint}"
        return text
    text = text.replace("Input should be", "expected").replace("Input should have", "expected")
    return text[:1].lower() + text[1:]


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
