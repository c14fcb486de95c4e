"""Declared levers: which ones a profile is offered, and how many programs the widening ones add."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..domain.changes import apply_changes, expand_change, parse_change
from ..domain.models import Catalog, Profile
from ..engines import Budget
from ..errors import SmartpickError
from ..language.interp import Scope, evaluate_expr, truth
from ..language.ir import Lever, RuleSet
from ..limits import Limits
from ..plan import Plan
from .stages import run_profile_stage

__all__ = ["lever_profile", "offered_levers", "pool_wideners"]


def offered_levers(ruleset: RuleSet, scope: Scope, kind: str | None = None) -> list[Lever]:
    """The levers whose ``when`` holds for the applicant (profile-stage facts), in declaration order."""
    return [
        lever
        for lever in ruleset.levers
        if (kind is None or lever.kind == kind) and all(truth(evaluate_expr(c, scope)) is True for c in lever.when)
    ]


def lever_profile(lever: Lever, profile: Profile, as_of: int) -> Profile:
    """``profile`` with the lever's changes applied."""
    return apply_changes(profile, [parse_change(expand_change(text, profile, as_of)) for text in lever.changes])


def pool_wideners(
    plan: Plan, eng: Any, compiled: Any, profile: Profile, scope: Scope, catalog: Catalog, year: int, limits: Limits, eligible: int
) -> tuple[tuple[str, int], ...]:
    """For each offered ``widen`` lever, how many more programs would be eligible (those adding none are left out)."""
    out: list[tuple[str, int]] = []
    # only the exclusion rules (and the rules whose tags they read) decide eligibility
    deciding = plan.cache.get("exclusion_closure")
    if deciding is None:
        deciding = plan.cache["exclusion_closure"] = plan.closure(
            frozenset(cr.index for cr in plan.program.rules if cr.rule.then.exclude is not None)
        )
    for lever in offered_levers(plan.ruleset, scope, "widen"):
        try:
            variant = lever_profile(lever, profile, year)
        except SmartpickError:
            continue  # a lever that does not apply to this profile's shape adds nothing
        budget = Budget(limits.max_firings)
        prof_out = run_profile_stage(plan, eng, compiled, variant, year, budget)
        fired = eng.run_program(compiled, prof_out.scope, catalog, budget, only=deciding)
        excluded = np.zeros(len(catalog), dtype=np.bool_)
        for cr in plan.program.rules:
            if cr.rule.then.exclude is not None:
                excluded |= fired[cr.index]
        gained = int((~excluded).sum()) - eligible
        if gained > 0:
            out.append((lever.title, gained))
    return tuple(out)
