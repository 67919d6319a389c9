"""`{{ vars.x }}`, `{{ release }}`, `{{ secrets.X }}`: the whole template language, on purpose.

Plans are untrusted input, so templates are substitutions only: no expressions, no filters,
no attribute access beyond one level. That keeps rendering safe and lets `golive check` know
every name a plan refers to before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_REFERENCE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_][A-Za-z0-9_.-]*))?\s*$")
NAMESPACES = ("vars", "secrets")
NAMES = ("release", "env", "run_id", "plan")


@dataclass(frozen=True)
class Reference:
    """One `{{ ... }}` in a string: a plain name (`release`) or a namespaced one (`vars.x`)."""

    name: str
    attribute: str | None
    text: str

    @property
    def problem(self) -> str | None:
        if self.name in NAMESPACES:
            return (
                None if self.attribute else f"'{{{{ {self.name} }}}}' needs a name: {self.name}.x"
            )
        if self.name in NAMES and self.attribute is None:
            return None
        known = ", ".join([f"{n}.NAME" for n in NAMESPACES] + list(NAMES))
        return f"unknown template name '{self.text.strip()}' (known: {known})"


def references(text: str) -> Iterator[Reference]:
    """Every `{{ ... }}` in `text`; malformed ones come back with name '' so lint can say so."""
    for match in _EXPRESSION.finditer(text):
        inner = match.group(1)
        parsed = _REFERENCE.match(inner)
        if parsed:
            yield Reference(parsed.group(1), parsed.group(2), inner)
        else:
            yield Reference("", None, inner)


def has_template(text: str) -> bool:
    return "{{" in text


class TemplateError(ValueError):
    """A template names something the context does not have."""


def render(
    text: str,
    *,
    values: Mapping[str, str],
    namespaces: Mapping[str, Mapping[str, str]],
) -> str:
    """Substitute every reference; raise TemplateError naming the first unknown one."""

    def substitute(match: re.Match[str]) -> str:
        parsed = _REFERENCE.match(match.group(1))
        if not parsed:
            raise TemplateError(f"cannot read template '{{{{{match.group(1)}}}}}'")
        name, attribute = parsed.group(1), parsed.group(2)
        if attribute is None and name in values:
            return values[name]
        space = namespaces.get(name)
        if attribute is not None and space is not None and attribute in space:
            return space[attribute]
        shown = f"{name}.{attribute}" if attribute else name
        raise TemplateError(f"'{{{{ {shown} }}}}' has no value here")

    return _EXPRESSION.sub(substitute, text)
