"""A `traffic:` step carried out: the moves of its strategy, the pauses and the analyses
between them, and the move back when a canary fails.

- blue_green: 100% to `to`, at once.
- canary: each share of `steps` in turn (default 10%, 50%, 100%); between two, a `pause`, then
  the `analysis` of what each group answered since the move: pass promotes to the next share,
  fail moves every request back to `from`, inconclusive waits longer (up to `max_wait`), then
  moves back too: no evidence is no promotion.
- phased: the `group` first (every request of it to `to`, the others to `from`), then each
  share of `steps` for everyone (default 100%), with pauses and analyses as for a canary.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from golive.plan.models import CanaryAnalysis, TrafficSpec
from golive.plan.routing import user_group
from golive.plan.values import format_duration
from golive.traffic import access_log, prometheus
from golive.traffic.analysis import Judgement, Verdict, judge
from golive.traffic.config import Routing, format_share, render
from golive.traffic.nginx import Nginx, TrafficError

MIN_RECHECK = 0.5
MAX_RECHECK = 30.0
DEFAULT_RECHECK = 5.0
MIN_MAX_WAIT = 30.0


@dataclass
class Outcome:
    ok: bool
    error: str | None = None
    moves: list[dict[str, Any]] = field(default_factory=list)  # the figures of each move

    @property
    def details(self) -> dict[str, Any]:
        return {"moves": self.moves}


def stages(spec: TrafficSpec) -> list[Routing]:
    """The routings a step moves through, in order."""
    group = None
    if spec.strategy == "phased" and spec.group:
        ((kind, text),) = spec.group.items()
        group = user_group(kind, text)
    first = [Routing(spec.from_, spec.to, 0.0, group)] if group else []
    return first + [Routing(spec.from_, spec.to, share, group) for share in spec.shares]


def back(spec: TrafficSpec) -> Routing:
    """Every request to `from`, as before the step."""
    return Routing(spec.from_, spec.to, 0.0)


@dataclass
class Rollout:
    nginx: Nginx
    spec: TrafficSpec
    note: str  # who writes the include file: run and step
    say: Callable[[str], None]  # a line for people
    record: Callable[[dict[str, Any]], None]  # the figures of a move or an analysis
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    render: Callable[[str], str] = str  # templates in the Prometheus url
    outcome: Outcome = field(default_factory=lambda: Outcome(ok=True))

    async def carry_out(self) -> Outcome:
        spec, routings = self.spec, stages(self.spec)
        if spec.analysis is not None and self.nginx.access_log is None:
            return self._failed(
                "analysis needs the JSON access log: set access_log in the environment's nginx "
                "settings (docs/traffic.md)"
            )
        for index, routing in enumerate(routings):
            try:
                start = await self.move(routing)
            except TrafficError as exc:
                return await self._move_back_after(str(exc), moved=index > 0)
            if index == len(routings) - 1:
                break
            judgement = await self._hold(start)
            if judgement is not None and judgement.verdict is not Verdict.passed:
                why = (
                    f"canary failed at {format_share(routing.share)}: {judgement.reason}"
                    if judgement.verdict is Verdict.failed
                    else f"still inconclusive at {format_share(routing.share)} after waiting "
                    f"{format_duration(self._max_wait())}: {judgement.reason}"
                )
                return await self._move_back_after(why, moved=True)
        return self.outcome

    async def move(self, routing: Routing) -> access_log.Position:
        """Apply `routing`; where the access log stood once nginx serves with it."""
        text = render(self.nginx.settings, routing, note=self.note)
        seconds = await self.nginx.apply(text)
        at = time.time()
        figures = {"event": "moved", "share": routing.share, "routing": str(routing)}
        figures["seconds"] = round(seconds, 4)
        self.outcome.moves.append(figures)
        self.record(figures)
        self.say(f"traffic: {routing} (nginx reloaded in {seconds * 1000:.0f} ms)")
        log = self.nginx.access_log
        return access_log.position(log, since=at) if log else access_log.Position(0, at)

    async def _hold(self, start: access_log.Position) -> Judgement | None:
        """The pause after a move, then the analysis (repeated while inconclusive)."""
        pause = self.spec.pause.total_seconds() if self.spec.pause else 0.0
        if pause:
            self.say(f"holding for {format_duration(pause)}")
            await self.sleep(pause)
        rules = self.spec.analysis
        if rules is None:
            return None
        recheck = min(max(pause or DEFAULT_RECHECK, MIN_RECHECK), MAX_RECHECK)
        waited, limit = 0.0, self._max_wait()
        while True:
            judgement = await self._analyse(start, rules)
            if judgement.verdict is not Verdict.inconclusive or waited >= limit:
                return judgement
            self.say(f"waiting {format_duration(recheck)} longer for more requests")
            await self.sleep(recheck)
            waited += recheck

    async def _analyse(self, start: access_log.Position, rules: CanaryAnalysis) -> Judgement:
        log = self.nginx.access_log
        assert log is not None, "checked before the first move"
        groups = (self.spec.from_, self.spec.to)
        try:
            reading = access_log.read(
                log, start, servers=self.nginx.settings.upstreams, groups=groups
            )
        except OSError as exc:
            judgement = Judgement(
                Verdict.inconclusive, f"cannot read the access log {log}: {exc.strerror}", {}
            )
        else:
            samples = reading.samples
            judgement = judge(samples[self.spec.from_], samples[self.spec.to], rules)
            judgement.figures["unreadable_lines"] = reading.unreadable
        if rules.prometheus is not None:
            judgement = _worst(
                judgement,
                await prometheus.judge(
                    rules.prometheus,
                    rules,
                    canary=self.spec.to,
                    baseline=self.spec.from_,
                    render=self.render,
                ),
            )
        decision = {
            Verdict.passed: "promote",
            Verdict.failed: "roll back",
            Verdict.inconclusive: "wait longer",
        }[judgement.verdict]
        figures = {"event": "analysed", "verdict": judgement.verdict.value, "decision": decision}
        figures.update(judgement.figures, reason=judgement.reason)
        self.outcome.moves.append(figures)
        self.record(figures)
        self.say(f"analysis: {judgement.verdict.value} -> {decision}: {judgement.reason}")
        return judgement

    def _max_wait(self) -> float:
        rules = self.spec.analysis
        if rules is not None and rules.max_wait is not None:
            return rules.max_wait.total_seconds()
        pause = self.spec.pause or dt.timedelta(0)
        return max(3 * pause.total_seconds(), MIN_MAX_WAIT)

    async def _move_back_after(self, why: str, *, moved: bool) -> Outcome:
        if not moved:
            return self._failed(why)
        try:
            await self.move(back(self.spec))
        except TrafficError as exc:
            return self._failed(f"{why}; moving traffic back to {self.spec.from_} failed: {exc}")
        return self._failed(f"{why}; traffic moved back to {self.spec.from_}")

    def _failed(self, error: str) -> Outcome:
        self.outcome.ok, self.outcome.error = False, error
        return self.outcome


def _worst(log: Judgement, other: Judgement) -> Judgement:
    """The access log's verdict and Prometheus's together: fail, else inconclusive, else pass."""
    order = (Verdict.failed, Verdict.inconclusive, Verdict.passed)
    verdict = min(log.verdict, other.verdict, key=order.index)
    reason = f"{other.reason}; {log.reason}" if other.reason else log.reason
    return Judgement(verdict, reason, {**log.figures, "prometheus": other.figures})
