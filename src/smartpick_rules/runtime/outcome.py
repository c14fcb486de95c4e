"""One evaluation as columns, and every per-program result built from them on demand.

``evaluate`` decides every program at once, as arrays over the catalog: which rules fired
(one row of a bool matrix per program-stage rule), each rule's odds factor and chance ceiling
where it fired, the chances, tiers, priorities and exclusions, the chosen list and why each
other eligible program is not on it. An ``Outcome`` keeps those arrays. From them it builds,
only when asked:

* one program's ``ProgramResult`` (its audit entries and why-not) from that program's column
  alone, so asking for the last program of the list costs what asking for the first does;
* every program's result at once (iterating ``rec.programs``, ``to_json``), sharing the work
  that is the same for many programs (the running chance of every audit entry is computed
  for all entries in a few array operations);
* ``firings()``: every firing as arrays.

The values an audit entry reports are read from columns: a program's own fields from the
catalog as loaded, computed values (an estimate, ``any(...)`` over the applicant's list) from
the columns the vectorised conditions already computed (the evaluation's memo), or computed
once over the whole catalog. Each is converted exactly as the scalar interpreter would have
produced it, so the JSON is byte-identical to reading them one by one.

An ``Outcome`` pickles as everything the results need, materialised (the values every fired
rule's entries read), with no reference to the catalog, the rule set or the profile; the
process that receives it re-attaches it to its own copies (``attach``). That is how
``evaluate_many`` brings results back from a process pool without building them in the worker.

Its caches are filled on first use and only ever grow with values that do not depend on who
computed them, so one outcome may be read from many threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog, Profile
from ..language.expr import Arith, BoolOp, Call, Compare, Expr, IfElse, Literal, Not, Path, program_nodes
from ..language.functions import BUILTINS, Strict
from ..language.interp import Scope, metered, plain
from ..language.ir import TIERS, Template
from ..language.vector import Const, ProgramContext, Value, VBool, VNum, VObj, VStr
from ..limits import Limits
from ..plan import CompiledRule, Plan
from ..results.recommendation import AdviceItem, AuditEntry, Exclusion, Firings, ProgramResult, WhyNot
from .audit import EntryMaker, effect_fields, effect_text, json_value, json_values, why_not_entry
from .list_stage import Choice
from .stages import ProfileOutcome, chance_of

__all__ = ["Outcome", "ReadColumn", "catalog_id_array", "catalog_ids", "catalog_index"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def catalog_index(catalog: Catalog) -> dict[str, int]:
    """Program id -> its index in the catalog (cached on the catalog)."""
    cache = catalog.column_cache()
    index = cache.get("index_of")
    if index is None:
        index = cache["index_of"] = {p.id: i for i, p in enumerate(catalog.programs)}
    return index  # type: ignore[return-value]


def catalog_id_array(catalog: Catalog) -> npt.NDArray[np.object_]:
    """The catalog's program ids as an array (cached on the catalog): ids of many programs at
    once by fancy indexing."""
    cache = catalog.column_cache()
    ids = cache.get("id_array")
    if ids is None:
        ids = np.array(catalog_ids(catalog), dtype=object)
        ids.flags.writeable = False
        ids = cache.setdefault("id_array", ids)
    return ids  # type: ignore[return-value]


def catalog_ids(catalog: Catalog) -> tuple[str, ...]:
    cache = catalog.column_cache()
    ids = cache.get("ids")
    if ids is None:
        ids = cache["ids"] = tuple(p.id for p in catalog.programs)
    return ids  # type: ignore[return-value]


def _raw_column(catalog: Catalog, name: str) -> list[Any]:
    """``json_value(program.<name>)`` of every program, as the scalar interpreter reads it."""
    cache = catalog.column_cache()
    key = f"json:{name}"
    col = cache.get(key)
    if col is None:
        col = cache[key] = json_values(list(map(attrgetter(name), catalog.programs)))
    return col  # type: ignore[return-value]


class _RawField:
    """A catalog field read one program at a time (``ReadColumn`` "raw" before the whole column is
    needed): one program's explanation should not convert every program's value."""

    __slots__ = ("catalog", "name")

    def __init__(self, catalog: Catalog, name: str) -> None:
        self.catalog = catalog
        self.name = name

    def __getitem__(self, i: int) -> Any:
        column = self.catalog.column_cache().get(f"json:{self.name}")
        if column is not None:
            return column[i]  # type: ignore[index]
        return json_value(plain(getattr(self.catalog.programs[i], self.name)))

    def __iter__(self) -> Any:
        return iter(_raw_column(self.catalog, self.name))


class ReadColumn:
    """What one read expression gives every program, in the form the audit reports it.

    ``kind`` says how to turn an entry into the value the scalar interpreter returns: "raw"
    (``values``: the catalog's own field, JSON-ready), "bool" (``t`` / ``f`` masks: True, False or
    None), "float" / "int" (``v`` where ``k``, else None), "obj" (``values``: JSON-ready values).
    """

    __slots__ = ("f", "field", "k", "kind", "t", "v", "values")

    def __init__(
        self, kind: str, values: Any = None, t: Any = None, f: Any = None, v: Any = None, k: Any = None, field: str = ""
    ) -> None:
        self.kind = kind
        self.values = values
        self.t = t
        self.f = f
        self.v = v
        self.k = k
        #: for "raw": the catalog field (a pickled column leaves its values behind: the
        #: receiving process reads them from its own copy of the catalog)
        self.field = field

    def __getstate__(self) -> tuple[Any, ...]:
        values = None if self.kind == "raw" else self.values
        return (self.kind, values, self.t, self.f, self.v, self.k, self.field)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.kind, self.values, self.t, self.f, self.v, self.k, self.field = state

    def at(self, i: int) -> Any:
        kind = self.kind
        if kind == "raw":
            x = self.values[i]
            return list(x) if isinstance(x, list) else x  # a list per entry, as before: never shared
        if kind == "obj":
            return self.values[i]
        if kind == "bool":
            return True if self.t[i] else (False if self.f[i] else None)
        if not self.k[i]:
            return None
        x = float(self.v[i])
        if not math.isfinite(x):
            return None  # as json_value records an overflow: JSON has no infinity
        return x if kind == "float" else int(x)


    def take(self, indices: Sequence[int], copy: bool = True) -> list[Any]:
        """``[self.at(i) for i in indices]``, a column's worth at a time (``copy=False``: a
        catalog field's lists as the catalog's cache holds them, for a reader that copies what
        it keeps)."""
        kind = self.kind
        if kind == "raw" or kind == "obj":
            values = self.values
            if isinstance(values, _RawField):
                # the field converted whole (kept on the catalog), when it is or when many
                # programs are read
                if len(indices) >= 64:
                    values = _raw_column(values.catalog, values.name)
                else:
                    values = values.catalog.column_cache().get(f"json:{values.name}", values)
            elif isinstance(values, _LazyRows):
                return values.take(indices)
            got = [values[i] for i in indices]
            if kind == "raw" and copy:
                return [x if x.__class__ is not list else list(x) for x in got]  # a list per entry: never shared
            return got
        at = np.asarray(indices, dtype=np.intp)
        if kind == "bool":
            return [True if t else (False if f else None) for t, f in zip(self.t[at].tolist(), self.f[at].tolist(), strict=True)]
        isfinite = math.isfinite
        floats = [float(x) if k and isfinite(x) else None for x, k in zip(self.v[at].tolist(), self.k[at].tolist(), strict=True)]
        return floats if kind == "float" else [None if x is None else int(x) for x in floats]

    def take_keyed(self, indices: Sequence[int]) -> tuple[list[Any], list[Any]]:
        """``take(indices, copy=False)`` and each value's ``_value_key`` (the typed kinds' values
        are all of one type, so they are their own keys, but for zero: 0.0 and -0.0). The caller
        copies the lists it keeps."""
        values = self.take(indices, copy=False)
        kind = self.kind
        if kind == "float":
            return values, [x if x else _float_key(x) for x in values]
        if kind == "int" or kind == "bool":
            return values, values
        plain = _PLAIN
        return values, [(x.__class__, x) if x.__class__ in plain else _value_key(x) for x in values]


def _value_key(v: Any) -> Any:
    """A value read by a rule as a dict key that tells apart what renders differently: 1, 1.0
    and True are equal but read "1", "1.0" and "yes"; 0.0 and -0.0 are equal but not the same
    JSON. Raises TypeError for a record (a dict)."""
    c = v.__class__
    if c is float:
        return (c, v.hex())
    if c is list:
        return (c, tuple(map(_value_key, v)))
    return (c, v)


def _float_key(x: float | None) -> str | None:
    return None if x is None else x.hex()


#: how many texts a rule set keeps per rule (see ``_plan_memo``)
_MEMO_SIZE = 4096


def _plan_memo(plan: Plan, name: str, k: int) -> dict[Any, Any]:
    """A memo kept on the plan for program-stage rule ``k``: texts that are a pure function of
    the rule and the values an entry read (its explanation, exclusion and advice; its effect for
    an odds factor), so evaluations of one rule set share them, as they share its closures."""
    memos: dict[int, dict[Any, Any]] | None = plan.cache.get(name)
    if memos is None:
        memos = plan.cache.setdefault(name, {})
    memo = memos.get(k)
    if memo is None:
        memo = memos.setdefault(k, {})
    return memo


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_SIZE:
        memo.clear()  # bounded: a rule set serving many catalogs does not grow without end
    memo[key] = value


#: value types that are their own dict key once tagged with their type
_PLAIN = frozenset({str, int, bool, type(None)})


_UNREAD: Any = object()


class _LazyRows:
    """A column of values computed one program at a time, on first read, then kept."""

    __slots__ = ("_compute", "_compute_many", "_values")

    def __init__(self, compute: Callable[[int], Any], n: int, compute_many: Callable[[list[int]], list[Any]] | None = None) -> None:
        self._compute = compute
        #: the same for several programs at once (their arguments read a column at a time)
        self._compute_many = compute_many
        self._values: list[Any] = [_UNREAD] * n

    def take(self, indices: Sequence[int]) -> list[Any]:
        """``[self[i] for i in indices]``, computing the missing ones together."""
        values = self._values
        if self._compute_many is not None:
            missing = [i for i in indices if values[i] is _UNREAD]
            if missing:
                for i, v in zip(missing, self._compute_many(missing), strict=True):
                    values[i] = v
        return [values[i] if values[i] is not _UNREAD else self[i] for i in indices]

    def __getitem__(self, i: int) -> Any:
        v = self._values[i]
        if v is _UNREAD:
            # two threads may compute the same value: equal results, the last one kept
            v = self._values[i] = self._compute(i)
        return v

    def __len__(self) -> int:
        return len(self._values)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled (an outcome sent to another process) as the values computed: before it is
        # pickled, an outcome computes every value an entry can read (Outcome.__getstate__)
        return _sent(self._values)


class _SentRows:
    """A ``_LazyRows`` column as another process received it: the values of the programs whose
    entries read it (where the rules reading it fired), and no way to compute others."""

    __slots__ = ("_n", "_values")

    def __init__(self, n: int, read: list[int], values: list[Any]) -> None:
        self._n = n
        self._values: dict[int, Any] = dict(zip(read, values, strict=True))

    def __getitem__(self, i: int) -> Any:
        v = self._values.get(i, _UNREAD)
        if v is _UNREAD:
            raise RuntimeError(f"the value for program {i} did not come with this outcome (no rule reading it fired there)")
        return v

    def __len__(self) -> int:
        return self._n

    def __reduce__(self) -> tuple[Any, ...]:
        read = sorted(self._values)
        return (_SentRows, (self._n, read, [self._values[i] for i in read]))


def _sent(values: list[Any]) -> tuple[Any, ...]:
    """A column's computed values, as a ``_SentRows`` pickles them: by position."""
    read = [i for i, v in enumerate(values) if v is not _UNREAD]
    return (_SentRows, (len(values), read, [values[i] for i in read]))


