"""The terminal report: the same words as the HTML page, laid out by rich to fit the width.

rich does the column fitting and wrapping (wide characters included); the output is plain text
unless ``color`` is asked for (the CLI asks on a terminal, and rich honours ``NO_COLOR``).
Every untrusted text is stripped of control characters before rich sees it.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..results.recommendation import Recommendation, percent
from .common import ESTIMATE_NOTE, SYNTHETIC_NOTE, TIER_MEANINGS, TIER_ORDER, Report, build_report, place
from .text import clean

__all__ = ["console_for", "render_rich_table", "render_table"]

TIER_STYLES = {"likely": "bold green", "target": "bold blue", "reach": "bold dark_orange3"}
SIGNS = {1: "+", -1: "-", 0: "·"}


def console_for(width: int, color: bool = False) -> tuple[Console, io.StringIO]:
    """A rich console writing into a string: ``width`` columns, colour only if asked."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=max(width, 20),
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
        soft_wrap=False,
    )
    return console, buf


def render_rich_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str | Text]],
    width: int,
    *,
    right: frozenset[int] = frozenset(),
    nowrap: frozenset[int] = frozenset(),
    ratios: dict[int, int] | None = None,
    color: bool = False,
) -> list[str]:
    """A plain table that fits ``width`` columns: cells wrap, nothing is cut off mid-word."""
    console, buf = console_for(width, color)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), expand=False, header_style="bold" if color else "")
    for k, h in enumerate(headers):
        table.add_column(
            h,
            justify="right" if k in right else "left",
            no_wrap=k in nowrap,
            ratio=(ratios or {}).get(k),
            overflow="fold",
        )
    for row in rows:
        # each line of a cell cleaned on its own: a value cannot add a line, the layout can
        table.add_row(*[c if isinstance(c, Text) else Text("\n".join(clean(part) for part in c.split("\n"))) for c in row])
    console.print(table)
    return [line.rstrip() for line in buf.getvalue().rstrip("\n").split("\n")]


def _wrap(text: str, width: int, indent: str = "", subsequent: str | None = None) -> list[str]:
    return textwrap.wrap(
        text, width=width, initial_indent=indent, subsequent_indent=indent + "  " if subsequent is None else subsequent, break_on_hyphens=False
    ) or [indent]


def render_table(
    rec: Recommendation,
    *,
    top: int = 25,
    width: int = 100,
    title: str = "",
    report: Report | None = None,
    synthetic: bool | None = None,
    profile_arg: str = "PROFILE",
    color: bool = False,
    **_: Any,
) -> str:
    """The list as a terminal report no wider than ``width`` columns, in plain words.

    What the list is and what its tiers mean come first; each program has its tier, its chance
    (or score), where it is and the rules' reasons; then the exclusions by reason and the advice.
    """
    r = report or build_report(rec, title, synthetic=synthetic)
    width = max(width, 40)
    lines: list[str] = _wrap(clean(r.title), width)
    if r.synthetic:
        lines += _wrap("SYNTHETIC DATA: " + SYNTHETIC_NOTE, width)
    lines.append("")
    lines += _wrap(r.what_it_is, width, subsequent="")
    lines += _wrap(r.breadth, width, subsequent="")
    if r.interviews:
        lines += _wrap(r.interviews, width, subsequent="")
    if r.shortfall:
        lines += _wrap("Shortfall: " + clean(r.shortfall), width, subsequent="")
    lines.append("")
    lines.append("What the tiers mean:")
    for t in TIER_ORDER:
        lines += _wrap(f"{t:<7} {TIER_MEANINGS[t]}.", width, "  ", "          ")
    lines += _wrap(ESTIMATE_NOTE, width, subsequent="")
    moving = [(d, w) for d, w, _rid in r.profile_reasons if d]
    if moving:
        lines.append("")
        lines += _wrap("For and against you at every program (from your profile alone):", width)
        for direction, words in moving:
            lines += _wrap(f"{SIGNS[direction]} {clean(words)}", width, "  ", "    ")
    lines.append("")
    rows = r.rows[: max(top, 0)]
    if rows:
        headers = ["#", "tier", "chance", "where", "program, and the rules' reasons"]
        body: list[list[str | Text]] = []
        for row in rows:
            standing = percent(row.chance)
            tier = Text(row.tier or "-", style=TIER_STYLES.get(row.tier or "", "") if color else "")
            cell = Text(clean(row.program.name), style="bold" if color else "")
            cell.append(f"  {clean(row.program.id)}", style="dim" if color else "")
            for d, w in row.reasons[:2]:
                cell.append(f"\n{SIGNS[d]} {clean(w)}")
            body.append([str(row.rank), tier, standing, clean(place(row.program)), cell])
        lines += render_rich_table(
            headers, body, width, right=frozenset({0, 2}), nowrap=frozenset({0, 1, 2}), ratios={3: 1, 4: 4}, color=color
        )
    else:
        lines.append("No program is on the list: every program was excluded.")
    if len(r.rows) > len(rows):
        lines += _wrap(f"... {len(r.rows) - len(rows):,} more in the list (--top N shows more)", width)
    if r.exclusions:
        lines.append("")
        lines += _wrap(f"Excluded: {len(r.summary.excluded):,} of {r.summary.total:,} programs, by reason", width)
        for g in r.exclusions[:8]:
            lines += _wrap(f"{g.count:>6,}  {clean(g.reason)} [{clean(g.rule_id)}]", width, "  ", "          ")
        if len(r.exclusions) > 8:
            rest = sum(g.count for g in r.exclusions[8:])
            lines += _wrap(f"  ... and {len(r.exclusions) - 8} more reasons ({rest:,} programs)", width)
    if r.advice:
        lines.append("")
        lines.append("Advice:")
        for message, rule_id in r.advice:
            lines += _wrap(f"- {clean(message)} [{clean(rule_id)}]", width, "  ", "    ")
    lines.append("")
    lines += _wrap(f"Why a program is where it is: smartpick-rules explain {profile_arg} PROGRAM_ID", width, subsequent="  ")
    lines += _wrap(r.provenance, width, subsequent="  ")
    return "\n".join(lines) + "\n"
