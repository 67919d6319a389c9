"""The user's ssh client config, indexed once per run so that each host reads only its part.

asyncssh reads the config for one host at a time and tokenizes every line of the file each
time: with a fleet's config (a `Host` block per machine) that is 10 ms per host, most of the
cost of a fresh connection. For a config made of plain `Host` blocks, `ConfigIndex` hands
asyncssh, per host, a copy holding only the lines outside any block and the blocks whose
patterns match that host: the same settings, in the same order, for a fraction of the parse.

A file with `Match`, `Include` or `CanonicalizeHostname` (whose meaning depends on more than the
host alias) is always read whole.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from asyncssh.pattern import WildcardPatternList

HOST_LINE = re.compile(r"^\s*host(?:\s*=\s*|\s+)(.*)$", re.IGNORECASE)
WHOLE_FILE_ONLY = re.compile(r"^\s*(match|include|canonicalizehostname)\b", re.IGNORECASE)
WILDCARD = set("*?!")


def scratch_directory() -> Path:
    """A private directory for the per-host copies, in memory when the system offers one
    (writing a file to a journaled disk costs more than parsing it)."""
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.access(candidate, os.W_OK):
            return Path(tempfile.mkdtemp(prefix="golive-ssh-", dir=candidate))
    return Path(tempfile.mkdtemp(prefix="golive-ssh-"))


@dataclass
class Block:
    patterns: str  # comma-separated, as asyncssh matches them
    text: str

    def matches(self, host: str) -> bool:
        return bool(WildcardPatternList(self.patterns).matches(host))


@dataclass
class ConfigIndex:
    """One config file split into its preamble and `Host` blocks (see the module docstring)."""

    preamble: str
    blocks: list[Block]
    literal: dict[str, list[int]]  # a host name -> the blocks naming it literally
    patterned: list[int]  # blocks with a wildcard or a negation: matched per host
    directory: Path = field(default_factory=lambda: scratch_directory())

    @classmethod
    def read(cls, path: str) -> ConfigIndex | None:
        """The index of `path`, or None when it must be read whole."""
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
        except (OSError, UnicodeDecodeError):
            return None  # asyncssh reports it
        if any(WHOLE_FILE_ONLY.match(line) for line in lines):
            return None
        preamble: list[str] = []
        blocks: list[tuple[list[str], list[str]]] = []
        for line in lines:
            if found := HOST_LINE.match(line):
                try:
                    blocks.append((shlex.split(found.group(1)), [line]))
                except ValueError:
                    return None
            elif blocks:
                blocks[-1][1].append(line)
            else:
                preamble.append(line)
        return cls.of("".join(preamble), blocks)

    @classmethod
    def of(cls, preamble: str, found: list[tuple[list[str], list[str]]]) -> ConfigIndex:
        blocks = [Block(",".join(words), "".join(text)) for words, text in found]
        literal: dict[str, list[int]] = {}
        patterned: list[int] = []
        for number, (words, _) in enumerate(found):
            names = ",".join(words).split(",")
            if any(WILDCARD & set(name) for name in names):
                patterned.append(number)
            else:
                for name in set(names):
                    literal.setdefault(name, []).append(number)
        return cls(preamble, blocks, literal, patterned)

    def text_for(self, host: str) -> str:
        """The config as asyncssh would apply it to `host`: what matches, in file order."""
        chosen = set(self.literal.get(host, ()))
        chosen.update(n for n in self.patterned if self.blocks[n].matches(host))
        return self.preamble + "".join(self.blocks[n].text for n in sorted(chosen))

    def path_for(self, host: str) -> str:
        """A file holding `text_for(host)`, kept until `close`."""
        digest = hashlib.sha1(host.encode(), usedforsecurity=False).hexdigest()[:16]
        path = self.directory / f"{digest}.config"
        if not path.exists():
            path.write_text(self.text_for(host), encoding="utf-8")
        return str(path)

    def close(self) -> None:
        for path in self.directory.glob("*.config"):
            path.unlink(missing_ok=True)
        self.directory.rmdir()
