"""Renderers of a post-mortem: Markdown, self-contained HTML (inline CSS and SVG) and JSON.

Each is a pure function of the model: no clock, no network, so the same record gives the same
bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from golive.plan.values import format_duration
from golive.report.postmortem.document import Postmortem, StepRow, TrafficMove


def render(postmortem: Postmortem, format: str) -> str:
    """The post-mortem as `md`, `html` or `json`."""
    renderers: dict[str, Callable[[Postmortem], str]] = {
        "md": render_markdown,
        "html": render_html,
        "json": render_json,
    }
    return renderers[format](postmortem)


def render_json(postmortem: Postmortem) -> str:
    return json.dumps(postmortem.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def when(iso: str | None) -> str:
    """An ISO time as people read it in a review: 2026-12-05 21:04:05 UTC."""
    if not iso:
        return "-"
    return iso[:19].replace("T", " ") + " UTC"


def duration(seconds: float | None) -> str:
    return format_duration(seconds)


def signed(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return ("+" if seconds > 0 else "-" if seconds < 0 else "±") + format_duration(abs(seconds))


def _md_cell(value: object) -> str:
    text = "-" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(pm: Postmortem) -> str:
    s = pm.summary
    out = [f"# Post-mortem: {s.title}", ""]
    kind = "rehearsal" if s.rehearsal else "production"
    out += [
        f"Run `{s.run_id}` of go-live `{s.plan_id}` on {s.env} ({kind})"
        + (f", release {s.release}" if s.release else "")
        + f". Drafted from the record as of {when(pm.as_of)}.",
        "",
        "## Summary",
        "",
        f"- **Outcome:** {s.outcome}",
        f"- **Started:** {when(s.started_at)}; **finished:** {when(s.finished_at)}",
        f"- **Duration:** {duration(s.duration)}",
    ]
    if s.window_start:
        used = f"{s.window_used:.0%}" if s.window_used is not None else "-"
        inside = {True: "inside the window", False: "outside the window", None: "-"}
        out.append(
            f"- **Window:** {when(s.window_start)} to {when(s.window_end)} "
            f"({duration(s.window_length)}); used {used}, {inside[s.within_window]}"
        )
    else:
        out.append("- **Window:** none planned")
    out += [f"- **On the call:** {', '.join(s.people) or '-'}", ""]
    if pm.audit is not None:
        mark = "holds" if pm.audit.holds else "BROKEN"
        out += [
            f"- **Audit chain:** {mark}: {pm.audit.message}",
            f"- **Head hash:** `{pm.audit.head or '-'}`",
            "",
        ]
    out += _md_steps(pm)
    out += ["## Critical path as it happened", ""]
    out += [" → ".join(pm.critical_path) if pm.critical_path else "No step finished.", ""]
    out += _md_gates(pm)
    out += ["## Decisions", ""]
    out += (
        _table(
            ["At", "By", "Decision", "Step", "Why"],
            [(when(d.at), d.by, d.decision, d.step, d.why) for d in pm.decisions],
        )
        if pm.decisions
        else ["No decisions were needed.", ""]
    )
    out += ["## Rollbacks", ""]
    out += (
        _table(
            ["Started", "By", "Reason", "Took", "Allowed", "Within", "Complete"],
            [
                (
                    when(r.started_at),
                    r.by,
                    r.reason,
                    duration(r.duration),
                    duration(r.rollback_within),
                    _yes(r.within),
                    _yes(r.complete),
                )
                for r in pm.rollbacks
            ],
        )
        if pm.rollbacks
        else ["No rollback.", ""]
    )
    out += ["## Data verification", ""]
    out += (
        _table(
            ["Step", "Table", "OK", "Source rows", "Target rows", "Missing", "Extra", "Changed"],
            [
                (
                    t.step,
                    t.table,
                    _yes(t.ok),
                    t.source_rows,
                    t.target_rows,
                    t.missing,
                    t.extra,
                    t.changed,
                )
                for t in pm.verification
            ],
        )
        if pm.verification
        else ["No verify step ran.", ""]
    )
    out += ["## Traffic moves", ""]
    out += (
        _table(
            ["Step", "Status", "Move / analysis", "Verdict", "Decision", "Reason"],
            [
                (t.step, t.status, m.routing or m.event, m.verdict, m.decision, m.reason)
                for t in pm.traffic
                for m in (t.moves or [_NO_MOVE])
            ],
        )
        if pm.traffic
        else ["No traffic step.", ""]
    )
    out += ["## Issue log", ""]
    out += (
        _table(
            [
                "#",
                "Title",
                "Severity",
                "Raised by",
                "Raised",
                "Resolved",
                "Time to resolve",
                "Resolution",
            ],
            [
                (
                    i.id,
                    i.title,
                    i.severity,
                    i.by,
                    when(i.raised_at),
                    when(i.resolved_at),
                    duration(i.time_to_resolution),
                    i.resolution or ("open" if not i.resolved_at else "-"),
                )
                for i in pm.issues
            ],
        )
        if pm.issues
        else ["No issues were raised.", ""]
    )
    out += ["## Updates posted", ""]
    out += (
        [f"- {when(u.at)} **{u.by}** ({u.severity}): {u.text}" for u in pm.updates] + [""]
        if pm.updates
        else ["No updates were posted.", ""]
    )
    out += _md_hypercare(pm)
    out += _md_rehearsals(pm)
    out += _md_review(pm)
    return "\n".join(out).rstrip() + "\n"


_NO_MOVE = TrafficMove(event="no move recorded")


def _yes(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def _md_steps(pm: Postmortem) -> list[str]:
    out = ["## Planned against actual", ""]
    rows = []
    for step in pm.steps:
        mark = " ⚠ over estimate" if step.overran else ""
        rows.append(
            (
                step.id + (" ★" if step.critical else ""),
                step.status,
                step.attempts,
                duration(step.estimate),
                duration(step.duration),
                signed(step.over_by) + mark,
                duration(step.rehearsal_p50),
                duration(step.rehearsal_p90),
            )
        )
    out += _table(
        [
            "Step",
            "Status",
            "Attempts",
            "Estimate",
            "Actual",
            "Over/under",
            "Rehearsal P50",
            "Rehearsal P90",
        ],
        rows,
    )
    out += ["★ on the critical path; ⚠ among the steps furthest over their estimate.", ""]
    return out


def _md_gates(pm: Postmortem) -> list[str]:
    out = ["## Go/No-Go gates", ""]
    if not pm.gates:
        return [*out, "No gate.", ""]
    for gate in pm.gates:
        out += [
            f"### {gate.title}",
            "",
            f"- **Status:** {gate.status}; quorum {gate.quorum} of "
            f"{', '.join(gate.approvers) or 'anyone'}",
            f"- **Opened:** {when(gate.opened_at)}; **decided:** {when(gate.decided_at)} "
            f"(took {duration(gate.decision_time)})",
        ]
        for ballot in gate.votes:
            comment = f": {ballot.comment}" if ballot.comment else ""
            out.append(
                f"- **{ballot.by}** voted **{ballot.vote}** at {when(ballot.at)} "
                f"({duration(ballot.after)} after it opened){comment}"
            )
        if gate.evidence:
            out += ["", "Evidence:", "", "```", *gate.evidence, "```"]
        out.append("")
    return out


def _md_hypercare(pm: Postmortem) -> list[str]:
    h = pm.hypercare
    out = ["## Hypercare", ""]
    if not h.started:
        return [*out, "Hypercare has not started for this run.", ""]
    out += [
        f"- **Started:** {when(h.started_at)}; planned until {when(h.until)}",
        f"- **Monitors:** {', '.join(h.monitors) or '-'}",
        f"- **Incidents:** {len(h.incidents)}",
        f"- **User feedback received:** {h.feedback}",
    ]
    if h.exited_at:
        out.append(f"- **Exited:** {when(h.exited_at)} ({h.exit_reason}, by {h.exited_by})")
    out.append("")
    if h.incidents:
        out += _table(
            ["#", "Monitor", "Title", "Severity", "Opened", "Recovered after", "Resolved"],
            [
                (
                    i.id,
                    i.monitor,
                    i.title,
                    i.severity,
                    when(i.opened_at),
                    duration(i.recovered_after),
                    when(i.resolved_at),
                )
                for i in h.incidents
            ],
        )
    if h.objectives:
        out += _table(["Objective", "Final verdict"], sorted(h.objectives.items()))
    return out


def _md_rehearsals(pm: Postmortem) -> list[str]:
    r = pm.rehearsals
    out = ["## Rehearsal history", ""]
    if not r.count:
        return [*out, "This go-live was not rehearsed.", ""]
    out.append(
        f"{r.count} rehearsal(s). Rehearsed duration P50 {duration(r.forecast_p50)}, "
        f"P90 {duration(r.forecast_p90)}; this run took {duration(r.actual)}."
    )
    out.append("")
    out += _table(
        ["Run", "Env", "Outcome", "Duration"],
        [(run.run_id, run.env, run.outcome, duration(run.duration)) for run in r.runs],
    )
    return out


def _md_review(pm: Postmortem) -> list[str]:
    review = pm.review
    out = ["## Review", ""]
    for title, entries in (
        ("What went well", review.went_well),
        ("What could be better", review.could_be_better),
        ("Lessons", review.lessons),
    ):
        out += [f"### {title}", ""]
        out += [f"- {e.text}" + (f" ({e.by})" if e.by else "") for e in entries] or ["- (none yet)"]
        out.append("")
    out += ["### Follow-ups", ""]
    out += (
        _table(
            ["Follow-up", "Owner", "Due", "Added by"],
            [(f.text, f.owner, f.due, f.by) for f in review.follow_ups],
        )
        if review.follow_ups
        else ["- (none yet)", ""]
    )
    return out


# --- HTML ---------------------------------------------------------------------------------------


def gantt(steps: Sequence[StepRow], *, width: int = 960) -> dict[str, Any]:
    """The planned-against-actual timeline as SVG geometry: one lane per step that ran."""
    lane, label = 22, 190
    ran = [s for s in steps if s.start is not None]
    end = max(
        [
            max(
                (s.start or 0) + (s.duration or 0),
                (s.planned_start or 0) + (s.estimate or 0),
                (s.start or 0) + (s.rehearsal_p90 or 0),
            )
            for s in ran
        ]
        or [1.0]
    )
    scale = (width - label - 20) / max(end, 1e-9)
    bars = []
    for index, step in enumerate(ran):
        y = 24 + index * lane
        x = label + (step.start or 0) * scale
        bars.append(
            {
                "id": step.id,
                "y": y,
                "x": round(x, 2),
                "actual": round(max((step.duration or 0) * scale, 1.5), 2),
                "planned_x": round(label + (step.planned_start or 0) * scale, 2),
                "planned": None if step.estimate is None else round(step.estimate * scale, 2),
                "p50": None
                if step.rehearsal_p50 is None
                else round(x + step.rehearsal_p50 * scale, 2),
                "p90": None
                if step.rehearsal_p90 is None
                else round(x + step.rehearsal_p90 * scale, 2),
                "over": step.overran,
                "failed": step.status == "failed",
                "critical": step.critical,
                "title": f"{step.id}: {duration(step.duration)} (estimate "
                f"{duration(step.estimate)}, rehearsal P50 {duration(step.rehearsal_p50)}, "
                f"P90 {duration(step.rehearsal_p90)})",
            }
        )
    ticks = []
    count = 6
    for n in range(count + 1):
        seconds = end * n / count
        ticks.append({"x": round(label + seconds * scale, 2), "text": duration(seconds)})
    return {
        "width": width,
        "height": 40 + len(ran) * lane,
        "label": label,
        "bars": bars,
        "ticks": ticks,
    }


_ENVIRONMENT: Any = None


def render_html(pm: Postmortem) -> str:
    """One self-contained HTML file: inline CSS and SVG, nothing fetched."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import jinja2

        _ENVIRONMENT = jinja2.Environment(
            loader=jinja2.PackageLoader("golive.report.postmortem", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        _ENVIRONMENT.filters.update(when=when, duration=duration, signed=signed, yes=_yes)
    template = _ENVIRONMENT.get_template("postmortem.html")
    return str(template.render(pm=pm, gantt=gantt(pm.steps), standalone=True))


def html_body(pm: Postmortem) -> str:
    """The report's body (no <html>), for mission control's page around it."""
    render_html(pm)  # builds the environment
    template = _ENVIRONMENT.get_template("postmortem_body.html")
    return str(template.render(pm=pm, gantt=gantt(pm.steps)))
