"""What ``evaluate`` returns: a [`Recommendation`][smartpick_rules.Recommendation] with its audit trail.

Each program has three things kept apart: whether it is eligible (an exclusion names the
published policy that rules it out), its *chance* (an estimate of the probability that the
program offers this applicant an interview; the tier is a band of it) and its *priority* (its
place in the list). Tiers and chances are estimates of interview chances, not match odds.

The JSON form (``to_dict`` / ``to_json``) is a stable, documented schema (docs/audit-trail.md)
that round-trips through cattrs (``Recommendation.from_dict``). Per-program results of a large
catalog are built on first access: ``evaluate`` decides every score, tier and exclusion, and
keeps which rules fired; turning that into 6,000 lists of audit entries is formatting, done
only for the programs someone reads (or all of them, by ``to_json``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import attrs

from ..domain.converter import converter
from ..domain.models import Program
from ..language.ir import format_value

__all__ = [
    "NOTICE",
    "AdviceItem",
    "AuditEntry",
    "BreadthResult",
    "Exclusion",
    "ProgramResult",
    "Provenance",
    "Recommendation",
    "RuleSetStamp",
    "Shortfall",
    "WhyNot",
]

#: 2: the score became chance (of an interview) and priority, kept apart
SCHEMA_VERSION = 2

#: said by every output that shows chances or tiers
NOTICE = (
    "Chances and tiers are estimates of the chance that a program offers an interview, built from "
    "published figures; they are not match odds."
)

JSONValue = Any


@attrs.frozen
class AuditEntry:
    """One rule that fired, as an auditor reads it."""

    rule_id: str
    ruleset: str
    ruleset_version: str
    stage: str
    salience: int
    effect: str
    explanation: str | None
    values: dict[str, JSONValue]
    """The values the rule's condition (and its templates) read, by path."""
    chance_after: float | None
    """The program's chance of an interview after this entry (None for entries that do not move it)."""
    file: str
    line: int
    source: str = ""
    #: the factor this entry multiplied the odds of an interview by, for this program
    odds: float | None = None
    #: the ceiling this entry put on the chance, for this program
    chance_cap: float | None = None

    def movement(self) -> tuple[float, str] | None:
        """How much this entry moved its program, for ranking: ``(weight, how)``.

        An exclusion outweighs a tier ceiling, which outweighs a chance ceiling, which outweighs
        any odds factor (weighed by how far it is from 1, either way).
        """
        if self.effect.startswith("exclude"):
            return (1e9, "excluded")
        if "tier at most" in self.effect:
            tier = self.effect.split("tier at most ", 1)[1].split(";", 1)[0]
            return (1e8, f"tier at most {tier}")
        if self.chance_cap is not None:
            return (1e7, f"chance at most {percent(self.chance_cap)}")
        if self.odds is not None and self.odds > 0 and self.odds != 1:
            return (abs(math.log(self.odds)), f"odds x{format_value(round(self.odds, 2))}")
        return None


def percent(chance: float | None) -> str:
    """A chance as people read it: ``23%``, ``0.4%``, ``<0.1%``."""
    if chance is None:
        return "-"
    p = chance * 100
    if p >= 9.95:
        return f"{p:.0f}%"
    if p >= 0.95:
        return f"{p:.1f}".rstrip("0").rstrip(".") + "%"
    if p >= 0.1:
        return f"{p:.1f}%"
    return "<0.1%"


@attrs.frozen
class Exclusion:
    rule_id: str
    reason: str


@attrs.frozen
class AdviceItem:
    rule_id: str
    stage: str
    message: str


