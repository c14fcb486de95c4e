"""The rule language's builtin functions: one entry per function, read by everything that knows them.

Each ``Builtin`` says, in one place, what a function is: its name and arity, the sentence the
docs and the type checker's help show, its type rule, how the scalar interpreter and the
vectorised evaluator compute it, how the durable engine lowers it, and the range of numbers it
can return (for lints). The type checker (``analysis.check``), both evaluators (``interp``,
``vector``), the durable engine's lowering, the lints, the rule-file JSON Schema and the function
table of docs/rule-language.md all read ``BUILTINS``; none keeps a list of its own
(tests/test_functions.py checks both).

How a function's arguments are evaluated is its *kind*; each evaluator implements the four
kinds once, and each builtin gives the code particular to it for its kind:

``TagTest``
    ``has("tag")``: whether the facts carry a tag some rule set; the argument is a quoted name.
``Presence``
    ``known(x)``: whether its argument's value is present; never unknown itself.
``Fold``
    a collection function: the first argument is a list, the others are evaluated per item
    with ``item`` bound to it (``count(applicant.usce, item.months >= 2)``).
``Strict``
    every argument is evaluated first, and the call is unknown when one of them is.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol, TypeGuard, TypeVar

import numpy as np
import numpy.typing as npt

from ..errors import Location, did_you_mean
from ..records import frozen
from .facts import ANY, BOOL, NUMBER, FactType
from .nodes import Call, Expr, Literal, Path
from .values import BoolArray, Const, Value, VBool, VNum, VObj, VStr, known_both, num_operand

__all__ = [
    "ANY_ITEM",
    "BUILTINS",
    "EXP_BOUND",
    "Builtin",
    "Durable",
    "Fold",
    "Presence",
    "Strict",
    "TagTest",
    "builtin",
    "exp",
    "function_help",
    "is_fold",
    "reads_tags",
    "tag_read",
]

#: exp() takes its argument within these bounds (e**50 is about 5e21), so it never overflows
EXP_BOUND = 50.0

S = TypeVar("S")


# --- what the hooks see ---------------------------------------------------------------------------


class CallChecker(Protocol):
    """The type checker, as a function's type rule uses it (``analysis.check``)."""

    @property
    def stage(self) -> str: ...
    @property
    def tags(self) -> Mapping[str, set[str]]: ...
    def check(self, e: Expr, scope: dict[str, FactType], polarity: int = 1) -> FactType: ...
    def want(self, t: FactType, kind: str, e: Expr, why: str) -> None: ...
    def error(
        self, code: str, message: str, loc: Location, help: str | None = None, suggestion: str | None = None
    ) -> None: ...
    def visible_tags(self) -> set[str]: ...
    def read_tag(self, tag: str, polarity: int) -> None: ...


class ScopeFacts(Protocol):
    """What a function reads of the facts besides its arguments (``interp.Scope``)."""

    @property
    def tags(self) -> Collection[str]: ...
    @property
    def as_of_year(self) -> int: ...


class Lengths(Protocol):
    def lengths(self, name: str) -> VNum: ...


class VectorContext(Protocol):
    """One evaluation over the catalog, as a function's vector code uses it (``vector.ProgramContext``)."""

    @property
    def n(self) -> int: ...
    @property
    def scope(self) -> ScopeFacts: ...
    @property
    def tags(self) -> Mapping[str, BoolArray]: ...
    @property
    def cols(self) -> Lengths: ...
    def as_bool(self, v: Value) -> VBool: ...
    def as_num(self, v: Value) -> VNum: ...


class RangeReader(Protocol):
    """The lints' ranges of numbers (``analysis.lint``), as closed intervals ``(lo, hi)``."""

    def range(self, e: Expr) -> tuple[float, float]: ...
    def item_range(self, collection: Expr, value: Expr) -> tuple[float, float]:
        """The range of ``value`` (``item.x``) for an item of ``collection``."""
        ...
    def evaluation_year(self) -> tuple[float, float]: ...


