"""smartpick_rules: declarative TOML rule sets compiled into an audited forward-chaining engine."""

from .errors import EngineUnavailable, EvaluationError, InputError, RulesetError, SmartpickError
from .inputs import load_catalog, load_profile
from .limits import DEFAULT_LIMITS, Limits
from .models import Catalog, Profile, Program

__version__ = "0.1.0"
