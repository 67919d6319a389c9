"""Rules that need the whole plan: references, cycles, owners, the schedule, undo, quorums.

Each rule is a function `(Context) -> Iterator[Diagnostic]`; `RULES` lists them in order.
A rule never raises on a plan that validated: every problem becomes a diagnostic.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golive.plan.diagnostics import Diagnostic, Hints, Severity
from golive.plan.graph import StepGraph
from golive.plan.models import (
    AUDIENCES,
    NotificationRule,
    Plan,
    StepCheck,
    StepKind,
    TrafficSpec,
)
from golive.plan.schedule import hypercare_findings, window_findings
from golive.plan.shell import Quoting, quoted_problem, quoting
from golive.plan.source import DataPath, Positions, human_path
from golive.plan.template import has_template, references, spans
from golive.plan.values import format_duration


@dataclass
class Context:
    plan: Plan
    data: dict[str, Any]
    positions: Positions
    env: str | None
    hints: Hints = field(default_factory=Hints)
    directory: Path | None = None  # the plan's directory: files that steps name are found there

    lacking_cache: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def did_you_mean(self, word: str, choices: Collection[str]) -> str | None:
        return self.hints.did_you_mean(word, choices)

    def lacking(self, section: str, name: str) -> list[str]:
        """The environments checked whose `section` (hosts, vars, secrets) has no `name`; once
        per name, however many steps refer to it."""
        key = (section, name)
        if key not in self.lacking_cache:
            self.lacking_cache[key] = [
                env
                for env in self.environments
                if name not in getattr(self.plan.environments[env], section)
            ]
        return self.lacking_cache[key]

    def error(
        self, path: DataPath, message: str, hint: str | None = None, *, rule: str
    ) -> Diagnostic:
        where = human_path(self.data, path)
        return self.positions.diagnostic(path, f"{where}: {message}", hint=hint, rule=rule)

    def warning(
        self, path: DataPath, message: str, hint: str | None = None, *, rule: str
    ) -> Diagnostic:
        where = human_path(self.data, path)
        return self.positions.diagnostic(
            path, f"{where}: {message}", hint=hint, rule=rule, severity=Severity.warning
        )

    @property
    def environments(self) -> list[str]:
        """The environments references are checked against: the chosen one, or all of them."""
        if self.env is not None:
            return [self.env]
        return list(self.plan.environments)


Rule = Callable[[Context], Iterator[Diagnostic]]


def duplicate_ids(ctx: Context) -> Iterator[Diagnostic]:
    for section in ("steps", "checklist", "objectives"):
        seen: dict[str, int] = {}
        for index, item in enumerate(getattr(ctx.plan, section)):
            if item.id in seen:
                first = ctx.positions.of((section, seen[item.id]))[0]
                yield ctx.error(
                    (section, index, "id"),
                    f"duplicate id '{item.id}' (first used on line {first})",
                    "give every item its own id",
                    rule="duplicate-id",
                )
            seen.setdefault(item.id, index)


def unknown_people(ctx: Context) -> Iterator[Diagnostic]:
    people = ctx.plan.people
    refs: list[tuple[DataPath, str]] = []
    for i, step in enumerate(ctx.plan.steps):
        if step.owner:
            refs.append((("steps", i, "owner"), step.owner))
        refs.extend((("steps", i, "approvers", j), a) for j, a in enumerate(step.approvers))
    for i, item in enumerate(ctx.plan.checklist):
        if item.owner:
            refs.append((("checklist", i, "owner"), item.owner))
    if ctx.plan.hypercare:
        for i, level in enumerate(ctx.plan.hypercare.escalation):
            refs.extend(
                (("hypercare", "escalation", i, "notify", j), p) for j, p in enumerate(level.notify)
            )
        refs.extend(
            (("hypercare", "exit", "sign_off", j), p)
            for j, p in enumerate(ctx.plan.hypercare.exit.sign_off)
        )
    refs.extend(_notification_people(ctx))
    for path, person in refs:
        if person not in people:
            hint = ctx.did_you_mean(person, people) or "add them under people:"
            yield ctx.error(path, f"unknown person '{person}'", hint, rule="unknown-person")


def _notification_people(ctx: Context) -> Iterator[tuple[DataPath, str]]:
    for i, level in enumerate(ctx.plan.escalation):
        yield from ((("escalation", i, "notify", j), p) for j, p in enumerate(level.notify))
    settings = ctx.plan.notifications
    yield from ((("notifications", "managers", j), p) for j, p in enumerate(settings.managers))
    for rule, audience in settings.rules.items():
        for j, who in enumerate(audience):
            if who not in AUDIENCES:
                yield ("notifications", "rules", rule.value, j), who


def notification_urls(ctx: Context) -> Iterator[Diagnostic]:
    urls: list[tuple[DataPath, str]] = []
    for pid, person in ctx.plan.people.items():
        urls.extend((("people", pid, "notify", j), u) for j, u in enumerate(person.notify))
    urls.extend((("channels", j), u) for j, u in enumerate(ctx.plan.channels))
    if ctx.plan.hypercare:
        urls.extend(
            (("hypercare", "channels", j), u) for j, u in enumerate(ctx.plan.hypercare.channels)
        )
    if ctx.plan.notifications.email:
        urls.append((("notifications", "email"), ctx.plan.notifications.email))
    muted = set(ctx.plan.people) | set(AUDIENCES) | {r.value for r in NotificationRule}
    for j, name in enumerate(ctx.plan.notifications.mute):
        if name not in muted:
            hint = ctx.did_you_mean(name, muted) or "mute a rule, a person id or channels"
            yield ctx.error(
                ("notifications", "mute", j), f"nothing called '{name}'", hint, rule="mute"
            )
    if not urls:
        return  # apprise is slow to import: only plans that notify pay for it
    from golive.plan.notify import url_problem

    for path, url in urls:
        problem = url_problem(url)
        if problem is not None:
            hint = "write an apprise URL: json://host/path, mailto://..., slack://..., ntfy://..."
            yield ctx.error(path, problem, hint, rule="notification-url")


def _step_check_refs(ctx: Context) -> Iterator[tuple[DataPath, str]]:
    for i, step in enumerate(ctx.plan.steps):
        yield from ((("steps", i, "needs", j), n) for j, n in enumerate(step.needs))
        for j, check in enumerate(step.checks):
            if isinstance(check, StepCheck):
                shorthand = isinstance(ctx.data["steps"][i]["checks"][j], str)
                yield ("steps", i, "checks", j) + (() if shorthand else ("step",)), check.step
        if isinstance(step.check, StepCheck):
            yield ("steps", i, "check", "step"), step.check.step
    for i, objective in enumerate(ctx.plan.objectives):
        if isinstance(objective.check, StepCheck):
            yield ("objectives", i, "check", "step"), objective.check.step
    for i, item in enumerate(ctx.plan.checklist):
        if isinstance(item.verify, StepCheck):
            yield ("checklist", i, "verify", "step"), item.verify.step


def unknown_steps(ctx: Context) -> Iterator[Diagnostic]:
    ids = {s.id: None for s in ctx.plan.steps}  # ordered for the hint, hashed for the lookup
    for path, ref in _step_check_refs(ctx):
        if ref not in ids:
            hint = ctx.did_you_mean(ref, ids) or "name a step id from steps:"
            yield ctx.error(path, f"unknown step '{ref}'", hint, rule="unknown-step")


def cycles(ctx: Context) -> Iterator[Diagnostic]:
    cycle = StepGraph(ctx.plan.steps).find_cycle()
    if cycle:
        index = next(i for i, s in enumerate(ctx.plan.steps) if s.id == cycle[0])
        yield ctx.error(
            ("steps", index, "needs"),
            f"dependency cycle: {chain(cycle)}",
            "each step needs the next one; remove one of these needs",
            rule="cycle",
        )


def chain(ids: Sequence[str], *, ends: int = 5) -> str:
    """`a -> b -> c`; a long chain shows its ends and how many steps it skips (a diagnostic is
    one line, even for a cycle through 10,000 steps)."""
    if len(ids) <= 2 * ends + 1:
        return " -> ".join(ids)
    skipped = len(ids) - 2 * ends
    return " -> ".join([*ids[:ends], f"... {skipped:,} more ...", *ids[-ends:]])


def owners(ctx: Context) -> Iterator[Diagnostic]:
    for i, step in enumerate(ctx.plan.steps):
        if step.owner is None and step.kind is not StepKind.gate:
            yield ctx.error(
                ("steps", i), "step has no owner", "add owner: PERSON", rule="missing-owner"
            )
    for i, item in enumerate(ctx.plan.checklist):
        if item.owner is None:
            yield ctx.error(
                ("checklist", i),
                "checklist item has no owner",
                "add owner: PERSON",
                rule="missing-owner",
            )


def host_groups(ctx: Context) -> Iterator[Diagnostic]:
    for i, step in enumerate(ctx.plan.steps):
        if step.on is None:
            if step.batch is not None or step.max_failures is not None:
                yield ctx.error(
                    ("steps", i),
                    "batch and max_failures apply to steps with on: GROUP",
                    rule="batch-without-hosts",
                )
            continue
        if not ctx.plan.environments:
            yield ctx.error(
                ("steps", i, "on"),
                f"unknown host group '{step.on}': no environments",
                "define environments: with hosts:",
                rule="unknown-host-group",
            )
        lacking = ctx.lacking("hosts", step.on)
        if lacking:
            groups = ctx.plan.environments[lacking[0]].hosts
            hint = (
                ctx.did_you_mean(step.on, groups) or f"add it under environments.{lacking[0]}.hosts"
            )
            yield ctx.error(
                ("steps", i, "on"),
                f"unknown host group '{step.on}' in {_envs(lacking)}",
                hint,
                rule="unknown-host-group",
            )


def upstream_groups(ctx: Context) -> Iterator[Diagnostic]:
    """A traffic step's groups must be upstreams of each environment's nginx settings (an
    environment without them fails the step when it runs, saying so)."""
    for i, step in enumerate(ctx.plan.steps):
        if not isinstance(step.traffic, TrafficSpec):
            continue  # none, or a maintenance page: no groups
        settings = {
            env: nginx for env in ctx.environments if (nginx := ctx.plan.environments[env].nginx)
        }
        for key, group in (("from", step.traffic.from_), ("to", step.traffic.to)):
            lacking = [env for env, nginx in settings.items() if group not in nginx.upstreams]
            if lacking:
                known = settings[lacking[0]].upstreams
                hint = ctx.did_you_mean(group, known) or (
                    f"add it under environments.{lacking[0]}.nginx.upstreams"
                )
                yield ctx.error(
                    ("steps", i, "traffic", key),
                    f"unknown upstream group '{group}' in {_envs(lacking)}",
                    hint,
                    rule="unknown-upstream-group",
                )
        blind = [env for env, nginx in settings.items() if nginx.access_log is None]
        if step.traffic.analysis is not None and blind:
            yield ctx.error(
                ("steps", i, "traffic", "analysis"),
                f"canary analysis reads nginx's access log: {_envs(blind)} set none",
                f"add access_log under environments.{blind[0]}.nginx",
                rule="analysis-without-access-log",
            )


def dns_steps(ctx: Context) -> Iterator[Diagnostic]:
    """A dns step's TSIG secret must be declared; a long TTL delays the switch and the way back
    (caches keep answering the old values until it runs out)."""
    rollback = ctx.plan.policy.rollback_within
    for i, step in enumerate(ctx.plan.steps):
        spec = step.dns
        if spec is None:
            continue
        lacking = ctx.lacking("secrets", spec.tsig.secret)
        if lacking:
            yield ctx.error(
                ("steps", i, "dns", "tsig", "secret"),
                f"unknown secret '{spec.tsig.secret}' in {_envs(lacking)}",
                f"add it under environments.{lacking[0]}.secrets: {{env: VARIABLE}}",
                rule="unknown-secret",
            )
        allowed = step.timeout or step.estimate
        if spec.current_ttl is not None and allowed and spec.current_ttl > allowed.total_seconds():
            yield ctx.warning(
                ("steps", i, "dns", "current_ttl"),
                f"caches may answer the old values for {format_duration(spec.current_ttl)} "
                f"after the switch, longer than the {format_duration(allowed)} it is given",
                "lower the record's TTL 48 h before the go-live",
                rule="dns-ttl",
            )
        if rollback is not None and spec.ttl > rollback.total_seconds():
            yield ctx.warning(
                ("steps", i, "dns", "ttl"),
                f"after a rollback, caches may answer the new values for "
                f"{format_duration(spec.ttl)}, longer than policy.rollback_within "
                f"({format_duration(rollback)})",
                "lower ttl: so that the way back fits the rollback budget",
                rule="dns-ttl",
            )


def _envs(names: list[str], *, most: int = 5) -> str:
    quoted = ", ".join(f"'{n}'" for n in names[:most])
    more = f" and {len(names) - most:,} more" if len(names) > most else ""
    return f"environment{'s' if len(names) > 1 else ''} {quoted}{more}"


def _strings(node: Any, path: DataPath) -> Iterator[tuple[DataPath, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, index))


def templates(ctx: Context) -> Iterator[Diagnostic]:
    for section in (
        "steps",
        "checklist",
        "objectives",
        "hypercare",
        "people",
        "channels",
        "notifications",
    ):
        for path, text in _strings(ctx.data.get(section), (section,)):
            for ref in references(text):
                yield from _template_ref(ctx, path, ref.name, ref.attribute, ref.problem)
            if has_template(text) and _is_shell_command(ctx.data, path):
                yield from _shell_quoting(ctx, path, text)


def _is_shell_command(data: dict[str, Any], path: DataPath) -> bool:
    """`run` (a step's or a check's) and a `run` step's `undo` go to a shell."""
    if path[-1] == "run":
        return True
    steps = data.get("steps")
    if path[-1] != "undo" or path[0] != "steps" or len(path) != 3 or not isinstance(steps, list):
        return False
    step = steps[path[1]] if isinstance(path[1], int) else None
    return isinstance(step, dict) and "sql" not in step and "traffic" not in step


