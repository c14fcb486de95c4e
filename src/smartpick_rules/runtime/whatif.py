"""What-if: re-evaluate a profile with changes and show what moves; levers: which change moves most.

``whatif`` answers "what happens to my list if I score 240 on Step 2 CK?"; ``levers`` tries
the parts of a profile an applicant can still change (Step 2 CK if not yet taken, months of
hands-on experience in Los Angeles, a US letter, a language, a research output, ...) and
ranks them by how many programs they move: the guide's "single most important thing I can do".

Both compare *outcomes* (chance of an interview, tier, exclusion, and which rules fired for each
program), which a [`Session`][smartpick_rules.Session] computes with the engine directly: one vectorised pass over the catalog
per variant, with no per-program audit trail built. Rule sets are loaded and compiled once and
the catalog's column cache is reused, so a dozen variants cost about as much as a dozen
evaluations' decisions (milliseconds each on the shipped catalog).

Changes are written as ``FIELD=VALUE`` (set) or ``FIELD+=VALUE`` (append to a list, or add to
a number), where FIELD is a dotted path into the profile (``step2_ck.score``,
``preferences.long_term_la_plan``, ``letters.0.addresses_scores``) and VALUE a TOML literal
(``240``, ``true``, ``"spanish"``, ``{ kind = "hands_on", months = 3 }``); a bare word that is not
valid TOML is taken as a string (``visa=h1b``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..domain.changes import Change, apply_changes, expand_change, parse_change
from ..domain.models import Catalog, Profile, Program
from ..engines import Budget, compile_ruleset, get_engine
from ..language.ir import RuleSet, format_value
from ..limits import DEFAULT_LIMITS
from ..plan import Plan, plan_ruleset
from ..records import frozen
from ..results.recommendation import Recommendation
from ..ruleset.load import load_rules
from .levers import offered_levers
from .stages import run_profile_stage

__all__ = [
    "Change",
    "Evaluates",
    "Lever",
    "LeverResult",
    "Outcomes",
    "ProgramChange",
    "WhatIfResult",
    "apply_changes",
    "candidate_levers",
    "compare",
    "levers",
    "parse_change",
    "whatif",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: tier order, worst to best; ``None`` (excluded) is below all of them
TIER_RANK: dict[str | None, int] = {None: 0, "reach": 1, "target": 2, "likely": 3}

#: languages that serve Los Angeles' patients, in the order the guide lists them
LA_LANGUAGES = ("Spanish", "Korean", "Mandarin", "Tagalog", "Armenian", "Farsi", "Vietnamese", "Cantonese", "Russian")


# --- outcomes --------------------------------------------------------------------------------


@frozen(eq=False)
class Outcomes:
    """What an evaluation decided for every program, without the audit trail."""

    plan: Plan
    chance: FloatArray
    excluded: BoolArray
    #: tier per program (None where excluded)
    tiers: tuple[str | None, ...]
    #: per program-stage rule (plan.program.rules order): the programs it fired for
    fired: tuple[BoolArray, ...]
    #: ids of the profile-stage rules that fired
    profile_fired: frozenset[str]

    def excluded_by(self, i: int) -> str | None:
        """The deciding exclusion (highest salience, then id), as the audit trail shows it."""
        if not self.excluded[i]:
            return None
        for cr in self.plan.program.rules:
            if cr.rule.then.exclude is not None and self.fired[cr.index][i]:
                return cr.rule.id
        return None


class Evaluates(Protocol):
    """What ``whatif`` and ``levers`` need: a [`Session`][smartpick_rules.Session] is one."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def rules(self) -> RuleSet: ...

    @property
    def as_of(self) -> int: ...

    def evaluate(self, profile: Profile) -> Recommendation: ...

    def outcomes(self, profile: Profile) -> Outcomes: ...


# --- comparing -------------------------------------------------------------------------------


@frozen
class ProgramChange:
    """One program whose outcome changed."""

    program: Program
    kind: str  # "unexcluded" | "tier_up" | "tier_down" | "newly_excluded" | "chance_up" | "chance_down"
    before_tier: str | None
    after_tier: str | None
    before_chance: float
    after_chance: float
    before_excluded_by: str | None
    after_excluded_by: str | None
    #: program-stage rules that fire for this program only after the change
    rules_added: tuple[str, ...]
    #: program-stage rules that fired for this program only before the change
    rules_removed: tuple[str, ...]

    @property
    def improved(self) -> bool:
        return self.kind in ("unexcluded", "tier_up")

    @property
    def worsened(self) -> bool:
        return self.kind in ("newly_excluded", "tier_down")

    def to_dict(self) -> dict[str, Any]:
        return {
            "program_id": self.program.id,
            "name": self.program.name,
            "region": self.program.region.value,
            "state": self.program.state,
            "kind": self.kind,
            "before": {"tier": self.before_tier, "chance": self.before_chance, "excluded_by": self.before_excluded_by},
            "after": {"tier": self.after_tier, "chance": self.after_chance, "excluded_by": self.after_excluded_by},
            "rules_added": list(self.rules_added),
            "rules_removed": list(self.rules_removed),
        }


