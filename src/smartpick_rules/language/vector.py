"""Vectorised evaluation of program-stage conditions over a whole catalog at once.

One rule is one array expression over all programs: ``program.min_step2_ck >
applicant.step2_ck.score`` is a single numpy comparison over a column, not 6,000 calls. The
parts of a condition that do not read the program are evaluated once, by the scalar
interpreter, and broadcast. Three-valued logic is kept as two masks per condition: where it
is definitely true (``t``) and definitely false (``f``); where neither, it is unknown.

Anything this module cannot express as array operations (a collection function whose
condition reads the program, say) falls back to the scalar interpreter row by row, so the
two evaluators agree by construction; a property test checks that they do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog, Program
from .expr import (
    Arith,
    BoolOp,
    Call,
    Compare,
    Expr,
    IfElse,
    ListLiteral,
    Neg,
    Not,
    Path,
    children,
    iter_nodes,
    program_nodes,
    to_source,
)
from .facts import LIST_ITEM_RENAMED as _LIST_ITEM_RENAMED
from .facts import FactType, record_fields
from .functions import BUILTINS, Fold, Presence, Strict, TagTest, is_fold, reads_tags, tag_read
from .interp import ScalarCompiler, Scope, WorkMeter, current_meter, plain, tallied, truth
from .values import BoolArray, Const, FloatArray, Value, VBool, VNum, VObj, VStr, known_both, num_operand

__all__ = [
    "VECTOR_WIDTH",
    "BoolArray",
    "Const",
    "FloatArray",
    "ProgramColumns",
    "ProgramContext",
    "VBool",
    "VNum",
    "VObj",
    "VStr",
    "Value",
    "VectorCompiler",
    "VectorEvaluator",
]

#: programs per unit of work in vectorised evaluation: measured, one node over a catalog costs
#: 2-10 ns a program in numpy against 1.5-3.5 µs for the interpreter's node on one fact
VECTOR_WIDTH = 512

_PROGRAM_FIELDS: dict[str, FactType] = record_fields(Program)


class ProgramColumns:
    """Columns of a catalog, built once per catalog and cached on it (catalogs are immutable)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.n = len(catalog)
        self.cache = catalog.column_cache()
        #: values of nodes that read only the catalog, kept across evaluations (``_catalog_memo``)
        store = self.cache.get("nodes")
        if store is None:
            store = self.cache.setdefault("nodes", NodeStore())
        self.node_store: NodeStore | None = store  # type: ignore[assignment]

    def field(self, name: str) -> Value:
        key = f"col:{name}"
        col = self.cache.get(key)
        if col is None:
            col = self._build(name)
            self.cache[key] = col
        return col  # type: ignore[return-value]

    def _build(self, name: str) -> Value:
        t = _PROGRAM_FIELDS[name]
        values = [getattr(p, name) for p in self.catalog.programs]
        # what plain() gives, without its general case per value: numbers and booleans are
        # themselves, strings may be enum members
        if t.kind in ("number", "bool"):
            raw = values
        elif t.kind == "string":
            members = {x: x.value for x in set(values) if isinstance(x, Enum)}  # .value is slow; few distinct
            raw = [members.get(x, x) for x in values] if members else values
        else:
            # a tuple of plain strings (tags) is its own plain value
            raw = [x if type(x) is tuple and all(type(v) is str for v in x) else plain(x) for x in values]
        if t.kind == "number":
            v = np.array([np.nan if x is None else float(x) for x in raw], dtype=np.float64)
            return VNum(v, ~np.isnan(v))
        if t.kind == "bool":
            arr = np.array([bool(x) for x in raw], dtype=np.bool_)
            if t.optional:
                known = np.array([x is not None for x in raw], dtype=np.bool_)
                return VBool(arr & known, ~arr & known)
            return VBool(arr, ~arr)
        if t.kind == "string":
            cats = tuple(sorted({x for x in raw if x is not None}))
            index = {c: i for i, c in enumerate(cats)}
            codes = np.array([-1 if x is None else index[x] for x in raw], dtype=np.int32)
            return VStr(codes, cats)
        return VObj(raw)

    def lengths(self, name: str) -> VNum:
        """``len(program.<name>)``, cached per catalog."""
        key = f"len:{name}"
        col = self.cache.get(key)
        if col is None:
            # the catalog's own field, even from a subclass that shadows the name (ListColumns'
            # "tags" are the rules' tags): this cache belongs to the catalog
            values = ProgramColumns.field(self, name)
            raw = self.as_objects(values)
            k = np.array([x is not None for x in raw], dtype=np.bool_)
            v = np.array([0.0 if x is None else float(len(x)) for x in raw], dtype=np.float64)
            col = VNum(v, k)
            self.cache[key] = col
        return col  # type: ignore[return-value]

    def as_objects(self, v: Value) -> list[Any]:
        if isinstance(v, VObj):
            return v.values
        if isinstance(v, VStr):
            return [None if c < 0 else v.cats[c] for c in v.codes.tolist()]
        raise TypeError(v)

    def membership(self, name: str, value: Any) -> VBool:
        """``value in program.<name>`` for a list field, cached per value."""
        key = f"in:{name}:{value!r}"
        col = self.cache.get(key)
        if col is None:
            lists = ProgramColumns.field(self, name)  # the catalog's field (see lengths)
            assert isinstance(lists, VObj)
            arr = np.fromiter((value in x for x in lists.values), dtype=np.bool_, count=self.n)
            col = VBool(arr, ~arr)
            self.cache[key] = col
        return col  # type: ignore[return-value]


