"""The durable_rules engine: every rule compiled to a single-fact Rete pattern.

`durable_rules <https://github.com/jruizgit/rules>`_ 2.0.28 is a Rete implementation with a C
core. This module compiles a ``Plan`` into durable_rules rule
sets (plain JSON, printed by ``DurableCompiled.rulesets_json``) and runs them on a
private ``durable.engine.Host``. The engine only decides which rules fire; scores, tiers
and the audit trail are built by shared code, so agreeing fired sets mean byte-identical
results (see ``docs/engines.md``).

How a stage runs
    One *fact* per candidate: one per program in the program stage (the applicant and the
    program together), one in the profile and list stages. A fact carries, under flat dotted
    names, only what the stage's rules read: scalar fields (``program.min_step2_ck``,
    ``applicant.step2_ck.score``, ``derived.x``, ``list.size``), precomputed values
    (``calc.N``), the tags it has (``tag.NAME``) and one flag per rule that already fired on
    it (``fired.RULE_ID``). An absent value is an absent property, so durable_rules never
    compares with null.

    Every rule is a single-fact pattern that starts with ``{"candidate": true}`` and ends with
    ``{"$nex": {"fired.RULE_ID": 1}}``: a rule fires at most once per fact *by its pattern*.
    Strata run in order, each as its own durable_rules rule sets ("chunks"). Candidates are
    asserted in batches; the actions are drained at once, in the evaluating thread; the batch
    is retracted. Forward chaining re-asserts the candidates that gained a tag some rule of
    the stratum reads, with their fired flags; the loop ends when no candidate gains a tag.

What durable_rules decides, and what is precomputed
    Conditions use three-valued logic (a comparison with an absent value is unknown, ``not``
    of unknown is unknown, a rule fires only when its condition is definitely true). Each
    condition compiles to two patterns, "definitely true" (T) and "definitely false" (F):
    ``T(not a) = F(a)``, ``T(a and b) = T(a) and T(b)``, ``F(a and b) = F(a) or F(b)``, and
    so on. durable_rules evaluates comparisons of a field with a constant, of two fields of
    the fact (guarded by ``$ex`` so neither is absent), ``in``/``not in`` a literal list (an
    ``$or`` of equalities), ``has(tag)`` and ``known(field)`` (``$ex``/``$nex``), joined
    with ``$and``/``$or``. Everything else is computed in Python by the reference interpreter
    and carried as a ``calc.N`` field: arithmetic (durable_rules computes ``int / int`` as an
    integer division, crashes on an integer division by zero and has no ``%``; the rule
    language computes in IEEE doubles), the functions (``count``, ``total``, ``any``, ``all``,
    ``len``, ``min``, ``max``, ``abs``, ``years_since``), ``in`` with a list field, and
    float constants durable_rules' JSON reader cannot parse (it reads ``1e-05`` as 1). Such
    a value never reads a tag of its own stratum (a tag read inside a comparison or a
    function counts as a negative read, so the stratifier puts the rule above every rule
    setting that tag), so it is fixed for the whole stratum.

Limits and defects of durable_rules 2.0.28 this engine works around (docs/engines.md)
    * 255 properties per fact (a ``unsigned char`` count: at 255 the assertion returns a
      garbage handle and the next call segfaults): chunks carry at most 240;
    * 15 ``$and``/``$or`` nodes per rule (error 113): a rule needing more is refused;
    * a 64-entry stack walks the alpha network: too many rules matching one fact in one rule
      set overflow it (error 303): rules are packed into chunks of bounded "stack width";
    * correlated joins segfault from 17 rules on: never generated;
    * deleting a state in which no fact ever matched segfaults: every state gets a sentinel
      fact that a sentinel rule matches;
    * durable_rules runs its own state fact through the network after each action, and a
      pattern of absences alone matched it forever: hence ``candidate``;
    * a fact matching several branches of an ``$or`` reaches the rule once per branch: fired
      candidates are collected as a set.
    A rule the compiler cannot fit is refused at compile time (``RulesetError``, code
    ``unsupported``, naming the rule); a value durable_rules cannot compare exactly (an integer
    beyond 2**53, NaN) is an ``EvaluationError`` of code ``unsupported``: never a silent
    difference.

Threads
    The C extension never releases the GIL, so each call into it is atomic, but an
    evaluation is a sequence of calls (assert, start and complete each action, retract,
    delete the state) and ``durable.engine.Host`` starts two timer threads that pick up *any*
    pending action of *any* state every 0.2 s. The private host here starts no timers, and a
    lock per compiled rule set serialises evaluations on it. Every evaluation uses its own
    state id and deletes its states when it ends.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog
from ..errors import Diagnostic, EvaluationError, Location, RulesetError
from ..language.expr import (
    BoolOp,
    Call,
    Compare,
    Expr,
    ListLiteral,
    Literal,
    Not,
    Path,
    iter_nodes,
    to_source,
)
from ..language.facts import FactType, record_fields, root_types
from ..language.interp import Scope, compare, evaluate_expr, read_path, truth
from ..plan import CompiledRule, Plan, StagePlan
from . import Budget

__all__ = ["DurableCompiled", "DurableEngine", "durable_unavailable_reason"]

BoolArray = npt.NDArray[np.bool_]

#: rules of one durable_rules rule set may together push at most this many alpha nodes on the
#: C core's 64-entry matching stack (each rule pushes 1, plus 1 per extra branch of an ``$or``)
MAX_STACK_WIDTH = 48
#: properties of one fact, ``sid`` and ``id`` included (the C core's limit is 255)
MAX_FACT_PROPERTIES = 240
#: ``$and``/``$or`` nodes in one rule's pattern (the C core allows 15)
MAX_BOOL_NODES = 15
#: facts handed to one action call (``cap`` is an unsigned short in the C core)
ACTION_CAP = 65535
#: candidates asserted at once: the C core's fact pools grow to the largest batch and stay so
#: until the state is deleted
BATCH = 500
#: integers beyond this cannot be compared with doubles exactly, as the rule language does
MAX_EXACT_INT = 2**53

_SIDS = itertools.count(1)


# --- availability -------------------------------------------------------------------------


@cache
def durable_unavailable_reason() -> str | None:
    """Why ``engine="durable"`` cannot run here, or None when durable_rules imports."""
    try:
        import durable.engine  # noqa: F401
    except Exception as exc:  # ImportError, or an error raised while loading the C extension
        if sys.version_info >= (3, 13):
            return (
                "durable_rules 2.0.28 does not import on Python "
                f"{sys.version_info[0]}.{sys.version_info[1]} (PyEval_CallObject was removed "
                'from CPython); use engine="native"'
            )
        return (
            f"durable_rules does not import ({type(exc).__name__}: {exc}); install "
            'durable-rules==2.0.28 (Python 3.11 or 3.12), or use engine="native"'
        )
    return None


# --- the compiled patterns ------------------------------------------------------------------


@attrs.frozen
class _Ref:
    """The value of another field of the same fact (``{"$m": field}``)."""

    field: str


@attrs.frozen
class _Test:
    op: str  # $eq $neq $lt $lte $gt $gte $ex $nex
    field: str
    value: Any = None


@attrs.frozen
class _All:
    parts: tuple[Cond, ...]


@attrs.frozen
class _AnyOf:
    parts: tuple[Cond, ...]
    #: at most one branch can match a fact (equalities of one field with distinct constants)
    exclusive: bool = False


@attrs.frozen
class _Const:
    value: bool


Cond = _Test | _All | _AnyOf | _Const
TRUE = _Const(True)
FALSE = _Const(False)
#: every fact this engine asserts carries ``"candidate": true``; durable_rules' state fact does not
CANDIDATE = _Test("$eq", "candidate", True)
#: a rule matching one extra fact per state: durable_rules 2.0.28 segfaults deleting a state in
#: which no fact ever matched a rule, so every state gets one fact that does
SENTINEL = "sentinel:keep-state"
SENTINEL_RULE: dict[str, Any] = {"all": [{"m": {"sentinel": True}}], "run": SENTINEL}


def _and(parts: Iterable[Cond]) -> Cond:
    out: list[Cond] = []
    for p in parts:
        if p == FALSE:
            return FALSE
        if p == TRUE:
            continue
        for q in p.parts if isinstance(p, _All) else (p,):
            if q not in out:  # known(x) and the guard of a comparison with x: one test
                out.append(q)
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else _All(tuple(out))


def _or(parts: Iterable[Cond], exclusive: bool = False) -> Cond:
    out: list[Cond] = []
    for p in parts:
        if p == TRUE:
            return TRUE
        if p == FALSE:
            continue
        if p not in out:
            out.append(p)
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else _AnyOf(tuple(out), exclusive)


_NEGATE = {"$eq": "$neq", "$neq": "$eq", "$lt": "$gte", "$gte": "$lt", "$gt": "$lte", "$lte": "$gt"}
_FLIP = {"$eq": "$eq", "$neq": "$neq", "$lt": "$gt", "$gt": "$lt", "$lte": "$gte", "$gte": "$lte"}
_OPS = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


def _cond_json(c: Cond) -> dict[str, Any]:
    if isinstance(c, _Test):
        if c.op in ("$ex", "$nex"):
            return {c.op: {c.field: 1}}
        value = {"$m": c.value.field} if isinstance(c.value, _Ref) else c.value
        if c.op == "$eq":
            return {c.field: value}
        return {c.op: {c.field: value}}
    if isinstance(c, _All):
        return {"$and": [_cond_json(p) for p in c.parts]}
    if isinstance(c, _AnyOf):
        return {"$or": [_cond_json(p) for p in c.parts]}
    raise AssertionError(f"constant condition {c!r} reached the JSON writer")


def _bool_nodes(c: Cond) -> int:
    if isinstance(c, _All | _AnyOf):
        return 1 + sum(_bool_nodes(p) for p in c.parts)
    return 0


def _width(c: Cond) -> int:
    """Alpha nodes this pattern may leave on the C core's matching stack at once (an upper bound)."""
    if isinstance(c, _All):
        return 1 + sum(_width(p) - 1 for p in c.parts)
    if isinstance(c, _AnyOf):
        if c.exclusive:
            return max(_width(p) for p in c.parts)
        return sum(_width(p) for p in c.parts)
    return 1


