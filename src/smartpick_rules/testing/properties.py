"""Checking a rule set's declared properties by search over generated profiles.

A rule set declares ``[[property]]`` tables (docs/properties.md): *monotone* properties (a
change to any profile never moves an observable the wrong way: a better Step 2 CK never lowers
a program's tier) and *invariants* (a condition over the result true for every profile: the
list holds at least ``breadth.min`` programs when that many are eligible).
`check_properties` searches for a counterexample with hypothesis: profiles drawn from
strategies derived from the model schema (`smartpick_rules.testing.strategies`), seeded,
bounded by a number of examples and by wall time. A violation is shrunk to a minimal profile
and reported with the change, the program, the observable before and after, and the audit
lines that differ between the two evaluations.

Needs the ``hypothesis`` package: ``pip install smartpick-rules[properties]``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

import attrs

from ..domain.converter import unstructure
from ..domain.inputs import load_catalog, sample_catalog_path
from ..domain.models import Catalog, Profile
from ..errors import Diagnostic, EngineUnavailable, InputError, Location, SmartpickError
from ..language.expr import Call, Expr, Path, iter_nodes, to_source
from ..language.functions import is_fold
from ..language.interp import Scope, evaluate_expr, truth
from ..language.ir import Change, Property, RuleSet, format_value
from ..language.result_facts import OBSERVABLES, ResultBreadth, ResultFacts, ResultItem, Tier
from ..records import frozen
from ..results.recommendation import AuditEntry, ProgramResult, Recommendation
from ..runtime.session import evaluate
from .defaults import DEFAULT_EXAMPLES, DEFAULT_MAX_SECONDS, DEFAULT_SEED

__all__ = [
    "AuditChange",
    "PropertyReport",
    "PropertyResult",
    "Violation",
    "check_properties",
    "example_profiles",
    "hypothesis_available",
    "profile_toml",
]


_TIER_RANK: dict[str | None, int] = {None: 0, "reach": 1, "target": 2, "likely": 3}
_EPS = 1e-9


def hypothesis_available() -> bool:
    """Whether property checks can run (they need the optional ``hypothesis`` package)."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        return False
    return True


# --- results ---------------------------------------------------------------------------------


@frozen
class AuditChange:
    """One audit line that differs between the evaluation before and after the change."""

    rule_id: str
    stage: str
    #: ``before only``, ``after only`` or ``changed``; ``fired`` for an invariant's one evaluation
    status: str
    effect: str
    explanation_before: str | None
    explanation_after: str | None
    #: the values read that differ (or all values read, for a line on one side only)
    values_before: dict[str, Any]
    values_after: dict[str, Any]
    file: str = ""
    line: int = 0

    def render(self) -> str:
        mark = {"before only": "-", "after only": "+", "changed": "~", "fired": "*"}[self.status]
        where = f"  [{self.file}:{self.line}]" if self.file else ""
        head = f"{mark} {self.rule_id} ({self.stage}, {self.status}): {self.effect}{where}"
        lines = [head]
        expl = self.explanation_after if self.status == "after only" else self.explanation_before
        if self.status == "changed":
            for k in sorted(set(self.values_before) | set(self.values_after)):
                lines.append(f"      {k}: {_show(self.values_before.get(k))} -> {_show(self.values_after.get(k))}")
        elif expl:
            lines.append(f"      {expl}")
        return "\n".join(lines)


@frozen
class Violation:
    """The minimal counterexample hypothesis shrank a failure to."""

    profile: Profile
    message: str
    #: the profile after the change (monotone properties)
    changed_profile: Profile | None = None
    #: the change with the amounts drawn, as applied
    change: str | None = None
    program_id: str | None = None
    program_name: str | None = None
    observable: str | None = None
    before: Any = None
    after: Any = None
    #: other programs the same example violates the property for
    other_programs: int = 0
    audit: tuple[AuditChange, ...] = ()
    #: for invariants: the values the failing condition read
    values: tuple[tuple[str, Any], ...] = ()
    #: hypothesis stopped shrinking at the time limit: the profile may not be minimal
    shrink_stopped: bool = False


@frozen
class PropertyResult:
    property: Property
    #: ``passed``, ``failed``, ``unsupported`` (reads what this result API does not have) or
    #: ``inconclusive`` (no generated profile met `given`)
    status: str
    examples: int
    rejected: int
    seconds: float
    violation: Violation | None = None
    note: str = ""


@frozen
class PropertyReport:
    results: tuple[PropertyResult, ...]
    catalog: str
    catalog_size: int
    examples: int
    seed: int
    max_seconds: float
    as_of: int
    #: how many start profiles each property was tried on first
    starts: int = 0

    @property
    def failed(self) -> list[PropertyResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog,
            "catalog_size": self.catalog_size,
            "examples": self.examples,
            "seed": self.seed,
            "max_seconds": self.max_seconds,
            "as_of": self.as_of,
            "start_profiles": self.starts,
            "passed": sum(1 for r in self.results if r.status == "passed"),
            "failed": len(self.failed),
            "properties": [_result_dict(r) for r in self.results],
        }

    def render(self, verbose: bool = False) -> str:
        lines = [
            f"properties: {len(self.results)} checked against {self.catalog}; up to {self.examples} examples "
            f"and {format_value(self.max_seconds)} s each, seed {self.seed}, as of {self.as_of}"
            + (f"; {self.starts} start profile{'s' if self.starts != 1 else ''} tried first" if self.starts else "")
        ]
        for r in self.results:
            p = r.property
            head = f"  {r.status.upper():12} {p.id}  ({r.examples} examples, {r.seconds:.1f} s)"
            lines.append(head)
            if verbose or r.status != "passed":
                lines.append(f"      claims: {p.describe()}")
            if r.note:
                lines.append(f"      {r.note}")
            if r.violation is not None:
                lines.extend(("      " + line) if line else "" for line in render_violation(p, r.violation).splitlines())
        counts = {s: sum(1 for r in self.results if r.status == s) for s in ("passed", "failed", "unsupported", "inconclusive")}
        lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("passed", "failed")))
        return "\n".join(lines)


