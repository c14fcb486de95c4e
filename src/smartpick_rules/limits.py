"""Limits on untrusted input, each configurable by the embedding app.

Rule files, profiles and catalogs may come from people an app does not trust. Every way an
input could make the library use unbounded time or memory has a limit here, and exceeding one
is a ``limit_exceeded`` (or, at run time, ``budget_exceeded``) error naming the limit. Pass a
``Limits`` to :func:`load_rules`, :func:`load_catalog`, :func:`load_profile` or
:func:`evaluate`; ``attrs.evolve(DEFAULT_LIMITS, max_rules=50)`` changes one.
"""

from __future__ import annotations

import attrs

__all__ = ["DEFAULT_LIMITS", "Limits", "limit_help"]


@attrs.frozen
class Limits:
    #: bytes in one rule-set file
    max_ruleset_bytes: int = 1_000_000
    #: rules across all loaded rule sets
    max_rules: int = 2_000
    #: rule-set files loaded together
    max_rulesets: int = 200
    #: characters in one expression
    max_expression_length: int = 2_000
    #: nesting depth of one expression (operators, calls, parentheses)
    max_expression_depth: int = 40
    #: distinct tags rules may set
    max_tags: int = 1_000
    #: rule firings in one evaluation, all stages together
    max_firings: int = 5_000_000
    #: programs in one catalog
    max_programs: int = 200_000
    #: characters in one string field or CSV cell
    max_string_length: int = 10_000
    #: items in one list of a profile or program (rotations, letters, languages, tags, ...)
    max_list_items: int = 1_000
    #: bytes in one profile or catalog file
    max_input_bytes: int = 200_000_000
    #: characters in a rendered explanation or advice message
    max_message_length: int = 2_000


DEFAULT_LIMITS = Limits()


def limit_help(name: str) -> str:
    """The help line of a ``limit_exceeded`` diagnostic: which field of :class:`Limits` to change."""
    return f"this is Limits.{name} (default {getattr(DEFAULT_LIMITS, name):,}); an embedding app may raise it"
