"""The intermediate representation every stage after loading works on.

Loading turns TOML into these frozen attrs values; checking and compiling read them; engines
run them. Nothing downstream of ``smartpick_rules.ruleset.load`` sees a raw dict.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import attrs

from ..errors import Location
from ..records import frozen
from .expr import Expr, Path, to_source

__all__ = [
    "LEVER_KINDS",
    "Breadth",
    "ChanceModel",
    "Change",
    "Effect",
    "Estimate",
    "Group",
    "Lever",
    "Property",
    "Rule",
    "RuleSet",
    "RuleSetInfo",
    "Template",
]

STAGES = ("profile", "program", "list")
TIERS = ("reach", "target", "likely")

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@frozen
class Template:
    """An explanation or message with ``{expression}`` placeholders filled from the facts.

    A placeholder is a path (``{applicant.step2_ck.score}``) or any expression of the rule
    language (``{years_since(applicant.graduation_year)}``); ``keys`` pairs each placeholder's
    text as written with the canonical source its value is stored under. ``{{`` and ``}}``
    are literal braces.
    """

    text: str
    fields: tuple[Expr, ...] = ()
    keys: tuple[tuple[str, str], ...] = ()

    def render(self, values: dict[str, Any], max_length: int = 2000) -> str:
        keys = dict(self.keys)

        def sub(m: re.Match[str]) -> str:
            token = m.group(0)
            if token == "{{":
                return "{"
            if token == "}}":
                return "}"
            raw = m.group(1).strip()
            return format_value(values.get(keys.get(raw, raw)))

        out = _PLACEHOLDER.sub(sub, self.text)
        return out if len(out) <= max_length else out[: max_length - 3] + "..."

    @staticmethod
    def placeholders(text: str) -> list[tuple[str, int]]:
        """``(placeholder text, offset)`` for each ``{...}`` in ``text``."""
        return [(m.group(1), m.start(1)) for m in _PLACEHOLDER.finditer(text) if m.group(1) is not None]


def format_value(value: Any) -> str:
    """How a fact value reads in an explanation: 224 not 224.0, lists comma-separated."""
    if value is None:
        return "not set"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) if value else "none"
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return str(value.value)
    if attrs.has(type(value)):
        # a record (a letter, a rotation): its set fields, as an author would write them
        from ..domain.converter import unstructure

        data = unstructure(value)
        shown = {k: v for k, v in data.items() if v not in (None, False, [], 0, 0.0, "")}
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in shown.items()) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


@frozen
class Breadth:
    """The list stage's recommended number of applications; bounds may be expressions."""

    min: Expr
    max: Expr


