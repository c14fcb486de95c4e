"""Lints for rule sets that load: warnings about rules that are legal but almost certainly wrong.

Loading already refuses what cannot run (duplicate ids, unknown fields and functions, type
errors, tags read but set by no rule, negative cycles). These checks find what runs but cannot
mean what its author meant; each is a [`Diagnostic`][smartpick_rules.Diagnostic] with
severity ``warning`` and a stable code:

``never_true``
    a condition that no applicant or program can satisfy: a number compared outside the
    range its field can take (``applicant.step2_ck.score > 300``: USMLE scores stop at 300),
    a string field against values it never has, ``false``, or clauses that contradict each
    other (``x < 200`` and ``x > 220``; ``has("t")`` and ``not has("t")``).
``shadowed_rule``
    a program-stage rule whose condition implies the condition of an exclusion that comes
    before it (higher salience, or equal salience and a smaller id): every program it fires
    for is already excluded, so its effect never matters. The check is sound, not complete:
    it proves implication clause by clause (the same clause, or a narrower range or set of
    values of the same field), so it warns only when the rule really is shadowed.
``unused_tag``
    a tag set by some rule and read by none (with ``has()`` or ``"t" in item.tags``), or
    read in ``item.tags`` but set by none.
``tag_cycle``
    tags that derive from each other (``a`` is set from ``b`` and ``b`` from ``a``).
``template_unread``
    an ``explain`` template naming a value the rule's condition does not read, so the
    explanation shows a value that played no part in the decision.
``vocabulary``
    a word compared with a field whose values are kept in canonical form
    (``applicant.languages``, ``program.tags``: lower case, see domain/vocabulary.py) that is
    not in that form, so it never matches (``'Tagalog'``), or that is not in the field's
    vocabulary (``'tagalg'``), with a "did you mean".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..domain.models import calendar_year, nonnegative, share, usmle_score
from ..domain.vocabulary import VOCABULARIES, Vocabulary
from ..errors import Diagnostic, Location, did_you_mean
from ..language.expr import (
    Arith,
    BoolOp,
    Call,
    Compare,
    Expr,
    ListLiteral,
    Literal,
    Neg,
    Not,
    Path,
    conjuncts,
    iter_nodes,
    to_source,
)
from ..language.facts import FactType, ListFacts, record_fields, root_types
from ..language.functions import BUILTINS, is_fold, tag_read
from ..language.ir import Rule, RuleSet
from ..records import frozen
from .check import RuleFacts, check_rules, tag_dependency_cycles

__all__ = ["LINT_CODES", "field_range", "lint_rules"]

LINT_CODES = ("never_true", "shadowed_rule", "unused_tag", "tag_cycle", "template_unread", "vocabulary")

INF = math.inf


# --- ranges ----------------------------------------------------------------------------------


@frozen
class Interval:
    """A closed-or-open interval of numbers; ``lo_open`` excludes ``lo``."""

    lo: float = -INF
    hi: float = INF
    lo_open: bool = False
    hi_open: bool = False

    @property
    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open))

    def meet(self, other: Interval) -> Interval:
        if other.lo > self.lo or (other.lo == self.lo and other.lo_open):
            lo, lo_open = other.lo, other.lo_open
        else:
            lo, lo_open = self.lo, self.lo_open
        if other.hi < self.hi or (other.hi == self.hi and other.hi_open):
            hi, hi_open = other.hi, other.hi_open
        else:
            hi, hi_open = self.hi, self.hi_open
        return Interval(lo, hi, lo_open, hi_open)

    def within(self, other: Interval) -> bool:
        """Every number in ``self`` is in ``other``."""
        if self.empty:
            return True
        lo_ok = self.lo > other.lo or (self.lo == other.lo and (self.lo_open or not other.lo_open))
        hi_ok = self.hi < other.hi or (self.hi == other.hi and (self.hi_open or not other.hi_open))
        return lo_ok and hi_ok

    def describe(self) -> str:
        if self.lo == self.hi:
            return f"always {_num(self.lo)}"
        if self.lo == -INF:
            return f"at most {_num(self.hi)}"
        if self.hi == INF:
            return f"at least {_num(self.lo)}"
        return f"between {_num(self.lo)} and {_num(self.hi)}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


ANYNUM = Interval()
NONNEG = Interval(0.0)
_VALIDATOR_RANGES: dict[Any, Interval] = {
    usmle_score: Interval(1.0, 300.0),
    calendar_year: Interval(1940.0, 2100.0),
    share: Interval(0.0, 1.0),
    nonnegative: NONNEG,
}
_COMPUTED_RANGES: dict[tuple[str, str], Interval] = {
    ("Exam", "failed_attempts"): NONNEG,
    ("Research", "total"): NONNEG,
}


def _walk(path: Path) -> tuple[type | None, str | None, FactType | None]:
    """The record class and field name at the end of ``path``, and the field's type."""
    if path.root not in ("applicant", "program", "list") or not path.parts:
        return None, None, None
    t: FactType | None = root_types()[path.root]
    owner: type | None = None
    for part in path.parts:
        if t is None or t.kind != "record" or t.record is None:
            return None, None, None
        owner = t.record
        t = record_fields(owner).get(part)
    return owner, path.parts[-1], t


