"""Engines decide which rules fire; everything else (chances, tiers, audit) is shared code.

An engine gets a ``Plan`` and the facts of one evaluation, and
returns, per stage, which rules fired for which fact. Because every effect only adds and each
rule fires at most once per fact, the fired sets determine the whole result, so two engines
that agree on them give byte-identical recommendations.

Engines are plugins: each is an entry point in the group ``smartpick_rules.engines`` naming an
[`Engine`][smartpick_rules.engines.Engine] class (or a factory), and ``engine="NAME"`` picks it.
The native and durable engines register themselves there as any third-party package would
(``pyproject.toml``); docs/engines.md explains writing one.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog
from ..errors import Diagnostic, EngineUnavailable, EvaluationError, Location
from ..language.interp import ScalarCompiler, Scope, current_meter
from ..language.ir import RuleSet
from ..language.vector import ProgramContext
from ..limits import DEFAULT_LIMITS, Limits
from ..plan import Plan, StagePlan, plan_ruleset

if TYPE_CHECKING:
    import importlib.metadata

# A plugin is written against this module: the protocol, the budget, the reference fixpoint and
# the types they mention are all importable from here (docs/engines.md).
__all__ = [
    "ENTRY_POINT_GROUP",
    "BoolArray",
    "Budget",
    "Catalog",
    "Engine",
    "FiredRows",
    "Limits",
    "Plan",
    "ProgramContext",
    "Scope",
    "StagePlan",
    "available_engines",
    "compile_ruleset",
    "get_engine",
    "reload_engines",
    "scalar_fixpoint",
    "unavailable_engines",
]

#: the entry-point group engine plugins register in (``[project.entry-points."smartpick_rules.engines"]``)
ENTRY_POINT_GROUP = "smartpick_rules.engines"

BoolArray = npt.NDArray[np.bool_]


class FiredRows(list[BoolArray]):
    """An engine's program-stage masks that are the rows of one matrix (``matrix``, rules x
    programs), as the native engine builds them: a caller that wants the matrix takes it
    rather than stacking the rows again. Any other list of masks is read as rows as well."""

    __slots__ = ("matrix",)

    def __init__(self, matrix: BoolArray) -> None:
        super().__init__(matrix)
        self.matrix = matrix


CompiledT = TypeVar("CompiledT")


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


class Engine(Protocol[CompiledT]):
    """What an engine implements: compile a plan once, then say which rules fire, stage by stage.

    ``CompiledT`` is the engine's own compiled form (the native engine's is the ``Plan`` itself);
    it is built once per rule set and engine and cached on the ``RuleSet`` (``compile_ruleset``),
    so it must be safe to read from many threads at once. Each ``run_*`` returns the indices (or
    masks) of the rules that fired, in the order of the plan's stage (``plan.profile.rules``,
    ``plan.program.rules``, ``plan.list.rules``), and spends one unit of ``budget`` per firing.

    An engine may also define ``unavailable_reason() -> str | None``: a sentence saying why it
    cannot run here (a missing optional dependency, an unsupported Python), which
    ``engine="NAME"`` then raises as [`EngineUnavailable`][smartpick_rules.EngineUnavailable].
    """

    #: the engine's name: the entry point's name, recorded in each result's provenance
    name: str

    def compile(self, plan: Plan, limits: Limits) -> CompiledT:
        """The engine's form of ``plan``; raise ``RulesetError`` (code ``unsupported``) for a rule it cannot run."""
        ...

    def run_profile(self, compiled: CompiledT, scope: Scope, budget: Budget) -> frozenset[int]:
        """The profile-stage rules that fire for the applicant (``scope``), to their fixpoint."""
        ...

    def run_program(
        self,
        compiled: CompiledT,
        scope: Scope,
        catalog: Catalog,
        budget: Budget,
        context: ProgramContext | None = None,
        only: frozenset[int] | None = None,
    ) -> list[BoolArray]:
        """One mask per program-stage rule: the programs of ``catalog`` it fired for.

        ``context`` is the evaluation's ``ProgramContext``; an engine that evaluates over
        columns may fill its memo. ``only`` (rule indices closed under the tags they read) lets
        an engine skip the other rules; one that runs them all anyway gives the same masks for
        these."""
        ...

    def run_list(self, compiled: CompiledT, scope: Scope, budget: Budget) -> frozenset[int]:
        """The list-stage rules that fire for the list facts (``scope.list``)."""
        ...


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
            current = scope.with_tags(frozenset(tags))
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
                        current = scope.with_tags(frozenset(tags))
                        changed = True
    return frozenset(fired), frozenset(tags)


# -- the plugin registry ----------------------------------------------------------------------

#: the engines of this package. They are loaded from it directly, not through the entry points
#: it also declares: reading those means importing ``importlib.metadata`` and every installed
#: distribution's metadata, about 15 ms of a cold command that only uses the native engine. A
#: plugin cannot take these names (another distribution's entry point of the same name is ignored).
_BUILTIN = {
    "native": "smartpick_rules.engines.native:NativeEngine",
    "durable": "smartpick_rules.engines.durable:DurableEngine",
}
_METHODS = ("compile", "run_profile", "run_program", "run_list")

_lock = threading.RLock()
_registry: dict[str, list[_Point]] | None = None
_loaded: dict[str, Engine[Any] | Diagnostic] = {}


class _BuiltinPoint:
    """One of this package's engines, as an entry point would name it."""

    dist = None

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def load(self) -> Any:
        module, _, attr = self.value.partition(":")
        return getattr(importlib.import_module(module), attr)


