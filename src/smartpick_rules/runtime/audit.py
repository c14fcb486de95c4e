"""Audit entries: what each fired rule read and did, and why a rule did not fire."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import typing
from collections.abc import Sequence
from enum import Enum
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.converter import converter, unstructure
from ..domain.models import Catalog, Program
from ..language.expr import Expr, Path, iter_nodes, to_source
from ..language.interp import ScalarCompiler, Scope, plain, truth
from ..language.ir import Rule
from ..limits import Limits
from ..plan import CompiledRule
from ..results.recommendation import (
    AuditEntry,
    WhyNot,
)
from .list_stage import breadth_bound

__all__ = [
    "EntryMaker",
    "catalog_sha256",
    "effect_fields",
    "effect_text",
    "json_value",
    "json_values",
    "sha256_of",
    "why_not_entry",
]

BoolArray = npt.NDArray[np.bool_]


def json_value(v: Any) -> Any:
    """A value read by a rule as it appears in the audit: plain JSON data, records as tables.

    Arithmetic may overflow to infinity (a rule reads ``total(...) * 1e300``); JSON has no
    such number, so a non-finite value is recorded as null, like an unknown one.
    """
    c = v.__class__
    if c is str or c is int or c is bool or v is None:
        return v
    if c is float:
        return v if math.isfinite(v) else None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple | list):
        return [json_value(x) for x in v]
    if attrs.has(type(v)):
        return unstructure(v)
    return v


def json_values(values: list[Any]) -> list[Any]:
    """``json_value(plain(v))`` of each value of a catalog column, a column at a time: strings,
    whole numbers, flags and finite numbers are their own JSON, an enum's few distinct members are
    converted once, tuples of strings become lists. Any other column (values of several types, a
    number that is not finite) is converted value by value: a dict of distinct values would merge
    1 with True and 1.0, and 0.0 with -0.0."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if len(kinds) == 1:
        (kind,) = kinds
        if kind is str or kind is int or kind is bool:
            return values
        # a sum of floats is finite only if every one is (an infinity or a NaN stays in it)
        if kind is float and math.isfinite(sum([v for v in values if v is not None])):
            return values
        if issubclass(kind, Enum):
            converted = {v: json_value(plain(v)) for v in set(values)}
            return list(map(converted.__getitem__, values))
        if kind is tuple and all(type(x) is str for t in values if t is not None for x in t):
            return [None if t is None else list(t) for t in values]
    return [json_value(plain(v)) for v in values]


def effect_fields(rule: Rule) -> dict[str, Any]:
    """An audit entry's typed effect fields that depend on the rule alone (``AuditEntry.excludes``,
    ``tier_at_most``, ``priority``, ``tags``, ``advice``, ``estimates``); only those the rule has."""
    eff = rule.then
    out: dict[str, Any] = {}
    if eff.exclude is not None:
        out["excludes"] = True
    if eff.tier_at_most is not None:
        out["tier_at_most"] = eff.tier_at_most
    if eff.priority is not None:
        out["priority"] = float(eff.priority)
    if eff.tags:
        out["tags"] = eff.tags
    if eff.advice is not None:
        out["advice"] = True
    if eff.estimate:
        out["estimates"] = tuple(name for name, _value in eff.estimate)
    return out


def effect_text(rule: Rule, odds: float | None, static: str) -> str:
    """The entry's ``effect``: ``static`` (the rule's own description), with the factor an
    ``odds`` expression came to for this program in place of the expression."""
    if odds is None or not rule.then.computes_odds:
        return static
    return rule.then.describe(odds)


class EntryMaker:
    """Builds audit entries; what does not depend on the program is computed once per rule."""

    def __init__(self, limits: Limits, compiler: ScalarCompiler | None = None, rule_parts: dict[str, Any] | None = None) -> None:
        self.limits = limits
        self.compiler = compiler if compiler is not None else ScalarCompiler()
        #: per rule id, its effect in words and typed fields: pass a plan's dict (``rule_parts``)
        #: to work them out once per rule set rather than once per evaluation
        parts = rule_parts if rule_parts is not None else {}
        self.effects: dict[str, str] = parts.setdefault("effects", {})
        self.fields: dict[str, dict[str, Any]] = parts.setdefault("fields", {})
        self.constant_values: dict[tuple[str, int], dict[str, Any]] = {}

    def __call__(
        self,
        cr: CompiledRule,
        scope: Scope,
        chance_after: float | None = None,
        odds: float | None = None,
        chance_cap: float | None = None,
    ) -> AuditEntry:
        rule = cr.rule
        value = self.compiler

        def evaluate_expr(e: Expr, scope: Scope) -> Any:
            return value(e)(scope)

        effect = self.effects.get(rule.id)
        if effect is None:
            effect = self.effects[rule.id] = rule.then.describe()
        fields = self.fields.get(rule.id)
        if fields is None:
            fields = self.fields[rule.id] = effect_fields(rule)
        eff = rule.then
        if eff.sets or eff.breadth is not None or eff.at_most or eff.at_least:
            # profile and list stages only: one entry per rule, so computed for it
            fields = {**fields, **self.list_fields(cr, scope)}
        if scope.program is None:
            values = {k: json_value(evaluate_expr(e, scope)) for k, e, _p in cr.reads}
        else:
            # what does not depend on the program is the same for every program: read it once
            key = (rule.id, id(scope.applicant))
            const = self.constant_values.get(key)
            if const is None:
                const = {k: json_value(evaluate_expr(e, scope)) for k, e, per_program in cr.reads if not per_program}
                self.constant_values[key] = const
            values = {k: const[k] if k in const else json_value(evaluate_expr(e, scope)) for k, e, _p in cr.reads}
        explanation = rule.explain.render(values, self.limits.max_message_length) if rule.explain else None
        return AuditEntry(
            rule_id=rule.id,
            ruleset=rule.ruleset,
            ruleset_version=rule.ruleset_version,
            stage=rule.stage,
            salience=rule.salience,
            effect=effect_text(rule, odds, effect),
            explanation=explanation,
            values=values,
            chance_after=chance_after,
            file=rule.loc.file,
            line=rule.loc.line,
            source=rule.source,
            odds=odds,
            chance_cap=chance_cap,
            **fields,
        )

    def list_fields(self, cr: CompiledRule, scope: Scope) -> dict[str, Any]:
        """The values a rule sets (``set``) and the list bounds it gives (``breadth``, ``at_most``,
        ``at_least``), computed on ``scope`` as the list stage computed them."""
        rule = cr.rule
        eff = rule.then
        out: dict[str, Any] = {}
        if eff.sets:
            out["sets"] = {name: json_value(value) for name, value in eff.sets}
        if eff.breadth is not None:
            lo = breadth_bound(self.compiler(eff.breadth.min)(scope), rule)
            hi = breadth_bound(self.compiler(eff.breadth.max)(scope), rule)
            out["breadth"] = (min(lo, hi), max(lo, hi))
        for key, table in (("at_most", eff.at_most), ("at_least", eff.at_least)):
            if table:
                out[key] = {name: breadth_bound(self.compiler(e)(scope), rule, f"`{key}.{name}`") for name, e in table}
        return out