def _fields_of(c: Cond) -> set[str]:
    if isinstance(c, _Test):
        out = {c.field}
        if isinstance(c.value, _Ref):
            out.add(c.value.field)
        return out
    if isinstance(c, _All | _AnyOf):
        return set().union(*(_fields_of(p) for p in c.parts))
    return set()


# --- what a fact carries --------------------------------------------------------------------


@attrs.frozen
class _Calc:
    """A value computed in Python and carried on the fact: ``calc.N``."""

    name: str
    expr: Expr
    #: "cond": the truth of a condition (true/false/absent); "value": a number, string or bool
    role: str
    #: reads program fields (per candidate)
    reads_program: bool
    #: reads anything else of the evaluation: applicant, derived, list, tags, the year
    reads_scope: bool
    #: reads a tag set by a rule of its own stage (so it may differ between candidates)
    reads_stage_tags: bool

    @property
    def source(self) -> str:
        return to_source(self.expr)


def _is_scalar_path(p: Path, derived: dict[str, bool]) -> bool:
    """Is this path a number, string or bool (so it can be a property of the fact)?"""
    if p.root == "derived":
        return len(p.parts) == 1 and p.parts[0] in derived
    if p.root not in ("applicant", "program", "list") or not p.parts:
        return False
    t: FactType = root_types()[p.root]
    for part in p.parts:
        if t.kind != "record" or t.record is None:
            return False
        fields = record_fields(t.record)
        if part not in fields:
            return False
        t = fields[part]
    return t.kind in ("number", "string", "bool")


