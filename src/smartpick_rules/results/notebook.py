"""Results in a notebook: short reprs, HTML reprs, and a pandas DataFrame.

``repr(rec)`` used to be the whole attrs repr (about 29,000 characters for one evaluation);
in a notebook or a debugger one line says more. ``_repr_html_`` gives Jupyter a small table of
the top of the list. ``to_frame`` is the list as a DataFrame, one row per program, for the
analysis pandas is for.

The result model is changing (a ``chance`` per program, ``expected_interviews``...): fields
are read with ``getattr`` so these work with either shape.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

from .recommendation import ProgramResult, Recommendation, percent

__all__ = ["program_repr", "program_repr_html", "recommendation_repr", "recommendation_repr_html", "to_frame"]

TIERS = ("likely", "target", "reach")


def _standing(r: ProgramResult) -> str:
    if r.excluded is not None:
        return f"excluded by {r.excluded.rule_id}"
    parts = [r.tier or "-"]
    if r.chance is not None:
        parts.append(f"interview chance {percent(r.chance)}")
    return ", ".join(parts)


def program_repr(r: ProgramResult) -> str:
    name = r.program.name if len(r.program.name) <= 60 else r.program.name[:57] + "..."
    chosen = ", chosen" if r.chosen else ""
    return f"<ProgramResult {r.program.id} {name!r}: {_standing(r)}{chosen}; {len(r.audit)} audit entries>"


def _counts(rec: Recommendation) -> tuple[int, int, Counter[str | None]]:
    chosen = rec.chosen()
    return len(chosen), len(rec.programs), Counter(r.tier for r in chosen)


def recommendation_repr(rec: Recommendation) -> str:
    n, total, tiers = _counts(rec)
    b = rec.breadth
    tier_text = ", ".join(f"{tiers.get(t, 0)} {t}" for t in TIERS)
    extra = ""
    expected = getattr(rec, "expected_interviews", None)
    if isinstance(expected, int | float):
        extra = f"; about {expected:.0f} interviews expected"
    p = rec.provenance
    return (
        f"<Recommendation: {n:,} of {total:,} programs chosen ({tier_text}); apply to {b.min}-{b.max}"
        f"{extra}; {len(rec.advice)} advice; as of {p.as_of_year}, engine {p.engine}>"
    )


def _reasons(r: ProgramResult, n: int = 2) -> str:
    words = [(a.explanation or a.rule_id) for a in r.top_movers(n, include_profile=False)]
    return "; ".join(words)


def recommendation_repr_html(rec: Recommendation, limit: int = 10) -> str:
    e = html.escape
    rows = []
    for k, r in enumerate(rec.chosen()[:limit], start=1):
        rows.append(
            f"<tr><td>{k}</td><td>{e(_standing(r))}</td><td>{e(r.program.name)}<br><code>{e(r.program.id)}</code></td>"
            f"<td>{e(', '.join(x for x in (r.program.city, r.program.state) if x))}</td><td>{e(_reasons(r))}</td></tr>"
        )
    n, _total, _tiers = _counts(rec)
    more = f"<p>... and {n - limit:,} more: <code>rec.chosen()</code>, or <code>rec.to_frame()</code> for all of them.</p>" if n > limit else ""
    return (
        f"<div><p>{e(recommendation_repr(rec)[1:-1])}</p>"
        "<table><thead><tr><th>#</th><th>standing</th><th>program</th><th>where</th><th>why</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
        "<p><em>Tiers and chances estimate the chance of an interview invitation, not of matching.</em></p></div>"
    )


def program_repr_html(r: ProgramResult) -> str:
    e = html.escape
    items = "".join(
        f"<li><code>{e(a.rule_id)}</code>: {e(a.effect)}" + (f" ({e(a.explanation)})" if a.explanation else "") + "</li>" for a in r.audit
    )
    return (
        f"<div><p><strong>{e(r.program.name)}</strong> <code>{e(r.program.id)}</code>: {e(_standing(r))}"
        f"{' (chosen)' if r.chosen else ''}</p><details><summary>{len(r.audit)} audit entries</summary><ol>{items}</ol></details></div>"
    )


def to_frame(rec: Recommendation, *, chosen_only: bool = False) -> Any:
    """One row per program: rank in the list (empty when not chosen), the program, its standing and reasons."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("Recommendation.to_frame needs pandas: pip install 'smartpick-rules[pandas]'") from None
    rank = {pid: k for k, pid in enumerate(rec.breadth.chosen, start=1)}
    results = rec.chosen() if chosen_only else list(rec.programs)
    rows = []
    for r in results:
        p = r.program
        rows.append(
            {
                "rank": rank.get(p.id),
                "program_id": p.id,
                "name": p.name,
                "specialty": p.specialty.value,
                "city": p.city,
                "state": p.state,
                "region": p.region.value,
                "program_type": p.program_type.value,
                "tier": r.tier,
                "chance": r.chance,
                "priority": float(r.priority),
                "chosen": bool(r.chosen),
                "excluded_by": r.excluded.rule_id if r.excluded is not None else None,
                "exclusion_reason": r.excluded.reason if r.excluded is not None else None,
                "left_off": r.left_off,
                "groups": ", ".join(r.groups),
                "reasons": _reasons(r, 3),
            }
        )
    frame = pd.DataFrame(rows)
    frame["rank"] = frame["rank"].astype("Int64")
    return frame
