"""Text from the event log on its way to a terminal: control characters made visible.

Updates, issues, comments, names and step output are written by people and by commands; an
escape sequence among them would recolour, retitle or rewrite an operator's terminal, and a
newline or carriage return would forge a line of the log. Everything the CLI prints of the
log goes through `visible`: each control character becomes its escape (`\\x1b`, `\\n`, `\\r`).
"""

from __future__ import annotations

import re

# C0 controls but tab, DEL, C1 controls, and Unicode's line, paragraph and direction overrides.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` on one line, every control character shown as its escape."""
    return _CONTROL.sub(_escape, text)


def visible_lines(text: str) -> list[str]:
    """`text` split into its lines (a multi-line output), each made `visible`."""
    return [visible(line) for line in text.split("\n")]