def _literal_ok(v: Any) -> bool:
    """Can this constant be written in a rule set durable_rules reads back exactly?"""
    if v is None:
        return False
    if isinstance(v, bool | str):
        return True
    if isinstance(v, int):
        return abs(v) <= MAX_EXACT_INT
    if isinstance(v, float):
        # durable_rules' JSON reader takes "1e-05" as the integer 1; json.dumps writes floats
        # outside this range with an exponent
        return v == 0.0 or 1e-4 <= abs(v) < 1e16
    return False


class _RuleCompiler:
    """Compiles the conditions of one stage into T/F patterns over fact fields."""

    def __init__(self, stage: StagePlan, derived: dict[str, bool]) -> None:
        self.stage = stage
        #: derived value name -> is every value profile rules set it to a bool?
        self.derived = derived
        self.calcs: dict[tuple[str, str], _Calc] = {}
        #: scalar path fields: name -> path
        self.paths: dict[str, Path] = {}

    # -- fields ----------------------------------------------------------------------
    def field(self, p: Path) -> str:
        name = p.dotted
        self.paths.setdefault(name, p)
        return name

    def calc(self, e: Expr, role: str) -> str:
        key = (role, to_source(e))
        c = self.calcs.get(key)
        if c is None:
            reads_program = reads_scope = reads_stage_tags = False
            for n in iter_nodes(e):
                if isinstance(n, Path):
                    if n.root == "program":
                        reads_program = True
                    elif n.root != "item":
                        reads_scope = True
                elif isinstance(n, Call) and n.func in ("has", "years_since"):
                    reads_scope = True
                    arg = n.args[0] if n.args else None
                    if n.func == "has" and isinstance(arg, Literal) and arg.value in self.stage.tags:
                        reads_stage_tags = True
            c = _Calc(f"calc.{len(self.calcs)}", e, role, reads_program, reads_scope, reads_stage_tags)
            self.calcs[key] = c
        return c.name

    # -- operands --------------------------------------------------------------------
    def operand(self, e: Expr) -> _Ref | Literal | None:
        """A constant, a field of the fact, or None when ``e`` is not a scalar (a list or a record)."""
        if isinstance(e, Literal):
            return e
        if isinstance(e, Path):
            return _Ref(self.field(e)) if _is_scalar_path(e, self.derived) else None
        if isinstance(e, ListLiteral):
            return None
        # arithmetic, negation, functions, and conditions used as values: computed in Python
        return _Ref(self.calc(e, "value"))

    # -- conditions ------------------------------------------------------------------
    def t(self, e: Expr) -> Cond:
        return self.tf(e)[0]

    def tf(self, e: Expr) -> tuple[Cond, Cond]:
        """(definitely true, definitely false) patterns of condition ``e``."""
        if isinstance(e, Literal):
            v = truth(e.value)
            return (TRUE if v is True else FALSE, TRUE if v is False else FALSE)
        if isinstance(e, Not):
            t, f = self.tf(e.operand)
            return f, t
        if isinstance(e, BoolOp):
            parts = [self.tf(o) for o in e.operands]
            if e.op == "and":
                return _and(p[0] for p in parts), _or(p[1] for p in parts)
            return _or(p[0] for p in parts), _and(p[1] for p in parts)
        if isinstance(e, Path):
            if _is_scalar_path(e, self.derived) and self._path_is_bool(e):
                name = self.field(e)
                return _Test("$eq", name, True), _Test("$eq", name, False)
            return self.calc_cond(e)
        if isinstance(e, Call):
            if e.func == "has":
                arg = e.args[0]
                assert isinstance(arg, Literal)
                name = f"tag.{arg.value}"
                return _Test("$ex", name), _Test("$nex", name)
            if e.func == "known":
                inner = e.args[0]
                if isinstance(inner, Path) and _is_scalar_path(inner, self.derived):
                    name = self.field(inner)
                    return _Test("$ex", name), _Test("$nex", name)
                if isinstance(inner, Literal):
                    known = inner.value is not None
                    return (TRUE, FALSE) if known else (FALSE, TRUE)
            return self.calc_cond(e)
        if isinstance(e, Compare):
            return self.compare(e)
        return self.calc_cond(e)

    def _path_is_bool(self, p: Path) -> bool:
        if p.root == "derived":
            return self.derived.get(p.parts[0], False)
        t: FactType = root_types()[p.root]
        for part in p.parts:
            assert t.record is not None
            t = record_fields(t.record)[part]
        return t.kind == "bool"

    def calc_cond(self, e: Expr) -> tuple[Cond, Cond]:
        name = self.calc(e, "cond")
        return _Test("$eq", name, True), _Test("$eq", name, False)

    def compare(self, e: Compare) -> tuple[Cond, Cond]:
        if e.op in ("in", "not in"):
            return self.membership(e)
        left = self.operand(e.left)
        right = self.operand(e.right)
        if left is None or right is None:
            return self.calc_cond(e)
        op = _OPS[e.op]
        if isinstance(left, Literal) and isinstance(right, Literal):
            v = compare(e.op, left.value, right.value)
            return (TRUE if v is True else FALSE, TRUE if v is False else FALSE)
        if isinstance(left, Literal):
            left, right, op = right, left, _FLIP[op]
        assert isinstance(left, _Ref)
        if isinstance(right, Literal):
            if right.value is None:
                return FALSE, FALSE  # a comparison with none is never true or false
            if not _literal_ok(right.value):
                return self.calc_cond(e)
            return _Test(op, left.field, right.value), _Test(_NEGATE[op], left.field, right.value)
        # two fields of the same fact: guard the right one, which durable_rules would read unchecked
        guard = _Test("$ex", right.field)
        return _and([guard, _Test(op, left.field, right)]), _and(
            [guard, _Test(_NEGATE[op], left.field, right)]
        )

    def membership(self, e: Compare) -> tuple[Cond, Cond]:
        left = self.operand(e.left)
        items = e.right.items if isinstance(e.right, ListLiteral) else None
        if left is None or items is None or not all(isinstance(i, Literal) for i in items):
            return self.calc_cond(e)
        values = [i.value for i in items if isinstance(i, Literal)]
        if isinstance(left, Literal):
            found = compare(e.op, left.value, tuple(values))
            return (TRUE if found is True else FALSE, TRUE if found is False else FALSE)
        # x in [...] is x == one of them; none never equals a known x
        distinct: list[Any] = []
        for v in values:
            if v is not None and not any(
                v == d and isinstance(v, bool) == isinstance(d, bool) for d in distinct
            ):
                distinct.append(v)
        if not all(_literal_ok(v) for v in distinct):
            return self.calc_cond(e)
        t = _or((_Test("$eq", left.field, v) for v in distinct), exclusive=True)
        f = _and(_Test("$neq", left.field, v) for v in distinct) if distinct else _Test("$ex", left.field)
        return (f, t) if e.op == "not in" else (t, f)


