"""The rules a `traffic:` step must follow, and the user group of a phased rollout as values.

Pure: a plan with a header name nginx cannot match, an address that is not a network, or canary
shares that go down is refused by `golive check`, before any nginx sees it.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from golive.plan.models import TrafficSpec

HEADER = re.compile(r"^([A-Za-z0-9-]{1,64})(?:\s*:\s*([A-Za-z0-9._~=+/:@-]{1,200}))?$")
COOKIE = re.compile(r"^([A-Za-z0-9_]{1,64})(?:=([A-Za-z0-9._~+/:@-]{1,200}))?$")


@dataclass(frozen=True)
class UserGroup:
    """Which requests belong to the group a phased rollout sends first.

    `header`/`cookie`: `name` must be present (non-empty), or equal `value` when one is given.
    `network`: the client address is in one of `networks`.
    """

    kind: Literal["header", "cookie", "network"]
    name: str = ""
    value: str | None = None
    networks: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "network":
            return f"clients in {', '.join(self.networks)}"
        what = f"{self.name}: {self.value}" if self.value else self.name
        return f"requests with {self.kind} {what}"


def user_group(kind: Literal["header", "cookie", "network"], text: str) -> UserGroup:
    """Parse `group: {header: "X-Beta: 1"}` and its kin; ValueError says what is wrong."""
    text = text.strip()
    if kind == "network":
        networks = []
        for part in re.split(r"[\s,]+", text):
            try:
                networks.append(str(ipaddress.ip_network(part, strict=False)))
            except ValueError:
                raise ValueError(
                    f"group.network: {part!r} is not an address or network (10.0.0.0/8)"
                ) from None
        return UserGroup(kind, networks=tuple(networks))
    pattern, example = (HEADER, "X-Beta or 'X-Beta: 1'") if kind == "header" else (COOKIE, "beta=1")
    found = pattern.match(text)
    if found is None:
        raise ValueError(f"group.{kind}: {text!r} is not a {kind} nginx can match (e.g. {example})")
    return UserGroup(kind, name=found.group(1), value=found.group(2))


def check_traffic(spec: TrafficSpec) -> None:
    """Raise ValueError for a traffic step that cannot be carried out as written."""
    if spec.from_ == spec.to:
        raise ValueError(f"traffic: from and to are the same group ({spec.to!r})")
    shares = list(spec.steps)
    if any(share <= 0 for share in shares):
        raise ValueError("traffic.steps: every share is above 0% (0% is where the switch starts)")
    if any(later <= earlier for earlier, later in itertools.pairwise(shares)):
        raise ValueError("traffic.steps: shares go up, each above the one before (10%, 50%, 100%)")
    if spec.strategy == "blue_green":
        if shares not in ([], [1.0]):
            raise ValueError("traffic: blue_green moves 100% at once: leave steps out")
        if spec.analysis is not None:
            raise ValueError(
                "traffic: blue_green has no canary to analyse: use canary, or leave analysis out"
            )
    if spec.strategy == "phased":
        if not spec.group or len(spec.group) != 1:
            raise ValueError(
                "traffic: a phased rollout needs a group: exactly one of header, cookie, network"
            )
        ((kind, text),) = spec.group.items()
        user_group(kind, text)
    elif spec.group:
        raise ValueError(f"traffic: group is for phased rollouts, not {spec.strategy}")
