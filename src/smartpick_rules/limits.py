"""Limits on untrusted input, each configurable by the embedding app.

Rule files, profiles and catalogs may come from people an app does not trust. Every way an input
could make the library use unbounded time or memory has a limit here, and exceeding one is a
``limit_exceeded`` (or, at run time, ``budget_exceeded``) error naming the limit. Pass a ``Limits``
to [`load_rules`][smartpick_rules.load_rules], [`load_catalog`][smartpick_rules.load_catalog],
[`load_profile`][smartpick_rules.load_profile] or [`evaluate`][smartpick_rules.evaluate];
``attrs.evolve(DEFAULT_LIMITS, max_rules=50)`` changes one.
"""

from __future__ import annotations

from .records import frozen

__all__ = ["DEFAULT_LIMITS", "Limits", "limit_help"]


@frozen
class Limits:
    """Bounds on untrusted rule files, profiles and catalogs; each field is one limit.

    The defaults leave ample room for the shipped rule sets and catalogs. Exceeding a limit is a
    ``limit_exceeded`` diagnostic (``budget_exceeded`` for ``max_firings`` and ``max_work`` at run time) naming
    the field; ``attrs.evolve(DEFAULT_LIMITS, max_rules=50)`` changes one.
    """

    max_ruleset_bytes: int = 1_000_000
    """Bytes in one rule-set file."""
    max_ruleset_total_bytes: int = 1_000_000
    """Bytes in all the rule-set files loaded together (the shipped ones are about 150 KB):
    what loading, checking and planning cost grows with."""
    max_rules: int = 2_000
    """Rules across all loaded rule sets."""
    max_rulesets: int = 200
    """Rule-set files loaded together."""
    max_expression_length: int = 2_000
    """Characters in one expression."""
    max_expression_depth: int = 40
    """Nesting depth of one expression (operators, calls, parentheses)."""
    max_tags: int = 1_000
    """Distinct tags rules may set."""
    max_firings: int = 1_000_000
    """Rule firings in one evaluation, all stages together."""
    max_work: int = 1_000_000
    """Elements visited in one evaluation: a condition node evaluated for one program or list
    item is one (the vectorised program stage: one per node per 512 programs); nested
    collection functions multiply."""
    max_audit_entries: int = 200_000
    """Audit entries the program results of one evaluation may hold together once built (the
    shipped rules write about 28 a program): what reading every program, as a report does, keeps
    in memory; and what one ``to_json`` writes (a program at a time, also bounded by
    ``max_result_bytes``)."""
    max_result_bytes: int = 150_000_000
    """Bytes of JSON ``to_json`` writes for one result (the shipped rules over the 5,301-program
    sample catalog write 102 MB indented)."""
    max_engine_seconds: int = 30
    """Seconds the durable engine's worker process may take for one call (compiling a rule set,
    one stratum of one stage) before it is stopped; fixed when the rule set is compiled."""
    max_programs: int = 30_000
    """Programs in one catalog."""
    max_string_length: int = 10_000
    """Characters in one string field or CSV cell."""
    max_list_items: int = 1_000
    """Items in one list of a profile or program (rotations, letters, languages, tags, ...)."""
    max_input_bytes: int = 12_000_000
    """Bytes in one profile or catalog file."""
    max_message_length: int = 2_000
    """Characters in a rendered explanation or advice message."""


DEFAULT_LIMITS = Limits()


def limit_help(name: str) -> str:
    """The help line of a ``limit_exceeded`` diagnostic: which field of
    [`Limits`][smartpick_rules.Limits] to change."""
    return f"this is Limits.{name} (default {getattr(DEFAULT_LIMITS, name):,}); an embedding app may raise it"