def _static_kind(e: Expr) -> str:
    """How the scalar interpreter types this expression's value, when one kind fits every program."""
    if isinstance(e, Compare | BoolOp | Not):
        return "bool"
    if isinstance(e, Call):
        return BUILTINS[e.func].returns  # "mixed": min, max, abs, years_since keep their arguments' types
    if isinstance(e, Arith):
        return "float"  # the interpreter computes in IEEE doubles
    return "mixed"


def _template_keys(template: Template) -> frozenset[str]:
    """The keys of an entry's ``values`` that ``template.render`` reads."""
    keys = dict(template.keys)
    return frozenset(keys.get(raw.strip(), raw.strip()) for raw, _at in Template.placeholders(template.text))


class _RuleSpec:
    """What every audit entry of one program-stage rule shares: the rule's own fields (``static``,
    built once per rule set and kept on its plan) and what this evaluation read for it."""

    __slots__ = (
        "advice",
        "computes_odds",
        "constants",
        "cr",
        "effect",
        "exclude",
        "explain",
        "head",
        "moves",
        "priority",
        "reads",
        "rule",
        "typed",
        "where",
    )

    def __init__(self, static: _RuleSpec | CompiledRule, constants: dict[str, Any], reads: list[tuple[str, ReadColumn | None]]) -> None:
        self.constants = constants
        self.reads = reads
        if isinstance(static, _RuleSpec):
            for name in _STATIC_FIELDS:
                setattr(self, name, getattr(static, name))
            return
        cr = static
        self.cr = cr
        self.rule = cr.rule
        self.effect = cr.rule.then.describe()
        eff = cr.rule.then
        self.explain: Template | None = cr.rule.explain
        self.exclude: Template | None = eff.exclude
        self.advice: Template | None = eff.advice
        #: does the entry report the chance after it (it moves or bounds the chance)?
        self.moves = cr.odds is not None or cr.chance_cap is not None or eff.tier_at_most is not None
        self.priority = float(eff.priority) if eff.priority is not None else 0.0
        #: the entry's typed effect fields, the same for every program: (excludes, tier_at_most,
        #: priority, tags, advice, estimates)
        rule = cr.rule
        #: AuditEntry's leading fields (rule_id, ruleset, ruleset_version, stage, salience) and
        #: its file, line and source: the same for every program
        self.head = (rule.id, rule.ruleset, rule.ruleset_version, rule.stage, rule.salience)
        self.where = (rule.loc.file, rule.loc.line, rule.source)
        f = effect_fields(rule)
        self.typed: tuple[bool, str | None, float | None, tuple[str, ...], bool, tuple[str, ...]] = (
            f.get("excludes", False),
            f.get("tier_at_most"),
            f.get("priority"),
            f.get("tags", ()),
            f.get("advice", False),
            f.get("estimates", ()),
        )
        #: is ``effect`` written per program (an odds expression shows the factor it came to)?
        self.computes_odds = eff.computes_odds

    @staticmethod
    def of(plan: Plan, k: int, constants: dict[str, Any], reads: list[tuple[str, ReadColumn | None]]) -> _RuleSpec:
        """Program-stage rule ``k``'s spec, its own fields built once per plan (the rule's effect
        in words, its typed fields) and shared by every evaluation's."""
        statics: dict[int, _RuleSpec] | None = plan.cache.get("audit:rule-specs")
        if statics is None:
            statics = plan.cache.setdefault("audit:rule-specs", {})
        static = statics.get(k)
        if static is None:
            static = statics.setdefault(k, _RuleSpec(plan.program.rules[k], {}, []))
        return _RuleSpec(static, constants, reads)