# --- compiled structure -----------------------------------------------------------------------


@attrs.frozen(eq=False)
class _Chunk:
    """One durable_rules rule set: some rules of one stratum and what their facts carry."""

    name: str
    #: rule indices (into the stage's rules)
    rules: tuple[int, ...]
    #: per rule (as ``rules``), the name of its action: the rule id
    keys: tuple[str, ...]
    definition: dict[str, Any]
    #: scalar path fields read, by name
    paths: tuple[tuple[str, Path], ...]
    calcs: tuple[_Calc, ...]
    #: tags read (has()), any stage
    tags: frozenset[str]
    #: tags set in this stage that the chunk reads -> ``,"tag.NAME":true``
    stage_tags: dict[str, str]
    #: per rule (as ``rules``), its fired-flag property ``"fired.RULE":1``
    fired_order: tuple[str, ...]
    #: the same, as a set
    fired_props: frozenset[str]


@attrs.frozen(eq=False)
class _StageCode:
    stage: str
    strata: tuple[tuple[_Chunk, ...], ...]
    #: rules whose condition is false whatever the facts (never asserted)
    never: tuple[str, ...]
    calcs: tuple[_Calc, ...]


def _private_host() -> Any:
    """A ``durable.engine.Host`` of our own: no timer threads, no global registry."""
    from durable import engine as durable_engine

    class Host(durable_engine.Host):  # type: ignore[misc]
        def _run(self) -> None:
            # The stock Host starts two timer threads that dispatch *any* pending action of *any*
            # state every 0.2 s. Here the evaluation that asserted the facts runs their actions
            # itself, at once, so nothing may run behind its back.
            return None

        def get_action(self, action_name: str) -> Callable[[Any], None]:
            # Actions are drained by _drain at the C level (see there); the Python closures
            # durable_rules would build are never called.
            return _ignore

    return Host()


def _ignore(c: Any) -> None:
    return None