_KIND_ORDER = {"unexcluded": 0, "tier_up": 1, "tier_down": 2, "newly_excluded": 3, "chance_up": 4, "chance_down": 5}
_MOVES = frozenset({"unexcluded", "tier_up", "tier_down", "newly_excluded"})


@frozen
class Comparison:
    """How two outcomes differ."""

    changes: tuple[ProgramChange, ...]
    profile_rules_added: tuple[str, ...]
    profile_rules_removed: tuple[str, ...]

    @property
    def improved(self) -> int:
        return sum(1 for c in self.changes if c.improved)

    @property
    def worsened(self) -> int:
        return sum(1 for c in self.changes if c.worsened)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def moved(self) -> list[ProgramChange]:
        """Programs that changed tier or exclusion (not mere changes of chance within a tier)."""
        return [c for c in self.changes if c.kind in _MOVES]

    @property
    def chance_gain(self) -> float:
        """The sum of chance changes over programs eligible both before and after: more expected interviews."""
        return sum(c.after_chance - c.before_chance for c in self.changes if c.kind in ("tier_up", "tier_down", "chance_up", "chance_down"))

    def responsible(self, moved_only: bool = False) -> list[tuple[str, int]]:
        """Rules whose firing changed for the programs that changed, with how many programs each."""
        counter: Counter[str] = Counter()
        for c in self.moved() if moved_only else self.changes:
            counter.update(c.rules_added)
            counter.update(c.rules_removed)
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def compare(before: Outcomes, after: Outcomes, catalog: Catalog, *, include_chance_changes: bool = False) -> Comparison:
    """Programs whose tier or exclusion changed between ``before`` and ``after``."""
    plan = before.plan
    n = len(catalog)
    diff_rules: list[tuple[str, BoolArray, BoolArray]] = []
    changed_any = np.zeros(n, dtype=np.bool_)
    for cr in plan.program.rules:
        b, a = before.fired[cr.index], after.fired[cr.index]
        d = b != a
        if d.any():
            diff_rules.append((cr.rule.id, b, a))
            changed_any |= d
    tier_changed = np.fromiter(
        (before.tiers[i] != after.tiers[i] for i in range(n)), dtype=np.bool_, count=n
    )
    candidates = tier_changed | (before.excluded != after.excluded)
    if include_chance_changes:
        candidates |= (before.chance != after.chance) & ~before.excluded & ~after.excluded
    changes: list[ProgramChange] = []
    for i in np.flatnonzero(candidates).tolist():
        bt, at = before.tiers[i], after.tiers[i]
        bx, ax = bool(before.excluded[i]), bool(after.excluded[i])
        if bx and not ax:
            kind = "unexcluded"
        elif ax and not bx:
            kind = "newly_excluded"
        elif TIER_RANK[at] > TIER_RANK[bt]:
            kind = "tier_up"
        elif TIER_RANK[at] < TIER_RANK[bt]:
            kind = "tier_down"
        else:
            kind = "chance_up" if after.chance[i] > before.chance[i] else "chance_down"
        added = tuple(rid for rid, b, a in diff_rules if a[i] and not b[i])
        removed = tuple(rid for rid, b, a in diff_rules if b[i] and not a[i])
        changes.append(
            ProgramChange(
                program=catalog.programs[i],
                kind=kind,
                before_tier=bt,
                after_tier=at,
                before_chance=float(before.chance[i]),
                after_chance=float(after.chance[i]),
                before_excluded_by=before.excluded_by(i),
                after_excluded_by=after.excluded_by(i),
                rules_added=added,
                rules_removed=removed,
            )
        )
    changes.sort(key=lambda c: (_KIND_ORDER[c.kind], -(c.after_chance - c.before_chance), c.program.id))
    return Comparison(
        changes=tuple(changes),
        profile_rules_added=tuple(sorted(after.profile_fired - before.profile_fired)),
        profile_rules_removed=tuple(sorted(before.profile_fired - after.profile_fired)),
    )


