"""smartpick_rules: declarative TOML rule sets compiled into an audited forward-chaining engine.

    >>> import smartpick_rules as sr
    >>> rec = sr.evaluate(sr.load_profile("profile.toml"), sr.load_catalog("catalog.csv"))
    >>> print(rec.explain(rec.programs[0].program.id))
"""

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
from .engines import compile_ruleset
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
from .results.recommendation import AuditEntry, ProgramResult, Recommendation
from .ruleset.load import load_rules
from .runtime.evaluate import evaluate
from .version import __version__

__all__ = [
    "DEFAULT_LIMITS",
    "AuditEntry",
    "Catalog",
    "CohortResult",
    "ColumnMap",
    "Diagnostic",
    "EngineUnavailable",
    "EvaluationError",
    "InputError",
    "Limits",
    "Location",
    "Profile",
    "Program",
    "ProgramResult",
    "Recommendation",
    "Rule",
    "RuleSet",
    "RulesetError",
    "SmartpickError",
    "__version__",
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
