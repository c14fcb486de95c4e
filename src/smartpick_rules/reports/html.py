"""The HTML report: one self-contained page an applicant reads on a phone, or prints.

Rendered from ``templates/report.html.j2`` by Jinja2 with autoescape on, so every text from a
rule file, a catalog or a profile is escaped by default; the only unescaped inserts are our own
stylesheet and script, whose hashes the page's Content-Security-Policy names (no other script
or style runs, and nothing is fetched: no fonts, images or scripts from anywhere).
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import attrs
import jinja2

from ..results.recommendation import AuditEntry, Recommendation, percent
from .common import (
    ESTIMATE_NOTE,
    PROGRAM_TYPE_LABELS,
    SYNTHETIC_NOTE,
    TIER_COLORS,
    TIER_MEANINGS,
    TIER_ORDER,
    ProgramRow,
    Report,
    build_report,
    fmt_number,
    place,
    region_counts,
    region_label,
)
from .text import clean

__all__ = ["csp_hash", "render_html"]

TEMPLATES = Path(__file__).parent / "templates"
#: most programs listed under one exclusion reason (the JSON result has them all)
MAX_EXCLUDED_LISTED = 200


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    """The CSP source expression that allows exactly this inline script or style."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _display_value(v: Any) -> str:
    from ..language.ir import format_value

    if isinstance(v, list | tuple):
        return "[" + ", ".join(_display_value(x) for x in v) + "]" if v else "none"
    if attrs.has(type(v)):
        from ..domain.converter import unstructure

        return _display_value(unstructure(v))
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_display_value(x)}" for k, x in v.items() if x not in (None, False, 0, "", [])) + "}"
    return format_value(v)


def _entry(a: AuditEntry) -> dict[str, Any]:
    return {
        "rule_id": clean(a.rule_id),
        "effect": clean(a.effect),
        "after": f"chance {percent(a.chance_after)}" if a.chance_after is not None else "",
        "why": clean(a.explanation or ""),
        "read": clean("; ".join(f"{k} = {_display_value(v)}" for k, v in a.values.items())),
        "stage": a.stage,
        "salience": a.salience,
        "where": clean(f"{a.file}:{a.line}" if a.file else a.ruleset),
        "source": clean(a.source),
    }


def _row(row: ProgramRow) -> dict[str, Any]:
    p = row.program
    kind = PROGRAM_TYPE_LABELS.get(p.program_type, p.program_type.value)
    where = " · ".join(x for x in (place(p), region_label(p), kind) if x)
    search = " ".join([p.id, p.name, p.city, p.state, region_label(p), p.specialty.value, row.tier or ""]).lower()
    return {
        "rank": row.rank,
        "id": clean(p.id),
        "name": clean(p.name),
        "where": clean(where),
        "tier": row.tier or "",
        "standing": row.standing().split(" · ", 1)[1] if " · " in row.standing() else "",
        "score_text": f"priority {fmt_number(row.result.priority)}",
        "reasons": [(d, clean(w)) for d, w in row.reasons],
        "search": clean(search),
        "entries": [_entry(a) for a in row.result.audit],
    }


def _segments(chart: list[tuple[str, dict[str, int], int]], biggest: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for label, counts, _total in chart:
        x = 0.0
        segs = []
        for t in TIER_ORDER:
            n = counts[t]
            if not n:
                continue
            w = 100.0 * n / biggest
            segs.append({"tier": t, "x": f"{x:.2f}", "w": f"{w:.2f}"})
            x += w
        out[label] = segs
    return out


def render_html(
    rec: Recommendation, *, title: str = "", report: Report | None = None, synthetic: bool | None = None, **_: Any
) -> str:
    """One self-contained HTML page: what the list is, the tiers, advice, the list with reasons, exclusions."""
    r = report or build_report(rec, title, synthetic=synthetic)
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {csp_hash(css)}; script-src {csp_hash(js)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    chart = region_counts(r.rows)
    biggest = max((total for _l, _c, total in chart), default=1) or 1
    exclusions = []
    for g in r.exclusions:
        shown = [
            {
                "name": clean(p.program.name),
                "where": clean(f"{place(p.program)} · {region_label(p.program)}"),
                "reason": clean(p.excluded.reason if p.excluded else ""),
            }
            for p in g.programs[:MAX_EXCLUDED_LISTED]
        ]
        exclusions.append(
            {"count": f"{g.count:,}", "reason": clean(g.reason), "rule_id": clean(g.rule_id), "shown": shown, "more": g.count > len(shown)}
        )
    p = rec.provenance
    n = len(r.rows)
    subtitle = f"{n:,} programs to apply to · as of {p.as_of_year} · made by smartpick-rules {p.library_version}"
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=attrs.evolve(r, title=clean(r.title), advice=tuple((clean(m), clean(rid)) for m, rid in r.advice)),
        csp=csp,
        css=css,
        js=js,
        version=p.library_version,
        subtitle=subtitle,
        synthetic_note=SYNTHETIC_NOTE,
        estimate_note=ESTIMATE_NOTE,
        tiers=TIER_ORDER,
        tier_meanings=TIER_MEANINGS,
        sign_class={1: "plus", -1: "minus", 0: "same"},
        profile_reasons=[(d, clean(w), clean(rid)) for d, w, rid in r.profile_reasons if d],
        chart=chart,
        biggest=biggest,
        segments=_segments(chart, biggest),
        colors=TIER_COLORS,
        rows=[_row(row) for row in r.rows],
        exclusions=exclusions,
        provenance_json=json.dumps(rec.to_dict()["provenance"], indent=2, ensure_ascii=False),
    )
