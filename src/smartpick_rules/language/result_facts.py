"""The facts a property reads: ``result.*``, a small, typed view of one evaluation's result.

Rules never see these (the checker refuses ``result.`` in a rule). A property's ``holds``
condition reads them, type-checked like any rule condition, so an invariant is written in the
rule language rather than in Python::

    holds = "len(result.chosen) >= min(result.breadth.min, result.breadth.eligible)"

The shape mirrors `smartpick_rules.Recommendation`: ``result.chosen`` is the
recommended list in order, ``result.eligible`` every program not excluded, each item a
`ResultItem` (``item.program.region``, ``item.tier``, ``item.chance``). Values the result
an excluded program has no ``chance``.

The monotone properties' observables (``program.tier``, ``list.length``, ...) are listed in
`OBSERVABLES` with the order they are compared in.
"""

from __future__ import annotations

from enum import StrEnum

from ..domain.models import Program
from ..records import frozen
from .facts import FactType

__all__ = ["OBSERVABLES", "Observable", "ResultBreadth", "ResultFacts", "ResultItem", "Tier", "result_root"]


class Tier(StrEnum):
    """A program's tier, worst first: the order monotone properties compare tiers in."""

    reach = "reach"
    target = "target"
    likely = "likely"


@frozen
class ResultItem:
    """One program's result, as ``item`` inside ``count(result.chosen, ...)`` reads it."""

    program: Program
    eligible: bool
    chosen: bool
    tier: Tier | None
    priority: float
    #: the estimated chance of an interview (0..1); unknown where the result has none
    chance: float | None = None
    #: a university program or big-name academic centre (the guide's "reach programs")
    academic: bool | None = None
    #: why an eligible program is not on the list
    left_off: str | None = None
    tags: tuple[str, ...] = ()


@frozen
class ResultBreadth:
    """``result.breadth``: how many programs the list should hold, and how many could be on it."""

    min: int
    max: int
    #: programs not excluded
    eligible: int
    #: the expected interviews the list aims at, where a rule sets one
    interview_target: float | None = None
    #: the list holds fewer programs than ``min``
    short: bool = False
    #: eligible programs a group's ``at_most`` kept off a short list
    held_back: int = 0


@frozen
class ResultFacts:
    """``result``: one evaluation, for a property's ``holds`` condition."""

    #: the recommended list, in priority order
    chosen: tuple[ResultItem, ...]
    #: every program not excluded, in the result's order
    eligible: tuple[ResultItem, ...]
    breadth: ResultBreadth
    catalog_size: int
    excluded_count: int
    #: the sum of chances over the chosen list, where the result reports it
    expected_interviews: float | None = None
    #: ids of the rules whose advice the result carries
    advice: tuple[str, ...] = ()
    profile_tags: tuple[str, ...] = ()


def result_root() -> dict[str, FactType]:
    """The extra root the checker accepts in a property's ``holds``."""
    return {"result": FactType("record", record=ResultFacts)}


@frozen
class Observable:
    """Something a monotone property watches: per program, or of the whole list.

    ``ordered`` says how values compare: ``number``, ``bool`` (false below true) or ``tier``
    (excluded below reach below target below likely). ``eligible_only`` observables are compared
    only for programs eligible both before and after (the priority of an excluded program means
    nothing); the others count an exclusion as the lowest value.
    """

    name: str
    per_program: bool
    ordered: str
    description: str
    eligible_only: bool = False
    #: the result attribute it needs, for a clear "not supported by this result" message
    needs: str = ""


OBSERVABLES: dict[str, Observable] = {
    o.name: o
    for o in (
        Observable("program.chance", True, "number", "the program's estimated interview chance (excluded: lowest)", needs="ProgramResult.chance"),
        Observable("program.tier", True, "tier", "the program's tier: excluded < reach < target < likely"),
        Observable("program.eligible", True, "bool", "whether the program is eligible (not excluded)"),
        Observable("program.chosen", True, "bool", "whether the program is on the recommended list"),
        Observable("program.priority", True, "number", "the program's priority (compared where eligible before and after)", eligible_only=True),
        Observable("list.length", False, "number", "how many programs the recommended list holds"),
        Observable("list.eligible", False, "number", "how many programs are eligible"),
        Observable("list.breadth_min", False, "number", "the recommended minimum number of applications"),
        Observable("list.breadth_max", False, "number", "the recommended maximum number of applications"),
        Observable(
            "list.expected_interviews", False, "number", "the expected number of interviews (sum of chances over the list)", needs="Recommendation.expected_interviews"
        ),
    )
}