class DurableCompiled:
    """A rule set compiled for durable_rules: the generated rule sets and the host running them.

    ``rulesets_json()`` is what ``smartpick-rules compile --engine durable`` prints. One
    evaluation at a time runs on the host (``lock``); see the module docstring.
    """

    def __init__(self, plan: Plan, stages: dict[str, _StageCode]) -> None:
        self.plan = plan
        self.stages = stages
        self.lock = threading.Lock()
        self._host = _private_host()
        definitions = {
            chunk.name: json.loads(json.dumps(chunk.definition))  # durable_rules mutates what it is given
            for code in stages.values()
            for stratum in code.strata
            for chunk in stratum
        }
        if definitions:
            self._host.set_rulesets(definitions)
        self._rulesets = {name: self._host.get_ruleset(name) for name in definitions}
        weakref.finalize(self, _delete_rulesets, [rs._handle for rs in self._rulesets.values()])

    def definitions(self) -> dict[str, Any]:
        """Per stage: the durable_rules rule sets (by name, strata in order) and the calc fields."""
        out: dict[str, Any] = {}
        for name, code in self.stages.items():
            out[name] = {
                "strata": [[chunk.name for chunk in stratum] for stratum in code.strata],
                "rulesets": {chunk.name: chunk.definition for stratum in code.strata for chunk in stratum},
                "calc": {c.name: c.source for c in code.calcs},
                "never_fire": list(code.never),
            }
        return out

    def rulesets_json(self, indent: int | None = 2) -> str:
        """The generated durable_rules rule sets, as ``smartpick-rules compile --engine durable`` shows them."""
        return json.dumps(
            {"engine": "durable_rules 2.0.28", "stages": self.definitions()},
            indent=indent,
            ensure_ascii=False,
        )


def _delete_rulesets(handles: list[int]) -> None:
    """Free the C rule sets (durable.engine.Ruleset never does; each holds one of 131,072 handles)."""
    try:
        from durable import engine as durable_engine
    except Exception:  # pragma: no cover - interpreter shutting down
        return
    for h in handles:
        with contextlib.suppress(Exception):
            durable_engine.durable_rules_engine.delete_ruleset(h)


def _unsupported(cr: CompiledRule, construct: str) -> RulesetError:
    return RulesetError(
        Diagnostic(
            "unsupported",
            f"the durable engine cannot run this rule: {construct}",
            cr.rule.loc,
            cr.id,
            help='split the condition into simpler rules, or use engine="native"',
        )
    )


def _compile_stage(stage: StagePlan, derived: dict[str, bool]) -> _StageCode:
    rc = _RuleCompiler(stage, derived)
    patterns: dict[int, Cond] = {}
    never: list[str] = []
    for cr in stage.rules:
        pattern = _and(rc.t(c) for c in cr.clauses)
        if pattern == FALSE:
            never.append(cr.id)
            continue
        # "candidate" first: durable_rules runs its own per-state fact ({"sid", "id", "$s"}) through
        # the same network after every action, and a pattern of absences alone would match it
        pattern = _and([CANDIDATE, pattern, _Test("$nex", f"fired.{cr.id}")])
        nodes = _bool_nodes(pattern)
        if nodes > MAX_BOOL_NODES:
            raise _unsupported(
                cr,
                f"its condition needs {nodes} and/or nodes; durable_rules allows {MAX_BOOL_NODES} per rule",
            )
        if _width(pattern) > MAX_STACK_WIDTH:
            raise _unsupported(
                cr, f"its condition has more than {MAX_STACK_WIDTH} alternatives that can hold at once"
            )
        if len(_fields_of(pattern)) + 2 > MAX_FACT_PROPERTIES:  # + sid, id
            raise _unsupported(
                cr,
                f"it reads {len(_fields_of(pattern))} values; a durable_rules fact holds {MAX_FACT_PROPERTIES}",
            )
        patterns[cr.index] = pattern

    calc_by_name = {c.name: c for c in rc.calcs.values()}
    strata: list[tuple[_Chunk, ...]] = []
    for k, stratum in enumerate(stage.strata):
        groups: list[list[int]] = []
        fields: set[str] = set()
        width = 0
        for i in stratum:
            if i not in patterns:
                continue
            f = _fields_of(patterns[i])
            w = _width(patterns[i])
            if (
                not groups or width + w > MAX_STACK_WIDTH or len(fields | f) + 2 > MAX_FACT_PROPERTIES
            ):  # + sid, id
                groups.append([])
                fields, width = set(), 0
            groups[-1].append(i)
            fields |= f
            width += w
        strata.append(
            tuple(
                _chunk(f"{stage.stage}.s{k}.c{j}", stage, group, patterns, rc.paths, calc_by_name)
                for j, group in enumerate(groups)
            )
        )
    return _StageCode(stage.stage, tuple(strata), tuple(never), tuple(rc.calcs.values()))


def _chunk(
    name: str,
    stage: StagePlan,
    rules: list[int],
    patterns: dict[int, Cond],
    paths: dict[str, Path],
    calcs: dict[str, _Calc],
) -> _Chunk:
    fields = set().union(*(_fields_of(patterns[i]) for i in rules))
    definition: dict[str, Any] = {
        stage.rules[i].id: {
            "all": [{"m": _cond_json(patterns[i])}],
            "run": stage.rules[i].id,
            "cap": ACTION_CAP,
        }
        for i in rules
    }
    definition[SENTINEL] = SENTINEL_RULE
    tags = frozenset(n[4:] for n in fields if n.startswith("tag."))
    fired_order = tuple(f'"fired.{stage.rules[i].id}":1' for i in rules)
    return _Chunk(
        name=name,
        rules=tuple(rules),
        keys=tuple(stage.rules[i].id for i in rules),
        definition=definition,
        paths=tuple(sorted((n, paths[n]) for n in fields if n in paths)),
        calcs=tuple(calcs[n] for n in sorted(fields, key=_natural) if n in calcs),
        tags=tags,
        stage_tags={t: f',"tag.{t}":true' for t in sorted(tags & stage.tags)},
        fired_order=fired_order,
        fired_props=frozenset(fired_order),
    )