@attrs.frozen
class ProgramResult:
    """One program's outcome: eligibility, chance of an interview and tier, place in the list, and its audit trail.

    ``chance`` and ``tier`` are ``None`` when the program is excluded; ``excluded`` is the deciding
    exclusion. Chances and tiers are estimates of interview chances, not match odds. The fields
    are those of the JSON form (docs/audit-trail.md).
    """

    program: Program
    chance: float | None
    """Estimated chance that the program offers an interview (None when excluded); not match odds."""
    tier: str | None
    """The band of ``chance`` ("likely", "target", "reach"), lowered by flags programs screen on."""
    excluded: Exclusion | None
    tags: tuple[str, ...]
    priority: float
    """Place in the list: higher comes first (geography, ties, preferences)."""
    audit: tuple[AuditEntry, ...]
    exclusions: tuple[Exclusion, ...] = ()
    """Every exclusion that applied, the deciding one (highest salience) first."""
    advice: tuple[AdviceItem, ...] = ()
    chosen: bool = False
    """True when the program is in the recommended list (breadth.chosen)."""
    left_off: str | None = None
    """Why an eligible program is not in the list (None when chosen or excluded)."""
    groups: tuple[str, ...] = ()
    """The declared groups the program belongs to (``academic``, ``other_states``, ...)."""

    @property
    def program_id(self) -> str:
        return self.program.id

    @property
    def academic(self) -> bool:
        """A university program or big-name academic centre: the guide's "reach programs"."""
        return "academic" in self.groups

    def __repr__(self) -> str:
        from .notebook import program_repr

        return program_repr(self)

    def _repr_html_(self) -> str:
        from .notebook import program_repr_html

        return program_repr_html(self)

    def top_movers(self, n: int = 3, *, include_profile: bool = True) -> list[AuditEntry]:
        """The entries that moved this program most: its exclusion, a tier or chance ceiling, then
        the largest odds factors either way.

        Profile-stage entries move every program alike; ``include_profile=False`` leaves them out.
        """
        ranked: list[tuple[float, int, AuditEntry]] = []
        for i, a in enumerate(self.audit):
            if a.stage == "profile" and not include_profile:
                continue
            move = a.movement()
            if move is not None:
                ranked.append((-move[0], i, a))
        ranked.sort(key=lambda t: (t[0], t[1]))
        return [a for _w, _i, a in ranked[:n]]


@attrs.frozen
class Shortfall:
    """Why the list holds fewer programs than ``breadth.min``, in numbers, and what widens it."""

    #: programs the list should hold (breadth.min) and holds
    wanted: int
    chosen: int
    #: eligible programs, and how many of them a group's ``at_most`` kept off
    eligible: int
    held_back: dict[str, int] = attrs.field(factory=dict)
    #: what would add programs to the pool: (what, how many more would be eligible)
    wideners: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        parts = [f"the list holds {self.chosen} of the {self.wanted} programs it should"]
        if self.eligible < self.wanted:
            parts.append(f"only {self.eligible} programs are eligible")
        for group, count in sorted(self.held_back.items()):
            parts.append(f"{count} eligible {group} programs are beyond the list's limit for them")
        text = "; ".join(parts)
        if self.wideners:
            text += ". Would widen the pool: " + "; ".join(f"{what} (+{n})" for what, n in self.wideners)
        return text


@attrs.frozen
class BreadthResult:
    """How many programs to apply to, and the list itself in priority order."""

    min: int
    max: int
    chosen: tuple[str, ...]
    rule_id: str | None = None
    eligible: int = 0
    #: expected interviews the list aims at (a list-stage ``set = { interview_target = N }``)
    interview_target: float | None = None
    #: the sum of the chosen programs' chances: the expected number of interviews
    expected_interviews: float = 0.0
    #: the sum over every eligible program: what applying everywhere eligible would yield
    eligible_expected_interviews: float = 0.0
    #: per group, the most / the fewest programs of it the list takes
    at_most: dict[str, int] = attrs.field(factory=dict)
    at_least: dict[str, int] = attrs.field(factory=dict)
    #: why the list stopped where it did
    stopped: str = ""
    shortfall: Shortfall | None = None


@attrs.frozen
class RuleSetStamp:
    name: str
    version: str
    sha256: str


@attrs.frozen
class Provenance:
    """Everything needed to replay a decision."""

    library_version: str
    engine: str
    as_of_year: int
    rulesets: tuple[RuleSetStamp, ...]
    catalog_sha256: str
    catalog_size: int
    profile_sha256: str
    schema_version: int = SCHEMA_VERSION
    #: the catalog's programs are invented (``Catalog.synthetic``): outputs naming them must say so
    catalog_synthetic: bool = False


@attrs.frozen
class WhyNot:
    """Why a rule did not fire for a program: the first clause that was not true."""

    rule_id: str
    clause: str
    outcome: str  # "false" | "unknown" | "gated"
    values: dict[str, JSONValue]


class LazyResults(Sequence[ProgramResult]):
    """A sequence of program results built on first access, in a fixed order."""

    def __init__(self, order: Sequence[int], build: Callable[[int], ProgramResult]) -> None:
        self._order = list(order)
        self._build = build
        self._cache: dict[int, ProgramResult] = {}

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, i: int) -> ProgramResult: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[ProgramResult]: ...
    def __getitem__(self, i: int | slice) -> ProgramResult | Sequence[ProgramResult]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        r = self._cache.get(i)
        if r is None:
            r = self._build(self._order[i])
            self._cache[i] = r
        return r

    def __iter__(self) -> Iterator[ProgramResult]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@attrs.frozen
