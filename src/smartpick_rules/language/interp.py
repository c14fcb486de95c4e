"""The scalar interpreter: one expression, one set of facts, a value.

Used for the profile and list stages (one fact each), for conditions that read only the
applicant, for rendering explanations, for "why not", and as the reference the vectorised
program-stage evaluator is tested against. Logic is three-valued: a comparison with an absent
value (a pass/fail Step 1 has no score) is *unknown* (``None``), ``not`` of unknown is
unknown, and a rule fires only when its condition is definitely true.
"""

from __future__ import annotations

import contextlib
import operator
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any

import attrs

from ..errors import Diagnostic, EvaluationError, Location
from ..limits import DEFAULT_LIMITS, limit_help
from ..records import frozen
from .expr import Arith, BoolOp, Call, Compare, Expr, IfElse, ListLiteral, Literal, Neg, Not, Path, iter_nodes
from .facts import get_field
from .functions import BUILTINS, EXP_BOUND, Fold, Presence, Strict, TagTest, exp, tag_read

__all__ = [
    "EXP_BOUND",
    "ScalarCompiler",
    "ScalarFn",
    "Scope",
    "WorkMeter",
    "current_meter",
    "evaluate_expr",
    "exp",
    "metered",
    "read_path",
    "spend_work",
    "tallied",
]


