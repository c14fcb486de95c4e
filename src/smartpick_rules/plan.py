"""Compiling a checked RuleSet into a Plan: the engine-neutral form every engine runs.

The plan fixes, for each stage, which rules run in which stratum (negation over tags is
stratified, see ``smartpick_rules.analysis.check.stratify``), splits each program-stage condition
into the clauses that read only the applicant (decided once per evaluation) and those that
read the program (run in bulk over the catalog), and lists the values each rule's audit entry
reports. Engines (``smartpick_rules.engines``) compile the plan further for themselves.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import attrs

from .analysis.check import RuleAnalysis, RuleFacts, analyse_rules
from .errors import RulesetError
from .language.expr import (
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
    children,
    conjuncts,
    count_nodes,
    iter_nodes,
    program_nodes,
)
from .language.functions import Strict, builtin, is_fold, tag_read
from .language.interp import ScalarCompiler
from .language.ir import STAGES, Group, Rule, RuleSet
from .language.vector import VectorCompiler
from .limits import DEFAULT_LIMITS, Limits
from .records import frozen

__all__ = ["CompiledGroup", "CompiledRule", "Plan", "StagePlan", "plan_ruleset", "resolve_estimates"]


@frozen(eq=False)
class CompiledRule:
    rule: Rule
    #: position in its stage's ``rules`` (which are in audit order)
    index: int
    stratum: int
    clauses: tuple[Expr, ...]
    #: clauses that read only the applicant, profile tags and derived values
    applicant_clauses: tuple[Expr, ...]
    #: clauses that read the program or program-stage tags
    program_clauses: tuple[Expr, ...]
    #: program-stage tags the program clauses read (the rule is re-run when they change)
    program_tags_read: frozenset[str]
    #: paths whose values the audit entry reports, in the order they appear
    paths: tuple[Path, ...]
    #: what the audit entry reports: (key, expression, depends on the program), in order.
    #: A collection function is reported by its value (``count(list.programs, ...)``: 12),
    #: never by the whole collection it reads.
    reads: tuple[tuple[str, Expr, bool], ...]
    facts: RuleFacts
    #: ids of nodes that read the program (the rest is constant for one evaluation), in the
    #: clauses and in the effect's value expressions
    program_nodes: frozenset[int]
    #: the effect's ``odds`` and ``chance_cap`` with estimates resolved (None when absent)
    odds: Expr | None = None
    chance_cap: Expr | None = None
    #: the ``when`` conjuncts as written (``clauses`` has estimates resolved), for explanations
    written_clauses: tuple[Expr, ...] = ()
    #: a list rule that reads the chosen list (``list.chosen_count``, ...): it reviews the list
    #: once chosen and only advises
    reviews: bool = False
    #: nodes in the clauses: what evaluating the condition once costs (Limits.max_work)
    cost: int = 1

    @property
    def id(self) -> str:
        return self.rule.id


@frozen(eq=False)
class CompiledGroup:
    """A declared group with its condition resolved, decided per program before the list stage."""

    group: Group
    condition: Expr
    program_nodes: frozenset[int]

    @property
    def name(self) -> str:
        return self.group.name


@frozen(eq=False)
class StagePlan:
    stage: str
    #: rules in audit order: higher salience first, then id
    rules: tuple[CompiledRule, ...]
    #: rule indices per stratum, lowest first
    strata: tuple[tuple[int, ...], ...]
    #: tags set by this stage's rules
    tags: frozenset[str]


@frozen(eq=False)
class Plan:
    ruleset: RuleSet
    profile: StagePlan
    program: StagePlan
    list: StagePlan
    #: does any list-stage rule read list.programs (so items must be built)?
    list_reads_programs: bool
    #: each estimate's value as one expression: its start plus what its rules add
    estimates: dict[str, Expr] = attrs.field(factory=dict)
    groups: tuple[CompiledGroup, ...] = ()
    #: what engines and the runtime derive from the plan once (compiled closures, orders);
    #: never part of equality, built on first use
    cache: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    def stage(self, name: str) -> StagePlan:
        return {"profile": self.profile, "program": self.program, "list": self.list}[name]

    @property
    def scalar(self) -> ScalarCompiler:
        """This plan's expressions as closures for the scalar interpreter, compiled once."""
        c = self.cache.get("scalar")
        if c is None:
            c = self.cache.setdefault("scalar", ScalarCompiler())
        return c  # type: ignore[no-any-return]

    def vector(self, own_tags: bool = True) -> VectorCompiler:
        """Closures over a catalog's columns: program-stage conditions and effects (``own_tags``:
        ``has()`` of a program-stage tag reads the program), or groups and list columns."""
        key = "vector" if own_tags else "vector:plain"
        c = self.cache.get(key)
        if c is None:
            c = self.cache.setdefault(key, VectorCompiler(self.scalar, self.shared_nodes()))
        return c  # type: ignore[no-any-return]

    def closure(self, rules: frozenset[int]) -> frozenset[int]:
        """These program-stage rules and every rule that sets a tag one of them reads, transitively:
        what decides whether they fire."""
        setters: dict[str, set[int]] = defaultdict(set)
        for cr in self.program.rules:
            for t in cr.rule.then.tags:
                setters[t].add(cr.index)
        out = set(rules)
        todo = list(rules)
        while todo:
            cr = self.program.rules[todo.pop()]
            for t in cr.program_tags_read:
                for j in setters.get(t, ()):
                    if j not in out:
                        out.add(j)
                        todo.append(j)
        return frozenset(out)

    def shared_nodes(self) -> frozenset[int]:
        """Program-stage nodes more than one place reads (estimates, mostly): worth computing once."""
        cached = self.cache.get("shared")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        seen: dict[int, int] = {}
        roots: list[Expr] = [e for cr in self.program.rules for e in (*cr.clauses, cr.odds, cr.chance_cap) if e is not None]
        roots.extend(g.condition for g in self.groups)

        def visit(e: Expr) -> None:
            seen[id(e)] = seen.get(id(e), 0) + 1
            if seen[id(e)] == 1:
                for c in children(e):
                    visit(c)

        for e in roots:
            visit(e)
        shared = {k for k, count in seen.items() if count > 1}
        shared |= {id(e) for e in self.estimates.values()}
        out = frozenset(shared)
        self.cache["shared"] = out
        return out