def _natural(name: str) -> tuple[str, int]:
    head, _, tail = name.rpartition(".")
    return (head, int(tail)) if tail.isdigit() else (name, 0)


# --- facts as JSON text --------------------------------------------------------------------------

_EXPONENT = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\d.])(-?\d+)([eE][-+]?\d+)')


def _fix_exponents(text: str) -> str:
    """``1e-05`` -> ``1.0e-05``: durable_rules reads an exponent only after a fraction."""
    return _EXPONENT.sub(lambda m: m.group(0) if m.group(1) is None else f"{m.group(1)}.0{m.group(2)}", text)


class _Encoder:
    """JSON text of fact properties, in the dialect durable_rules' C reader takes."""

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}

    def value(self, key: str, name: str, v: Any) -> str | None:
        """``key:value`` (``key`` is the quoted property name), or None when ``v`` is absent."""
        if v is None:
            return None
        if v is True:
            text = "true"
        elif v is False:
            text = "false"
        elif isinstance(v, int):
            if abs(v) > MAX_EXACT_INT:
                raise _value_error(name, f"is {v}, too large to compare exactly in durable_rules")
            text = str(v)
        elif isinstance(v, float):
            if math.isnan(v):
                raise _value_error(name, "is not a number (NaN), which durable_rules cannot compare")
            if math.isinf(v):
                text = "1.0e999" if v > 0 else "-1.0e999"  # strtod reads these as +-inf
            else:
                text = repr(v)
                if "e" in text:
                    text = _fix_exponents(text)
        elif isinstance(v, str):
            cached = self.strings.get(v)
            if cached is None:
                cached = json.dumps(v, ensure_ascii=False)
                if len(self.strings) < 100_000:
                    self.strings[v] = cached
            text = cached
        else:
            raise _value_error(name, f"has a {type(v).__name__} value, which is not a fact property")
        return key + ":" + text


def _value_error(name: str, message: str) -> EvaluationError:
    return EvaluationError(
        Diagnostic(
            "unsupported", f"durable engine: `{name}` {message}", Location(), help='use engine="native"'
        )
    )


# --- running ---------------------------------------------------------------------------------


class _Rows:
    """The candidates of one stage run and the tags each has gained in this stage."""

    def __init__(self, base: Scope, n: int, programs: Sequence[Any] | None) -> None:
        self.base = base
        self.n = n
        self.programs = programs
        self.tags: list[set[str]] = [set() for _ in range(n)]
        self._scopes: list[Scope] | None = None
        self._stale: set[int] = set()

    def gained(self, i: int, tag: str) -> None:
        self.tags[i].add(tag)
        self._stale.add(i)

    def scopes(self) -> list[Scope]:
        """Each candidate's facts as the interpreter reads them, tags gained so far included."""
        if self._scopes is None:
            self._scopes = [self._scope(i) for i in range(self.n)]
        elif self._stale:
            for i in self._stale:
                self._scopes[i] = self._scope(i)
        self._stale = set()
        return self._scopes

    def _scope(self, i: int) -> Scope:
        b = self.base
        tags = frozenset(b.tags) | self.tags[i] if self.tags[i] else b.tags
        program = b.program if self.programs is None else self.programs[i]
        return Scope(
            applicant=b.applicant,
            program=program,
            list=b.list,
            derived=b.derived,
            tags=tags,
            as_of_year=b.as_of_year,
        )


class DurableEngine:
    name = "durable"

    def compile(self, plan: Plan) -> DurableCompiled:
        reason = durable_unavailable_reason()
        if reason:
            from ..errors import EngineUnavailable

            raise EngineUnavailable(Diagnostic("engine_unavailable", reason, Location()))
        derived: dict[str, bool] = {}
        for r in plan.ruleset.rules:
            if r.stage == "profile":
                for name, value in r.then.sets:
                    derived[name] = derived.get(name, True) and isinstance(value, bool)
        stages = {st.stage: _compile_stage(st, derived) for st in (plan.profile, plan.program, plan.list)}
        try:
            return DurableCompiled(plan, stages)
        except Exception as exc:
            raise RulesetError(
                Diagnostic(
                    "unsupported",
                    f"durable_rules refused the generated rule sets: {exc}",
                    Location(),
                    help='use engine="native"',
                )
            ) from exc

    # -- the three stages ----------------------------------------------------------------
    def run_profile(self, compiled: DurableCompiled, scope: Scope, budget: Budget) -> frozenset[int]:
        fired = _run(
            compiled, compiled.stages["profile"], compiled.plan.profile, _Rows(scope, 1, None), None, budget
        )
        return frozenset(i for i, rows in fired.items() if rows)

    def run_list(self, compiled: DurableCompiled, scope: Scope, budget: Budget) -> frozenset[int]:
        fired = _run(
            compiled, compiled.stages["list"], compiled.plan.list, _Rows(scope, 1, None), None, budget
        )
        return frozenset(i for i, rows in fired.items() if rows)

    def run_program(
        self, compiled: DurableCompiled, scope: Scope, catalog: Catalog, budget: Budget
    ) -> list[BoolArray]:
        stage = compiled.plan.program
        n = len(catalog)
        out: list[BoolArray] = [np.zeros(n, dtype=np.bool_) for _ in stage.rules]
        if n == 0 or not stage.rules:
            return out
        rows = _Rows(scope, n, catalog.programs)
        fired = _run(compiled, compiled.stages["program"], stage, rows, catalog, budget)
        for i, hit in fired.items():
            if hit:
                out[i][np.fromiter(hit, dtype=np.intp, count=len(hit))] = True
        return out


