"""The profile stage and the ranking: what every later stage reads."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.inputs import catalog_from_data
from ..domain.models import Catalog, Profile, Program
from ..engines import Budget
from ..errors import Diagnostic, InputError, Location
from ..language.interp import Scope
from ..limits import Limits, limit_help
from ..plan import CompiledRule, Plan

__all__ = ["ProfileOutcome", "Ranking", "as_of_year", "coerce_catalog", "rank_programs", "run_profile_stage"]

BoolArray = npt.NDArray[np.bool_]


def as_of_year(as_of: int | _dt.date | None) -> int:
    if as_of is None:
        return _dt.date.today().year
    if isinstance(as_of, _dt.date):
        as_of = as_of.year  # a date is checked like a year: date(1, 1, 1) is no evaluation year
    if isinstance(as_of, bool) or not isinstance(as_of, int) or not 1940 <= as_of <= 2100:
        raise InputError(Diagnostic("input_error", f"as_of must be a year between 1940 and 2100, got {as_of!r}", Location()))
    return as_of


@attrs.frozen(eq=False)
class ProfileOutcome:
    """What the profile stage decided, which every later stage reads."""

    #: fired profile rules, in audit order
    rules: tuple[CompiledRule, ...]
    tags: frozenset[str]
    derived: dict[str, Any]
    #: (rule, score after it) for the profile rules that moved every program's score
    score_trail: tuple[tuple[CompiledRule, float], ...]
    #: every program's starting score: the scoring base plus the profile-stage deltas
    base: float
    #: the applicant with derived values and profile tags: the program stage's facts
    scope: Scope


def run_profile_stage(plan: Plan, eng: Any, compiled: Any, prof: Profile, year: int, budget: Budget) -> ProfileOutcome:
    fired = eng.run_profile(compiled, Scope(applicant=prof, as_of_year=year), budget)
    rules = tuple(plan.profile.rules[i] for i in sorted(fired))
    tags = frozenset(t for cr in rules for t in cr.rule.then.tags)
    derived: dict[str, Any] = {}
    for cr in sorted(rules, key=lambda c: (c.rule.salience, c.rule.id)):  # highest salience wins: applied last
        for name, value in cr.rule.then.sets:
            derived[name] = value
    base = plan.ruleset.scoring.base
    trail: list[tuple[CompiledRule, float]] = []
    for cr in rules:
        if cr.rule.then.score is not None:
            base = base + float(cr.rule.then.score)
            trail.append((cr, base))
    scope = Scope(applicant=prof, derived=derived, tags=tags, as_of_year=year)
    return ProfileOutcome(rules, tags, derived, tuple(trail), base, scope)


@attrs.frozen(eq=False)
class Ranking:
    score: npt.NDArray[np.float64]
    priority: npt.NDArray[np.float64]
    excluded: BoolArray
    score_list: list[float]
    tiers: list[str | None]


def rank_programs(plan: Plan, fired: Sequence[BoolArray], n: int, base: float) -> Ranking:
    """Scores, priorities, exclusions and tiers from the fired program rules.

    Effects are applied in one canonical order (higher salience first, then id), so float sums
    and the winning tier override do not depend on the order rules fired in.
    """
    scoring = plan.ruleset.scoring
    score = np.full(n, base, dtype=np.float64)
    priority = np.zeros(n, dtype=np.float64)
    excluded = np.zeros(n, dtype=np.bool_)
    forced_tier: list[str | None] = [None] * n
    for cr in plan.program.rules:
        mask = fired[cr.index]
        if not mask.any():
            continue
        eff = cr.rule.then
        if eff.score is not None:
            score = score + np.where(mask, float(eff.score), 0.0)
        if eff.priority is not None:
            priority = priority + np.where(mask, float(eff.priority), 0.0)
        if eff.exclude is not None:
            excluded |= mask
        for name, value in eff.sets:
            if name == "tier":
                for i in np.flatnonzero(mask).tolist():
                    if forced_tier[i] is None:  # first in canonical order = highest salience
                        forced_tier[i] = str(value)
    score = score + 0.0  # folds -0.0 into 0.0, as the audit trail's sums do
    score_list = score.tolist()
    tiers = [None if excluded[i] else (forced_tier[i] or scoring.tier(score_list[i])) for i in range(n)]
    return Ranking(score, priority, excluded, score_list, tiers)


def coerce_catalog(catalog: Any, limits: Limits) -> Catalog:
    """A Catalog from a Catalog, a list of programs or program dicts, or ``{"programs": [...]}``."""
    if isinstance(catalog, Catalog):
        cat = catalog
    elif isinstance(catalog, Mapping):
        cat = catalog_from_data(catalog, limits=limits)
    else:
        items: list[Any] = list(catalog)
        cat = Catalog.of(items) if all(isinstance(p, Program) for p in items) else catalog_from_data(items, limits=limits)
    if len(cat) > limits.max_programs:
        raise InputError(
            Diagnostic(
                "limit_exceeded",
                f"{len(cat)} programs, more than the limit of {limits.max_programs}",
                Location(cat.source),
                help=limit_help("max_programs"),
            )
        )
    return cat
