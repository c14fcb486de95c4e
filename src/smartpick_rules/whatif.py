"""What-if and levers, as they were imported before [`Session`][smartpick_rules.Session] had them.

The code lives in ``smartpick_rules.runtime.whatif``; ``Session.whatif`` and ``Session.levers``
are the way in. This module keeps ``from smartpick_rules.whatif import Evaluator, levers, whatif``
working: ``Evaluator(catalog, rules)`` is a ``Session`` whose constructor takes the catalog first.
"""

from __future__ import annotations

from .runtime.session import Evaluator
from .runtime.whatif import (
    LA_LANGUAGES,
    TIER_RANK,
    Change,
    Comparison,
    Evaluates,
    Lever,
    LeverResult,
    Outcomes,
    ProgramChange,
    WhatIfResult,
    apply_changes,
    candidate_levers,
    compare,
    levers,
    parse_change,
    whatif,
)

__all__ = [
    "LA_LANGUAGES",
    "TIER_RANK",
    "Change",
    "Comparison",
    "Evaluates",
    "Evaluator",
    "Lever",
    "LeverResult",
    "Outcomes",
    "ProgramChange",
    "WhatIfResult",
    "apply_changes",
    "candidate_levers",
    "compare",
    "levers",
    "parse_change",
    "whatif",
]