def _shell_quoting(ctx: Context, path: DataPath, text: str) -> Iterator[Diagnostic]:
    found = list(spans(text))
    for span, context in zip(found, quoting(text, found), strict=True):
        if context in (Quoting.single, Quoting.literal_heredoc) and not span.reference.raw:
            written = text[span.start : span.end]
            yield ctx.error(path, quoted_problem(written, context), rule="shell-quoting")


def _template_ref(
    ctx: Context, path: DataPath, name: str, attribute: str | None, problem: str | None
) -> Iterator[Diagnostic]:
    if problem:
        yield ctx.error(path, problem, rule="template")
        return
    if name not in ("vars", "secrets") or attribute is None:
        return

    lacking = ctx.lacking(name, attribute)
    if lacking:
        known = getattr(ctx.plan.environments[lacking[0]], name)
        hint = ctx.did_you_mean(attribute, known) or (
            f"add it under environments.{lacking[0]}.{name}"
        )
        yield ctx.error(
            path,
            f"'{{{{ {name}.{attribute} }}}}' is not defined in {_envs(lacking)}",
            hint,
            rule="unknown-variable",
        )
    if not ctx.plan.environments:
        yield ctx.error(
            path,
            f"'{{{{ {name}.{attribute} }}}}' used but no environments are defined",
            "define environments: with vars:",
            rule="unknown-variable",
        )


