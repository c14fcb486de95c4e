"""One evaluation: the stages, run in order, and the result assembled.

[`Session.evaluate`][smartpick_rules.Session.evaluate] (and so ``evaluate()``) calls ``run``
with what the session compiled once.

profile stage -> program stage -> assessment -> list stage. The engine decides which rules
fire; this module turns fired rules into exclusions, chances of an interview, tiers,
priorities, the recommended list and the audit trail. It does so in one canonical order (stage, then higher salience first, then rule
id), which is why the outcome and the audit do not depend on catalog order or firing order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.converter import unstructure
from ..domain.models import CALIFORNIA_REGIONS, Catalog, Profile, Region
from ..engines import Budget, Engine, FiredRows
from ..language.facts import ListFacts, ListItem
from ..language.ir import TIERS
from ..language.vector import ListColumns, ProgramColumns, ProgramContext, VBool, VNum, VObj, VStr
from ..limits import Limits
from ..plan import Plan
from ..results.recommendation import (
    AdviceItem,
    BreadthResult,
    LazyResults,
    Provenance,
    Recommendation,
    RuleSetStamp,
    Shortfall,
)
from ..version import __version__ as _version
from .audit import EntryMaker, catalog_sha256, json_value, sha256_of
from .levers import pool_wideners
from .list_stage import LazyItems, choose_list, group_masks, id_order, list_settings, priority_order
from .outcome import Outcome, catalog_id_array, catalog_ids
from .stages import (
    assess_programs,
    program_tag_masks,
    run_profile_stage,
)

__all__ = ["run"]

BoolArray = npt.NDArray[np.bool_]


def _region_masks(cat: Catalog) -> tuple[BoolArray, BoolArray, BoolArray]:
    """LA County, California and out-of-state programs (cached on the catalog)."""
    cache = cat.column_cache()
    masks = cache.get("region_masks")
    if masks is None:
        regions = [p.region for p in cat.programs]
        la = np.array([r == Region.la_county for r in regions], dtype=np.bool_)
        ca = np.array([r in CALIFORNIA_REGIONS for r in regions], dtype=np.bool_)
        oos = np.array([r == Region.out_of_state for r in regions], dtype=np.bool_)
        masks = cache["region_masks"] = (la, ca, oos)
    return masks  # type: ignore[return-value]


def _sum_in_order(values: npt.NDArray[np.float64]) -> float:
    """``0.0 + v0 + v1 + ...`` one addition at a time, as a loop would (chances are positive)."""
    return float(np.cumsum(values)[-1]) + 0.0 if len(values) else 0.0


def _list_facts(
    cat: Catalog,
    chance: npt.NDArray[np.float64],
    excluded: BoolArray,
    tier_codes: npt.NDArray[np.int8],
    items: Sequence[ListItem],
    columns: ListColumns | None,
    ranked: npt.NDArray[np.intp],
) -> ListFacts:
    eligible = ~excluded
    la, ca, oos = _region_masks(cat)
    counts = np.bincount(tier_codes[eligible], minlength=len(TIERS)) if eligible.any() else np.zeros(len(TIERS), dtype=np.int64)
    return ListFacts(
        programs=items,
        size=int(np.count_nonzero(eligible)),
        excluded_count=int(np.count_nonzero(excluded)),
        likely_count=int(counts[TIERS.index("likely")]),
        target_count=int(counts[TIERS.index("target")]),
        reach_count=int(counts[TIERS.index("reach")]),
        la_county_count=int(np.count_nonzero(la & eligible)),
        california_count=int(np.count_nonzero(ca & eligible)),
        out_of_state_count=int(np.count_nonzero(oos & eligible)),
        # added in the list's order, not the catalog's: the same catalog in another order gives
        # the same float to the last bit
        eligible_interviews=_sum_in_order(chance[ranked]),
        columns=columns,
    )


#: list items' tier as ListColumns codes: categories in sorted order, from TIERS' index
_TIER_CATS = ("likely", "reach", "target")
_TIER_TO_CAT = np.array([_TIER_CATS.index(t) for t in TIERS] + [-1], dtype=np.int32)


def run(
    prof: Profile, cat: Catalog, plan: Plan, eng: Engine[Any], compiled: Any, engine: str, year: int, limits: Limits
) -> Recommendation:
    """Evaluate ``prof`` against ``cat`` with ``plan``, compiled as ``compiled`` for ``eng``."""
    budget = Budget(limits.max_firings)
    scalar = plan.scalar

    # -- profile stage, program stage, assessment -------------------------------------------
    prof_out = run_profile_stage(plan, eng, compiled, prof, year, budget)
    p_rules = list(prof_out.rules)
    profile_tags = prof_out.tags
    derived = prof_out.derived
    profile_scope = prof_out.scope
    make_entry = EntryMaker(limits, scalar, plan.cache.setdefault("entries:rule-parts", {}))
    profile_factors = {cr.index: f for cr, f in prof_out.odds}
    profile_caps = {cr.index: c for cr, c in prof_out.caps}
    profile_entries = tuple(
        make_entry(cr, profile_scope, None, profile_factors.get(cr.index), profile_caps.get(cr.index)) for cr in p_rules
    )
    n = len(cat)
    columns = ProgramColumns(cat)
    context = ProgramContext(columns, profile_scope, scalar=scalar)
    fired = eng.run_program(compiled, profile_scope, cat, budget, context=context)
    fired_matrix = fired.matrix if isinstance(fired, FiredRows) else np.stack(fired) if fired else np.zeros((0, n), dtype=np.bool_)
    # what fired is settled: read-only from here on, so tag masks and the outcome share its rows
    fired_matrix.flags.writeable = False
    tag_masks = program_tag_masks(plan, fired_matrix, n)
    context.tags = tag_masks
    assessed = assess_programs(plan, fired_matrix, cat, prof_out, context)
    excluded, priority, tier_codes, chance = assessed.excluded, assessed.priority, assessed.tier_codes, assessed.chance
    ranked = priority_order(cat, priority, chance, ~excluded)
    order = np.concatenate((ranked, id_order(cat, excluded)))

    def tags_of(i: int) -> tuple[str, ...]:
        return tuple(sorted(profile_tags | {t for t, m in tag_masks.items() if m[i]}))

    # -- list stage ----------------------------------------------------------------------
    items: Sequence[ListItem] = ()
    list_columns: ListColumns | None = None
    if plan.list_reads_programs:

        def build_items() -> tuple[ListItem, ...]:
            chance_list, excluded_list, tiers = chance.tolist(), excluded.tolist(), assessed.tiers
            return tuple(
                ListItem(cat.programs[i], chance_list[i], tiers[i], excluded_list[i], float(priority[i]), tags_of(i))
                for i in order.tolist()
            )

        items = LazyItems(build_items)
        shared = plan.cache.setdefault("list_columns", {})
        list_columns = ListColumns(
            cat,
            {
                "chance": lambda: VNum(chance + 0.0, np.ones(n, dtype=np.bool_)),
                "priority": lambda: VNum(priority, np.ones(n, dtype=np.bool_)),
                "excluded": lambda: VBool(excluded.copy(), ~excluded),
                "tier": lambda: VStr(_TIER_TO_CAT[tier_codes], _TIER_CATS),
                "tags": lambda: VObj([tags_of(i) for i in range(n)]),
            },
            order,
            shared,
        )
    facts = _list_facts(cat, chance, excluded, tier_codes, items, list_columns, ranked)
    decide_scope = profile_scope.with_list(facts)
    decided = [plan.list.rules[i] for i in sorted(eng.run_list(compiled, decide_scope, budget))]
    settings = list_settings([cr for cr in decided if not cr.reviews], decide_scope, facts.size, scalar)
    groups = group_masks(plan, cat, profile_scope, columns)
    choice = choose_list(ranked, chance, groups, settings)
    chosen = choice.chosen
    la, ca, oos = _region_masks(cat)
    reviewed = attrs.evolve(
        facts,
        chosen_count=len(chosen),
        expected_interviews=choice.expected_interviews,
        chosen_la_county_count=int(np.count_nonzero(la[chosen])),
        chosen_california_count=int(np.count_nonzero(ca[chosen])),
        chosen_out_of_state_count=int(np.count_nonzero(oos[chosen])),
        breadth_min=settings.lo,
        breadth_max=settings.hi,
        interview_target=settings.interview_target,
    )
    list_scope = profile_scope.with_list(reviewed)
    l_rules = [plan.list.rules[i] for i in sorted(eng.run_list(compiled, list_scope, budget))]
    list_entries = tuple(make_entry(cr, list_scope) for cr in l_rules)
    ids = catalog_ids(cat)
    shortfall = None
    if len(chosen) < settings.lo:
        shortfall = Shortfall(
            wanted=settings.lo,
            chosen=len(chosen),
            eligible=facts.size,
            held_back=dict(sorted(choice.held_back.items())),
            wideners=pool_wideners(plan, eng, compiled, prof, profile_scope, cat, year, limits, facts.size),
        )
    breadth = BreadthResult(
        min=settings.lo,
        max=settings.hi,
        chosen=tuple(catalog_id_array(cat)[chosen].tolist()),
        rule_id=settings.breadth_rule.rule.id if settings.breadth_rule else None,
        eligible=facts.size,
        interview_target=settings.interview_target,
        expected_interviews=choice.expected_interviews,
        eligible_expected_interviews=facts.eligible_interviews,
        at_most=dict(sorted(settings.at_most.items())),
        at_least=dict(sorted(settings.at_least.items())),
        stopped=choice.stopped,
        shortfall=shortfall,
    )

    advice: list[AdviceItem] = []
    for cr, scope in [*((c, profile_scope) for c in p_rules), *((c, list_scope) for c in l_rules)]:
        if cr.rule.then.advice is not None:
            values = {k: json_value(scalar(e)(scope)) for k, e, _p in cr.reads}
            advice.append(AdviceItem(cr.rule.id, cr.rule.stage, cr.rule.then.advice.render(values, limits.max_message_length)))

    # -- per-program results, built on demand from the columns ---------------------------
    outcome = Outcome(
        plan=plan,
        catalog=cat,
        profile=prof,
        year=year,
        limits=limits,
        prof_out=prof_out,
        context=context,
        fired=fired_matrix,
        excluded=excluded,
        chance=chance,
        priority=priority,
        tier=tier_codes,
        rule_odds=assessed.rule_odds,
        rule_log_odds=assessed.rule_log_odds,
        rule_caps=assessed.rule_caps,
        order=order,
        choice=choice,
        groups=groups,
        list_scope=list_scope,
        profile_entries=profile_entries,
    )
    provenance = Provenance.deferred(
        {"catalog_sha256": lambda: catalog_sha256(cat), "profile_sha256": lambda: sha256_of(unstructure(prof))},
        library_version=_version,
        engine=engine,
        as_of_year=year,
        rulesets=tuple(RuleSetStamp(r.name, r.version, r.sha256) for r in plan.ruleset.rulesets),
        catalog_size=n,
        catalog_synthetic=cat.synthetic,
    )
    return Recommendation(
        programs=LazyResults(order, outcome.result, outcome.results, ids, max_entries=limits.max_audit_entries, locate=outcome.position),
        profile_audit=profile_entries,
        list_audit=list_entries,
        advice=tuple(advice),
        breadth=breadth,
        provenance=provenance,
        profile_tags=tuple(sorted(profile_tags)),
        derived={k: derived[k] for k in sorted(derived)},
        _outcome=outcome,
        _max_json_bytes=limits.max_result_bytes,
    )