class Recommendation:
    """The result of one evaluation: a ranked, tiered list with its audit trail."""

    programs: Sequence[ProgramResult]
    profile_audit: tuple[AuditEntry, ...]
    list_audit: tuple[AuditEntry, ...]
    advice: tuple[AdviceItem, ...]
    breadth: BreadthResult
    provenance: Provenance
    profile_tags: tuple[str, ...] = ()
    derived: dict[str, JSONValue] = attrs.field(factory=dict)
    _why_not: Callable[[str], list[WhyNot]] | None = attrs.field(default=None, eq=False, repr=False, alias="_why_not")
    #: the facts the list stage read, kept for list-stage why-not and rule-test coverage
    _list_scope: Any = attrs.field(default=None, eq=False, repr=False, alias="_list_scope")

    # -- lookups ---------------------------------------------------------------------
    def get(self, program_id: str) -> ProgramResult | None:
        for r in self.programs:
            if r.program.id == program_id:
                return r
        return None

    def included(self) -> list[ProgramResult]:
        """Programs not excluded, best first."""
        return [r for r in self.programs if r.excluded is None]

    def excluded(self) -> list[ProgramResult]:
        return [r for r in self.programs if r.excluded is not None]

    def chosen(self) -> list[ProgramResult]:
        """The recommended list, in priority order."""
        by_id = {r.program.id: r for r in self.programs if r.chosen}
        return [by_id[i] for i in self.breadth.chosen if i in by_id]

    @property
    def expected_interviews(self) -> float:
        """The sum of the chosen programs' chances: an estimate, not a promise."""
        return self.breadth.expected_interviews

    @property
    def interview_target(self) -> float | None:
        return self.breadth.interview_target

    @property
    def shortfall(self) -> Shortfall | None:
        return self.breadth.shortfall

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = converter.unstructure(self)
        data.pop("_why_not", None)
        data.pop("_list_scope", None)
        return {"schema_version": SCHEMA_VERSION, "notice": NOTICE, **data}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        data = dict(data)
        data.pop("schema_version", None)
        data.pop("notice", None)
        programs = tuple(converter.structure(p, ProgramResult) for p in data.pop("programs"))
        rest = converter.structure({**data, "programs": []}, Recommendation)
        return attrs.evolve(rest, programs=programs)

    @classmethod
    def from_json(cls, text: str) -> Recommendation:
        return cls.from_dict(json.loads(text))

    # -- notebooks -----------------------------------------------------------------------
    def __repr__(self) -> str:
        from .notebook import recommendation_repr

        return recommendation_repr(self)

    def _repr_html_(self) -> str:
        from .notebook import recommendation_repr_html

        return recommendation_repr_html(self)

    def to_frame(self, *, chosen_only: bool = False) -> Any:
        """The result as a pandas DataFrame, one row per program (``chosen_only``: the list alone).

        Columns: ``rank`` (place in the list, empty when not chosen), the program's id, name,
        specialty, city, state, region and type, its ``tier``, ``chance`` or ``score``,
        ``priority``, ``chosen``, ``excluded_by`` and ``exclusion_reason``, and ``reasons`` (the
        explanations of the rules that moved it most). Needs pandas (the ``pandas`` extra).
        """
        from .notebook import to_frame

        return to_frame(self, chosen_only=chosen_only)

    # -- explanation -------------------------------------------------------------------
    def why_not(self, program_id: str) -> list[WhyNot]:
        """Rules considered for this program that did not fire, each with its failing clause."""
        if self._why_not is None:
            raise ValueError("why-not needs the live evaluation; a Recommendation read from JSON has only what fired")
        return self._why_not(program_id)

    def explain(self, program_id: str) -> str:
        """A readable trace for one program: what fired, in order, then what did not and why."""
        from .explain import explain_program

        return explain_program(self, program_id)


def _structure_programs(value: Any, _t: Any) -> Sequence[ProgramResult]:
    return tuple(converter.structure(p, ProgramResult) for p in value)


converter.register_structure_hook_func(lambda t: t == Sequence[ProgramResult], _structure_programs)
converter.register_unstructure_hook(LazyResults, lambda seq: [converter.unstructure(p) for p in seq])
