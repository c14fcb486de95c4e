"""The profile stage and the assessment of every program: eligibility, chance, tier, priority.

The chance model: every program starts at ``[chance] base``, the chance of an interview for an
applicant who meets its bar exactly. Rules multiply the odds (``odds``), bound the chance
(``chance_cap``) and bound the tier (``tier_at_most``). Odds multiply, so they add in log space;
the sums run in one canonical order (the stage's audit order), which is why the floats do not
depend on the order rules fired in, and the audit trail reads each rule's factor from the same
arrays the assessment used.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..domain.inputs import catalog_from_data
from ..domain.models import Catalog, Profile, Program
from ..engines import Budget
from ..errors import Diagnostic, EvaluationError, InputError, Location
from ..language.expr import Expr, Literal
from ..language.interp import ScalarCompiler, Scope
from ..language.ir import TIERS, ChanceModel
from ..language.vector import Const, ProgramColumns, ProgramContext
from ..limits import Limits, limit_help
from ..plan import CompiledRule, Plan
from ..records import frozen

__all__ = [
    "Assessment",
    "ProfileOutcome",
    "as_of_year",
    "assess_programs",
    "chance_of",
    "coerce_catalog",
    "logit",
    "program_tag_masks",
    "run_profile_stage",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: tier -> rank, lowest first; a tier ceiling keeps the lower of the two
TIER_RANK = {t: i for i, t in enumerate(TIERS)}


def as_of_year(as_of: int | _dt.date | None) -> int:
    if as_of is None:
        return _dt.date.today().year
    if isinstance(as_of, _dt.date):
        as_of = as_of.year  # a date is checked like a year: date(1, 1, 1) is no evaluation year
    if isinstance(as_of, bool) or not isinstance(as_of, int) or not 1940 <= as_of <= 2100:
        raise InputError(Diagnostic("input_error", f"as_of must be a year between 1940 and 2100, got {as_of!r}", Location()))
    return as_of


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def chance_of(log_odds: FloatArray, model: ChanceModel) -> FloatArray:
    """The chance for each log-odds, kept within the model's floor and ceiling."""
    # np.clip, as ufuncs on one buffer: the same operations (clip is max then min), without
    # clip's Python wrapper and five temporaries; called once per evaluation and per audit read
    p = np.maximum(log_odds, -700.0)
    np.minimum(p, 700.0, out=p)
    np.negative(p, out=p)
    with np.errstate(over="ignore"):
        np.exp(p, out=p)
    p += 1.0
    np.divide(1.0, p, out=p)
    np.maximum(p, model.floor, out=p)
    np.minimum(p, model.ceiling, out=p)
    return p


@frozen(eq=False)
class ProfileOutcome:
    """What the profile stage decided, which every later stage reads."""

    #: fired profile rules, in audit order
    rules: tuple[CompiledRule, ...]
    tags: frozenset[str]
    derived: dict[str, Any]
    #: every program's starting log-odds: the base chance moved by the profile-stage odds
    log_odds: float
    #: (rule, its odds factor) for the profile rules that move every program's odds, audit order
    odds: tuple[tuple[CompiledRule, float], ...]
    #: (rule, its chance ceiling) for profile rules that bound every program's chance
    caps: tuple[tuple[CompiledRule, float], ...]
    #: the lowest tier ceiling a profile rule set, or None
    tier_cap: str | None
    #: the applicant with derived values and profile tags: the program stage's facts
    scope: Scope


def _effect_number(cr: CompiledRule, e: Expr, scope: Scope, what: str, compiler: ScalarCompiler) -> float:
    v = compiler(e)(scope)
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        raise EvaluationError(
            Diagnostic(
                "evaluation_error",
                f"`{what}` has no value (it read something not set); guard the rule with known(...)",
                cr.rule.loc,
                cr.rule.id,
            )
        )
    return float(v)