def render_violation(p: Property, v: Violation) -> str:
    """A violation as text: what failed, the change, the audit lines, the minimal profile as TOML."""
    out = [f"{p.loc}: counterexample: {v.message}"]
    if p.source:
        out.append(f"source: {p.source}")
    if v.change:
        out.append(f"change: {v.change}")
    if v.program_id:
        out.append(f"program: {v.program_id} ({v.program_name})" + (f"; and {v.other_programs} other programs" if v.other_programs else ""))
    if v.observable:
        out.append(f"{v.observable}: {_show(v.before)} before, {_show(v.after)} after")
    for k, value in v.values:
        out.append(f"  {k} = {_show(value)}")
    if v.audit and p.change is None:
        out.append("list-stage audit lines of the evaluation:")
        out.extend("  " + line for a in v.audit for line in a.render().splitlines())
    elif v.audit:
        out.append("audit lines that differ (- before only, + after only, ~ changed):")
        out.extend("  " + line for a in v.audit for line in a.render().splitlines())
    elif p.change is not None:
        out.append("audit lines that differ: none (the outcome moved without a rule firing differently)")
    out.append("minimal profile" + (" (shrinking stopped at the time limit)" if v.shrink_stopped else "") + ":")
    out.extend(("  " + line) if line else "" for line in profile_toml(v.profile).splitlines())
    return "\n".join(out)


def _result_dict(r: PropertyResult) -> dict[str, Any]:
    p = r.property
    v = r.violation
    return {
        "id": p.id,
        "ruleset": p.ruleset,
        "kind": p.kind,
        "claims": p.describe(),
        "source": p.source,
        "location": str(p.loc),
        "status": r.status,
        "examples": r.examples,
        "rejected": r.rejected,
        "seconds": round(r.seconds, 3),
        "note": r.note or None,
        "violation": None
        if v is None
        else {
            "message": v.message,
            "change": v.change,
            "program_id": v.program_id,
            "observable": v.observable,
            "before": v.before,
            "after": v.after,
            "other_programs": v.other_programs,
            "values": {k: val for k, val in v.values},
            "audit": [attrs.asdict(a) for a in v.audit],
            "profile": unstructure(v.profile),
            "profile_toml": profile_toml(v.profile),
            "changed_profile": unstructure(v.changed_profile) if v.changed_profile is not None else None,
            "shrink_stopped": v.shrink_stopped,
        },
    }


def _show(value: Any) -> str:
    if value is None:
        return "none"
    return format_value(value)