class WorkMeter:
    """Counts the work of one evaluation against ``Limits.max_work``.

    The firing budget counts rules that fire; this counts what conditions cost whether they
    fire or not, in elements visited: one unit is one condition node evaluated for one fact
    (a program, an item of a list). Every item a collection function walks costs the nodes of
    its condition, so ``count(list.programs, count(list.programs, ...) > 0)`` costs catalog x
    catalog; every rule condition a stage's fixpoint evaluates costs its nodes; the vectorised
    program stage, one array operation per node over the whole catalog, costs a unit per
    ``VECTOR_WIDTH`` programs (the measured speed ratio). Exceeding the limit is an
    ``EvaluationError`` (``budget_exceeded``) naming the field.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise EvaluationError(
                Diagnostic(
                    "budget_exceeded",
                    f"more than {self.limit:,} elements visited in one evaluation (nested collections, "
                    "or many rules over a large catalog)",
                    Location(),
                    help=limit_help("max_work"),
                )
            )


_METER: ContextVar[WorkMeter | None] = ContextVar("smartpick_work_meter", default=None)


def current_meter() -> WorkMeter | None:
    """The meter of the evaluation running in this context, if any."""
    return _METER.get()


def spend_work(n: int) -> None:
    meter = _METER.get()
    if meter is not None:
        meter.spend(n)


class _Tally(WorkMeter):
    """Counts what a piece of work costs while charging the meter it runs under as it goes."""

    __slots__ = ("outer",)

    def __init__(self, outer: WorkMeter | None) -> None:
        super().__init__(sys.maxsize)
        self.outer = outer

    def spend(self, n: int) -> None:
        self.used += n
        if self.outer is not None:
            self.outer.spend(n)


@contextmanager
def _counting_on(meter: WorkMeter) -> Iterator[WorkMeter]:
    """``meter`` as the meter of the work done inside the block."""
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def tallied(outer: WorkMeter | None) -> contextlib.AbstractContextManager[WorkMeter]:
    """Count the work done inside the block on a meter of its own (``used``), charging ``outer``
    (the evaluation's, if any) as it goes, so its limit still stops the work: what a result
    cost, to charge again each time it is reused."""
    return _counting_on(_Tally(outer))


def metered(limit: int) -> contextlib.AbstractContextManager[WorkMeter]:
    """Count the work done inside the block against ``limit`` (one evaluation's budget)."""
    return _counting_on(WorkMeter(limit))


@frozen
class Scope:
    """The facts an expression reads."""

    applicant: Any = None
    program: Any = None
    list: Any = None
    derived: Mapping[str, Any] = attrs.field(factory=dict)
    tags: frozenset[str] | set[str] = frozenset()
    as_of_year: int = 2026
    item: Any = None
    #: what a property's `holds` condition reads as ``result.`` (see testing/properties.py)
    result: Any = None

    def with_item(self, item: Any) -> Scope:
        # called once per element of every collection a condition walks: skip evolve's overhead
        return Scope(self.applicant, self.program, self.list, self.derived, self.tags, self.as_of_year, item, self.result)

    def with_tags(self, tags: frozenset[str]) -> Scope:
        """The same facts with these tags (``attrs.evolve`` costs several µs a call; a stage's
        fixpoint makes one per new tag)."""
        return Scope(self.applicant, self.program, self.list, self.derived, tags, self.as_of_year, self.item, self.result)

    def with_list(self, facts: Any) -> Scope:
        """The same facts with these list facts."""
        return Scope(self.applicant, self.program, facts, self.derived, self.tags, self.as_of_year, self.item, self.result)


def plain(value: Any) -> Any:
    """Enums to their string values, tuples of them likewise: the values rules see."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def read_path(path: Path, scope: Scope) -> Any:
    if path.root == "derived":
        return scope.derived.get(path.parts[0]) if path.parts else None
    obj = getattr(scope, path.root)
    for part in path.parts:
        if obj is None:
            return None
        obj = get_field(obj, part)
    return plain(obj)


def truth(value: Any) -> bool | None:
    """Three-valued truth of a condition's value."""
    if value is None:
        return None
    return bool(value)


def evaluate_expr(e: Expr, scope: Scope) -> Any:
    if isinstance(e, Literal):
        return e.value
    if isinstance(e, Path):
        return read_path(e, scope)
    if isinstance(e, ListLiteral):
        return tuple(evaluate_expr(i, scope) for i in e.items)
    if isinstance(e, Not):
        v = truth(evaluate_expr(e.operand, scope))
        return None if v is None else not v
    if isinstance(e, Neg):
        v = evaluate_expr(e.operand, scope)
        return None if v is None else -v
    if isinstance(e, BoolOp):
        unknown = False
        if e.op == "and":
            for o in e.operands:
                v = truth(evaluate_expr(o, scope))
                if v is False:
                    return False
                if v is None:
                    unknown = True
            return None if unknown else True
        for o in e.operands:
            v = truth(evaluate_expr(o, scope))
            if v is True:
                return True
            if v is None:
                unknown = True
        return None if unknown else False
    if isinstance(e, Compare):
        left = evaluate_expr(e.left, scope)
        right = evaluate_expr(e.right, scope)
        return compare(e.op, left, right)
    if isinstance(e, Arith):
        left = evaluate_expr(e.left, scope)
        right = evaluate_expr(e.right, scope)
        return arith(e.op, left, right)
    if isinstance(e, Call):
        return call(e, scope)
    if isinstance(e, IfElse):
        if truth(evaluate_expr(e.test, scope)) is True:
            return evaluate_expr(e.then, scope)
        return evaluate_expr(e.orelse, scope)
    raise TypeError(e)


def compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "in":
        return left in right
    if op == "not in":
        return left not in right
    raise ValueError(op)


def arith(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    # IEEE doubles throughout, exactly as the vectorised evaluator computes
    left = float(left)
    right = float(right)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return None if right == 0 else left / right
    if op == "%":
        return None if right == 0 else left % right
    raise ValueError(op)


def call(e: Call, scope: Scope) -> Any:
    """A builtin function's value (``functions.BUILTINS``), its arguments evaluated as its kind says."""
    impl = BUILTINS[e.func].impl
    if isinstance(impl, Strict):
        args = [evaluate_expr(a, scope) for a in e.args]
        if any(a is None for a in args):
            return None
        return impl.scalar(args, scope.as_of_year)
    if isinstance(impl, TagTest):
        tag = tag_read(e)
        assert tag is not None
        return impl.scalar(tag, scope.tags)
    if isinstance(impl, Presence):
        return impl.scalar(evaluate_expr(e.args[0], scope))
    if _METER.get() is None:
        # outside an evaluation (rendering an audit entry, why-not, a what-if step) a
        # collection function still has a budget: the default, per outermost call
        with metered(DEFAULT_LIMITS.max_work):
            return _collection(e, impl, scope)
    return _collection(e, impl, scope)


def _collection(e: Call, impl: Fold, scope: Scope) -> Any:
    first = e.args[0]
    if isinstance(first, Path) and first.root == "list" and first.parts == ("programs",) and scope.item is None:
        columns = getattr(scope.list, "_columns", None)
        if columns is not None:
            # the whole list, thousands of programs: computed over columns, same answer
            result = columns.collection(e, scope)
            if result is not NotImplemented:
                return result
    coll = evaluate_expr(first, scope)
    if coll is None:
        return None
    items = coll if isinstance(coll, tuple | list) else tuple(coll)
    if items:
        # each item costs the nodes of the condition (and value) evaluated for it
        spend_work(len(items) * sum(1 for a in e.args[1:] for _n in iter_nodes(a)) if len(e.args) > 1 else len(items))
    rest = tuple(_evaluator(a) for a in e.args[1:])
    return impl.scalar(items, scope.with_item, rest)


def _evaluator(e: Expr) -> Callable[[Scope], Any]:
    return lambda scope: evaluate_expr(e, scope)


# --- compiled once, run many ------------------------------------------------------------------

ScalarFn = Callable[[Scope], Any]

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class ScalarCompiler:
    """Expressions lowered to Python closures, each node once, for a rule set's lifetime.

    ``compiler(e)(scope)`` is ``evaluate_expr(e, scope)``: the same operations in the same
    order, so the same values and the same floats; only the dispatch on node kinds (and the
    walk over the tree) happens once, when the closure is built, instead of on every call.
    Closures are cached by node identity, so the compiler must live as long as the
    expressions it saw (a ``Plan`` owns one); it keeps each node alive itself.
    """

    def __init__(self) -> None:
        self._fns: dict[int, tuple[Expr, ScalarFn]] = {}
        self._tests: dict[int, tuple[tuple[Expr, ...], Callable[[Scope], bool]]] = {}

    def __call__(self, e: Expr) -> ScalarFn:
        hit = self._fns.get(id(e))
        if hit is not None:
            return hit[1]
        fn = self._build(e)
        self._fns[id(e)] = (e, fn)
        return fn

    def all_true(self, clauses: tuple[Expr, ...]) -> Callable[[Scope], bool]:
        """``all(truth(evaluate_expr(c, scope)) is True for c in clauses)``, compiled."""
        hit = self._tests.get(id(clauses))
        if hit is not None:
            return hit[1]
        fns = tuple(self(c) for c in clauses)

        def test(scope: Scope) -> bool:
            for f in fns:
                v = f(scope)
                if v is None or not v:
                    return False
            return True

        self._tests[id(clauses)] = (clauses, test)
        return test

    def _build(self, e: Expr) -> ScalarFn:
        if isinstance(e, Literal):
            value = e.value
            return lambda scope: value
        if isinstance(e, Path):
            return _path_fn(e)
        if isinstance(e, ListLiteral):
            items = tuple(self(i) for i in e.items)
            return lambda scope: tuple(f(scope) for f in items)
        if isinstance(e, Not):
            inner = self(e.operand)

            def not_(scope: Scope) -> Any:
                v = inner(scope)
                return None if v is None else not v

            return not_
        if isinstance(e, Neg):
            inner = self(e.operand)

            def neg(scope: Scope) -> Any:
                v = inner(scope)
                return None if v is None else -v

            return neg
        if isinstance(e, BoolOp):
            ops = tuple(self(o) for o in e.operands)
            if e.op == "and":

                def and_(scope: Scope) -> Any:
                    unknown = False
                    for f in ops:
                        v = f(scope)
                        if v is None:
                            unknown = True
                        elif not v:
                            return False
                    return None if unknown else True

                return and_

            def or_(scope: Scope) -> Any:
                unknown = False
                for f in ops:
                    v = f(scope)
                    if v is None:
                        unknown = True
                    elif v:
                        return True
                return None if unknown else False

            return or_
        if isinstance(e, Compare):
            return _compare_fn(e.op, self(e.left), self(e.right))
        if isinstance(e, Arith):
            left, right, op = self(e.left), self(e.right), e.op

            def arith_(scope: Scope) -> Any:
                return arith(op, left(scope), right(scope))

            return arith_
        if isinstance(e, Call):
            return self._call(e)
        if isinstance(e, IfElse):
            test, then, orelse = self(e.test), self(e.then), self(e.orelse)

            def if_(scope: Scope) -> Any:
                v = test(scope)
                if v is not None and v:
                    return then(scope)
                return orelse(scope)

            return if_
        raise TypeError(e)

    def _call(self, e: Call) -> ScalarFn:
        impl = BUILTINS[e.func].impl
        if isinstance(impl, Strict):
            args = tuple(self(a) for a in e.args)
            kernel = impl.scalar

            def strict(scope: Scope) -> Any:
                values = [a(scope) for a in args]
                if any(v is None for v in values):
                    return None
                return kernel(values, scope.as_of_year)

            return strict
        if isinstance(impl, TagTest):
            name = tag_read(e)
            assert name is not None
            tag_test = impl.scalar
            return lambda scope: tag_test(name, scope.tags)
        if isinstance(impl, Presence):
            inner = self(e.args[0])
            present = impl.scalar
            return lambda scope: present(inner(scope))
        return self._metered(self._collection(e, impl))

    def _collection(self, e: Call, impl: Fold) -> ScalarFn:
        """A collection function, exactly as ``call`` computes it."""
        first = e.args[0]
        coll_fn = self(first)
        whole_list = isinstance(first, Path) and first.root == "list" and first.parts == ("programs",)
        rest = tuple(self(a) for a in e.args[1:])
        # the work meter's price of one item: the nodes evaluated for it (as ``call`` counts)
        per_item = sum(1 for a in e.args[1:] for _n in iter_nodes(a)) if len(e.args) > 1 else 1
        fold = impl.scalar

        def collection(scope: Scope) -> Any:
            if whole_list and scope.item is None:
                columns = getattr(scope.list, "_columns", None)
                if columns is not None:
                    # the whole list, thousands of programs: computed over columns, same answer
                    result = columns.collection(e, scope)
                    if result is not NotImplemented:
                        return result
            coll = coll_fn(scope)
            if coll is None:
                return None
            items = coll if isinstance(coll, tuple | list) else tuple(coll)
            if items:
                spend_work(len(items) * per_item)
            return fold(items, scope.with_item, rest)

        return collection

    def _metered(self, fn: ScalarFn) -> ScalarFn:
        def with_budget(scope: Scope) -> Any:
            if _METER.get() is None:
                # outside an evaluation (an audit entry, why-not, a what-if step) a collection
                # function still has a budget: the default, per outermost call
                with metered(DEFAULT_LIMITS.max_work):
                    return fn(scope)
            return fn(scope)

        return with_budget


def _path_fn(path: Path) -> ScalarFn:
    if path.root == "derived":
        name = path.parts[0] if path.parts else None
        if name is None:
            return lambda scope: None
        return lambda scope: scope.derived.get(name)
    root, parts = path.root, path.parts
    if len(parts) == 1:
        part = parts[0]

        def one(scope: Scope) -> Any:
            obj = getattr(scope, root)
            if obj is None:
                return None
            return plain(get_field(obj, part))

        return one

    def many(scope: Scope) -> Any:
        obj = getattr(scope, root)
        for p in parts:
            if obj is None:
                return None
            obj = get_field(obj, p)
        return plain(obj)

    return many


def _compare_fn(op: str, left: ScalarFn, right: ScalarFn) -> ScalarFn:
    order = _ORDER.get(op)
    if order is not None:

        def ordered(scope: Scope) -> Any:
            a = left(scope)
            b = right(scope)
            if a is None or b is None:
                return None
            return bool(order(a, b))

        return ordered

    def other(scope: Scope) -> Any:
        return compare(op, left(scope), right(scope))

    return other