if TYPE_CHECKING:
    from typing import TypeAlias

    _Point: TypeAlias = "importlib.metadata.EntryPoint | _BuiltinPoint"


def _unavailable(message: str, help: str | None = None) -> Diagnostic:
    return Diagnostic("engine_unavailable", message, Location(), help=help)


def _points(name: str) -> list[_Point]:
    """What registers the engine ``name``: this package's own, or the entry points of that name."""
    if name in _BUILTIN:
        return [_BuiltinPoint(name, _BUILTIN[name])]
    return _registered().get(name, [])


def _registered() -> dict[str, list[_Point]]:
    """Every engine by name: this package's, then the entry points of the group (read once per
    process: ``reload_engines``)."""
    global _registry
    with _lock:
        if _registry is None:
            import importlib.metadata

            found: dict[str, list[_Point]] = {name: _points(name) for name in _BUILTIN}
            try:
                points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
            except Exception:  # unreadable metadata of some distribution: the built-ins still run
                points = []
            for ep in points:
                if ep.name not in _BUILTIN:
                    found.setdefault(ep.name, []).append(ep)
            _registry = found
        return _registry


def _origin(ep: _Point) -> str:
    """How an error names a plugin: its entry point and the distribution that declares it."""
    if isinstance(ep, _BuiltinPoint):
        from ..version import __version__

        return f"`{ep.name} = {ep.value}` (smartpick-rules {__version__})"
    dist = getattr(ep, "dist", None)
    try:
        where = f"{dist.name} {dist.version}" if dist is not None else "no distribution"
    except Exception:  # a distribution whose metadata does not read
        where = "a distribution whose metadata does not read"
    return f"`{ep.name} = {ep.value}` ({where})"


def _load(name: str) -> Engine[Any] | Diagnostic:
    """The engine registered as ``name``, or why it cannot be used. Never raises."""
    points = _points(name)
    origins = sorted({_origin(ep) for ep in points})
    if len(origins) > 1:
        return _unavailable(
            f"engine `{name}` is registered more than once: {'; '.join(origins)}",
            help="uninstall one of these packages",
        )
    ep = points[0]
    plugin = f"engine plugin {origins[0]}"
    try:
        target: Any = ep.load()
    except Exception as exc:
        return _unavailable(f"{plugin} failed to load: {type(exc).__name__}: {exc}".splitlines()[0][:1000])
    try:
        # a class is instantiated, a factory called; an engine object is used as it is
        is_engine = not isinstance(target, type) and all(callable(getattr(target, m, None)) for m in _METHODS)
        engine: Any = target if is_engine or not callable(target) else target()
    except EngineUnavailable as exc:
        return exc.diagnostics[0]
    except Exception as exc:
        return _unavailable(f"{plugin} failed to start: {type(exc).__name__}: {exc}".splitlines()[0][:1000])
    missing = [m for m in _METHODS if not callable(getattr(engine, m, None))]
    if missing:
        return _unavailable(f"{plugin} is not an Engine: it has no {', '.join(missing)}")
    if getattr(engine, "name", None) != name:
        return _unavailable(f"{plugin} calls itself {getattr(engine, 'name', None)!r}, not {name!r}")
    probe: Callable[[], str | None] | None = getattr(engine, "unavailable_reason", None)
    if probe is not None:
        try:
            reason = probe()
        except Exception as exc:
            reason = f"{plugin} could not say whether it runs here: {type(exc).__name__}: {exc}".splitlines()[0][:1000]
        if reason:
            return _unavailable(reason)
    return engine  # type: ignore[no-any-return]


def _lookup(name: str) -> Engine[Any] | Diagnostic:
    hit = _loaded.get(name)
    if hit is None and name not in _BUILTIN and name not in _registered():
        # not kept: names come from callers (a request's parameter, say), so the cache stays small
        return _unavailable(
            f"unknown engine `{name}`",
            help=f"engines: {', '.join(available_engines())}; a package adds one with an entry point "
            f"in the group `{ENTRY_POINT_GROUP}` (docs/engines.md)",
        )
    if hit is None:
        with _lock:
            hit = _loaded.get(name)
            if hit is None:
                hit = _loaded[name] = _load(name)
    return hit


def get_engine(name: str) -> Engine[Any]:
    """The engine registered as ``name`` (loaded once per process).

    Raises [`EngineUnavailable`][smartpick_rules.EngineUnavailable] saying why when there is no
    such engine, when its plugin fails to load or is not an engine (naming the entry point and
    the distribution it comes from), or when the engine cannot run here.
    """
    hit = _lookup(name)
    if isinstance(hit, Diagnostic):
        raise EngineUnavailable(hit)
    return hit


def available_engines() -> list[str]:
    """The engines that run here: ``native`` first, then the others by name.

    Read from the entry-point group ``smartpick_rules.engines`` once per process; an engine
    whose plugin is broken, or that cannot run here, is left out (``unavailable_engines`` says why).
    """
    names = sorted(_registered(), key=lambda n: (n != "native", n))
    return [n for n in names if not isinstance(_lookup(n), Diagnostic)]


def unavailable_engines() -> dict[str, str]:
    """The registered engines that cannot be used here, each with the reason."""
    out: dict[str, str] = {}
    for name in sorted(_registered()):
        hit = _lookup(name)
        if isinstance(hit, Diagnostic):
            out[name] = hit.message
    return out


def reload_engines() -> None:
    """Forget the engines read so far: the next lookup reads the entry points again (after
    installing a plugin into a running process). Compiled rule sets keep their engine's form."""
    global _registry
    with _lock:
        _registry = None
        _loaded.clear()


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