def field_range(path: Path) -> Interval:
    """The numbers a path can hold, from the models' validators (scores 1-300, years, shares, counts)."""
    owner, name, t = _walk(path)
    if owner is None or name is None or t is None or t.kind != "number":
        return ANYNUM
    if owner is ListFacts:
        return NONNEG
    computed = _COMPUTED_RANGES.get((owner.__name__, name))
    if computed is not None:
        return computed
    if attrs.has(owner):
        fields = attrs.fields_dict(owner)
        a = fields.get(name)
        if a is not None and a.validator is not None:
            return _VALIDATOR_RANGES.get(a.validator, ANYNUM)
    return ANYNUM


def _mul(a: Interval, b: Interval) -> Interval:
    if a.empty or b.empty:
        return ANYNUM
    products = []
    for x in (a.lo, a.hi):
        for y in (b.lo, b.hi):
            if (math.isinf(x) and y == 0) or (math.isinf(y) and x == 0):
                products.append(0.0)
            else:
                products.append(x * y)
    return Interval(min(products), max(products))


def expr_range(e: Expr) -> Interval:
    """A sound over-approximation of the numbers ``e`` can evaluate to."""
    if isinstance(e, Literal):
        if isinstance(e.value, int | float) and not isinstance(e.value, bool):
            return Interval(float(e.value), float(e.value))
        return ANYNUM
    if isinstance(e, Path):
        return field_range(e)
    if isinstance(e, Neg):
        r = expr_range(e.operand)
        return Interval(-r.hi, -r.lo)
    if isinstance(e, Arith):
        a, b = expr_range(e.left), expr_range(e.right)
        if e.op == "+":
            return Interval(a.lo + b.lo, a.hi + b.hi)
        if e.op == "-":
            return Interval(a.lo - b.hi, a.hi - b.lo)
        if e.op == "*":
            return _mul(a, b)
        return ANYNUM
    if isinstance(e, Call):
        spec = BUILTINS.get(e.func)
        if spec is not None and spec.value_range is not None:
            lo, hi = spec.value_range(e, _RANGES)
            return Interval(lo, hi)
    return ANYNUM


class _Ranges:
    """The ranges above, as the builtin functions' range rules read them (``functions.RangeReader``)."""

    def range(self, e: Expr) -> tuple[float, float]:
        r = expr_range(e)
        return r.lo, r.hi

    def item_range(self, collection: Expr, value: Expr) -> tuple[float, float]:
        r = _item_range(collection, value)
        return r.lo, r.hi

    def evaluation_year(self) -> tuple[float, float]:
        # the evaluation year is a calendar year (Profile and evaluate() check it)
        r = _VALIDATOR_RANGES[calendar_year]
        return r.lo, r.hi