class ProgramContext:
    """One evaluation's program-stage facts, as compiled conditions read them.

    The catalog's columns, the applicant's facts (``scope``), the program-stage tags so far (one
    mask per tag) and a memo: the value of every node that reads neither tags nor a collection's
    ``item`` is computed once per evaluation, so an estimate read by five rules, or a value an
    audit entry reports, is the column the condition already computed.
    """

    def __init__(
        self,
        columns: ProgramColumns,
        scope: Scope,
        program_tags: Mapping[str, BoolArray] | None = None,
        row_tags: Callable[[int], frozenset[str]] | None = None,
        scalar: ScalarCompiler | None = None,
    ) -> None:
        self.cols = columns
        self.n = columns.n
        self.scope = scope
        self.tags: Mapping[str, BoolArray] = program_tags if program_tags is not None else {}
        self._row_tags = row_tags
        self.scalar = scalar if scalar is not None else ScalarCompiler()
        self.memo: dict[int, Value] = {}
        #: the evaluation's work meter (Limits.max_work); a node over the catalog is one array
        #: operation, about as costly as the interpreter's node for one fact per VECTOR_WIDTH programs
        self.meter = current_meter()
        self.node_cost = max(1, -(-self.n // VECTOR_WIDTH))

    def with_scope(self, scope: Scope) -> ProgramContext:
        """The same columns, tags and memo with other facts (an ``item`` bound): a copy, so a
        context read from several threads is never changed under another."""
        sub = object.__new__(ProgramContext)
        sub.__dict__.update(self.__dict__)
        sub.scope = scope
        return sub

    def with_meter(self, meter: WorkMeter | None) -> ProgramContext:
        """The same context counting its work on ``meter`` (a copy, as ``with_scope``)."""
        sub = object.__new__(ProgramContext)
        sub.__dict__.update(self.__dict__)
        sub.meter = meter
        return sub

    def row_tags(self, i: int) -> frozenset[str]:
        if self._row_tags is not None:
            return self._row_tags(i)
        # only the row-by-row fallback asks, and only for conditions that read tags
        return frozenset(self.scope.tags) | frozenset(t for t, m in self.tags.items() if m[i])

    # -- conversions -------------------------------------------------------------------
    def as_bool(self, v: Value) -> VBool:
        if isinstance(v, VBool):
            return v
        if isinstance(v, Const):
            tv = truth(v.value)
            return VBool(np.full(self.n, tv is True), np.full(self.n, tv is False))
        if isinstance(v, VObj):
            t = np.array([x is True for x in v.values], dtype=np.bool_)
            f = np.array([x is False for x in v.values], dtype=np.bool_)
            return VBool(t, f)
        raise TypeError(f"not a condition: {v!r}")

    def as_num(self, v: Value) -> VNum:
        if isinstance(v, VNum):
            return v
        if isinstance(v, Const):
            if v.value is None:
                return VNum(np.zeros(self.n), np.zeros(self.n, dtype=np.bool_))
            return VNum(np.full(self.n, float(v.value)), np.ones(self.n, dtype=np.bool_))
        if isinstance(v, VObj):
            k = np.array([x is not None for x in v.values], dtype=np.bool_)
            vals = np.array([0.0 if x is None else float(x) for x in v.values], dtype=np.float64)
            return VNum(vals, k)
        raise TypeError(f"not a number: {v!r}")

    def as_obj(self, v: Value) -> list[Any]:
        if isinstance(v, VObj):
            return v.values
        if isinstance(v, Const):
            return [v.value] * self.n
        if isinstance(v, VStr):
            return [None if c < 0 else v.cats[c] for c in v.codes.tolist()]
        if isinstance(v, VNum):
            return [float(x) if k else None for x, k in zip(v.v.tolist(), v.k.tolist(), strict=True)]
        assert isinstance(v, VBool)
        t = v.t.tolist()
        f = v.f.tolist()
        return [True if a else (False if b else None) for a, b in zip(t, f, strict=True)]


VFn = Callable[[ProgramContext], Value]


def _reads_tag_or_item(e: Expr) -> bool:
    return any(reads_tags(n) or (isinstance(n, Path) and n.root == "item") for n in iter_nodes(e))


class VectorCompiler:
    """Program-stage expressions lowered once to closures over a ``ProgramContext``.

    The dispatch on node kinds, the split between what reads the program and what does not,
    and the shape of each operation are decided here, once per node; an evaluation only runs
    the closures. Results equal the interpreter-style evaluation they replace (and the scalar
    interpreter, row by row). One compiler serves one meaning of "reads the program"
    (``program_nodes`` computed with one stage's own tags); a ``Plan`` keeps one per use.
    """

    def __init__(self, scalar: ScalarCompiler | None = None, shared: frozenset[int] = frozenset()) -> None:
        self.scalar = scalar if scalar is not None else ScalarCompiler()
        #: nodes whose column is kept for the evaluation once computed (an estimate several
        #: rules read, say). Keeping every column would cost more than it saves: the arrays
        #: stay alive and every new one lands in cold memory.
        self.shared = shared
        self._fns: dict[int, tuple[Expr, VFn]] = {}
        #: each node's text (``to_source``), written once: a node's key includes its children's
        self._sources: dict[int, tuple[Expr, str]] = {}
        self._catalog_only: dict[int, tuple[Expr, bool]] = {}

    def __call__(self, e: Expr, program_nodes: frozenset[int] | set[int]) -> VFn:
        hit = self._fns.get(id(e))
        if hit is not None:
            return hit[1]
        fn = self._build(e, program_nodes)
        if id(e) in program_nodes:
            # each program node evaluated costs a unit of work per VECTOR_WIDTH programs
            uncharged = fn

            def charged(ctx: ProgramContext) -> Value:
                meter = ctx.meter
                if meter is not None:
                    meter.spend(ctx.node_cost)
                return uncharged(ctx)

            fn = charged
        computed = fn
        if (id(e) not in program_nodes or id(e) in self.shared) and not _reads_tag_or_item(e):
            key = id(e)
            inner = fn

            def memo(ctx: ProgramContext) -> Value:
                v = ctx.memo.get(key)
                if v is None:
                    v = ctx.memo[key] = inner(ctx)
                return v

            fn = memo
        if id(e) in program_nodes and not isinstance(e, Path) and _reads_catalog_only(e, self._catalog_only):
            fn = _catalog_memo(to_source(e, self._sources), computed, fn)
        self._fns[id(e)] = (e, fn)
        return fn

    def condition(self, clauses: tuple[Expr, ...], program_nodes: frozenset[int] | set[int]) -> Callable[[ProgramContext], BoolArray]:
        """Where the conjunction of ``clauses`` is definitely true, as one closure."""
        fns = tuple(self(c, program_nodes) for c in clauses)

        def cond(ctx: ProgramContext) -> BoolArray:
            if not fns:
                return np.ones(ctx.n, dtype=np.bool_)
            result = ctx.as_bool(fns[0](ctx)).t.copy()
            for f in fns[1:]:
                if not np.count_nonzero(result):  # cheaper than .any() on a bool mask
                    break
                result &= ctx.as_bool(f(ctx)).t
            return result

        if clauses and all(id(c) in program_nodes and _reads_catalog_only(c, self._catalog_only) for c in clauses):
            # a conjunction of questions about the catalog alone: kept like each of them
            return _catalog_memo("\x00".join(["and", *(to_source(c, self._sources) for c in clauses)]), cond, cond)
        return cond

    # -- lowering ----------------------------------------------------------------------
    def _build(self, e: Expr, nodes: frozenset[int] | set[int]) -> VFn:
        if id(e) not in nodes:
            sfn = self.scalar(e)
            return lambda ctx: Const(sfn(ctx.scope))
        if isinstance(e, Path):
            if e.root == "program" and len(e.parts) == 1:
                name = e.parts[0]
                return lambda ctx: ctx.cols.field(name)
            return self._rowwise(e)
        if isinstance(e, Not):
            inner = self(e.operand, nodes)

            def not_(ctx: ProgramContext) -> Value:
                b = ctx.as_bool(inner(ctx))
                return VBool(b.f, b.t)

            return not_
        if isinstance(e, BoolOp):
            ops = tuple(self(o, nodes) for o in e.operands)
            conj = e.op == "and"

            def boolop(ctx: ProgramContext) -> Value:
                parts = [ctx.as_bool(f(ctx)) for f in ops]
                t = parts[0].t
                f = parts[0].f
                for p in parts[1:]:
                    if conj:
                        t = t & p.t
                        f = f | p.f
                    else:
                        t = t | p.t
                        f = f & p.f
                return VBool(t, f)

            return boolop
        if isinstance(e, Compare):
            if e.op in ("in", "not in"):
                return self._membership(e, nodes)
            left, right, op, row = self(e.left, nodes), self(e.right, nodes), e.op, self._rowwise(e)
            return lambda ctx: _compare(ctx, op, left(ctx), right(ctx), row)
        if isinstance(e, Arith):
            left, right, op, row = self(e.left, nodes), self(e.right, nodes), e.op, self._rowwise(e)
            return lambda ctx: _arith(ctx, op, left(ctx), right(ctx), row)
        if isinstance(e, Neg):
            inner = self(e.operand, nodes)

            def neg(ctx: ProgramContext) -> Value:
                x = ctx.as_num(inner(ctx))
                return VNum(-x.v, x.k)

            return neg
        if isinstance(e, Call):
            return self._call(e, nodes)
        if isinstance(e, IfElse):
            test, then, orelse, row = self(e.test, nodes), self(e.then, nodes), self(e.orelse, nodes), self._rowwise(e)

            def ifelse(ctx: ProgramContext) -> Value:
                tv = ctx.as_bool(test(ctx))
                then_v = then(ctx)
                else_v = orelse(ctx)
                if isinstance(then_v, VObj | VStr | VBool) or isinstance(else_v, VObj | VStr | VBool):
                    return row(ctx)
                then_n = ctx.as_num(then_v)
                else_n = ctx.as_num(else_v)
                return VNum(np.where(tv.t, then_n.v, else_n.v), np.where(tv.t, then_n.k, else_n.k))

            return ifelse
        return self._rowwise(e)

    def _membership(self, e: Compare, nodes: frozenset[int] | set[int]) -> VFn:
        negate = e.op == "not in"
        right_e = e.right
        left = self(e.left, nodes)
        row = self._rowwise(e)
        column = right_e.parts[0] if isinstance(right_e, Path) and right_e.root == "program" and len(right_e.parts) == 1 else None
        right = self(right_e, nodes)

        def member(ctx: ProgramContext) -> Value:
            lv = left(ctx)
            if isinstance(lv, Const) and column is not None and lv.value is not None:
                b = ctx.cols.membership(column, lv.value)
                return VBool(b.f, b.t) if negate else b
            rv = right(ctx)
            if isinstance(lv, VStr) and isinstance(rv, Const) and rv.value is not None:
                # one lookup per program: a table over the categories, the last entry for "absent"
                table = np.zeros(len(lv.cats) + 1, dtype=np.bool_)
                for x in rv.value:
                    if isinstance(x, str) and x in lv.cats:
                        table[lv.cats.index(x)] = True
                known = lv.codes >= 0
                hit = table[lv.codes]  # code -1 reads the last entry: False
                if negate:
                    return VBool(~hit & known, hit)
                return VBool(hit, ~hit & known)
            return row(ctx)

        return member

    def _call(self, e: Call, nodes: frozenset[int] | set[int]) -> VFn:
        impl = BUILTINS[e.func].impl
        if isinstance(impl, TagTest):
            name = tag_read(e)
            assert name is not None
            tag_test = impl.vector
            return lambda ctx: tag_test(name, ctx)
        if isinstance(impl, Presence):
            inner = self(e.args[0], nodes)
            present = impl.vector
            return lambda ctx: present(inner(ctx), ctx.n)
        if isinstance(impl, Strict):
            args = tuple(self(a, nodes) for a in e.args)
            row = self._rowwise(e)
            kernel = impl.vector

            def strict(ctx: ProgramContext) -> Value:
                v = kernel(ctx, e, args)
                return row(ctx) if v is None else v

            return strict
        if id(e.args[0]) not in nodes:
            return self._over_applicant_items(e, impl, nodes)
        return self._rowwise(e)

    def _over_applicant_items(self, e: Call, impl: Fold, nodes: frozenset[int] | set[int]) -> VFn:
        """A collection function over an applicant list whose condition reads the program.

        The applicant's list is short (a few rotations or letters) and the catalog long, so
        loop over the items and evaluate the condition over all programs for each one.
        """
        coll_fn = self.scalar(e.args[0])
        rest = tuple(self(a, nodes) for a in e.args[1:])
        fold = impl.vector

        def over(ctx: ProgramContext) -> Value:
            outer = ctx.scope
            coll = coll_fn(outer)
            if coll is None:
                return Const(None)
            return fold(list(coll), lambda it: ctx.with_scope(outer.with_item(it)), rest, ctx.n)

        return over

    def _rowwise(self, e: Expr) -> VFn:
        """The scalar interpreter, program by program: correct for everything, used for the rare rest.

        Most nodes keep this as a fallback they never take, so it is compiled on first use.
        """
        compiled: list[Any] = []

        def rowwise(ctx: ProgramContext) -> Value:
            if not compiled:
                nodes = list(iter_nodes(e))
                compiled.extend((self.scalar(e), any(reads_tags(n) for n in nodes), len(nodes)))
            sfn, row_tags, size = compiled
            if ctx.meter is not None:
                ctx.meter.spend(ctx.n * size)
            base = ctx.scope
            out = []
            for i, p in enumerate(ctx.cols.catalog.programs):
                tags = ctx.row_tags(i) if row_tags else base.tags
                out.append(sfn(Scope(base.applicant, p, base.list, base.derived, tags, base.as_of_year, base.item, base.result)))
            return VObj(out)

        return rowwise


def _reads_catalog_only(e: Expr, memo: dict[int, tuple[Expr, bool]]) -> bool:
    """Whether ``e``'s value over a catalog depends on nothing but the catalog (and the year):
    every path it reads is ``program.*``, and it tests no tag. Such a value is the same for
    every applicant, so it is kept with the catalog's columns (``_catalog_memo``). ``memo``
    keeps each node's answer (its own and its children's): the compiler asks it of every node,
    and would otherwise walk each subtree once for every ancestor."""
    hit = memo.get(id(e))
    if hit is not None:
        return hit[1]
    if isinstance(e, Path):
        answer = e.root == "program"
    elif isinstance(e, Call) and (reads_tags(e) or isinstance(BUILTINS[e.func].impl, TagTest)):
        answer = False
    else:
        answer = all(_reads_catalog_only(c, memo) for c in children(e))
    memo[id(e)] = (e, answer)
    return answer


#: the most node values one catalog keeps (``_catalog_memo``), in array elements over all of
#: them: about 64 MiB of booleans and floats at the worst mix. A service that loads many rule
#: sets against one catalog recomputes rather than grows without bound.
CATALOG_MEMO_ELEMENTS = 8_000_000


def _value_arrays(v: Value | BoolArray) -> tuple[npt.NDArray[Any], ...]:
    if isinstance(v, np.ndarray):
        return (v,)
    if isinstance(v, VBool):
        return (v.t, v.f)
    if isinstance(v, VNum):
        return (v.v, v.k)
    if isinstance(v, VStr):
        return (v.codes,)
    return ()


class NodeStore:
    """The values of nodes that read only the catalog, kept with a catalog across evaluations
    (``_catalog_memo``): by the node's canonical text and the year, each with the work computing
    it cost. Its arrays are read-only; it holds at most ``CATALOG_MEMO_ELEMENTS`` array elements
    and starts afresh when full. A cache, not data: a pickled catalog leaves it behind."""

    __slots__ = ("_lock", "elements", "values")

    def __init__(self) -> None:
        self.values: dict[tuple[str, int], tuple[Any, int]] = {}
        #: array elements kept, over all values
        self.elements = 0
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        return (NodeStore, ())

    def keep(self, key: tuple[str, int], value: Any, cost: int, n: int) -> tuple[Any, int]:
        """Keep ``value`` (over ``n`` programs), which cost ``cost`` units of work, under ``key``."""
        arrays = _value_arrays(value)
        for a in arrays:
            a.flags.writeable = False
        size = sum(a.size for a in arrays) or n
        hit = (value, cost)
        with self._lock:
            if self.elements + size > CATALOG_MEMO_ELEMENTS:
                self.values.clear()
                self.elements = 0
            self.values[key] = hit
            self.elements += size
        return hit

    def clear(self) -> None:
        """Forget every kept value (the next evaluation computes them again)."""
        with self._lock:
            self.values.clear()
            self.elements = 0

    def arrays(self) -> list[npt.NDArray[Any]]:
        """Every array the kept values hold."""
        return [a for value, _cost in list(self.values.values()) for a in _value_arrays(value)]


_Kept = TypeVar("_Kept", Value, BoolArray)


def _catalog_memo(source: str, computed: Callable[[ProgramContext], _Kept], per_evaluation: Callable[[ProgramContext], _Kept]) -> Callable[[ProgramContext], _Kept]:
    """A node whose value depends only on the catalog, computed once per catalog and year.

    Rule sets ask the same questions of the catalog for every applicant (``program.img_share >
    0.3``, ``abs(program.positions - 11) < 3``); the answer is kept in the catalog's
    ``NodeStore`` under the node's canonical text, so equal nodes of other rules and rule sets
    share it. The work meter is charged what computing it costs, on every evaluation, whether it
    was computed or found: whether an evaluation stays within ``Limits.max_work`` never depends
    on what ran before it. Columns other than a plain catalog's (the list stage's, whose
    ``program.*`` includes per-evaluation chances) use ``per_evaluation``.
    """

    def catalog_memo(ctx: ProgramContext) -> _Kept:
        store = ctx.cols.node_store
        if store is None:
            return per_evaluation(ctx)
        key = (source, ctx.scope.as_of_year)
        hit = store.values.get(key)
        if hit is None:
            # what computing it costs, charged to the evaluation's meter as it goes (its limit
            # stops a runaway node) and kept, to charge again when the value is found
            with tallied(ctx.meter) as own:
                value = computed(ctx.with_meter(own))
            hit = store.keep(key, value, own.used, ctx.n)
        elif ctx.meter is not None and hit[1]:
            ctx.meter.spend(hit[1])
        return hit[0]  # type: ignore[no-any-return]

    return catalog_memo


def _compare(ctx: ProgramContext, op: str, left: Value, right: Value, row: VFn) -> Value:
    n = ctx.n
    if isinstance(left, VStr) or isinstance(right, VStr):
        col, other = (left, right) if isinstance(left, VStr) else (right, left)
        if isinstance(col, VStr) and isinstance(other, Const) and op in ("==", "!="):
            known = col.codes >= 0
            if other.value is None:
                z = np.zeros(n, dtype=np.bool_)
                return VBool(z, z)
            try:
                idx = col.cats.index(other.value)
                eq = col.codes == idx
            except ValueError:
                eq = np.zeros(n, dtype=np.bool_)
            res = eq if op == "==" else (~eq & known)
            return VBool(res & known, ~res & known)
        return row(ctx)
    if isinstance(left, VBool) or isinstance(right, VBool):
        if op in ("==", "!=") and isinstance(left, VBool | Const) and isinstance(right, VBool | Const):
            lb = ctx.as_bool(left)
            rb = ctx.as_bool(right)
            known = (lb.t | lb.f) & (rb.t | rb.f)
            eq = (lb.t & rb.t) | (lb.f & rb.f)
            res = eq if op == "==" else ~eq
            return VBool(res & known, ~res & known)
        return row(ctx)
    if isinstance(left, VObj) or isinstance(right, VObj):
        return row(ctx)
    lv, lk = num_operand(ctx, left)
    rv, rk = num_operand(ctx, right)
    known = known_both(lk, rk)
    if known is False:
        z = np.zeros(n, dtype=np.bool_)
        return VBool(z, z)
    with np.errstate(invalid="ignore"):
        res = _CMP[op](lv, rv)
    if not isinstance(res, np.ndarray):  # both constant
        res = np.full(n, bool(res))
    if known is True:
        return VBool(res, ~res)
    return VBool(res & known, ~res & known)


_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _arith(ctx: ProgramContext, op: str, left: Value, right: Value, row: VFn) -> Value:
    if isinstance(left, VObj | VStr | VBool) or isinstance(right, VObj | VStr | VBool):
        return row(ctx)
    if isinstance(right, Const) and op in ("+", "-", "*") and not isinstance(left, Const):
        # a column and a constant: numpy broadcasts the constant, same floats as a column of it
        ln = ctx.as_num(left)
        if right.value is None:
            return VNum(np.zeros(ctx.n), np.zeros(ctx.n, dtype=np.bool_))
        c = float(right.value)
        with np.errstate(all="ignore"):
            v = ln.v + c if op == "+" else (ln.v - c if op == "-" else ln.v * c)
        return VNum(v, ln.k)
    ln = ctx.as_num(left)
    rn = ctx.as_num(right)
    known = ln.k & rn.k
    with np.errstate(all="ignore"):
        if op == "+":
            v = ln.v + rn.v
        elif op == "-":
            v = ln.v - rn.v
        elif op == "*":
            v = ln.v * rn.v
        elif op == "/":
            nz = rn.v != 0
            known = known & nz
            v = np.divide(ln.v, np.where(nz, rn.v, 1.0))
        else:
            nz = rn.v != 0
            known = known & nz
            v = np.mod(ln.v, np.where(nz, rn.v, 1.0))
    return VNum(v, known)


class VectorEvaluator:
    """Evaluates program-stage conditions over every program of a catalog.

    A thin front to ``VectorCompiler`` and ``ProgramContext`` for one-off use (tests, tools);
    the engine keeps compiled closures on the plan instead.
    """

    def __init__(
        self,
        columns: ProgramColumns,
        scope: Scope,
        program_tags: Mapping[str, BoolArray],
        row_tags: Callable[[int], frozenset[str]],
    ) -> None:
        self.ctx = ProgramContext(columns, scope, program_tags, row_tags)
        self.cols = columns
        self.n = columns.n
        self.scope = scope
        self._compilers: dict[frozenset[int], VectorCompiler] = {}

    def _compiler(self, program_nodes: frozenset[int]) -> VectorCompiler:
        c = self._compilers.get(program_nodes)
        if c is None:
            c = self._compilers[program_nodes] = VectorCompiler(self.ctx.scalar)
        return c

    def condition(self, clauses: tuple[Expr, ...], program_nodes: frozenset[int]) -> BoolArray:
        """Where the conjunction of ``clauses`` is definitely true."""
        return self._compiler(program_nodes).condition(clauses, program_nodes)(self.ctx)

    def ev_in(self, e: Expr, program_nodes: frozenset[int]) -> Value:
        """The value of ``e`` over every program (an effect's odds, a group's condition)."""
        return self._compiler(program_nodes)(e, program_nodes)(self.ctx)

    def as_bool(self, v: Value) -> VBool:
        return self.ctx.as_bool(v)

    def as_num(self, v: Value) -> VNum:
        return self.ctx.as_num(v)

    def as_obj(self, v: Value) -> list[Any]:
        return self.ctx.as_obj(v)


def _item_to_program(e: Expr) -> Expr | None:
    """``item.x`` -> ``program.x``; None when a nested collection rebinds ``item``."""
    if isinstance(e, Path):
        return Path("program", e.parts, e.loc) if e.root == "item" else e
    if isinstance(e, Call):
        if is_fold(e):
            return None
        args = [_item_to_program(a) for a in e.args]
        return None if any(a is None for a in args) else Call(e.func, tuple(a for a in args if a is not None), e.loc)
    if isinstance(e, Not | Neg):
        inner = _item_to_program(e.operand)
        return None if inner is None else attrs.evolve(e, operand=inner)
    if isinstance(e, BoolOp):
        ops = [_item_to_program(o) for o in e.operands]
        return None if any(o is None for o in ops) else BoolOp(e.op, tuple(o for o in ops if o is not None), e.loc)
    if isinstance(e, Compare | Arith):
        left = _item_to_program(e.left)
        right = _item_to_program(e.right)
        return None if left is None or right is None else attrs.evolve(e, left=left, right=right)
    if isinstance(e, ListLiteral):
        items = [_item_to_program(i) for i in e.items]
        return None if any(i is None for i in items) else ListLiteral(tuple(i for i in items if i is not None), e.loc)
    return e


class ListColumns(ProgramColumns):
    """The list stage's ``list.programs`` as columns: the catalog's plus score, tier and the rest.

    ``count(list.programs, item.region == "la_county")`` over 6,000 programs is one array
    comparison instead of 6,000 interpreter calls. ``total`` adds in the list's own order (the
    order ``list.programs`` has), exactly as the scalar interpreter does.
    """

    def __init__(
        self,
        catalog: Catalog,
        extra: Mapping[str, Callable[[], Value]],
        order: Sequence[int] | npt.NDArray[np.intp],
        shared: dict[int, Any] | None = None,
    ) -> None:
        super().__init__(catalog)
        # program.* here includes this evaluation's chances and tiers: nothing kept across them
        self.node_store = None
        self.extra_builders = extra
        self.extra: dict[str, Value] = {}
        self.order = np.asarray(order, dtype=np.intp)
        #: per list-stage call node, its ``item.`` arguments rewritten to ``program.`` and compiled;
        #: pass a plan's dict to compile them once per rule set instead of once per evaluation
        self.shared: dict[int, Any] = shared if shared is not None else {}

    def field(self, name: str) -> Value:
        if name in self.extra_builders:
            col = self.extra.get(name)
            if col is None:
                col = self.extra[name] = self.extra_builders[name]()
            return col
        return super().field(_LIST_ITEM_RENAMED.get(name, name))

    def membership(self, name: str, value: Any) -> VBool:
        name_in_catalog = _LIST_ITEM_RENAMED.get(name)
        if name_in_catalog is not None:
            return super().membership(name_in_catalog, value)
        if name in self.extra_builders:
            lists = self.field(name)
            assert isinstance(lists, VObj)
            arr = np.fromiter((value in x for x in lists.values), dtype=np.bool_, count=self.n)
            return VBool(arr, ~arr)
        return super().membership(name, value)

    def lengths(self, name: str) -> VNum:
        name_in_catalog = _LIST_ITEM_RENAMED.get(name)
        if name_in_catalog is not None:
            return super().lengths(name_in_catalog)
        if name in self.extra_builders:
            raw = self.as_objects(self.field(name))
            return VNum(np.array([float(len(x)) for x in raw], dtype=np.float64), np.ones(self.n, dtype=np.bool_))
        return super().lengths(name)

    def collection(self, e: Call, scope: Scope) -> Any:
        hit = self.shared.get(id(e))
        if hit is None:
            converted = [_item_to_program(a) for a in e.args[1:]]
            fns: tuple[VFn, ...] | None = None
            if None not in converted:
                args = tuple(a for a in converted if a is not None)
                nodes: set[int] = set()
                for a in args:
                    nodes |= program_nodes(a, frozenset())
                compiler = VectorCompiler()
                fns = tuple(compiler(a, nodes) for a in args)
            hit = self.shared[id(e)] = (e, fns)
        fns = hit[1]
        if fns is None:
            return NotImplemented
        impl = BUILTINS[e.func].impl
        assert isinstance(impl, Fold)
        ctx = ProgramContext(self, scope, {}, lambda i: frozenset(scope.tags))
        return impl.columns(ctx, fns, self.order)