#: an argument compiled for the vectorised evaluator: its value over the catalog
VArg = Callable[[Any], Value]
TypeRule = Callable[["Builtin", CallChecker, Call, dict[str, FactType], int], FactType]
RangeRule = Callable[[Call, RangeReader], tuple[float, float]]


# --- the four kinds ---------------------------------------------------------------------------------


@frozen
class TagTest:
    """``has("tag")``: the argument is a quoted tag name, looked up in the facts' tags."""

    #: (tag, the facts' tags) -> whether the tag is set
    scalar: Callable[[str, Collection[str]], bool]
    #: (tag, the evaluation over the catalog) -> a condition over every program
    vector: Callable[[str, VectorContext], Value]


@frozen
class Presence:
    """``known(x)``: whether the argument's value is present."""

    #: the argument's value -> a boolean
    scalar: Callable[[Any], bool]
    #: (the argument's value over the catalog, programs) -> a condition over every program
    vector: Callable[[Value, int], Value]


@frozen
class Fold:
    """A collection function: a list, then arguments evaluated per item with ``item`` bound.

    ``scalar(items, bind, args)``: ``bind(item)`` is the facts with ``item`` bound, ``args`` the
    compiled arguments after the list. ``vector(items, bind, args, n)``: the same over the
    catalog, for a short list of the applicant's (``bind(item)`` is the evaluation with ``item``
    bound; ``args`` read the program). ``columns(ctx, args, order)``: ``list.programs`` as
    columns, each argument evaluated once over every program (``order``: the list's order).
    """

    scalar: Callable[[Sequence[Any], Callable[[Any], Any], Sequence[Callable[[Any], Any]]], Any]
    vector: Callable[[Sequence[Any], Callable[[Any], Any], Sequence[VArg], int], Value]
    columns: Callable[[Any, Sequence[VArg], Any], Any]


@frozen
class Strict:
    """Every argument evaluated first; the call is unknown when one of them is.

    ``scalar(values, year)``: the known argument values and the evaluation year.
    ``vector(ctx, call, args)``: the value over the catalog from the compiled arguments, or
    None where it has no array form (the evaluator then computes it program by program).
    """

    scalar: Callable[[Sequence[Any], int], Any]
    vector: Callable[[Any, Call, Sequence[VArg]], Value | None]
    #: for a builtin whose value is one of its (numeric) arguments, which one for each column of
    #: the arguments stacked as floats (rows: arguments): the first at the extreme, as Python's
    #: ``max`` and ``min`` choose (``np.argmax`` / ``np.argmin`` along axis 0). The audit reads
    #: such a value from its arguments' columns many programs at a time.
    pick: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.intp]] | None = None


class Durable(enum.Enum):
    """How the durable engine lowers a call (engines/durable/lowering.py)."""

    #: a pattern on the fact's ``tag.NAME`` property
    TAG_PATTERN = "tag_pattern"
    #: a pattern on the presence of the field, when the argument is a scalar field of the fact
    FIELD_PRESENCE = "field_presence"
    #: computed in Python by the reference interpreter and carried on the fact as ``calc.N``
    PYTHON = "python"


@frozen
class Builtin:
    """One builtin function of the rule language."""

    name: str
    min_args: int
    max_args: int | None
    #: the call's shapes, as the docs and the checker's help write them
    forms: tuple[str, ...]
    #: one sentence: what the call is
    doc: str
    impl: TagTest | Presence | Fold | Strict
    type_rule: TypeRule
    #: the value's Python type at run time: "bool", "int", "float", or "mixed" (the arguments' own)
    returns: str
    durable: Durable
    #: the numbers the call can return, from its arguments' ranges; None: any number (or not a number)
    value_range: RangeRule | None = None
    #: the first argument may be a list (``len``, the folds): the audit reports ``len(list.programs)``
    #: by its value, not the list
    takes_list: bool = False
    #: what the call reads besides its arguments: "tags", "year"
    reads: frozenset[str] = frozenset()

    def takes(self) -> str:
        """How many arguments, in words."""
        lo, hi = self.min_args, self.max_args
        if hi is None:
            return f"{lo} or more arguments"
        if lo == hi:
            return f"{lo} argument" + ("s" if lo != 1 else "")
        return f"{lo} to {hi} arguments"

    def usage(self) -> str:
        """The help line: the call's forms and what it is."""
        return " or ".join(self.forms) + ": " + self.doc