@frozen
class Effect:
    """What a rule adds when it fires. Effects only add; none removes what another added.

    Three things are kept apart: eligibility (``exclude``), the *chance* that a program offers
    the applicant an interview (``odds`` multiplies the odds, ``chance_cap`` bounds the chance,
    ``tier_at_most`` bounds the tier) and the program's *priority* in the list. Program-stage
    ``estimate`` rules add to a named per-program estimate (an estimated score screen, say);
    list-stage ``at_most`` / ``at_least`` bound how many programs of a declared group the list
    takes.
    """

    tags: tuple[str, ...] = ()
    priority: float | None = None
    odds: Expr | None = None
    chance_cap: Expr | None = None
    tier_at_most: str | None = None
    exclude: Template | None = None
    advice: Template | None = None
    sets: tuple[tuple[str, Any], ...] = ()
    breadth: Breadth | None = None
    estimate: tuple[tuple[str, Expr], ...] = ()
    at_most: tuple[tuple[str, Expr], ...] = ()
    at_least: tuple[tuple[str, Expr], ...] = ()

    @property
    def computes_odds(self) -> bool:
        """``odds`` is an expression, its factor computed per program (not a number)."""
        return self.odds is not None and not _is_number(self.odds)

    def describe(self, odds: float | None = None) -> str:
        """What the effect does, as the audit's ``effect`` reads: ``"odds x0.5; tag low"``.

        ``odds``: the factor an expression for ``odds`` came to for one program, shown in place of
        the expression (``odds x0.82`` rather than ``odds x(exp(...))``).
        """
        parts: list[str] = []
        if self.exclude is not None:
            parts.append("exclude")
        if self.odds is not None:
            if odds is not None and self.computes_odds:
                parts.append(f"odds x{format_value(round(odds, 3))}")
            else:
                parts.append(f"odds x{_number_or_source(self.odds)}")
        if self.chance_cap is not None:
            parts.append(f"chance at most {_number_or_source(self.chance_cap)}")
        if self.tier_at_most is not None:
            parts.append(f"tier at most {self.tier_at_most}")
        if self.priority is not None:
            parts.append(f"priority {signed(self.priority)}")
        parts.extend(f"estimate {k} {_signed_or_source(v)}" for k, v in self.estimate)
        parts.extend(f"tag {t}" for t in self.tags)
        parts.extend(f"set {k} = {format_value(v)}" for k, v in self.sets)
        if self.breadth is not None:
            parts.append(f"breadth {to_source(self.breadth.min)}..{to_source(self.breadth.max)}")
        parts.extend(f"at most {to_source(v)} {k}" for k, v in self.at_most)
        parts.extend(f"at least {to_source(v)} {k}" for k, v in self.at_least)
        if self.advice is not None:
            parts.append("advice")
        return "; ".join(parts)

    def expressions(self) -> tuple[Expr, ...]:
        """Every expression this effect computes a value from (not its templates)."""
        out: list[Expr] = []
        for e in (self.odds, self.chance_cap):
            if e is not None:
                out.append(e)
        out.extend(v for _k, v in self.estimate)
        if self.breadth is not None:
            out.extend((self.breadth.min, self.breadth.max))
        out.extend(v for _k, v in self.at_most)
        out.extend(v for _k, v in self.at_least)
        return tuple(out)


def _is_number(e: Expr) -> bool:
    from .expr import Literal

    return isinstance(e, Literal) and isinstance(e.value, int | float) and not isinstance(e.value, bool)


def _number_or_source(e: Expr) -> str:
    from .expr import Literal

    if isinstance(e, Literal) and isinstance(e.value, int | float) and not isinstance(e.value, bool):
        return format_value(e.value)
    return "(" + to_source(e) + ")"


def _signed_or_source(e: Expr) -> str:
    from .expr import Literal

    if isinstance(e, Literal) and isinstance(e.value, int | float) and not isinstance(e.value, bool):
        return signed(e.value)
    return "+(" + to_source(e) + ")"


def signed(x: float) -> str:
    """A delta as an explanation writes it: ``+5``, ``-2.5``."""
    text = format_value(x)
    return text if x < 0 else "+" + text


@frozen
class Rule:
    """One rule of a loaded rule set: its stage, conditions (``when``), effect (``then``) and origin.

    Rules are compared by content; where they were written (``loc``, ``when_locs``) and the
    clause text are kept for messages and explanations but do not affect equality.
    """

    id: str
    stage: str
    when: tuple[Expr, ...]
    then: Effect
    salience: int = 0
    explain: Template | None = None
    source: str = ""
    description: str = ""
    enabled: bool = True
    ruleset: str = ""
    ruleset_version: str = ""
    when_text: tuple[str, ...] = attrs.field(default=(), eq=False)
    """The text of each ``when`` clause as written, for explanations."""
    loc: Location = attrs.field(factory=Location, eq=False)
    when_locs: tuple[Location, ...] = attrs.field(default=(), eq=False)
    """Where each ``when`` clause starts in the file."""

    @property
    def order_key(self) -> tuple[int, str]:
        """Audit-trail order: higher salience first, then rule id."""
        return (-self.salience, self.id)


#: what a property's ``change`` may do to a generated profile
CHANGE_KINDS = ("raise", "lower", "add", "remove", "set")
#: which way a monotone property's observables may not move
DIRECTIONS = ("lower", "raise")


