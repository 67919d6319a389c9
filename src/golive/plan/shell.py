"""Templates in shell commands: a value reaches the shell as data, never as shell text.

`{{ release }}` in `run: ./deploy.sh {{ release }}` is not pasted into the command. golive
assigns each value to a shell variable on a first line of its own, quoted with `shlex.quote`,
and puts the variable where the template stood:

    golive_1='1.0; touch pwned'
    ./deploy.sh "${golive_1}"

The shell expands a variable once and never reads its value as code, so `;`, `$( )`, backticks,
quotes and newlines in a value stay characters of one word. Where the template stands decides the
form: `"${golive_1}"` outside quotes (one word, no splitting or globbing), `${golive_1}` inside
double quotes or a here-document (already one word there). Inside single quotes or a quoted
here-document the shell expands nothing, so a template there is refused (`golive check` says so
too): the value could only be pasted as text. `{{ raw NAME }}` asks for exactly that, on purpose.

Finding where a template stands needs a reading of the command's quotes. `quoting` is a small
reader of POSIX sh quoting (quotes, backslashes, `$( )`, backticks, comments, here-documents).
A misreading can only turn one form into the other (at worst the value is split into words);
it cannot make the shell run a value.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from golive.plan.template import OPEN, Span, TemplateError, spans

MARK = "\0"  # stands for a template while the quotes are read: no command holds a NUL
VARIABLE = "golive_{}"
_HEREDOC = re.compile(r"(-?)[ \t]*(?:'([^'\n\0]*)'|\"([^\"\n\0]*)\"|(\\?)([^\s;&|<>()'\"`\0]+))")
_WORD_START = " \t\n;&|()"


class Quoting(StrEnum):
    """What surrounds a template in a shell command."""

    none = "none"
    double = "double"
    single = "single"
    heredoc = "heredoc"  # an unquoted here-document: the shell expands variables in it
    literal_heredoc = "literal_heredoc"  # <<'EOF': the shell expands nothing


class ShellQuotingError(TemplateError):
    """A template stands where the shell cannot take a value as data."""


@dataclass(frozen=True)
class ShellCommand:
    """A command whose template values reach the shell as variables set by `assignments`."""

    assignments: str  # one `name='value'` line per value, each ending with a newline
    body: str  # the command, with variables where its templates stood

    def script(self, before: str = "") -> str:
        """The whole script; `before` (e.g. `cd DIR && `) goes after the assignments."""
        return f"{self.assignments}{before}{self.body}"


def shell_command(text: str, render: Callable[[str], str]) -> ShellCommand:
    """`text`, a shell command of the plan, ready for `/bin/sh -c` with its values as data.

    `render` gives the value of one `{{ ... }}` (the run's context renders it, masks none).
    Raises TemplateError for a value it cannot give, ShellQuotingError for a template inside
    single quotes."""
    found = list(spans(text))
    if not found:
        return ShellCommand("", text)
    contexts = quoting(text, found)
    names: dict[str, str] = {}
    assignments: list[str] = []
    body: list[str] = []
    position = 0
    for span, context in zip(found, contexts, strict=True):
        body.append(text[position : span.start])
        position = span.end
        written = text[span.start : span.end]
        reference = span.reference
        if reference.raw:
            body.append(render(f"{OPEN} {reference.key} }}}}"))
            continue
        if context in (Quoting.single, Quoting.literal_heredoc):
            raise ShellQuotingError(quoted_problem(written, context))
        if written not in names:
            names[written] = VARIABLE.format(len(names) + 1)
            assignments.append(f"{names[written]}={shlex.quote(render(written))}\n")
        variable = "${" + names[written] + "}"
        body.append(f'"{variable}"' if context is Quoting.none else variable)
    body.append(text[position:])
    return ShellCommand("".join(assignments), "".join(body))


def quoted_problem(written: str, context: Quoting) -> str:
    where = "single quotes" if context is Quoting.single else "a quoted here-document (<<'EOF')"
    return (
        f"{written.strip()} stands inside {where}, where the shell takes it literally; "
        f"put it outside the quotes (it becomes one quoted word there) or write "
        f"{{{{ raw ... }}}} to paste the value as shell text"
    )


def quoting(text: str, found: list[Span]) -> list[Quoting]:
    """What surrounds each of `found` (the templates of `text`, in order)."""
    skeleton: list[str] = []
    position = 0
    for span in found:
        skeleton.append(text[position : span.start])
        skeleton.append(MARK)
        position = span.end
    skeleton.append(text[position:])
    return _Reader("".join(skeleton)).read()


class _Reader:
    """One pass over a command with MARK for each template; `read` says what surrounds each.

    The frames stack holds what the reader is inside: `u` plain shell (the top level, `( )`,
    `$( )`, a backtick command), `d` double quotes, `s` single quotes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.frames: list[str] = ["u"]
        self.heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, quoted)
        self.found: list[Quoting] = []

    def read(self) -> list[Quoting]:
        text, i = self.text, 0
        while i < len(text):
            if text[i] == "\n" and self.heredocs and self.frames[-1] == "u":
                i = self._heredoc_bodies(i + 1)
                continue
            i = self._step(i)
        return self.found

    def _step(self, i: int) -> int:
        text, frame, c = self.text, self.frames[-1], self.text[i]
        if c == MARK:
            self.found.append({"u": Quoting.none, "d": Quoting.double, "s": Quoting.single}[frame])
            return i + 1
        if frame == "s":
            if c == "'":
                self.frames.pop()
            return i + 1
        if c == "\\":
            return i + (1 if text.startswith(MARK, i + 1) else 2)
        if c == "$" and text.startswith("(", i + 1):
            self.frames.append("u")
            return i + 2
        if c == "`":
            self._backtick()
            return i + 1
        if frame == "d":
            if c == '"':
                self.frames.pop()
            return i + 1
        return self._plain(i)

    def _backtick(self) -> None:
        if self.frames[-1] == "u" and len(self.frames) > 1 and self.frames[-2] == "`":
            self.frames.pop()  # the command's frame
            self.frames.pop()  # the backtick marker
        else:
            self.frames.extend(("`", "u"))

    def _plain(self, i: int) -> int:
        text, c = self.text, self.text[i]
        if c == "'":
            self.frames.append("s")
        elif c == '"':
            self.frames.append("d")
        elif c == "(":
            self.frames.append("u")
        elif c == ")" and len(self.frames) > 1 and self.frames[-2] != "`":
            self.frames.pop()
        elif c == "#" and (i == 0 or text[i - 1] in _WORD_START):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            # a template in a comment does nothing; count it as plain shell
            self.found.extend(Quoting.none for _ in range(text.count(MARK, i, end)))
            return end
        elif c == "<" and text.startswith("<", i + 1) and not text.startswith("<", i + 2):
            return self._heredoc_start(i + 2)
        return i + 1

    def _heredoc_start(self, i: int) -> int:
        found = _HEREDOC.match(self.text, i)
        if not found:
            return i
        strip_tabs, single, double, backslash, bare = found.groups()
        word = next(w for w in (single, double, bare) if w is not None)
        quoted = bare is None or bool(backslash)
        self.heredocs.append((word, strip_tabs == "-", quoted))
        return found.end()

    def _heredoc_bodies(self, i: int) -> int:
        """Read the here-documents that start on this line; return where the shell goes on."""
        text = self.text
        for delimiter, strip_tabs, quoted in self.heredocs:
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                line = text[i:end]
                i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                inside = Quoting.literal_heredoc if quoted else Quoting.heredoc
                self.found.extend(inside for _ in range(line.count(MARK)))
        self.heredocs = []
        return i