def _run(
    compiled: DurableCompiled,
    code: _StageCode,
    stage: StagePlan,
    rows: _Rows,
    catalog: Catalog | None,
    budget: Budget,
) -> dict[int, set[int]]:
    """Run one stage to its fixpoint; return, per rule index, the candidates it fired on."""
    fired: dict[int, set[int]] = {i: set() for i in range(len(stage.rules))}
    if not any(code.strata):
        return fired
    from durable import engine as durable_engine

    c_api = durable_engine.durable_rules_engine
    sid = f"e{next(_SIDS)}"
    head = [f'{{"sid":"{sid}","id":{i},"candidate":true' for i in range(rows.n)]
    #: per candidate, the "fired.RULE":1 properties of the rules that fired on it
    fired_props: list[list[str]] = [[] for _ in range(rows.n)]
    enc = _Encoder()
    base_tags = rows.base.tags
    with compiled.lock:
        touched: dict[str, Any] = {}
        try:
            for stratum in code.strata:
                if not stratum:
                    continue
                base = {chunk.name: _base_fragments(chunk, rows, catalog, enc) for chunk in stratum}
                todo = {chunk.name: list(range(rows.n)) for chunk in stratum}
                #: tags each candidate gained in this stratum (those from before are in ``base``)
                gained: dict[int, list[str]] = {}
                first = True
                while True:
                    collect: dict[str, set[int]] = {}
                    for chunk in stratum:
                        rs = compiled._rulesets[chunk.name]
                        chunk_base = base[chunk.name]
                        stage_tags = chunk.stage_tags
                        keys = chunk.fired_props
                        facts = []
                        for i in todo[chunk.name]:
                            text = chunk_base[i]
                            for t in gained.get(i, ()):
                                if t in stage_tags:
                                    text += stage_tags[t]
                            if not first and fired_props[i]:
                                for f in fired_props[i]:
                                    if f in keys:
                                        text += "," + f
                            facts.append((i, head[i] + text + "}"))
                        if facts:
                            sentinel = chunk.name not in touched
                            touched[chunk.name] = rs
                            _assert_and_drain(c_api, rs._handle, sid, facts, sentinel, collect)
                    # new firings, counted against the budget in audit order as native counts them
                    changed: dict[int, set[str]] = {}
                    for chunk in stratum:
                        for i, key, prop in zip(chunk.rules, chunk.keys, chunk.fired_order, strict=True):
                            new = collect.get(key, set()) - fired[i]
                            if not new:
                                continue
                            budget.spend(len(new), stage.stage, key)
                            fired[i] |= new
                            for r in new:
                                fired_props[r].append(prop)
                            for t in stage.rules[i].rule.then.tags:
                                for r in new:
                                    if t not in rows.tags[r]:
                                        rows.gained(r, t)
                                        if t not in base_tags:  # else has(t) was true all along
                                            gained.setdefault(r, []).append(t)
                                            changed.setdefault(r, set()).add(t)
                    # forward chaining: retract and re-assert the candidates that gained a tag a rule reads
                    first = False
                    for chunk in stratum:
                        todo[chunk.name] = sorted(
                            r for r, ts in changed.items() if not ts.isdisjoint(chunk.stage_tags)
                        )
                    if not any(todo.values()):
                        break
                # the stratum is done: free its states now rather than at the end of the stage
                for chunk in stratum:
                    done = touched.pop(chunk.name, None)
                    if done is not None:
                        done.delete_state(sid)
        finally:
            for rs in touched.values():
                with contextlib.suppress(Exception):  # never hide the error that stopped the run
                    rs.delete_state(sid)
    return fired


def _assert_and_drain(
    c_api: Any,
    handle: int,
    sid: str,
    facts: list[tuple[int, str]],
    sentinel: bool,
    collect: dict[str, set[int]],
) -> None:
    """Assert candidates' facts in batches; after each, run its actions and retract it."""
    for at in range(0, len(facts), BATCH):
        batch = facts[at : at + BATCH]
        texts = [text for _i, text in batch]
        if sentinel and at == 0:
            texts.insert(0, f'{{"sid":"{sid}","id":"sentinel","sentinel":true}}')
        result, state = _call(c_api.assert_facts, handle, "[" + ",".join(texts) + "]")
        # 1: some candidate matched no rule (durable's Python API raises MessageNotHandledException,
        # and the Host would then skip the other candidates' actions): not an error
        if result == 2:  # pragma: no cover - every candidate is retracted before it is re-asserted
            raise _engine_error("durable_rules saw a candidate twice")
        _drain(c_api, handle, state, collect)
        # The batch's actions have run: retract it. A single-fact pattern never needs a fact
        # again, durable_rules keeps each stored fact in ~7 KB (255 property slots) until its
        # state is deleted, and a candidate that gains a tag is re-asserted anyway.
        retract = ",".join(f'{{"sid":"{sid}","id":{i}}}' for i, _text in batch)
        _call(c_api.retract_facts, handle, "[" + retract + "]")


