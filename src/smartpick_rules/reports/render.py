"""Rendering a `Recommendation` for people: a terminal table, Markdown, JSON and one HTML file.

The words are built once (`reports.common.build_report`); `reports.table`, `reports.markdown`
and `reports.html` lay them out. Everything a rule file or a catalog says is untrusted text:
it is escaped for the format it goes into (HTML by Jinja2's autoescape, Markdown backslashes,
control characters stripped for terminals: `reports.text`).
"""

from __future__ import annotations

from typing import Any

from ..results.recommendation import Recommendation
from .common import (
    REGION_LABELS,
    TIER_ORDER,
    Mover,
    Report,
    Summary,
    build_report,
    movers,
    region_label,
    summarize,
)
from .html import render_html
from .markdown import render_markdown
from .table import render_table
from .text import clean, display_width, md

__all__ = [
    "FORMATS",
    "REGION_LABELS",
    "TIER_ORDER",
    "Mover",
    "Report",
    "Summary",
    "build_report",
    "clean",
    "display_width",
    "md",
    "movers",
    "region_label",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
    "render_table",
    "summarize",
]

FORMATS = ("table", "json", "markdown", "html")


def render_json(rec: Recommendation) -> str:
    """The full result (every program with its audit trail), the schema of docs/audit-trail.md."""
    return rec.to_json(indent=2) + "\n"


def render(
    rec: Recommendation,
    fmt: str,
    *,
    top: int = 25,
    width: int = 100,
    title: str = "",
    synthetic: bool | None = None,
    profile_arg: str = "PROFILE",
    color: bool = False,
) -> str:
    """Render in one of `FORMATS`.

    ``synthetic`` says whether the catalog is synthetic (a banner on every format); None reads
    it from the result's provenance. ``profile_arg`` is how the table names the profile in the
    ``explain`` command it suggests.
    """
    if fmt == "json":
        return render_json(rec)
    kw: dict[str, Any] = {"title": title, "synthetic": synthetic}
    if fmt == "table":
        return render_table(rec, top=top, width=width, profile_arg=profile_arg, color=color, **kw)
    if fmt == "markdown":
        return render_markdown(rec, top=top, **kw)
    if fmt == "html":
        return render_html(rec, **kw)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