_RANGES = _Ranges()


def _item_range(collection: Expr, value: Expr) -> Interval:
    """The numbers ``item.x`` can hold for an item of ``collection``, from the item's model."""
    if not (isinstance(collection, Path) and isinstance(value, Path) and value.root == "item" and len(value.parts) == 1):
        return ANYNUM
    _owner, _name, t = _walk(collection)
    if t is None or t.kind != "list" or t.elem is None or t.elem.record is None:
        return ANYNUM
    probe = record_fields(t.elem.record).get(value.parts[0])
    if probe is None or probe.kind != "number":
        return ANYNUM
    a = attrs.fields_dict(t.elem.record).get(value.parts[0]) if attrs.has(t.elem.record) else None
    return ANYNUM if a is None else _VALIDATOR_RANGES.get(a.validator, ANYNUM)


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def _compare_impossible(op: str, a: Interval, b: Interval) -> bool:
    if a.empty or b.empty:
        return False
    if op == "<":
        return a.lo >= b.hi
    if op == "<=":
        return a.lo > b.hi
    if op == ">":
        return a.hi <= b.lo
    if op == ">=":
        return a.hi < b.lo
    if op == "==":
        return a.hi < b.lo or b.hi < a.lo
    if op == "!=":
        return a.lo == a.hi == b.lo == b.hi
    return False


def _interval_of(op: str, value: float) -> Interval:
    return {
        "<": Interval(-INF, value, hi_open=True),
        "<=": Interval(-INF, value),
        ">": Interval(value, INF, lo_open=True),
        ">=": Interval(value, INF),
        "==": Interval(value, value),
    }.get(op, ANYNUM)


# --- atoms: one field constrained by one clause ---------------------------------------------


@frozen
class _Atom:
    """``path`` constrained to a range (numbers), a set of values (strings), or a truth value."""

    path: str
    interval: Interval | None = None
    allowed: frozenset[Any] | None = None
    forbidden: frozenset[Any] = frozenset()


def _number(e: Expr) -> float | None:
    if isinstance(e, Literal) and isinstance(e.value, int | float) and not isinstance(e.value, bool):
        return float(e.value)
    return None


def _scalar_values(e: Expr) -> frozenset[Any] | None:
    if isinstance(e, Literal) and isinstance(e.value, str | bool):
        return frozenset([e.value])
    if isinstance(e, ListLiteral) and all(isinstance(i, Literal) and isinstance(i.value, str) for i in e.items):
        return frozenset(i.value for i in e.items if isinstance(i, Literal))
    return None


def _is_field(e: Expr) -> bool:
    return isinstance(e, Path) and e.root in ("applicant", "program", "list", "derived") and bool(e.parts)


def atom_of(clause: Expr) -> _Atom | None:
    """The constraint ``clause`` puts on one field, if it is that simple."""
    negated = False
    while isinstance(clause, Not):
        negated = not negated
        clause = clause.operand
    if isinstance(clause, Path) and _is_field(clause):
        _o, _n, t = _walk(clause)
        if clause.root == "derived" or (t is not None and t.kind == "bool"):
            return _Atom(clause.dotted, allowed=frozenset([not negated]))
        return None
    tag = tag_read(clause)
    if tag is not None:
        return _Atom(f"has:{tag}", allowed=frozenset([not negated]))
    if not isinstance(clause, Compare):
        return None
    op, left, right = clause.op, clause.left, clause.right
    if op in ("in", "not in"):
        if _is_field(left) and isinstance(left, Path):
            values = _scalar_values(right)
            if values is None:
                return None
            positive = (op == "in") != negated
            return _Atom(left.dotted, allowed=values) if positive else _Atom(left.dotted, forbidden=values)
        return None
    if _is_field(right) and not _is_field(left):
        left, right, op = right, left, _FLIP[op]
    if not (_is_field(left) and isinstance(left, Path)):
        return None
    if negated:
        op = _NEGATE[op]
    n = _number(right)
    if n is not None and op != "!=":
        return _Atom(left.dotted, interval=_interval_of(op, n))
    values = _scalar_values(right)
    if values is not None and op in ("==", "!="):
        return _Atom(left.dotted, allowed=values) if op == "==" else _Atom(left.dotted, forbidden=values)
    return None


