"""``evaluate(profile, catalog)``: the stages, run in order, and the result assembled.

profile stage -> program stage -> assessment -> list stage. The engine decides which rules
fire; this module turns fired rules into exclusions, chances of an interview, tiers,
priorities, the recommended list and the audit trail. It does so in one canonical order (stage, then higher salience first, then rule
id), which is why the outcome and the audit do not depend on catalog order or firing order.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.converter import unstructure
from ..domain.inputs import profile_from_data
from ..domain.models import CALIFORNIA_REGIONS, Catalog, Profile, Program, Region
from ..engines import Budget, compile_ruleset, get_engine
from ..errors import Diagnostic, EvaluationError, InputError, Location
from ..language.facts import ListFacts, ListItem
from ..language.interp import Scope, evaluate_expr, metered
from ..language.ir import TIERS, RuleSet
from ..language.vector import ListColumns, VBool, VNum, VObj, VStr
from ..limits import DEFAULT_LIMITS, Limits
from ..plan import Plan, plan_ruleset
from ..results.recommendation import (
    AdviceItem,
    AuditEntry,
    BreadthResult,
    Exclusion,
    LazyResults,
    ProgramResult,
    Provenance,
    Recommendation,
    RuleSetStamp,
    Shortfall,
    WhyNot,
)
from ..version import __version__ as _version
from .audit import EntryMaker, catalog_sha256, json_value, sha256_of, why_not_entry
from .levers import pool_wideners
from .list_stage import LazyItems, choose_list, group_masks, list_settings, priority_order
from .stages import (
    ProfileOutcome,
    as_of_year,
    assess_programs,
    chance_of,
    coerce_catalog,
    logit,
    program_tag_masks,
    run_profile_stage,
)

__all__ = ["evaluate"]

BoolArray = npt.NDArray[np.bool_]


def evaluate(
    profile: Profile | Mapping[str, Any],
    catalog: Catalog | Sequence[Program] | Sequence[Mapping[str, Any]] | Mapping[str, Any],
    rules: RuleSet | None = None,
    *,
    engine: str = "native",
    as_of: int | _dt.date | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Recommendation:
    """Evaluate one applicant against a catalog with a rule set.

    ``profile`` and ``catalog`` may be models or plain data (a dict from JSON, a list of
    program dicts); plain data is structured strictly, and errors name the field path.
    ``rules`` defaults to the rule sets shipped with the package. ``as_of`` fixes the year
    ``years_since()`` counts from (default: this year) and is recorded for replay.
    """

    prof = profile_from_data(profile, limits=limits) if not isinstance(profile, Profile) else profile
    cat = coerce_catalog(catalog, limits)
    ruleset = rules if rules is not None else _default_rules()
    year = as_of_year(as_of)
    plan = plan_ruleset(ruleset, limits)
    eng = get_engine(engine)
    compiled = compile_ruleset(ruleset, engine, limits)
    try:
        with metered(limits.max_work):
            return _run(prof, cat, plan, eng, compiled, engine, year, limits)
    except (EvaluationError, InputError):
        raise
    except RecursionError:
        raise EvaluationError(Diagnostic("evaluation_error", "an expression nested too deeply to evaluate", Location())) from None


_DEFAULT: dict[str, RuleSet] = {}


def _default_rules() -> RuleSet:
    rs = _DEFAULT.get("shipped")
    if rs is None:
        from ..ruleset.load import load_rules

        rs = load_rules()
        _DEFAULT["shipped"] = rs
    return rs


def _profile_prefix(prof_out: ProfileOutcome, plan: Plan, make_entry: EntryMaker) -> tuple[AuditEntry, ...]:
    """The profile-stage entries that move every program's chance, with the chance after each."""
    model = plan.ruleset.chance
    factors = dict((cr.index, f) for cr, f in prof_out.odds)
    caps = dict((cr.index, c) for cr, c in prof_out.caps)
    running = logit(model.base)
    cap = 1.0
    out: list[AuditEntry] = []
    for cr in prof_out.rules:
        f = factors.get(cr.index)
        c = caps.get(cr.index)
        if f is None and c is None and cr.rule.then.tier_at_most is None:
            continue
        if f is not None:
            running = running + float(np.log(np.array([f]))[0])
        if c is not None:
            cap = min(cap, c)
        after = min(float(chance_of(np.array([running]), model)[0]), cap)
        out.append(make_entry(cr, prof_out.scope, after, f, c))
    return tuple(out)


