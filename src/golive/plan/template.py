"""`{{ vars.x }}`, `{{ release }}`, `{{ secrets.X }}`: the whole template language, on purpose.

Plans are untrusted input, so templates are substitutions only: no expressions, no filters,
no attribute access beyond one level. That keeps rendering safe and lets `golive check` know
every name a plan refers to before anything runs. The one keyword, `raw` (`{{ raw vars.x }}`),
matters only in a shell command: there the value is pasted as shell text instead of reaching
the shell as one quoted word (see golive.plan.shell).

Scanning is linear: `{{` and `}}` are found with str.find, never with a backtracking pattern,
so that a hostile text full of `{{` costs one pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote

_REFERENCE = re.compile(
    r"^\s*(?:(raw)\s+)?([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_][A-Za-z0-9_.-]*))?\s*$"
)
NAMESPACES = ("vars", "secrets")
NAMES = ("release", "env", "run_id", "plan")
OPEN, CLOSE = "{{", "}}"


@dataclass(frozen=True)
class Reference:
    """One `{{ ... }}` in a string: a plain name (`release`) or a namespaced one (`vars.x`),
    `raw` when the plan asks for the value unquoted in a shell command."""

    name: str
    attribute: str | None
    text: str
    raw: bool = False

    @property
    def key(self) -> str:
        """The name as written without `raw`: `vars.x`, `release`."""
        return f"{self.name}.{self.attribute}" if self.attribute else self.name

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


@dataclass(frozen=True)
class Span:
    """Where one `{{ ... }}` stands in a text: text[start:end], and what it says."""

    start: int
    end: int
    reference: Reference


def spans(text: str) -> Iterator[Span]:
    """Every `{{ ... }}` in `text`, in order, in one linear pass."""
    position = 0
    while (start := text.find(OPEN, position)) >= 0:
        close = text.find(CLOSE, start + len(OPEN))
        if close < 0:
            return  # no `}}` after this `{{`: none after any later `{{` either
        end = close + len(CLOSE)
        yield Span(start, end, parse(text[start + len(OPEN) : close]))
        position = end


def parse(inner: str) -> Reference:
    """What the inside of one `{{ ... }}` names; name '' when it cannot be read."""
    parsed = _REFERENCE.match(inner)
    if not parsed:
        return Reference("", None, inner)
    return Reference(parsed.group(2), parsed.group(3), inner, raw=parsed.group(1) is not None)


def references(text: str) -> Iterator[Reference]:
    """Every `{{ ... }}` in `text`; malformed ones come back with name '' so lint can say so."""
    for span in spans(text):
        yield span.reference


def has_template(text: str) -> bool:
    return OPEN in text


class TemplateError(ValueError):
    """A template names something the context does not have."""


def value_of(
    reference: Reference,
    *,
    values: Mapping[str, str],
    namespaces: Mapping[str, Mapping[str, str]],
) -> str:
    """The value a reference names; TemplateError if it is unreadable or has no value here."""
    name, attribute = reference.name, reference.attribute
    if not name:
        raise TemplateError(f"cannot read template '{{{{{reference.text}}}}}'")
    if attribute is None and name in values:
        return values[name]
    space = namespaces.get(name)
    if attribute is not None and space is not None and attribute in space:
        return space[attribute]
    raise TemplateError(f"'{{{{ {reference.key} }}}}' has no value here")


def render(
    text: str,
    *,
    values: Mapping[str, str],
    namespaces: Mapping[str, Mapping[str, str]],
    keep_unknown: bool = False,
) -> str:
    """Substitute every reference; raise TemplateError naming the first unknown one (or, with
    `keep_unknown`, leave it as written)."""
    parts: list[str] = []
    position = 0
    for span in spans(text):
        parts.append(text[position : span.start])
        try:
            parts.append(value_of(span.reference, values=values, namespaces=namespaces))
        except TemplateError:
            if not keep_unknown:
                raise
            parts.append(text[span.start : span.end])
        position = span.end
    parts.append(text[position:])
    return "".join(parts)


def render_url(text: str, render: Callable[[str], str]) -> str:
    """A database URL with its values; a value in the user or password part (between `://`
    and `@`) or in the query (after `?`) is percent-encoded, so that a password with `@`, `/`
    or `:` stays the password (and URLs shown to people hide it whole)."""
    parts: list[str] = []
    position = 0
    for span in spans(text):
        parts.append(text[position : span.start])
        position = span.end
        value = render(text[span.start : span.end])
        encode = _in_userinfo(text, span) or "?" in text[: span.start]
        parts.append(quote(value, safe="") if encode else value)
    parts.append(text[position:])
    return "".join(parts)


def _in_userinfo(text: str, span: Span) -> bool:
    scheme = text.rfind("://", 0, span.start)
    if scheme < 0 or any(c in text[scheme + 3 : span.start] for c in "/?#@"):
        return False
    after = text[span.end :]
    ends = [i for i in (after.find(c) for c in "/?#@") if i >= 0]
    return bool(ends) and after[min(ends)] == "@"
