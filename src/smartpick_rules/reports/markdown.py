"""The Markdown report: the same words as the HTML page, for a pull request or an adviser's notes.

Every untrusted text goes through `md`, which escapes Markdown's specials and pipes and
turns newlines into spaces, so no value can break out of its table cell or forge a line.
"""

from __future__ import annotations

from typing import Any

from ..results.recommendation import Recommendation, percent
from .common import ESTIMATE_NOTE, SYNTHETIC_NOTE, TIER_MEANINGS, TIER_ORDER, Report, build_report, place
from .text import clean, md

__all__ = ["md_code", "render_markdown"]

SIGNS = {1: "+", -1: "\u2212", 0: "\u00b7"}  # plus, minus sign, middle dot


def md_code(text: str) -> str:
    """A rule or program id as a code span; text a code span cannot hold safely is escaped instead."""
    if any(c in text for c in "`|\r\n\u2028\u2029"):
        return md(text)
    return f"`{clean(text)}`"


def render_markdown(
    rec: Recommendation, *, top: int = 25, title: str = "", report: Report | None = None, synthetic: bool | None = None, **_: Any
) -> str:
    r = report or build_report(rec, title, synthetic=synthetic)
    out: list[str] = [f"# {md(r.title)}", ""]
    if r.synthetic:
        out += [f"> **Synthetic data.** {md(SYNTHETIC_NOTE)}", ""]
    out += [md(r.what_it_is), "", f"**{md(r.breadth)}**", ""]
    if r.interviews:
        out += [md(r.interviews), ""]
    if r.shortfall:
        out += [f"**Shortfall:** {md(r.shortfall)}", ""]
    out += ["What the tiers mean:", ""]
    out += [f"- **{t}**: {md(TIER_MEANINGS[t])}." for t in TIER_ORDER]
    out += ["", f"*{md(ESTIMATE_NOTE)}*", ""]
    moving = [(d, w, rid) for d, w, rid in r.profile_reasons if d]
    if moving:
        out += ["For and against you at every program (from your profile alone):", ""]
        out += [f"- {SIGNS[d]} {md(w)} ({md_code(rid)})" for d, w, rid in moving]
        out.append("")
    rows = r.rows[: max(top, 0)]
    if rows:
        out += ["| # | tier | interview chance | program | where | why |", "|---:|---|---:|---|---|---|"]
        for row in rows:
            value = percent(row.chance)
            why = "; ".join(f"{SIGNS[d]} {md(w)}" for d, w in row.reasons[:3])
            out.append(
                f"| {row.rank} | {row.tier or '-'} | {value} | {md(row.program.name)} ({md_code(row.program.id)}) "
                f"| {md(place(row.program))} | {why} |"
            )
    else:
        out.append("No program is on the list: every program was excluded.")
    if len(r.rows) > len(rows):
        out += ["", f"... {len(r.rows) - len(rows):,} more in the list."]
    if r.exclusions:
        out += ["", f"## Excluded ({len(r.summary.excluded):,} of {r.summary.total:,})", "", "| programs | reason | rule |", "|---:|---|---|"]
        out += [f"| {g.count:,} | {md(g.reason)} | {md_code(g.rule_id)} |" for g in r.exclusions]
    if r.advice:
        out += ["", "## Advice", ""]
        out += [f"- {md(message)} ({md_code(rule_id)})" for message, rule_id in r.advice]
    out += ["", md(r.provenance)]
    return "\n".join(out) + "\n"