@frozen
class Change:
    """A change a monotone property applies to each generated profile.

    ``raise``/``lower`` move a number by an amount drawn from ``by``; ``add`` appends an item to
    a list, its ``fixed`` fields as given and the rest generated; ``remove`` drops one item (one
    matching ``where``, if given); ``set`` sets a field to ``to``.
    """

    kind: str
    #: the profile field, ``applicant.step2_ck.score``
    path: Path
    by: tuple[float, float] | None = None
    #: draw whole numbers (the field is an integer)
    integer: bool = True
    fixed: tuple[tuple[str, Any], ...] = ()
    to: Any = None
    where: Expr | None = None
    where_text: str = attrs.field(default="", eq=False)

    def describe(self) -> str:
        target = self.path.dotted
        if self.kind in ("raise", "lower"):
            assert self.by is not None
            lo, hi = self.by
            amount = format_value(lo) if lo == hi else f"{format_value(lo)} to {format_value(hi)}"
            return f"{self.kind} {target} by {amount}"
        if self.kind == "add":
            fixed = ", ".join(f"{k} = {format_value(v)}" for k, v in self.fixed)
            return f"add to {target} an item" + (f" with {fixed}" if fixed else "") + " (other fields generated)"
        if self.kind == "remove":
            return f"remove from {target} one item" + (f" where {self.where_text}" if self.where is not None else "")
        return f"set {target} to {format_value(self.to)}"


@frozen
class Property:
    """A claim a rule set makes about every result, checked by search over generated profiles.

    A *monotone* property has a ``change`` and ``observe``: applying the change to any profile
    never moves an observable the ``never`` way (per program, optionally only for programs
    matching ``where``). An *invariant* has ``holds``: conditions over ``result.`` (and
    ``applicant.``) true for every profile. ``given`` restricts the profiles either kind is
    checked on. See docs/properties.md.
    """

    id: str
    given: tuple[Expr, ...] = ()
    change: Change | None = None
    observe: tuple[str, ...] = ()
    never: str = "lower"
    where: Expr | None = None
    holds: tuple[Expr, ...] = ()
    description: str = ""
    source: str = ""
    enabled: bool = True
    ruleset: str = ""
    ruleset_version: str = ""
    given_text: tuple[str, ...] = attrs.field(default=(), eq=False)
    where_text: str = attrs.field(default="", eq=False)
    holds_text: tuple[str, ...] = attrs.field(default=(), eq=False)
    loc: Location = attrs.field(factory=Location, eq=False)

    @property
    def kind(self) -> str:
        """``monotone`` or ``invariant``."""
        return "monotone" if self.change is not None else "invariant"

    def describe(self) -> str:
        """One line: what the property claims."""
        if self.change is not None:
            what = ", ".join(self.observe)
            scope = f" (programs where {self.where_text})" if self.where is not None else ""
            return f"{self.change.describe()} never {self.never}s {what}{scope}"
        return "always " + " and ".join(self.holds_text)


@frozen
class ChanceModel:
    """How chances become tiers.

    Every program starts at ``base``, the chance of an interview for an applicant who meets the
    program's bar exactly and carries no flag or strength; rules multiply the odds
    (``chance / (1 - chance)``) and cap the chance. The result is kept within ``floor`` and
    ``ceiling`` (no program is certain, none impossible while the applicant is eligible). A
    program is "likely" at ``likely`` or above, "target" at ``target`` or above, "reach" below.
    """

    base: float = 0.05
    target: float = 0.07
    likely: float = 0.2
    floor: float = 0.001
    ceiling: float = 0.9

    def tier(self, chance: float) -> str:
        if chance >= self.likely:
            return "likely"
        if chance >= self.target:
            return "target"
        return "reach"


@frozen
class Estimate:
    """A named per-program estimate: ``start`` plus what the program-stage ``estimate`` rules add.

    Rules read it as ``estimate.NAME`` (an estimated Step 2 CK screen, say); it is resolved
    before the program stage, so reading it never depends on firing order.
    """

    name: str
    start: float
    description: str = ""
    source: str = ""
    unit: str = ""
    ruleset: str = ""
    loc: Location = attrs.field(factory=Location, eq=False)