def _implies(a: Expr, b: Expr) -> bool:
    """Sound: True only if whenever ``a`` is (definitely) true, so is ``b``."""
    return _implies_atoms(a, atom_of(a) if a != b else None, b, atom_of(b) if a != b else None)


def _implies_atoms(a: Expr, x: _Atom | None, b: Expr, y: _Atom | None) -> bool:
    """`_implies` with the clauses' atoms already computed."""
    if a == b:
        return True
    if x is None or y is None or x.path != y.path:
        return False
    if x.interval is not None and y.interval is not None:
        return x.interval.within(y.interval)
    if x.allowed is not None:
        if y.allowed is not None:
            return x.allowed <= y.allowed
        return not (x.allowed & y.forbidden)
    if y.forbidden and x.forbidden:
        return y.forbidden <= x.forbidden
    return False


# --- the lints -------------------------------------------------------------------------------


def _warn(code: str, message: str, loc: Location, rule: Rule | None, help: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, loc, rule.id if rule else None, help, severity="warning")


def _clause_loc(clause: Expr, rule: Rule) -> Location:
    return clause.loc if clause.loc.line else rule.loc


def _never_true_clause(clause: Expr) -> str | None:
    """Why ``clause`` can never be true, or None."""
    if isinstance(clause, Literal) and clause.value is False:
        return "`false` is never true"
    if isinstance(clause, BoolOp):
        reasons = [_never_true_clause(o) for o in clause.operands]
        if clause.op == "and":
            return next((r for r in reasons if r), None) or _contradiction(conjuncts(clause))
        if all(reasons):
            return "; ".join(r for r in reasons if r)
        return None
    negated = False
    inner: Expr = clause
    while isinstance(inner, Not):
        negated = not negated
        inner = inner.operand
    if isinstance(inner, Literal) and isinstance(inner.value, bool):
        return f"`{to_source(clause)}` is never true" if inner.value == negated else None
    if isinstance(inner, Compare) and inner.op in _NEGATE and inner.op not in ("==", "!="):
        op = _NEGATE[inner.op] if negated else inner.op
        a, b = expr_range(inner.left), expr_range(inner.right)
        if _compare_impossible(op, a, b):
            side, r = (inner.left, a) if a != ANYNUM else (inner.right, b)
            return f"`{to_source(side)}` is {r.describe()}, so `{to_source(clause)}` is never true"
    if isinstance(inner, Compare) and inner.op == "==" and not negated:
        a, b = expr_range(inner.left), expr_range(inner.right)
        if _compare_impossible("==", a, b):
            side, r = (inner.left, a) if a != ANYNUM else (inner.right, b)
            return f"`{to_source(side)}` is {r.describe()}, so `{to_source(clause)}` is never true"
    atom = atom_of(clause)
    if atom is not None:
        enum = _enum_of(atom.path)
        if enum is not None and atom.forbidden and enum <= atom.forbidden:
            return f"`{to_source(clause)}` rules out every value the field can have"
    return None


def _enum_of(dotted: str) -> frozenset[str] | None:
    root, *parts = dotted.split(".")
    if root not in ("applicant", "program", "list") or not parts:
        return None
    _o, _n, t = _walk(Path(root, tuple(parts)))
    if t is not None and t.enum:
        return frozenset(t.enum)
    return None


