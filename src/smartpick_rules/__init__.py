"""smartpick_rules: declarative TOML rule sets compiled into an audited forward-chaining engine.

    >>> import smartpick_rules as sr
    >>> rec = sr.evaluate(sr.load_profile("profile.toml"), sr.load_catalog("catalog.csv"))
    >>> print(rec.explain(rec.programs[0].program.id))

Evaluating many profiles with one rule set and catalog: ``sr.Session(rules, catalog)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names below are, for type checkers and documentation tools
    from .cohort import CohortResult, evaluate_many
    from .domain.examples import example_names, example_profile_path
    from .domain.importers import ColumnMap, import_catalog
    from .domain.inputs import (
        catalog_from_data,
        load_catalog,
        load_profile,
        profile_from_data,
        sample_catalog_path,
    )
    from .domain.models import Catalog, Profile, Program
    from .engines import Engine, available_engines, compile_ruleset
    from .errors import (
        Diagnostic,
        EngineUnavailable,
        EvaluationError,
        InputError,
        Location,
        RulesetError,
        SmartpickError,
    )
    from .language.ir import Rule, RuleSet
    from .limits import DEFAULT_LIMITS, Limits
    from .results.recommendation import AuditEntry, ExcludedProgram, Firings, ProgramResult, Recommendation
    from .ruleset.cache import RuleCache
    from .ruleset.load import load_rules
    from .runtime.session import Session, evaluate
    from .version import __version__

# The façade imports lazily (PEP 562): `import smartpick_rules` costs next to nothing, and each
# name loads its module (numpy and all) on first use. A command that only checks rule files
# never pays for the evaluator, one that evaluates never for the cohort runner.
_WHERE: dict[str, str] = {
    "CohortResult": ".cohort",
    "evaluate_many": ".cohort",
    "example_names": ".domain.examples",
    "example_profile_path": ".domain.examples",
    "ColumnMap": ".domain.importers",
    "import_catalog": ".domain.importers",
    "catalog_from_data": ".domain.inputs",
    "load_catalog": ".domain.inputs",
    "load_profile": ".domain.inputs",
    "profile_from_data": ".domain.inputs",
    "sample_catalog_path": ".domain.inputs",
    "Catalog": ".domain.models",
    "Profile": ".domain.models",
    "Program": ".domain.models",
    "Engine": ".engines",
    "available_engines": ".engines",
    "compile_ruleset": ".engines",
    "Diagnostic": ".errors",
    "EngineUnavailable": ".errors",
    "EvaluationError": ".errors",
    "InputError": ".errors",
    "Location": ".errors",
    "RulesetError": ".errors",
    "SmartpickError": ".errors",
    "Rule": ".language.ir",
    "RuleSet": ".language.ir",
    "DEFAULT_LIMITS": ".limits",
    "Limits": ".limits",
    "AuditEntry": ".results.recommendation",
    "ExcludedProgram": ".results.recommendation",
    "Firings": ".results.recommendation",
    "ProgramResult": ".results.recommendation",
    "Recommendation": ".results.recommendation",
    "RuleCache": ".ruleset.cache",
    "load_rules": ".ruleset.load",
    "Session": ".runtime.session",
    "evaluate": ".runtime.session",
    "__version__": ".version",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "DEFAULT_LIMITS",
    "AuditEntry",
    "Catalog",
    "CohortResult",
    "ColumnMap",
    "Diagnostic",
    "Engine",
    "EngineUnavailable",
    "EvaluationError",
    "ExcludedProgram",
    "Firings",
    "InputError",
    "Limits",
    "Location",
    "Profile",
    "Program",
    "ProgramResult",
    "Recommendation",
    "Rule",
    "RuleCache",
    "RuleSet",
    "RulesetError",
    "Session",
    "SmartpickError",
    "__version__",
    "available_engines",
    "catalog_from_data",
    "compile_ruleset",
    "evaluate",
    "evaluate_many",
    "example_names",
    "example_profile_path",
    "import_catalog",
    "load_catalog",
    "load_profile",
    "load_rules",
    "profile_from_data",
    "sample_catalog_path",
]
