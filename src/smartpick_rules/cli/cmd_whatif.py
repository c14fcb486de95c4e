"""``smartpick-rules whatif`` and ``levers``: rendering what moves when a profile changes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..domain.models import Profile
from ..reports.common import region_label
from ..reports.table import render_rich_table
from ..reports.text import clean, md
from ..results.recommendation import AdviceItem
from ..runtime.session import Session
from ..runtime.whatif import (
    Comparison,
    LeverResult,
    ProgramChange,
    WhatIfResult,
    parse_change,
)

if TYPE_CHECKING:
    from .io import Io

__all__ = ["levers_command", "render_levers", "render_whatif", "whatif_command"]

WIDTH = 100
#: every output that speaks of tiers says what they are
TIER_NOTE = "Tiers estimate the chance of an interview invitation, not of matching."


def _state(tier: str | None, excluded_by: str | None) -> str:
    return f"excluded ({excluded_by})" if excluded_by else (tier or "-")


def _rules_text(c: ProgramChange) -> str:
    parts = [f"+{r}" for r in c.rules_added] + [f"-{r}" for r in c.rules_removed]
    return ", ".join(parts) if parts else "(profile rules)"


def _counts(c: Comparison) -> str:
    return (
        f"{c.count('unexcluded'):,} no longer excluded, {c.count('tier_up'):,} up a tier, "
        f"{c.count('tier_down'):,} down a tier, {c.count('newly_excluded'):,} newly excluded"
    )


def _profile_rules(c: Comparison) -> list[str]:
    out = []
    if c.profile_rules_added:
        out.append("Profile rules now firing: " + ", ".join(c.profile_rules_added))
    if c.profile_rules_removed:
        out.append("Profile rules no longer firing: " + ", ".join(c.profile_rules_removed))
    return out


def render_whatif(res: WhatIfResult, fmt: str = "table", top: int = 25, width: int = WIDTH) -> str:
    if fmt == "json":
        return json.dumps(res.to_dict(), indent=2, ensure_ascii=False) + "\n"
    c = res.comparison
    moved = c.moved()
    b0, b1 = res.before.breadth, res.after.breadth
    breadth = f"Breadth: {b0.min}-{b0.max}" + (f" -> {b1.min}-{b1.max}" if (b0.min, b0.max) != (b1.min, b1.max) else " (unchanged)")
    added, changed, removed = _advice_changes(res)
    changes = ", ".join(ch.text for ch in res.changes)
    if fmt == "markdown":
        lines = [f"# What if: {md(changes)}", "", md(_counts(c)) + ".", "", md(breadth)]
        lines += ["", *(md(x) for x in _profile_rules(c))]
        if moved:
            lines += ["", "| program | name | region | before | after | rules |", "|---|---|---|---|---|---|"]
            for p in moved[:top]:
                lines.append(
                    f"| {md(p.program.id)} | {md(p.program.name)} | {md(region_label(p.program))} "
                    f"| {md(_state(p.before_tier, p.before_excluded_by))} | {md(_state(p.after_tier, p.after_excluded_by))} "
                    f"| {md(_rules_text(p))} |"
                )
            if len(moved) > top:
                lines += ["", f"... {len(moved) - top:,} more."]
        for a in added:
            lines.append(f"- new advice: {md(a.message)} ({md(a.rule_id)})")
        for a in changed:
            lines.append(f"- advice now reads: {md(a.message)} ({md(a.rule_id)})")
        for a in removed:
            lines.append(f"- advice no longer given: {md(a.message)} ({md(a.rule_id)})")
        lines += ["", f"*{TIER_NOTE}*"]
        return "\n".join(lines) + "\n"
    lines = [*_wrap_list("", [f"What if: {clean(changes)}"], width), _counts(c) + ".", breadth]
    for text in _profile_rules(c):
        lines += _wrap_list("", [text], width)
    for a in added:
        lines += _wrap_list("", [f"New advice [{a.rule_id}]: {clean(a.message)}"], width)
    for a in changed:
        lines += _wrap_list("", [f"Advice now reads [{a.rule_id}]: {clean(a.message)}"], width)
    for a in removed:
        lines += _wrap_list("", [f"Advice no longer given [{a.rule_id}]: {clean(a.message)}"], width)
    lines.append("")
    if not moved:
        lines.append("No program changes tier or exclusion.")
        return "\n".join(lines) + "\n"
    rows = [
        [
            clean(p.program.id),
            region_label(p.program, True),
            _state(p.before_tier, p.before_excluded_by),
            _state(p.after_tier, p.after_excluded_by),
            _rules_text(p),
        ]
        for p in moved[:top]
    ]
    lines += render_rich_table(["program", "region", "before", "after", "rules that changed"], rows, width)
    if len(moved) > top:
        lines.append(f"... {len(moved) - top:,} more (--top N shows more)")
    lines.append("")
    lines += _wrap_list("", [TIER_NOTE], width)
    return "\n".join(lines) + "\n"


def _advice_changes(res: WhatIfResult) -> tuple[list[AdviceItem], list[AdviceItem], list[AdviceItem]]:
    """Advice added, advice whose rule still fires with new words, and advice no longer given.

    A rule whose message changed (its numbers moved) is one changed item, not one new and one gone.
    """
    before = {(a.rule_id, a.message) for a in res.before.advice}
    after = {(a.rule_id, a.message) for a in res.after.advice}
    before_rules = {a.rule_id for a in res.before.advice}
    after_rules = {a.rule_id for a in res.after.advice}
    new = [a for a in res.after.advice if (a.rule_id, a.message) not in before]
    gone = [a for a in res.before.advice if (a.rule_id, a.message) not in after]
    changed = [a for a in new if a.rule_id in before_rules]
    added = [a for a in new if a.rule_id not in before_rules]
    removed = [a for a in gone if a.rule_id not in after_rules]
    return added, changed, removed


def _responsible(r: LeverResult, n: int = 3) -> str:
    c = r.comparison
    parts = [f"{rid} ({k})" for rid, k in c.responsible()[:n]]
    parts += [f"+{rid}" for rid in c.profile_rules_added] + [f"-{rid}" for rid in c.profile_rules_removed]
    return ", ".join(parts)


def render_levers(
    results: Sequence[LeverResult], *, title: str, total: int, fmt: str = "table", width: int = WIDTH, profile_arg: str = "PROFILE"
) -> str:
    if fmt == "json":
        return json.dumps({"title": title, "programs": total, "levers": [r.to_dict() for r in results]}, indent=2, ensure_ascii=False) + "\n"
    moving = [r for r in results if r.comparison.changes]
    still = [r for r in results if not r.comparison.changes]
    if fmt == "markdown":
        lines = [f"# {md(title)}", ""]
        if moving:
            lines += [
                "| # | lever | no longer excluded | up a tier | chance up | worse | rules responsible |",
                "|---:|---|---:|---:|---:|---:|---|",
            ]
            for k, r in enumerate(moving, start=1):
                c = r.comparison
                lines.append(
                    f"| {k} | {md(r.lever.title)} | {c.count('unexcluded')} | {c.count('tier_up')} | {c.count('chance_up')} "
                    f"| {r.worsened} | {md(_responsible(r))} |"
                )
        else:
            lines.append("No lever moves any program.")
        if moving:
            lines += ["", f"*{TIER_NOTE}*"]
        if still:
            lines += ["", "No effect: " + "; ".join(md(r.lever.title) for r in still)]
        if moving:
            lines += ["", "Try the first one:", "", "```console", f"$ smartpick-rules whatif {profile_arg} {_set_args(moving[0])}", "```"]
        return "\n".join(lines) + "\n"
    lines = [*_wrap_list("", [clean(title)], width), ""]
    if moving:
        rows = []
        for k, r in enumerate(moving, start=1):
            c = r.comparison
            rows.append(
                [
                    str(k),
                    r.lever.title,
                    str(c.count("unexcluded")),
                    str(c.count("tier_up")),
                    str(c.count("chance_up")),
                    str(r.worsened),
                    _responsible(r),
                ]
            )
        lines += render_rich_table(
            ["#", "lever", "in", "up", "chance", "down", "rules responsible (programs)"],
            rows,
            width,
            right=frozenset({0, 2, 3, 4, 5}),
            nowrap=frozenset({0, 2, 3, 4, 5}),
        )
        lines.append("")
        lines += _wrap_list(
            "",
            [
                "in: programs no longer excluded",
                "up: programs up a tier",
                "chance: programs whose chance of an interview rises within their tier",
                "down: programs down a tier or newly excluded",
            ],
            width,
        )
        lines += _wrap_list("", [TIER_NOTE], width)
    else:
        lines.append("No lever moves any program.")
    if still:
        lines.append("")
        lines += _wrap_list("No effect: ", [r.lever.title for r in still], width)
    if moving:
        lines.append("")
        lines.append("Try the first one:")
        lines.append(f"  smartpick-rules whatif {profile_arg} {_set_args(moving[0])}")
    return "\n".join(lines) + "\n"


def _wrap_list(prefix: str, items: Sequence[str], width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(prefix + "; ".join(items), width=width, subsequent_indent="  ", break_on_hyphens=False)


def _set_args(r: LeverResult) -> str:
    return " ".join("--set " + _shell_quote(_compact(c)) for c in r.lever.changes)


def _compact(text: str) -> str:
    """Drop the spaces outside quoted strings: `a = { b = 1 }` -> `a={b=1}`."""
    out: list[str] = []
    quoted = False
    prev = ""
    for ch in text:
        if ch == '"' and prev != "\\":
            quoted = not quoted
        if ch != " " or quoted:
            out.append(ch)
        prev = ch
    return "".join(out)


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _evaluator(args: argparse.Namespace, io: Io) -> tuple[Profile, Session]:
    from .io import Progress, evaluation_inputs

    with Progress(io, "loading") as progress:
        profile, catalog, rules = evaluation_inputs(args, progress)
        progress.update("compiling rule sets")
        ev = Session(rules, catalog, engine=args.engine, as_of=args.as_of)
    return profile, ev


def whatif_command(args: argparse.Namespace, io: Io) -> int:
    from .io import Progress, write_output

    changes = [parse_change(c) for c in args.changes]
    profile, ev = _evaluator(args, io)
    with Progress(io, "evaluating both profiles"):
        res = ev.whatif(profile, changes)
    write_output(io, render_whatif(res, args.format, args.top), args.output, "the what-if report", json_text=args.format == "json")
    return 0


def levers_command(args: argparse.Namespace, io: Io) -> int:
    from .io import Progress, profile_arg, write_output

    profile, ev = _evaluator(args, io)
    with Progress(io, "trying levers"):
        results = ev.levers(profile)
    name = profile.name or profile.id
    title = f"Levers for {name}, ranked by programs moved (of {len(ev.catalog):,}; as of {ev.as_of})"
    write_output(io, render_levers(results, title=title, total=len(ev.catalog), fmt=args.format, profile_arg=profile_arg(args)), args.output, "the levers report", json_text=args.format == "json")
    return 0
