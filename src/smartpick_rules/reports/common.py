"""What every report format says, in plain language, built once from a `Recommendation`.

The terminal table, Markdown and HTML differ in layout only: the words come from here. An
applicant reads first what the list is, what a tier means (an estimate of the chance of an
interview invitation, never of matching), and each program's reasons in the rules' own words;
rule ids and the full audit are for whoever wants to check, one step away.

Each program shows its tier and its estimated chance of an interview; the list shows its expected
interviews against the target the breadth advice aims at, and a shortfall when it is short.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ..domain.models import Program, ProgramType, Region
from ..language.ir import format_value
from ..records import frozen
from ..results.recommendation import AuditEntry, LazyResults, ProgramResult, Recommendation, percent

__all__ = [
    "REGION_LABELS",
    "TIER_ORDER",
    "Mover",
    "ProgramRow",
    "Report",
    "Summary",
    "build_report",
    "distinct_movers",
    "movers",
    "region_label",
    "summarize",
]

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
#: shorter labels for the terminal table
SHORT_REGION_LABELS: dict[Region, str] = {**REGION_LABELS, Region.northern_california: "N. California"}
PROGRAM_TYPE_LABELS: dict[ProgramType, str] = {
    ProgramType.university: "university program",
    ProgramType.university_affiliated_community: "university-affiliated community program",
    ProgramType.community: "community program",
    ProgramType.county_safety_net: "county / safety-net program",
}
TIER_ORDER = ("likely", "target", "reach")
TIER_COLORS = {"likely": "#2e7d32", "target": "#1565c0", "reach": "#c43e00"}

#: what each tier means, for applicants
TIER_MEANINGS = {
    "likely": "a good chance of an interview invitation: your profile clears what the program publishes or is known to look for",
    "target": "a fair chance of an interview invitation: most of your applications belong here",
    "reach": "an invitation is possible but unlikely: keep only a few of these",
}
ESTIMATE_NOTE = (
    "Tiers and chances are estimates of the chance of an interview invitation, from your profile "
    "against what each program publishes or is known to prefer. They are not the chance of matching, "
    "and no program is certain."
)
SYNTHETIC_NOTE = (
    "The catalog is synthetic: the programs are fictional, with realistic shares of published score "
    "minimums, visa sponsorship and IMG share. Use this list to try the tool, not to choose where to apply."
)


def region_label(program: Program, short: bool = False) -> str:
    labels = SHORT_REGION_LABELS if short else REGION_LABELS
    label = labels.get(program.region, program.region.value)
    if program.region == Region.out_of_state and program.state:
        return f"Other state: {program.state}" if short else f"{label} ({program.state})"
    return label


def place(program: Program) -> str:
    """``Inglewood, CA``: the city and state, or the region when the city is not known."""
    where = ", ".join(x for x in (program.city, program.state) if x)
    return where or region_label(program)


def fmt_number(x: float) -> str:
    return format_value(float(x))


def chance_of(result: Any) -> float | None:
    """The estimated interview chance (0..1) where the result model has one."""
    value = getattr(result, "chance", None)
    return float(value) if isinstance(value, int | float) else None


def chance_text(chance: float) -> str:
    # the table's and Markdown's formatter: a 0.4% chance reads 0.4%, never 0%
    return f"interview chance {percent(chance)}"


@frozen
class Mover:
    """An audit entry that moved a program, with how."""

    rule_id: str
    how: str  # "+10", "-5", "excluded", "tier likely"
    weight: float


def distinct_movers(result: ProgramResult, n: int = 3, *, include_profile: bool = False) -> list[AuditEntry]:
    """The ``n`` entries that moved this program most (``ProgramResult.top_movers``), one per
    question asked of the applicant.

    Two rules often weigh the same applicant fact against the same program value: a Step 2 CK
    score far under a program's bar both caps the chance and lowers the odds. Shown side by side
    they say one thing twice and push a different reason off a short list, so an entry that read
    exactly the applicant facts and program values of one already picked, and moved the program
    the same way, is skipped. Two that pull opposite ways both stay (a score above the bar, which
    helps, but not by the margin "likely" asks, which caps the tier). Entries that read no
    applicant fact (a region, through a profile tag) are never merged: the tag is the question,
    and two tags are two reasons.
    """
    picked: list[AuditEntry] = []
    seen: set[tuple[frozenset[str], int]] = set()
    for a in result.top_movers(len(result.audit), include_profile=include_profile):
        if len(picked) == n:
            break
        reads = frozenset(a.values)
        if any(path.startswith("applicant.") for path in reads):
            key = (reads, reason_of(a)[0])
            if key in seen:
                continue
            seen.add(key)
        picked.append(a)
    return picked


def distinct_profile_reasons(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """The profile-stage entries a report lists above the programs, one per fact about the
    applicant and direction, in the order given.

    Profile rules often come in pairs on one fact: a failed Step 1 sitting both caps every
    program's tier (``red_flags.failed_attempt``, which reads every exam's failed sittings) and
    lowers the odds (``red_flags.failed_step1``, Step 1's alone); a graduation year both caps the
    tier and lowers the odds by the years since. Listed together they read as two red flags where
    an advisor sees one. So entries that read an applicant fact in common (the same path or
    expression) and pull the same way are one reason, shown by the entry that reads the fewest
    facts (it names the fact most exactly), then the one that moved the programs most, at the
    place of the first of them. Unlike ``distinct_movers`` the facts need only overlap: at the
    profile stage no program value tells two questions apart. Entries that move nothing
    (direction 0, which no report lists) and entries that read no applicant fact are kept as
    they are. The audit trail keeps every entry.
    """
    groups: list[list[tuple[int, AuditEntry, frozenset[str]]]] = []
    slots: list[AuditEntry | int] = []  # an entry kept as it is, or the index of its group
    for k, a in enumerate(entries):
        direction = reason_of(a)[0]
        reads = frozenset(p for p in a.values if "applicant." in p)
        if direction == 0 or not reads:
            slots.append(a)
            continue
        for members in groups:
            if reason_of(members[0][1])[0] == direction and any(reads & r for _k, _a, r in members):
                members.append((k, a, reads))
                break
        else:
            groups.append([(k, a, reads)])
            slots.append(len(groups) - 1)

    def shown(members: list[tuple[int, AuditEntry, frozenset[str]]]) -> AuditEntry:
        def key(m: tuple[int, AuditEntry, frozenset[str]]) -> tuple[int, float, int]:
            move = m[1].movement()
            return (len(m[2]), -(move[0] if move else 0.0), m[0])

        return min(members, key=key)[1]

    return [s if isinstance(s, AuditEntry) else shown(groups[s]) for s in slots]


def movers(result: ProgramResult, n: int = 3, *, include_profile: bool = False) -> list[Mover]:
    """The rules that moved this program most (``distinct_movers``), with how.

    Profile-stage rules move every program alike, so by default they are left out here (the
    reports list them once, above the list).
    """
    out = []
    for a in distinct_movers(result, n, include_profile=include_profile):
        move = a.movement()
        if move is None:
            continue
        out.append(Mover(a.rule_id, move[1], move[0]))
    return out


def _humanise(rule_id: str) -> str:
    return rule_id.rsplit(".", 1)[-1].replace("_", " ")


def reason_of(entry: AuditEntry) -> tuple[int, str]:
    """(direction, words): +1 helps, -1 counts against, 0 neither; the rule's own explanation."""
    text = (entry.explanation or "").strip() or _humanise(entry.rule_id)
    if entry.excludes or entry.chance_cap is not None or entry.tier_at_most is not None:
        return -1, text
    if entry.odds is not None:
        return (1 if entry.odds > 1 else -1 if entry.odds < 1 else 0), text
    return 0, text


@frozen
class ProgramRow:
    """One program of the list as the reports show it."""

    rank: int
    result: ProgramResult
    tier: str | None
    chance: float | None
    #: (direction, words) of the rules that moved this program most, program stage only
    reasons: tuple[tuple[int, str], ...]
    movers: tuple[Mover, ...]

    @property
    def program(self) -> Program:
        return self.result.program

    def standing(self) -> str:
        """``target · interview chance 42%``."""
        tier = self.tier or "-"
        if self.chance is not None:
            return f"{tier} · {chance_text(self.chance)}"
        return tier


@frozen
class ExclusionGroup:
    reason: str
    rule_id: str
    count: int
    programs: tuple[ProgramResult, ...]


@frozen
class Summary:
    """Counts every format shows above the list (kept for callers of the old renderer)."""

    title: str
    chosen: tuple[ProgramResult, ...]
    eligible: int
    excluded: tuple[ProgramResult, ...]
    total: int
    profile_moves: tuple[tuple[str, str], ...]
    exclusion_reasons: tuple[tuple[str, int, str], ...]
    tier_counts: dict[str, int]


@frozen
class Report:
    """Everything a report says, in the order an applicant reads it."""

    title: str
    summary: Summary
    rows: tuple[ProgramRow, ...]
    what_it_is: str
    breadth: str
    interviews: str | None
    shortfall: str | None
    synthetic: bool
    uses_chance: bool
    exclusions: tuple[ExclusionGroup, ...]
    advice: tuple[tuple[str, str], ...]  # (message, rule id)
    profile_reasons: tuple[tuple[int, str, str], ...]  # (direction, words, rule id)
    provenance: str

    @property
    def tier_counts(self) -> dict[str, int]:
        return self.summary.tier_counts


def summarize(rec: Recommendation, title: str = "") -> Summary:
    """Gather the counts the reports show, building only the results they read.

    The chosen programs are built; the excluded ones are a lazy view (the tail of
    ``rec.programs``: eligible programs come first), built only by a report that lists them,
    and counted by deciding rule from the evaluation's columns (``exclusion_counts``).
    """
    programs = rec.programs
    total = len(programs)
    chosen = tuple(rec.chosen())
    excluded: Sequence[ProgramResult] = programs[min(rec.breadth.eligible, total) :]
    if not isinstance(excluded, LazyResults):
        excluded = tuple(r for r in programs if r.excluded is not None)
    exclusion_reasons = tuple(rec.exclusion_counts())
    profile_moves = [
        (a.rule_id, f"odds x{format_value(round(a.odds, 2))}") for a in rec.profile_audit if a.odds is not None
    ]
    tiers = Counter(r.tier for r in chosen)
    return Summary(
        title=title,
        chosen=chosen,
        eligible=rec.breadth.eligible,
        excluded=excluded,  # type: ignore[arg-type]
        total=total,
        profile_moves=tuple(profile_moves),
        exclusion_reasons=exclusion_reasons,
        tier_counts={t: tiers.get(t, 0) for t in TIER_ORDER},
    )


@lru_cache(maxsize=1)
def _sample_catalog_sha() -> str | None:
    try:
        from ..domain.inputs import load_catalog, sample_catalog_path
        from ..runtime.audit import catalog_sha256
    except ImportError:  # pragma: no cover - a layer contract would refuse it first
        return None
    return catalog_sha256(load_catalog(sample_catalog_path()))


def is_synthetic(rec: Recommendation) -> bool:
    """Whether the result was computed on a synthetic catalog.

    The provenance says so where the catalog declares it (``catalog_synthetic``); otherwise a
    result computed on the shipped sample catalog (recognised by its hash) is synthetic.
    """
    if rec.provenance.catalog_synthetic:
        return True
    return rec.provenance.catalog_sha256 == _sample_catalog_sha()


def _breadth_text(rec: Recommendation, s: Summary) -> str:
    b = rec.breadth
    tiers = ", ".join(f"{s.tier_counts[t]} {t}" for t in TIER_ORDER)
    if b.rule_id:
        target = f"Apply to {b.min}-{b.max} programs" if b.min != b.max else f"Apply to {b.max} programs"
    else:
        target = "Every eligible program is listed"
    caps = "".join(
        f", with at most {n} {'university programs and big-name academic centres' if g == 'academic' else g.replace('_', ' ')}"
        for g, n in b.at_most.items()
    )
    kept = "".join(
        f", keeping at least {n} places for {'programs in other states' if g == 'other_states' else g.replace('_', ' ')}"
        for g, n in b.at_least.items()
    )
    return f"{target}{caps}{kept}. This list has {len(s.chosen):,} ({tiers})."


def _what_it_is(s: Summary) -> str:
    if not s.chosen:
        return (
            f"No program is on the list: the rules excluded all {s.total:,} programs in the catalog. "
            "The reasons are under Excluded below."
        )
    return (
        f"These are the {len(s.chosen):,} programs the rules suggest you apply to, in the order to apply: "
        f"places you prefer or have ties to come first, and better chances come first within them, so a reach "
        f"program can sit above a target one. They were chosen from the {s.eligible:,} programs you are "
        f"eligible for, of {s.total:,} in the catalog; the other {len(s.excluded):,} were excluded by a "
        "published requirement or a preference of yours (see Excluded)."
    )


def interviews_count(x: float) -> str:
    """``about 5.9``; ``fewer than 0.1`` where one decimal would say ``about 0.0`` (eight
    dermatology reaches at 0.1% each: the list promises nothing, but not exactly nothing)."""
    return f"about {x:.1f}" if x >= 0.05 or x == 0 else "fewer than 0.1"


def _interviews_text(rec: Recommendation) -> str | None:
    b = rec.breadth
    text = f"Across this list, expect {interviews_count(b.expected_interviews)} interview invitations (the sum of the chances)."
    if b.interview_target is not None:
        text += (
            f" The list aims at {b.interview_target:g}: matched IMGs typically had about 8 interviews, "
            "unmatched ones about 2 (NRMP applicant survey)."
        )
    if b.eligible_expected_interviews < (b.interview_target or 0):
        every = interviews_count(b.eligible_expected_interviews)
        text += f" Even every eligible program together would give {'only ' if every.startswith('about') else ''}{every}."
    return text


def _shortfall_text(rec: Recommendation) -> str | None:
    shortfall = rec.shortfall
    if shortfall is None:
        return None
    text = shortfall.describe()
    return text[0].upper() + text[1:] + "."


def _provenance_line(rec: Recommendation, limit: int | None = None) -> str:
    p = rec.provenance
    names = [f"{r.name} {r.version}" for r in p.rulesets]
    if limit is not None and len(names) > limit:
        names = [*names[:limit], f"and {len(p.rulesets) - limit} more"]
    sets = "1 rule set" if len(p.rulesets) == 1 else f"{len(p.rulesets)} rule sets"
    return f"as of {p.as_of_year}; engine {p.engine}; {sets}: {', '.join(names) or 'none'}"


def build_report(rec: Recommendation, title: str = "", *, synthetic: bool | None = None, reasons: int = 3) -> Report:
    """The words of every report, built once."""
    s = summarize(rec, title)
    rows = []
    for k, r in enumerate(s.chosen, start=1):
        chance = r.chance
        picked = distinct_movers(r, reasons)
        rows.append(
            ProgramRow(
                rank=k,
                result=r,
                tier=r.tier,
                chance=chance,
                reasons=tuple(reason_of(a) for a in picked),
                movers=tuple(movers(r, reasons)),
            )
        )
    # the excluded programs of each rule, built only if a report lists them
    exclusions = tuple(
        ExclusionGroup(reason, rid, len(results), results)  # type: ignore[arg-type]
        for rid, reason, results in rec.excluded_by_rule()
    )
    profile_reasons = []
    for a in distinct_profile_reasons(rec.profile_audit):
        direction, words = reason_of(a)
        profile_reasons.append((direction, words, a.rule_id))
    return Report(
        title=s.title or "Recommended programs",
        summary=s,
        rows=tuple(rows),
        what_it_is=_what_it_is(s),
        breadth=_breadth_text(rec, s),
        interviews=_interviews_text(rec),
        shortfall=_shortfall_text(rec),
        synthetic=is_synthetic(rec) if synthetic is None else synthetic,
        uses_chance=any(row.chance is not None for row in rows),
        exclusions=exclusions,
        advice=tuple((a.message, a.rule_id) for a in rec.advice),
        profile_reasons=tuple(profile_reasons),
        provenance=_provenance_line(rec, 4),
    )


def region_counts(rows: Sequence[ProgramRow]) -> list[tuple[str, dict[str, int], int]]:
    """(region label, tier -> count, total) for the regions the list has programs in, in ladder order."""
    counts: dict[Region, Counter[str]] = defaultdict(Counter)
    for row in rows:
        counts[row.program.region][row.tier or "reach"] += 1
    return [
        (REGION_LABELS[reg], {t: counts[reg].get(t, 0) for t in TIER_ORDER}, sum(counts[reg].values()))
        for reg in REGION_ORDER
        if counts.get(reg)
    ]