def _tags_read(e: Expr) -> set[str]:
    return {tag for n in iter_nodes(e) if (tag := tag_read(n)) is not None}


def _paths(rule: Rule) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    exprs: list[Expr] = list(rule.when)
    for template in (rule.explain, rule.then.exclude, rule.then.advice):
        if template is not None:
            exprs.extend(template.fields)
    for e in exprs:
        for n in iter_nodes(e):
            if isinstance(n, Path) and n.root not in ("item",) and n.dotted not in seen:
                if n.root in ("applicant", "program", "list") and not n.parts:
                    continue
                seen[n.dotted] = n
    return tuple(seen.values())


def _estimate_expressions(ruleset: RuleSet) -> dict[str, Expr]:
    """``estimate.NAME`` as one expression: ``start + (by if condition else 0) + ...``.

    A conditional takes its value only where the condition is definitely true, exactly as the
    rule fires; the terms are in audit order so the float sum does not depend on file order.
    """
    out: dict[str, Expr] = {}
    rules = sorted((r for r in ruleset.rules if r.stage == "program" and r.then.estimate), key=lambda r: r.order_key)
    for est in ruleset.estimates:
        expr: Expr = Literal(est.start, est.loc)
        for r in rules:
            for name, value in r.then.estimate:
                if name != est.name:
                    continue
                test: Expr = r.when[0] if len(r.when) == 1 else BoolOp("and", r.when, r.loc)
                expr = Arith("+", expr, IfElse(test, value, Literal(0, r.loc), r.loc), r.loc)
        out[est.name] = expr
    return out


def resolve_estimates(e: Expr, estimates: dict[str, Expr]) -> Expr:
    """``e`` with every ``estimate.NAME`` replaced by the estimate's expression."""
    if not estimates or not any(isinstance(n, Path) and n.root == "estimate" for n in iter_nodes(e)):
        return e
    return _substitute(e, estimates)