# --- type rules -------------------------------------------------------------------------------------


def _type_has(spec: Builtin, c: CallChecker, e: Call, scope: dict[str, FactType], polarity: int) -> FactType:
    arg = e.args[0]
    if not (isinstance(arg, Literal) and isinstance(arg.value, str)):
        c.error("type_error", f'{spec.name}() takes a tag name in quotes: {spec.name}("low_step2")', arg.loc)
        return BOOL
    tag = arg.value
    visible = c.visible_tags()
    if tag not in visible:
        hint = did_you_mean(tag, visible)
        later = [st for st, ts in c.tags.items() if tag in ts]
        help = None
        if later:
            help = f"`{tag}` is set in the {later[0]} stage, which runs after the {c.stage} stage"
        elif not hint:
            help = 'no rule sets this tag; a tag exists once a rule has `then.tag = "..."`'
        c.error("unknown_tag", f'no rule sets the tag "{tag}"', arg.loc, help=help, suggestion=hint)
    c.read_tag(tag, polarity)
    return BOOL


def _type_known(spec: Builtin, c: CallChecker, e: Call, scope: dict[str, FactType], polarity: int) -> FactType:
    c.check(e.args[0], scope, 0)
    return BOOL


def _type_fold(result: FactType, with_value: bool) -> TypeRule:
    """A list first; then (``with_value``) a number per item; then conditions on the item."""

    def rule(spec: Builtin, c: CallChecker, e: Call, scope: dict[str, FactType], polarity: int) -> FactType:
        f = spec.name
        ct = c.check(e.args[0], scope, 0)
        if ct.kind != "list" and ct.kind != "any":
            c.error("type_error", f"`{f}` needs a list first, got {ct.describe()}", e.args[0].loc, help=spec.usage())
            return result
        inner = dict(scope)
        inner["item"] = ct.elem or ANY
        rest = e.args[1:]
        if with_value:
            vt = c.check(rest[0], inner, 0)
            c.want(vt, "number", rest[0], f"{f}() adds numbers")
            rest = rest[1:]
        for pred in rest:
            pt = c.check(pred, inner, 0)
            c.want(pt, "bool", pred, f"the condition of {f}()")
        return result

    return rule


def _type_len(spec: Builtin, c: CallChecker, e: Call, scope: dict[str, FactType], polarity: int) -> FactType:
    t = c.check(e.args[0], scope, 0)
    if t.kind not in ("list", "string", "any"):
        c.error("type_error", f"{spec.name}() takes a list or a string, got {t.describe()}", e.args[0].loc)
    return FactType("number", optional=t.optional)


def _type_numeric(spec: Builtin, c: CallChecker, e: Call, scope: dict[str, FactType], polarity: int) -> FactType:
    optional = False
    for a in e.args:
        t = c.check(a, scope, 0)
        c.want(t, "number", a, f"{spec.name}() takes numbers")
        optional = optional or t.optional
    return FactType("number", optional=optional)


# --- has, known -------------------------------------------------------------------------------------


def _has_vector(name: str, ctx: VectorContext) -> Value:
    if name in ctx.scope.tags:
        mask: BoolArray = np.ones(ctx.n, dtype=np.bool_)
    else:
        found = ctx.tags.get(name)
        mask = np.zeros(ctx.n, dtype=np.bool_) if found is None else found
    return VBool(mask, ~mask)


