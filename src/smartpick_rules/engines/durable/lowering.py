"""Lowering a plan to durable_rules: rule sets as JSON, and each candidate fact as JSON text.

Pure Python, no durable_rules call: everything here runs in the evaluating process, and the
worker process (``worker.py``) only asserts the texts built here and reports which rules fired.

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
    asserted in batches; the actions are drained at once; the batch is retracted. Forward
    chaining re-asserts the candidates that gained a tag some rule of the stratum reads, with
    their fired flags; the loop ends when no candidate gains a tag.

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
    language computes in IEEE doubles), the functions the registry marks ``Durable.PYTHON``
    (language/functions.py: the collection functions and the numeric ones), ``in`` with a list field, and
    float constants durable_rules' JSON reader cannot parse (it reads ``1e-05`` as 1). Such
    a value never reads a tag of its own stratum (a tag read inside a comparison or a
    function counts as a negative read, so the stratifier puts the rule above every rule
    setting that tag), so it is fixed for the whole stratum.

Limits and defects of durable_rules 2.0.28 worked around here (docs/engines.md)
    * 255 properties per fact (a ``unsigned char`` count: at 255 the assertion returns a
      garbage handle and the next call segfaults): chunks carry at most 240;
    * 15 ``$and``/``$or`` nodes per rule (error 113): a rule needing more is refused;
    * a 64-entry stack walks the alpha network: too many rules matching one fact in one rule
      set overflow it (error 303): rules are packed into chunks of bounded "stack width";
    * an alpha node keeps its children in an open-addressing table of 512 slots probed until
      an empty one: the 512th child makes every match loop forever, the 513th makes compiling
      loop forever, with the GIL held (measured: ``program.positions in [...]`` with 511
      values runs, 512 hangs evaluating, 513 hangs compiling; children add up across the rules
      of one rule set). Chunks keep every node at 511 children at most; a rule that alone
      needs more is refused at compile time (``unsupported``);
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
    difference. Whatever else the C core does (a hang or a crash nobody has found yet) happens
    in the worker process, under a deadline (``host.py``).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ...domain.models import Catalog
from ...errors import Diagnostic, EvaluationError, Location, RulesetError
from ...language.expr import (
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
from ...language.facts import FactType, record_fields, root_types
from ...language.functions import Durable, builtin, tag_read
from ...language.interp import Scope, compare, evaluate_expr, read_path, truth
from ...plan import CompiledRule, StagePlan
from ...records import frozen

__all__ = [
    "BATCH",
    "MAX_ALPHA_CHILDREN",
    "SENTINEL",
    "AlphaNetwork",
    "Calc",
    "Chunk",
    "Encoder",
    "Rows",
    "StageCode",
    "base_fragments",
    "compile_stage",
    "fix_exponents",
]

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


# --- the compiled patterns ------------------------------------------------------------------


@frozen
class _Ref:
    """The value of another field of the same fact (``{"$m": field}``)."""

    field: str


@frozen
class _Test:
    op: str  # $eq $neq $lt $lte $gt $gte $ex $nex
    field: str
    value: Any = None


@frozen
class _All:
    parts: tuple[Cond, ...]


@frozen
class _AnyOf:
    parts: tuple[Cond, ...]
    #: at most one branch can match a fact (equalities of one field with distinct constants)
    exclusive: bool = False


@frozen
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


@frozen
class Calc:
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
        self.calcs: dict[tuple[str, str], Calc] = {}
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
                elif (spec := builtin(n)) is not None and spec.reads:
                    # the facts' tags, the evaluation year: what the program alone does not fix
                    reads_scope = True
                    tag = tag_read(n)
                    if tag is not None and tag in self.stage.tags:
                        reads_stage_tags = True
            c = Calc(f"calc.{len(self.calcs)}", e, role, reads_program, reads_scope, reads_stage_tags)
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
        spec = builtin(e)
        if isinstance(e, Call) and spec is not None:
            if spec.durable is Durable.TAG_PATTERN:
                tag = tag_read(e)
                assert tag is not None
                name = f"tag.{tag}"
                return _Test("$ex", name), _Test("$nex", name)
            if spec.durable is Durable.FIELD_PRESENCE:
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


@frozen(eq=False)
class Chunk:
    """One durable_rules rule set: some rules of one stratum and what their facts carry."""

    name: str
    #: rule indices (into the stage's rules)
    rules: tuple[int, ...]
    #: per rule (as ``rules``), the name of its action: the rule id
    keys: tuple[str, ...]
    definition: dict[str, Any]
    #: scalar path fields read, by name
    paths: tuple[tuple[str, Path], ...]
    calcs: tuple[Calc, ...]
    #: tags read (has()), any stage
    tags: frozenset[str]
    #: tags set in this stage that the chunk reads -> ``,"tag.NAME":true``
    stage_tags: dict[str, str]
    #: per rule (as ``rules``), its fired-flag property ``"fired.RULE":1``
    fired_order: tuple[str, ...]
    #: the same, as a set
    fired_props: frozenset[str]


@frozen(eq=False)
class StageCode:
    stage: str
    strata: tuple[tuple[Chunk, ...], ...]
    #: rules whose condition is false whatever the facts (never asserted)
    never: tuple[str, ...]
    calcs: tuple[Calc, ...]


#: children one alpha node may have: its table has 512 slots and a probe stops only at an empty one
MAX_ALPHA_CHILDREN = 511


class AlphaNetwork:
    """The alpha network durable_rules builds for one rule set, as far as its limits go.

    Tests are nodes; a rule's ``$and`` is a chain of them from the root, shared with every rule
    that starts with the same tests; an ``$or`` hangs each branch from the current node and
    continues from a join node of its own. Each node keeps its children (all but ``$nex``
    tests, which live in a separate list) in a 512-slot table: measured with durable_rules
    2.0.28, the 512th child makes matching loop forever and the 513th makes compiling loop
    forever. ``add`` keeps every node at ``MAX_ALPHA_CHILDREN`` or fewer.
    """

    def __init__(self) -> None:
        self.children: dict[tuple[int, str, str, str], int] = {}
        self.counts: dict[int, int] = {}
        self.nodes = 1  # the root
        #: when ``add`` refuses: the children the fullest node would have needed
        self.needed = 0
        self.add(_Test("$eq", "sentinel", True))  # the sentinel rule of every chunk

    def add(self, pattern: Cond) -> bool:
        """Add one rule's pattern; False (and nothing added) if a node would overflow."""
        created: list[tuple[int, str, str, str]] = []
        try:
            self._walk(pattern, 0, created)
        except _Overflow as exc:
            for key in reversed(created):
                del self.children[key]
                if key[1] != "$nex":
                    self.counts[key[0]] -= 1
            self.needed = exc.args[0]
            return False
        return True

    def _walk(self, c: Cond, parent: int, created: list[tuple[int, str, str, str]]) -> int:
        if isinstance(c, _Test):
            value = c.value
            shown = f"ref:{value.field}" if isinstance(value, _Ref) else f"{type(value).__name__}:{value!r}"
            key = (parent, c.op, c.field, shown)
            child = self.children.get(key)
            if child is None:
                child = self.nodes
                self.nodes += 1
                self.children[key] = child
                created.append(key)
                if c.op != "$nex":
                    n = self.counts.get(parent, 0) + 1
                    self.counts[parent] = n
                    if n > MAX_ALPHA_CHILDREN:
                        raise _Overflow(n)
            return child
        if isinstance(c, _All):
            node = parent
            for part in c.parts:
                node = self._walk(part, node, created)
            return node
        if isinstance(c, _AnyOf):
            for part in c.parts:
                self._walk(part, parent, created)
            join = self.nodes  # a join node of this $or alone
            self.nodes += 1
            return join
        return parent


