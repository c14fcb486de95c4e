"""The native engine: forward chaining in Python, program stage vectorised over the catalog.

Profile and list stages have one fact each and run in the scalar interpreter. The program
stage runs each rule as one array expression over all programs (see
``smartpick_rules.language.vector``): a rule's applicant-only clauses are decided once; clauses that
do not read program-stage tags are computed once per evaluation; only clauses that read tags
are re-run, and only when a tag they read gained programs. That is the Rete idea (keep
partial matches, re-test only what changed) applied column-wise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog
from ..language.expr import Call, Literal, iter_nodes
from ..language.interp import Scope, evaluate_expr, truth
from ..language.vector import ProgramColumns, VectorEvaluator
from ..plan import CompiledRule, Plan
from . import Budget, scalar_fixpoint

__all__ = ["NativeEngine"]

BoolArray = npt.NDArray[np.bool_]


def _reads_own_tags(clause: object, tags: frozenset[str]) -> bool:
    return any(
        isinstance(n, Call) and n.func == "has" and isinstance(n.args[0], Literal) and n.args[0].value in tags
        for n in iter_nodes(clause)  # type: ignore[arg-type]
    )


class NativeEngine:
    name = "native"

    def compile(self, plan: Plan) -> Plan:
        # The plan is already what this engine runs.
        return plan

    def run_profile(self, compiled: Plan, scope: Scope, budget: Budget) -> frozenset[int]:
        fired, _tags = scalar_fixpoint(compiled.profile, scope, budget)
        return fired

    def run_list(self, compiled: Plan, scope: Scope, budget: Budget) -> frozenset[int]:
        fired, _tags = scalar_fixpoint(compiled.list, scope, budget)
        return fired

    def run_program(self, compiled: Plan, scope: Scope, catalog: Catalog, budget: Budget) -> list[BoolArray]:
        stage = compiled.program
        n = len(catalog)
        fired: list[BoolArray] = [np.zeros(n, dtype=np.bool_) for _ in stage.rules]
        if n == 0 or not stage.rules:
            return fired
        tags: dict[str, BoolArray] = {t: np.zeros(n, dtype=np.bool_) for t in stage.tags}

        def row_tags(i: int) -> frozenset[str]:
            # only the row-by-row fallback asks, and only for conditions that read tags
            return frozenset(scope.tags) | frozenset(t for t, m in tags.items() if m[i])

        ev = VectorEvaluator(ProgramColumns(catalog), scope, tags, row_tags)
        gate: list[bool] = []
        static: list[BoolArray | None] = [None] * len(stage.rules)
        dynamic: list[tuple[object, ...]] = []
        for cr in stage.rules:
            gate.append(all(truth(evaluate_expr(c, scope)) is True for c in cr.applicant_clauses))
            dynamic.append(tuple(c for c in cr.program_clauses if _reads_own_tags(c, stage.tags)))

        def condition(cr: CompiledRule) -> BoolArray:
            i = cr.index
            mask = static[i]
            if mask is None:
                rest = tuple(c for c in cr.program_clauses if c not in dynamic[i])
                mask = ev.condition(rest, cr.program_nodes)
                static[i] = mask
            if dynamic[i] and mask.any():
                return mask & ev.condition(dynamic[i], cr.program_nodes)  # type: ignore[arg-type]
            return mask

        for stratum in stage.strata:
            pending = [i for i in stratum if gate[i]]
            while pending:
                changed: set[str] = set()
                for i in pending:
                    cr = stage.rules[i]
                    new = condition(cr) & ~fired[i]
                    count = int(new.sum())
                    if not count:
                        continue
                    budget.spend(count, "program", cr.id)
                    fired[i] |= new
                    for t in cr.rule.then.tags:
                        before = tags[t]
                        after = before | new
                        if not np.array_equal(before, after):
                            tags[t] = after
                            changed.add(t)
                pending = [i for i in stratum if gate[i] and stage.rules[i].program_tags_read & changed]
        return fired
