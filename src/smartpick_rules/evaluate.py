"""``evaluate(profile, catalog)``: the stages, run in order, and the result assembled.

profile stage -> program stage -> ranking -> list stage. The engine decides which rules fire;
this module turns fired rules into scores, tiers, exclusions, the recommended list and the
audit trail. It does so in one canonical order (stage, then higher salience first, then rule
id), which is why the outcome and the audit do not depend on catalog order or firing order.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from . import __version__ as _version
from .compile import CompiledRule, Plan, compile_ruleset, plan_ruleset
from .converter import unstructure
from .engines import Budget, get_engine
from .errors import Diagnostic, EvaluationError, InputError, Location
from .expr import to_source
from .inputs import catalog_from_data, profile_from_data
from .interp import Scope, evaluate_expr, truth
from .ir import TIERS, Rule, RuleSet
from .limits import DEFAULT_LIMITS, Limits, limit_help
from .models import CALIFORNIA_REGIONS, Catalog, Profile, Program, Region
from .result import (
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
from .schema import ListFacts, ListItem
from .vector import ListColumns, VBool, VNum, VObj, VStr

__all__ = ["evaluate"]

BoolArray = npt.NDArray[np.bool_]
_TIER_RANK = {"likely": 0, "target": 1, "reach": 2}


def _json_value(v: Any) -> Any:
    """A value read by a rule as it appears in the audit: plain JSON data, records as tables."""
    if isinstance(v, tuple | list):
        return [_json_value(x) for x in v]
    if attrs.has(type(v)):
        return unstructure(v)
    return v


class _EntryMaker:
    """Builds audit entries; what does not depend on the program is computed once per rule."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.effects: dict[str, str] = {}
        self.constant_values: dict[tuple[str, int], dict[str, Any]] = {}

    def __call__(self, cr: CompiledRule, scope: Scope, score_after: float | None) -> AuditEntry:
        rule = cr.rule
        effect = self.effects.get(rule.id)
        if effect is None:
            effect = self.effects[rule.id] = rule.then.describe()
        if scope.program is None:
            values = {k: _json_value(evaluate_expr(e, scope)) for k, e, _p in cr.reads}
        else:
            # what does not depend on the program is the same for every program: read it once
            key = (rule.id, id(scope.applicant))
            const = self.constant_values.get(key)
            if const is None:
                const = {k: _json_value(evaluate_expr(e, scope)) for k, e, per_program in cr.reads if not per_program}
                self.constant_values[key] = const
            values = {k: const[k] if k in const else _json_value(evaluate_expr(e, scope)) for k, e, _p in cr.reads}
        explanation = rule.explain.render(values, self.limits.max_message_length) if rule.explain else None
        return AuditEntry(
            rule_id=rule.id,
            ruleset=rule.ruleset,
            ruleset_version=rule.ruleset_version,
            stage=rule.stage,
            salience=rule.salience,
            effect=effect,
            explanation=explanation,
            values=values,
            score_after=score_after,
            file=rule.loc.file,
            line=rule.loc.line,
            source=rule.source,
        )