def sha256_of(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def catalog_sha256(catalog: Catalog) -> str:
    """The catalog's fingerprint: SHA-256 of its programs as sorted JSON lines, one per program
    (``json.dumps(unstructure(program), sort_keys=True, ensure_ascii=False)``)."""
    cache = catalog.column_cache()
    sha = cache.get("sha256")
    if sha is None:
        rows = program_json_lines(catalog.programs)
        if rows is None:
            rows = [json.dumps(unstructure(p), sort_keys=True, ensure_ascii=False) for p in catalog.programs]
        # order-independent: the same programs in another order are the same catalog
        rows.sort()
        sha = hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()
        cache["sha256"] = sha
    return str(sha)


def program_json_lines(programs: Sequence[Program]) -> list[str] | None:
    """``json.dumps(unstructure(p), sort_keys=True, ensure_ascii=False)`` for every program,
    written a field at a time: a column of strings through json's own string encoder, a column
    of few distinct values (enums, flags, scores, tags) with each distinct value dumped once.
    None when a column holds anything else (values of several types, say), for the caller to
    dump program by program. Tested equal to that in tests/test_catalog_batched.py."""
    if not programs:
        return []
    types = _program_types()
    names = sorted(a.name for a in attrs.fields(Program))
    if sorted(unstructure(programs[0])) != names:
        return None
    columns: list[list[str]] = []
    for name in names:
        values = [getattr(p, name) for p in programs]
        kinds = set(map(type, values))
        if kinds == {str} and types[name] is str:
            columns.append(list(map(_json_string, values)))
            continue
        kinds.discard(type(None))
        # a dict of distinct values would merge 1 with True and 1.0 (and 0.0 with -0.0: below)
        if len(kinds) > 1:
            return None
        if kinds == {tuple} and not all(type(x) is str for t in values for x in t):
            return None  # (1,) and (True,) would be one key too
        try:
            distinct = set(values)
        except TypeError:  # unhashable
            return None
        if kinds == {float} and any(v == 0 for v in distinct):
            columns.append(["null" if v is None else _json_number(v) for v in values])
            continue
        unstructure_as = types[name]
        dumped = {v: json.dumps(converter.unstructure(v, unstructure_as), sort_keys=True, ensure_ascii=False) for v in distinct}
        columns.append(list(map(dumped.__getitem__, values)))
    template = "{" + ", ".join(f'"{name}": %s' for name in names) + "}"
    return [template % row for row in zip(*columns, strict=True)]


@functools.cache
def _program_types() -> dict[str, Any]:
    return typing.get_type_hints(Program)


#: what ``json.dumps(..., ensure_ascii=False)`` writes a string with
_json_string = json.encoder.encode_basestring


def _json_number(v: float) -> str:
    # json writes a finite float with float.__repr__ (an int with int.__repr__), the rest by name
    return float.__repr__(v) if type(v) is float and math.isfinite(v) else json.dumps(v)


def why_not_entry(
    cr: CompiledRule, scope: Scope, estimates: dict[str, Expr] | None = None, compiler: ScalarCompiler | None = None
) -> WhyNot:
    value = compiler if compiler is not None else ScalarCompiler()

    def evaluate_expr(e: Expr, scope: Scope) -> Any:
        return value(e)(scope)

    written = cr.written_clauses or cr.clauses
    for clause, shown in zip(cr.clauses, written, strict=True):
        v = truth(evaluate_expr(clause, scope))
        if v is not True:
            values: dict[str, Any] = {}
            for p in iter_nodes(shown):
                if not isinstance(p, Path) or p.root == "item" or not (p.parts or p.root == "derived"):
                    continue
                if p.root == "estimate":
                    e = (estimates or {}).get(p.parts[0])
                    values[p.dotted] = None if e is None else json_value(evaluate_expr(e, scope))
                else:
                    values[p.dotted] = json_value(evaluate_expr(p, scope))
            outcome = "unknown" if v is None else "false"
            gated = clause in cr.applicant_clauses
            return WhyNot(cr.rule.id, to_source(shown), outcome + (" (applicant)" if gated else ""), values)
    # every clause true on the final facts but the rule did not fire: cannot happen for a
    # correct engine, so say so loudly rather than hide it
    return WhyNot(cr.rule.id, "", "engine disagreement: all clauses are true", {})
