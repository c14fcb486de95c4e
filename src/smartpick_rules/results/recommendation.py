"""What ``evaluate`` returns: a [`Recommendation`][smartpick_rules.Recommendation] with its audit trail.

Each program has three things kept apart: whether it is eligible (an exclusion names the
published policy that rules it out), its *chance* (an estimate of the probability that the
program offers this applicant an interview; the tier is a band of it) and its *priority* (its
place in the list). Tiers and chances are estimates of interview chances, not match odds.

The JSON form (``to_dict`` / ``to_json``) is a stable, documented schema (docs/audit-trail.md)
that round-trips through cattrs (``Recommendation.from_dict``). It is compact: the profile stage's
entries are written once, a program's audit holds only its own entries, a rule's fixed fields
(file, line, source, ...) are written once in a ``rules`` table, and excluded programs are a
table of ids and exclusions. Per-program results of a large
catalog are built on first access: ``evaluate`` decides every score, tier and exclusion, and
keeps which rules fired; turning that into 6,000 lists of audit entries is formatting, done
only for the programs someone reads (or all of them, by ``to_json``).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import takewhile
from typing import TYPE_CHECKING, Any, Literal, overload

import attrs
import numpy as np
import numpy.typing as npt
from cattrs.gen import make_dict_unstructure_fn, override

from ..domain.converter import converter
from ..domain.models import Program
from ..errors import Diagnostic, EvaluationError, InputError, Location
from ..language.ir import TIERS, format_value
from ..limits import DEFAULT_LIMITS, limit_help
from ..records import frozen

__all__ = [
    "DETAILS",
    "NOTICE",
    "AdviceItem",
    "AuditEntry",
    "BreadthResult",
    "Detail",
    "ExcludedProgram",
    "Exclusion",
    "Firings",
    "ProgramResult",
    "Provenance",
    "Recommendation",
    "RuleSetStamp",
    "Shortfall",
    "WhyNot",
]

#: 2: the score became chance (of an interview) and priority, kept apart
#: 3: audit entries carry their effect typed (excludes, tier_at_most, priority, tags, ...), and
#:    ``effect`` shows a computed odds factor by its value (docs/audit-trail.md, "Migrating")
#: 4: compact: profile-stage entries once (``profile_chance``), a rule's fixed fields once
#:    (``rules``), excluded programs as a table (``excluded_programs``), ``detail`` levels
SCHEMA_VERSION = 4

#: how much of a result ``to_dict`` / ``to_json`` write (and ``evaluate_many`` sends back):
#: "full", every program (eligible ones whole, excluded ones by id and exclusions), or "chosen",
#: the recommended list alone; both with the profile and list audits, breadth and provenance
Detail = Literal["full", "chosen"]
DETAILS: tuple[str, ...] = ("full", "chosen")

#: the AuditEntry fields that are the rule's, not the firing's: written once per rule in the JSON
#: form's ``rules`` table, not in every program's entry
_RULE_FIELDS = ("ruleset", "ruleset_version", "stage", "salience", "file", "line", "source")

#: said by every output that shows chances or tiers
NOTICE = (
    "Chances and tiers are estimates of the chance that a program offers an interview, built from "
    "published figures; they are not match odds."
)

JSONValue = Any



class _NoValues(Mapping[str, Any]):
    """The empty, read-only mapping AuditEntry's typed mappings default to: most entries have
    none, and a dict apiece would cost a third of building an entry. One object, shared; unlike
    ``MappingProxyType`` it pickles (outcomes travel to other processes)."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        # Mapping's own __eq__ copies both sides into dicts: the JSON writer asks once per entry
        return other is self or (isinstance(other, Mapping) and not other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> tuple[Callable[[], Mapping[str, Any]], tuple[()]]:
        return (_no_values, ())


def _no_values() -> Mapping[str, Any]:
    return _NO_VALUES


_NO_VALUES: Mapping[str, Any] = _NoValues()


@frozen
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
    # -- the rest of the effect, typed (``effect`` says the same in words). The JSON form
    # -- carries each of these only when the rule has that effect.
    excludes: bool = False
    """The entry excluded its program; the reason is the program's exclusion with this ``rule_id``."""
    tier_at_most: str | None = None
    """The tier this entry capped its program at (``tier_at_most``)."""
    priority: float | None = None
    """What this entry added to its program's priority."""
    tags: tuple[str, ...] = ()
    """The tags this entry set."""
    advice: bool = False
    """The entry gave advice: the advice item with this ``rule_id`` (the program's, or the result's)."""
    estimates: tuple[str, ...] = ()
    """The per-program estimates this entry added to (program stage)."""
    sets: Mapping[str, JSONValue] = _NO_VALUES
    """The values this entry set: derived values (profile stage), ``interview_target`` (list stage)."""
    breadth: tuple[int, int] | None = None
    """The recommended number of applications this entry set, ``(min, max)`` (list stage)."""
    at_most: Mapping[str, int] = _NO_VALUES
    """Per group, the most programs of it this entry let the list take (list stage)."""
    at_least: Mapping[str, int] = _NO_VALUES
    """Per group, the places this entry kept in the list for it (list stage)."""

    def movement(self) -> tuple[float, str] | None:
        """How much this entry moved its program, for ranking: ``(weight, how)``.

        An exclusion outweighs a tier ceiling, which outweighs a chance ceiling, which outweighs
        any odds factor (weighed by how far it is from 1, either way).
        """
        if self.excludes:
            return (1e9, "excluded")
        if self.tier_at_most is not None:
            return (1e8, f"tier at most {self.tier_at_most}")
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


@frozen
class Exclusion:
    rule_id: str
    reason: str


@frozen
class ExcludedProgram:
    """An excluded program as a full result read from JSON carries it: its id and every exclusion
    that applied, the deciding one (highest salience) first (``ProgramResult.exclusions``)."""

    program_id: str
    exclusions: tuple[Exclusion, ...]

    @property
    def excluded(self) -> Exclusion:
        """The deciding exclusion (``ProgramResult.excluded``)."""
        return self.exclusions[0]


@frozen
class AdviceItem:
    rule_id: str
    stage: str
    message: str


#: tiers by rank, worst first (``language.ir.TIERS``): a ceiling above the final tier did not bind
_TIER_RANK = {t: i for i, t in enumerate(TIERS)}


@frozen
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

        A ceiling counts only where it can have held the program down: a cap at "target" on a
        program whose tier ended "reach", or a chance ceiling above the program's final chance,
        did not move it, and weighs only for the odds the same entry set (if any). Profile-stage
        entries move every program alike; ``include_profile=False`` leaves them out.
        """
        ranked: list[tuple[float, int, AuditEntry]] = []
        for i, a in enumerate(self.audit):
            if a.stage == "profile" and not include_profile:
                continue
            move = self._movement(a)
            if move is not None:
                ranked.append((-move[0], i, a))
        ranked.sort(key=lambda t: (t[0], t[1]))
        return [a for _w, _i, a in ranked[:n]]

    def _movement(self, a: AuditEntry) -> tuple[float, str] | None:
        """``a.movement()``, without the ceilings that did not bind for this program."""
        if a.excludes:
            return a.movement()
        slack_tier = (
            a.tier_at_most is not None
            and self.tier is not None
            and _TIER_RANK.get(self.tier, 0) < _TIER_RANK.get(a.tier_at_most, 0)
        )
        slack_chance = a.chance_cap is not None and self.chance is not None and self.chance < a.chance_cap
        if not (slack_tier or slack_chance):
            return a.movement()
        return attrs.evolve(
            a,
            tier_at_most=None if slack_tier else a.tier_at_most,
            chance_cap=None if slack_chance else a.chance_cap,
        ).movement()


@frozen
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


@frozen
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
    at_most: Mapping[str, int] = _NO_VALUES
    at_least: Mapping[str, int] = _NO_VALUES
    #: why the list stopped where it did
    stopped: str = ""
    shortfall: Shortfall | None = None


@frozen
class RuleSetStamp:
    name: str
    version: str
    sha256: str


@frozen(slots=False)
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

    @classmethod
    def deferred(cls, later: Mapping[str, Callable[[], Any]], **fields: Any) -> Provenance:
        """A provenance whose fields named in ``later`` are computed, each by its function, when
        first read. The fingerprints cost: the catalog's 20 ms for 5,000 programs (a JSON line
        each), the profile's a few ms (its unstructuring code is generated on first use), and
        a report that does not show them (the CLI's table) need not wait for them (what they
        read, a catalog and a profile, is immutable, so the value is the same later). Equality,
        hashing, repr, JSON, copies and pickles read the attributes, so they see the values."""
        # set as __init__ sets the fields, less those to come: an attribute a dict class lacks
        # falls through to __getattr__, which computes it
        placeholders: dict[str, Any] = dict.fromkeys(later, "")
        proto = cls(**placeholders, **fields)
        for name in later:
            del proto.__dict__[name]
        proto.__dict__[_LATER] = dict(later)
        return proto

    if not TYPE_CHECKING:  # mypy would take every misspelt attribute for this

        def __getattr__(self, name: str) -> Any:
            later = self.__dict__.get(_LATER)
            compute = later.get(name) if later is not None else None
            if compute is None:
                if name in self.__dict__:  # another thread computed it meanwhile
                    return self.__dict__[name]
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            value = compute()
            object.__setattr__(self, name, value)
            # dropped after the value is in place: a thread reading meanwhile finds one or the other
            later.pop(name, None)
            if not later:
                self.__dict__.pop(_LATER, None)
            return value

    def __getstate__(self) -> dict[str, Any]:
        # computed before a copy or a pickle takes the state, which leaves the functions behind
        for name in list(self.__dict__.get(_LATER, ())):
            getattr(self, name)
        return {k: v for k, v in self.__dict__.items() if k != _LATER}


#: where a deferred provenance keeps the functions that compute the fields still to come
_LATER = "_provenance_later"


@frozen(eq=False)
class Firings:
    """Every program-stage firing of one evaluation, one array entry per (rule, program) that fired.

    Ordered by rule (audit order), then by program (catalog order). Where a rule has no such
    effect, ``odds`` and ``chance_cap`` are 1 and ``priority`` is 0. ``Recommendation.firings()``
    builds it from the evaluation's columns::

        f = rec.firings()
        hits = np.bincount(f.rule, minlength=len(f.rule_ids))   # programs each rule fired for
        log_odds = np.bincount(f.program, np.log(f.odds), minlength=len(f.program_ids))
    """

    #: index into ``rule_ids`` (int32)
    rule: Any
    #: index into ``program_ids`` (int32)
    program: Any
    #: the factor the firing multiplies the program's odds of an interview by (float64)
    odds: Any
    #: the ceiling it puts on the program's chance (float64)
    chance_cap: Any
    #: the priority it adds (float64)
    priority: Any
    #: the firing excludes the program (bool)
    excludes: Any
    #: the program-stage rules, in audit order
    rule_ids: tuple[str, ...]
    #: the catalog's programs, in catalog order
    program_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.rule)


@frozen
class WhyNot:
    """Why a rule did not fire for a program: the first clause that was not true."""

    rule_id: str
    clause: str
    outcome: str  # "false" | "unknown" | "gated"
    values: dict[str, JSONValue]


class LazyResults(Sequence[ProgramResult]):
    """A sequence of program results built on first access, in a fixed order.

    ``order`` lists the keys ``build`` takes (a program's index in its catalog, say), in result
    order. ``build_many`` (optional) builds several at once, as iteration does; ``ids`` (optional)
    gives each key's program id, so ``position`` finds a program without building any result.

    ``max_entries`` bounds the audit entries the results it keeps may hold together
    (``Limits.max_audit_entries``): building one more beyond it is an ``EvaluationError``. Results
    built only to be written (`iter_uncached`, what ``to_json`` uses) are not kept; ``to_json``
    applies the same bound to what one call writes.
    """

    def __init__(
        self,
        order: Sequence[int] | npt.NDArray[np.intp],
        build: Callable[[int], ProgramResult],
        build_many: Callable[[Sequence[int]], list[ProgramResult]] | None = None,
        ids: Sequence[str] | None = None,
        max_entries: int | None = None,
        locate: Callable[[str], int | None] | None = None,
    ) -> None:
        self._keys = order
        # an array's keys become a list on first use: most results are never indexed
        self._order_list: list[int] | None = None if isinstance(order, np.ndarray) else list(order)
        #: program id -> position, when the builder can answer without a table of ids
        self._locate = locate
        self._build = build
        self._build_many = build_many
        self._ids = ids
        self._cache: dict[int, ProgramResult] = {}
        self._where: dict[str, int] | None = None
        self._max_entries = max_entries
        self._kept_entries = 0
        self._lock = threading.Lock()

    def position(self, program_id: str) -> int | None:
        """Where the program with this id is in the sequence, or None; builds no result when
        the sequence knows its ids."""
        if self._locate is not None:
            return self._locate(program_id)
        if self._ids is None:
            for k in range(len(self)):
                if self[k].program.id == program_id:
                    return k
            return None
        where = self._where
        if where is None:
            ids = self._ids
            where = self._where = {ids[key]: k for k, key in enumerate(self._order)}
        return where.get(program_id)

    @property
    def _order(self) -> list[int]:
        order = self._order_list
        if order is None:
            assert isinstance(self._keys, np.ndarray)
            order = self._order_list = self._keys.tolist()
        return order

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, i: int) -> ProgramResult: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[ProgramResult]: ...
    def __getitem__(self, i: int | slice) -> ProgramResult | Sequence[ProgramResult]:
        if isinstance(i, slice):
            # a lazy view: nothing is built until read
            keys = [self._order[j] for j in range(*i.indices(len(self)))]
            return LazyResults(keys, self._build, self._build_many, self._ids, self._max_entries)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        r = self._cache.get(i)
        if r is None:
            r = self._keep(i, self._build(self._order[i]))
        return r

    def _keep(self, i: int, r: ProgramResult) -> ProgramResult:
        # the bound counts what stays in memory: results built only to be written are not kept
        with self._lock:
            if i in self._cache:
                return self._cache[i]
            if self._max_entries is not None:
                if self._kept_entries + len(r.audit) > self._max_entries:
                    raise EvaluationError(
                        Diagnostic(
                            "limit_exceeded",
                            f"building every program's audit trail would keep more than {self._max_entries:,} "
                            f"entries ({len(self._order):,} programs)",
                            Location(),
                            help=limit_help("max_audit_entries") + "; or read fewer programs (rec.chosen()), or write them (to_json)",
                        )
                    )
                self._kept_entries += len(r.audit)
            self._cache[i] = r
            return r

    def take(self, positions: Sequence[int]) -> list[ProgramResult]:
        """The results at these positions, built together (sharing the work, as iteration does)
        and kept, like ``self[i]``."""
        missing = [k for k in dict.fromkeys(positions) if k not in self._cache]
        if missing and self._build_many is not None:
            for k, r in zip(missing, self._build_many([self._order[k] for k in missing]), strict=True):
                self._keep(k, r)
        return [self[k] for k in positions]

    def __iter__(self) -> Iterator[ProgramResult]:
        if self._build_many is not None and len(self._cache) < len(self):
            # every result at once: the builder shares work across programs
            missing = [k for k in range(len(self)) if k not in self._cache]
            for start in range(0, len(missing), 256):
                part = missing[start : start + 256]
                for k, r in zip(part, self._build_many([self._order[k] for k in part]), strict=True):
                    self._keep(k, r)
        for i in range(len(self)):
            yield self[i]

    @property
    def max_entries(self) -> int | None:
        """The bound on audit entries (``Limits.max_audit_entries``), if any."""
        return self._max_entries

    def iter_uncached(self, chunk: int = 256) -> Iterator[ProgramResult]:
        """Every result, in order, without keeping those not already built (for serialising).

        With ``build_many``, results are built ``chunk`` at a time (sharing the work across
        programs), so memory holds one chunk of trails rather than all of them.
        """
        if self._build_many is None:
            for i, k in enumerate(self._order):
                r = self._cache.get(i)
                yield r if r is not None else self._build(k)
            return
        for start in range(0, len(self._order), chunk):
            stop = min(start + chunk, len(self._order))
            missing = [i for i in range(start, stop) if i not in self._cache]
            built = dict(zip(missing, self._build_many([self._order[i] for i in missing]), strict=True)) if missing else {}
            for i in range(start, stop):
                r = self._cache.get(i)
                yield r if r is not None else built[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@frozen
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
    detail: str = "full"
    """What ``programs`` holds: "full" (every program) or "chosen" (the recommended list alone: a
    result read from a ``detail="chosen"`` document, or sent back by ``evaluate_many(detail="chosen")``)."""
    excluded_programs: tuple[ExcludedProgram, ...] | None = None
    """On a full result read from JSON: the excluded programs, by id and exclusions (``programs``
    then holds the eligible ones). None on a result of ``evaluate``, whose ``programs`` holds all."""
    #: the live evaluation that produced this result (the session's columns: firings, chances,
    #: what each rule read, the facts each stage saw), from which per-program results,
    #: ``firings()`` and ``why_not()`` are built on demand. Not part of the value: it is left out
    #: of equality, JSON and pickles; None when read from JSON or unpickled.
    _outcome: Any = attrs.field(default=None, eq=False, repr=False, alias="_outcome")
    #: Limits.max_result_bytes of the evaluation: the most JSON ``to_json`` writes
    _max_json_bytes: int | None = attrs.field(default=None, eq=False, repr=False, alias="_max_json_bytes")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (and copied) as a value: every field, the programs' results built, the live
        evaluation left behind, as ``from_json`` gives it. On a large catalog that builds every
        program's audit trail; ``evaluate_many`` sends results between processes as columns instead."""
        programs = self.programs
        built = tuple(programs.iter_uncached()) if isinstance(programs, LazyResults) else tuple(programs)
        values = {a.alias: getattr(self, a.name) for a in attrs.fields(Recommendation)}
        values.update(programs=built, _outcome=None)
        return (_recommendation, (values,))

    @property
    def _list_scope(self) -> Any:
        """The facts the list stage read (list-stage why-not, rule-test coverage), while live."""
        return getattr(self._outcome, "list_scope", None)

    # -- lookups ---------------------------------------------------------------------
    def get(self, program_id: str) -> ProgramResult | None:
        """One program's result, built alone (its position in the list does not matter)."""
        programs = self.programs
        if isinstance(programs, LazyResults):
            k = programs.position(program_id)
            return None if k is None else programs[k]
        for r in programs:
            if r.program.id == program_id:
                return r
        return None

    def firings(self) -> Firings:
        """Every program-stage firing of this evaluation as arrays, for embedders who aggregate.

        One entry per (rule, program) that fired: the rule's index into ``rule_ids`` (the
        program-stage rules in audit order), the program's index into ``program_ids`` (the
        catalog's order), and what the firing contributes: its odds factor, chance ceiling,
        priority and whether it excludes the program. Built from the evaluation's columns, not
        from the audit trail; see docs/embedding.md.
        """
        if self._outcome is None:
            raise ValueError("firings() needs the evaluation's columns; a Recommendation read from JSON has only its audit trail")
        return self._outcome.firings()  # type: ignore[no-any-return]

    def included(self) -> list[ProgramResult]:
        """Programs not excluded, best first."""
        return [r for r in self.programs if r.excluded is None]

    def excluded(self) -> list[ProgramResult]:
        return [r for r in self.programs if r.excluded is not None]

    def exclusion_counts(self) -> list[tuple[str, int, str]]:
        """``(rule id, programs it excluded, the reason it gave the first of them)`` for every rule
        that decided an exclusion, most programs first, then by rule id.

        The deciding rule is each excluded program's first exclusion (``ProgramResult.excluded``);
        "first" is in the order of ``programs``. Counted from the evaluation's columns when it has
        them, without building every excluded program's result.
        """
        if self.excluded_programs is not None:
            counts: dict[str, list[Any]] = {}
            for ep in self.excluded_programs:
                hit = counts.setdefault(ep.excluded.rule_id, [0, ep.excluded.reason])
                hit[0] += 1
            return sorted(((rid, k, reason) for rid, (k, reason) in counts.items()), key=lambda t: (-t[1], t[0]))
        return [(rid, len(results), reason) for rid, reason, results in self.excluded_by_rule()]

    def excluded_by_rule(self) -> list[tuple[str, str, Sequence[ProgramResult]]]:
        """The excluded programs grouped by the rule that decided each exclusion:
        ``(rule id, the reason it gave the first of them, their results)``, largest group first,
        then by rule id; each group in the order of ``programs``. The results are built as read."""
        programs = self.programs
        if self._outcome is not None and isinstance(programs, LazyResults) and len(programs) == self.provenance.catalog_size:
            return [
                (rid, reason, LazyResults(indices, programs._build, programs._build_many, programs._ids))
                for rid, _k, reason, indices in self._outcome.exclusion_groups()
            ]
        groups: dict[str, list[ProgramResult]] = {}
        for r in programs:
            if r.excluded is not None:
                groups.setdefault(r.excluded.rule_id, []).append(r)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return [(rid, rs[0].excluded.reason if rs[0].excluded else "", rs) for rid, rs in ordered]

    def chosen(self) -> list[ProgramResult]:
        """The recommended list, in priority order."""
        programs = self.programs
        if isinstance(programs, LazyResults):
            # only the chosen programs are built, together (Limits.max_audit_entries bounds what is kept)
            found = [programs.position(i) for i in self.breadth.chosen]
            return [r for r in programs.take([k for k in found if k is not None]) if r.chosen]
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
    def to_dict(self, detail: Detail | None = None) -> dict[str, Any]:
        """The result as plain data (the schema of docs/audit-trail.md, ``schema_version`` 4).

        ``detail="full"`` (the default for a result of ``evaluate``) writes every program: the
        eligible ones whole, the excluded ones as a table of ids and exclusions. ``"chosen"``
        writes the recommended list alone. Both carry the profile and list audits, advice,
        breadth and provenance. ``None`` means this result's own ``detail``.
        """
        return self._document(self._detail(detail))

    def to_json(self, indent: int | None = None, detail: Detail | None = None) -> str:
        """The result as JSON text, the same as ``json.dumps(to_dict(detail))``.

        The text is bounded by ``Limits.max_result_bytes`` (an ``EvaluationError``, code
        ``limit_exceeded``, when it would be longer), and the audit entries it holds by
        ``Limits.max_audit_entries``. ``NaN`` and ``Infinity`` are never written: they are not JSON.
        """
        limit = self._max_json_bytes if self._max_json_bytes is not None else DEFAULT_LIMITS.max_result_bytes
        text = _dumps(self._document(self._detail(detail)), indent)
        if len(text) > limit or len(text.encode("utf-8")) > limit:
            raise EvaluationError(
                Diagnostic(
                    "limit_exceeded",
                    f"the JSON of this result would be longer than the limit of {limit:,} bytes "
                    f"({len(self.programs):,} programs)",
                    Location(),
                    help=limit_help("max_result_bytes") + '; or write only the list (detail="chosen")',
                )
            )
        return text

    def _detail(self, detail: str | None) -> str:
        if detail is None:
            return self.detail
        if detail not in DETAILS:
            raise ValueError(f"detail must be 'full' or 'chosen', got {detail!r}")
        if detail == "full" and self.detail != "full":
            raise ValueError("this result holds only the recommended list (detail='chosen'); it cannot be written in full")
        return detail

    def _full_parts(self) -> tuple[Sequence[ProgramResult], list[ExcludedProgram]]:
        """The eligible programs' results and the excluded programs, each in result order."""
        if self.excluded_programs is not None:
            return self.programs, list(self.excluded_programs)
        programs = self.programs
        outcome = self._outcome
        if outcome is not None and isinstance(programs, LazyResults):
            # the excluded programs' exclusions from the columns: their audits are not built
            keys = programs._order
            out = outcome.excluded[keys].tolist() if keys else []
            eligible = [key for key, x in zip(keys, out, strict=True) if not x]
            excluded = [key for key, x in zip(keys, out, strict=True) if x]
            ids = outcome.ids()
            table = [ExcludedProgram(ids[key], ex) for key, ex in zip(excluded, outcome.exclusions_of(excluded), strict=True)]
            return LazyResults(eligible, programs._build, programs._build_many, programs._ids, programs.max_entries), table
        kept: list[ProgramResult] = []
        table = []
        for r in programs:
            if r.excluded is None:
                kept.append(r)
            else:
                table.append(ExcludedProgram(r.program.id, r.exclusions))
        return kept, table

    def _document(self, detail: str) -> dict[str, Any]:
        excluded: list[ExcludedProgram] | None = None
        results: Sequence[ProgramResult]
        if detail == "chosen":
            results = self.chosen()
        else:
            results, excluded = self._full_parts()
        max_entries = self.programs.max_entries if isinstance(self.programs, LazyResults) else None
        rows = results.iter_uncached() if isinstance(results, LazyResults) else iter(results)
        # every program's audit opens with the same profile-stage entries (the same objects):
        # written once, as ``profile_chance`` beside ``profile_audit``
        prefix: tuple[AuditEntry, ...] | None = None
        rules: dict[str, dict[str, Any]] = {}
        written: list[dict[str, Any]] = []
        entries = 0
        for r in rows:
            audit = r.audit
            if prefix is None:
                prefix = tuple(takewhile(lambda e: e.stage == "profile", audit))
            n = len(prefix)
            if audit[:n] != prefix or (n < len(audit) and audit[n].stage == "profile"):
                raise ValueError(f"program {r.program.id}'s audit does not open with the profile-stage entries every program shares")
            entries += len(audit) - n
            if max_entries is not None and entries > max_entries:
                raise EvaluationError(
                    Diagnostic(
                        "limit_exceeded",
                        f"the JSON of this result would hold more than {max_entries:,} audit entries "
                        f"({len(self.programs):,} programs)",
                        Location(),
                        help=limit_help("max_audit_entries") + '; or write only the list (detail="chosen")',
                    )
                )
            data = converter.unstructure(attrs.evolve(r, audit=()))
            own = []
            for e in audit[n:]:
                d = converter.unstructure(e)
                fixed = {k: d.pop(k) for k in _RULE_FIELDS}
                known = rules.setdefault(e.rule_id, fixed)
                if known is not fixed and known != fixed:
                    raise ValueError(f"two audit entries of rule {e.rule_id} disagree on where the rule is written")
                own.append(d)
            data["audit"] = own
            written.append(data)
        head: dict[str, Any] = converter.unstructure(
            attrs.evolve(self, programs=(), excluded_programs=None, _outcome=None)
        )
        for private in ("_max_json_bytes", "_outcome", "programs", "detail", "excluded_programs"):
            head.pop(private, None)
        doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "notice": NOTICE, "detail": detail, "programs": written}
        if excluded is not None:
            reasons: dict[tuple[str, str], int] = {}
            table = [[ep.program_id, [reasons.setdefault((x.rule_id, x.reason), len(reasons)) for x in ep.exclusions]] for ep in excluded]
            doc["excluded_programs"] = {"reasons": [{"rule_id": rid, "reason": text} for rid, text in reasons], "programs": table}
        doc["rules"] = {rid: rules[rid] for rid in sorted(rules)}
        doc["profile_chance"] = [[e.rule_id, e.chance_after] for e in prefix or ()]
        doc.update(head)
        return doc

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        """The result ``to_dict`` gave (``schema_version`` 4); an ``InputError`` for another version."""
        data = dict(data)
        version = data.pop("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise InputError(
                Diagnostic(
                    "input_error",
                    f"a result of schema_version {version!r}; this library reads version {SCHEMA_VERSION}",
                    Location(),
                    help="evaluate again with the provenance's rule sets, catalog, as_of_year and engine "
                    "(docs/audit-trail.md, Migrating)",
                    field_path="$.schema_version",
                )
            )
        data.pop("notice", None)
        detail = data.pop("detail", "full")
        if detail not in DETAILS:
            raise _bad("$.detail", f"detail {detail!r}; expected 'full' or 'chosen'")
        rules = data.pop("rules", {})
        chances = data.pop("profile_chance", [])
        table = data.pop("excluded_programs", None)
        written = data.pop("programs")
        rest = converter.structure({**data, "programs": []}, Recommendation)
        shared = {e.rule_id: e for e in rest.profile_audit}
        try:
            prefix = tuple(attrs.evolve(shared[rid], chance_after=chance) for rid, chance in chances)
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad("$.profile_chance", f"profile_chance names an entry profile_audit does not hold ({exc})") from None
        programs = []
        for i, p in enumerate(written):
            p = dict(p)
            own = p.pop("audit")
            try:
                audit = prefix + tuple(converter.structure({**rules[a["rule_id"]], **a}, AuditEntry) for a in own)
            except KeyError as exc:
                raise _bad(f"$.programs[{i}].audit", f"an entry of rule {exc} the rules table does not hold") from None
            programs.append(attrs.evolve(converter.structure({**p, "audit": []}, ProgramResult), audit=audit))
        excluded = None
        if table is not None:
            reasons = [Exclusion(x["rule_id"], x["reason"]) for x in table["reasons"]]
            try:
                excluded = tuple(ExcludedProgram(pid, tuple(reasons[k] for k in ks)) for pid, ks in table["programs"])
            except (IndexError, TypeError, ValueError) as exc:
                raise _bad("$.excluded_programs.programs", f"an excluded program that does not read ({exc})") from None
        elif detail == "full":
            excluded = ()
        return attrs.evolve(rest, programs=tuple(programs), detail=detail, excluded_programs=excluded)

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
        if self._outcome is None:
            raise ValueError("why-not needs the live evaluation; a Recommendation read from JSON has only what fired")
        return self._outcome.why_not(program_id)  # type: ignore[no-any-return]

    def explain(self, program_id: str) -> str:
        """A readable trace for one program: what fired, in order, then what did not and why."""
        from .explain import explain_program

        return explain_program(self, program_id)