@frozen
class WhatIfResult:
    changes: tuple[Change, ...]
    before: Recommendation
    after: Recommendation
    comparison: Comparison

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "changes": [ch.text for ch in self.changes],
            "summary": {
                "unexcluded": c.count("unexcluded"),
                "tier_up": c.count("tier_up"),
                "tier_down": c.count("tier_down"),
                "newly_excluded": c.count("newly_excluded"),
            },
            "profile_rules_added": list(c.profile_rules_added),
            "profile_rules_removed": list(c.profile_rules_removed),
            "breadth": {
                "before": {"min": self.before.breadth.min, "max": self.before.breadth.max},
                "after": {"min": self.after.breadth.min, "max": self.after.breadth.max},
            },
            "advice_added": [a.rule_id for a in _advice_diff(self.after, self.before)],
            "advice_removed": [a.rule_id for a in _advice_diff(self.before, self.after)],
            "programs": [p.to_dict() for p in c.moved()],
        }


def _advice_diff(a: Recommendation, b: Recommendation) -> list[Any]:
    have = {(x.rule_id, x.message) for x in b.advice}
    return [x for x in a.advice if (x.rule_id, x.message) not in have]


def whatif(evaluator: Evaluates, profile: Profile, changes: Sequence[Change | str]) -> WhatIfResult:
    """Evaluate ``profile`` and ``profile`` with ``changes``; say which programs move and why."""
    parsed = tuple(parse_change(c) if isinstance(c, str) else c for c in changes)
    changed = apply_changes(profile, parsed)
    before_o = evaluator.outcomes(profile)
    after_o = evaluator.outcomes(changed)
    return WhatIfResult(
        changes=parsed,
        before=evaluator.evaluate(profile),
        after=evaluator.evaluate(changed),
        comparison=compare(before_o, after_o, evaluator.catalog),
    )


# --- levers ----------------------------------------------------------------------------------


@frozen
class Lever:
    """Something an applicant can still change, as ``whatif`` changes (from a ``[[lever]]`` declaration)."""

    key: str
    title: str
    changes: tuple[str, ...]
    kind: str = "strengthen"


@frozen
class LeverResult:
    lever: Lever
    comparison: Comparison

    @property
    def improved(self) -> int:
        return self.comparison.improved

    @property
    def worsened(self) -> int:
        return self.comparison.worsened

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "key": self.lever.key,
            "title": self.lever.title,
            "changes": list(self.lever.changes),
            "improved": c.improved,
            "unexcluded": c.count("unexcluded"),
            "tier_up": c.count("tier_up"),
            "tier_down": c.count("tier_down"),
            "newly_excluded": c.count("newly_excluded"),
            "chance_up": c.count("chance_up"),
            "chance_down": c.count("chance_down"),
            "chance_gain": c.chance_gain,
            "profile_rules_added": list(c.profile_rules_added),
            "profile_rules_removed": list(c.profile_rules_removed),
            "rules": [{"rule_id": r, "programs": k} for r, k in c.responsible()],
        }


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_value(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def candidate_levers(profile: Profile, as_of: int, rules: RuleSet | None = None) -> list[Lever]:
    """The levers the rule sets declare (``[[lever]]``) that this profile is offered."""
    ruleset = rules if rules is not None else load_rules()
    plan = plan_ruleset(ruleset)
    engine = get_engine("native")
    compiled = compile_ruleset(ruleset, "native")
    prof_out = run_profile_stage(plan, engine, compiled, profile, as_of, Budget(DEFAULT_LIMITS.max_firings))
    return [
        Lever(lever.id, lever.title, tuple(expand_change(t, profile, as_of) for t in lever.changes), lever.kind)
        for lever in offered_levers(ruleset, prof_out.scope)
    ]


def levers(evaluator: Evaluates, profile: Profile, candidates: Sequence[Lever] | None = None) -> list[LeverResult]:
    """Try each lever; best first.

    Ranked by the programs that move up a tier or stop being excluded, then by fewer that move
    down or become excluded, then by the programs whose chance rises without changing tier.
    """
    base = evaluator.outcomes(profile)
    results: list[LeverResult] = []
    offered = candidates if candidates is not None else candidate_levers(profile, evaluator.as_of, evaluator.rules)
    for lever in offered:
        variant = apply_changes(profile, [parse_change(c) for c in lever.changes])
        comparison = compare(base, evaluator.outcomes(variant), evaluator.catalog, include_chance_changes=True)
        results.append(LeverResult(lever, comparison))
    order = {r.lever.key: i for i, r in enumerate(results)}
    results.sort(
        key=lambda r: (-r.improved, r.worsened, -r.comparison.count("chance_up"), -r.comparison.chance_gain, order[r.lever.key])
    )
    return results
