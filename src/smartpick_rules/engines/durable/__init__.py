"""The durable_rules engine: every rule compiled to a single-fact Rete pattern, run out of process.

`durable_rules <https://github.com/jruizgit/rules>`_ 2.0.28 is a Rete implementation with a C
core. ``lowering`` compiles a [`Plan`][smartpick_rules.plan.Plan] into durable_rules rule sets
(plain JSON, printed by ``DurableCompiled.rulesets_json``) and each candidate into JSON text;
``worker`` is the only code that loads the C core, in a process of its own; ``host`` keeps a
warm pool of workers per compiled rule set, with a deadline on every call and a restart when a
worker dies, so no input can hang or crash the evaluating process. The engine only decides
which rules fire; scores, tiers and the audit trail are built by shared code, so agreeing fired
sets mean byte-identical results (see ``docs/engines.md``).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from ...domain.models import Catalog
from ...errors import Diagnostic, EngineUnavailable, Location
from ...language.interp import Scope
from ...limits import DEFAULT_LIMITS, Limits
from ...plan import Plan
from .. import Budget
from .host import DurableCompiled, run_stage
from .lowering import Encoder, Rows, compile_stage, fix_exponents

__all__ = ["DurableCompiled", "DurableEngine", "Encoder", "compile_stage", "durable_unavailable_reason", "fix_exponents"]

BoolArray = npt.NDArray[np.bool_]


@cache
def durable_unavailable_reason() -> str | None:
    """Why ``engine="durable"`` cannot run here, or None when durable_rules is installed.

    Checked without loading the C core into this process (only the workers load it).
    """
    if sys.version_info >= (3, 13):
        return (
            "durable_rules 2.0.28 does not import on Python "
            f"{sys.version_info[0]}.{sys.version_info[1]} (PyEval_CallObject was removed "
            'from CPython); use engine="native"'
        )
    try:
        found = importlib.util.find_spec("durable") is not None and importlib.util.find_spec("durable.engine") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return (
            "durable_rules is not installed: it is an optional extra, "
            "`pip install 'smartpick-rules[durable]'` (Python 3.11 or 3.12; it builds with a C compiler), "
            'or use engine="native"'
        )
    return None


class DurableEngine:
    """The ``durable`` engine plugin (entry point ``durable`` in ``smartpick_rules.engines``)."""

    name = "durable"

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why this engine cannot run here (durable_rules missing, Python 3.13+), or None."""
        return durable_unavailable_reason()

    def compile(self, plan: Plan, limits: Limits = DEFAULT_LIMITS) -> DurableCompiled:
        reason = durable_unavailable_reason()
        if reason:
            raise EngineUnavailable(Diagnostic("engine_unavailable", reason, Location()))
        derived: dict[str, bool] = {}
        for r in plan.ruleset.rules:
            if r.stage == "profile":
                for name, value in r.then.sets:
                    derived[name] = derived.get(name, True) and isinstance(value, bool)
        stages = {st.stage: compile_stage(st, derived) for st in (plan.profile, plan.program, plan.list)}
        return DurableCompiled(plan, stages, limits)

    # -- the three stages ----------------------------------------------------------------
    def run_profile(self, compiled: DurableCompiled, scope: Scope, budget: Budget) -> frozenset[int]:
        fired = run_stage(compiled, compiled.stages["profile"], compiled.plan.profile, Rows(scope, 1, None), None, budget)
        return frozenset(i for i, rows in fired.items() if rows)

    def run_list(self, compiled: DurableCompiled, scope: Scope, budget: Budget) -> frozenset[int]:
        fired = run_stage(compiled, compiled.stages["list"], compiled.plan.list, Rows(scope, 1, None), None, budget)
        return frozenset(i for i, rows in fired.items() if rows)

    def run_program(
        self, compiled: DurableCompiled, scope: Scope, catalog: Catalog, budget: Budget, context: Any = None, only: Any = None
    ) -> list[BoolArray]:
        stage = compiled.plan.program
        n = len(catalog)
        out: list[BoolArray] = [np.zeros(n, dtype=np.bool_) for _ in stage.rules]
        if n == 0 or not stage.rules:
            return out
        rows = Rows(scope, n, catalog.programs)
        fired = run_stage(compiled, compiled.stages["program"], stage, rows, catalog, budget)
        for i, hit in fired.items():
            if hit:
                out[i][np.fromiter(hit, dtype=np.intp, count=len(hit))] = True
        return out
