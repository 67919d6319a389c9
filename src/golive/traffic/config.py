"""The include file golive owns: two upstream groups and where each request goes.

For `from: legacy`, `to: green` at 10% (name `golive`), nginx gets:

    upstream golive_legacy { server 10.0.0.5:8080; keepalive 16; }
    upstream golive_green  { server 10.0.0.7:8080; keepalive 16; }
    split_clients "${request_id}" $golive_split { 10% golive_green; * golive_legacy; }
    map $golive_split $golive_upstream { default $golive_split; }
    map $golive_upstream $golive_group { golive_green green; default legacy; }

The user's config says `proxy_pass http://$golive_upstream;` once, and logs `$golive_group` in
its JSON access log so that canary analysis knows which group answered each request. Each
request is assigned on its own (by its `$request_id`); a phased rollout's group is matched
first, by header, cookie (`map`) or client network (`geo`).
"""

from __future__ import annotations

from dataclasses import dataclass

from golive.plan.models import NginxSettings
from golive.plan.routing import UserGroup


@dataclass(frozen=True)
class Routing:
    """Where nginx sends requests: `share` (0 to 1) of them to `to`, the rest to `from`;
    with `group`, every request of that group goes to `to` whatever the share."""

    from_group: str
    to_group: str
    share: float
    group: UserGroup | None = None

    def __str__(self) -> str:
        shown = f"{format_share(self.share)} to {self.to_group}"
        if self.share >= 1 or (self.share <= 0 and self.group is None):
            shown = f"every request to {self.to_group if self.share >= 1 else self.from_group}"
        elif self.group is not None:
            shown = f"{self.group} to {self.to_group}, " + (
                f"{format_share(self.share)} of the others" if self.share else "others stay"
            )
        return shown


def format_share(share: float) -> str:
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%"


def upstream_name(settings: NginxSettings, group: str) -> str:
    return f"{settings.name}_{group}"


def render(settings: NginxSettings, routing: Routing, *, note: str) -> str:
    """The whole include file for `routing`; `note` says who wrote it (run and step)."""
    name = settings.name
    source, target = (upstream_name(settings, g) for g in (routing.from_group, routing.to_group))
    lines = [
        f"# Written by golive ({note}). Do not edit: golive replaces this file at each move.",
        f"# Traffic: {routing}.",
        "",
    ]
    for group in (routing.from_group, routing.to_group):
        lines += _upstream(settings, group)
    lines += _split(name, routing.share, source=source, target=target)
    lines += _chooser(name, routing.group, target=target)
    lines += [
        f"map ${name}_upstream ${name}_group {{",
        f'    "{target}" "{routing.to_group}";',
        f'    default "{routing.from_group}";',
        "}",
        "",
    ]
    return "\n".join(lines)


def _upstream(settings: NginxSettings, group: str) -> list[str]:
    lines = [f"upstream {upstream_name(settings, group)} {{"]
    lines += [f"    server {server};" for server in settings.upstreams[group]]
    if settings.keepalive:
        lines.append(f"    keepalive {settings.keepalive};")
    return [*lines, "}", ""]


def _split(name: str, share: float, *, source: str, target: str) -> list[str]:
    if share <= 0 or share >= 1:
        only = target if share >= 1 else source
        return [f"map $request_id ${name}_split {{", f"    default {only};", "}", ""]
    shown = format_share(max(share, 0.0001))
    return [
        f'split_clients "${{request_id}}" ${name}_split {{',
        f"    {shown} {target};",
        f"    * {source};",
        "}",
        "",
    ]


def _chooser(name: str, group: UserGroup | None, *, target: str) -> list[str]:
    if group is None:
        return [f"map ${name}_split ${name}_upstream {{", f"    default ${name}_split;", "}", ""]
    lines: list[str] = []
    if group.kind == "network":
        lines += [f"geo ${name}_in_group {{", "    default 0;"]
        lines += [f"    {network} 1;" for network in group.networks]
    else:
        prefix = "http_" if group.kind == "header" else "cookie_"
        variable = prefix + group.name.lower().replace("-", "_")
        lines.append(f"map ${variable} ${name}_in_group {{")
        if group.value is None:
            lines += ['    "" 0;', "    default 1;"]
        else:
            lines += [f'    "{group.value}" 1;', "    default 0;"]
    lines += ["}", ""]
    lines += [
        f"map ${name}_in_group ${name}_upstream {{",
        f"    1 {target};",
        f"    default ${name}_split;",
        "}",
        "",
    ]
    return lines