def _known_vector(v: Value, n: int) -> Value:
    if isinstance(v, VNum):
        k = v.k
    elif isinstance(v, VStr):
        k = v.codes >= 0
    elif isinstance(v, VBool):
        k = v.t | v.f
    elif isinstance(v, Const):
        k = np.full(n, v.value is not None)
    else:
        k = np.array([x is not None for x in v.values], dtype=np.bool_)
    return VBool(k, ~k)


# --- the folds --------------------------------------------------------------------------------------


def _count(items: Sequence[Any], bind: Callable[[Any], S], args: Sequence[Callable[[S], Any]]) -> Any:
    if not args:
        return len(items)
    pred = args[0]
    n = 0
    for it in items:
        v = pred(bind(it))
        if v is not None and v:
            n += 1
    return n


def _total(items: Sequence[Any], bind: Callable[[Any], S], args: Sequence[Callable[[S], Any]]) -> Any:
    value_fn = args[0]
    pred_fn = args[1] if len(args) > 1 else None
    acc = 0.0  # always a float, however the values are typed, so every evaluator agrees
    for it in items:
        inner = bind(it)
        if pred_fn is not None:
            t = pred_fn(inner)
            if t is None or not t:
                continue
        v = value_fn(inner)
        if v is not None:
            acc = acc + v
    return acc


def _some_or_every(want_any: bool) -> Callable[[Sequence[Any], Callable[[Any], Any], Sequence[Callable[[Any], Any]]], Any]:
    """``any`` (True as soon as one item is) or ``all`` (False as soon as one item is); else
    unknown when some item was."""

    def fold(items: Sequence[Any], bind: Callable[[Any], Any], args: Sequence[Callable[[Any], Any]]) -> Any:
        pred = args[0]
        unknown = False
        for it in items:
            v = pred(bind(it))
            if v is None:
                unknown = True
            elif bool(v) is want_any:
                return want_any
        return None if unknown else not want_any

    return fold


def _count_vector(items: Sequence[Any], bind: Callable[[Any], Any], args: Sequence[VArg], n: int) -> Value:
    acc = np.zeros(n, dtype=np.float64)
    for it in items:
        sub = bind(it)
        acc = acc + sub.as_bool(args[0](sub)).t
    return VNum(acc, np.ones(n, dtype=np.bool_))


def _total_vector(items: Sequence[Any], bind: Callable[[Any], Any], args: Sequence[VArg], n: int) -> Value:
    acc = np.zeros(n, dtype=np.float64)
    for it in items:
        sub = bind(it)
        value = sub.as_num(args[0](sub))
        take = value.k
        if len(args) > 1:
            take = take & sub.as_bool(args[1](sub)).t
        acc = acc + np.where(take, value.v, 0.0)
    return VNum(acc, np.ones(n, dtype=np.bool_))


def _some_or_every_vector(want_any: bool) -> Callable[[Sequence[Any], Callable[[Any], Any], Sequence[VArg], int], Value]:
    def fold(items: Sequence[Any], bind: Callable[[Any], Any], args: Sequence[VArg], n: int) -> Value:
        t = np.full(n, not want_any)
        fl = np.full(n, want_any)
        for it in items:
            sub = bind(it)
            b = sub.as_bool(args[0](sub))
            if want_any:
                t = t | b.t
                fl = fl & b.f
            else:
                t = t & b.t
                fl = fl | b.f
        return VBool(t, fl)

    return fold


def _count_columns(ctx: Any, args: Sequence[VArg], order: Any) -> Any:
    if not args:
        return ctx.n
    return int(np.count_nonzero(ctx.as_bool(args[0](ctx)).t))


def _total_columns(ctx: Any, args: Sequence[VArg], order: Any) -> Any:
    value = ctx.as_num(args[0](ctx))
    take = value.k
    if len(args) > 1:
        take = take & ctx.as_bool(args[1](ctx)).t
    # added in the list's own order, one after the other, as the interpreter does
    chosen = value.v[order][take[order]]
    return float(np.cumsum(chosen)[-1]) + 0.0 if len(chosen) else 0.0