_STATIC_FIELDS = tuple(name for name in _RuleSpec.__slots__ if name not in ("constants", "reads"))


class Outcome:
    """The columns of one evaluation; see the module docstring."""

    def __init__(
        self,
        *,
        plan: Plan,
        catalog: Catalog,
        profile: Profile,
        year: int,
        limits: Limits,
        prof_out: ProfileOutcome,
        context: ProgramContext | None,
        fired: BoolArray,
        excluded: BoolArray,
        chance: FloatArray,
        priority: FloatArray,
        tier: npt.NDArray[np.int8],
        rule_odds: dict[int, float | FloatArray],
        rule_log_odds: dict[int, float | FloatArray],
        rule_caps: dict[int, float | FloatArray],
        order: npt.NDArray[np.intp],
        choice: Choice,
        groups: dict[str, BoolArray],
        list_scope: Scope | None = None,
        profile_entries: Sequence[AuditEntry] = (),
    ) -> None:
        self.plan: Plan | None = plan
        self.catalog: Catalog | None = catalog
        self.profile: Profile | None = profile
        self.year = year
        self.limits = limits
        self.prof_out: ProfileOutcome | None = prof_out
        self.context = context
        self.fired = fired
        self.excluded = excluded
        self.chance = chance
        self.priority = priority
        self.tier = tier
        self.rule_odds = rule_odds
        self.rule_log_odds = rule_log_odds
        self.rule_caps = rule_caps
        self.order = order
        self.choice = choice
        self.groups = groups
        #: the facts the list stage read (list-stage why-not, rule-test coverage); not portable
        self.list_scope = list_scope
        # what the profile stage decided that every program's audit repeats
        self.profile_tags = prof_out.tags
        self.base_log_odds = prof_out.log_odds
        self.base_cap = min((c for _cr, c in prof_out.caps), default=1.0)
        self.chance_model = plan.ruleset.chance
        self._prefix: tuple[AuditEntry, ...] | None = None
        #: the profile stage's entries as the result lists them (``chance_after`` unset), by rule
        #: id: a program's trail opens with those that move its chance, each with the chance after it
        self._profile_entries = {e.rule_id: e for e in profile_entries}
        self._specs: dict[int, _RuleSpec] = {}
        self._columns: dict[int, ReadColumn] = {}
        self._renders: dict[tuple[Any, ...], str] = {}
        self._tag_cache: dict[tuple[int, ...], tuple[str, ...]] = {}
        #: the tags each program-stage rule sets
        self._sets: list[tuple[str, ...]] = [tuple(cr.rule.then.tags) for cr in plan.program.rules]
        self._firings: Firings | None = None

    # -- lookups ----------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.chance)

    def _plan(self) -> Plan:
        assert self.plan is not None, "attach() the outcome to its rule set first"
        return self.plan

    def _catalog(self) -> Catalog:
        assert self.catalog is not None, "attach() the outcome to its catalog first"
        return self.catalog

    def ids(self) -> tuple[str, ...]:
        return catalog_ids(self._catalog())

    def position(self, program_id: str) -> int | None:
        """Where the program with this id is in the result order (``order``), or None."""
        i = catalog_index(self._catalog()).get(program_id)
        if i is None:
            return None
        inverse = self.__dict__.get("_inverse")
        if inverse is None:
            inverse = np.full(self.n, -1, dtype=np.intp)
            inverse[self.order] = np.arange(len(self.order), dtype=np.intp)
            self.__dict__["_inverse"] = inverse
        at = int(inverse[i])
        return None if at < 0 else at

    def tags_of(self, i: int, ks: Sequence[int] | None = None) -> tuple[str, ...]:
        """Program ``i``'s tags: the profile's and those of the program rules that fired for it."""
        if ks is None:
            ks = np.flatnonzero(self.fired[:, i]).tolist()
        key = tuple(k for k in ks if self._sets[k])
        hit = self._tag_cache.get(key)
        if hit is None:
            tags = set(self.profile_tags)
            for k in key:
                tags.update(self._sets[k])
            hit = self._tag_cache[key] = tuple(sorted(tags))
        return hit

    def groups_of(self, i: int) -> tuple[str, ...]:
        return tuple(g for g, m in self.groups.items() if m[i])

    # -- what entries read ---------------------------------------------------------------
    def _column(self, e: Expr) -> ReadColumn:
        col = self._columns.get(id(e))
        if col is not None:
            return col
        col = self._columns[id(e)] = self._compute_column(e)
        return col

    def _compute_column(self, e: Expr) -> ReadColumn:
        catalog = self._catalog()
        if isinstance(e, Path) and e.root == "program" and len(e.parts) == 1:
            return ReadColumn("raw", values=_RawField(catalog, e.parts[0]), field=e.parts[0])
        if isinstance(e, Literal):
            return ReadColumn("obj", values=[json_value(e.value)] * self.n)
        if isinstance(e, IfElse) and self.context is not None:
            return self._choose_column(e)
        if isinstance(e, Call) and self.context is not None:
            spec = BUILTINS[e.func]
            if isinstance(spec.impl, Strict) and spec.returns == "mixed":
                return self._pick_column(e, spec.impl)
        plan = self._plan()
        kind = _static_kind(e)
        if kind != "mixed" and self.context is not None:
            # which nodes read the program depends on the expression alone: once per rule set
            nodes_of: dict[int, frozenset[int]] = plan.cache.setdefault("audit:program-nodes", {})
            nodes = nodes_of.get(id(e))
            if nodes is None:
                nodes = nodes_of.setdefault(id(e), frozenset(program_nodes(e, plan.program.tags)))
            # read after the evaluation, on a budget of its own (as the interpreter's reads are)
            ctx = self.context.with_scope(self.context.scope)
            with metered(self.limits.max_work) as meter:
                ctx.meter = meter
                value: Value = plan.vector()(e, nodes)(ctx)
            col = self._typed(value, kind)
            if col is not None:
                return col
        return ReadColumn("obj", values=self._rowwise(e))

    def _pick_column(self, e: Call, impl: Strict) -> ReadColumn:
        """A strict builtin whose value takes its arguments' types (``min``, ``max``, ``abs``),
        over its arguments' own columns, program by program.

        No typed column holds such a value (an int or a float, by which argument wins); but its
        arguments usually have one (an estimate's arithmetic is a float column computed once),
        and applying the function per program is cheap. Where an argument is unknown, or not a
        plain number, the interpreter decides for that program, exactly.
        """
        cols = [self._column(a) for a in e.args]
        exact = self._rowwise(e)
        prof_out = self.prof_out
        assert prof_out is not None
        year = prof_out.scope.as_of_year
        scalar = impl.scalar

        def compute(i: int) -> Any:
            values = [c.at(i) for c in cols]
            if any(v is None or isinstance(v, bool) or not isinstance(v, int | float) for v in values):
                return exact[i]
            return json_value(scalar(values, year))

        pick = impl.pick

        def compute_many(indices: list[int]) -> list[Any]:
            columns = [c.take(indices, copy=False) for c in cols]
            # a program whose arguments are all plain numbers, by column
            plain = [True] * len(indices)
            for values in columns:
                plain = [p and (v.__class__ is int or v.__class__ is float) for p, v in zip(plain, values, strict=True)]
            if pick is not None and len(columns) > 1:
                stacked = np.array([[v if ok else 0.0 for v, ok in zip(values, plain, strict=True)] for values in columns], dtype=np.float64)
                # ints compare exactly as floats up to 2**53 (a catalog's numbers are far below)
                if stacked.size and float(np.abs(stacked).max()) <= 2.0**53:
                    winner = pick(stacked).tolist()
                    return [columns[w][p] if ok else exact[i] for p, (i, w, ok) in enumerate(zip(indices, winner, plain, strict=True))]
            out = []
            for i, args, ok in zip(indices, zip(*columns, strict=True), plain, strict=True):
                out.append(json_value(scalar(list(args), year)) if ok else exact[i])
            return out

        return ReadColumn("obj", values=_LazyRows(compute, self.n, compute_many))

    def _choose_column(self, e: IfElse) -> ReadColumn:
        """``then if test else orelse`` over its parts' own columns: the ``then`` value where the
        test is definitely true, else the ``orelse`` value (an unknown test takes ``orelse``, as
        in the interpreter). Its value's type is whichever branch is taken, so no typed column
        holds it; the branches usually have one."""
        test, then, orelse = self._column(e.test), self._column(e.then), self._column(e.orelse)

        def compute(i: int) -> Any:
            return then.at(i) if test.at(i) is True else orelse.at(i)

        def compute_many(indices: list[int]) -> list[Any]:
            return [a if t is True else b for t, a, b in zip(test.take(indices), then.take(indices), orelse.take(indices), strict=True)]

        return ReadColumn("obj", values=_LazyRows(compute, self.n, compute_many))

    def _typed(self, value: Value, kind: str) -> ReadColumn | None:
        n = self.n
        if isinstance(value, Const):
            return ReadColumn("obj", values=[json_value(value.value)] * n)
        if isinstance(value, VObj):
            return ReadColumn("obj", values=[json_value(x) for x in value.values])
        if kind == "bool" and isinstance(value, VBool):
            return ReadColumn("bool", t=value.t, f=value.f)
        if kind in ("float", "int") and isinstance(value, VNum):
            return ReadColumn(kind, v=value.v, k=value.k)
        if isinstance(value, VStr):
            return ReadColumn("obj", values=[None if c < 0 else value.cats[c] for c in value.codes.tolist()])
        return None

    def _rowwise(self, e: Expr) -> _LazyRows:
        """The scalar interpreter, program by program, for what has no typed column.

        Computed for a program when its entry is built: explaining one program reads one value,
        not the catalog's (an estimate's arithmetic read for 5,301 programs took 0.8 s).
        """
        plan, catalog, prof_out = self._plan(), self._catalog(), self.prof_out
        assert prof_out is not None
        fn = plan.scalar(e)
        base = prof_out.scope
        programs = catalog.programs

        def compute(i: int) -> Any:
            scope = Scope(base.applicant, programs[i], None, base.derived, frozenset(self.tags_of(i)), base.as_of_year)
            return json_value(fn(scope))

        return _LazyRows(compute, len(programs))

    def _spec(self, k: int) -> _RuleSpec:
        spec = self._specs.get(k)
        if spec is not None:
            return spec
        plan = self._plan()
        prof_out = self.prof_out
        assert prof_out is not None
        cr = plan.program.rules[k]
        constants: dict[str, Any] = {}
        reads: list[tuple[str, ReadColumn | None]] = []
        for key, e, per_program in cr.reads:
            if per_program:
                reads.append((key, self._column(e)))
            else:
                # the same for every program: read once, from the applicant's facts
                constants[key] = json_value(plan.scalar(e)(prof_out.scope))
                reads.append((key, None))
        spec = self._specs[k] = _RuleSpec.of(plan, k, constants, reads)
        return spec

    def _render(self, k: int, which: str, template: Template, values: dict[str, Any]) -> str:
        # many programs read the same values (a region, a tag list): render each combination once
        # (1, 1.0 and True are equal keys but read "1" and "yes": the type is part of the key)
        key = (k, which, *((v.__class__, tuple(v) if isinstance(v, list) else v) for v in values.values()))
        try:
            text = self._renders.get(key)
        except TypeError:  # a record among the values: render it
            return template.render(values, self.limits.max_message_length)
        if text is None:
            text = self._renders[key] = template.render(values, self.limits.max_message_length)
        return text

    # -- the profile stage's entries, shared by every program ------------------------------
    def profile_prefix(self) -> tuple[AuditEntry, ...]:
        prefix = self._prefix
        if prefix is not None:
            return prefix
        plan, prof_out = self._plan(), self.prof_out
        assert prof_out is not None
        # the rules' own texts and typed fields, once per rule set (shared with evaluate()'s)
        make_entry = EntryMaker(self.limits, plan.scalar, plan.cache.setdefault("entries:rule-parts", {}))
        model = plan.ruleset.chance
        factors = dict((cr.index, f) for cr, f in prof_out.odds)
        caps = dict((cr.index, c) for cr, c in prof_out.caps)
        from .stages import logit

        shown = [cr for cr in prof_out.rules if cr.index in factors or cr.index in caps or cr.rule.then.tier_at_most is not None]
        moved = [factors[cr.index] for cr in shown if cr.index in factors]
        # element by element, as one array: each is what a one-element array gives
        logs = iter(np.log(np.array(moved, dtype=np.float64)).tolist())
        running = logit(model.base)
        cap = 1.0
        runs: list[float] = []
        ceilings: list[float] = []
        for cr in shown:
            if cr.index in factors:
                running = running + next(logs)
            c = caps.get(cr.index)
            if c is not None:
                cap = min(cap, c)
            runs.append(running)
            ceilings.append(cap)
        chances = chance_of(np.array(runs, dtype=np.float64), model).tolist() if runs else []
        out: list[AuditEntry] = []
        for cr, chance, ceiling in zip(shown, chances, ceilings, strict=True):
            listed = self._profile_entries.get(cr.id)
            if listed is not None:
                # the same rule on the same facts: the result's entry, with the chance after it
                out.append(attrs.evolve(listed, chance_after=min(chance, ceiling)))
            else:
                out.append(make_entry(cr, prof_out.scope, min(chance, ceiling), factors.get(cr.index), caps.get(cr.index)))
        prefix = self._prefix = tuple(out)
        return prefix

    # -- one program ----------------------------------------------------------------------
    def result(self, i: int) -> ProgramResult:
        """Program ``i`` (its index in the catalog), from its own column of every array."""
        ks = np.flatnonzero(self.fired[:, i]).tolist()
        running = self.base_log_odds
        cap = self.base_cap
        pending: list[float] = []
        caps: list[float] = []
        odds: list[float | None] = []
        cap_values: list[float | None] = []
        for k in ks:
            lo = self.rule_log_odds.get(k)
            factor = cap_value = None
            if lo is not None:
                running = running + (lo if isinstance(lo, float) else float(lo[i]))
                f = self.rule_odds[k]
                factor = f if isinstance(f, float) else float(f[i])
            c = self.rule_caps.get(k)
            if c is not None:
                cap_value = c if isinstance(c, float) else float(c[i])
                cap = min(cap, cap_value)
            odds.append(factor)
            cap_values.append(cap_value)
            pending.append(running)
            caps.append(cap)
        afters = chance_of(np.array(pending, dtype=np.float64), self.chance_model).tolist() if pending else []
        return self._assemble(i, ks, afters, caps, odds, cap_values)

    def _assemble(
        self,
        i: int,
        ks: Sequence[int],
        afters: Sequence[float],
        caps: Sequence[float],
        odds: Sequence[float | None],
        cap_values: Sequence[float | None],
    ) -> ProgramResult:
        catalog = self._catalog()
        entries: list[AuditEntry] = list(self.profile_prefix())
        exclusions: list[Exclusion] = []
        advice: list[AdviceItem] = []
        for j, k in enumerate(ks):
            spec = self._spec(k)
            values = {key: (spec.constants[key] if col is None else col.at(i)) for key, col in spec.reads}
            after = min(afters[j], caps[j]) if spec.moves else None
            entry = self._entry(k, spec, values, after, odds[j], cap_values[j])
            entries.append(entry)
            if spec.exclude is not None:
                exclusions.append(Exclusion(spec.rule.id, self._render(k, "exclude", spec.exclude, entry.values)))
            if spec.advice is not None:
                advice.append(AdviceItem(spec.rule.id, "program", self._render(k, "advice", spec.advice, entry.values)))
        excluded = bool(self.excluded[i])
        code = int(self.tier[i])
        return ProgramResult(
            program=catalog.programs[i],
            chance=None if excluded else float(self.chance[i]),
            tier=None if code < 0 else TIERS[code],
            excluded=exclusions[0] if exclusions else None,
            tags=self.tags_of(i, ks),
            priority=float(self.priority[i]),
            audit=tuple(entries),
            exclusions=tuple(exclusions),
            advice=tuple(advice),
            chosen=bool(self.choice.chosen_mask[i]),
            left_off=self.choice.left_off(i),
            groups=self.groups_of(i),
        )

    def _effect(self, k: int, spec: _RuleSpec, odds: float | None) -> str:
        """The entry's ``effect``: the rule's own words, or, for an odds expression, with the
        factor it came to (many programs come to the same factor to the digits shown: each is
        described once per rule set)."""
        if not spec.computes_odds or odds is None:
            return spec.effect
        effects = _plan_memo(self._plan(), "audit:effects", k)
        key = round(odds, 3)
        found = effects.get(key)
        if found is None:
            found = effect_text(spec.rule, odds, spec.effect)
            _remember(effects, key, found)
        return found

    def _entry(
        self, k: int, spec: _RuleSpec, values: dict[str, Any], after: float | None, odds: float | None, cap: float | None
    ) -> AuditEntry:
        explanation = self._render(k, "explain", spec.explain, values) if spec.explain is not None else None
        effect = self._effect(k, spec, odds)
        # by position, in AuditEntry's field order: twenty keywords cost half as much again as
        # building the rest of the entry (tests/test_typed_audit.py checks every field)
        rule_id, ruleset, version, stage, salience = spec.head
        file, line, source = spec.where
        excludes, tier_at_most, priority, tags, advice, estimates = spec.typed
        return AuditEntry(
            rule_id, ruleset, version, stage, salience, effect, explanation, values, after, file, line, source,
            odds, cap, excludes, tier_at_most, priority, tags, advice, estimates,
        )  # fmt: skip

    # -- many programs ---------------------------------------------------------------------
    def results(self, indices: Sequence[int]) -> list[ProgramResult]:
        """Several programs at once: the running chance of every entry in a few array operations
        over those programs' columns alone (the cost follows how many are asked, not the
        catalog's size).

        The running log-odds and ceiling after each rule are accumulated in rule order over a
        (rules x programs) matrix that holds 0.0 (and 1.0) where a rule did not fire: ``x + 0.0``
        and ``min(x, 1.0)`` leave a value unchanged, so every figure is bit for bit what
        ``result`` computes program by program.
        """
        if len(indices) < 4:
            return [self.result(i) for i in indices]
        idx = np.asarray(indices, dtype=np.intp)
        m = len(idx)
        sub = self.fired[:, idx]
        # (program position, rule) of every firing, by program then in audit order
        jj, kk = np.nonzero(sub.T)
        moving = self._moving_rules()
        mv = moving[sub[moving].any(axis=1)] if len(moving) else moving
        after_full = np.zeros(sub.shape, dtype=np.float64)
        cap_full = np.ones(sub.shape, dtype=np.float64)
        if len(mv):
            fm = sub[mv]
            lo_const, lo_per_program, cap_const, cap_per_program = self._step_tables()
            # each moving rule's log-odds step and ceiling at each program, where it fired
            lo_at = np.repeat(lo_const[mv][:, None], m, axis=1)
            cap_at = np.repeat(cap_const[mv][:, None], m, axis=1)
            for r, k in enumerate(mv.tolist()):
                lo = lo_per_program.get(k)
                if lo is not None:
                    lo_at[r] = lo[idx]
                c = cap_per_program.get(k)
                if c is not None:
                    cap_at[r] = c[idx]
            steps = np.empty((len(mv) + 1, m), dtype=np.float64)
            steps[0] = self.base_log_odds
            steps[1:] = np.where(fm, lo_at, 0.0)
            bounds = np.empty((len(mv) + 1, m), dtype=np.float64)
            bounds[0] = self.base_cap
            bounds[1:] = np.where(fm, cap_at, 1.0)
            running = np.add.accumulate(steps, axis=0)[1:]
            capped = np.minimum.accumulate(bounds, axis=0)[1:]
            rr, cc = np.nonzero(fm)
            after_full[mv[rr], cc] = chance_of(running[rr, cc], self.chance_model)
            cap_full[mv[rr], cc] = capped[rr, cc]
        if m >= 8:
            # many programs: convert the catalog fields their entries read once, whole (kept on the catalog)
            catalog = self._catalog()
            for k in np.flatnonzero(sub.any(axis=1)).tolist():
                for _key, col in self._spec(k).reads:
                    if col is not None and col.kind == "raw":
                        _raw_column(catalog, col.field)
        return self._assemble_many(idx, sub, jj, kk, after_full, cap_full)

    def _assemble_many(
        self,
        idx: npt.NDArray[np.intp],
        sub: BoolArray,
        jj: npt.NDArray[np.intp],
        kk: npt.NDArray[np.intp],
        after_full: FloatArray,
        cap_full: FloatArray,
    ) -> list[ProgramResult]:
        """Programs' results (catalog indices ``idx``) from their firings (``sub``: rules x
        programs; ``jj``, ``kk``: the firings program by program, in audit order) and the running
        chance and ceiling at each (``after_full``, ``cap_full``).

        Entries are built rule by rule: a rule's values are read a column at a time and its
        texts rendered once per distinct set of values; each program then takes its entries in
        audit order. Programs whose entries for a rule are equal share one entry (as every
        program shares the profile stage's): a rule reads few distinct values and the running
        chance takes few distinct values, so a list of 100 programs has about a quarter as many
        distinct entries as entries. The entries equal those ``result`` builds one program at a
        time.
        """
        m = len(idx)
        prefix = self.profile_prefix()
        plan = self._plan()
        max_length = self.limits.max_message_length
        own: list[list[AuditEntry]] = [[] for _ in range(m)]
        exclusions_of: dict[int, list[Exclusion]] = {}
        advice_of: dict[int, list[AdviceItem]] = {}
        counts = np.count_nonzero(sub, axis=1)
        _rules, jr = np.nonzero(sub)  # the firings rule by rule, programs in order
        ends = np.cumsum(counts).tolist()
        jr_list = jr.tolist()
        a = 0
        for k in range(len(ends)):
            b = ends[k]
            if a == b:
                continue
            js = jr[a:b]
            positions = jr_list[a:b]
            a = b
            spec = self._spec(k)
            at_arr = idx[js]
            at = at_arr.tolist()
            n = len(at)
            keys = [key for key, _col in spec.reads]
            columns: list[list[Any]] = []
            key_columns: list[list[Any]] = []
            for name, col in spec.reads:
                if col is None:
                    constant = spec.constants[name]
                    columns.append([constant] * n)
                    key_columns.append([_value_key(constant)] * n)
                else:
                    got, got_keys = col.take_keyed(at)
                    columns.append(got)
                    key_columns.append(got_keys)
            row_keys: list[Any] = list(zip(*key_columns, strict=True)) if columns else [()] * n
            o = self.rule_odds.get(k)
            factors: list[Any] = [None] * n if o is None else ([o] * n if isinstance(o, float) else o[at_arr].tolist())
            c = self.rule_caps.get(k)
            cap_values: list[Any] = [None] * n if c is None else ([c] * n if isinstance(c, float) else c[at_arr].tolist())
            afters: list[Any] = list(map(min, after_full[k, js].tolist(), cap_full[k, js].tolist())) if spec.moves else [None] * n
            # a rule whose entries carry no number of their own: its entries differ by values alone
            by_values = o is None and c is None and not spec.moves
            rule_id, ruleset, version, stage, salience = spec.head
            file, line, source = spec.where
            excludes, tier_at_most, priority, tags, advice, estimates = spec.typed
            gives_exclusion = spec.exclude is not None
            gives_advice = spec.advice is not None
            texts = _plan_memo(plan, f"audit:texts:{max_length}", k)
            made: dict[Any, tuple[AuditEntry, Exclusion | None, AdviceItem | None]] = {}
            for p, (j, vkey, factor, cap_value, after) in enumerate(zip(positions, row_keys, factors, cap_values, afters, strict=True)):
                try:
                    # a nonzero float is its own key; zero is 0.0 or -0.0, which JSON tells apart
                    key: Any = (
                        vkey
                        if by_values
                        else (
                            vkey,
                            factor if factor or factor is None else factor.hex(),
                            cap_value if cap_value or cap_value is None else cap_value.hex(),
                            after if after or after is None else after.hex(),
                        )
                    )
                    hit = made.get(key)
                except TypeError:  # a record among the values: build this entry alone
                    vkey = key = hit = None
                if hit is None:
                    # lists copied: an entry's own, never the catalog cache's
                    values = {name: (v if (v := col[p]).__class__ is not list else list(v)) for name, col in zip(keys, columns, strict=True)}
                    found = None if vkey is None else texts.get(vkey)
                    if found is None:
                        found = (
                            None if spec.explain is None else spec.explain.render(values, max_length),
                            None if spec.exclude is None else spec.exclude.render(values, max_length),
                            None if spec.advice is None else spec.advice.render(values, max_length),
                        )
                        if vkey is not None:
                            _remember(texts, vkey, found)
                    explanation, exclusion, advice_text = found
                    effect = self._effect(k, spec, factor)
                    entry = AuditEntry(
                        rule_id, ruleset, version, stage, salience, effect, explanation, values, after, file, line, source,
                        factor, cap_value, excludes, tier_at_most, priority, tags, advice, estimates,
                    )  # fmt: skip
                    hit = (
                        entry,
                        None if exclusion is None else Exclusion(rule_id, exclusion),
                        None if advice_text is None else AdviceItem(rule_id, "program", advice_text),
                    )
                    if key is not None:
                        made[key] = hit
                own[j].append(hit[0])
                if gives_exclusion and hit[1] is not None:
                    exclusions_of.setdefault(j, []).append(hit[1])
                if gives_advice and hit[2] is not None:
                    advice_of.setdefault(j, []).append(hit[2])
        # each program's rules, in audit order (for its tags)
        rules_of = kk.tolist()
        program_ends = np.cumsum(np.bincount(jj, minlength=m)).tolist()
        catalog = self._catalog()
        programs = catalog.programs
        # the per-program columns for these programs, a column at a time
        excluded_at = self.excluded[idx].tolist()
        chance_at = self.chance[idx].tolist()
        tier_at = self.tier[idx].tolist()
        priority_at = self.priority[idx].tolist()
        chosen_at = self.choice.chosen_mask[idx].tolist()
        member = [(g, mask[idx].tolist()) for g, mask in self.groups.items()]
        left_off = self.choice.left_off
        out: list[ProgramResult] = []
        a = 0
        for j, i in enumerate(idx.tolist()):
            b = program_ends[j]
            exclusions = tuple(exclusions_of.get(j, ()))
            code = tier_at[j]
            out.append(
                ProgramResult(
                    programs[i],
                    None if excluded_at[j] else chance_at[j],
                    None if code < 0 else TIERS[code],
                    exclusions[0] if exclusions else None,
                    self.tags_of(i, rules_of[a:b]),
                    priority_at[j],
                    (*prefix, *own[j]),
                    exclusions,
                    tuple(advice_of.get(j, ())),
                    chosen_at[j],
                    left_off(i),
                    tuple(g for g, hits in member if hits[j]),
                )
            )
            a = b
        return out

    def _step_tables(self) -> tuple[FloatArray, dict[int, FloatArray], FloatArray, dict[int, FloatArray]]:
        """Every program rule's log-odds step and ceiling: the same for every program (a vector
        over rules: 0.0 and 1.0 for rules without one) or per program (by rule)."""
        hit = self.__dict__.get("_steps")
        if hit is None:
            n_rules = self.fired.shape[0]
            lo_const = np.zeros(n_rules, dtype=np.float64)
            cap_const = np.ones(n_rules, dtype=np.float64)
            lo_per: dict[int, FloatArray] = {}
            cap_per: dict[int, FloatArray] = {}
            for k, lo in self.rule_log_odds.items():
                if isinstance(lo, float):
                    lo_const[k] = lo
                else:
                    lo_per[k] = lo
            for k, c in self.rule_caps.items():
                if isinstance(c, float):
                    cap_const[k] = c
                else:
                    cap_per[k] = c
            hit = self.__dict__["_steps"] = (lo_const, lo_per, cap_const, cap_per)
        return hit

    def _moving_rules(self) -> npt.NDArray[np.intp]:
        """The program-stage rules whose entries report the chance after them, in audit order."""
        hit = self.__dict__.get("_moving")
        if hit is None:
            rules = self._plan().program.rules
            hit = np.asarray(
                [k for k in range(len(rules)) if k in self.rule_log_odds or k in self.rule_caps or rules[k].rule.then.tier_at_most is not None],
                dtype=np.intp,
            )
            self.__dict__["_moving"] = hit
        return hit

    # -- exclusions alone ----------------------------------------------------------------
    def exclusions_of(self, indices: Sequence[int]) -> list[tuple[Exclusion, ...]]:
        """Each program's exclusions, exactly as its result lists them (every exclusion rule that
        fired for it, in audit order), without building its audit: what the JSON form's table of
        excluded programs holds."""
        if not len(indices):
            return []
        at = np.asarray(indices)
        # the exclusion rules that fired for any of them (an outcome from another process has the
        # specs of those alone)
        rows = [cr.index for cr in self._plan().program.rules if cr.rule.then.exclude is not None and self.fired[cr.index, at].any()]
        if not rows:
            return [() for _ in indices]
        catalog = self._catalog()
        specs = [self._spec(k) for k in rows]
        for spec in specs:
            for _key, col in spec.reads:
                if col is not None and col.kind == "raw":
                    _raw_column(catalog, col.field)
        # only the values the reason's placeholders read: the others (an estimate the condition
        # compared) can cost an interpreter run per program, and do not change the text
        reads = []
        for spec in specs:
            assert spec.exclude is not None
            used = _template_keys(spec.exclude)
            reads.append([(key, col) for key, col in spec.reads if key in used])
        hits = self.fired[np.asarray(rows)][:, at]
        found: list[list[Exclusion]] = [[] for _ in indices]
        max_length = self.limits.max_message_length
        # rule by rule (audit order, so each program's list keeps it): many programs read the
        # same values (a specialty, a state) and share one Exclusion
        for spec, used_reads, row in zip(specs, reads, hits, strict=True):
            template = spec.exclude
            assert template is not None
            made: dict[Any, Exclusion] = {}
            keys = [key for key, _col in used_reads]
            for p in np.flatnonzero(row).tolist():
                i = indices[p]
                vals = [spec.constants[key] if col is None else col.at(i) for key, col in used_reads]
                # 1, 1.0 and True are equal keys but read "1" and "yes": the type is part of the key
                key: Any = tuple((v.__class__, tuple(v) if isinstance(v, list) else v) for v in vals)
                try:
                    ex = made.get(key)
                except TypeError:  # a record among the values: render it
                    ex = None
                    key = None
                if ex is None:
                    ex = Exclusion(spec.rule.id, template.render(dict(zip(keys, vals, strict=True)), max_length))
                    if key is not None:
                        made[key] = ex
                found[p].append(ex)
        return [tuple(x) for x in found]

    # -- firings as arrays ---------------------------------------------------------------
    def firings(self) -> Firings:
        f = self._firings
        if f is not None:
            return f
        plan = self._plan()
        fired = self.fired
        rule, prog = np.nonzero(fired)
        rule = rule.astype(np.int32)
        prog = prog.astype(np.int32)
        n_rules = fired.shape[0]
        counts = np.count_nonzero(fired, axis=1)
        starts = np.concatenate(([0], np.cumsum(counts)))
        odds = np.ones(len(rule), dtype=np.float64)
        caps = np.ones(len(rule), dtype=np.float64)
        priority = np.zeros(len(rule), dtype=np.float64)
        excludes = np.zeros(len(rule), dtype=np.bool_)
        rules = plan.program.rules
        for k in range(n_rules):
            a, b = int(starts[k]), int(starts[k + 1])
            if a == b:
                continue
            eff = rules[k].rule.then
            o = self.rule_odds.get(k)
            if o is not None:
                odds[a:b] = o if isinstance(o, float) else o[prog[a:b]]
            c = self.rule_caps.get(k)
            if c is not None:
                caps[a:b] = c if isinstance(c, float) else c[prog[a:b]]
            if eff.priority is not None:
                priority[a:b] = float(eff.priority)
            if eff.exclude is not None:
                excludes[a:b] = True
        f = self._firings = Firings(
            rule=rule,
            program=prog,
            odds=odds,
            chance_cap=caps,
            priority=priority,
            excludes=excludes,
            rule_ids=tuple(cr.id for cr in rules),
            program_ids=self.ids(),
        )
        return f

    # -- exclusions ------------------------------------------------------------------------
    def exclusion_groups(self) -> list[tuple[str, int, str, list[int]]]:
        """Excluded programs by deciding rule (the first in audit order that excluded each):
        ``(rule id, count, the reason given to the first of them, their catalog indices in result
        order)``, most programs first, then by rule id."""
        hit = getattr(self, "_exclusion_groups", None)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        plan = self._plan()
        rows = [cr.index for cr in plan.program.rules if cr.rule.then.exclude is not None]
        excluded = np.flatnonzero(self.excluded)
        out: list[tuple[str, int, str, list[int]]] = []
        if rows and len(excluded):
            hits = self.fired[rows][:, excluded]
            deciding = np.asarray(rows)[np.argmax(hits, axis=0)]
            # excluded programs come last in result order, by id
            in_order = self.order[len(self.order) - len(excluded) :]
            decided = dict(zip(excluded.tolist(), deciding.tolist(), strict=True))
            members: dict[int, list[int]] = {}
            for i in in_order.tolist():
                members.setdefault(decided[i], []).append(i)
            for indices in members.values():
                result = self.result(indices[0])
                assert result.excluded is not None
                out.append((result.excluded.rule_id, len(indices), result.excluded.reason, indices))
            out.sort(key=lambda t: (-t[1], t[0]))
        self._exclusion_groups = out
        return out

    # -- why not -------------------------------------------------------------------------
    def why_not(self, program_id: str) -> list[WhyNot]:
        plan, catalog, prof_out, profile = self._plan(), self._catalog(), self.prof_out, self.profile
        if prof_out is None or profile is None:
            raise ValueError("why-not needs the live evaluation; this result was evaluated in another process")
        i = catalog_index(catalog).get(program_id)
        if i is None:
            raise KeyError(program_id)
        fired_here = set(np.flatnonzero(self.fired[:, i]).tolist())
        base = prof_out.scope
        scope = Scope(applicant=profile, program=catalog.programs[i], derived=base.derived, tags=frozenset(self.tags_of(i)), as_of_year=self.year)
        return [why_not_entry(cr, scope, plan.estimates, plan.scalar) for cr in plan.program.rules if cr.index not in fired_here]

    # -- another process -------------------------------------------------------------------
    #: what a pickled outcome carries: everything but the rule set, the catalog, the profile and
    #: the live evaluation context (``attach`` brings the receiver's own back)
    _PORTABLE = (
        "year",
        "limits",
        "fired",
        "excluded",
        "chance",
        "priority",
        "tier",
        "rule_odds",
        "rule_log_odds",
        "rule_caps",
        "order",
        "choice",
        "groups",
        "profile_tags",
        "base_log_odds",
        "base_cap",
        "chance_model",
        "_sets",
    )

    def __getstate__(self) -> dict[str, Any]:
        """Everything per-program results need, computed now, and nothing tied to this process.

        The profile stage's entries and, for every rule that fired, the values its entries read
        (constants and columns) are materialised; a catalog field a rule reads travels as its
        name and is read again from the receiver's copy of the catalog.
        """
        if self.plan is not None:
            self.profile_prefix()
            # the values no column types, computed for the programs where a rule reading them
            # fired (the only entries that read them), together
            wanted: dict[int, tuple[_LazyRows, list[int]]] = {}
            for k in np.flatnonzero(self.fired.any(axis=1)).tolist():
                for _key, col in self._spec(k).reads:
                    if col is not None and isinstance(col.values, _LazyRows):
                        wanted.setdefault(id(col.values), (col.values, []))[1].append(k)
            for rows, readers in wanted.values():
                rows.take(np.flatnonzero(self.fired[readers].any(axis=0)).tolist())
        state = {name: getattr(self, name) for name in self._PORTABLE}
        # bool matrices travel as bits
        state["fired"] = (np.packbits(self.fired, axis=1), self.fired.shape)
        state["prefix"] = self._prefix
        state["specs"] = {k: (spec.constants, spec.reads) for k, spec in self._specs.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        bits, shape = state.pop("fired")
        self.fired = np.unpackbits(bits, axis=1, count=shape[1]).astype(np.bool_).reshape(shape)
        self._prefix = state.pop("prefix")
        self._profile_entries = {}
        self._pending = state.pop("specs")
        self.__dict__.update(state)
        self.plan = self.catalog = self.profile = self.prof_out = None
        self.context = None
        self.list_scope = None
        self._specs = {}
        self._columns = {}
        self._renders = {}
        self._tag_cache = {}
        self._firings = None

    def attach(self, plan: Plan, catalog: Catalog) -> Outcome:
        """Re-attach an outcome that came from another process to the plan of the same rule set
        and the same catalog."""
        self.plan = plan
        self.catalog = catalog
        pending = self.__dict__.pop("_pending", {})
        for k, (constants, reads) in pending.items():
            for _key, col in reads:
                if col is not None and col.kind == "raw" and col.values is None:
                    col.values = _RawField(catalog, col.field)
            self._specs[k] = _RuleSpec.of(plan, k, constants, reads)
        return self
