"""A plan's outline: what the board of `golive status` shows of it, read without the models.

The run's log keeps the plan's text (RunStarted), which passed `check` when the run started.
Validating it again into the pydantic `Plan` costs the models' import (a tenth of a second);
the board needs only the title, each step's id, needs, owner, approvers, estimate and kind, and
the objectives' ids and titles. `outline` reads those with libyaml (PyYAML's C loader) and
answers None, so that the caller builds the `Plan`, whenever its reading could differ from the
models' (ruamel.yaml 1.2 through pydantic): an alias, an anchor or a tag, a character libyaml
and ruamel read differently, a value of another type than the model's, anything unexpected.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

# models.StepKind, in its order (a step's kind is its first action key set); a test compares
KINDS = (
    "run",
    "manual",
    "check",
    "verify",
    "traffic",
    "gate",
    "sql",
    "dns",
    "fabric",
    "ansible",
    "docker",
)
# source._AWKWARD: characters libyaml and ruamel read (or place) differently
_AWKWARD = re.compile("[\\t\\r\\x85\\u2028\\u2029\\ufeff]")


@dataclass(frozen=True)
class StepOutline:
    id: str
    needs: list[str]
    owner: str | None
    approvers: list[str]
    estimate: dt.timedelta | None
    kind: str


@dataclass(frozen=True)
class ObjectiveOutline:
    id: str
    title: str
    check: object | None  # only whether there is one: the views say "no check" without it


@dataclass(frozen=True)
class PlanOutline:
    title: str
    steps: list[StepOutline]
    objectives: list[ObjectiveOutline]

    def step(self, step_id: str) -> StepOutline:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


class _Different(Exception):
    """The text holds something the outline may read otherwise than the models."""


def outline(text: str) -> PlanOutline | None:
    """The outline of a plan text that validated as a `Plan`; None where only the models can
    be trusted to read it (see the module's docstring)."""
    if _AWKWARD.search(text) or "\x00" in text:
        return None
    try:
        import yaml
    except ImportError:  # pragma: no cover - a dependency of golive
        return None
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        return None
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or any(
                getattr(event, name, None) for name in ("anchor", "tag", "version", "tags")
            ):
                return None  # an alias, an anchor, a tag, a %YAML or %TAG directive
        data = yaml.load(text, Loader=loader)
        return _plan(data)
    except (_Different, yaml.YAMLError, ValueError, TypeError, KeyError):
        return None


def _plan(data: Any) -> PlanOutline:
    document = _mapping(data)
    steps = [_step(_mapping(s)) for s in _list(document.get("steps", []))]
    objectives = [
        ObjectiveOutline(_text(o["id"]), _text(o["title"]), o.get("check"))
        for o in map(_mapping, _list(document.get("objectives", [])))
    ]
    return PlanOutline(_text(document["title"]), steps, objectives)


def _step(step: dict[Any, Any]) -> StepOutline:
    from golive.plan.values import parse_duration

    kinds = [k for k in KINDS if step.get(k) not in (None, False)]
    if len(kinds) != 1:
        raise _Different("not one action")
    owner = step.get("owner")
    estimate = step.get("estimate")
    if estimate is not None and not isinstance(estimate, str):
        raise _Different("a number: YAML 1.1 and 1.2 read some (010, 1:30) differently")
    return StepOutline(
        id=_text(step["id"]),
        needs=[_text(n) for n in _list(step.get("needs", []))],
        owner=None if owner is None else _text(owner),
        approvers=[_text(a) for a in _list(step.get("approvers", []))],
        estimate=None if estimate is None else parse_duration(estimate),
        kind=kinds[0],
    )


def _mapping(value: Any) -> dict[Any, Any]:
    # A key YAML 1.1 reads as another type (`on:` is True) is none of those the outline reads.
    if not isinstance(value, dict):
        raise _Different("not a mapping")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Different("not a list")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Different("not text")
    return value
