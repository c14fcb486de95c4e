"""A ``Session``: one rule set and one catalog, compiled once, evaluated against many profiles.

``evaluate(profile, catalog, rules)`` is ``Session(rules, catalog).evaluate(profile)``; a service,
a notebook or a batch job that evaluates more than once keeps the session instead, and with it
what-if, levers and explanations on the same compiled rule set.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from ..domain.changes import Change
from ..domain.inputs import profile_from_data
from ..domain.models import Catalog, Profile, Program
from ..engines import Budget, Engine, compile_ruleset, get_engine
from ..errors import Diagnostic, EvaluationError, InputError, Location
from ..language.interp import metered
from ..language.ir import RuleSet
from ..limits import DEFAULT_LIMITS, Limits
from ..plan import Plan, plan_ruleset
from ..results.explain import explain_program
from ..results.recommendation import Recommendation, WhyNot
from .evaluate import run
from .outcome import catalog_ids
from .stages import as_of_year, assess_programs, coerce_catalog, run_profile_stage

if TYPE_CHECKING:  # what-if and levers are imported when first asked for: `evaluate` needs neither
    from .whatif import Lever, LeverResult, Outcomes, WhatIfResult

__all__ = ["CatalogInput", "Evaluator", "ProfileInput", "Session", "default_rules", "evaluate"]

ProfileInput: TypeAlias = Profile | Mapping[str, Any]
"""A profile as a model or as plain data (a dict from JSON)."""
CatalogInput: TypeAlias = Catalog | Sequence[Program] | Sequence[Mapping[str, Any]] | Mapping[str, Any]
"""A catalog as a model, a list of programs or program dicts, or ``{"programs": [...]}``."""

_DEFAULT: dict[Limits, RuleSet] = {}
_DEFAULT_LOCK = threading.Lock()


def default_rules(limits: Limits = DEFAULT_LIMITS) -> RuleSet:
    """The shipped rule sets, loaded once per process and limits (what ``rules=None`` means)."""
    rs = _DEFAULT.get(limits)
    if rs is None:
        from ..ruleset.load import load_rules

        with _DEFAULT_LOCK:
            rs = _DEFAULT.get(limits)
            if rs is None:
                rs = _DEFAULT[limits] = load_rules(limits=limits)
    return rs


class Session:
    """One rule set and one catalog, compiled once, evaluated against many profiles.

        >>> session = sr.Session(sr.load_rules(), sr.load_catalog("catalog.csv"), as_of=2026)
        >>> rec = session.evaluate(sr.load_profile("me.toml"))
        >>> print(session.explain(rec, rec.chosen()[0].program.id))
        >>> session.whatif(sr.load_profile("me.toml"), ["step2_ck.score=240"]).comparison.moved()

    ``rules`` is a loaded [`RuleSet`][smartpick_rules.RuleSet] (``None``: the shipped rule sets);
    ``catalog`` a [`Catalog`][smartpick_rules.Catalog] or plain data, structured strictly once.
    The constructor checks, plans and compiles the rule set for ``engine`` (a name from
    [`available_engines()`][smartpick_rules.available_engines]) and fails there, not on the first
    profile, when the engine cannot run or the catalog is refused. ``as_of`` fixes the year
    ``years_since()`` counts from; ``None`` is the year of each call, so a long-lived session
    moves on at New Year. ``limits`` bounds what the session accepts and builds.

    A session is immutable after construction and safe to share between threads: what it
    caches (on the rule set and the catalog) is filled once and only read afterwards, and each
    evaluation's state belongs to the result it returns. Its results are the very results of
    [`evaluate`][smartpick_rules.evaluate], byte for byte.
    """

    def __init__(
        self,
        rules: RuleSet | None,
        catalog: CatalogInput,
        *,
        engine: str = "native",
        limits: Limits = DEFAULT_LIMITS,
        as_of: int | _dt.date | None = None,
    ) -> None:
        self._limits = limits
        self._catalog = coerce_catalog(catalog, limits)
        self._rules = rules if rules is not None else default_rules(limits)
        as_of_year(as_of)  # a year outside 1940-2100 is refused here, not per call
        self._as_of = as_of
        self._plan = plan_ruleset(self._rules, limits)
        self._engine_name = engine
        self._engine: Engine[Any] = get_engine(engine)
        self._compiled = compile_ruleset(self._rules, engine, limits)

    # -- what the session holds ------------------------------------------------------------
    @property
    def rules(self) -> RuleSet:
        return self._rules

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def engine(self) -> str:
        """The engine's name (recorded in each result's provenance)."""
        return self._engine_name

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def as_of(self) -> int:
        """The year ``years_since()`` counts from in the next evaluation."""
        return as_of_year(self._as_of)

    @property
    def plan(self) -> Plan:
        """The rule set's plan (strata, compiled conditions), shared by every evaluation."""
        return self._plan

    @property
    def ids(self) -> tuple[str, ...]:
        """The catalog's program ids, in catalog order (the order of ``outcomes()``' arrays)."""
        return catalog_ids(self._catalog)

    def __repr__(self) -> str:
        names = [r.name for r in self._rules.rulesets]
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        sets = f"{len(names)} rule set{'s' if len(names) != 1 else ''}" + (f" ({shown})" if names else "")
        year = self._as_of if self._as_of is not None else "this year"
        return (
            f"<Session: {len(self._rules.rules):,} rules from {sets}; {len(self._catalog):,} programs; "
            f"engine {self._engine_name}; as of {year}>"
        )

    # -- evaluating ------------------------------------------------------------------------
    def _profile(self, profile: ProfileInput) -> Profile:
        """``profile`` as a model: plain data is structured strictly (errors name the field path)."""
        return profile if isinstance(profile, Profile) else profile_from_data(profile, limits=self._limits)

    def evaluate(self, profile: ProfileInput) -> Recommendation:
        """Evaluate one applicant: the ranked, tiered list with its audit trail.

        ``profile`` may be a [`Profile`][smartpick_rules.Profile] or plain data. The result's
        per-program results are built on first access; ``why_not`` and ``explain`` read the live
        evaluation it keeps.
        """
        prof = self._profile(profile)
        year = self.as_of
        try:
            with metered(self._limits.max_work):
                return run(prof, self._catalog, self._plan, self._engine, self._compiled, self._engine_name, year, self._limits)
        except (EvaluationError, InputError):
            raise
        except RecursionError:
            raise EvaluationError(Diagnostic("evaluation_error", "an expression nested too deeply to evaluate", Location())) from None

    def outcomes(self, profile: ProfileInput) -> Outcomes:
        """Chances, tiers, exclusions and fired rules: the decisions of ``evaluate``, without the
        list stage or the audit trail (what ``whatif`` and ``levers`` compare), only faster."""
        from .whatif import Outcomes

        prof = self._profile(profile)
        plan = self._plan
        budget = Budget(self._limits.max_firings)
        with metered(self._limits.max_work):
            prof_out = run_profile_stage(plan, self._engine, self._compiled, prof, self.as_of, budget)
            fired = self._engine.run_program(self._compiled, prof_out.scope, self._catalog, budget)
            assessed = assess_programs(plan, fired, self._catalog, prof_out)
        return Outcomes(
            plan=plan,
            chance=assessed.chance,
            excluded=assessed.excluded,
            tiers=tuple(assessed.tiers),
            fired=tuple(np.asarray(m, dtype=np.bool_) for m in fired),
            profile_fired=frozenset(cr.rule.id for cr in prof_out.rules),
        )

    # -- explaining ------------------------------------------------------------------------
    def _live(self, subject: ProfileInput | Recommendation) -> Recommendation:
        return subject if isinstance(subject, Recommendation) else self.evaluate(subject)

    def why_not(self, subject: ProfileInput | Recommendation, program_id: str) -> list[WhyNot]:
        """The program-stage rules that did not fire for ``program_id``, each with its failing clause.

        ``subject`` is a profile (evaluated here) or a live result of an evaluation; a result
        read from JSON has only what fired (a ``ValueError``): evaluate its profile again.
        """
        return self._live(subject).why_not(program_id)

    def explain(self, subject: ProfileInput | Recommendation, program_id: str) -> str:
        """A readable trace for one program: what fired, in order, then what did not and why.

        ``subject`` is a profile (evaluated here) or a result; for a result read from JSON the
        trace has what fired only.
        """
        return explain_program(self._live(subject), program_id)

    # -- what if ---------------------------------------------------------------------------
    def whatif(self, profile: ProfileInput, changes: Sequence[Change | str]) -> WhatIfResult:
        """Evaluate ``profile`` and ``profile`` with ``changes``; say which programs move and why.

        Changes are ``FIELD=VALUE`` or ``FIELD+=VALUE`` over the profile's dotted paths
        (``step2_ck.score=240``, ``languages+=spanish``); see ``smartpick_rules.whatif``.
        """
        from .whatif import whatif

        return whatif(self, self._profile(profile), changes)

    def levers(self, profile: ProfileInput, candidates: Sequence[Lever] | None = None) -> list[LeverResult]:
        """Try each lever the rule sets offer this profile (``[[lever]]``), best first: the programs
        moved up a tier or no longer excluded, then fewer moved down, then chances raised."""
        from .whatif import levers

        return levers(self, self._profile(profile), candidates)