def _substitute(e: Expr, estimates: dict[str, Expr]) -> Expr:
    if isinstance(e, Path):
        if e.root == "estimate" and e.parts and e.parts[0] in estimates:
            return estimates[e.parts[0]]
        return e
    if isinstance(e, Literal):
        return e
    if isinstance(e, ListLiteral):
        return ListLiteral(tuple(_substitute(i, estimates) for i in e.items), e.loc)
    if isinstance(e, Not):
        return Not(_substitute(e.operand, estimates), e.loc)
    if isinstance(e, Neg):
        return Neg(_substitute(e.operand, estimates), e.loc)
    if isinstance(e, BoolOp):
        return BoolOp(e.op, tuple(_substitute(o, estimates) for o in e.operands), e.loc)
    if isinstance(e, Compare):
        return Compare(e.op, _substitute(e.left, estimates), _substitute(e.right, estimates), e.loc)
    if isinstance(e, Arith):
        return Arith(e.op, _substitute(e.left, estimates), _substitute(e.right, estimates), e.loc)
    if isinstance(e, Call):
        return Call(e.func, tuple(_substitute(a, estimates) for a in e.args), e.loc)
    if isinstance(e, IfElse):
        return IfElse(
            _substitute(e.test, estimates), _substitute(e.then, estimates), _substitute(e.orelse, estimates), e.loc
        )
    raise TypeError(e)


def _reads(rule: Rule, program_tags: frozenset[str], estimates: dict[str, Expr]) -> tuple[tuple[str, Expr, bool], ...]:
    from .language.expr import to_source

    seen: dict[str, tuple[str, Expr, bool]] = {}

    def add(key: str, e: Expr) -> None:
        if key not in seen:
            seen[key] = (key, e, bool(program_nodes(e, program_tags)))

    def visit(e: Expr) -> None:
        if isinstance(e, Path):
            if e.root == "item" or (e.root in ("applicant", "program", "list") and not e.parts):
                return
            if e.root == "estimate" and e.parts and e.parts[0] in estimates:
                if e.dotted not in seen:
                    seen[e.dotted] = (e.dotted, estimates[e.parts[0]], True)
                return
            if e.root == "list" and e.parts[:1] == ("programs",):
                return  # the whole list of programs is never an audit value
            add(e.dotted, e)
            return
        spec = builtin(e)
        if (
            isinstance(e, Call)
            and spec is not None
            and isinstance(spec.impl, Strict)
            and spec.takes_list
            and isinstance(e.args[0], Path)
            and e.args[0].root == "list"
        ):
            add(to_source(e), e)  # `len(list.programs)`: its value, 412, not the programs
            return
        if is_fold(e):
            # report the call's value unless its collection itself depends on an outer item
            if not any(isinstance(n, Path) and n.root == "item" for n in iter_nodes(e.args[0])):
                add(to_source(e), e)
            for arg in e.args[1:]:
                visit(arg)
            return
        from .language.expr import children

        for c in children(e):
            visit(c)

    for w in rule.when:
        visit(w)
    for e in (rule.then.odds, rule.then.chance_cap):
        if e is not None:
            visit(e)
    for template in (rule.explain, rule.then.exclude, rule.then.advice):
        if template is not None:
            for f in template.fields:
                if isinstance(f, Path) or is_fold(f):
                    visit(f)
                else:
                    # a computed placeholder ({years_since(applicant.graduation_year)}) is
                    # reported, and rendered, by its value
                    add(to_source(f), resolve_estimates(f, estimates))
    return tuple(seen.values())


def _reads_chosen(rule: Rule) -> bool:
    from .language.facts import CHOSEN_FACTS

    exprs: list[Expr] = list(rule.when)
    for template in (rule.explain, rule.then.advice):
        if template is not None:
            exprs.extend(template.fields)
    return any(
        isinstance(n, Path) and n.root == "list" and n.parts and n.parts[0] in CHOSEN_FACTS
        for e in exprs
        for n in iter_nodes(e)
    )


