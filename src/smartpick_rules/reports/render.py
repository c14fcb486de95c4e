"""Rendering a :class:`Recommendation` for people: a terminal table, Markdown, and one HTML file.

Everything a rule file or a catalog says is untrusted text: it is escaped for the format it
goes into (HTML entities, Markdown backslashes, control characters stripped for terminals).
The HTML report is one self-contained file: inline CSS and JavaScript, an inline SVG chart,
no fonts, images or scripts from anywhere else, and a Content-Security-Policy that would stop
the browser from loading any even if some text slipped through.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..domain.models import Program, Region
from ..language.ir import format_value
from ..results.recommendation import AuditEntry, ProgramResult, Recommendation, percent

__all__ = [
    "REGION_LABELS",
    "Mover",
    "Summary",
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

REGION_ORDER: tuple[Region, ...] = tuple(Region)
REGION_LABELS: dict[Region, str] = {
    Region.la_county: "LA County",
    Region.orange_county: "Orange County",
    Region.inland_empire: "Inland Empire",
    Region.san_diego: "San Diego",
    Region.kern: "Kern",
    Region.central_valley: "Central Valley",
    Region.central_coast: "Central Coast",
    Region.northern_california: "Northern California",
    Region.out_of_state: "Out of state",
    Region.outside_us: "Outside the US",
}
TIER_ORDER = ("likely", "target", "reach")
TIER_COLORS = {"likely": "#2e7d32", "target": "#1565c0", "reach": "#e65100"}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


# --- shared helpers --------------------------------------------------------------------------


def clean(text: object) -> str:
    """Text safe for a terminal: no control characters or bidirectional overrides."""
    return _CONTROL.sub("", str(text)).replace("\t", " ")


#: shorter labels for the terminal table
SHORT_REGION_LABELS: dict[Region, str] = {**REGION_LABELS, Region.northern_california: "N. California"}


def region_label(program: Program, short: bool = False) -> str:
    labels = SHORT_REGION_LABELS if short else REGION_LABELS
    label = labels.get(program.region, program.region.value)
    if program.region == Region.out_of_state and program.state:
        return f"Other state: {program.state}" if short else f"{label} ({program.state})"
    return label


def fmt_number(x: float) -> str:
    return format_value(float(x))


@attrs.frozen
class Mover:
    """An audit entry that moved a program, with how."""

    rule_id: str
    how: str  # "+10", "-5", "excluded", "tier likely"
    weight: float


def movers(result: ProgramResult, n: int = 3, *, include_profile: bool = False) -> list[Mover]:
    """The rules that moved this program most (``ProgramResult.top_movers``), with how.

    Profile-stage rules move every program alike, so by default they are left out here (the
    reports list them once, above the table).
    """
    out = []
    for a in result.top_movers(n, include_profile=include_profile):
        move = a.movement()
        assert move is not None
        out.append(Mover(a.rule_id, move[1], move[0]))
    return out


@attrs.frozen
class Summary:
    """What every format shows above the list."""

    title: str
    chosen: tuple[ProgramResult, ...]
    eligible: int
    excluded: tuple[ProgramResult, ...]
    total: int
    profile_moves: tuple[tuple[str, str], ...]
    exclusion_reasons: tuple[tuple[str, int, str], ...]
    tier_counts: dict[str, int]


def summarize(rec: Recommendation, title: str = "") -> Summary:
    """Build every program's result once and gather what the reports show."""
    results = list(rec.programs)
    by_id = {r.program.id: r for r in results}
    chosen = tuple(by_id[i] for i in rec.breadth.chosen if i in by_id)
    excluded = tuple(r for r in results if r.excluded is not None)
    reasons: dict[str, tuple[int, str]] = {}
    counts: Counter[str] = Counter()
    for r in excluded:
        assert r.excluded is not None
        counts[r.excluded.rule_id] += 1
        reasons.setdefault(r.excluded.rule_id, (0, r.excluded.reason))
    exclusion_reasons = tuple(
        (rid, k, reasons[rid][1]) for rid, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    profile_moves = []
    prefix = {a.rule_id: a for r in chosen[:1] for a in r.audit if a.stage == "profile"}
    for a in rec.profile_audit:
        moved = prefix.get(a.rule_id)
        if moved is not None and moved.odds is not None:
            profile_moves.append((a.rule_id, f"odds x{format_value(round(moved.odds, 2))}"))
    tiers = Counter(r.tier for r in chosen)
    return Summary(
        title=title,
        chosen=chosen,
        eligible=rec.breadth.eligible,
        excluded=excluded,
        total=len(results),
        profile_moves=tuple(profile_moves),
        exclusion_reasons=exclusion_reasons,
        tier_counts={t: tiers.get(t, 0) for t in TIER_ORDER},
    )


def _provenance_line(rec: Recommendation, limit: int | None = None) -> str:
    p = rec.provenance
    names = [f"{r.name} {r.version}" for r in p.rulesets]
    if limit is not None and len(names) > limit:
        names = [*names[:limit], f"and {len(p.rulesets) - limit} more"]
    sets = "1 rule set" if len(p.rulesets) == 1 else f"{len(p.rulesets)} rule sets"
    return f"as of {p.as_of_year}; engine {p.engine}; {sets}: {', '.join(names) or 'none'}"


def _breadth_line(rec: Recommendation, s: Summary) -> str:
    b = rec.breadth
    if b.rule_id:
        target = f"Apply to {b.min}-{b.max} programs" if b.min != b.max else f"Apply to {b.max} programs"
        target += f" ({b.rule_id})"
    else:
        target = "No breadth rule fired: every eligible program is listed"
    caps = "".join(f", at most {n} {g.replace('_', ' ')}" for g, n in b.at_most.items())
    caps += "".join(f", at least {n} {g.replace('_', ' ')}" for g, n in b.at_least.items())
    expected = f" Expected interviews: {b.expected_interviews:.1f}"
    if b.interview_target is not None:
        expected += f" (target {b.interview_target:g})"
    text = (
        f"{target}{caps}. Chosen: {len(s.chosen):,} of {s.eligible:,} eligible programs "
        f"({', '.join(f'{s.tier_counts[t]} {t}' for t in TIER_ORDER)}); "
        f"{len(s.excluded):,} of {s.total:,} excluded.{expected}. Tiers and chances estimate interview "
        "chances from published figures; they are not match odds."
    )
    if b.shortfall is not None:
        text += " Short: " + b.shortfall.describe() + "."
    return text


def _wrap(text: str, width: int, indent: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + "  ", break_on_hyphens=False) or [indent]


# --- terminal table --------------------------------------------------------------------------


def truncate(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if display_width(text) <= width:
        return text
    out = ""
    for ch in text:
        if display_width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 0 if unicodedata.combining(c) else 1 for c in text)


def pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap


def _movers_text(ms: Sequence[Mover], width: int) -> str:
    parts = [f"{m.rule_id} {m.how}" for m in ms]
    out = ""
    for k, p in enumerate(parts):
        candidate = p if not out else out + ", " + p
        more = k < len(parts) - 1
        if display_width(candidate) + (3 if more else 0) <= width:
            out = candidate
            continue
        if not out:
            return truncate(p, width)
        return out + ", …" if display_width(out) + 3 <= width else out
    return out


def _move_factor(how: str) -> float:
    """The factor of a profile move as the summary writes it (``odds x0.5``)."""
    return float(how.split("x", 1)[1])


def _profile_odds_total(s: Summary) -> str:
    import math

    return format_value(round(math.prod(_move_factor(d) for _r, d in s.profile_moves), 2))


def _profile_moves_line(s: Summary, limit: int = 4) -> str:
    import math

    factor = _move_factor
    total = _profile_odds_total(s)
    ordered = sorted(s.profile_moves, key=lambda rd: -abs(math.log(factor(rd[1]))))
    shown = ", ".join(f"{r} {d}" for r, d in ordered[:limit])
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return f"Profile rules multiply every program's odds of an interview by {total} in all: {shown}{more}"


def render_table(rec: Recommendation, *, top: int = 25, width: int = 100, title: str = "", summary: Summary | None = None) -> str:
    """The recommended list as a terminal table no wider than ``width`` columns.

    One line per program when the two biggest movers fit beside the name; otherwise the
    movers go on a second, indented line under each program.
    """
    s = summary or summarize(rec, title)
    lines: list[str] = []
    head = clean(s.title) or "Recommended programs"
    lines.append(truncate(head, width))
    lines.extend(_wrap(_provenance_line(rec, 3), width, ""))
    lines.extend(_wrap(_breadth_line(rec, s), width, ""))
    if s.profile_moves:
        lines.extend(_wrap(_profile_moves_line(s), width, ""))
    lines.append("")
    rows = s.chosen[: max(top, 0)]
    lines.extend(_program_rows(rows, width))
    if not rows and not s.chosen:
        lines.append("No program is eligible: every program was excluded.")
    if len(s.chosen) > len(rows):
        lines.append(f"... {len(s.chosen) - len(rows):,} more in the list (--top N shows more)")
    if s.exclusion_reasons:
        lines.append("")
        lines.append(f"Excluded: {len(s.excluded):,} programs, by the rule that decided it")
        rid_w = min(max(len(r) for r, _k, _t in s.exclusion_reasons[:8]), 40)
        for rid, k, reason in s.exclusion_reasons[:8]:
            lines.append(truncate(f"  {pad(rid, rid_w)}  {k:>5,}  e.g. {clean(reason)}", width))
        if len(s.exclusion_reasons) > 8:
            rest = sum(k for _r, k, _t in s.exclusion_reasons[8:])
            lines.append(f"  ... and {len(s.exclusion_reasons) - 8} more rules ({rest:,} programs)")
    if rec.advice:
        lines.append("")
        lines.append("Advice:")
        for a in rec.advice:
            lines.extend(_wrap(f"- {clean(a.message)} [{a.rule_id}]", width, "  "))
    lines.append("")
    lines.extend(_wrap("Why a program is where it is: smartpick-rules explain PROFILE PROGRAM_ID", width, ""))
    return "\n".join(lines) + "\n"


def _program_rows(rows: Sequence[ProgramResult], width: int) -> list[str]:
    if not rows:
        return []
    headers = ["#", "tier", "chance", "program", "name", "region", "moved most by"]
    mover_lists = [movers(r) for r in rows]
    data = [
        [str(k), r.tier or "-", percent(r.chance), clean(r.program.id), clean(r.program.name), region_label(r.program, True)]
        for k, r in enumerate(rows, start=1)
    ]
    right = {0, 2}
    widths = [max(display_width(h), *(display_width(row[c]) for row in data)) for c, h in enumerate(headers[:6])]
    widths[3] = min(widths[3], 18)
    widths[5] = min(widths[5], 16)
    gaps = 2 * len(headers[:6])
    fixed = sum(widths[c] for c in (0, 1, 2, 3, 5)) + gaps
    texts = [[f"{m.rule_id} {m.how}" for m in ms] for ms in mover_lists]
    two = max(
        (display_width(", ".join(t[:2]) + (", …" if len(t) > 2 else "")) for t in texts),
        default=0,
    )
    movers_w = max(two, display_width(headers[6]))
    name_floor = min(widths[4], 16)
    if fixed + name_floor + movers_w <= width:
        # one line per program
        full = max((display_width(", ".join(t)) for t in texts), default=0)
        name_w = max(min(widths[4], width - fixed - movers_w), name_floor)
        movers_w = max(min(full, width - fixed - name_w), movers_w)
        widths = [*widths[:4], name_w, widths[5], movers_w]
        out = ["  ".join(pad(h, widths[c], c in right) for c, h in enumerate(headers)).rstrip()]
        for row, ms in zip(data, mover_lists, strict=True):
            cells = [pad(truncate(v, widths[c]), widths[c], c in right) for c, v in enumerate(row)]
            cells.append(_movers_text(ms, movers_w))
            out.append("  ".join(cells).rstrip())
        return out
    # two lines per program: the movers under the name
    widths[4] = max(min(widths[4], width - fixed + 2), 8)
    for col, floor in ((4, 4), (3, 8), (5, 6), (1, 4)):
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        if excess <= 0:
            break
        widths[col] = max(floor, widths[col] - excess)
    indent = " " * (widths[0] + 2)
    out = ["  ".join(pad(h, widths[c], c in right) for c, h in enumerate(headers[:6])).rstrip(), indent + headers[6]]
    for row, ms in zip(data, mover_lists, strict=True):
        cells = [pad(truncate(v, widths[c]), widths[c], c in right) for c, v in enumerate(row)]
        out.append("  ".join(cells).rstrip())
        if ms:
            out.append(indent + _movers_text(ms, width - len(indent)))
    return out


# --- Markdown --------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&!#~])")


def md(text: object) -> str:
    """Escape untrusted text for Markdown (also inside table cells)."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text)).replace("\n", " ")


def _md_code(text: str) -> str:
    if "`" in text or "|" in text:
        return md(text)
    return f"`{clean(text)}`"


def render_markdown(rec: Recommendation, *, top: int = 25, title: str = "", summary: Summary | None = None) -> str:
    s = summary or summarize(rec, title)
    out: list[str] = [f"# {md(s.title or 'Recommended programs')}", "", md(_provenance_line(rec, 4)), ""]
    out.append(md(_breadth_line(rec, s)))
    out.append("")
    if s.profile_moves:
        out.append(
            f"Profile rules multiply every program's odds of an interview by {_profile_odds_total(s)} in all: "
            + ", ".join(f"{_md_code(r)} {d}" for r, d in s.profile_moves)
        )
        out.append("")
    out.append("| # | tier | interview chance | program | name | region | moved most by |")
    out.append("|---:|---|---:|---|---|---|---|")
    rows = s.chosen[: max(top, 0)]
    for k, r in enumerate(rows, start=1):
        ms = ", ".join(f"{_md_code(m.rule_id)} {m.how}" for m in movers(r))
        out.append(
            f"| {k} | {r.tier or '-'} | {percent(r.chance)} | {_md_code(r.program.id)} | {md(r.program.name)} "
            f"| {md(region_label(r.program))} | {ms} |"
        )
    if len(s.chosen) > len(rows):
        out.append("")
        out.append(f"... {len(s.chosen) - len(rows):,} more in the list.")
    if s.exclusion_reasons:
        out += ["", f"## Excluded ({len(s.excluded):,})", "", "| rule | programs | example reason |", "|---|---:|---|"]
        for rid, k, reason in s.exclusion_reasons:
            out.append(f"| {_md_code(rid)} | {k:,} | {md(reason)} |")
    if rec.advice:
        out += ["", "## Advice", ""]
        out += [f"- {md(a.message)} ({_md_code(a.rule_id)})" for a in rec.advice]
    return "\n".join(out) + "\n"


# --- JSON ------------------------------------------------------------------------------------


def render_json(rec: Recommendation) -> str:
    """The full result (every program with its audit trail), the schema of docs/audit-trail.md."""
    return rec.to_json(indent=2) + "\n"


# --- HTML ------------------------------------------------------------------------------------


def h(text: object) -> str:
    """Escape untrusted text for HTML text and attribute values."""
    return html.escape(clean(text), quote=True)


_CSS = """
:root { --likely: #2e7d32; --target: #1565c0; --reach: #e65100; --muted: #5f6368; --line: #dadce0; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #202124; background: #fff; }
header, main, footer { max-width: 1100px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1.1em; margin: 20px 0 6px; }
h4 { font-size: 1em; margin: 14px 0 4px; color: var(--muted); }
.meta { color: var(--muted); font-size: 0.9em; margin: 2px 0; }
.breadth { font-size: 1.05em; background: #f1f3f4; padding: 10px 14px; border-radius: 6px; }
.advice li { margin: 4px 0; }
.rid { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em; color: #3c4043; }
.tier { display: inline-block; min-width: 4.2em; text-align: center; color: #fff; border-radius: 3px; font-size: 0.82em; padding: 0 4px; }
.tier-likely { background: var(--likely); } .tier-target { background: var(--target); } .tier-reach { background: var(--reach); }
.tier-excluded { background: #80868b; }
ol.programs { list-style: none; padding: 0; margin: 0; }
ol.programs > li { border-bottom: 1px solid #eee; }
details > summary { cursor: pointer; padding: 4px 0; }
.score { font-variant-numeric: tabular-nums; display: inline-block; min-width: 2.6em; text-align: right; }
.rank { color: var(--muted); display: inline-block; min-width: 2.6em; text-align: right; }
.movers { color: var(--muted); font-size: 0.88em; }
table.audit { border-collapse: collapse; margin: 6px 0 12px 2.6em; font-size: 0.88em; }
table.audit th, table.audit td { border: 1px solid var(--line); padding: 3px 6px; vertical-align: top; text-align: left; }
table.audit th { background: #f8f9fa; }
.controls { margin: 8px 0; display: flex; gap: 8px; align-items: center; }
.controls input { padding: 4px 8px; font: inherit; min-width: 260px; }
.hidden { display: none; }
svg text { font: 12px system-ui, sans-serif; }
pre { white-space: pre-wrap; word-break: break-all; font-size: 0.82em; background: #f8f9fa; padding: 8px; }
"""

_JS = """
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var filter = document.getElementById("filter");
  var toggle = document.getElementById("toggle");
  var count = document.getElementById("shown");
  var items = Array.prototype.slice.call(document.querySelectorAll("li[data-search]"));
  function apply() {
    var q = filter.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (li) {
      var hit = !q || li.getAttribute("data-search").indexOf(q) !== -1;
      li.classList.toggle("hidden", !hit);
      if (hit) { shown += 1; }
    });
    document.querySelectorAll("section.group").forEach(function (sec) {
      sec.classList.toggle("hidden", !sec.querySelector("li[data-search]:not(.hidden)"));
    });
    count.textContent = String(shown);
  }
  filter.addEventListener("input", apply);
  toggle.addEventListener("click", function () {
    var open = toggle.getAttribute("data-open") !== "1";
    document.querySelectorAll("#list details").forEach(function (d) { d.open = open; });
    toggle.setAttribute("data-open", open ? "1" : "0");
    toggle.textContent = open ? "Collapse all" : "Expand all";
  });
  apply();
})();
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _values_text(values: dict[str, Any]) -> str:
    return "; ".join(f"{k} = {_display_value(v)}" for k, v in values.items())


def _display_value(v: Any) -> str:
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_display_value(x) for x in v) + "]" if v else "none"
    if attrs.has(type(v)):
        from ..domain.converter import unstructure

        return _display_value(unstructure(v))
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_display_value(x)}" for k, x in v.items() if x not in (None, False, 0, "", [])) + "}"
    return format_value(v)


def _audit_table(entries: Iterable[AuditEntry]) -> str:
    rows = []
    for a in entries:
        where = f"{a.file}:{a.line}" if a.file else a.ruleset
        rows.append(
            "<tr>"
            f"<td>{h(a.stage)}</td><td>{a.salience}</td><td class=\"rid\">{h(a.rule_id)}</td>"
            f"<td>{h(a.effect)}</td><td>{h(percent(a.chance_after)) if a.chance_after is not None else ''}</td>"
            f"<td>{h(a.explanation or '')}</td><td>{h(_values_text(a.values))}</td>"
            f"<td>{h(a.source)}<br><span class=\"meta\">{h(where)}</span></td>"
            "</tr>"
        )
    if not rows:
        return "<p class=\"meta\">No rule fired for this program.</p>"
    return (
        "<table class=\"audit\"><thead><tr><th>stage</th><th>salience</th><th>rule</th><th>effect</th>"
        "<th>chance after</th><th>why</th><th>values read</th><th>source</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _program_item(rank: int | None, r: ProgramResult) -> str:
    p = r.program
    tier = r.tier or "excluded"
    ms = ", ".join(f"{m.rule_id} {m.how}" for m in movers(r))
    search = " ".join([p.id, p.name, p.city, p.state, region_label(p), p.specialty.value, tier]).lower()
    rank_html = f"<span class=\"rank\">{rank}.</span> " if rank is not None else ""
    place = ", ".join(x for x in (p.city, p.state) if x)
    extra = ""
    if r.excluded is not None:
        extra = f"<p>Excluded by <span class=\"rid\">{h(r.excluded.rule_id)}</span>: {h(r.excluded.reason)}</p>"
    advice = "".join(f"<li>{h(a.message)} <span class=\"rid\">{h(a.rule_id)}</span></li>" for a in r.advice)
    if advice:
        extra += f"<ul class=\"advice\">{advice}</ul>"
    return (
        f"<li data-search=\"{h(search)}\" id=\"p-{h(p.id)}\"><details><summary>{rank_html}"
        f"<span class=\"tier tier-{h(tier)}\">{h(tier)}</span> <span class=\"score\">{h(percent(r.chance))}</span> "
        f"<strong>{h(p.name)}</strong> <span class=\"rid\">{h(p.id)}</span> <span class=\"meta\">{h(place)} · "
        f"{h(p.program_type.value.replace('_', ' '))}</span> <span class=\"movers\">{h(ms)}</span></summary>"
        f"{extra}{_audit_table(r.audit)}</details></li>"
    )


def composition_svg(chosen: Sequence[ProgramResult]) -> str:
    """A stacked horizontal bar per region: how many chosen programs of each tier."""
    counts: dict[Region, Counter[str]] = defaultdict(Counter)
    for r in chosen:
        counts[r.program.region][r.tier or "reach"] += 1
    regions = [reg for reg in REGION_ORDER if counts.get(reg)]
    label_w, bar_w, row_h, top = 150, 520, 26, 34
    height = top + row_h * max(len(regions), 1) + 10
    width = label_w + bar_w + 60
    biggest = max((sum(c.values()) for c in counts.values()), default=1) or 1
    parts = [
        f"<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"chart-title\" "
        f"viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">",
        "<title id=\"chart-title\">Chosen programs by region and tier</title>",
    ]
    x = label_w
    for t in TIER_ORDER:
        parts.append(f"<rect x=\"{x}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{TIER_COLORS[t]}\"/>")
        parts.append(f"<text x=\"{x + 16}\" y=\"16\">{t}</text>")
        x += 80
    if not regions:
        parts.append(f"<text x=\"{label_w}\" y=\"{top + 16}\">No program chosen.</text>")
    for k, reg in enumerate(regions):
        y = top + k * row_h
        c = counts[reg]
        total = sum(c.values())
        parts.append(f"<text x=\"{label_w - 8}\" y=\"{y + 15}\" text-anchor=\"end\">{h(REGION_LABELS[reg])}</text>")
        x0 = float(label_w)
        for t in TIER_ORDER:
            n = c.get(t, 0)
            if not n:
                continue
            w = bar_w * n / biggest
            parts.append(
                f"<rect x=\"{x0:.1f}\" y=\"{y + 2}\" width=\"{w:.1f}\" height=\"{row_h - 8}\" fill=\"{TIER_COLORS[t]}\">"
                f"<title>{h(REGION_LABELS[reg])}: {n} {t}</title></rect>"
            )
            if w >= 22:
                parts.append(
                    f"<text x=\"{x0 + w / 2:.1f}\" y=\"{y + 15}\" text-anchor=\"middle\" fill=\"#fff\">{n}</text>"
                )
            x0 += w
        parts.append(f"<text x=\"{x0 + 6:.1f}\" y=\"{y + 15}\">{total}</text>")
    parts.append("</svg>")
    return "".join(parts)


def render_html(rec: Recommendation, *, title: str = "", summary: Summary | None = None) -> str:
    """One self-contained HTML page: breadth and advice, a composition chart, the list by tier and region."""
    s = summary or summarize(rec, title)
    heading = s.title or "Recommended programs"
    rank = {r.program.id: k for k, r in enumerate(s.chosen, start=1)}
    groups: list[str] = []
    for t in TIER_ORDER:
        in_tier = [r for r in s.chosen if r.tier == t]
        if not in_tier:
            continue
        sub: list[str] = []
        for reg in REGION_ORDER:
            here = [r for r in in_tier if r.program.region == reg]
            if not here:
                continue
            items = "".join(_program_item(rank[r.program.id], r) for r in here)
            sub.append(
                f"<section class=\"group\"><h4>{h(REGION_LABELS[reg])} ({len(here)})</h4><ol class=\"programs\">{items}</ol></section>"
            )
        groups.append(
            f"<section class=\"group tier-group\" id=\"tier-{t}\"><h3><span class=\"tier tier-{t}\">{t}</span> "
            f"{len(in_tier)} programs</h3>{''.join(sub)}</section>"
        )
    excluded_html = []
    by_rule: dict[str, list[ProgramResult]] = defaultdict(list)
    for r in s.excluded:
        assert r.excluded is not None
        by_rule[r.excluded.rule_id].append(r)
    for rid, _k, reason in s.exclusion_reasons:
        rows = "".join(
            f"<li><span class=\"rid\">{h(r.program.id)}</span> {h(r.program.name)} "
            f"<span class=\"meta\">{h(region_label(r.program))}</span> — {h(r.excluded.reason if r.excluded else '')}</li>"
            for r in by_rule[rid]
        )
        excluded_html.append(
            f"<details><summary><span class=\"rid\">{h(rid)}</span>: {len(by_rule[rid]):,} programs, e.g. {h(reason)}</summary>"
            f"<ul>{rows}</ul></details>"
        )
    advice = "".join(f"<li>{h(a.message)} <span class=\"rid\">{h(a.rule_id)}</span></li>" for a in rec.advice)
    profile_moves = ""
    if s.profile_moves:
        profile_moves = (
            f"<p class=\"meta\">Profile rules multiply every program's odds of an interview by {h(_profile_odds_total(s))} in all: "
            + ", ".join(f"<span class=\"rid\">{h(r)}</span> {h(d)}" for r, d in s.profile_moves)
            + "</p>"
        )
    provenance = json.dumps(rec.to_dict()["provenance"], indent=2, ensure_ascii=False)
    csp = f"default-src 'none'; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_JS)}; img-src data:; base-uri 'none'; form-action 'none'"
    body = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{h(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="smartpick-rules {h(rec.provenance.library_version)}">
<title>{h(heading)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{h(heading)}</h1>
<p class="meta">{h(_provenance_line(rec, 4))}</p>
</header>
<main>
<section id="summary">
<h2>Breadth</h2>
<p class="breadth">{h(_breadth_line(rec, s))}</p>
{profile_moves}
<h2>Advice</h2>
{f'<ul class="advice">{advice}</ul>' if advice else '<p class="meta">No advice.</p>'}
</section>
<section id="chart">
<h2>Composition of the list</h2>
{composition_svg(s.chosen)}
</section>
<section id="list">
<h2>Recommended list (<span id="shown">{len(s.chosen)}</span> of {len(s.chosen)} shown)</h2>
<div class="controls"><input id="filter" type="search" placeholder="Filter by name, id, city, region, tier" aria-label="Filter programs">
<button id="toggle" type="button" data-open="0">Expand all</button></div>
{''.join(groups) if groups else '<p>No program is eligible: every program was excluded.</p>'}
</section>
<section id="excluded">
<h2>Excluded ({len(s.excluded):,} of {s.total:,})</h2>
{''.join(excluded_html) if excluded_html else '<p class="meta">None.</p>'}
</section>
</main>
<footer>
<h2>Provenance</h2>
<p class="meta">Enough to replay this decision: the library version, the engine, the year, each rule set's content hash, the catalog's and profile's hashes.</p>
<pre>{h(provenance)}</pre>
</footer>
<script>{_JS}</script>
</body>
</html>
"""
    return body


def render(rec: Recommendation, fmt: str, *, top: int = 25, width: int = 100, title: str = "") -> str:
    """Render in one of :data:`FORMATS`."""
    if fmt == "json":
        return render_json(rec)
    if fmt == "table":
        return render_table(rec, top=top, width=width, title=title)
    if fmt == "markdown":
        return render_markdown(rec, top=top, title=title)
    if fmt == "html":
        return render_html(rec, title=title)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
