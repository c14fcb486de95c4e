"""Type-checking expressions against the fact schema, and the rule set's load-time checks.

Each check yields diagnostics; nothing here raises on the first problem, so a rule file with
five mistakes is reported with five lines. The checks:

* every path exists in the schema for the rule's stage (``program.`` only in the program
  stage, ``list.`` only in the list stage), with "did you mean" on a typo;
* operators get operands of the right type, and string literals compared with an enumerated
  field are values of that enumeration (``program.region == "la_county"``);
* only whitelisted functions are called, with the right number and types of arguments;
* every tag read with ``has()`` is set by some rule of the same or an earlier stage;
* two rules that ``set`` the same target (or the breadth) with the same salience agree;
* negation over tags is stratified: a rule reading ``not has("x")`` must not (even through
  other rules) be what sets ``x``, or the outcome would depend on firing order.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from ..domain.states import US_STATES, normalise_state
from ..errors import Diagnostic, Location, did_you_mean
from ..language.expr import (
    Arith,
    BoolOp,
    Call,
    Compare,
    Expr,
    IfElse,
    ListLiteral,
    Literal,
    Neg,
    Not,
    Path,
    iter_nodes,
)
from ..language.facts import ANY, BOOL, NULL, NUMBER, STRING, FactType, record_fields, root_types
from ..language.functions import BUILTINS, function_help, tag_read
from ..language.ir import STAGES, Estimate, Group, Lever, Rule, Template
from ..limits import DEFAULT_LIMITS, Limits, limit_help
from ..records import frozen

__all__ = ["RuleAnalysis", "RuleFacts", "analyse_rules", "check_rules", "stratify"]

_STATE_CODES = tuple(US_STATES)
SET_TARGETS: dict[str, dict[str, FactType]] = {
    "program": {},
    "list": {"interview_target": NUMBER},
}


@frozen
class RuleFacts:
    """What checking learned about one rule, for compilers and lints."""

    paths: tuple[str, ...]
    tags_read: frozenset[str]
    tags_read_negatively: frozenset[str]
    reads_program: bool


class _ExprChecker:
    def __init__(
        self,
        stage: str,
        rule_id: str,
        tags: dict[str, set[str]],
        derived: dict[str, FactType],
        estimates: frozenset[str] = frozenset(),
        extra_roots: dict[str, FactType] | None = None,
    ) -> None:
        self.stage = stage
        #: roots beyond the rule stages' (a property's ``result.``)
        self.extra_roots = extra_roots or {}
        self.rule_id = rule_id
        self.tags = tags
        self.derived = derived
        self.estimates = estimates
        self.diags: list[Diagnostic] = []
        self.paths: list[str] = []
        self.tags_pos: set[str] = set()
        self.tags_neg: set[str] = set()
        self.reads_program = False

    def error(self, code: str, message: str, loc: Location, help: str | None = None, suggestion: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, loc, self.rule_id, help, suggestion))

    def visible_tags(self) -> set[str]:
        out: set[str] = set()
        for st in STAGES[: STAGES.index(self.stage) + 1]:
            if self.stage == "list" and st == "program":
                continue  # program tags are per program: read them as item.tags
            out |= self.tags.get(st, set())
        return out

    # polarity: +1 positive, -1 under a `not`, 0 inside a comparison or call (either way)
    def check(self, e: Expr, scope: dict[str, FactType], polarity: int = 1) -> FactType:
        if isinstance(e, Literal):
            v = e.value
            if v is None:
                return NULL
            if isinstance(v, bool):
                return BOOL
            if isinstance(v, int | float):
                return NUMBER
            return STRING
        if isinstance(e, ListLiteral):
            elem: FactType = ANY
            for item in e.items:
                t = self.check(item, scope, 0)
                if t.kind in ("list", "record"):
                    self.error("type_error", "a list literal holds numbers, strings or booleans", item.loc)
                elif elem.kind == "any":
                    elem = t.required()
                elif t.kind != elem.kind and t.kind != "null":
                    self.error("type_error", f"list mixes {elem.describe()} and {t.describe()}", item.loc)
            return FactType("list", elem=elem)
        if isinstance(e, Path):
            return self.path_type(e, scope)
        if isinstance(e, Not):
            t = self.check(e.operand, scope, -polarity)
            self.want(t, "bool", e.operand, "`not` needs a condition")
            return BOOL
        if isinstance(e, Neg):
            t = self.check(e.operand, scope, 0)
            self.want(t, "number", e.operand, "`-` needs a number")
            return FactType("number", optional=t.optional)
        if isinstance(e, BoolOp):
            for o in e.operands:
                t = self.check(o, scope, polarity)
                self.want(t, "bool", o, f"`{e.op}` joins conditions")
            return BOOL
        if isinstance(e, Compare):
            return self.compare(e, scope)
        if isinstance(e, Arith):
            lt = self.check(e.left, scope, 0)
            rt = self.check(e.right, scope, 0)
            self.want(lt, "number", e.left, f"`{e.op}` works on numbers")
            self.want(rt, "number", e.right, f"`{e.op}` works on numbers")
            return FactType("number", optional=lt.optional or rt.optional or e.op in ("/", "%"))
        if isinstance(e, Call):
            return self.call(e, scope, polarity)
        if isinstance(e, IfElse):
            tt = self.check(e.test, scope, 0)
            self.want(tt, "bool", e.test, "the test of `a if test else b` is a condition")
            at = self.check(e.then, scope, 0)
            bt = self.check(e.orelse, scope, 0)
            self.want(at, "number", e.then, "`a if test else b` chooses between numbers")
            self.want(bt, "number", e.orelse, "`a if test else b` chooses between numbers")
            return FactType("number", optional=at.optional or bt.optional)
        raise TypeError(e)

    def want(self, t: FactType, kind: str, e: Expr, why: str) -> None:
        if t.kind == kind or t.kind == "any":
            return
        if t.kind == "null":
            self.error("type_error", f"{why}, got `none`", e.loc, help="test presence with known(path)")
            return
        self.error("type_error", f"{why}, got {t.describe()}", e.loc)

    def path_type(self, e: Path, scope: dict[str, FactType]) -> FactType:
        root = e.root
        roots = root_types()
        if root == "item":
            if "item" not in scope:
                self.error(
                    "unknown_field",
                    "`item` is only defined inside count(), total(), any() and all()",
                    e.loc,
                )
                return ANY
            t = scope["item"]
        elif root == "derived":
            if self.stage == "profile":
                self.error(
                    "stage_error",
                    "`derived.` values are set in the profile stage and readable only in later stages",
                    e.loc,
                )
                return ANY
            if not e.parts:
                self.error("unknown_field", "`derived` needs a name: derived.NAME", e.loc)
                return ANY
            name = e.parts[0]
            if name not in self.derived:
                self.error(
                    "unknown_field",
                    f"no profile-stage rule sets `{name}`",
                    e.loc,
                    suggestion=did_you_mean(name, self.derived),
                    help="derived values come from `set = {{ NAME = value }}` in profile-stage rules",
                )
                return ANY
            if len(e.parts) > 1:
                self.error("unknown_field", f"`derived.{name}` has no fields", e.loc)
            self.paths.append(e.dotted)
            return attrs.evolve(self.derived[name], optional=True)
        elif root == "estimate":
            if self.stage != "program":
                self.error(
                    "stage_error",
                    f"`estimate.` values are per program, readable only in the program stage (this rule is in the {self.stage} stage)",
                    e.loc,
                )
                return ANY
            if len(e.parts) != 1:
                self.error("unknown_field", "an estimate is read as estimate.NAME", e.loc)
                return ANY
            name = e.parts[0]
            if name not in self.estimates:
                self.error(
                    "unknown_field",
                    f"no [[estimate]] is named `{name}`",
                    e.loc,
                    suggestion=did_you_mean(name, self.estimates),
                    help="declare it with [[estimate]] name = \"...\", start = N in a rule set this one requires",
                )
                return ANY
            self.paths.append(e.dotted)
            self.reads_program = True
            return NUMBER
        elif root == "program":
            if self.stage != "program":
                self.error(
                    "stage_error",
                    f"`program.` is readable only in the program stage (this rule is in the {self.stage} stage)",
                    e.loc,
                    help="in the list stage, read programs through count(list.programs, item.region == ...)",
                )
                return ANY
            self.reads_program = True
            t = roots[root]
        elif root == "list":
            if self.stage != "list":
                self.error(
                    "stage_error",
                    f"`list.` is readable only in the list stage (this rule is in the {self.stage} stage)",
                    e.loc,
                )
                return ANY
            t = roots[root]
        elif root in self.extra_roots:
            t = self.extra_roots[root]
        elif root not in roots:
            self.error(
                "stage_error",
                f"`{root}.` is readable only in a property's `holds` condition, not in a rule",
                e.loc,
                help="see docs/properties.md",
            )
            return ANY
        else:
            t = roots[root]
        optional = t.optional
        walked = [root]
        for part in e.parts:
            if t.kind == "list":
                self.error(
                    "type_error",
                    f"`{'.'.join(walked)}` is a list; it has no field `{part}`",
                    e.loc,
                    help=f"use count({'.'.join(walked)}, item.{part} == ...) or any(...)",
                )
                return ANY
            if t.kind != "record" or t.record is None:
                self.error("type_error", f"`{'.'.join(walked)}` is a {t.describe()}; it has no field `{part}`", e.loc)
                return ANY
            fields = record_fields(t.record)
            if part not in fields:
                hint = did_you_mean(part, fields)
                self.error(
                    "unknown_field",
                    f"`{'.'.join(walked)}` has no field `{part}`",
                    e.loc,
                    suggestion=".".join([*walked, hint]) if hint else None,
                    help=None if hint else f"fields: {', '.join(sorted(fields))}",
                )
                return ANY
            t = fields[part]
            optional = optional or t.optional
            walked.append(part)
        if root != "item":
            self.paths.append(e.dotted)
        return attrs.evolve(t, optional=optional)

    def compare(self, e: Compare, scope: dict[str, FactType]) -> FactType:
        lt = self.check(e.left, scope, 0)
        rt = self.check(e.right, scope, 0)
        if lt.kind == "any" or (rt.kind == "any" and e.op not in ("in", "not in")):
            return BOOL
        if e.op in ("in", "not in"):
            if rt.kind != "list":
                self.error("type_error", f"right side of `{e.op}` must be a list, got {rt.describe()}", e.right.loc)
                return BOOL
            elem = rt.elem or ANY
            if lt.kind == "null":
                self.error("type_error", "`none` cannot be looked up in a list", e.left.loc, help="use known(path)")
            elif elem.kind != "any" and lt.kind != elem.kind:
                self.error("type_error", f"cannot look for {lt.describe()} in a list of {elem.describe()}", e.loc)
            else:
                self.enum_literal(lt, e.right)
                self.enum_literal(elem, e.left)
            return BOOL
        if lt.kind == "null" or rt.kind == "null":
            self.error(
                "type_error",
                "comparing with `none` is never true or false",
                e.loc,
                help="test presence with known(path)",
            )
            return BOOL
        if e.op in ("<", "<=", ">", ">="):
            if lt.kind != "number" or rt.kind != "number":
                self.error(
                    "type_error",
                    f"`{e.op}` compares numbers; got {lt.describe()} and {rt.describe()}",
                    e.loc,
                )
            return BOOL
        if lt.kind != rt.kind:
            self.error("type_error", f"`{e.op}` compares {lt.describe()} with {rt.describe()}", e.loc)
            return BOOL
        if lt.kind in ("list", "record"):
            self.error("type_error", f"`{e.op}` cannot compare {lt.describe()} values", e.loc)
            return BOOL
        self.enum_literal(lt, e.right)
        self.enum_literal(rt, e.left)
        return BOOL

    def enum_literal(self, t: FactType, other: Expr) -> None:
        """If ``t`` is an enumeration, string literals on the other side must be its values."""
        if not t.enum:
            return
        lits: Sequence[Expr] = other.items if isinstance(other, ListLiteral) else [other]
        for lit in lits:
            if isinstance(lit, Literal) and isinstance(lit.value, str) and lit.value not in t.enum:
                hint = did_you_mean(lit.value, t.enum)
                if t.enum == _STATE_CODES:
                    with contextlib.suppress(ValueError):
                        hint = normalise_state(lit.value)  # "Texas" or "tx": the code is TX
                self.error(
                    "type_error",
                    f'"{lit.value}" is never a value of this field',
                    lit.loc,
                    suggestion=hint,
                    help=None if hint else f"values: {', '.join(t.enum)}",
                )

    def read_tag(self, tag: str, polarity: int) -> None:
        """Record a tag read by has(): positively, or under a `not` or inside a comparison."""
        if polarity > 0:
            self.tags_pos.add(tag)
        else:
            self.tags_neg.add(tag)

    def call(self, e: Call, scope: dict[str, FactType], polarity: int) -> FactType:
        spec = BUILTINS.get(e.func)
        if spec is None:
            self.error(
                "unknown_function",
                f"unknown function `{e.func}`",
                e.loc,
                suggestion=did_you_mean(e.func, BUILTINS),
                help=function_help(),
            )
            for a in e.args:
                self.check(a, scope, 0)
            return ANY
        n = len(e.args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            self.error("type_error", f"`{e.func}` takes {spec.takes()}, got {n}", e.loc, help=spec.usage())
            return ANY
        return spec.type_rule(spec, self, e, scope, polarity)


def check_expression(
    e: Expr,
    stage: str,
    *,
    rule_id: str = "",
    tags: dict[str, set[str]] | None = None,
    derived: dict[str, FactType] | None = None,
    want: str | None = "bool",
    estimates: frozenset[str] = frozenset(),
    extra_roots: dict[str, FactType] | None = None,
) -> tuple[FactType, list[Diagnostic], _ExprChecker]:
    """Type of ``e`` in ``stage``, with the diagnostics found.

    ``extra_roots`` adds fact roots a rule cannot read (a property's ``result.``).
    """
    c = _ExprChecker(stage, rule_id, tags or {}, derived or {}, estimates, extra_roots)
    t = c.check(e, {})
    if want is not None and t.kind not in (want, "any") and not c.diags:
        c.want(t, want, e, "a `when` clause must be a condition" if want == "bool" else f"expected {want}")
    return t, c.diags, c


def _literal_type(v: Any) -> FactType:
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int | float):
        return NUMBER
    return STRING


@frozen(eq=False)
class RuleAnalysis:
    """Everything checking learned about a rule set: what it found, per-rule facts, strata."""

    diagnostics: tuple[Diagnostic, ...]
    facts: dict[str, RuleFacts]
    strata: dict[str, int]


def check_rules(
    rules: Sequence[Rule],
    limits: Limits = DEFAULT_LIMITS,
    *,
    estimates: Sequence[Estimate] = (),
    groups: Sequence[Group] = (),
    levers: Sequence[Lever] = (),
) -> tuple[list[Diagnostic], dict[str, RuleFacts]]:
    """Type-check every rule of an effective rule set (and its estimates, groups and levers);
    return diagnostics and per-rule facts."""
    analysis = analyse_rules(rules, limits, estimates=estimates, groups=groups, levers=levers)
    return list(analysis.diagnostics), analysis.facts


def analyse_rules(
    rules: Sequence[Rule],
    limits: Limits = DEFAULT_LIMITS,
    *,
    estimates: Sequence[Estimate] = (),
    groups: Sequence[Group] = (),
    levers: Sequence[Lever] = (),
) -> RuleAnalysis:
    """`check_rules`, keeping the strata too: loading does it once and the planner reuses it."""
    diags: list[Diagnostic] = []
    tags: dict[str, set[str]] = defaultdict(set)
    derived: dict[str, FactType] = {}
    first_setter: dict[str, Rule] = {}
    for r in rules:
        tags[r.stage].update(r.then.tags)
        if r.stage == "profile":
            for name, value in r.then.sets:
                t = _literal_type(value)
                if name in derived and derived[name].kind != t.kind:
                    # engines compare derived values as one type; a string in one rule and a
                    # number in another would fail (or silently differ) at run time
                    other = first_setter[name]
                    diags.append(
                        Diagnostic(
                            "type_error",
                            f"sets derived.{name} to a {t.kind}, but `{other.id}` sets it to a {derived[name].kind}",
                            r.loc,
                            r.id,
                            help="a derived value has one type: use the same kind of value in every rule that sets it",
                        )
                    )
                    continue
                derived.setdefault(name, t)
                first_setter.setdefault(name, r)
    all_tags = set().union(*tags.values()) if tags else set()
    if len(all_tags) > limits.max_tags:
        diags.append(
            Diagnostic("limit_exceeded", f"{len(all_tags)} distinct tags, more than the limit of {limits.max_tags}", Location(), help=limit_help("max_tags"))
        )
    estimate_names = frozenset(e.name for e in estimates)
    group_names = frozenset(g.name for g in groups)
    facts: dict[str, RuleFacts] = {}
    for r in rules:
        checker = _ExprChecker(r.stage, r.id, tags, derived, estimate_names)
        for clause in r.when:
            t = checker.check(clause, {})
            if t.kind not in ("bool", "any"):
                checker.error("type_error", f"a `when` clause must be a condition, got {t.describe()}", clause.loc)
        diags.extend(checker.diags)
        diags.extend(_check_effect(r, tags, derived, estimate_names, group_names))
        facts[r.id] = RuleFacts(
            tuple(dict.fromkeys(checker.paths)),
            frozenset(checker.tags_pos),
            frozenset(checker.tags_neg),
            checker.reads_program,
        )
    for g in groups:
        # a group is decided per program before the list stage: the program's own fields, the
        # applicant, derived values, profile tags and estimates, never program-stage tags
        profile_only = {"profile": tags.get("profile", set())}
        checker = _ExprChecker("program", f"group {g.name}", profile_only, derived, estimate_names)
        t = checker.check(g.programs, {})
        if t.kind not in ("bool", "any"):
            checker.error("type_error", f"a group's `programs` is a condition, got {t.describe()}", g.programs.loc)
        diags.extend(attrs.evolve(d, rule_id=None, message=f"group `{g.name}`: {d.message}") for d in checker.diags)
    for lever in levers:
        # a lever is offered by what the profile stage knows: the applicant and profile tags
        checker = _ExprChecker("profile", lever.id, {"profile": tags.get("profile", set())}, {}, estimate_names)
        for clause in lever.when:
            t = checker.check(clause, {})
            if t.kind not in ("bool", "any"):
                checker.error("type_error", f"a lever's `when` is a condition, got {t.describe()}", clause.loc)
        diags.extend(checker.diags)
    diags.extend(_check_conflicts(rules))
    strata_diags, strata = stratify(rules, facts)
    diags.extend(strata_diags)
    return RuleAnalysis(tuple(diags), facts, strata)


#: effect -> stages it may appear in
_EFFECT_STAGES = {
    "exclude": ("program",),
    "priority": ("program",),
    "odds": ("profile", "program"),
    "chance_cap": ("profile", "program"),
    "tier_at_most": ("profile", "program"),
    "estimate": ("program",),
    "breadth": ("list",),
    "at_most": ("list",),
    "at_least": ("list",),
}
_EFFECT_WHY = {
    "exclude": "`exclude` removes a program, so it belongs in the program stage",
    "priority": "`priority` orders programs, so it belongs in the program stage",
    "odds": "`odds` moves chances of an interview, decided before the list stage (profile or program stage)",
    "chance_cap": "`chance_cap` bounds chances of an interview, decided before the list stage (profile or program stage)",
    "tier_at_most": "`tier_at_most` bounds tiers, decided before the list stage (profile or program stage)",
    "estimate": "`estimate` adds to a per-program estimate, so it belongs in the program stage",
    "breadth": "`breadth` belongs in the list stage",
    "at_most": "`at_most` bounds how many programs of a group the list takes, so it belongs in the list stage",
    "at_least": "`at_least` keeps places in the list for a group, so it belongs in the list stage",
}


def _check_effect(
    r: Rule,
    tags: dict[str, set[str]],
    derived: dict[str, FactType],
    estimates: frozenset[str] = frozenset(),
    groups: frozenset[str] = frozenset(),
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    eff = r.then

    def err(msg: str, help: str | None = None, code: str = "stage_error", loc: Location | None = None) -> None:
        out.append(Diagnostic(code, msg, loc or r.loc, r.id, help))

    present = {
        "exclude": eff.exclude is not None,
        "priority": eff.priority is not None,
        "odds": eff.odds is not None,
        "chance_cap": eff.chance_cap is not None,
        "tier_at_most": eff.tier_at_most is not None,
        "estimate": bool(eff.estimate),
        "breadth": eff.breadth is not None,
        "at_most": bool(eff.at_most),
        "at_least": bool(eff.at_least),
    }
    for name, here in present.items():
        if here and r.stage not in _EFFECT_STAGES[name]:
            err(_EFFECT_WHY[name])

    def number(e: Expr, what: str, stage: str | None = None, allow_optional: bool = True) -> None:
        c = _ExprChecker(stage or r.stage, r.id, tags, derived, estimates)
        t = c.check(e, {})
        out.extend(c.diags)
        if t.kind not in ("number", "any"):
            out.append(Diagnostic("type_error", f"{what} is a number, got {t.describe()}", e.loc, r.id))
        elif t.optional and not allow_optional:
            out.append(
                Diagnostic(
                    "type_error",
                    f"{what} may read a value that is not set; it must always have one",
                    e.loc,
                    r.id,
                    help="read only values that are always present, or move the value into `when` with known(...)",
                )
            )

    if r.stage in ("profile", "program"):
        if eff.odds is not None:
            number(eff.odds, "`odds`")
        if eff.chance_cap is not None:
            number(eff.chance_cap, "`chance_cap`")
    if eff.estimate and r.stage == "program":
        others = [k for k, v in present.items() if v and k != "estimate"] + (["tag"] if eff.tags else [])
        others += ["advice"] if eff.advice is not None else []
        others += ["set"] if eff.sets else []
        if others:
            err(
                "a rule that adds to an estimate does nothing else (it also has " + ", ".join(others) + ")",
                help="estimates are resolved before the program stage runs; split the rule in two",
            )
        for name, value in eff.estimate:
            if name not in estimates:
                out.append(
                    Diagnostic(
                        "unknown_field",
                        f"no [[estimate]] is named `{name}`",
                        value.loc,
                        r.id,
                        suggestion=did_you_mean(name, estimates),
                    )
                )
            number(value, f"`estimate.{name}`", allow_optional=False)
        for clause in (*r.when, *(v for _k, v in eff.estimate)):
            for node in iter_nodes(clause):
                if isinstance(node, Path) and node.root == "estimate":
                    err("an estimate rule may not read estimates (they are resolved together)", code="stage_error", loc=node.loc)
                elif (tag := tag_read(node)) is not None and tag in tags.get("program", set()) and tag not in tags.get(
                    "profile", set()
                ):
                    err(
                        "an estimate rule may not read program-stage tags: estimates are resolved before the program stage",
                        loc=node.loc,
                    )
    if r.stage == "list":
        from ..language.facts import CHOSEN_FACTS

        chosen_reads = sorted(
            {
                n.parts[0]
                for e in (*r.when, *(t.fields for t in (r.explain, eff.advice) if t is not None))
                for x in (e if isinstance(e, tuple) else (e,))
                for n in iter_nodes(x)
                if isinstance(n, Path) and n.root == "list" and n.parts and n.parts[0] in CHOSEN_FACTS
            }
        )
        deciding = [k for k in ("breadth", "at_most", "at_least") if present[k]] + (["set"] if eff.sets else [])
        deciding += ["tag"] if eff.tags else []
        if chosen_reads and deciding:
            err(
                f"reads the chosen list (list.{chosen_reads[0]}) and also decides the list ({', '.join(deciding)})",
                help="a rule that reads list.chosen_count, list.expected_interviews and the like runs once the list "
                "is chosen, so it may only give advice; split it in two",
            )
    if eff.breadth is not None and r.stage == "list":
        for bound in (eff.breadth.min, eff.breadth.max):
            number(bound, "a breadth bound", "list")
    for kind, table in (("at_most", eff.at_most), ("at_least", eff.at_least)):
        if r.stage != "list":
            continue
        for name, value in table:
            if name not in groups:
                out.append(
                    Diagnostic(
                        "unknown_field",
                        f"no [[group]] is named `{name}`",
                        value.loc,
                        r.id,
                        suggestion=did_you_mean(name, groups),
                        help="declare it with [[group]] name = \"...\", programs = \"condition on program\"",
                    )
                )
            number(value, f"`{kind}.{name}`", "list")
    for name, value in eff.sets:
        if r.stage == "profile":
            continue
        allowed = SET_TARGETS[r.stage]
        if name not in allowed:
            targets = ", ".join(allowed) or "none"
            err(
                f"`set` target `{name}` has no meaning in the {r.stage} stage",
                help=f"targets here: {targets}; profile-stage rules may set any name, read later as derived.NAME",
                code="unknown_field",
            )
            continue
        want = allowed[name]
        if want.enum and value not in want.enum:
            err(f"`set {name}` must be one of {', '.join(want.enum)}, got {value!r}", code="type_error")
        elif want.kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            err(f"`set {name}` must be a number, 0 or more, got {value!r}", code="type_error")
    for template in (r.explain, eff.exclude, eff.advice):
        if template is not None:
            out.extend(_check_template(template, r, tags, derived, estimates))
    return out


def _check_template(
    t: Template, r: Rule, tags: dict[str, set[str]], derived: dict[str, FactType], estimates: frozenset[str] = frozenset()
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for p in t.fields:
        c = _ExprChecker(r.stage, r.id, tags, derived, estimates)
        ft = c.check(p, {})
        for d in c.diags:
            out.append(attrs.evolve(d, code="template_error" if d.code == "unknown_field" else d.code, message="in a template: " + d.message))
        if ft.kind == "record":
            shown = p.dotted if isinstance(p, Path) else "..."
            out.append(Diagnostic("template_error", f"`{{{shown}}}` is a whole record; name one of its fields", p.loc, r.id))
        elif ft.kind == "list" and ft.elem is not None and ft.elem.kind == "record":
            shown = p.dotted if isinstance(p, Path) else "..."
            out.append(
                Diagnostic(
                    "template_error",
                    f"`{{{shown}}}` is a whole list of records; name a number instead (like {{list.size}})",
                    p.loc,
                    r.id,
                )
            )
    return out


def _check_conflicts(rules: Sequence[Rule]) -> list[Diagnostic]:
    """Two rules setting one target at equal salience must agree, or the winner is arbitrary."""
    out: list[Diagnostic] = []
    setters: dict[tuple[str, str, int], list[tuple[Rule, Any]]] = defaultdict(list)
    for r in rules:
        for name, value in r.then.sets:
            setters[(r.stage, name, r.salience)].append((r, value))
        if r.then.breadth is not None:
            setters[(r.stage, "breadth", r.salience)].append((r, r.then.breadth))
    for (_stage, name, salience), items in sorted(setters.items(), key=lambda kv: kv[0]):
        first_rule, first_value = items[0]
        for other, value in items[1:]:
            if value != first_value:
                out.append(
                    Diagnostic(
                        "rule_conflict",
                        f"sets `{name}` to a different value than `{first_rule.id}` at the same salience {salience}",
                        other.loc,
                        other.id,
                        help="give one of them a higher salience so the order is defined, or make them agree",
                    )
                )
    return out


def stratify(rules: Sequence[Rule], facts: dict[str, RuleFacts]) -> tuple[list[Diagnostic], dict[str, int]]:
    """Assign each rule a stratum within its stage so negation over tags is well defined.

    A rule reading tag ``t`` positively sits in a stratum at least that of every rule setting
    ``t``; reading it negatively, strictly above. A cycle through a negative read has no such
    assignment and is refused (``negative_cycle``).

    Linear in rules plus tag reads: the dependency graph goes through one node per tag (a rule
    setting ``t`` -> ``t`` -> a rule reading ``t``) rather than an edge per setter and reader, its
    strongly connected components are found once (iteratively, so no chain is too long for
    Python's stack), and a stratum is the longest path to a rule, counting negative edges.
    """
    diags: list[Diagnostic] = []
    strata: dict[str, int] = {}
    for stage in STAGES:
        stage_rules = [r for r in rules if r.stage == stage]
        if not stage_rules:
            continue
        # nodes: rules 0..n-1, then tags; edges carry 1 for a negative read, else 0
        n = len(stage_rules)
        tag_node: dict[str, int] = {}
        edges: list[list[tuple[int, int]]] = [[] for _ in range(n)]

        for i, r in enumerate(stage_rules):
            for t in r.then.tags:
                k = tag_node.get(t)
                if k is None:
                    k = tag_node[t] = len(edges)
                    edges.append([])
                edges[i].append((k, 0))
        for i, r in enumerate(stage_rules):
            f = facts.get(r.id)
            if f is None:
                continue
            for t in sorted(f.tags_read):
                if t in tag_node:
                    edges[tag_node[t]].append((i, 0))
            for t in sorted(f.tags_read_negatively):
                if t in tag_node:
                    edges[tag_node[t]].append((i, 1))
        component = _strongly_connected(edges)
        # a negative edge inside a component is a cycle through negation; report the rules reading it
        bad_components: set[int] = set()
        bad: list[Rule] = []
        for i, r in enumerate(stage_rules):
            f = facts.get(r.id)
            if f is not None and any(
                t in tag_node and component[tag_node[t]] == component[i] for t in f.tags_read_negatively
            ):
                bad_components.add(component[i])
                bad.append(r)
        for r in sorted(bad, key=lambda r: r.id):
            diags.append(
                Diagnostic(
                    "negative_cycle",
                    "reads `not has(...)` of a tag that it, through other rules, sets itself; "
                    "the result would depend on firing order",
                    r.loc,
                    r.id,
                    help="break the cycle: test a fact instead of the tag, or split the rule",
                )
            )
        level = _longest_paths(edges, component)
        for i, r in enumerate(stage_rules):
            strata[r.id] = 0 if component[i] in bad_components else level[i]
    return diags, strata


def _strongly_connected(edges: Sequence[Sequence[tuple[int, int]]]) -> list[int]:
    """Tarjan's algorithm, without recursion: the strongly connected component of each node.

    Components are numbered in reverse topological order: an edge ``u -> v`` always goes from
    a component numbered higher than or equal to ``v``'s.
    """
    n = len(edges)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    component = [-1] * n
    stack: list[int] = []
    counter = 0
    components = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            u, pos = work.pop()
            if pos == 0:
                index[u] = low[u] = counter
                counter += 1
                stack.append(u)
                on_stack[u] = True
            out = edges[u]
            recursed = False
            while pos < len(out):
                v = out[pos][0]
                pos += 1
                if index[v] == -1:
                    work.append((u, pos))
                    work.append((v, 0))
                    recursed = True
                    break
                if on_stack[v]:
                    low[u] = min(low[u], index[v])
            if recursed:
                continue
            if low[u] == index[u]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    component[w] = components
                    if w == u:
                        break
                components += 1
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[u])
    return component


def _longest_paths(edges: Sequence[Sequence[tuple[int, int]]], component: Sequence[int]) -> list[int]:
    """Per node, the longest path to it counting edge weights, taken over the components.

    Tarjan numbers components so every edge goes from a higher number to a lower or equal one;
    walking components from the highest number down visits every edge's source first. Edges
    inside a component weigh 0 here (a component with a weighted edge inside is refused before).
    """
    count = max(component, default=-1) + 1
    members: list[list[int]] = [[] for _ in range(count)]
    for u, c in enumerate(component):
        members[c].append(u)
    level = [0] * count
    for c in range(count - 1, -1, -1):
        for u in members[c]:
            for v, w in edges[u]:
                cv = component[v]
                if cv != c and level[cv] < level[c] + w:
                    level[cv] = level[c] + w
    return [level[component[u]] for u in range(len(component))]


def tag_dependency_cycles(rules: Iterable[Rule], facts: dict[str, RuleFacts]) -> list[list[str]]:
    """Cycles in tag derivation (a rule reading a tag that, through rules, it sets): lint only."""
    graph: dict[str, set[str]] = defaultdict(set)
    for r in rules:
        f = facts.get(r.id)
        if f is None:
            continue
        for read in f.tags_read | f.tags_read_negatively:
            for t in r.then.tags:
                graph[read].add(t)
    cycles: list[list[str]] = []
    color: dict[str, int] = {}
    stack: list[str] = []
    position: dict[str, int] = {}
    # depth-first search with an explicit stack of (node, its successors still to visit): a
    # valid chain of thousands of tags must not exhaust Python's stack
    for node in sorted(graph):
        if color.get(node, 0) != 0:
            continue
        color[node] = 1
        position[node] = len(stack)
        stack.append(node)
        work: list[tuple[str, Iterator[str]]] = [(node, iter(sorted(graph.get(node, ()))))]
        while work:
            u, successors = work[-1]
            for v in successors:
                state = color.get(v, 0)
                if state == 0:
                    color[v] = 1
                    position[v] = len(stack)
                    stack.append(v)
                    work.append((v, iter(sorted(graph.get(v, ())))))
                    break
                if state == 1:
                    cycles.append([*stack[position[v]:], v])
            else:
                work.pop()
                stack.pop()
                color[u] = 2
    return cycles
