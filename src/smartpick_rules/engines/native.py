"""The native engine: forward chaining in Python, program stage vectorised over the catalog.

Profile and list stages have one fact each and run compiled scalar closures. The program
stage runs each rule as one array expression over all programs (see
``smartpick_rules.language.vector``): a rule's applicant-only clauses are decided once; clauses that
do not read program-stage tags are computed once per evaluation; only clauses that read tags
are re-run, and only when a tag they read gained programs. That is the Rete idea (keep
partial matches, re-test only what changed) applied column-wise.

Everything that depends only on the rules is worked out once per rule set (``compile``):
each clause lowered to a closure, which clauses read the stage's own tags, and the order the
rules run in. Inside a stratum rules read tags only positively, so the result is the least
fixpoint whatever the order; running the rules in dependency order (a rule after every rule
that sets a tag it reads) reaches it in one pass, and only rules on a cycle of tag reads are
re-run until nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog
from ..language.expr import Expr, iter_nodes
from ..language.functions import tag_read
from ..language.interp import Scope
from ..language.vector import ProgramColumns, ProgramContext
from ..limits import DEFAULT_LIMITS, Limits
from ..plan import Plan, StagePlan
from . import Budget, FiredRows, scalar_fixpoint

__all__ = ["NativeEngine", "NativeProgram"]

BoolArray = npt.NDArray[np.bool_]
Mask = Callable[[ProgramContext], BoolArray]


def _reads_own_tags(clause: Expr, tags: frozenset[str]) -> bool:
    return any((tag := tag_read(n)) is not None and tag in tags for n in iter_nodes(clause))


class NativeRule:
    """One program-stage rule, compiled: its applicant gate and its two kinds of program clauses."""

    __slots__ = ("dynamic", "gate", "index", "needs", "rule_id", "sets", "static")

    def __init__(self, plan: Plan, index: int) -> None:
        cr = plan.program.rules[index]
        own = plan.program.tags
        vec = plan.vector()
        self.index = index
        self.rule_id = cr.id
        self.sets = tuple(cr.rule.then.tags)
        #: the applicant-only clauses, decided once per evaluation (None: there are none)
        self.gate: Callable[[Scope], bool] | None = plan.scalar.all_true(cr.applicant_clauses) if cr.applicant_clauses else None
        dynamic = tuple(c for c in cr.program_clauses if _reads_own_tags(c, own))
        static = tuple(c for c in cr.program_clauses if not any(c is d for d in dynamic))
        self.static: Mask = vec.condition(static, cr.program_nodes)
        self.dynamic: Mask | None = vec.condition(dynamic, cr.program_nodes) if dynamic else None
        #: the tags, when every clause that reads this stage's tags is a plain ``has("tag")``
        #: (the usual way one rule builds on another): read straight from the tag masks
        needs = tuple(tag_read(c) for c in dynamic)
        self.needs: tuple[str, ...] | None = needs if dynamic and None not in needs else None  # type: ignore[assignment]


def _cycles(stage: StagePlan, stratum: Sequence[int]) -> list[tuple[list[int], bool]]:
    """The stratum's rules in dependency order, as strongly connected groups: ``(rules, cyclic)``.

    Rule j comes before rule i when i reads a tag j sets. Tarjan's algorithm yields the groups
    dependencies first; a group with more than one rule, or a rule reading its own tag, is a
    cycle and is iterated to its fixpoint.
    """
    rules = [stage.rules[i] for i in stratum]
    setters: dict[str, list[int]] = {}
    for cr in rules:
        for t in cr.rule.then.tags:
            setters.setdefault(t, []).append(cr.index)
    deps = {cr.index: sorted({j for t in cr.program_tags_read for j in setters.get(t, ())}) for cr in rules}
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on: set[int] = set()
    stack: list[int] = []
    out: list[tuple[list[int], bool]] = []
    counter = 0

    def visit(v: int) -> None:  # recursion depth is bounded by the stratum's size
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on.add(v)
        for w in deps[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[int] = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            group.sort()
            out.append((group, len(group) > 1 or v in deps[v]))

    for cr in rules:
        if cr.index not in index:
            visit(cr.index)
    return out


class NativeProgram:
    """The program stage of a plan, compiled for the native engine (built once per rule set)."""

    def __init__(self, plan: Plan) -> None:
        stage = plan.program
        self.rules = [NativeRule(plan, cr.index) for cr in stage.rules]
        self.tags = tuple(sorted(stage.tags))
        #: per stratum, its dependency-ordered groups of rules
        self.strata = [_cycles(stage, stratum) for stratum in stage.strata]

    @staticmethod
    def of(plan: Plan) -> NativeProgram:
        compiled = plan.cache.get("native")
        if compiled is None:
            compiled = plan.cache.setdefault("native", NativeProgram(plan))
        return compiled  # type: ignore[no-any-return]


class NativeEngine:
    """The ``native`` engine plugin (entry point ``native`` in ``smartpick_rules.engines``)."""

    name = "native"

    def compile(self, plan: Plan, limits: Limits = DEFAULT_LIMITS) -> Plan:
        # The plan is what this engine runs; its compiled closures are kept on it.
        NativeProgram.of(plan)
        return plan

    def run_profile(self, compiled: Plan, scope: Scope, budget: Budget) -> frozenset[int]:
        fired, _tags = scalar_fixpoint(compiled.profile, scope, budget, compiled.scalar)
        return fired

    def run_list(self, compiled: Plan, scope: Scope, budget: Budget) -> frozenset[int]:
        fired, _tags = scalar_fixpoint(compiled.list, scope, budget, compiled.scalar)
        return fired

    def run_program(
        self,
        compiled: Plan,
        scope: Scope,
        catalog: Catalog,
        budget: Budget,
        context: ProgramContext | None = None,
        only: frozenset[int] | None = None,
    ) -> list[BoolArray]:
        """Which program rules fire for which program, one mask per rule.

        ``context`` (optional) is the evaluation's ``ProgramContext``; passing it lets later
        stages reuse the columns the conditions computed. Its tags end as the final
        program-stage tags. ``only`` (optional) runs just these rules: it must be closed under
        "sets a tag one of them reads" (``Plan.closure``), and the others stay unfired.
        """
        program = NativeProgram.of(compiled)
        n = len(catalog)
        rules = program.rules
        matrix = np.zeros((len(rules), n), dtype=np.bool_)
        fired = FiredRows(matrix)
        # a tag no rule has set yet reads as set nowhere (has() of a missing mask is all false)
        tags: dict[str, BoolArray] = {}
        ctx = context if context is not None else ProgramContext(ProgramColumns(catalog), scope, scalar=compiled.scalar)
        ctx.tags = tags
        if n == 0 or not rules:
            return fired
        gate = [(only is None or r.index in only) and (r.gate is None or r.gate(scope)) for r in rules]
        static: list[BoolArray | None] = [None] * len(rules)
        ran = [False] * len(rules)

        profile_tags = scope.tags
        meter = ctx.meter
        cost = ctx.node_cost

        def has_all(needs: tuple[str, ...]) -> BoolArray:
            """``has(t1) and has(t2) ...`` over the catalog, charged as the compiled clauses are
            (a node each, the next only while some program still holds)."""
            out: BoolArray | None = None
            for t in needs:
                if out is not None and not np.count_nonzero(out):
                    break
                if meter is not None:
                    meter.spend(cost)
                col = tags.get(t) if t not in profile_tags else None
                if col is None:
                    if t not in profile_tags:
                        return np.zeros(n, dtype=np.bool_)
                    continue  # a profile tag holds for every program
                out = col if out is None else out & col
            return out if out is not None else np.ones(n, dtype=np.bool_)

        def dynamic(r: NativeRule) -> BoolArray:
            """Where the clauses of ``r`` that read this stage's tags hold."""
            assert r.dynamic is not None
            return has_all(r.needs) if r.needs is not None else r.dynamic(ctx)

        def condition(r: NativeRule) -> BoolArray:
            mask = static[r.index]
            if mask is None:
                mask = static[r.index] = r.static(ctx)
            # count_nonzero: a popcount, about half what ndarray.any() costs on a catalog's mask
            if r.dynamic is not None and np.count_nonzero(mask):
                return mask & dynamic(r)
            return mask

        def run(r: NativeRule, track: bool) -> bool:
            """Fire ``r`` where it newly holds; with ``track``, True when a tag it sets gained programs."""
            i = r.index
            mask = condition(r)
            new = mask & ~fired[i] if ran[i] else mask
            count = int(np.count_nonzero(new))
            if not count:
                return False
            budget.spend(count, "program", r.rule_id)
            if ran[i]:
                fired[i] |= new
            else:
                fired[i][...] = new
                ran[i] = True
            grew = False
            for t in r.sets:
                before = tags.get(t)
                if before is None:
                    tags[t] = new
                    grew = True
                elif not track:
                    tags[t] = before | new
                elif (new & ~before).any():
                    tags[t] = before | new
                    grew = True
            return grew

        count_nonzero = np.count_nonzero
        spend = budget.spend
        for stratum in program.strata:
            for group, cyclic in stratum:
                if not cyclic:
                    # every rule setting a tag these read has run: one pass is the fixpoint. What
                    # run(r, False) does, inlined: a rule runs once here, so what it newly fires
                    # is its whole mask (this loop is most of the stage's Python on a large set)
                    for i in group:
                        if not gate[i]:
                            continue
                        r = rules[i]
                        mask = r.static(ctx)
                        if r.dynamic is not None and count_nonzero(mask):
                            mask = mask & dynamic(r)
                        count = count_nonzero(mask)
                        if not count:
                            continue
                        spend(int(count), "program", r.rule_id)
                        fired[i][...] = mask
                        ran[i] = True
                        for t in r.sets:
                            before = tags.get(t)
                            tags[t] = mask if before is None else before | mask
                    continue
                live = [rules[i] for i in group if gate[i]]
                changed = True
                while changed:
                    changed = False
                    for r in live:
                        if run(r, True):
                            changed = True
        return fired