# --- the profile as TOML ---------------------------------------------------------------------


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def profile_toml(profile: Profile) -> str:
    """The profile as a TOML file ``smartpick-rules evaluate`` reads, leaving out default values."""
    data = unstructure(profile)
    defaults = unstructure(Profile(graduation_year=profile.graduation_year))
    scalars: list[str] = []
    tables: list[str] = []
    for key, value in data.items():
        default = defaults.get(key)
        if value is None or (value == default and key not in ("graduation_year",)):
            continue
        if isinstance(value, dict):
            sub_default = default if isinstance(default, dict) else {}
            shown = {k: v for k, v in value.items() if v is not None and v != sub_default.get(k)}
            if key in ("step1", "step2_ck", "step3"):
                scalars.append(f"{key} = {_toml_value({k: v for k, v in value.items() if v is not None})}")
            elif shown:
                tables.append(f"\n[{key}]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in shown.items()))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                body = "\n".join(f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None)
                tables.append(f"\n[[{key}]]\n{body}")
        else:
            scalars.append(f"{key} = {_toml_value(value)}")
    return "\n".join(scalars + tables) + "\n"


# --- evaluating and observing ----------------------------------------------------------------


class _NotApplicable(Exception):
    """The change cannot apply to this profile (the field is absent, or would leave its range)."""


class _ViolationFound(Exception):
    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def _has_field(cls: type, name: str) -> bool:
    if attrs.has(cls) and name in attrs.fields_dict(cls):
        return True
    return hasattr(cls, name)


def _unsupported(p: Property) -> list[str]:
    """What a property reads that this version's result API does not have."""
    missing: list[str] = []
    for name in p.observe:
        needs = OBSERVABLES[name].needs
        if needs:
            cls, attr = needs.split(".")
            owner = ProgramResult if cls == "ProgramResult" else Recommendation
            if not _has_field(owner, attr):
                missing.append(f"{name} (needs {needs})")
    for clause in p.holds:
        for node in iter_nodes(clause):
            if not isinstance(node, Path):
                continue
            if (
                node.root == "item"
                and node.parts
                and node.parts[0] in ("chance", "academic", "left_off")
                and not _has_field(ProgramResult, node.parts[0])
            ):
                missing.append(f"{node.dotted} (needs ProgramResult.{node.parts[0]})")
            if node.root == "result" and node.parts[:1] == ("expected_interviews",) and not _has_field(Recommendation, "expected_interviews"):
                missing.append("result.expected_interviews (needs Recommendation.expected_interviews)")
    return list(dict.fromkeys(missing))


class _Snapshot:
    """One evaluation, with the eligible programs' results built only when read."""

    def __init__(self, rec: Recommendation) -> None:
        self.rec = rec
        self._eligible: dict[str, ProgramResult] | None = None

    def eligible(self) -> dict[str, ProgramResult]:
        if self._eligible is None:
            want = self.rec.breadth.eligible
            out: dict[str, ProgramResult] = {}
            if want:
                # results come eligible first today; stopping at the count keeps this correct
                # (only slower) whatever the order
                for r in self.rec.programs:
                    if r.excluded is None:
                        out[r.program.id] = r
                        if len(out) >= want:
                            break
            self._eligible = out
        return self._eligible

    def program(self, program_id: str) -> ProgramResult | None:
        r = self.eligible().get(program_id)
        return r if r is not None else self.rec.get(program_id)

    def list_value(self, name: str) -> Any:
        b = self.rec.breadth
        if name == "list.length":
            return len(b.chosen)
        if name == "list.eligible":
            return b.eligible
        if name == "list.breadth_min":
            return b.min
        if name == "list.breadth_max":
            return b.max
        if name == "list.expected_interviews":
            return getattr(self.rec, "expected_interviews", None)
        raise KeyError(name)

    def facts(self, with_items: bool) -> ResultFacts:
        rec = self.rec
        b = rec.breadth
        eligible: tuple[ResultItem, ...] = ()
        chosen: tuple[ResultItem, ...] = ()
        if with_items:
            items = {pid: _item(r) for pid, r in self.eligible().items()}
            eligible = tuple(items.values())
            chosen = tuple(items[pid] for pid in b.chosen if pid in items)
        return ResultFacts(
            chosen=chosen,
            eligible=eligible,
            breadth=ResultBreadth(
                b.min,
                b.max,
                b.eligible,
                b.interview_target,
                b.shortfall is not None,
                sum(b.shortfall.held_back.values()) if b.shortfall is not None else 0,
            ),
            catalog_size=rec.provenance.catalog_size,
            excluded_count=rec.provenance.catalog_size - b.eligible,
            expected_interviews=getattr(rec, "expected_interviews", None),
            advice=tuple(a.rule_id for a in rec.advice),
            profile_tags=tuple(rec.profile_tags),
        )


def _item(r: ProgramResult) -> ResultItem:
    return ResultItem(
        program=r.program,
        eligible=r.excluded is None,
        chosen=r.chosen,
        tier=Tier(r.tier) if r.tier else None,
        priority=r.priority,
        chance=getattr(r, "chance", None),
        academic=getattr(r, "academic", None),
        left_off=getattr(r, "left_off", None),
        tags=r.tags,
    )


def _program_value(name: str, r: ProgramResult | None) -> Any:
    """An observable of one program; ``r`` is None where the program is excluded."""
    if name == "program.eligible":
        return r is not None
    if r is None:
        return None if name != "program.chosen" else False
    if name == "program.chosen":
        return r.chosen
    if name == "program.tier":
        return r.tier
    return getattr(r, name.split(".", 1)[1], None)


def _rank(name: str, value: Any) -> float:
    ordered = OBSERVABLES[name].ordered
    if ordered == "tier":
        return float(_TIER_RANK.get(value, 0))
    if ordered == "bool":
        return 1.0 if value else 0.0
    return float("-inf") if value is None else float(value)


def _wrong_way(p: Property, name: str, before: Any, after: Any) -> bool:
    b, a = _rank(name, before), _rank(name, after)
    if p.never == "lower":
        return a < b - _EPS
    return a > b + _EPS


def _entry_key(a: AuditEntry) -> tuple[str, str]:
    return (a.stage, a.rule_id)


def audit_diff(before: Iterable[AuditEntry], after: Iterable[AuditEntry]) -> tuple[AuditChange, ...]:
    """Audit lines present on one side only, or with a different effect, explanation or values."""
    b = {_entry_key(a): a for a in before}
    a_ = {_entry_key(a): a for a in after}
    out: list[AuditChange] = []
    for key in dict.fromkeys([*b, *a_]):
        x, y = b.get(key), a_.get(key)
        if x is not None and y is None:
            out.append(AuditChange(x.rule_id, x.stage, "before only", x.effect, x.explanation, None, dict(x.values), {}, x.file, x.line))
        elif y is not None and x is None:
            out.append(AuditChange(y.rule_id, y.stage, "after only", y.effect, None, y.explanation, {}, dict(y.values), y.file, y.line))
        elif x is not None and y is not None and (x.effect, x.explanation, x.values) != (y.effect, y.explanation, y.values):
            keys = [k for k in dict.fromkeys([*x.values, *y.values]) if x.values.get(k) != y.values.get(k)]
            out.append(
                AuditChange(
                    x.rule_id,
                    x.stage,
                    "changed",
                    x.effect if x.effect == y.effect else f"{x.effect} -> {y.effect}",
                    x.explanation,
                    y.explanation,
                    {k: x.values.get(k) for k in keys},
                    {k: y.values.get(k) for k in keys},
                    x.file,
                    x.line,
                )
            )
    return tuple(out)


# --- applying a change -----------------------------------------------------------------------


_MISSING = object()


def _get(obj: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        if obj is None:
            return _MISSING
        obj = getattr(obj, part)
    return obj


def _set(obj: Any, parts: Sequence[str], value: Any) -> Any:
    if obj is None:
        raise _NotApplicable(f"`{parts[0]}` is not set")
    if len(parts) == 1:
        return attrs.evolve(obj, **{parts[0]: value})
    return attrs.evolve(obj, **{parts[0]: _set(getattr(obj, parts[0]), parts[1:], value)})


def _owner(profile: Profile, parts: Sequence[str]) -> type:
    owner = _get(profile, parts[:-1]) if len(parts) > 1 else profile
    if owner is _MISSING or owner is None:
        raise _NotApplicable(f"`{'.'.join(parts[:-1])}` is not set")
    return type(owner)


@frozen
class _Choice:
    """What a change needs beyond the profile: the amount, the item added, the item removed."""

    amount: float = 0.0
    item: Any = None
    removed: Any = None


def _apply(change: Change, profile: Profile, draw: Callable[[Any], Any], as_of: int) -> tuple[Profile, str, _Choice]:
    """Draw what the change needs, then apply it; raises _NotApplicable."""
    from hypothesis import strategies as st

    from .strategies import record_strategy

    current = _get(profile, change.path.parts)
    if current is _MISSING or current is None:
        raise _NotApplicable(f"{change.path.dotted} is not set")
    choice = _Choice()
    if change.kind in ("raise", "lower"):
        assert change.by is not None
        lo, hi = change.by
        amount = draw(st.integers(int(lo), int(hi))) if change.integer else draw(st.floats(lo, hi, allow_nan=False))
        choice = _Choice(amount=amount)
    elif change.kind == "add":
        choice = _Choice(item=draw(record_strategy(_element_class(profile, change.path.parts), as_of, dict(change.fixed))))
    elif change.kind == "remove":
        candidates = _removable(change, profile, as_of)
        if not candidates:
            raise _NotApplicable(f"no item of {change.path.dotted} to remove")
        choice = _Choice(removed=current[draw(st.sampled_from(candidates))])
    changed, applied = _apply_choice(change, profile, choice, as_of)
    return changed, applied, choice


def _removable(change: Change, profile: Profile, as_of: int) -> list[int]:
    items = _get(profile, change.path.parts)
    if items is _MISSING or items is None:
        return []
    return [
        i
        for i, it in enumerate(items)
        if change.where is None or truth(evaluate_expr(change.where, Scope(applicant=profile, item=it, as_of_year=as_of))) is True
    ]


def _apply_choice(change: Change, profile: Profile, choice: _Choice, as_of: int) -> tuple[Profile, str]:
    """The changed profile and the change as applied, in words; raises _NotApplicable."""
    from .strategies import field_bounds

    parts = change.path.parts
    dotted = change.path.dotted
    current = _get(profile, parts)
    if current is _MISSING or current is None:
        raise _NotApplicable(f"{dotted} is not set")
    try:
        if change.kind in ("raise", "lower"):
            amount = choice.amount
            new = current + amount if change.kind == "raise" else current - amount
            low, high = field_bounds(_owner(profile, parts), parts[-1], as_of)
            if (low is not None and new < low) or (high is not None and new > high):
                raise _NotApplicable(f"{dotted} would leave its range")
            changed = _set(profile, parts, new)
            return changed, f"{change.kind} {dotted} by {format_value(amount)} (from {format_value(current)} to {format_value(new)})"
        if change.kind == "add":
            changed = _set(profile, parts, (*current, choice.item))
            return changed, f"add to {dotted}: {format_value(choice.item)}"
        if change.kind == "remove":
            if choice.removed not in current:
                raise _NotApplicable(f"the item to remove is not in {dotted}")
            k = current.index(choice.removed)
            changed = _set(profile, parts, (*current[:k], *current[k + 1 :]))
            return changed, f"remove {dotted}[{k}]: {format_value(choice.removed)}"
        value = change.to
        owner = _owner(profile, parts)
        converted = _convert(value, owner, parts[-1])
        if converted == current:
            raise _NotApplicable(f"{dotted} is already {format_value(value)}")
        changed = _set(profile, parts, converted)
        return changed, f"set {dotted} from {format_value(current)} to {format_value(value)}"
    except ValueError as exc:  # a validator refused the changed value
        raise _NotApplicable(str(exc)) from None


def _element_class(profile: Profile, parts: Sequence[str]) -> type:
    import typing

    owner = _owner(profile, parts)
    hint = typing.get_type_hints(owner)[parts[-1]]
    elem: type = typing.get_args(hint)[0]
    return elem


def _convert(value: Any, owner: type, name: str) -> Any:
    """A TOML value as the field's type (an enum member for an enumerated field)."""
    import typing
    from enum import Enum

    hint = typing.get_type_hints(owner)[name]
    for t in typing.get_args(hint) or (hint,):
        if isinstance(t, type) and issubclass(t, Enum):
            return t(value)
    if isinstance(value, int) and not isinstance(value, bool) and float in (typing.get_args(hint) or (hint,)):
        return float(value)
    return value


# --- start profiles and the greedy shrinker ----------------------------------------------------


def example_profiles() -> list[tuple[str, Profile]]:
    """The example applicants shipped with the package, as ``(name, profile)``: rich, realistic start points."""
    from ..domain.examples import example_names, example_profile_path
    from ..domain.inputs import load_profile

    return [(name, load_profile(example_profile_path(name))) for name in example_names()]


def _minimal_item(cls: type, fixed: Mapping[str, Any]) -> Any:
    """The simplest item of ``cls`` with ``fixed`` fields: defaults elsewhere, the first value where none."""
    import typing
    from enum import Enum

    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for a in attrs.fields(cls):
        if a.name in fixed:
            values[a.name] = _convert(fixed[a.name], cls, a.name)
        elif a.default is attrs.NOTHING:
            t = hints[a.name]
            if isinstance(t, type) and issubclass(t, Enum):
                values[a.name] = next(iter(t))
            elif t is bool:
                values[a.name] = False
    return cls(**values)


def _start_choices(p: Property, profile: Profile, near: Sequence[tuple[tuple[str, ...], list[int], int]], as_of: int) -> list[_Choice]:
    """The changes to try on a start profile: the ends of `by` and the amounts that cross a rule's threshold."""
    change = p.change
    if change is None:
        return [_Choice()]
    current = _get(profile, change.path.parts)
    if current is _MISSING or current is None:
        return []
    if change.kind in ("raise", "lower"):
        assert change.by is not None
        lo, hi = change.by
        amounts = {lo, hi}
        for _path, values, _spread in near:
            for c in values:
                # the smallest move that crosses c, and one more
                step = (c - current) if change.kind == "raise" else (current - c + 1)
                amounts.update({step, step + 1})
        picked = sorted(a for a in amounts if lo <= a <= hi and (not change.integer or float(a).is_integer()))
        return [_Choice(amount=a) for a in picked[:8]]
    if change.kind == "add":
        try:
            return [_Choice(item=_minimal_item(_element_class(profile, change.path.parts), dict(change.fixed)))]
        except (TypeError, ValueError):
            return []
    if change.kind == "remove":
        return [_Choice(removed=current[i]) for i in _removable(change, profile, as_of)]
    return [_Choice()]


def _simpler(obj: Any, path: tuple[str, ...], keep: tuple[str, ...]) -> Iterable[Any]:
    """Records one step simpler than ``obj``: an item fewer, an optional part left out, a field at its default.

    ``keep`` is the path a change goes through: it stays present.
    """
    for a in attrs.fields(type(obj)):
        if not a.init:
            continue
        value = getattr(obj, a.name)
        here = (*path, a.name)
        needed = keep[: len(here)] == here
        default: Any = a.default
        factory = getattr(default, "factory", None)  # an attrs Factory: the value it makes
        if callable(factory):
            default = factory()
        candidates: list[Any] = []
        if isinstance(value, tuple):
            least = 1 if needed or here == ("preferences", "specialties") else 0
            if len(value) > least:
                candidates = [(*value[:i], *value[i + 1 :]) for i in range(len(value))]
            if value and attrs.has(type(value[0])):
                for i, item in enumerate(value):
                    candidates.extend((*value[:i], simpler, *value[i + 1 :]) for simpler in _simpler(item, (), ()))
        elif attrs.has(type(value)):
            if default is None and not needed:
                candidates.append(None)
            candidates.extend(_simpler(value, here, keep))
        elif default is not attrs.NOTHING and value != default and not (needed and default is None):
            candidates.append(default)
        for c in candidates:
            try:
                yield attrs.evolve(obj, **{a.name: c})
            except (TypeError, ValueError):
                continue


def _shrink(
    start: Profile,
    violation: Violation,
    check: Callable[[Profile], Violation | None],
    keep: tuple[str, ...],
    deadline: float,
    limit: int = 400,
) -> Violation:
    """Greedy shrinking of a counterexample found from a start profile: take every simplification that still fails."""
    current, best, tries = start, violation, 0
    improved = True
    while improved and tries < limit:
        improved = False
        for candidate in _simpler(current, (), keep):
            if time.perf_counter() > deadline:
                return attrs.evolve(best, shrink_stopped=True)
            tries += 1
            found = check(candidate)
            if found is not None:
                current, best, improved = candidate, found, True
                break
            if tries >= limit:
                break
    return best


# --- the search ------------------------------------------------------------------------------


@attrs.define
class _Run:
    """What one property's search saw (hypothesis calls the test many times)."""

    examples: int = 0
    rejected: int = 0
    timed_out: bool = False
    last: Violation | None = None
    failing: set[Any] = attrs.field(factory=set)


def _required_paths(p: Property) -> list[tuple[str, ...]]:
    if p.change is None:
        return []
    return [p.change.path.parts]


def _thresholds(rules: RuleSet, p: Property) -> list[tuple[tuple[str, ...], list[int], int]]:
    """For a raise/lower change: the numbers the rules compare the changed field with.

    Profiles are drawn near them too, so a change that crosses a rule's threshold is tried.
    """
    from ..language.expr import Compare, Literal

    change = p.change
    if change is None or change.kind not in ("raise", "lower") or change.by is None:
        return []
    target = change.path.dotted
    values: set[int] = set()
    for rule in (*rules.rules, *rules.disabled):
        exprs: list[Expr] = list(rule.when)
        if rule.then.breadth is not None:
            exprs += [rule.then.breadth.min, rule.then.breadth.max]
        for e in exprs:
            for node in iter_nodes(e):
                if not isinstance(node, Compare):
                    continue
                for a, b in ((node.left, node.right), (node.right, node.left)):
                    if (
                        isinstance(a, Path)
                        and a.dotted == target
                        and isinstance(b, Literal)
                        and isinstance(b.value, int | float)
                        and not isinstance(b.value, bool)
                    ):
                        values.add(round(b.value))
    if not values:
        return []
    return [(change.path.parts, sorted(values), int(change.by[1]))]


def _catalog_for(catalog: Catalog | str | FsPath | None, sample: int | None, seed: int) -> tuple[Catalog, str]:
    if catalog is None:
        cat = load_catalog(sample_catalog_path())
        label = f"the shipped sample catalog ({len(cat):,} programs)"
    elif isinstance(catalog, Catalog):
        cat = catalog
        label = f"{catalog.source or 'the given catalog'} ({len(cat):,} programs)"
    else:
        cat = load_catalog(catalog)
        label = f"{catalog} ({len(cat):,} programs)"
    if sample is not None and sample < len(cat):
        keep = sorted(random.Random(seed).sample(range(len(cat)), sample))
        sub = Catalog.of([cat.programs[i] for i in keep], source=cat.source)
        return sub, f"a seeded subsample of {sample:,} programs (seed {seed}) of {label}"
    return cat, label


def check_properties(
    rules: RuleSet,
    catalog: Catalog | str | FsPath | None = None,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    as_of: int = 2026,
    sample: int | None = None,
    only: Sequence[str] | None = None,
    properties: Sequence[Property] | None = None,
    engine: str = "native",
    on_result: Callable[[PropertyResult], None] | None = None,
    starts: Sequence[tuple[str, Profile]] = (),
) -> PropertyReport:
    """Search for counterexamples to the rule set's properties.

    Each property gets up to ``examples`` generated profiles and ``max_seconds`` of wall time;
    ``seed`` makes the search repeatable. ``catalog`` defaults to the shipped sample catalog;
    ``sample`` evaluates against a seeded subsample of it instead, for speed. ``only`` picks
    properties by id, ``properties`` passes them directly (default: every enabled property of
    ``rules``). ``starts`` are ``(name, profile)`` pairs tried first, before the generated
    profiles (`example_profiles()` gives the shipped example applicants); a counterexample found
    from one is shrunk greedily to a minimal profile. Raises `EngineUnavailable` when ``hypothesis`` is not installed.
    """
    if not hypothesis_available():
        raise EngineUnavailable(
            Diagnostic(
                "engine_unavailable",
                "checking properties needs the hypothesis package",
                Location(),
                help="pip install 'smartpick-rules[properties]'",
            )
        )
    props = list(properties if properties is not None else rules.properties)
    if only:
        by_id = {p.id: p for p in props}
        missing = [pid for pid in only if pid not in by_id]
        if missing:
            from ..errors import did_you_mean

            raise InputError(
                Diagnostic("input_error", f"no property `{missing[0]}` in the rule sets", Location(), suggestion=did_you_mean(missing[0], by_id))
            )
        props = [by_id[pid] for pid in only]
    cat, label = _catalog_for(catalog, sample, seed)
    if not len(cat):
        raise InputError(Diagnostic("input_error", "the catalog is empty: nothing to check properties against", Location(cat.source)))
    cache: OrderedDict[Profile, _Snapshot | SmartpickError] = OrderedDict()

    def run(profile: Profile) -> _Snapshot:
        hit = cache.get(profile)
        if hit is None:
            try:
                hit = _Snapshot(evaluate(profile, cat, rules, engine=engine, as_of=as_of))
            except (InputError, EngineUnavailable):
                raise
            except SmartpickError as exc:
                hit = exc
            cache[profile] = hit
            if len(cache) > 64:
                cache.popitem(last=False)
        else:
            cache.move_to_end(profile)
        if isinstance(hit, SmartpickError):
            raise hit
        return hit

    results: list[PropertyResult] = []
    for p in props:
        result = _check_one(p, cat, run, _thresholds(rules, p), starts, examples=examples, seed=seed, max_seconds=max_seconds, as_of=as_of)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return PropertyReport(tuple(results), label, len(cat), examples, seed, max_seconds, as_of, len(starts))


def _outside_any_test(search: Callable[[], None]) -> None:
    """Run the property search where hypothesis sees no test running.

    The search is a hypothesis ``@given`` of its own, and hypothesis refuses one started inside
    another (a property-based test that calls ``smartpick-rules test`` or ``run_suite``: its
    ``nested_given`` health check). Its test context is per thread, so inside a test the search
    runs in a thread of its own; what it raises is raised here.
    """
    from hypothesis.control import currently_in_test_context

    if not currently_in_test_context():
        search()
        return
    failure: list[BaseException] = []

    def run() -> None:
        try:
            search()
        except BaseException as exc:  # handed to the caller, whatever it is
            failure.append(exc)

    worker = threading.Thread(target=run, name="smartpick-property-search")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def _check_one(
    p: Property,
    cat: Catalog,
    run: Callable[[Profile], _Snapshot],
    near: Sequence[tuple[tuple[str, ...], list[int], int]],
    starts: Sequence[tuple[str, Profile]],
    *,
    examples: int,
    seed: int,
    max_seconds: float,
    as_of: int,
) -> PropertyResult:
    from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings, target
    from hypothesis import seed as hseed
    from hypothesis import strategies as st
    from hypothesis.errors import Unsatisfiable

    from .strategies import profile_strategy

    start = time.perf_counter()
    missing = _unsupported(p)
    observe = tuple(o for o in p.observe if not any(m.startswith(o + " ") for m in missing))
    if missing and (p.kind == "invariant" or not observe):
        return PropertyResult(p, "unsupported", 0, 0, 0.0, note="not checked: reads " + "; ".join(missing) + ", which this version's results do not have")
    note = ("not checked: " + "; ".join(missing) + ", which this version's results do not have") if missing else ""
    specialties = sorted({pr.specialty for pr in cat.programs}, key=str)
    profiles = profile_strategy(specialties, as_of, _required_paths(p), near)
    where_mask: dict[str, bool] = {}
    if p.where is not None:
        for prog in cat.programs:
            where_mask[prog.id] = truth(evaluate_expr(p.where, Scope(program=prog, as_of_year=as_of))) is True
    state = _Run()
    reads_items = any(
        isinstance(n, Path) and n.root == "result" and n.parts[:1] in (("chosen",), ("eligible",)) for c in p.holds for n in iter_nodes(c)
    )

    def given_holds(profile: Profile) -> bool:
        scope = Scope(applicant=profile, as_of_year=as_of)
        return all(truth(evaluate_expr(g, scope)) is True for g in p.given)

    # start profiles first: realistic, rich applicants where a counterexample is likelier than in
    # a random draw; one found is shrunk greedily, as hypothesis would
    for name, start_profile in starts:
        if time.perf_counter() - start > max_seconds or not given_holds(start_profile):
            continue
        for choice in _start_choices(p, start_profile, near, as_of):

            def check(candidate: Profile, choice: _Choice = choice) -> Violation | None:
                if not given_holds(candidate):
                    return None
                changed: Profile | None = None
                applied: str | None = None
                if p.change is not None:
                    try:
                        changed, applied = _apply_choice(p.change, candidate, choice, as_of)
                    except _NotApplicable:
                        return None
                return _violation(p, candidate, changed, applied, run, observe, where_mask, reads_items, as_of)

            state.examples += 1
            found = check(start_profile)
            if found is not None:
                keep = p.change.path.parts if p.change is not None else ()
                shrunk = _shrink(start_profile, found, check, keep, start + max_seconds)
                note = (note + "; " if note else "") + f"found from the start profile `{name}`, then shrunk"
                return PropertyResult(p, "failed", state.examples, state.rejected, time.perf_counter() - start, shrunk, note)

    def body(data: Any) -> None:
        profile: Profile = data.draw(profiles)
        if not given_holds(profile):
            state.rejected += 1
            assume(False)
        if p.change is not None:
            try:
                changed, applied, _choice = _apply(p.change, profile, data.draw, as_of)
            except _NotApplicable:
                state.rejected += 1
                assume(False)
                return
            key: Any = (profile, changed)
        else:
            changed, applied, key = None, None, profile
        if time.perf_counter() - start > max_seconds and key not in state.failing:
            # out of time: count nothing, and let hypothesis finish (a failing example found so
            # far is still replayed, so its report stays exact)
            state.timed_out = True
            return
        state.examples += 1
        if changed is not None:
            _aim(p, profile, run, observe, where_mask, target)
        violation = _violation(p, profile, changed, applied, run, observe, where_mask, reads_items, as_of)
        if violation is not None:
            state.failing.add(key)
            state.last = violation
            raise _ViolationFound(violation)

    def search() -> None:
        test = settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=False,
            verbosity=Verbosity.quiet,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            print_blob=False,
            phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
        )(hseed(seed)(given(st.data())(body)))
        test()

    status, violation = "passed", None
    try:
        _outside_any_test(search)
    except _ViolationFound as exc:
        status, violation = "failed", exc.violation
    except Unsatisfiable:
        status = "inconclusive"
        note = note or f"no generated profile met `given` ({state.rejected} rejected)"
    except Exception as exc:  # hypothesis' own reports (a flaky replay): keep the last violation seen
        if state.last is None:
            raise
        status, violation = "failed", state.last
        note = note or f"hypothesis: {type(exc).__name__}"
    if violation is not None and state.timed_out:
        violation = attrs.evolve(violation, shrink_stopped=True)
    if status == "passed" and state.examples == 0:
        status = "inconclusive"
        note = note or f"no example checked within {format_value(max_seconds)} s ({state.rejected} rejected)"
    elif status == "passed" and state.timed_out:
        note = (note + "; " if note else "") + f"stopped at the time limit after {state.examples} examples"
    return PropertyResult(p, status, state.examples, state.rejected, time.perf_counter() - start, violation, note)


def _aim(
    p: Property,
    profile: Profile,
    run: Callable[[Profile], _Snapshot],
    observe: Sequence[str],
    where_mask: Mapping[str, bool],
    target: Callable[..., Any],
) -> None:
    """Steer the search to profiles with room to move the wrong way.

    A tier can only fall where programs are above reach; a list can only shorten where it is long.
    hypothesis' targeted phase climbs towards profiles whose observables are high (for `never
    lower`; low for `never raise`), where a counterexample, if there is one, is likelier.
    """
    try:
        snap = run(profile)
    except SmartpickError:
        return
    sign = 1.0 if p.never == "lower" else -1.0
    for name in observe:
        if OBSERVABLES[name].per_program:
            total = 0.0
            for pid, r in snap.eligible().items():
                if where_mask and not where_mask.get(pid, False):
                    continue
                rank = _rank(name, _program_value(name, r))
                if rank != float("-inf"):
                    total += rank
            target(sign * total, label=name)
        else:
            value = snap.list_value(name)
            if value is not None:
                target(sign * float(value), label=name)


def _violation(
    p: Property,
    profile: Profile,
    changed: Profile | None,
    applied: str | None,
    run: Callable[[Profile], _Snapshot],
    observe: Sequence[str],
    where_mask: Mapping[str, bool],
    reads_items: bool,
    as_of: int,
) -> Violation | None:
    try:
        before = run(profile)
    except SmartpickError as exc:
        return Violation(profile, f"the evaluation fails: {exc.first_line()}")
    if changed is None:
        return _invariant_violation(p, profile, before, reads_items, as_of)
    try:
        after = run(changed)
    except SmartpickError as exc:
        return Violation(profile, f"the evaluation after the change fails: {exc.first_line()}", changed, applied)
    for name in observe:
        if OBSERVABLES[name].per_program:
            continue
        b, a = before.list_value(name), after.list_value(name)
        if _wrong_way(p, name, b, a):
            audit = audit_diff([*before.rec.profile_audit, *before.rec.list_audit], [*after.rec.profile_audit, *after.rec.list_audit])
            return Violation(profile, f"{name} {'fell' if p.never == 'lower' else 'rose'} from {_show(b)} to {_show(a)}", changed, applied, observable=name, before=b, after=a, audit=audit)
    per_program = [o for o in observe if OBSERVABLES[o].per_program]
    if not per_program:
        return None
    eb, ea = before.eligible(), after.eligible()
    first: tuple[str, str, Any, Any] | None = None
    bad: set[str] = set()
    for pid in dict.fromkeys([*eb, *ea]):
        if where_mask and not where_mask.get(pid, False):
            continue
        rb, ra = eb.get(pid), ea.get(pid)
        for name in per_program:
            if OBSERVABLES[name].eligible_only and (rb is None or ra is None):
                continue
            vb, va = _program_value(name, rb), _program_value(name, ra)
            if _wrong_way(p, name, vb, va):
                bad.add(pid)
                if first is None:
                    first = (pid, name, vb, va)
                break
    if first is None:
        return None
    pid, name, vb, va = first
    rb = before.program(pid)
    ra = after.program(pid)
    entries_b = [*before.rec.profile_audit, *(a for a in (rb.audit if rb else ()) if a.stage != "profile")]
    entries_a = [*after.rec.profile_audit, *(a for a in (ra.audit if ra else ()) if a.stage != "profile")]
    if name == "program.chosen":
        entries_b += before.rec.list_audit
        entries_a += after.rec.list_audit
    found = rb if rb is not None else ra
    program = found.program if found is not None else None
    verb = "fell" if p.never == "lower" else "rose"
    return Violation(
        profile,
        f"{name} of {pid} {verb} from {_show(vb)} to {_show(va)}",
        changed,
        applied,
        program_id=pid,
        program_name=program.name if program is not None else None,
        observable=name,
        before=vb,
        after=va,
        other_programs=len(bad) - 1,
        audit=audit_diff(entries_b, entries_a),
    )


def _invariant_violation(p: Property, profile: Profile, snap: _Snapshot, reads_items: bool, as_of: int) -> Violation | None:
    facts = snap.facts(reads_items)
    scope = Scope(applicant=profile, as_of_year=as_of, result=facts)
    for clause, text in zip(p.holds, p.holds_text, strict=True):
        v = truth(evaluate_expr(clause, scope))
        if v is True:
            continue
        values = _values_read(clause, scope)
        what = "is false" if v is False else "is undecided (it read a value that is not set)"
        audit = tuple(
            AuditChange(a.rule_id, a.stage, "fired", a.effect, a.explanation, None, dict(a.values), {}, a.file, a.line)
            for a in snap.rec.list_audit
        )
        return Violation(profile, f"`{text}` {what}", values=values, audit=audit)
    return None


def _values_read(clause: Expr, scope: Scope) -> tuple[tuple[str, Any], ...]:
    """Each path and function call the clause reads (outside item scopes), with its value."""
    out: dict[str, Any] = {}

    def walk(e: Expr) -> None:
        if isinstance(e, Path):
            if e.root != "item":
                out.setdefault(to_source(e), _plain(evaluate_expr(e, scope)))
            return
        if isinstance(e, Call):
            out.setdefault(to_source(e), _plain(evaluate_expr(e, scope)))
            if is_fold(e):
                walk(e.args[0])
                return
        for child in _children(e):
            walk(child)

    walk(clause)
    return tuple(out.items())


def _children(e: Expr) -> tuple[Expr, ...]:
    from ..language.expr import children

    return children(e)


def _plain(v: Any) -> Any:
    if isinstance(v, tuple) and v and isinstance(v[0], ResultItem):
        return [i.program.id for i in v]
    if isinstance(v, ResultItem):
        return v.program.id
    if attrs.has(type(v)):
        return unstructure(v)
    return v