def _sha(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _catalog_sha(catalog: Catalog) -> str:
    cache = catalog.column_cache()
    sha = cache.get("sha256")
    if sha is None:
        # order-independent: the same programs in another order are the same catalog
        rows = sorted(json.dumps(unstructure(p), sort_keys=True, ensure_ascii=False) for p in catalog.programs)
        sha = hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()
        cache["sha256"] = sha
    return str(sha)


def _as_of_year(as_of: int | _dt.date | None) -> int:
    if as_of is None:
        return _dt.date.today().year
    if isinstance(as_of, _dt.date):
        return as_of.year
    if isinstance(as_of, bool) or not isinstance(as_of, int) or not 1940 <= as_of <= 2100:
        raise InputError(Diagnostic("input_error", f"as_of must be a year between 1940 and 2100, got {as_of!r}", Location()))
    return as_of


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
    year = _as_of_year(as_of)
    plan = plan_ruleset(ruleset, limits)
    eng = get_engine(engine)
    compiled = compile_ruleset(ruleset, engine, limits)
    try:
        return _run(prof, cat, plan, eng, compiled, engine, year, limits)
    except (EvaluationError, InputError):
        raise
    except RecursionError:
        raise EvaluationError(Diagnostic("evaluation_error", "an expression nested too deeply to evaluate", Location())) from None


_DEFAULT: dict[str, RuleSet] = {}


def _default_rules() -> RuleSet:
    rs = _DEFAULT.get("shipped")
    if rs is None:
        from .loader import load_rules

        rs = load_rules()
        _DEFAULT["shipped"] = rs
    return rs


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
    make_entry = _EntryMaker(limits)
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
        items = _LazyItems(
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
        lo = _bound(evaluate_expr(b.min, list_scope), breadth_rule.rule)
        hi = _bound(evaluate_expr(b.max, list_scope), breadth_rule.rule)
        lo, hi = min(lo, hi), max(lo, hi)
    else:
        lo = hi = len(eligible)
    ranked = sorted(
        eligible,
        key=lambda i: (-float(priority[i]), _TIER_RANK.get(tiers[i] or "reach", 3), -score_list[i], ids[i]),
    )
    chosen = _choose(ranked, hi, tiers, max_reach, min_oos, [r == Region.out_of_state for r in regions])
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
            values = {k: _json_value(evaluate_expr(e, scope)) for k, e, _p in cr.reads}
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
            out.append(_why_not(cr, sc))
        return out

    provenance = Provenance(
        library_version=_version,
        engine=engine,
        as_of_year=year,
        rulesets=tuple(RuleSetStamp(r.name, r.version, r.sha256) for r in plan.ruleset.rulesets),
        catalog_sha256=_catalog_sha(cat),
        catalog_size=n,
        profile_sha256=_sha(unstructure(prof)),
    )
    return Recommendation(
        programs=LazyResults(order, build),
        profile_audit=profile_entries,
        list_audit=list_entries,
        advice=tuple(advice),
        breadth=breadth,
        provenance=provenance,
        profile_tags=tuple(sorted(profile_tags)),
        derived={k: derived[k] for k in sorted(derived)},
        _why_not=why_not,
        _list_scope=list_scope,
    )


def _choose(
    ranked: list[int],
    size: int,
    tiers: list[str | None],
    max_reach: int | None,
    min_out_of_state: int | None,
    out_of_state: list[bool],
) -> list[int]:
    """The recommended list, in priority order: ``size`` programs, at most ``max_reach`` of them
    reaches, and where eligible programs allow, ``min_out_of_state`` of them in other states
    (the guide's "LA focus with a broad national strategy")."""
    chosen: list[int] = []
    taken: set[int] = set()
    reach_taken = 0

    def take(i: int) -> bool:
        nonlocal reach_taken
        if i in taken or len(chosen) >= size:
            return False
        if tiers[i] == "reach" and max_reach is not None:
            if reach_taken >= max_reach:
                return False
            reach_taken += 1
        chosen.append(i)
        taken.add(i)
        return True

    if min_out_of_state:
        quota = min(min_out_of_state, size)
        oos = [i for i in ranked if out_of_state[i]]
        # the quota's places go to the best out-of-state programs, reaches last
        for i in [*(i for i in oos if tiers[i] != "reach"), *(i for i in oos if tiers[i] == "reach")]:
            if len(chosen) >= quota:
                break
            take(i)
    for i in ranked:
        if len(chosen) >= size:
            break
        take(i)
    position = {i: k for k, i in enumerate(ranked)}
    return sorted(chosen, key=position.__getitem__)


class _LazyItems(Sequence[ListItem]):
    """``list.programs``, built only if a condition walks it item by item."""

    def __init__(self, build: Callable[[], tuple[ListItem, ...]]) -> None:
        self._build = build
        self._items: tuple[ListItem, ...] | None = None

    def _all(self) -> tuple[ListItem, ...]:
        items = self._items
        if items is None:
            items = self._items = self._build()
        return items

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, i: Any) -> Any:
        return self._all()[i]

    def __iter__(self) -> Iterator[ListItem]:
        return iter(self._all())


def _bound(value: Any, rule: Rule) -> int:
    if value is None or isinstance(value, bool):
        raise EvaluationError(
            Diagnostic("evaluation_error", "a breadth bound has no value (it read something not set)", rule.loc, rule.id)
        )
    number = float(value)
    if not math.isfinite(number) or abs(number) > 1e9:
        raise EvaluationError(
            Diagnostic("evaluation_error", f"a breadth bound is {value!r}, not a usable number of programs", rule.loc, rule.id)
        )
    return max(round(number), 0)


def _why_not(cr: CompiledRule, scope: Scope) -> WhyNot:
    for clause in cr.clauses:
        v = truth(evaluate_expr(clause, scope))
        if v is not True:
            from .expr import Path, iter_nodes

            values = {
                p.dotted: _json_value(evaluate_expr(p, scope))
                for p in iter_nodes(clause)
                if isinstance(p, Path) and p.root != "item" and (p.parts or p.root == "derived")
            }
            outcome = "unknown" if v is None else "false"
            gated = clause in cr.applicant_clauses
            return WhyNot(cr.rule.id, to_source(clause), outcome + (" (applicant)" if gated else ""), values)
    # every clause true on the final facts but the rule did not fire: cannot happen for a
    # correct engine, so say so loudly rather than hide it
    return WhyNot(cr.rule.id, "", "engine disagreement: all clauses are true", {})

