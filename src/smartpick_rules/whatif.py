"""What-if: re-evaluate a profile with changes and show what moves; levers: which change moves most.

``whatif`` answers "what happens to my list if I score 240 on Step 2 CK?"; ``levers`` tries
the parts of a profile an applicant can still change (Step 2 CK if not yet taken, months of
hands-on experience in Los Angeles, a US letter, a language, a research output, ...) and
ranks them by how many programs they move: the guide's "single most important thing I can do".

Both compare *outcomes* (score, tier, exclusion, and which rules fired for each program), which
an ``Evaluator`` computes with the engine directly: one vectorised pass over the catalog
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

import re
import types
import typing
from collections import Counter
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from .domain.converter import unstructure
from .domain.inputs import profile_from_data
from .domain.models import Catalog, Profile, Program
from .engines import Budget, compile_ruleset, get_engine
from .errors import Diagnostic, InputError, Location, did_you_mean
from .language.ir import RuleSet, format_value
from .limits import DEFAULT_LIMITS, Limits
from .plan import Plan, plan_ruleset
from .results.recommendation import Recommendation
from .runtime.evaluate import evaluate
from .runtime.stages import as_of_year, rank_programs, run_profile_stage
from .sourcemap import DocumentError, parse_toml

__all__ = [
    "Change",
    "Evaluator",
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


# --- changes -------------------------------------------------------------------------------

_CHANGE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(\+=|=)(.*)$", re.DOTALL)
_BARE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .,/-]*$")


@attrs.frozen
class Change:
    """One change to a profile: ``path op value``."""

    path: tuple[str, ...]
    op: str  # "=" | "+="
    value: Any
    text: str

    def __str__(self) -> str:
        return self.text


def _where(text: str) -> Location:
    return Location(f"--set {text}")


def parse_change(text: str) -> Change:
    """Parse ``FIELD=VALUE`` or ``FIELD+=VALUE``; VALUE is a TOML literal or a bare word."""
    m = _CHANGE.match(text)
    if m is None:
        raise InputError(
            Diagnostic(
                "input_error",
                "expected FIELD=VALUE or FIELD+=VALUE",
                _where(text),
                help="for example step2_ck.score=240, languages+=spanish, preferences.long_term_la_plan=true",
            )
        )
    dotted, op, raw = m.group(1), m.group(2), m.group(3).strip()
    parts = tuple(dotted.split("."))
    if parts[0] in ("applicant", "profile") and len(parts) > 1:
        parts = parts[1:]
    if not raw:
        raise InputError(Diagnostic("input_error", f"no value after `{op}`", _where(text), help='write a TOML value: 240, true, "text"'))
    try:
        value = parse_toml(f"v = {raw}", "<change>")["v"]
    except DocumentError:
        if not _BARE.match(raw):
            raise InputError(
                Diagnostic(
                    "input_error",
                    f"`{raw}` is not a TOML value",
                    _where(text),
                    help='quote strings ("..."), write tables as { key = value }, lists as [a, b]',
                )
            ) from None
        value = raw
    return Change(parts, op, value, text.strip())


def _field_type(cls: type, name: str) -> Any:
    hints = typing.get_type_hints(cls)
    return hints[name]


def _strip_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _check_path(change: Change) -> None:
    """Refuse a path that is not a field of the profile, with a "did you mean"."""
    tp: Any = Profile
    walked: list[str] = []
    for part in change.path:
        tp = _strip_optional(tp)
        if typing.get_origin(tp) is tuple:
            if not part.isdigit():
                raise InputError(
                    Diagnostic(
                        "input_error",
                        f"`{'.'.join(walked)}` is a list; index it with a number (`{'.'.join(walked)}.0.{part}`) or append with +=",
                        _where(change.text),
                    )
                )
            tp = typing.get_args(tp)[0]
        elif isinstance(tp, type) and attrs.has(tp):
            names = [a.name for a in attrs.fields(tp) if not a.name.startswith("_")]
            if part not in names:
                where = "the profile" if not walked else f"`{'.'.join(walked)}`"
                hint = did_you_mean(part, names)
                raise InputError(
                    Diagnostic(
                        "input_error",
                        f"{where} has no field `{part}`",
                        _where(change.text),
                        suggestion=".".join([*walked, hint]) if hint else None,
                        help=None if hint else f"fields: {', '.join(names)}",
                    )
                )
            tp = _field_type(tp, part)
        else:
            raise InputError(Diagnostic("input_error", f"`{'.'.join(walked)}` has no fields", _where(change.text)))
        walked.append(part)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def apply_changes(profile: Profile, changes: Sequence[Change | str]) -> Profile:
    """A new profile with ``changes`` applied, structured (and so validated) again."""
    data: dict[str, Any] = _plain(unstructure(profile))
    parsed = [parse_change(c) if isinstance(c, str) else c for c in changes]
    for ch in parsed:
        _check_path(ch)
        node: Any = data
        for i, part in enumerate(ch.path[:-1]):
            key: Any = int(part) if isinstance(node, list) else part
            if isinstance(node, list):
                if key >= len(node):
                    raise InputError(
                        Diagnostic(
                            "input_error",
                            f"`{'.'.join(ch.path[:i])}` has {len(node)} entries; there is no entry {key}",
                            _where(ch.text),
                        )
                    )
            elif node.get(key) is None:
                node[key] = {}
            node = node[key]
        last: Any = ch.path[-1]
        if isinstance(node, list):
            last = int(last)
            if last >= len(node):
                raise InputError(Diagnostic("input_error", f"there is no entry {last}", _where(ch.text)))
        current = node[last] if isinstance(node, list) else node.get(last)
        if ch.op == "=":
            node[last] = ch.value
        elif isinstance(current, list):
            current.extend(ch.value if isinstance(ch.value, list) else [ch.value])
        elif current is None and not isinstance(ch.value, int | float):
            node[last] = ch.value if isinstance(ch.value, list) else [ch.value]
        elif isinstance(current, int | float | None) and isinstance(ch.value, int | float) and not isinstance(ch.value, bool):
            node[last] = (current or 0) + ch.value
        else:
            raise InputError(
                Diagnostic(
                    "input_error",
                    f"`+=` appends to a list or adds to a number; `{'.'.join(ch.path)}` is {format_value(current)}",
                    _where(ch.text),
                )
            )
    source = "--set " + " --set ".join(c.text for c in parsed) if parsed else "<profile>"
    return profile_from_data(data, source=source)


# --- outcomes --------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class Outcomes:
    """What an evaluation decided for every program, without the audit trail."""

    plan: Plan
    score: FloatArray
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


class Evaluator:
    """One catalog and one rule set, compiled once, evaluated against many profiles.

    Safe to share between threads: it holds only immutable inputs and the compiled rule set.
    """

    def __init__(
        self,
        catalog: Catalog,
        rules: RuleSet,
        *,
        engine: str = "native",
        as_of: int | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.catalog = catalog
        self.rules = rules
        self.engine_name = engine
        self.as_of = as_of_year(as_of)  # None is this year; anything outside 1940-2100 is refused
        self.limits = limits
        self.plan = plan_ruleset(rules, limits)
        self.engine = get_engine(engine)
        self.compiled = compile_ruleset(rules, engine, limits)
        self.ids = tuple(p.id for p in catalog.programs)

    def evaluate(self, profile: Profile) -> Recommendation:
        return evaluate(profile, self.catalog, self.rules, engine=self.engine_name, as_of=self.as_of, limits=self.limits)

    def outcomes(self, profile: Profile) -> Outcomes:
        """Scores, tiers, exclusions and fired rules: the decisions of
        [`evaluate`][smartpick_rules.evaluate], only faster."""
        plan = self.plan
        budget = Budget(self.limits.max_firings)
        prof_out = run_profile_stage(plan, self.engine, self.compiled, profile, self.as_of, budget)
        fired = self.engine.run_program(self.compiled, prof_out.scope, self.catalog, budget)
        ranking = rank_programs(plan, fired, len(self.catalog), prof_out.base)
        score, excluded, tiers = ranking.score, ranking.excluded, tuple(ranking.tiers)
        p_rules = prof_out.rules
        return Outcomes(
            plan=plan,
            score=score,
            excluded=excluded,
            tiers=tiers,
            fired=tuple(np.asarray(m, dtype=np.bool_) for m in fired),
            profile_fired=frozenset(cr.rule.id for cr in p_rules),
        )


# --- comparing -------------------------------------------------------------------------------


@attrs.frozen
class ProgramChange:
    """One program whose outcome changed."""

    program: Program
    kind: str  # "unexcluded" | "tier_up" | "tier_down" | "newly_excluded" | "score_up" | "score_down"
    before_tier: str | None
    after_tier: str | None
    before_score: float
    after_score: float
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
            "before": {"tier": self.before_tier, "score": self.before_score, "excluded_by": self.before_excluded_by},
            "after": {"tier": self.after_tier, "score": self.after_score, "excluded_by": self.after_excluded_by},
            "rules_added": list(self.rules_added),
            "rules_removed": list(self.rules_removed),
        }


_KIND_ORDER = {"unexcluded": 0, "tier_up": 1, "tier_down": 2, "newly_excluded": 3, "score_up": 4, "score_down": 5}
_MOVES = frozenset({"unexcluded", "tier_up", "tier_down", "newly_excluded"})


@attrs.frozen
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
        """Programs that changed tier or exclusion (not mere score changes)."""
        return [c for c in self.changes if c.kind in _MOVES]

    @property
    def score_gain(self) -> float:
        """The sum of score changes over programs eligible both before and after."""
        return sum(c.after_score - c.before_score for c in self.changes if c.kind in ("tier_up", "tier_down", "score_up", "score_down"))

    def responsible(self, moved_only: bool = False) -> list[tuple[str, int]]:
        """Rules whose firing changed for the programs that changed, with how many programs each."""
        counter: Counter[str] = Counter()
        for c in self.moved() if moved_only else self.changes:
            counter.update(c.rules_added)
            counter.update(c.rules_removed)
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def compare(before: Outcomes, after: Outcomes, catalog: Catalog, *, include_score_changes: bool = False) -> Comparison:
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
    if include_score_changes:
        candidates |= (before.score != after.score) & ~before.excluded & ~after.excluded
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
            kind = "score_up" if after.score[i] > before.score[i] else "score_down"
        added = tuple(rid for rid, b, a in diff_rules if a[i] and not b[i])
        removed = tuple(rid for rid, b, a in diff_rules if b[i] and not a[i])
        changes.append(
            ProgramChange(
                program=catalog.programs[i],
                kind=kind,
                before_tier=bt,
                after_tier=at,
                before_score=float(before.score[i]),
                after_score=float(after.score[i]),
                before_excluded_by=before.excluded_by(i),
                after_excluded_by=after.excluded_by(i),
                rules_added=added,
                rules_removed=removed,
            )
        )
    changes.sort(key=lambda c: (_KIND_ORDER[c.kind], -(c.after_score - c.before_score), c.program.id))
    return Comparison(
        changes=tuple(changes),
        profile_rules_added=tuple(sorted(after.profile_fired - before.profile_fired)),
        profile_rules_removed=tuple(sorted(before.profile_fired - after.profile_fired)),
    )


@attrs.frozen
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


def whatif(evaluator: Evaluator, profile: Profile, changes: Sequence[Change | str]) -> WhatIfResult:
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


@attrs.frozen
class Lever:
    """Something an applicant can still change, as ``whatif`` changes."""

    key: str
    title: str
    changes: tuple[str, ...]


@attrs.frozen
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
            "score_up": c.count("score_up"),
            "score_down": c.count("score_down"),
            "score_gain": c.score_gain,
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


def candidate_levers(profile: Profile, as_of: int) -> list[Lever]:
    """The parts of ``profile`` an applicant can still change, as levers to try."""
    out: list[Lever] = []
    specialty = profile.preferences.specialties[0].value if profile.preferences.specialties else None
    spec: dict[str, Any] = {"specialty": specialty} if specialty else {}
    ck = profile.step2_ck
    if ck is None:
        for score in (220, 230, 240, 250):
            out.append(
                Lever(
                    f"step2_ck_{score}",
                    f"Take Step 2 CK and score {score}",
                    (f"step2_ck = {_toml({'score': score, 'passed': True, 'attempts': 1})}",),
                )
            )
    if profile.step3 is None:
        out.append(Lever("step3", "Pass Step 3", (f"step3 = {_toml({'passed': True, 'attempts': 1})}",)))
    for months in (3, 6):
        usce = {"kind": "hands_on", "months": months, **spec, "state": "CA", "region": "la_county", "end_year": as_of}
        out.append(
            Lever(
                f"usce_la_{months}m",
                f"+{months} months of hands-on USCE in LA",
                (f"usce += {_toml(usce)}",),
            )
        )
    letter = {**spec, "us": True, "state": "CA", "region": "la_county", "residency_faculty": True, "knows_applicant_well": True}
    out.append(Lever("letter_la", "+1 US letter from LA faculty", (f"letters += {_toml(letter)}",)))
    for k, existing in enumerate(profile.letters):
        if existing.us and not existing.addresses_scores:
            out.append(
                Lever(
                    "letter_addresses_scores",
                    "A US letter that addresses the scores",
                    (f"letters.{k}.addresses_scores = true",),
                )
            )
            break
    spoken = {lang.strip().lower() for lang in profile.languages}
    new_lang = next((lang for lang in LA_LANGUAGES if lang.lower() not in spoken), None)
    if new_lang is not None:
        out.append(Lever(f"language_{new_lang.lower()}", f"Speak {new_lang}", (f"languages += {_toml(new_lang)}",)))
    out.append(Lever("publication", "+1 publication", ("research.publications += 1",)))
    work = {"kind": "safety_net_hospital", "region": "la_county", "months": 6}
    out.append(Lever("community_la", "+6 months of LA safety-net work", (f"community_work += {_toml(work)}",)))
    if not profile.preferences.long_term_la_plan:
        out.append(
            Lever("la_plan", "State a long-term LA plan", ("preferences.long_term_la_plan = true",))
        )
    out.append(Lever("leadership", "+1 leadership role", ("leadership_roles += 1",)))
    return out


def levers(evaluator: Evaluator, profile: Profile, candidates: Sequence[Lever] | None = None) -> list[LeverResult]:
    """Try each lever; best first.

    Ranked by the programs that move up a tier or stop being excluded, then by fewer that move
    down or become excluded, then by the programs whose score rises without changing tier.
    """
    base = evaluator.outcomes(profile)
    results: list[LeverResult] = []
    for lever in candidates if candidates is not None else candidate_levers(profile, evaluator.as_of):
        variant = apply_changes(profile, [parse_change(c) for c in lever.changes])
        comparison = compare(base, evaluator.outcomes(variant), evaluator.catalog, include_score_changes=True)
        results.append(LeverResult(lever, comparison))
    order = {r.lever.key: i for i, r in enumerate(results)}
    results.sort(
        key=lambda r: (-r.improved, r.worsened, -r.comparison.count("score_up"), -r.comparison.score_gain, order[r.lever.key])
    )
    return results