def due_dates(ctx: Context) -> Iterator[Diagnostic]:
    window = ctx.plan.window
    if window is None:
        return
    for i, item in enumerate(ctx.plan.checklist):
        if item.due is not None and item.due.end > window.start:
            yield ctx.error(
                ("checklist", i, "due"),
                f"due {item.due}, after the window starts ({window.start:%Y-%m-%d %H:%M})",
                "a checklist item must be done before the go-live",
                rule="due-after-window",
            )


def schedule(ctx: Context) -> Iterator[Diagnostic]:
    for finding in window_findings(ctx.plan):
        yield ctx.error(finding.key, finding.message, finding.hint, rule=finding.rule)
    hypercare = ctx.data.get("hypercare")
    for finding in hypercare_findings(ctx.plan):  # staff needed on duty: a warning, not an error
        key = (
            finding.key
            if isinstance(hypercare, dict) and "duration" in hypercare
            else ("hypercare",)
        )
        yield ctx.warning(key, finding.message, finding.hint, rule=finding.rule)


def critical_path(ctx: Context) -> Iterator[Diagnostic]:
    window = ctx.plan.window
    graph = StepGraph(ctx.plan.steps)
    if window is None or graph.find_cycle():
        return
    estimates = {s.id: s.estimate or dt.timedelta() for s in ctx.plan.steps}
    path = graph.critical_path(estimates.__getitem__)
    if path.total > window.length:
        yield ctx.error(
            ("window", "end"),
            f"the window ({format_duration(window.length)}) is shorter than the critical "
            f"path ({format_duration(path.total)}: {chain(path.steps)})",
            "widen the window or shorten the plan",
            rule="window-too-short",
        )