def _recommendation(values: dict[str, Any]) -> Recommendation:
    """A pickled ``Recommendation``, back (``Recommendation.__reduce__``)."""
    return Recommendation(**values)


def _bad(field: str, message: str) -> InputError:
    return InputError(Diagnostic("input_error", f"a result that does not read: {message}", Location(), field_path=field))


def _dumps(data: Any, indent: int | None) -> str:
    # allow_nan=False: `Infinity` and `NaN` are not JSON; every value here is finite or null
    return json.dumps(data, indent=indent, ensure_ascii=False, sort_keys=False, allow_nan=False)


def _structure_programs(value: Any, _t: Any) -> Sequence[ProgramResult]:
    return tuple(converter.structure(p, ProgramResult) for p in value)


converter.register_structure_hook_func(lambda t: t == Sequence[ProgramResult], _structure_programs)
# the typed effect fields are written only when the rule has that effect: most entries have one or
# two. The function is generated when first needed, as cattrs does for other classes: a report
# that writes no JSON does not pay for it.
_OMIT_DEFAULT = override(omit_if_default=True)
converter.register_unstructure_hook_factory(
    lambda t: t is AuditEntry,
    lambda _t: make_dict_unstructure_fn(
        AuditEntry,
        converter,
        excludes=_OMIT_DEFAULT,
        tier_at_most=_OMIT_DEFAULT,
        priority=_OMIT_DEFAULT,
        tags=_OMIT_DEFAULT,
        advice=_OMIT_DEFAULT,
        estimates=_OMIT_DEFAULT,
        sets=_OMIT_DEFAULT,
        breadth=_OMIT_DEFAULT,
        at_most=_OMIT_DEFAULT,
        at_least=_OMIT_DEFAULT,
    ),
)
converter.register_unstructure_hook(LazyResults, lambda seq: [converter.unstructure(p) for p in seq])