def _some_or_every_columns(want_any: bool) -> Callable[[Any, Sequence[VArg], Any], Any]:
    def fold(ctx: Any, args: Sequence[VArg], order: Any) -> Any:
        b = ctx.as_bool(args[0](ctx))
        unknown = bool((~(b.t | b.f)).any())
        if want_any:
            return True if b.t.any() else (None if unknown else False)
        return False if b.f.any() else (None if unknown else True)

    return fold


# --- strict functions ---------------------------------------------------------------------------------


def exp(x: float) -> float:
    """``exp(x)`` exactly as the vectorised evaluator computes it (the same numpy loop)."""
    return float(np.exp(np.clip(np.array([float(x)], dtype=np.float64), -EXP_BOUND, EXP_BOUND))[0])


def _numbers(kernel: Callable[[Any, list[Value]], Value]) -> Callable[[Any, Call, Sequence[VArg]], Value | None]:
    """The vector code of a function of numbers: the arguments over the catalog, then
    ``kernel``; row by row when an argument is not a number column (a value per program)."""

    def vector(ctx: Any, call: Call, args: Sequence[VArg]) -> Value | None:
        values = [a(ctx) for a in args]
        if any(isinstance(a, VObj | VStr | VBool) for a in values):
            return None
        return kernel(ctx, values)

    return vector


def _elementwise(f: Callable[[Any, Any], Any]) -> Callable[[Any, list[Value]], Value]:
    """One number in, one out, program by program: ``f(ctx, values)``, known where the argument is."""

    def kernel(ctx: Any, values: list[Value]) -> Value:
        nums = [ctx.as_num(a) for a in values]
        known = np.logical_and.reduce([x.k for x in nums])
        return VNum(f(ctx, nums[0].v), known)

    return kernel


def _min_max(op: Any) -> Callable[[Any, list[Value]], Value]:
    def kernel(ctx: Any, values: list[Value]) -> Value:
        pairs = [num_operand(ctx, a) for a in values]
        known: Any = True
        for _v, k in pairs:
            known = known_both(known, k)
        n = ctx.n
        if known is False:
            return VNum(np.zeros(n), np.zeros(n, dtype=np.bool_))
        acc = pairs[0][0]
        for v, _k in pairs[1:]:
            acc = op(acc, v)
        acc = np.asarray(acc, dtype=np.float64)
        if acc.ndim == 0:
            acc = np.full(n, float(acc))
        return VNum(acc, np.ones(n, dtype=np.bool_) if known is True else known)

    return kernel


def _len_vector(ctx: Any, call: Call, args: Sequence[VArg]) -> Value | None:
    arg = call.args[0]
    if isinstance(arg, Path) and arg.root == "program" and len(arg.parts) == 1:
        lengths: Value = ctx.cols.lengths(arg.parts[0])
        return lengths
    return None


# --- ranges -------------------------------------------------------------------------------------------

_NONNEG = (0.0, math.inf)
_ANY_NUMBER = (-math.inf, math.inf)


def _range_nonneg(e: Call, r: RangeReader) -> tuple[float, float]:
    return _NONNEG


def _range_total(e: Call, r: RangeReader) -> tuple[float, float]:
    if len(e.args) < 2:
        return _ANY_NUMBER
    lo, _hi = r.item_range(e.args[0], e.args[1])
    return _NONNEG if lo >= 0 else _ANY_NUMBER


def _range_min_max(pick: Callable[[Sequence[float]], float]) -> RangeRule:
    def rule(e: Call, r: RangeReader) -> tuple[float, float]:
        if not e.args:
            return _ANY_NUMBER
        rs = [r.range(a) for a in e.args]
        return pick([lo for lo, _hi in rs]), pick([hi for _lo, hi in rs])

    return rule