def undo(ctx: Context) -> Iterator[Diagnostic]:
    for i, step in enumerate(ctx.plan.steps):
        if step.changes_something:
            yield ctx.warning(
                ("steps", i),
                "changes something and has no undo",
                "add undo: COMMAND so that a rollback can revert it",
                rule="no-undo",
            )


def quorums(ctx: Context) -> Iterator[Diagnostic]:
    for i, step in enumerate(ctx.plan.steps):
        if step.kind is not StepKind.gate:
            continue
        if not step.approvers and not step.checks:
            yield ctx.error(("steps", i), "a gate needs approvers or checks", rule="quorum")
        elif step.quorum != "all" and step.quorum > len(step.approvers):
            yield ctx.error(
                ("steps", i, "quorum"),
                f"quorum {step.quorum} but only {len(step.approvers)} approver(s)",
                "add approvers or lower the quorum",
                rule="quorum",
            )


_SECRETISH = re.compile(r"(pass(word)?|secret|token|api_?key|private_?key|credential)", re.I)
_URL_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def literal_secrets(ctx: Context) -> Iterator[Diagnostic]:
    for env, environment in ctx.plan.environments.items():
        for name, value in environment.vars.items():
            path: DataPath = ("environments", env, "vars", name)
            if _URL_PASSWORD.search(value) or (_SECRETISH.search(name) and value):
                yield ctx.warning(
                    path,
                    "looks like a secret written into the plan",
                    "move it to secrets: {env: VARIABLE} or {file: PATH}",
                    rule="literal-secret",
                )