def _contradiction(clauses: Sequence[Expr]) -> str | None:
    """Why these clauses cannot all hold at once, or None."""
    seen: dict[str, list[tuple[_Atom, Expr]]] = defaultdict(list)
    for c in clauses:
        for other in clauses:
            if other is not c and isinstance(other, Not) and other.operand == c:
                return f"`{to_source(c)}` and `{to_source(other)}` cannot both hold"
        atom = atom_of(c)
        if atom is not None:
            seen[atom.path].append((atom, c))
    for items in seen.values():
        if len(items) < 2:
            continue
        interval = ANYNUM
        allowed: frozenset[Any] | None = None
        forbidden: frozenset[Any] = frozenset()
        texts: list[str] = []
        for atom, c in items:
            texts.append(f"`{to_source(c)}`")
            if atom.interval is not None:
                interval = interval.meet(atom.interval)
            if atom.allowed is not None:
                allowed = atom.allowed if allowed is None else allowed & atom.allowed
            forbidden = forbidden | atom.forbidden
            if interval.empty or (allowed is not None and not (allowed - forbidden)):
                return " and ".join(texts) + (" cannot all hold" if len(texts) > 2 else " cannot both hold")
    return None


def _never_true(rule: Rule) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    clauses = [c for w in rule.when for c in conjuncts(w)]
    flagged = False
    for c in clauses:
        why = _never_true_clause(c)
        if why:
            out.append(_warn("never_true", f"never fires: {why}", _clause_loc(c, rule), rule))
            flagged = True
    if not flagged:
        why = _contradiction(clauses)
        if why:
            out.append(_warn("never_true", f"never fires: {why}", _clause_loc(clauses[0], rule), rule))
    return out


#: dotted path -> the vocabulary its values are kept in
_ROOTS = {"Profile": "applicant", "Program": "program"}
_VOCAB_PATHS: dict[str, Vocabulary] = {f"{_ROOTS[owner]}.{name}": vocab for (owner, name), vocab in VOCABULARIES.items()}


def _words_compared(e: Expr, item: str | None) -> list[tuple[Literal, str]]:
    """(string literal, vocabulary path) for every literal compared with a vocabulary field in ``e``.

    ``item`` is the path of the list ``item`` stands for inside count/any/all/total.
    """
    out: list[tuple[Literal, str]] = []

    def vocab_path(x: Expr) -> tuple[str, bool] | None:
        """(path, True if x is one element of the field) when x reads a vocabulary field."""
        if isinstance(x, Path):
            if x.dotted in _VOCAB_PATHS:
                return x.dotted, False
            if x.root == "item" and not x.parts and item in _VOCAB_PATHS:
                assert item is not None
                return item, True
        return None

    def words(x: Expr) -> list[Literal]:
        if isinstance(x, Literal) and isinstance(x.value, str):
            return [x]
        if isinstance(x, ListLiteral):
            return [i for i in x.items if isinstance(i, Literal) and isinstance(i.value, str)]
        return []

    if isinstance(e, Compare):
        left, right = vocab_path(e.left), vocab_path(e.right)
        if e.op in ("in", "not in"):
            if right is not None and not right[1] and isinstance(e.left, Literal):
                out += [(w, right[0]) for w in words(e.left)]
            if left is not None and left[1]:
                out += [(w, left[0]) for w in words(e.right)]
        elif e.op in ("==", "!="):
            if left is not None and left[1] and isinstance(e.right, Literal):
                out += [(w, left[0]) for w in words(e.right)]
            if right is not None and right[1] and isinstance(e.left, Literal):
                out += [(w, right[0]) for w in words(e.left)]
    if is_fold(e) and e.args and isinstance(e.args[0], Path):
        for a in e.args[1:]:
            out += _words_compared(a, e.args[0].dotted)
        return out
    for child in _children(e):
        out += _words_compared(child, item)
    return out


def _children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Not | Neg):
        return (e.operand,)
    if isinstance(e, BoolOp):
        return e.operands
    if isinstance(e, Compare | Arith):
        return (e.left, e.right)
    if isinstance(e, Call):
        return e.args
    if isinstance(e, ListLiteral):
        return e.items
    return ()


