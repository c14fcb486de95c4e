"""Readable traces for one program: what fired and why, then what did not and why not."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..language.ir import format_value
from .recommendation import percent

if TYPE_CHECKING:
    from .recommendation import Recommendation

__all__ = ["explain_program"]

# a catalog name or rule text with a line break would start a line of its own in the trace
_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def _one_line(text: str) -> str:
    return _BREAKS.sub(" ", text)


def _values(values: dict[str, object]) -> str:
    return ", ".join(f"{k} = {format_value(v)}" for k, v in values.items())


def explain_program(rec: Recommendation, program_id: str) -> str:
    result = rec.get(program_id)
    if result is None:
        raise KeyError(f"no program `{program_id}` in this recommendation")
    p = result.program
    lines = [f"{p.id}: {p.name} ({p.specialty.value}, {p.city + ', ' if p.city else ''}{p.state}, {p.region.value})"]
    if result.excluded is not None:
        lines.append(f"  EXCLUDED by {result.excluded.rule_id}: {result.excluded.reason}")
    else:
        where = ", in the recommended list" if result.chosen else (f"; not in the list: {result.left_off}" if result.left_off else "")
        lines.append(
            f"  estimated interview chance {percent(result.chance)}, tier {result.tier}, priority "
            f"{format_value(result.priority)}{where}"
        )
        lines.append("  (an estimate of the chance of an interview from published figures, not of matching)")
    lines.append(f"  tags: {', '.join(result.tags) or 'none'}")
    lines.append("")
    lines.append("Rules that fired, in order:")
    if not result.audit:
        lines.append("  (none)")
    for a in result.audit:
        after = f" -> chance {percent(a.chance_after)}" if a.chance_after is not None else ""
        # the effect shows an odds expression by the factor it came to for this program
        lines.append(f"  [{a.stage} {a.salience:>4}] {a.rule_id}: {a.effect}{after}")
        if a.explanation:
            lines.append(f"      {a.explanation}")
        if a.values:
            lines.append(f"      read: {_values(a.values)}")
        where = f"{a.file}:{a.line}" if a.file else a.ruleset
        lines.append(f"      from {where}" + (f"; source: {a.source}" if a.source else ""))
    try:
        why = rec.why_not(program_id)
    except ValueError:
        return "\n".join(_one_line(line) for line in lines)
    lines.append("")
    lines.append("Rules considered but not fired (why not):")
    if not why:
        lines.append("  (none)")
    for w in why:
        outcome = w.outcome
        lines.append(f"  {w.rule_id}: `{w.clause}` was {outcome}" + (f" ({_values(w.values)})" if w.values else ""))
    return "\n".join(_one_line(line) for line in lines)