def _list_facts(
    cat: Catalog,
    chance: npt.NDArray[np.float64],
    excluded: BoolArray,
    tiers: list[str | None],
    items: Sequence[ListItem],
    columns: ListColumns | None,
    ranked: Sequence[int],
) -> ListFacts:
    eligible = ~excluded
    regions = [p.region for p in cat.programs]
    el = eligible.tolist()
    counts = {t: 0 for t in TIERS}
    for i, t in enumerate(tiers):
        if el[i] and t is not None:
            counts[t] += 1
    # summed in list order (priority, chance, id), so the float does not depend on catalog order
    chances = chance.tolist()
    pool = 0.0
    for i in ranked:
        pool = pool + chances[i]
    return ListFacts(
        programs=items,
        size=int(eligible.sum()),
        excluded_count=int(excluded.sum()),
        likely_count=counts["likely"],
        target_count=counts["target"],
        reach_count=counts["reach"],
        la_county_count=sum(1 for i, r in enumerate(regions) if el[i] and r == Region.la_county),
        california_count=sum(1 for i, r in enumerate(regions) if el[i] and r in CALIFORNIA_REGIONS),
        out_of_state_count=sum(1 for i, r in enumerate(regions) if el[i] and r == Region.out_of_state),
        eligible_interviews=pool,
        columns=columns,
    )


