"""The post-mortem: a review of a run drafted from its record (see model.py), rendered as
Markdown, self-contained HTML or JSON."""

from __future__ import annotations

from golive.report.postmortem.document import Postmortem
from golive.report.postmortem.model import build_postmortem
from golive.report.postmortem.render import render, render_html, render_json, render_markdown

__all__ = [
    "Postmortem",
    "build_postmortem",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
]