def _vocabulary(rule: Rule) -> list[Diagnostic]:
    """Words compared with a vocabulary field that are not in canonical form, or not in the vocabulary."""
    out: list[Diagnostic] = []
    for w in rule.when:
        found = _words_compared(w, None)
        listed = {(str(lit.value), path) for lit, path in found}
        seen: set[tuple[str, str]] = set()
        for lit, path in found:
            word = str(lit.value)
            if (word, path) in seen:
                continue
            seen.add((word, path))
            vocab = _VOCAB_PATHS[path]
            canonical = vocab.normalise(word)
            loc = lit.loc if lit.loc.line else _clause_loc(w, rule)
            if canonical != word:
                if (canonical, path) in listed:
                    continue  # dead but harmless: the canonical word is compared as well
                message = f"`{path}` is kept in canonical form ({vocab.label}), so {word!r} never matches"
                out.append(Diagnostic("vocabulary", message, loc, rule.id, f"write {canonical!r}", severity="warning"))
            elif word not in vocab:
                hint = did_you_mean(word, vocab.words)
                if vocab.closed or hint:
                    out.append(
                        Diagnostic(
                            "vocabulary",
                            f"{word!r} is not in the vocabulary of `{path}` ({vocab.label})",
                            loc,
                            rule.id,
                            None if hint else "the words are listed in docs/profile.md and docs/catalog.md",
                            suggestion=hint,
                            severity="warning",
                        )
                    )
    return out


#: rule pairs the shadowing lint compares at most; a rule set beyond it is not fully checked
#: (2,000 exclusion rules over the same fields are two million pairs, minutes of work)
SHADOW_PAIR_BUDGET = 200_000