def _run(
    prof: Profile, cat: Catalog, plan: Plan, eng: Any, compiled: Any, engine: str, year: int, limits: Limits
) -> Recommendation:
    budget = Budget(limits.max_firings)
    model = plan.ruleset.chance

    # -- profile stage, program stage, assessment -------------------------------------------
    prof_out = run_profile_stage(plan, eng, compiled, prof, year, budget)
    p_rules = list(prof_out.rules)
    profile_tags = prof_out.tags
    derived = prof_out.derived
    profile_scope = prof_out.scope
    make_entry = EntryMaker(limits)
    profile_factors = {cr.index: f for cr, f in prof_out.odds}
    profile_caps = {cr.index: c for cr, c in prof_out.caps}
    profile_entries = tuple(
        make_entry(cr, profile_scope, None, profile_factors.get(cr.index), profile_caps.get(cr.index)) for cr in p_rules
    )
    n = len(cat)
    fired = eng.run_program(compiled, profile_scope, cat, budget)
    prog_rules = plan.program.rules
    assessed = assess_programs(plan, fired, cat, prof_out)
    excluded, priority, tiers = assessed.excluded, assessed.priority, assessed.tiers
    chance = assessed.chance
    chance_list = chance.tolist()
    excluded_list = excluded.tolist()
    ids = [p.id for p in cat.programs]
    ranked = priority_order(cat, priority, chance, ~excluded)
    order = ranked + sorted((i for i in range(n) if excluded_list[i]), key=ids.__getitem__)
    tag_masks = program_tag_masks(plan, fired, n)

    def tags_of(i: int) -> tuple[str, ...]:
        return tuple(sorted(profile_tags | {t for t, m in tag_masks.items() if m[i]}))

    # -- list stage ----------------------------------------------------------------------
    items: Sequence[ListItem] = ()
    columns: ListColumns | None = None
    if plan.list_reads_programs:
        items = LazyItems(
            lambda: tuple(
                ListItem(cat.programs[i], chance_list[i], tiers[i], excluded_list[i], float(priority[i]), tags_of(i))
                for i in order
            )
        )
        tier_cats = ("likely", "reach", "target")
        columns = ListColumns(
            cat,
            {
                "chance": lambda: VNum(chance + 0.0, np.ones(n, dtype=np.bool_)),
                "priority": lambda: VNum(priority, np.ones(n, dtype=np.bool_)),
                "excluded": lambda: VBool(excluded.copy(), ~excluded),
                "tier": lambda: VStr(
                    np.array([-1 if t is None else tier_cats.index(t) for t in tiers], dtype=np.int32), tier_cats
                ),
                "tags": lambda: VObj([tags_of(i) for i in range(n)]),
            },
            order,
        )
    facts = _list_facts(cat, chance, excluded, tiers, items, columns, ranked)
    decide_scope = attrs.evolve(profile_scope, list=facts)
    decided = [plan.list.rules[i] for i in sorted(eng.run_list(compiled, decide_scope, budget))]
    settings = list_settings([cr for cr in decided if not cr.reviews], decide_scope, facts.size)
    groups = group_masks(plan, cat, profile_scope)
    choice = choose_list(ranked, chance_list, groups, settings)
    chosen_set = set(choice.chosen)
    regions = [p.region for p in cat.programs]
    reviewed = attrs.evolve(
        facts,
        chosen_count=len(choice.chosen),
        expected_interviews=choice.expected_interviews,
        chosen_la_county_count=sum(1 for i in choice.chosen if regions[i] == Region.la_county),
        chosen_california_count=sum(1 for i in choice.chosen if regions[i] in CALIFORNIA_REGIONS),
        chosen_out_of_state_count=sum(1 for i in choice.chosen if regions[i] == Region.out_of_state),
        breadth_min=settings.lo,
        breadth_max=settings.hi,
        interview_target=settings.interview_target,
    )
    list_scope = attrs.evolve(profile_scope, list=reviewed)
    l_rules = [plan.list.rules[i] for i in sorted(eng.run_list(compiled, list_scope, budget))]
    list_entries = tuple(make_entry(cr, list_scope) for cr in l_rules)
    shortfall = None
    if len(choice.chosen) < settings.lo:
        shortfall = Shortfall(
            wanted=settings.lo,
            chosen=len(choice.chosen),
            eligible=facts.size,
            held_back=dict(sorted(choice.held_back.items())),
            wideners=pool_wideners(plan, eng, compiled, prof, profile_scope, cat, year, limits, facts.size),
        )
    breadth = BreadthResult(
        min=settings.lo,
        max=settings.hi,
        chosen=tuple(ids[i] for i in choice.chosen),
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
            values = {k: json_value(evaluate_expr(e, scope)) for k, e, _p in cr.reads}
            advice.append(AdviceItem(cr.rule.id, cr.rule.stage, cr.rule.then.advice.render(values, limits.max_message_length)))

    # -- per-program results, built on demand -----------------------------------------
    fired_by_program: list[list[int]] | None = None

    def program_rules(i: int) -> list[int]:
        nonlocal fired_by_program
        table = fired_by_program
        if table is None:
            # built whole, then published: a reader on another thread never sees it half-filled
            table = [[] for _ in range(n)]
            for cr in prog_rules:
                for j in np.flatnonzero(fired[cr.index]).tolist():
                    table[j].append(cr.index)
            fired_by_program = table
        return table[i]

    def scope_for(i: int) -> Scope:
        return Scope(applicant=prof, program=cat.programs[i], derived=derived, tags=frozenset(tags_of(i)), as_of_year=year)

    # the profile-stage entries that move chances open every program's audit; they are values, so share them
    profile_prefix = _profile_prefix(prof_out, plan, make_entry)
    group_lists = {g: m.tolist() for g, m in groups.items()}

    def build(i: int) -> ProgramResult:
        sc = scope_for(i)
        entries: list[AuditEntry] = list(profile_prefix)
        running = prof_out.log_odds
        cap = min((c for _cr, c in prof_out.caps), default=1.0)
        exclusions: list[Exclusion] = []
        prog_advice: list[AdviceItem] = []
        for k in program_rules(i):
            cr = prog_rules[k]
            eff = cr.rule.then
            factor = cap_value = after = None
            log_factors = assessed.rule_log_odds.get(k)
            if log_factors is not None:
                running = running + float(log_factors[i])
                factor = float(assessed.rule_odds[k][i])
            caps = assessed.rule_caps.get(k)
            if caps is not None:
                cap_value = float(caps[i])
                cap = min(cap, cap_value)
            if factor is not None or cap_value is not None or eff.tier_at_most is not None:
                after = min(float(chance_of(np.array([running]), model)[0]), cap)
            entry = make_entry(cr, sc, after, factor, cap_value)
            entries.append(entry)
            if eff.exclude is not None:
                exclusions.append(Exclusion(cr.rule.id, eff.exclude.render(entry.values, limits.max_message_length)))
            if eff.advice is not None:
                prog_advice.append(AdviceItem(cr.rule.id, "program", eff.advice.render(entry.values, limits.max_message_length)))
        return ProgramResult(
            program=cat.programs[i],
            chance=None if excluded_list[i] else chance_list[i],
            tier=tiers[i],
            excluded=exclusions[0] if exclusions else None,
            tags=tags_of(i),
            priority=float(priority[i]),
            audit=tuple(entries),
            exclusions=tuple(exclusions),
            advice=tuple(prog_advice),
            chosen=i in chosen_set,
            left_off=choice.left_off.get(i),
            groups=tuple(g for g, m in group_lists.items() if m[i]),
        )

    index_of = {pid: i for i, pid in enumerate(ids)}

    def why_not(program_id: str) -> list[WhyNot]:
        i = index_of.get(program_id)
        if i is None:
            raise KeyError(program_id)
        fired_here = set(program_rules(i))
        sc = scope_for(i)
        return [why_not_entry(cr, sc, plan.estimates) for cr in prog_rules if cr.index not in fired_here]

    provenance = Provenance(
        library_version=_version,
        engine=engine,
        as_of_year=year,
        rulesets=tuple(RuleSetStamp(r.name, r.version, r.sha256) for r in plan.ruleset.rulesets),
        catalog_sha256=catalog_sha256(cat),
        catalog_size=n,
        profile_sha256=sha256_of(unstructure(prof)),
        catalog_synthetic=cat.synthetic,
    )
    return Recommendation(
        programs=LazyResults(order, build, max_entries=limits.max_audit_entries, ids=[ids[i] for i in order]),
        profile_audit=profile_entries,
        list_audit=list_entries,
        advice=tuple(advice),
        breadth=breadth,
        provenance=provenance,
        profile_tags=tuple(sorted(profile_tags)),
        derived={k: derived[k] for k in sorted(derived)},
        _why_not=why_not,
        _list_scope=list_scope,
        _max_json_bytes=limits.max_result_bytes,
    )