def _check_factor(cr: CompiledRule, value: float, what: str, where: str = "") -> None:
    if what == "odds" and not (math.isfinite(value) and value > 0):
        raise EvaluationError(
            Diagnostic("evaluation_error", f"`odds` must be a positive number{where}, got {value!r}", cr.rule.loc, cr.rule.id)
        )
    if what == "chance_cap" and not (0 < value <= 1):
        raise EvaluationError(
            Diagnostic("evaluation_error", f"`chance_cap` must be between 0 and 1{where}, got {value!r}", cr.rule.loc, cr.rule.id)
        )


def run_profile_stage(plan: Plan, eng: Any, compiled: Any, prof: Profile, year: int, budget: Budget) -> ProfileOutcome:
    fired = eng.run_profile(compiled, Scope(applicant=prof, as_of_year=year), budget)
    rules = tuple(plan.profile.rules[i] for i in sorted(fired))
    tags = frozenset(t for cr in rules for t in cr.rule.then.tags)
    derived: dict[str, Any] = {}
    for cr in sorted(rules, key=lambda c: (c.rule.salience, c.rule.id)):  # highest salience wins: applied last
        for name, value in cr.rule.then.sets:
            derived[name] = value
    scope = Scope(applicant=prof, derived=derived, tags=tags, as_of_year=year)
    model = plan.ruleset.chance
    log_odds = logit(model.base)
    odds: list[tuple[CompiledRule, float]] = []
    caps: list[tuple[CompiledRule, float]] = []
    tier_cap: str | None = None
    for cr in rules:
        if cr.odds is not None:
            factor = _effect_number(cr, cr.odds, scope, "odds", plan.scalar)
            _check_factor(cr, factor, "odds")
            log_odds = log_odds + float(np.log(np.array([factor]))[0])
            odds.append((cr, factor))
        if cr.chance_cap is not None:
            cap = _effect_number(cr, cr.chance_cap, scope, "chance_cap", plan.scalar)
            _check_factor(cr, cap, "chance_cap")
            caps.append((cr, cap))
        t = cr.rule.then.tier_at_most
        if t is not None and (tier_cap is None or TIER_RANK[t] < TIER_RANK[tier_cap]):
            tier_cap = t
    return ProfileOutcome(rules, tags, derived, log_odds, tuple(odds), tuple(caps), tier_cap, scope)


@frozen(eq=False)
class Assessment:
    """Every program's eligibility, chance, tier and priority, as arrays over the catalog."""

    excluded: BoolArray
    #: log-odds of an interview before ceilings (profile and program odds applied)
    log_odds: FloatArray
    #: the lowest chance ceiling that applies (1.0 where none)
    cap: FloatArray
    #: estimated chance of an interview (0 where excluded)
    chance: FloatArray
    priority: FloatArray
    #: per program, its tier as an index into ``TIERS`` (-1 where excluded)
    tier_codes: npt.NDArray[np.int8]
    #: per program-stage rule index that fired somewhere: its odds factor, the log of it (the
    #: very value the log-odds sum added) and its chance ceiling. A float when the factor is the
    #: same for every program, else an array over the catalog (1, 0 and 1 where it did not fire)
    rule_odds: dict[int, float | FloatArray]
    rule_log_odds: dict[int, float | FloatArray]
    rule_caps: dict[int, float | FloatArray]

    @property
    def tiers(self) -> list[str | None]:
        """Each program's tier (None where excluded)."""
        return [None if c < 0 else TIERS[c] for c in self.tier_codes.tolist()]

    @property
    def chance_list(self) -> list[float | None]:
        ex = self.excluded.tolist()
        return [None if ex[i] else c for i, c in enumerate(self.chance.tolist())]


