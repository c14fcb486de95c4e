"""Compiling a checked RuleSet into a Plan: the engine-neutral form every engine runs.

The plan fixes, for each stage, which rules run in which stratum (negation over tags is
stratified, see ``smartpick_rules.analysis.check.stratify``), splits each program-stage condition
into the clauses that read only the applicant (decided once per evaluation) and those that
read the program (run in bulk over the catalog), and lists the values each rule's audit entry
reports. Engines (``smartpick_rules.engines``) compile the plan further for themselves.
"""

from __future__ import annotations

from collections import defaultdict

import attrs

from .analysis.check import RuleAnalysis, RuleFacts, analyse_rules
from .errors import RulesetError
from .language.expr import Call, Expr, Literal, Path, conjuncts, count_nodes, iter_nodes, program_nodes
from .language.ir import STAGES, Rule, RuleSet
from .limits import DEFAULT_LIMITS, Limits

__all__ = ["CompiledRule", "Plan", "StagePlan", "plan_ruleset"]


@attrs.frozen(eq=False)
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
    #: ids of nodes that read the program (the rest is constant for one evaluation)
    program_nodes: frozenset[int]
    #: nodes in the clauses: what evaluating the condition once costs (Limits.max_work)
    cost: int = 1

    @property
    def id(self) -> str:
        return self.rule.id


@attrs.frozen(eq=False)
class StagePlan:
    stage: str
    #: rules in audit order: higher salience first, then id
    rules: tuple[CompiledRule, ...]
    #: rule indices per stratum, lowest first
    strata: tuple[tuple[int, ...], ...]
    #: tags set by this stage's rules
    tags: frozenset[str]


@attrs.frozen(eq=False)
class Plan:
    ruleset: RuleSet
    profile: StagePlan
    program: StagePlan
    list: StagePlan
    #: does any list-stage rule read list.programs (so items must be built)?
    list_reads_programs: bool

    def stage(self, name: str) -> StagePlan:
        return {"profile": self.profile, "program": self.program, "list": self.list}[name]


def _tags_read(e: Expr) -> set[str]:
    return {
        n.args[0].value
        for n in iter_nodes(e)
        if isinstance(n, Call) and n.func == "has" and isinstance(n.args[0], Literal) and isinstance(n.args[0].value, str)
    }


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


def _reads(rule: Rule, program_tags: frozenset[str]) -> tuple[tuple[str, Expr, bool], ...]:
    from .analysis.check import COLLECTION_FUNCS
    from .language.expr import to_source

    seen: dict[str, tuple[str, Expr, bool]] = {}

    def add(key: str, e: Expr) -> None:
        if key not in seen:
            seen[key] = (key, e, bool(program_nodes(e, program_tags)))

    def visit(e: Expr) -> None:
        if isinstance(e, Path):
            if e.root == "item" or (e.root in ("applicant", "program", "list") and not e.parts):
                return
            if e.root == "list" and e.parts[:1] == ("programs",):
                return  # the whole list of programs is never an audit value
            add(e.dotted, e)
            return
        if isinstance(e, Call) and e.func == "len" and isinstance(e.args[0], Path) and e.args[0].root == "list":
            add(to_source(e), e)  # `len(list.programs)`: its value, 412, not the programs
            return
        if isinstance(e, Call) and e.func in COLLECTION_FUNCS:
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
    for template in (rule.explain, rule.then.exclude, rule.then.advice):
        if template is not None:
            for f in template.fields:
                visit(f)
    return tuple(seen.values())


def plan_ruleset(ruleset: RuleSet, limits: Limits = DEFAULT_LIMITS) -> Plan:
    """Analyse a checked rule set into a ``Plan`` (cached on the rule set)."""
    cache = ruleset.compiled_cache()
    cached = cache.get("plan")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    analysis = cache.get("analysis")
    if not isinstance(analysis, RuleAnalysis):
        analysis = analyse_rules(ruleset.rules, limits)
    errors = [d for d in analysis.diagnostics if d.severity == "error"]
    if errors:
        raise RulesetError(errors)
    facts, strata = analysis.facts, analysis.strata
    stage_tags: dict[str, frozenset[str]] = {
        st: frozenset(t for r in ruleset.rules if r.stage == st for t in r.then.tags) for st in STAGES
    }
    stages: dict[str, StagePlan] = {}
    list_reads_programs = False
    for st in STAGES:
        rules = sorted((r for r in ruleset.rules if r.stage == st), key=lambda r: r.order_key)
        own_tags = stage_tags[st] if st == "program" else frozenset()
        compiled: list[CompiledRule] = []
        for i, r in enumerate(rules):
            clauses = tuple(c for w in r.when for c in conjuncts(w))
            nodes: set[int] = set()
            app: list[Expr] = []
            prog: list[Expr] = []
            for c in clauses:
                n = program_nodes(c, own_tags)
                nodes |= n
                (prog if id(c) in n else app).append(c)
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
                    reads=_reads(r, own_tags),
                    facts=facts[r.id],
                    program_nodes=frozenset(nodes),
                    cost=max(1, sum(count_nodes(c) for c in clauses)),
                )
            )
            if st == "list" and any(p.dotted.startswith("list.programs") for c in clauses for p in iter_nodes(c) if isinstance(p, Path)):
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
    plan = Plan(ruleset, stages["profile"], stages["program"], stages["list"], list_reads_programs)
    cache["plan"] = plan
    return plan