def _base_fragments(chunk: _Chunk, rows: _Rows, catalog: Catalog | None, enc: _Encoder) -> list[str]:
    """Per candidate, the JSON of everything but the tags and flags gained in this stratum.

    Starts with a comma (it follows the candidate's ``sid``/``id``/``candidate`` properties).
    Fields and calcs stay fixed through a stratum, and so do the tags from before it.
    """
    n = rows.n
    constant: list[str] = []
    per_row: list[list[str]] = [[] for _ in range(n)]
    if catalog is not None:
        # what reads only the program: one fragment per program, kept on the catalog
        own = _program_part(catalog, chunk, enc)
        for i in range(n):
            if own[i]:
                per_row[i].append(own[i])
    for name, p in chunk.paths:
        if p.root != "program":
            text = enc.value(json.dumps(name), name, read_path(p, rows.base))
            if text is not None:
                constant.append(text)
    for c in chunk.calcs:
        key = json.dumps(c.name)
        if catalog is not None and not c.reads_scope:
            continue  # in the catalog's part
        if catalog is not None and not c.reads_program and not c.reads_stage_tags:
            text = enc.value(key, c.name, _calc_value(c, rows.base))  # the same for every candidate
            if text is not None:
                constant.append(text)
            continue
        for i, sc in enumerate(rows.scopes()):
            text = enc.value(key, c.name, _calc_value(c, sc))
            if text is not None:
                per_row[i].append(text)
    # tags held before this stratum: the applicant's (earlier stages) and the candidate's (earlier strata)
    base_tags = rows.base.tags
    constant.extend(f'"tag.{t}":true' for t in sorted(chunk.tags) if t in base_tags)
    const_text = ",".join(constant)
    out = []
    for i, parts in enumerate(per_row):
        if const_text:
            parts.append(const_text)
        held = rows.tags[i]
        if held:
            parts.extend(f'"tag.{t}":true' for t in sorted(held) if t in chunk.tags and t not in base_tags)
        out.append("," + ",".join(parts) if parts else "")
    return out


def _calc_value(c: _Calc, scope: Scope) -> Any:
    v = evaluate_expr(c.expr, scope)
    return truth(v) if c.role == "cond" else v


def _program_part(catalog: Catalog, chunk: _Chunk, enc: _Encoder) -> list[str]:
    """JSON of the program fields and program-only calcs a chunk reads, per program.

    It depends on the catalog alone, so it is built once per catalog and kept in its column
    cache (catalogs are immutable), keyed by what it holds.
    """
    paths = [(name, p) for name, p in chunk.paths if p.root == "program"]
    calcs = [c for c in chunk.calcs if not c.reads_scope]
    if not paths and not calcs:
        return [""] * len(catalog)
    cache = catalog.column_cache()
    key = "durable:part:" + "|".join(
        [name for name, _p in paths] + [f"{c.name}={c.role}:{c.source}" for c in calcs]
    )
    part = cache.get(key)
    if part is None:
        keys = [json.dumps(name) for name, _p in paths]
        calc_keys = [json.dumps(c.name) for c in calcs]
        out: list[str] = []
        for prog in catalog.programs:
            scope = Scope(program=prog)
            texts = [
                enc.value(k, name, read_path(p, scope)) for k, (name, p) in zip(keys, paths, strict=True)
            ]
            texts += [
                enc.value(k, c.name, _calc_value(c, scope)) for k, c in zip(calc_keys, calcs, strict=True)
            ]
            out.append(",".join(t for t in texts if t is not None))
        part = out
        cache[key] = part
    return part  # type: ignore[return-value]


def _call(fn: Any, handle: int, payload: str) -> tuple[int, int]:
    try:
        result = fn(handle, payload)
    except UnicodeEncodeError as exc:
        raise _engine_error(f"a value cannot be encoded as UTF-8 for durable_rules ({exc.reason})") from None
    except Exception as exc:
        raise _engine_error(f"durable_rules failed: {exc}") from exc
    return int(result[0]), int(result[1])


#: a matched candidate in an action's frames: our facts start exactly so (see ``head`` in _run)
_FRAME_ID = re.compile(r'\{"m":\{"sid":"[^"]*","id":(\d+),"candidate":true')


def _drain(c_api: Any, handle: int, state: int, collect: dict[str, set[int]]) -> None:
    """Run every action the last assertion made pending, now, in this thread.

    An action is ``{"RULE": [{"m": FACT}, ...]}`` (up to ``cap`` frames). durable's Python
    layer (``Ruleset.do_actions``) would ``json.loads`` every frame, wrap it in ``Content``
    objects, call the action and write the state back after each: more time than matching
    takes. Only the candidates' ids are needed, and the frames are our own JSON text, so they
    are read with one regular expression, checked against the frame count.
    """
    try:
        started = c_api.start_action_for_state(handle, state)
        messages = started[1] if started else None
        while messages:
            rule = messages[2 : messages.index('"', 2)]
            if rule != SENTINEL:
                ids = _FRAME_ID.findall(messages)
                if len(ids) != messages.count('{"m":'):  # pragma: no cover - a fact we did not write
                    frames = json.loads(messages)[rule]
                    ids = [f["m"]["id"] for f in (frames if isinstance(frames, list) else [frames])]
                collect.setdefault(rule, set()).update(int(x) for x in ids)
            messages = c_api.complete_and_start_action(handle, state)
    except Exception as exc:
        raise _engine_error(f"durable_rules failed running actions: {exc}") from exc


def _engine_error(message: str) -> EvaluationError:
    return EvaluationError(Diagnostic("evaluation_error", message, Location(), help='use engine="native"'))