def _effect_values(
    cr: CompiledRule, e: Expr, what: str, mask: BoolArray, ctx: ProgramContext, plan: Plan, catalog: Catalog
) -> float | FloatArray:
    """The value of an effect expression where the rule fired: one float when it reads nothing
    of the program, else an array over the catalog (1 where the rule did not fire)."""
    # a number written in the rule (odds = 2) needs no closure, only the checks below
    value = Const(e.value) if isinstance(e, Literal) else plan.vector()(e, cr.program_nodes)(ctx)
    if isinstance(value, Const):
        v = value.value
        if v is None:
            _missing(cr, what, catalog.programs[int(np.argmax(mask))].id)
        x = float(v)  # as a column of it would be
        if (what == "odds" and not (math.isfinite(x) and x > 0)) or (what == "chance_cap" and not (0 < x <= 1)):
            _check_factor(cr, x, what, f" (program `{catalog.programs[int(np.argmax(mask))].id}`)")
        return x
    num = ctx.as_num(value)
    missing = mask & ~num.k
    if missing.any():
        _missing(cr, what, catalog.programs[int(np.flatnonzero(missing)[0])].id)
    v = num.v
    bad = mask & ((v <= 0) | ~np.isfinite(v) if what == "odds" else (v <= 0) | (v > 1) | ~np.isfinite(v))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _check_factor(cr, float(v[i]), what, f" (program `{catalog.programs[i].id}`)")
    return np.where(mask, v, 1.0)


def _missing(cr: CompiledRule, what: str, program_id: str) -> None:
    raise EvaluationError(
        Diagnostic(
            "evaluation_error",
            f"`{what}` has no value for program `{program_id}` (it read something not set); guard the rule with known(...)",
            cr.rule.loc,
            cr.rule.id,
        )
    )


def program_tag_masks(plan: Plan, fired: Sequence[BoolArray] | BoolArray, n: int) -> dict[str, BoolArray]:
    """Where each program-stage tag was set."""
    setters: dict[str, tuple[int, ...]] | None = plan.cache.get("tag-setters")
    if setters is None:
        by_tag: dict[str, list[int]] = {}
        for cr in plan.program.rules:
            for t in cr.rule.then.tags:
                by_tag.setdefault(t, []).append(cr.index)
        setters = plan.cache.setdefault("tag-setters", {t: tuple(rows) for t, rows in by_tag.items()})
    masks: dict[str, BoolArray] = {}
    for t, rows in setters.items():
        if len(rows) == 1:
            # a read-only matrix's row is itself read-only: shared, not copied
            row = fired[rows[0]]
            masks[t] = row if not row.flags.writeable else row.copy()
        elif isinstance(fired, np.ndarray):
            masks[t] = np.logical_or.reduce(fired[list(rows)], axis=0)
        else:
            masks[t] = np.logical_or.reduce([fired[i] for i in rows], axis=0)
    return masks


@frozen
class _EffectsByKind:
    """A rule set's program rules by what their effects need (``assess_programs``)."""

    #: rules with an effect applied program by program (odds, chance ceiling, priority), in the
    #: canonical order, which the sums follow
    per_rule: tuple[CompiledRule, ...]
    #: indices of the rules that exclude
    excluding: tuple[int, ...]
    #: per tier rank, the indices of the rules that cap the tier at it
    tier_ceilings: tuple[tuple[int, tuple[int, ...]], ...]


def _effects_by_kind(plan: Plan) -> _EffectsByKind:
    split = plan.cache.get("assess:effects")
    if split is None:
        rules = plan.program.rules
        per_rule = tuple(cr for cr in rules if cr.odds is not None or cr.chance_cap is not None or cr.rule.then.priority is not None)
        excluding = tuple(cr.index for cr in rules if cr.rule.then.exclude is not None)
        ranks = sorted({TIER_RANK[t] for cr in rules if (t := cr.rule.then.tier_at_most) is not None})
        tiers = tuple((r, tuple(cr.index for cr in rules if cr.rule.then.tier_at_most is not None and TIER_RANK[cr.rule.then.tier_at_most] == r)) for r in ranks)
        split = plan.cache.setdefault("assess:effects", _EffectsByKind(per_rule, excluding, tiers))
    return split  # type: ignore[no-any-return]