def _range_exp(e: Call, r: RangeReader) -> tuple[float, float]:
    if not e.args:
        return _ANY_NUMBER
    lo, hi = r.range(e.args[0])
    return math.exp(min(max(lo, -EXP_BOUND), EXP_BOUND)), math.exp(min(max(hi, -EXP_BOUND), EXP_BOUND))


def _range_years_since(e: Call, r: RangeReader) -> tuple[float, float]:
    if not e.args:
        return _ANY_NUMBER
    lo, hi = r.range(e.args[0])
    first, last = r.evaluation_year()
    return first - hi, last - lo


# --- the registry ---------------------------------------------------------------------------------------

HAS = Builtin(
    name="has",
    min_args=1,
    max_args=1,
    forms=('has("tag")',),
    doc="true when a rule has set the tag (forward chaining; the list stage reads a program's tags as `item.tags`)",
    impl=TagTest(scalar=lambda name, tags: name in tags, vector=_has_vector),
    type_rule=_type_has,
    returns="bool",
    durable=Durable.TAG_PATTERN,
    reads=frozenset({"tags"}),
)
KNOWN = Builtin(
    name="known",
    min_args=1,
    max_args=1,
    forms=("known(path)",),
    doc="true when the value is present (a pass/fail Step 1 has no `score`; a program may publish no minimum)",
    impl=Presence(scalar=lambda v: v is not None, vector=_known_vector),
    type_rule=_type_known,
    returns="bool",
    durable=Durable.FIELD_PRESENCE,
)
COUNT = Builtin(
    name="count",
    min_args=1,
    max_args=2,
    forms=("count(list)", "count(list, condition)"),
    doc="how many items the list has, or how many satisfy the condition (which reads `item.*`)",
    impl=Fold(scalar=_count, vector=_count_vector, columns=_count_columns),
    type_rule=_type_fold(NUMBER, with_value=False),
    returns="int",
    durable=Durable.PYTHON,
    value_range=_range_nonneg,
    takes_list=True,
)
TOTAL = Builtin(
    name="total",
    min_args=2,
    max_args=3,
    forms=("total(list, value)", "total(list, value, condition)"),
    doc="the sum of `value` over the items (that satisfy the condition); unknown values add nothing",
    impl=Fold(scalar=_total, vector=_total_vector, columns=_total_columns),
    type_rule=_type_fold(NUMBER, with_value=True),
    returns="float",
    durable=Durable.PYTHON,
    value_range=_range_total,
    takes_list=True,
)
ANY_ITEM = Builtin(
    name="any",
    min_args=2,
    max_args=2,
    forms=("any(list, condition)",),
    doc="some item satisfies the condition (unknown when none does and some item is unknown)",
    impl=Fold(scalar=_some_or_every(True), vector=_some_or_every_vector(True), columns=_some_or_every_columns(True)),
    type_rule=_type_fold(BOOL, with_value=False),
    returns="bool",
    durable=Durable.PYTHON,
    takes_list=True,
)
ALL_ITEMS = Builtin(
    name="all",
    min_args=2,
    max_args=2,
    forms=("all(list, condition)",),
    doc="every item satisfies the condition (unknown when none fails and some item is unknown)",
    impl=Fold(scalar=_some_or_every(False), vector=_some_or_every_vector(False), columns=_some_or_every_columns(False)),
    type_rule=_type_fold(BOOL, with_value=False),
    returns="bool",
    durable=Durable.PYTHON,
    takes_list=True,
)
LEN = Builtin(
    name="len",
    min_args=1,
    max_args=1,
    forms=("len(list_or_string)",),
    doc="the length of a list or a string",
    impl=Strict(scalar=lambda args, year: len(args[0]), vector=_len_vector),
    type_rule=_type_len,
    returns="int",
    durable=Durable.PYTHON,
    value_range=_range_nonneg,
    takes_list=True,
)
MIN = Builtin(
    name="min",
    min_args=2,
    max_args=None,
    forms=("min(a, b, ...)",),
    doc="the smallest of the numbers",
    impl=Strict(scalar=lambda args, year: min(args), vector=_numbers(_min_max(np.minimum)), pick=lambda a: np.argmin(a, axis=0)),
    type_rule=_type_numeric,
    returns="mixed",
    durable=Durable.PYTHON,
    value_range=_range_min_max(min),
)
MAX = Builtin(
    name="max",
    min_args=2,
    max_args=None,
    forms=("max(a, b, ...)",),
    doc="the largest of the numbers",
    impl=Strict(scalar=lambda args, year: max(args), vector=_numbers(_min_max(np.maximum)), pick=lambda a: np.argmax(a, axis=0)),
    type_rule=_type_numeric,
    returns="mixed",
    durable=Durable.PYTHON,
    value_range=_range_min_max(max),
)
ABS = Builtin(
    name="abs",
    min_args=1,
    max_args=1,
    forms=("abs(x)",),
    doc="the number without its sign",
    impl=Strict(scalar=lambda args, year: abs(args[0]), vector=_numbers(_elementwise(lambda ctx, v: np.abs(v)))),
    type_rule=_type_numeric,
    returns="mixed",
    durable=Durable.PYTHON,
    value_range=_range_nonneg,
)
EXP = Builtin(
    name="exp",
    min_args=1,
    max_args=1,
    forms=("exp(x)",),
    doc="e to the power `x` (kept within -50..50), for odds that grow at a rate per point",
    impl=Strict(
        scalar=lambda args, year: exp(args[0]),
        vector=_numbers(_elementwise(lambda ctx, v: np.exp(np.clip(v, -EXP_BOUND, EXP_BOUND)))),
    ),
    type_rule=_type_numeric,
    returns="float",
    durable=Durable.PYTHON,
    value_range=_range_exp,
)
YEARS_SINCE = Builtin(
    name="years_since",
    min_args=1,
    max_args=1,
    forms=("years_since(year)",),
    doc="the evaluation year minus `year` (the year is fixed per evaluation and recorded for replay)",
    impl=Strict(
        scalar=lambda args, year: year - args[0],
        vector=_numbers(_elementwise(lambda ctx, v: float(ctx.scope.as_of_year) - v)),
    ),
    type_rule=_type_numeric,
    returns="mixed",
    durable=Durable.PYTHON,
    value_range=_range_years_since,
    reads=frozenset({"year"}),
)