@frozen
class Group:
    """A named set of programs the list stage bounds with ``at_most`` / ``at_least``."""

    name: str
    programs: Expr
    description: str = ""
    source: str = ""
    ruleset: str = ""
    programs_text: str = attrs.field(default="", eq=False)
    loc: Location = attrs.field(factory=Location, eq=False)


@frozen
class Lever:
    """Something an applicant can still change, declared with ``[[lever]]``.

    ``changes`` are profile changes (``step2_ck.score = 240``, ``letters += {...}``) in which
    ``{specialty}`` stands for the applicant's first preferred specialty and ``{as_of}`` for the
    evaluation year. A ``strengthen`` lever raises chances (``smartpick-rules levers`` ranks them);
    a ``widen`` lever adds eligible programs (a short list reports how many each would add).
    """

    id: str
    title: str
    changes: tuple[str, ...]
    kind: str = "strengthen"
    when: tuple[Expr, ...] = ()
    source: str = ""
    description: str = ""
    ruleset: str = ""
    loc: Location = attrs.field(factory=Location, eq=False)


LEVER_KINDS = ("strengthen", "widen")


@frozen
class RuleSetInfo:
    """One loaded rule-set file, for provenance."""

    name: str
    version: str
    description: str = ""
    requires: tuple[str, ...] = ()
    path: str = ""
    sha256: str = ""
    disables: tuple[str, ...] = ()


@frozen
class RuleSet:
    """The effective, type-checked rule set: every enabled rule of every loaded file, composed.

    Immutable and safe to share between threads; engines cache their compiled form on it.
    """

    rules: tuple[Rule, ...]
    rulesets: tuple[RuleSetInfo, ...] = ()
    chance: ChanceModel = attrs.field(factory=ChanceModel)
    estimates: tuple[Estimate, ...] = ()
    groups: tuple[Group, ...] = ()
    levers: tuple[Lever, ...] = ()
    disabled: tuple[Rule, ...] = ()
    """Rules present in a file but disabled (by ``enabled = false`` or a later ``disable``)."""
    overridden: tuple[Rule, ...] = ()
    """Rules replaced by a later rule set's override, for ``--effective`` listings."""
    properties: tuple[Property, ...] = ()
    """The enabled properties the loaded rule sets declare (docs/properties.md)."""
    disabled_properties: tuple[Property, ...] = ()
    """Properties declared but disabled (``enabled = false`` or a later ``disable``)."""
    _compiled: dict[Any, Any] = attrs.field(factory=dict, eq=False, repr=False, alias="_compiled")

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __reduce__(self) -> tuple[Any, ...]:
        # Compiled plans key expression nodes by id(); those ids mean nothing in another
        # process, so a pickled rule set travels without its cache and recompiles on use.
        return (
            RuleSet,
            (
                self.rules,
                self.rulesets,
                self.chance,
                self.estimates,
                self.groups,
                self.levers,
                self.disabled,
                self.overridden,
                self.properties,
                self.disabled_properties,
            ),
        )

    def get(self, rule_id: str) -> Rule | None:
        for r in self.rules:
            if r.id == rule_id:
                return r
        return None

    def get_property(self, property_id: str) -> Property | None:
        for p in self.properties:
            if p.id == property_id:
                return p
        return None

    def stage(self, stage: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.stage == stage)

    def estimate(self, name: str) -> Estimate | None:
        return next((e for e in self.estimates if e.name == name), None)

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name == name), None)

    def compiled_cache(self) -> dict[Any, Any]:
        return self._compiled

    def describe(self) -> str:
        """A table of the effective rules, for ``--effective`` listings."""
        lines = []
        for r in sorted(self.rules, key=lambda r: (_STAGE_ORDER[r.stage], *r.order_key)):
            lines.append(f"{r.stage:8} {r.salience:>5}  {r.id:40} {r.then.describe()}  [{r.ruleset}]")
        return "\n".join(lines)


_STAGE_ORDER = {s: i for i, s in enumerate(STAGES)}