def assess_programs(
    plan: Plan,
    fired: Sequence[BoolArray] | BoolArray,
    catalog: Catalog,
    prof: ProfileOutcome,
    context: ProgramContext | None = None,
) -> Assessment:
    """Chances, tiers, priorities and exclusions from the fired program rules.

    Effects are applied in one canonical order (higher salience first, then id), so float sums
    and the tier ceilings do not depend on the order rules fired in. ``context`` is the
    evaluation's ``ProgramContext`` with the final program-stage tags (one is made if absent).
    ``fired`` is one mask per program rule, or those masks as the rows of one matrix.
    """
    model = plan.ruleset.chance
    n = len(catalog)
    log_odds = np.full(n, prof.log_odds, dtype=np.float64)
    cap = np.full(n, min((c for _cr, c in prof.caps), default=1.0), dtype=np.float64)
    tier_cap = np.full(n, TIER_RANK[prof.tier_cap] if prof.tier_cap else len(TIERS) - 1, dtype=np.int8)
    priority = np.zeros(n, dtype=np.float64)
    excluded = np.zeros(n, dtype=np.bool_)
    rule_odds: dict[int, float | FloatArray] = {}
    rule_log_odds: dict[int, float | FloatArray] = {}
    rule_caps: dict[int, float | FloatArray] = {}
    logs_of: dict[float, float] = plan.cache.setdefault("log_of_factor", {})
    ctx = context
    if ctx is None:
        ctx = ProgramContext(ProgramColumns(catalog), prof.scope, program_tag_masks(plan, fired, n), scalar=plan.scalar)
    # which rules fired anywhere, in one pass over the matrix: most rules of a large set fire
    # nowhere for a given applicant, and asking each of them costs a scan of the catalog
    matrix: BoolArray = fired if isinstance(fired, np.ndarray) else (np.stack(fired) if len(fired) else np.zeros((0, n), dtype=np.bool_))
    somewhere = np.logical_or.reduce(matrix, axis=1) if n else np.zeros(len(fired), dtype=np.bool_)
    fired_somewhere: list[bool] = somewhere.tolist()
    split = _effects_by_kind(plan)
    for cr in split.per_rule:
        if not fired_somewhere[cr.index]:
            continue
        mask = fired[cr.index]
        at = mask.nonzero()[0]
        eff = cr.rule.then
        # every update below touches only the programs the rule fired for: the others stay as
        # they were, which is what adding 0 (or taking the minimum with 1) to them did
        if cr.odds is not None:
            factors = _effect_values(cr, cr.odds, "odds", mask, ctx, plan, catalog)
            rule_odds[cr.index] = factors
            if isinstance(factors, float):
                log = logs_of.get(factors)
                if log is None:
                    # numpy's log, as the array form computes it (math.log may differ in the last bit)
                    log = logs_of[factors] = float(np.log(np.array([factors]))[0])
                rule_log_odds[cr.index] = log
                log_odds[at] += log
            else:
                logs = np.where(mask, np.log(factors), 0.0)
                rule_log_odds[cr.index] = logs
                log_odds[at] += logs[at]
        if cr.chance_cap is not None:
            caps = _effect_values(cr, cr.chance_cap, "chance_cap", mask, ctx, plan, catalog)
            rule_caps[cr.index] = caps
            cap[at] = np.minimum(cap[at], caps if isinstance(caps, float) else caps[at])
        if eff.priority is not None:
            priority[at] += float(eff.priority)
    # exclusions and tier ceilings do not depend on the order they apply in (an "or", a
    # minimum): one reduction over the rows of the rules that set them, not a pass per rule
    rows = [i for i in split.excluding if fired_somewhere[i]]
    if rows:
        excluded = np.logical_or.reduce(matrix[rows], axis=0)
    for rank, of_rank in split.tier_ceilings:
        rows = [i for i in of_rank if fired_somewhere[i]]
        if rows:
            np.minimum(tier_cap, rank, out=tier_cap, where=np.logical_or.reduce(matrix[rows], axis=0))
    priority = priority + 0.0  # folds -0.0 into 0.0
    chance = np.minimum(chance_of(log_odds, model), cap)
    chance = np.where(excluded, 0.0, chance)
    band = np.where(chance >= model.likely, TIER_RANK["likely"], np.where(chance >= model.target, TIER_RANK["target"], TIER_RANK["reach"]))
    codes = np.minimum(band, tier_cap).astype(np.int8)
    np.putmask(codes, excluded, -1)  # codes[excluded] = -1, a third of the cost
    return Assessment(excluded, log_odds, cap, chance, priority, codes, rule_odds, rule_log_odds, rule_caps)


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