#: every builtin function, by name, in the order the docs list them
BUILTINS: Mapping[str, Builtin] = {
    b.name: b for b in (HAS, KNOWN, COUNT, TOTAL, ANY_ITEM, ALL_ITEMS, LEN, MIN, MAX, ABS, EXP, YEARS_SINCE)
}


def builtin(e: Expr) -> Builtin | None:
    """The builtin ``e`` calls, if it is a call of one."""
    return BUILTINS.get(e.func) if isinstance(e, Call) else None


def is_fold(e: Expr) -> TypeGuard[Call]:
    """``e`` is a call of a collection function (its arguments after the first read ``item``)."""
    spec = builtin(e)
    return spec is not None and isinstance(spec.impl, Fold)


def reads_tags(e: Expr) -> TypeGuard[Call]:
    """``e`` is a call that reads the facts' tags (``has(...)``)."""
    spec = builtin(e)
    return spec is not None and "tags" in spec.reads


def tag_read(e: Expr) -> str | None:
    """The tag ``e`` tests, when it is ``has("tag")`` with a quoted tag."""
    if not reads_tags(e):
        return None
    assert isinstance(e, Call)
    arg = e.args[0] if e.args else None
    return arg.value if isinstance(arg, Literal) and isinstance(arg.value, str) else None


def function_help() -> str:
    """The names of every function, for "unknown function" help."""
    return "functions: " + ", ".join(sorted(BUILTINS))