class _Overflow(Exception):
    pass


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


def compile_stage(stage: StagePlan, derived: dict[str, bool]) -> StageCode:
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
    strata: list[tuple[Chunk, ...]] = []
    for k, stratum in enumerate(stage.strata):
        groups: list[list[int]] = []
        fields: set[str] = set()
        width = 0
        network = AlphaNetwork()
        for i in stratum:
            if i not in patterns:
                continue
            f = _fields_of(patterns[i])
            w = _width(patterns[i])
            if (
                not groups
                or width + w > MAX_STACK_WIDTH
                or len(fields | f) + 2 > MAX_FACT_PROPERTIES  # + sid, id
                or not network.add(patterns[i])
            ):
                groups.append([])
                fields, width = set(), 0
                network = AlphaNetwork()
                if not network.add(patterns[i]):
                    cr = stage.rules[i]
                    raise _unsupported(
                        cr,
                        f"its condition needs {network.needed} alternatives after one test; durable_rules "
                        f"hangs beyond {MAX_ALPHA_CHILDREN}",
                    )
            groups[-1].append(i)
            fields |= f
            width += w
        strata.append(
            tuple(
                _chunk(f"{stage.stage}.s{k}.c{j}", stage, group, patterns, rc.paths, calc_by_name)
                for j, group in enumerate(groups)
            )
        )
    return StageCode(stage.stage, tuple(strata), tuple(never), tuple(rc.calcs.values()))


def _chunk(
    name: str,
    stage: StagePlan,
    rules: list[int],
    patterns: dict[int, Cond],
    paths: dict[str, Path],
    calcs: dict[str, Calc],
) -> Chunk:
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
    return Chunk(
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


def fix_exponents(text: str) -> str:
    """``1e-05`` -> ``1.0e-05``: durable_rules reads an exponent only after a fraction."""
    return _EXPONENT.sub(lambda m: m.group(0) if m.group(1) is None else f"{m.group(1)}.0{m.group(2)}", text)


class Encoder:
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
                    text = fix_exponents(text)
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


class Rows:
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


def base_fragments(chunk: Chunk, rows: Rows, catalog: Catalog | None, enc: Encoder) -> list[str]:
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


def _calc_value(c: Calc, scope: Scope) -> Any:
    v = evaluate_expr(c.expr, scope)
    return truth(v) if c.role == "cond" else v


def _program_part(catalog: Catalog, chunk: Chunk, enc: Encoder) -> list[str]:
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