class Evaluator(Session):
    """A [`Session`][smartpick_rules.Session] with the catalog first: ``Evaluator(catalog, rules)``.

    The name and argument order ``smartpick_rules.whatif`` had before ``Session``; new code
    should use ``Session(rules, catalog)``.
    """

    def __init__(
        self,
        catalog: CatalogInput,
        rules: RuleSet | None,
        *,
        engine: str = "native",
        as_of: int | _dt.date | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(rules, catalog, engine=engine, limits=limits, as_of=as_of)


def evaluate(
    profile: ProfileInput,
    catalog: CatalogInput,
    rules: RuleSet | None = None,
    *,
    engine: str = "native",
    as_of: int | _dt.date | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Recommendation:
    """Evaluate one applicant against a catalog with a rule set.

    ``profile`` and ``catalog`` may be models or plain data (a dict from JSON, a list of
    program dicts); plain data is structured strictly, and errors name the field path.
    ``rules`` defaults to the rule sets shipped with the package. ``as_of`` fixes the year
    ``years_since()`` counts from (default: this year) and is recorded for replay.

    The same as ``Session(rules, catalog, engine=engine, limits=limits, as_of=as_of).evaluate(profile)``;
    the compiled rule set is cached on the ``RuleSet``, so repeated calls do not compile again,
    but a [`Session`][smartpick_rules.Session] also keeps the structured catalog and the plan.
    """
    prof = profile if isinstance(profile, Profile) else profile_from_data(profile, limits=limits)
    return Session(rules, catalog, engine=engine, limits=limits, as_of=as_of).evaluate(prof)
