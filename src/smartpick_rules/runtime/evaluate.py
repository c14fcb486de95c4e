"""``evaluate(profile, catalog)``: the stages, run in order, and the result assembled.

profile stage -> program stage -> ranking -> list stage. The engine decides which rules fire;
this module turns fired rules into scores, tiers, exclusions, the recommended list and the
audit trail. It does so in one canonical order (stage, then higher salience first, then rule
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
    WhyNot,
)
from ..version import __version__ as _version
from .audit import EntryMaker, catalog_sha256, json_value, sha256_of, why_not_entry
from .list_stage import TIER_RANK, LazyItems, breadth_bound, choose_list
from .stages import as_of_year, coerce_catalog, rank_programs, run_profile_stage

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


def _run(
    prof: Profile, cat: Catalog, plan: Plan, eng: Any, compiled: Any, engine: str, year: int, limits: Limits
) -> Recommendation:
    budget = Budget(limits.max_firings)

    # -- profile stage, program stage, ranking ---------------------------------------------
    prof_out = run_profile_stage(plan, eng, compiled, prof, year, budget)
    p_rules = list(prof_out.rules)
    profile_tags = prof_out.tags
    derived = prof_out.derived
    profile_scope = prof_out.scope
    make_entry = EntryMaker(limits)
    profile_entries = tuple(make_entry(cr, profile_scope, None) for cr in p_rules)
    profile_score_trail = prof_out.score_trail
    base = prof_out.base
    n = len(cat)
    fired = eng.run_program(compiled, profile_scope, cat, budget)
    prog_rules = plan.program.rules
    ranking = rank_programs(plan, fired, n, base)
    score, priority, excluded = ranking.score, ranking.priority, ranking.excluded
    score_list, tiers = ranking.score_list, ranking.tiers
    ids = [p.id for p in cat.programs]
    order = sorted(range(n), key=lambda i: (bool(excluded[i]), -score_list[i], ids[i]))

    # -- list stage ----------------------------------------------------------------------
    eligible = [i for i in range(n) if not excluded[i]]
    regions = [p.region for p in cat.programs]
    counts = {t: sum(1 for i in eligible if tiers[i] == t) for t in TIERS}
    program_tag_cache: dict[int, tuple[str, ...]] = {}
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

    def tags_of(i: int) -> tuple[str, ...]:
        t = program_tag_cache.get(i)
        if t is None:
            own = {tag for k in program_rules(i) for tag in prog_rules[k].rule.then.tags}
            t = tuple(sorted(profile_tags | own))
            program_tag_cache[i] = t
        return t

    items: Sequence[ListItem] = ()
    columns: ListColumns | None = None
    if plan.list_reads_programs:
        items = LazyItems(
            lambda: tuple(
                ListItem(cat.programs[i], score_list[i], tiers[i], bool(excluded[i]), float(priority[i]), tags_of(i))
                for i in order
            )
        )
        tier_cats = ("likely", "reach", "target")
        columns = ListColumns(
            cat,
            {
                "score": lambda: VNum(score + 0.0, np.ones(n, dtype=np.bool_)),
                "priority": lambda: VNum(priority, np.ones(n, dtype=np.bool_)),
                "excluded": lambda: VBool(excluded.copy(), ~excluded),
                "tier": lambda: VStr(
                    np.array([-1 if t is None else tier_cats.index(t) for t in tiers], dtype=np.int32), tier_cats
                ),
                "tags": lambda: VObj([tags_of(i) for i in range(n)]),
            },
            order,
        )
    facts = ListFacts(
        programs=items,
        size=len(eligible),
        excluded_count=n - len(eligible),
        likely_count=counts["likely"],
        target_count=counts["target"],
        reach_count=counts["reach"],
        la_county_count=sum(1 for i in eligible if regions[i] == Region.la_county),
        california_count=sum(1 for i in eligible if regions[i] in CALIFORNIA_REGIONS),
        out_of_state_count=sum(1 for i in eligible if regions[i] == Region.out_of_state),
        columns=columns,
    )
    list_scope = attrs.evolve(profile_scope, list=facts)
    l_fired = eng.run_list(compiled, list_scope, budget)
    l_rules = [plan.list.rules[i] for i in sorted(l_fired)]
    list_entries = tuple(make_entry(cr, list_scope, None) for cr in l_rules)

    # breadth and reach cap: the highest-salience rule that set them (checked unambiguous at load)
    breadth_rule = next((cr for cr in l_rules if cr.rule.then.breadth is not None), None)
    list_sets: dict[str, int] = {}
    for cr in l_rules:  # audit order: the highest salience setter comes first and wins
        for name, value in cr.rule.then.sets:
            list_sets.setdefault(name, max(int(value), 0))
    max_reach = list_sets.get("max_reach")
    min_oos = list_sets.get("min_out_of_state")
    if breadth_rule is not None:
        b = breadth_rule.rule.then.breadth
        assert b is not None
        lo = breadth_bound(evaluate_expr(b.min, list_scope), breadth_rule.rule)
        hi = breadth_bound(evaluate_expr(b.max, list_scope), breadth_rule.rule)
        lo, hi = min(lo, hi), max(lo, hi)
    else:
        lo = hi = len(eligible)
    ranked = sorted(
        eligible,
        key=lambda i: (-float(priority[i]), TIER_RANK.get(tiers[i] or "reach", 3), -score_list[i], ids[i]),
    )
    chosen = choose_list(ranked, hi, tiers, max_reach, min_oos, [r == Region.out_of_state for r in regions])
    chosen_set = set(chosen)
    breadth = BreadthResult(
        min=lo,
        max=hi,
        chosen=tuple(ids[i] for i in chosen),
        rule_id=breadth_rule.rule.id if breadth_rule else None,
        max_reach=max_reach,
        eligible=len(eligible),
        min_out_of_state=min_oos,
    )

    advice: list[AdviceItem] = []
    for cr, scope in [*((c, profile_scope) for c in p_rules), *((c, list_scope) for c in l_rules)]:
        if cr.rule.then.advice is not None:
            values = {k: json_value(evaluate_expr(e, scope)) for k, e, _p in cr.reads}
            advice.append(AdviceItem(cr.rule.id, cr.rule.stage, cr.rule.then.advice.render(values, limits.max_message_length)))

    # -- per-program results, built on demand -----------------------------------------
    profile_prefix = profile_score_trail

    def scope_for(i: int) -> Scope:
        return Scope(applicant=prof, program=cat.programs[i], derived=derived, tags=frozenset(tags_of(i)), as_of_year=year)

    # the profile-stage score entries open every program's audit; they are values, so share them
    profile_prefix_entries = tuple(make_entry(cr, profile_scope, after) for cr, after in profile_prefix)

    def build(i: int) -> ProgramResult:
        sc = scope_for(i)
        entries: list[AuditEntry] = list(profile_prefix_entries)
        running = base
        exclusions: list[Exclusion] = []
        prog_advice: list[AdviceItem] = []
        for k in program_rules(i):
            cr = prog_rules[k]
            eff = cr.rule.then
            after: float | None = None
            if eff.score is not None:
                running = running + float(eff.score)
                after = running + 0.0
            entry = make_entry(cr, sc, after)
            entries.append(entry)
            if eff.exclude is not None:
                exclusions.append(Exclusion(cr.rule.id, eff.exclude.render(entry.values, limits.max_message_length)))
            if eff.advice is not None:
                prog_advice.append(AdviceItem(cr.rule.id, "program", eff.advice.render(entry.values, limits.max_message_length)))
        return ProgramResult(
            program=cat.programs[i],
            score=score_list[i],
            tier=tiers[i],
            excluded=exclusions[0] if exclusions else None,
            tags=tags_of(i),
            priority=float(priority[i]),
            audit=tuple(entries),
            exclusions=tuple(exclusions),
            advice=tuple(prog_advice),
            chosen=i in chosen_set,
        )

    index_of = {pid: i for i, pid in enumerate(ids)}

    def why_not(program_id: str) -> list[WhyNot]:
        i = index_of.get(program_id)
        if i is None:
            raise KeyError(program_id)
        fired_here = set(program_rules(i))
        sc = scope_for(i)
        out: list[WhyNot] = []
        for cr in prog_rules:
            if cr.index in fired_here:
                continue
            out.append(why_not_entry(cr, sc))
        return out

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