def plan_ruleset(ruleset: RuleSet, limits: Limits = DEFAULT_LIMITS) -> Plan:
    """Analyse a checked rule set into a ``Plan`` (cached on the rule set)."""
    cache = ruleset.compiled_cache()
    # keyed by the limits: a plan made under generous limits is not reused under strict ones
    cached = cache.get(("plan", limits))
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    analysis = cache.get(("analysis", limits))
    if not isinstance(analysis, RuleAnalysis):
        analysis = analyse_rules(
            ruleset.rules, limits, estimates=ruleset.estimates, groups=ruleset.groups, levers=ruleset.levers
        )
    errors = [d for d in analysis.diagnostics if d.severity == "error"]
    if errors:
        raise RulesetError(errors)
    facts, strata = analysis.facts, analysis.strata
    stage_tags: dict[str, frozenset[str]] = {
        st: frozenset(t for r in ruleset.rules if r.stage == st for t in r.then.tags) for st in STAGES
    }
    estimates = _estimate_expressions(ruleset)
    stages: dict[str, StagePlan] = {}
    list_reads_programs = False
    for st in STAGES:
        rules = sorted((r for r in ruleset.rules if r.stage == st), key=lambda r: r.order_key)
        own_tags = stage_tags[st] if st == "program" else frozenset()
        compiled: list[CompiledRule] = []
        for i, r in enumerate(rules):
            written = tuple(c for w in r.when for c in conjuncts(w))
            clauses = tuple(resolve_estimates(c, estimates) for c in written)
            nodes: set[int] = set()
            app: list[Expr] = []
            prog: list[Expr] = []
            for c in clauses:
                n = program_nodes(c, own_tags)
                nodes |= n
                (prog if id(c) in n else app).append(c)
            odds = resolve_estimates(r.then.odds, estimates) if r.then.odds is not None else None
            cap = resolve_estimates(r.then.chance_cap, estimates) if r.then.chance_cap is not None else None
            for value in (odds, cap):
                if value is not None:
                    nodes |= program_nodes(value, own_tags)
            prog_tags = frozenset(t for c in prog for t in _tags_read(c) if t in own_tags)
            compiled.append(
                CompiledRule(
                    rule=r,
                    index=i,
                    stratum=strata.get(r.id, 0),
                    clauses=clauses,
                    applicant_clauses=tuple(app),
                    program_clauses=tuple(prog),
                    program_tags_read=prog_tags,
                    paths=_paths(r),
                    reads=_reads(r, own_tags, estimates),
                    facts=facts[r.id],
                    program_nodes=frozenset(nodes),
                    odds=odds,
                    chance_cap=cap,
                    written_clauses=written,
                    reviews=st == "list" and _reads_chosen(r),
                    cost=max(1, sum(count_nodes(c) for c in clauses)),
                )
            )
            # a template's placeholder is any expression, so it may walk list.programs too
            read = [*clauses, *(f for t in (r.explain, r.then.advice) if t is not None for f in t.fields)]
            if st == "list" and any(p.dotted.startswith("list.programs") for c in read for p in iter_nodes(c) if isinstance(p, Path)):
                list_reads_programs = True
        by_stratum: dict[int, list[int]] = defaultdict(list)
        for cr in compiled:
            by_stratum[cr.stratum].append(cr.index)
        stages[st] = StagePlan(
            stage=st,
            rules=tuple(compiled),
            strata=tuple(tuple(by_stratum[k]) for k in sorted(by_stratum)),
            tags=stage_tags[st],
        )
    groups = []
    for g in ruleset.groups:
        cond = resolve_estimates(g.programs, estimates)
        groups.append(CompiledGroup(g, cond, frozenset(program_nodes(cond, frozenset()))))
    plan = Plan(
        ruleset,
        stages["profile"],
        stages["program"],
        stages["list"],
        list_reads_programs,
        estimates=estimates,
        groups=tuple(groups),
    )
    cache[("plan", limits)] = plan
    return plan