def estimates(ctx: Context) -> Iterator[Diagnostic]:
    if ctx.plan.window is None:
        return
    for i, step in enumerate(ctx.plan.steps):
        if step.estimate is None and step.kind is not StepKind.gate:
            yield ctx.warning(
                ("steps", i),
                "has no estimate; the critical path counts it as 0",
                "add estimate: 10m",
                rule="no-estimate",
            )


def tool_steps(ctx: Context) -> Iterator[Diagnostic]:
    """fabric, ansible and docker steps: the files and names they refer to (plan/tools.py)."""
    from golive.plan.tools import tool_step_findings

    yield from tool_step_findings(ctx)


RULES: tuple[Rule, ...] = (
    duplicate_ids,
    unknown_people,
    unknown_steps,
    cycles,
    owners,
    host_groups,
    upstream_groups,
    dns_steps,
    tool_steps,
    templates,
    due_dates,
    schedule,
    critical_path,
    undo,
    quorums,
    literal_secrets,
    estimates,
    notification_urls,
)


def lint(
    plan: Plan,
    data: dict[str, Any],
    positions: Positions,
    env: str | None,
    *,
    directory: Path | None = None,
) -> list[Diagnostic]:
    """Every rule's findings for a plan that validated (`directory`: where the plan is)."""
    ctx = Context(plan, data, positions, env, directory=directory)
    return [diagnostic for rule in RULES for diagnostic in rule(ctx)]