def _shadowed(rules: Sequence[Rule]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    program = sorted((r for r in rules if r.stage == "program"), key=lambda r: r.order_key)
    exclusions = [r for r in program if r.then.exclude is not None]
    if not exclusions:
        return out
    # every clause's atom once; a clause can be implied only by an equal clause or an atom on
    # the same field, so an exclusion is a candidate for a rule only if every one of its
    # clause keys is among the rule's
    facts: dict[str, list[tuple[Expr, _Atom | None]]] = {}
    keys: dict[str, frozenset[Any]] = {}
    for r in program:
        clauses = [(c, atom_of(c)) for w in r.when for c in conjuncts(w)]
        facts[r.id] = clauses
        keys[r.id] = frozenset(("atom", a.path) if a is not None else ("expr", c) for c, a in clauses)
    position = {e.id: k for k, e in enumerate(exclusions)}
    index: dict[Any, list[Rule]] = defaultdict(list)
    for e in exclusions:
        for key in keys[e.id]:
            index[key].append(e)
    budget = SHADOW_PAIR_BUDGET
    for r in program:
        if r.then.advice is not None:
            continue  # advice is shown even for excluded programs
        hits: dict[str, int] = defaultdict(int)
        for key in keys[r.id]:
            bucket = index.get(key, ())
            budget -= len(bucket)
            for e in bucket:
                hits[e.id] += 1
        if budget < 0:
            break
        mine = facts[r.id]
        for eid in sorted((e for e, n in hits.items() if n == len(keys[e])), key=position.__getitem__):
            e = exclusions[position[eid]]
            if e.id == r.id or e.order_key >= r.order_key:
                continue
            budget -= 1
            if all(any(_implies_atoms(m, ma, t, ta) for m, ma in mine) for t, ta in facts[e.id]):
                out.append(
                    _warn(
                        "shadowed_rule",
                        f"can never matter: every program it fires for is already excluded by `{e.id}` "
                        f"(salience {e.salience}), whose condition it implies",
                        r.loc,
                        r,
                        help=f"narrow this rule's condition, or give it a higher salience than `{e.id}` if it should decide",
                    )
                )
                break
    return out


def _item_tag_reads(rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    """Tags read as ``"t" in item.tags`` (list stage), by tag."""
    out: dict[str, list[Rule]] = defaultdict(list)
    for r in rules:
        for w in r.when:
            for node in iter_nodes(w):
                if (
                    isinstance(node, Compare)
                    and node.op in ("in", "not in")
                    and isinstance(node.right, Path)
                    and node.right.root == "item"
                    and node.right.parts == ("tags",)
                ):
                    values = _scalar_values(node.left)
                    for v in values or ():
                        out[str(v)].append(r)
    return out


def _tags(rules: Sequence[Rule], facts: dict[str, RuleFacts]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    read: set[str] = set()
    for f in facts.values():
        read |= f.tags_read | f.tags_read_negatively
    item_reads = _item_tag_reads(rules)
    read |= set(item_reads)
    setters: dict[str, Rule] = {}
    for r in sorted(rules, key=lambda r: (r.loc.file, r.loc.line, r.id)):
        for t in r.then.tags:
            setters.setdefault(t, r)
    for tag in sorted(set(setters) - read):
        r = setters[tag]
        out.append(
            _warn(
                "unused_tag",
                f'sets the tag "{tag}", which no rule reads',
                r.loc,
                r,
                help=f'read it with has("{tag}"), or drop it if it is only for the results',
            )
        )
    for tag in sorted(set(item_reads) - set(setters)):
        r = item_reads[tag][0]
        out.append(_warn("unused_tag", f'reads the tag "{tag}" in item.tags, which no rule sets', r.loc, r))
    cycles = tag_dependency_cycles(rules, facts)
    reported: set[frozenset[str]] = set()
    for cycle in cycles:
        key = frozenset(cycle)
        if key in reported:
            continue
        reported.add(key)
        first, second = cycle[0], cycle[1] if len(cycle) > 1 else cycle[0]
        culprit = next(
            (
                r
                for r in sorted(rules, key=lambda r: r.id)
                if second in r.then.tags and first in (facts[r.id].tags_read | facts[r.id].tags_read_negatively)
            ),
            None,
        )
        out.append(
            _warn(
                "tag_cycle",
                "tags derive from each other in a cycle: " + " -> ".join(cycle),
                culprit.loc if culprit else Location(),
                culprit,
                help="a tag should follow from facts, not from itself; break the cycle with a fact test",
            )
        )
    return out


def _template_unread(rule: Rule, facts: RuleFacts) -> list[Diagnostic]:
    if rule.explain is None:
        return []
    # what the effect computes its value from was read too (an odds factor from a score, say)
    read = set(facts.paths) | {n.dotted for e in rule.then.expressions() for n in iter_nodes(e) if isinstance(n, Path)}
    out = []
    for p in rule.explain.fields:
        if not isinstance(p, Path):
            continue
        name = p.dotted
        if name in read or any(r.startswith(name + ".") for r in read):
            continue
        out.append(
            _warn(
                "template_unread",
                f"the explanation names `{{{name}}}`, which the condition does not read",
                p.loc if p.loc.line else rule.loc,
                rule,
                help="an explanation should show the values that decided; test the value in `when` or drop it from `explain`",
            )
        )
    return out


def lint_rules(ruleset: RuleSet | Sequence[Rule], *, files: Iterable[str] | None = None) -> list[Diagnostic]:
    """Every lint warning for a loaded rule set, sorted by file and line.

    ``files`` keeps only warnings about rules from those files (when your rule set is
    checked together with the shipped ones, warnings about the shipped ones are noise).
    """
    rules = tuple(ruleset.rules if isinstance(ruleset, RuleSet) else ruleset)
    if isinstance(ruleset, RuleSet):
        _diags, facts = check_rules(rules, estimates=ruleset.estimates, groups=ruleset.groups, levers=ruleset.levers)
    else:
        _diags, facts = check_rules(rules)
    out: list[Diagnostic] = []
    for r in rules:
        out.extend(_never_true(r))
        if r.id in facts:
            out.extend(_template_unread(r, facts[r.id]))
        out.extend(_vocabulary(r))
    out.extend(_shadowed(rules))
    out.extend(_tags(rules, facts))
    if files is not None:
        keep = set(files)
        out = [d for d in out if d.location.file in keep]
    return sorted(out, key=lambda d: (d.sort_key(), d.rule_id or ""))
