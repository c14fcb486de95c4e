"""Engines decide which rules fire; everything else (scores, tiers, audit) is shared code.

An engine gets a ``Plan`` and the facts of one evaluation, and
returns, per stage, which rules fired for which fact. Because every effect only adds and each
rule fires at most once per fact, the fired sets determine the whole result, so two engines
that agree on them give byte-identical recommendations.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog
from ..errors import Diagnostic, EngineUnavailable, EvaluationError, Location
from ..language.interp import ScalarCompiler, Scope, current_meter
from ..language.ir import RuleSet
from ..limits import DEFAULT_LIMITS, Limits
from ..plan import Plan, StagePlan, plan_ruleset

__all__ = ["Budget", "Engine", "available_engines", "compile_ruleset", "get_engine", "scalar_fixpoint"]


class Budget:
    """Counts rule firings across the stages of one evaluation and stops a runaway rule set."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, n: int, stage: str, rule_id: str) -> None:
        self.used += n
        if self.used > self.limit:
            raise EvaluationError(
                Diagnostic(
                    "budget_exceeded",
                    f"more than {self.limit} rule firings in one evaluation (stopped in the {stage} stage)",
                    Location(),
                    rule_id,
                    help="raise Limits.max_firings, or use a smaller catalog or rule set",
                )
            )


class Engine(Protocol):
    name: str

    def compile(self, plan: Plan, limits: Limits = DEFAULT_LIMITS) -> Any: ...

    def run_profile(self, compiled: Any, scope: Scope, budget: Budget) -> frozenset[int]: ...

    def run_program(
        self, compiled: Any, scope: Scope, catalog: Catalog, budget: Budget, context: Any = None, only: Any = None
    ) -> list[npt.NDArray[np.bool_]]:
        """One mask per program-stage rule. ``context`` is the evaluation's
        ``ProgramContext``; an engine that evaluates over columns may fill its memo. ``only``
        (rule indices closed under the tags they read) lets an engine skip the other rules;
        one that runs them all anyway gives the same masks for these."""
        ...

    def run_list(self, compiled: Any, scope: Scope, budget: Budget) -> frozenset[int]: ...


def scalar_fixpoint(
    stage: StagePlan, scope: Scope, budget: Budget, compiler: ScalarCompiler | None = None
) -> tuple[frozenset[int], frozenset[str]]:
    """Run one stage over one fact to its fixpoint; return fired rule indices and the tags set.

    Strata run in order; inside one, rules are retried while new tags appear. A rule's
    condition reads tags only positively within its stratum, so the result does not depend
    on which rule is tried first. ``compiler`` (the plan's) runs the conditions as compiled
    closures; without one they are interpreted.
    """
    if compiler is None:
        compiler = ScalarCompiler()
    tests = [compiler.all_true(cr.clauses) for cr in stage.rules]
    fired: set[int] = set()
    tags = set(scope.tags)
    meter = current_meter()
    for stratum in stage.strata:
        changed = True
        while changed:
            changed = False
            current = attrs.evolve(scope, tags=frozenset(tags))
            for i in stratum:
                if i in fired:
                    continue
                cr = stage.rules[i]
                if meter is not None:
                    meter.spend(cr.cost)
                if tests[i](current):
                    budget.spend(1, stage.stage, cr.id)
                    fired.add(i)
                    new = set(cr.rule.then.tags) - tags
                    if new:
                        tags |= new
                        current = attrs.evolve(scope, tags=frozenset(tags))
                        changed = True
    return frozenset(fired), frozenset(tags)


def get_engine(name: str) -> Engine:
    if name == "native":
        from .native import NativeEngine

        return NativeEngine()
    if name == "durable":
        from .durable import DurableEngine, durable_unavailable_reason

        reason = durable_unavailable_reason()
        if reason:
            raise EngineUnavailable(Diagnostic("engine_unavailable", reason, Location()))
        return DurableEngine()
    raise EngineUnavailable(
        Diagnostic(
            "engine_unavailable",
            f"unknown engine `{name}`",
            Location(),
            help="engines: " + ", ".join(available_engines()),
        )
    )


def available_engines() -> list[str]:
    out = ["native"]
    try:
        from .durable import durable_unavailable_reason

        if not durable_unavailable_reason():
            out.append("durable")
    except ImportError:
        pass
    return out


def compile_ruleset(ruleset: RuleSet, engine: str = "native", limits: Limits = DEFAULT_LIMITS) -> Any:
    """Compile ``ruleset`` for ``engine``, caching the result on the rule set.

    Returns the engine's compiled form (for ``durable``, it holds the generated durable_rules
    ruleset JSON, which ``smartpick-rules compile --engine durable`` prints).
    """
    eng = get_engine(engine)
    key = f"engine:{engine}:{limits!r}"  # the limits shape the plan and the engine's deadlines
    cache = ruleset.compiled_cache()
    if key not in cache:
        cache[key] = eng.compile(plan_ruleset(ruleset, limits), limits)
    return cache[key]

