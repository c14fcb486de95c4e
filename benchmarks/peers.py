"""Peers side by side: the same rule workload in other rule engines, checked equal, timed in one run.

    .venv/bin/python benchmarks/peers.py            # 6,000 programs x 80 rules, slopes (a few minutes)
    .venv/bin/python benchmarks/peers.py --quick    # a smoke run (about half a minute)
    .venv/bin/python benchmarks/peers.py --json out.json
    .venv/bin/pip install -e '.[bench]'              # the peers: durable-rules, zen-engine, rule-engine

The workload
    A synthetic catalog and rule set from ``benchmarks/synthetic.py`` (seed 1: ``synthetic_catalog``,
    ``synthetic_rules_toml``, ``synthetic_profile``). The rule set's *program stage* is what every
    peer runs: for each program, which program rules fire (forward chaining over the tags the
    rules set, ``not has(...)`` read only after every rule setting that tag has run) and the sum
    of the log2 of the odds factors of the rules that fired (``synthetic_rules_toml(...,
    peers=True)`` writes odds that are powers of two, so these sums are exact in any order). The profile stage (a handful of rules on the one
    applicant) is evaluated once by the plain-Python translation and its tags handed to every peer;
    the list stage (three rules on the one list) is ours alone. ``evaluate()`` does all three
    stages plus ranking, tiers and the recommended list, so it does more than any peer here.

Each peer gets the rules from the TOML text itself, parsed here with :mod:`ast` (not through
our loader), and lowered to one *definitely-true* condition per rule: the rule language is
three-valued (a comparison reading an unset value is unknown and a rule fires only when its
condition is true), so ``T(a < b) = known(a) and known(b) and a < b``, ``T(not x) = F(x)``,
``F(a and b) = F(a) or F(b)`` and so on. That condition is then written in each peer's language:

* **plain Python**: one generated function per rule, a loop over programs and rules;
* **numpy**: the same conditions as array expressions over the catalog's columns, rules in
  dependency order, then every firing materialised as a Python ``(rule id, program id, log2
  odds)`` tuple (the *numpy evaluator*, the yardstick of the issue's targets). Two cheaper
  variants are timed in the same process for reference: masks only, and masks plus the firings
  as three arrays (the floor);
* **rule-engine** (zeroSteiner's ``rule_engine``): one ``Rule`` per rule, ``matches()`` per program
  on a dict of the program's fields, the applicant's fields and the program's tag set;
* **zen-engine** (GoRules): one JDM decision graph, one decision table per dependency layer
  (``executionMode: loop`` over the programs, ``passThrough``, one row per rule, each cell a full
  ZEN expression, the fired rule ids collected in a ``[]`` column the next layer reads);
* **durable_rules** driven directly through ``durable.lang`` (``ruleset``, ``when_all``, ``m``): one
  rule set per dependency layer, one fact per program (absent properties for unset values, so
  durable_rules' own matching is three-valued), ``assert_facts`` then ``retract_facts`` per layer.
  durable_rules compares a fact's properties with constants and with each other; a value it
  cannot compute (arithmetic on the left of a comparison, ``abs``/``min``/``max``/``len``,
  ``any()`` over the applicant's list) is computed in Python when the fact is built, inside the
  timed region, as a user of durable_rules must (the table says how many rules need one);
* **ours**: ``smartpick_rules.evaluate(profile, catalog, rules, engine="native"|"durable")``.

"Agree" means: the same set of (rule id, program id) firings in the program stage and, per
program, exactly the same sum of log2 odds factors (for ours: of the program-stage entries of
the program's audit trail), and our profile tags equal to the translation's. The check runs before anything
is printed; a disagreement stops the benchmark with the first differing firings. Every peer
expresses every program rule of the synthetic rule sets, so the compared subset is the whole
program stage; a rule kind a translator cannot express is refused by name (``Unsupported``).

Method
    Each engine runs in its own fresh process (import and JIT state, caches and memory of one do
    not bias another): the child builds the inputs, prepares (translates and compiles the rules,
    turns the catalog into its input form: the one-off work our ``Catalog`` caches as columns),
    runs once to warm up, then times its rounds with ``time.process_time`` (CPU time of the
    whole process, threads and C extensions included) and reports the median. The fast engines
    (milliseconds a round) run ``--fast-rounds`` rounds (20) in each of ``--passes`` alternating
    processes (3), every round counted: a fresh process runs its first two or three rounds up to
    1.5x slower than the rest (the interpreter specialises code after several calls; caches
    warm), and with 20 rounds the median is the steady state a long-lived caller sees, as in
    pyperf's calibrated loops. The slow engines (seconds a round) run ``--rounds`` (5). The
    machine is shared and noisy, so compare ratios measured in the same run, not absolute times
    across runs.

Scaling slopes: the log-log slope of native ``evaluate()`` CPU time against the number of
programs (1k..300k) and against the number of rules (20..320 at 6,000 programs), least squares.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from functools import reduce
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

AS_OF = 2026

#: the peers, in table order; ``module`` is what must import for the peer to run
PEERS: dict[str, dict[str, str]] = {
    "native": {"label": "smartpick_rules native (evaluate)", "module": "smartpick_rules", "package": "smartpick-rules"},
    "durable": {"label": "smartpick_rules durable (evaluate)", "module": "durable.engine", "package": "durable-rules"},
    "numpy": {"label": "numpy evaluator (firings as tuples)", "module": "numpy", "package": "numpy"},
    "python": {"label": "plain Python", "module": "json", "package": "(none)"},
    "durable_rules": {"label": "durable_rules, driven directly", "module": "durable.lang", "package": "durable-rules"},
    "zen": {"label": "zen-engine (decision tables)", "module": "zen", "package": "zen-engine"},
    "rule_engine": {"label": "rule-engine", "module": "rule_engine", "package": "rule-engine"},
}


#: engines quick enough to run in several alternating processes (``--passes``)
FAST_PEERS = frozenset({"native", "numpy", "python", "durable"})


class Unsupported(Exception):
    """A rule uses something a peer's translation cannot express."""


# =============================================================================================
# The workload: rules parsed from the TOML text, lowered to definitely-true / definitely-false
# =============================================================================================

TRUE: tuple[Any, ...] = ("true",)
FALSE: tuple[Any, ...] = ("false",)
NEG_OP = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "notin", "notin": "in"}
FLIP_OP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_AST_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "notin"}
_AST_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}


def f_and(parts: Iterable[tuple[Any, ...]]) -> tuple[Any, ...]:
    out: list[tuple[Any, ...]] = []
    for p in parts:
        if p == FALSE:
            return FALSE
        if p == TRUE:
            continue
        out.extend(p[1] if p[0] == "and" else [p])
    return TRUE if not out else out[0] if len(out) == 1 else ("and", tuple(out))


def f_or(parts: Iterable[tuple[Any, ...]]) -> tuple[Any, ...]:
    out: list[tuple[Any, ...]] = []
    for p in parts:
        if p == TRUE:
            return TRUE
        if p == FALSE:
            continue
        out.extend(p[1] if p[0] == "or" else [p])
    return FALSE if not out else out[0] if len(out) == 1 else ("or", tuple(out))


def negate(f: tuple[Any, ...]) -> tuple[Any, ...]:
    """The negation of a two-valued formula (the known-ness conditions)."""
    kind = f[0]
    if kind == "true":
        return FALSE
    if kind == "false":
        return TRUE
    if kind == "and":
        return f_or(negate(x) for x in f[1])
    if kind == "or":
        return f_and(negate(x) for x in f[1])
    if kind == "nn":
        return ("isnull", f[1])
    if kind == "isnull":
        return ("nn", f[1])
    if kind == "cmp":
        return ("cmp", NEG_OP[f[1]], f[2], f[3])
    raise Unsupported(f"cannot negate {kind}")


class Lowering:
    """Lowers one rule's ``when`` clauses (Python-like text) into T/F formulas over values.

    Values: ``("f", scope, name)`` a field (scope ``p`` program, ``a`` applicant, dotted name,
    ``i`` an item of an applicant list); ``("c", v)`` a constant; ``("lst", values)``;
    ``("ar", op, a, b)``; ``("neg", a)``; ``("fn", name, args)``; ``("count", coll, T)``.
    Formulas: ``and``/``or``/``true``/``false``, ``("cmp", op, a, b)``, ``("nn", v)`` known,
    ``("isnull", v)``, ``("tag", t)``/``("notag", t)``, ``("is", v, bool)``,
    ``("any", coll, T)``/``("all", coll, T)``.
    """

    def __init__(self, nullable_program_fields: frozenset[str]) -> None:
        self.nullable = nullable_program_fields

    # -- values ------------------------------------------------------------------------
    def path(self, node: ast.AST, in_item: bool) -> tuple[Any, ...]:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            raise Unsupported(f"path {ast.unparse(node)}")
        parts.reverse()
        root = node.id
        if root == "program" and len(parts) == 1:
            return ("f", "p", parts[0])
        if root == "applicant" and parts:
            return ("f", "a", ".".join(parts))
        if root == "item" and in_item and len(parts) == 1:
            return ("f", "i", parts[0])
        raise Unsupported(f"path {root}.{'.'.join(parts)} (only program, applicant and item paths are in the peer workload)")

    def value(self, node: ast.AST, in_item: bool = False) -> tuple[Any, ...]:
        if isinstance(node, ast.Constant):
            return ("c", node.value)
        if isinstance(node, ast.Attribute):
            return self.path(node, in_item)
        if isinstance(node, ast.List):
            return ("lst", tuple(self.value(e, in_item)[1] for e in node.elts))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.value(node.operand, in_item)
            return ("c", -inner[1]) if inner[0] == "c" else ("neg", inner)
        if isinstance(node, ast.BinOp) and type(node.op) in _AST_ARITH:
            return ("ar", _AST_ARITH[type(node.op)], self.value(node.left, in_item), self.value(node.right, in_item))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            f = node.func.id
            if f in ("abs", "min", "max", "len", "years_since"):
                return ("fn", f, tuple(self.value(a, in_item) for a in node.args))
            if f == "count":
                coll = self.value(node.args[0], in_item)
                if len(node.args) == 1:
                    return ("fn", "len", (coll,))
                return ("count", coll, self.tf(node.args[1], True)[0])
        raise Unsupported(f"value {ast.unparse(node)}")

    def known(self, v: tuple[Any, ...]) -> tuple[Any, ...]:
        kind = v[0]
        if kind == "f":
            if v[1] == "p" and v[2] not in self.nullable:
                return TRUE
            return ("nn", v)
        if kind == "c":
            return TRUE if v[1] is not None else FALSE
        if kind in ("lst", "count"):
            return TRUE
        if kind == "ar":
            parts = [self.known(v[2]), self.known(v[3])]
            if v[1] in ("/", "%"):
                parts.append(("cmp", "!=", v[3], ("c", 0)))
            return f_and(parts)
        if kind == "neg":
            return self.known(v[1])
        if kind == "fn":
            return f_and(self.known(a) for a in v[2])
        raise Unsupported(kind)

    # -- conditions ----------------------------------------------------------------------
    def tf(self, node: ast.AST, in_item: bool = False) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """(definitely true, definitely false) of a condition."""
        if isinstance(node, ast.BoolOp):
            pairs = [self.tf(v, in_item) for v in node.values]
            if isinstance(node.op, ast.And):
                return f_and(t for t, _ in pairs), f_or(f for _, f in pairs)
            return f_or(t for t, _ in pairs), f_and(f for _, f in pairs)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            t, f = self.tf(node.operand, in_item)
            return f, t
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise Unsupported("chained comparison")
            op = _AST_OPS[type(node.ops[0])]
            a = self.value(node.left, in_item)
            b = self.value(node.comparators[0], in_item)
            k = f_and([self.known(a), self.known(b)])
            return f_and([k, ("cmp", op, a, b)]), f_and([k, ("cmp", NEG_OP[op], a, b)])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            f = node.func.id
            if f == "has":
                tag = node.args[0]
                assert isinstance(tag, ast.Constant)
                return ("tag", tag.value), ("notag", tag.value)
            if f == "known":
                k = self.known(self.value(node.args[0], in_item))
                return k, negate(k)
            if f in ("any", "all"):
                if in_item:
                    raise Unsupported("a collection function inside another")
                coll = self.value(node.args[0])
                t, fl = self.tf(node.args[1], True)
                if f == "any":
                    return ("any", coll, t), ("all", coll, fl)
                return ("all", coll, t), ("any", coll, fl)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return (TRUE, FALSE) if node.value else (FALSE, TRUE)
        v = self.value(node, in_item)  # a boolean field read as a condition
        k = self.known(v)
        return f_and([k, ("is", v, True)]), f_and([k, ("is", v, False)])


class PRule:
    """One rule of the workload: its T condition, the tags it sets, the log2 of its odds factor.

    What the peers add up per program is ``score``: log2 of a literal ``odds`` (a power of two in
    the peer workload, so every sum is exact); a rule without odds adds nothing.
    """

    def __init__(self, rid: str, stage: str, when: list[str], then: dict[str, Any], lowering: Lowering) -> None:
        self.id = rid
        self.stage = stage
        self.when = when
        tag = then.get("tag", ())
        self.tags: tuple[str, ...] = (tag,) if isinstance(tag, str) else tuple(tag)
        # profile-stage odds move every program alike: only the program stage's are compared
        odds = then.get("odds") if stage == "program" else None
        if odds is not None and (isinstance(odds, str) or not math.log2(odds).is_integer()):
            raise Unsupported(f"rule {rid}: odds {odds!r} (the peer workload's odds are literal powers of two)")
        self.score: float = math.log2(odds) if odds is not None else 0.0
        self.has_score = odds is not None
        self.T = f_and(lowering.tf(ast.parse(w, mode="eval").body)[0] for w in when)
        self.reads: set[str] = set()
        _tags_read(self.T, self.reads)
        #: tags the condition requires outright (``has(t)`` at the top level): a driver may skip
        #: the rule for a program lacking one, as a Rete network's join would
        conj = self.T[1] if self.T[0] == "and" else (self.T,)
        self.gate = frozenset(x[1] for x in conj if x[0] == "tag")


def _tags_read(f: Any, out: set[str]) -> None:
    if isinstance(f, tuple):
        if f and f[0] in ("tag", "notag"):
            out.add(f[1])
            return
        for x in f:
            _tags_read(x, out)


def _walk(f: Any) -> Iterable[tuple[Any, ...]]:
    """Every value and formula node under ``f`` (constants and list literals are leaves)."""
    if not isinstance(f, tuple) or not f:
        return
    if isinstance(f[0], str):
        yield f
        if f[0] in ("c", "lst", "tag", "notag"):
            return
        children: Iterable[Any] = f[1:]
    else:
        children = f
    for x in children:
        if isinstance(x, tuple):
            yield from _walk(x)


def order_rules(rules: Sequence[PRule]) -> tuple[list[int], list[int]]:
    """Dependency order (a rule after every rule setting a tag it reads) and each rule's layer."""
    setters: dict[str, list[int]] = {}
    for i, r in enumerate(rules):
        for t in r.tags:
            setters.setdefault(t, []).append(i)
    layer: dict[int, int] = {}
    visiting: set[int] = set()

    def depth(i: int) -> int:
        if i in layer:
            return layer[i]
        if i in visiting:
            raise Unsupported(f"rule {rules[i].id} is in a tag cycle; the peers need an acyclic tag graph")
        visiting.add(i)
        d = 0
        for t in rules[i].reads:
            for j in setters.get(t, ()):
                d = max(d, depth(j) + 1)
        visiting.discard(i)
        layer[i] = d
        return d

    layers = [depth(i) for i in range(len(rules))]
    order = sorted(range(len(rules)), key=lambda i: (layers[i], i))
    return order, layers


def _plain(v: Any) -> Any:
    """Model values as plain data: enums to their values, records to dicts, tuples to lists."""
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if hasattr(type(v), "__attrs_attrs__"):
        return {a.name: _plain(getattr(v, a.name)) for a in type(v).__attrs_attrs__}
    return v


def _read(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return _plain(obj)


class Workload:
    """Everything every peer starts from: catalog, rule text, applicant, parsed program rules."""

    def __init__(self, programs: int, n_rules: int, seed: int) -> None:
        import attrs
        from synthetic import synthetic_catalog, synthetic_profile, synthetic_rules_toml

        import smartpick_rules as sr

        self.n = programs
        self.n_rules = n_rules
        self.seed = seed
        self.rules_toml = synthetic_rules_toml(n_rules, seed, peers=True)
        self.catalog = synthetic_catalog(programs, seed)
        self.profile_data = synthetic_profile(seed)
        self.profile = sr.profile_from_data(self.profile_data)
        nullable = frozenset(
            f.name for f in attrs.fields(sr.Program) if "None" in str(f.type) or "Optional" in str(f.type)
        )
        self.program_fields = [f.name for f in attrs.fields(sr.Program)]
        self.lowering = lowering = Lowering(nullable)
        data = tomllib.loads(self.rules_toml)
        self.base_score = 0.0  # log2 of the odds: the base chance does not enter the comparison
        # the list stage reads the ranked list, which only our evaluate() builds: not in the peer workload
        parsed = [
            PRule(r["id"], r.get("stage", "program"), list(r["when"]), r.get("then", {}), lowering)
            for r in data["rule"]
            if r.get("stage", "program") != "list"
        ]
        self.profile_rules = [r for r in parsed if r.stage == "profile"]
        self.rules = [r for r in parsed if r.stage == "program"]
        self.rule_ids = [r.id for r in self.rules]
        self.scores = [r.score for r in self.rules]
        self.pids = [p.id for p in self.catalog.programs]
        # the applicant's values the conditions read, by dotted path (profile and program stages)
        paths: set[str] = set()
        for r in parsed:
            if r.stage == "list":
                continue
            for node in _walk(r.T):
                if node[0] == "f" and node[1] == "a":
                    paths.add(node[2])
        self.applicant = {p: _read(self.profile, p) for p in sorted(paths)}
        self.profile_tags, self.profile_score = self._profile_stage()
        self.order, self.layers = order_rules(self.rules)
        self.n_layers = max(self.layers) + 1 if self.layers else 0

    def _profile_stage(self) -> tuple[frozenset[str], float]:
        """The profile stage on the one applicant, by the plain-Python translation."""
        order, _layers = order_rules(self.profile_rules)
        tags: set[str] = set()
        score = self.base_score
        for i in order:
            r = self.profile_rules[i]
            fn = eval(compile(f"lambda p, a, t: {py_form(r.T)}", r.id, "eval"), {"AS_OF": AS_OF})
            if fn({}, self.applicant, tags):
                tags.update(r.tags)
                score += r.score
        return frozenset(tags), score

    def program_dicts(self) -> list[dict[str, Any]]:
        return [{f: _plain(getattr(p, f)) for f in self.program_fields} for p in self.catalog.programs]

    def ruleset(self) -> Any:
        import smartpick_rules as sr

        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / f"synthetic_{self.n_rules}_{self.seed}.toml"
            path.write_text(self.rules_toml, encoding="utf-8")
            return sr.load_rules(path)


# =============================================================================================
# Plain Python
# =============================================================================================


def py_val(v: tuple[Any, ...]) -> str:
    kind = v[0]
    if kind == "f":
        var = {"p": "p", "a": "a", "i": "it"}[v[1]]
        return f"{var}[{v[2]!r}]"
    if kind == "c":
        return repr(v[1])
    if kind == "lst":
        return repr(tuple(v[1]))
    if kind == "ar":
        return f"({py_val(v[2])} {v[1]} {py_val(v[3])})"
    if kind == "neg":
        return f"(-{py_val(v[1])})"
    if kind == "fn":
        args = [py_val(a) for a in v[2]]
        if v[1] == "years_since":
            return f"(AS_OF - {args[0]})"
        return f"{v[1]}({', '.join(args)})"
    if kind == "count":
        return f"sum(1 for it in {py_val(v[1])} if {py_form(v[2])})"
    raise Unsupported(kind)


def py_form(f: tuple[Any, ...]) -> str:
    kind = f[0]
    if kind == "true":
        return "True"
    if kind == "false":
        return "False"
    if kind in ("and", "or"):
        return "(" + f" {kind} ".join(py_form(x) for x in f[1]) + ")"
    if kind == "nn":
        return f"({py_val(f[1])} is not None)"
    if kind == "isnull":
        return f"({py_val(f[1])} is None)"
    if kind == "cmp":
        op = "not in" if f[1] == "notin" else f[1]
        return f"({py_val(f[2])} {op} {py_val(f[3])})"
    if kind == "tag":
        return f"({f[1]!r} in t)"
    if kind == "notag":
        return f"({f[1]!r} not in t)"
    if kind == "is":
        return f"({py_val(f[1])} is {f[2]!r})"
    if kind in ("any", "all"):
        return f"{kind}({py_form(f[2])} for it in {py_val(f[1])})"
    raise Unsupported(kind)


class PythonPeer:
    """One generated Python function per rule; for each program, the rules in dependency order."""

    def __init__(self, w: Workload) -> None:
        self.w = w
        self.programs = w.program_dicts()
        src = ["def run(programs, a, profile_tags):", "    fired = []", "    deltas = []"]
        src.append("    for pi, p in enumerate(programs):")
        src.append("        t = set(profile_tags)")
        src.append("        d = 0.0")
        for r_index in w.order:
            r = w.rules[r_index]
            src.append(f"        if {py_form(r.T)}:")
            src.append(f"            fired.append(({r_index}, pi))")
            if r.tags:
                src.append(f"            t.update({r.tags!r})")
            if r.has_score:
                src.append(f"            d += {r.score!r}")
        src.append("        deltas.append(d + 0.0)")
        src.append("    return fired, deltas")
        ns: dict[str, Any] = {"AS_OF": AS_OF}
        exec(compile("\n".join(src), "<plain-python-peer>", "exec"), ns)
        self._run = ns["run"]

    def run(self) -> tuple[list[tuple[int, int]], list[float]]:
        fired, deltas = self._run(self.programs, self.w.applicant, self.w.profile_tags)
        return fired, deltas


# =============================================================================================
# numpy
# =============================================================================================


class NumpyPeer:
    """The conditions as array expressions over the catalog's columns, rules in dependency order."""

    def __init__(self, w: Workload) -> None:
        import numpy as np

        self.np = np
        self.w = w
        n = w.n
        self.n = n
        dicts = w.program_dicts()
        self.cols: dict[str, Any] = {}
        self.known_cols: dict[str, Any] = {}
        self.vocab: dict[str, dict[str, int]] = {}
        for f in w.program_fields:
            vals = [d[f] for d in dicts]
            if f == "tags":
                continue
            sample = next((x for x in vals if x is not None), None)
            if isinstance(sample, bool):
                self.cols[f] = np.array(vals, dtype=np.bool_)
            elif isinstance(sample, int | float):
                arr = np.array([math.nan if x is None else float(x) for x in vals], dtype=np.float64)
                self.cols[f] = arr
                self.known_cols[f] = ~np.isnan(arr)
            else:
                # strings as category codes, as anyone writing this by hand in numpy would
                vocab: dict[str, int] = {}
                codes = np.array([vocab.setdefault(x, len(vocab)) if x is not None else -1 for x in vals], dtype=np.int32)
                self.cols[f] = codes
                self.vocab[f] = vocab
                self.known_cols[f] = codes >= 0
        tags = [d["tags"] for d in dicts]
        self.tag_cols = {t: np.array([t in ts for ts in tags], dtype=np.bool_) for t in {t for ts in tags for t in ts}}
        self.tags_len = np.array([len(ts) for ts in tags], dtype=np.float64)
        self.conds = [self._form(r.T) for r in w.rules]
        self.rule_ids = w.rule_ids
        self.pids = w.pids
        self.scores = np.array(w.scores, dtype=np.float64)

    # each compiled piece is a function (env) -> value; env = (tags, item); applicant from self.w
    def _val(self, v: tuple[Any, ...]) -> Callable[[Any], Any]:
        np = self.np
        kind = v[0]
        if kind == "f":
            scope, name = v[1], v[2]
            if scope == "p":
                if name == "tags":
                    return lambda env: None  # only read through `in` and len(), handled below
                col = self.cols[name]
                return lambda env: col
            if scope == "a":
                val = self.w.applicant[name]
                return lambda env: val
            return lambda env: env[1][name]
        if kind == "c":
            c = v[1]
            return lambda env: c
        if kind == "lst":
            items = list(v[1])
            return lambda env: items
        if kind == "ar":
            a, b = self._val(v[2]), self._val(v[3])
            op = v[1]
            if op == "+":
                return lambda env: np.add(a(env), b(env), dtype=np.float64)
            if op == "-":
                return lambda env: np.subtract(a(env), b(env), dtype=np.float64)
            if op == "*":
                return lambda env: np.multiply(a(env), b(env), dtype=np.float64)
            if op == "/":
                return lambda env: np.divide(a(env), b(env), dtype=np.float64)
            raise Unsupported(f"numpy: operator {op}")
        if kind == "neg":
            a = self._val(v[1])
            return lambda env: np.negative(a(env))
        if kind == "fn":
            f = v[1]
            if f == "len" and v[2][0] == ("f", "p", "tags"):
                lens = self.tags_len
                return lambda env: lens
            args = [self._val(x) for x in v[2]]
            if f == "abs":
                return lambda env: np.abs(args[0](env))
            if f == "min":
                return lambda env: np.minimum(args[0](env), args[1](env))
            if f == "max":
                return lambda env: np.maximum(args[0](env), args[1](env))
            if f == "years_since":
                return lambda env: AS_OF - args[0](env)
            if f == "len":
                return lambda env: len(args[0](env))
        raise Unsupported(f"numpy: value {v}")

    def _form(self, f: tuple[Any, ...]) -> Callable[[Any], Any]:
        np = self.np
        kind = f[0]
        if kind == "true":
            return lambda env: True
        if kind == "false":
            return lambda env: False
        if kind == "and":
            parts = [self._form(x) for x in f[1]]

            def conj(env: Any) -> Any:
                acc: Any = True
                for p in parts:  # a Python False (an unknown applicant value) short-circuits
                    r = p(env)
                    if r is False:
                        return False
                    if r is True:
                        continue
                    acc = r if acc is True else acc & r
                return acc

            return conj
        if kind == "or":
            parts = [self._form(x) for x in f[1]]

            def disj(env: Any) -> Any:
                acc: Any = False
                for p in parts:
                    r = p(env)
                    if r is True:
                        return True
                    if r is False:
                        continue
                    acc = r if acc is False else acc | r
                return acc

            return disj
        if kind in ("nn", "isnull"):
            v = f[1]
            want = kind == "nn"
            if v[0] == "f" and v[1] == "p":
                known = self.known_cols[v[2]]
                notknown = ~known
                return (lambda env: known) if want else (lambda env: notknown)
            g = self._val(v)
            return lambda env: (g(env) is not None) == want
        if kind == "cmp":
            op, a, b = f[1], f[2], f[3]
            if op in ("in", "notin") and b == ("f", "p", "tags"):
                if a[0] != "c":
                    raise Unsupported("numpy: `in program.tags` of a computed value")
                col = self.tag_cols.get(a[1], np.zeros(self.n, dtype=np.bool_))
                ncol = ~col
                return (lambda env: col) if op == "in" else (lambda env: ncol)
            strcol = next((x for x in (a, b) if x[0] == "f" and x[1] == "p" and x[2] in self.vocab), None)
            if strcol is not None:
                return self._string_cmp(op, strcol, b if strcol is a else a)
            ga, gb = self._val(a), self._val(b)
            if op in ("in", "notin"):
                want = op == "in"

                def member(env: Any) -> Any:
                    x, coll = ga(env), gb(env)
                    if isinstance(x, np.ndarray):
                        r = np.isin(x, list(coll))
                        return r if want else ~r
                    return (x in coll) == want

                return member
            fn = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}[op]

            def comp(env: Any) -> Any:
                x, y = ga(env), gb(env)
                if not isinstance(x, np.ndarray) and not isinstance(y, np.ndarray):
                    return bool(fn(x, y))
                return fn(x, y)

            return comp
        if kind in ("tag", "notag"):
            t = f[1]
            want = kind == "tag"

            def tag(env: Any) -> Any:
                m = env[0].get(t, False)
                if m is True or m is False:
                    return m == want
                return m if want else ~m

            return tag
        if kind == "is":
            g = self._val(f[1])
            want = f[2]

            def is_(env: Any) -> Any:
                x = g(env)
                if isinstance(x, np.ndarray):
                    return x if want else ~x
                return x is want

            return is_
        if kind in ("any", "all"):
            coll = self._val(f[1])
            pred = self._form(f[2])
            is_any = kind == "any"

            def quant(env: Any) -> Any:
                acc: Any = not is_any
                for item in coll(env):
                    r = pred((env[0], item))
                    if is_any:
                        acc = r if acc is False else (acc | r if r is not False else acc)
                    else:
                        acc = r if acc is True else (acc & r if r is not True else acc)
                return acc

            return quant
        raise Unsupported(f"numpy: {kind}")

    def _string_cmp(self, op: str, col: tuple[Any, ...], other: tuple[Any, ...]) -> Callable[[Any], Any]:
        """A comparison of a string column (category codes) with a constant, a list or a scalar."""
        np = self.np
        codes = self.cols[col[2]]
        vocab = self.vocab[col[2]]
        if other[0] == "lst" and op in ("in", "notin"):
            lut = np.zeros(len(vocab) + 1, dtype=np.bool_)  # the last slot is for unset (-1)
            for v in other[1]:
                if v in vocab:
                    lut[vocab[v]] = True
            if op == "notin":
                lut[:-1] = ~lut[:-1]
            return lambda env: lut[codes]
        if op not in ("==", "!="):
            raise Unsupported(f"numpy: `{op}` on the string field program.{col[2]}")
        g = self._val(other)
        want = op == "=="

        def eq(env: Any) -> Any:
            r = codes == vocab.get(g(env), -2)
            return r if want else ~r

        return eq

    def masks(self) -> list[Any]:
        np = self.np
        n = self.n
        tags: dict[str, Any] = dict.fromkeys(self.w.profile_tags, True)
        masks: list[Any] = [None] * len(self.w.rules)
        for i in self.w.order:
            r = self.w.rules[i]
            m = self.conds[i]((tags, None))
            if m is True or m is False:
                m = np.full(n, m, dtype=np.bool_)
            masks[i] = m
            for t in r.tags:
                old = tags.get(t, False)
                tags[t] = m if old is False else (True if old is True else old | m)
        return masks

    def deltas(self, masks: list[Any]) -> Any:
        np = self.np
        d = np.zeros(self.n, dtype=np.float64)
        for i, m in enumerate(masks):
            if self.w.rules[i].has_score:
                d[m] += self.scores[i]
        return d + 0.0

    def run_masks(self) -> Any:
        return self.masks()

    def run_arrays(self) -> tuple[Any, Any, Any, Any]:
        """Masks, then every firing as arrays (rule index, program index, score delta): the floor."""
        np = self.np
        masks = self.masks()
        idx = [np.flatnonzero(m) for m in masks]
        rule = np.repeat(np.arange(len(masks)), [len(x) for x in idx])
        prog = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
        return rule, prog, self.scores[rule], self.deltas(masks)

    def run(self) -> tuple[list[tuple[str, str, float]], Any]:
        """The numpy evaluator: masks, then every firing as a ``(rule id, program id, delta)`` tuple."""
        np = self.np
        masks = self.masks()
        pids = self.pids
        firings: list[tuple[str, str, float]] = []
        for i, m in enumerate(masks):
            rid = self.rule_ids[i]
            sc = self.scores[i].item()
            firings.extend([(rid, pids[j], sc) for j in np.flatnonzero(m).tolist()])
        return firings, self.deltas(masks)


# =============================================================================================
# rule-engine
# =============================================================================================


def _re_lit(x: Any) -> str:
    if x is None:
        return "null"
    if x is True:
        return "true"
    if x is False:
        return "false"
    if isinstance(x, str):
        return json.dumps(x)
    return repr(x)


def _akey(dotted: str) -> str:
    return "a_" + dotted.replace(".", "__")


def re_val(v: tuple[Any, ...]) -> str:
    kind = v[0]
    if kind == "f":
        if v[1] == "p":
            return "p_" + v[2]
        if v[1] == "a":
            return _akey(v[2])
        return f"itm[{json.dumps(v[2])}]"
    if kind == "c":
        return _re_lit(v[1])
    if kind == "lst":
        return "[" + ", ".join(_re_lit(x) for x in v[1]) + "]"
    if kind == "ar":
        return f"({re_val(v[2])} {v[1]} {re_val(v[3])})"
    if kind == "neg":
        return f"(-{re_val(v[1])})"
    if kind == "fn":
        args = [re_val(a) for a in v[2]]
        if v[1] == "abs":
            return f"$abs({args[0]})"
        if v[1] in ("min", "max"):
            return f"${v[1]}([{', '.join(args)}])"
        if v[1] == "len":
            return f"{args[0]}.length"
        if v[1] == "years_since":
            return f"(as_of - {args[0]})"
    if kind == "count":
        return f"[itm for itm in {re_val(v[1])} if {re_form(v[2])}].length"
    raise Unsupported(f"rule-engine: {kind}")


def re_form(f: tuple[Any, ...]) -> str:
    kind = f[0]
    if kind == "true":
        return "true"
    if kind == "false":
        return "false"
    if kind in ("and", "or"):
        return "(" + f" {kind} ".join(re_form(x) for x in f[1]) + ")"
    if kind == "nn":
        return f"({re_val(f[1])} != null)"
    if kind == "isnull":
        return f"({re_val(f[1])} == null)"
    if kind == "cmp":
        if f[1] == "in":
            return f"({re_val(f[2])} in {re_val(f[3])})"
        if f[1] == "notin":
            return f"(not ({re_val(f[2])} in {re_val(f[3])}))"
        return f"({re_val(f[2])} {f[1]} {re_val(f[3])})"
    if kind == "tag":
        return f"({json.dumps(f[1])} in tags)"
    if kind == "notag":
        return f"(not ({json.dumps(f[1])} in tags))"
    if kind == "is":
        return f"({re_val(f[1])} == {_re_lit(f[2])})"
    if kind in ("any", "all"):
        return f"${kind}([{re_form(f[2])} for itm in {re_val(f[1])}])"
    raise Unsupported(f"rule-engine: {kind}")


class RuleEnginePeer:
    """One ``rule_engine.Rule`` per rule; ``matches()`` per program in dependency order."""

    def __init__(self, w: Workload) -> None:
        import rule_engine

        self.w = w
        ctx = rule_engine.Context(default_value=None)
        self.texts = [re_form(r.T) for r in w.rules]
        compiled = [rule_engine.Rule(t, context=ctx) for t in self.texts]
        self.plan = [
            (i, compiled[i].matches, w.rules[i].gate, w.rules[i].tags, w.rules[i].score if w.rules[i].has_score else None)
            for i in w.order
        ]
        self.programs = [{"p_" + k: v for k, v in d.items()} for d in w.program_dicts()]

    def run(self) -> tuple[list[tuple[int, int]], list[float]]:
        applicant = {_akey(k): v for k, v in self.w.applicant.items()}
        applicant["as_of"] = AS_OF
        fired: list[tuple[int, int]] = []
        deltas: list[float] = []
        plan = self.plan
        for pi, prog in enumerate(self.programs):
            tags = set(self.w.profile_tags)
            thing = {**prog, **applicant, "tags": tags}
            d = 0.0
            for i, matches, gate, rtags, score in plan:
                if gate and not gate <= tags:
                    continue  # a tag the rule requires is missing: no need to ask rule-engine
                if matches(thing):
                    fired.append((i, pi))
                    tags.update(rtags)
                    if score is not None:
                        d += score
            deltas.append(d + 0.0)
        return fired, deltas


# =============================================================================================
# zen-engine
# =============================================================================================


def zen_val(v: tuple[Any, ...]) -> str:
    kind = v[0]
    if kind == "f":
        if v[1] == "p":
            return "p_" + v[2]
        if v[1] == "a":
            return _akey(v[2])
        return f"#.{v[2]}"
    if kind == "c":
        return _re_lit(v[1])
    if kind == "lst":
        return "[" + ", ".join(_re_lit(x) for x in v[1]) + "]"
    if kind == "ar":
        return f"({zen_val(v[2])} {v[1]} {zen_val(v[3])})"
    if kind == "neg":
        return f"(-{zen_val(v[1])})"
    if kind == "fn":
        args = [zen_val(a) for a in v[2]]
        if v[1] in ("abs", "len"):
            return f"{v[1]}({args[0]})"
        if v[1] in ("min", "max"):
            return f"{v[1]}([{', '.join(args)}])"
        if v[1] == "years_since":
            return f"(as_of - {args[0]})"
    if kind == "count":
        return f"count({zen_val(v[1])}, {zen_form(v[2], {})})"
    raise Unsupported(f"zen: {kind}")


def zen_form(f: tuple[Any, ...], tag_ref: dict[str, str]) -> str:
    kind = f[0]
    if kind == "true":
        return "true"
    if kind == "false":
        return "false"
    if kind in ("and", "or"):
        return "(" + f" {kind} ".join(zen_form(x, tag_ref) for x in f[1]) + ")"
    if kind == "nn":
        return f"({zen_val(f[1])} != null)"
    if kind == "isnull":
        return f"({zen_val(f[1])} == null)"
    if kind == "cmp":
        if f[1] == "in":
            return f"({zen_val(f[2])} in {zen_val(f[3])})"
        if f[1] == "notin":
            return f"(not ({zen_val(f[2])} in {zen_val(f[3])}))"
        return f"({zen_val(f[2])} {f[1]} {zen_val(f[3])})"
    if kind in ("tag", "notag"):
        ref = tag_ref.get(f[1], f"({json.dumps(f[1])} in ptags)")
        return ref if kind == "tag" else f"(not {ref})"
    if kind == "is":
        return f"({zen_val(f[1])} == {_re_lit(f[2])})"
    if kind == "any":
        return f"some({zen_val(f[1])}, {zen_form(f[2], tag_ref)})"
    if kind == "all":
        return f"all({zen_val(f[1])}, {zen_form(f[2], tag_ref)})"
    raise Unsupported(f"zen: {kind}")


class ZenPeer:
    """One JDM graph: a decision table per dependency layer, looping over the programs."""

    def __init__(self, w: Workload) -> None:
        import zen

        self.w = w
        # has(tag) for a tag a program rule sets: "rule k fired" in the collect column of its layer
        tag_ref: dict[str, list[str]] = {}
        for i, r in enumerate(w.rules):
            for t in r.tags:
                tag_ref.setdefault(t, []).append(f'("r{i}" in (f{w.layers[i]} ?? []))')
        refs = {t: "(" + " or ".join(rs) + ")" for t, rs in tag_ref.items()}
        nodes: list[dict[str, Any]] = [{"id": "in", "type": "inputNode", "name": "request", "position": {"x": 0, "y": 0}}]
        edges: list[dict[str, Any]] = []
        prev = "in"
        self.texts: dict[int, str] = {}
        for layer in range(w.n_layers):
            rows = []
            for i in w.order:
                if w.layers[i] != layer:
                    continue
                text = zen_form(w.rules[i].T, refs)
                self.texts[i] = text
                rows.append({"_id": f"r{i}", "cond": text, "out": json.dumps(f"r{i}")})
            node_id = f"layer{layer}"
            nodes.append(
                {
                    "id": node_id,
                    "type": "decisionTableNode",
                    "name": node_id,
                    "position": {"x": 0, "y": 0},
                    "content": {
                        "hitPolicy": "first",
                        "inputs": [{"id": "cond", "name": "condition"}],
                        "outputs": [{"id": "out", "name": "fired", "field": f"f{layer}[]"}],
                        "rules": rows,
                        "passThrough": True,
                        "inputField": "programs",
                        "outputPath": "programs",
                        "executionMode": "loop",
                    },
                }
            )
            edges.append({"id": f"e{layer}", "sourceId": prev, "targetId": node_id, "type": "edge"})
            prev = node_id
        nodes.append({"id": "out", "type": "outputNode", "name": "response", "position": {"x": 0, "y": 0}})
        edges.append({"id": "eout", "sourceId": prev, "targetId": "out", "type": "edge"})
        self.jdm = {"contentType": "application/vnd.gorules.decision", "nodes": nodes, "edges": edges}
        self.engine = zen.ZenEngine()
        self.decision = self.engine.create_decision(json.dumps(self.jdm))
        self.programs = [{"p_" + k: v for k, v in d.items()} for d in w.program_dicts()]
        self.layer_keys = [f"f{k}" for k in range(w.n_layers)]
        self.score_of = {f"r{i}": (i, r.score if r.has_score else None) for i, r in enumerate(w.rules)}

    def run(self) -> tuple[list[tuple[int, int]], list[float]]:
        applicant = {_akey(k): v for k, v in self.w.applicant.items()}
        applicant["as_of"] = AS_OF
        applicant["ptags"] = sorted(self.w.profile_tags)
        items = [{**p, **applicant} for p in self.programs]
        out = self.decision.evaluate({"programs": items})["result"]["programs"]
        fired: list[tuple[int, int]] = []
        deltas: list[float] = []
        score_of = self.score_of
        for pi, item in enumerate(out):
            d = 0.0
            for key in self.layer_keys:
                for rid in item.get(key) or ():
                    i, score = score_of[rid]
                    fired.append((i, pi))
                    if score is not None:
                        d += score
            deltas.append(d + 0.0)
        return fired, deltas


# =============================================================================================
# durable_rules, driven directly
# =============================================================================================


class DurableRulesPeer:
    """durable_rules through ``durable.lang``: a rule set per dependency layer, a fact per program."""

    def __init__(self, w: Workload) -> None:
        from durable import engine as durable_engine
        from durable import lang

        self.w = w
        self.lang = lang

        class Host(durable_engine.Host):  # type: ignore[misc]
            # the stock Host starts two timer threads that pick up pending actions every 0.2 s,
            # racing the caller's own assert_facts; every action here runs inside assert_facts
            def _run(self) -> None:
                pass

        self.host = Host()
        self.not_handled = durable_engine.MessageNotHandledException
        self.calc_fns: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = {}
        self._calc_keys: dict[Any, str] = {}
        self._used: set[str] = set()
        self.calc_rules = 0
        self.fired: set[tuple[int, int]] = set()
        self.layer_names: list[str] = []
        self.layer_calcs: list[list[tuple[str, Callable[..., Any]]]] = []
        self.layer_gates: list[list[frozenset[str]] | None] = []
        m = lang.m
        for layer in range(w.n_layers):
            name = f"peers_layer_{layer}_{os.getpid()}"
            rs = lang.ruleset(name)
            self._used = set()
            with rs:
                for i in w.order:
                    if w.layers[i] != layer:
                        continue
                    used_before = len(self._used)
                    cond = self._form(w.rules[i].T)
                    if len(self._used) > used_before or self._uses_calc(w.rules[i].T):
                        self.calc_rules += 1
                    lang.when_all((m.kind == "program") & cond if cond is not None else m.kind == "program")(self._action(i))
            lang._rulesets.pop(name, None)  # registered with our own host below, not the global one
            _name, definition = rs.define()
            self.host.register_rulesets({name: definition})
            self.layer_names.append(name)
            self.layer_calcs.append([(k, self.calc_fns[k]) for k in sorted(self._used)])
            # post a program to this layer only if some rule's required tags are all there (None: all)
            gates = [frozenset(f"t_{t}" for t in w.rules[i].gate) for i in w.order if w.layers[i] == layer]
            self.layer_gates.append(None if any(not g for g in gates) else gates)
        self.programs = [
            {"p_" + k: v for k, v in d.items() if v is not None and k != "tags"} | {f"pt_{t}": True for t in d["tags"]}
            for d in w.program_dicts()
        ]
        self.raw = w.program_dicts()

    def _uses_calc(self, f: tuple[Any, ...]) -> bool:
        return any(node in self._calc_keys for node in _walk(f))

    def _action(self, i: int) -> Callable[[Any], None]:
        fired = self.fired

        def act(c: Any) -> None:
            fired.add((i, c.m.pi))

        return act

    def _calc(self, node: tuple[Any, ...], is_form: bool) -> Any:
        key = self._calc_keys.get(node)
        if key is None:
            key = f"c_{len(self._calc_keys)}"
            self._calc_keys[node] = key
            # a value is None where it is unknown: the fact then lacks the property, as for an unset field
            text = py_form(node) if is_form else f"({py_val(node)} if {py_form(self.w.lowering.known(node))} else None)"
            self.calc_fns[key] = eval(compile(f"lambda p, a: {text}", key, "eval"), {"AS_OF": AS_OF})
        self._used.add(key)
        return getattr(self.lang.m, key)

    def _operand(self, v: tuple[Any, ...]) -> Any:
        m = self.lang.m
        if v[0] == "f" and v[1] == "p":
            return getattr(m, "p_" + v[2])
        if v[0] == "f" and v[1] == "a" and not isinstance(self.w.applicant.get(v[2]), list):
            return getattr(m, _akey(v[2]))
        if v[0] == "c":
            return v[1]
        return self._calc(v, False)

    def _form(self, f: tuple[Any, ...]) -> Any:
        m = self.lang.m
        kind = f[0]
        if kind == "true":
            return None
        if kind == "false":
            return m.kind == "never"
        if kind in ("and", "or"):
            parts = [self._form(x) for x in f[1]]
            parts = [p for p in parts if p is not None]
            if not parts:
                return None
            return reduce((lambda x, y: x & y) if kind == "and" else (lambda x, y: x | y), parts)
        if kind in ("nn", "isnull"):
            v = f[1]
            if v[0] == "f" and v[1] in ("p", "a"):
                prop = self._operand(v)
                return +prop if kind == "nn" else -prop
            return self._calc(f, True) == True  # noqa: E712 - a durable_rules pattern, not a Python test
        if kind == "cmp":
            op, a, b = f[1], f[2], f[3]
            if op in ("in", "notin") and b == ("f", "p", "tags") and a[0] == "c":
                prop = getattr(m, f"pt_{a[1]}")
                return prop == True if op == "in" else -prop  # noqa: E712
            if op in ("in", "notin") and b[0] == "lst":
                left = self._operand(a)
                if not hasattr(left, "define"):
                    return self._calc(f, True) == True  # noqa: E712
                parts = [(left == x) if op == "in" else (left != x) for x in b[1]]
                if not parts:
                    return m.kind == "never" if op == "in" else None
                return reduce((lambda x, y: x | y) if op == "in" else (lambda x, y: x & y), parts)
            if op in ("in", "notin"):
                return self._calc(f, True) == True  # noqa: E712
            left, right = self._operand(a), self._operand(b)
            if not hasattr(left, "define"):
                if not hasattr(right, "define"):
                    return self._calc(f, True) == True  # noqa: E712
                left, right, op = right, left, FLIP_OP[op]
            return {
                "==": lambda: left == right,
                "!=": lambda: left != right,
                "<": lambda: left < right,
                "<=": lambda: left <= right,
                ">": lambda: left > right,
                ">=": lambda: left >= right,
            }[op]()
        if kind == "tag":
            return getattr(m, f"t_{f[1]}") == True  # noqa: E712
        if kind == "notag":
            return -getattr(m, f"t_{f[1]}")
        if kind == "is":
            prop = self._operand(f[1])
            if not hasattr(prop, "define"):
                return self._calc(f, True) == True  # noqa: E712
            return prop == f[2]
        # any(), all() over the applicant's lists, and anything else: computed in Python
        return self._calc(f, True) == True  # noqa: E712

    def run(self) -> tuple[list[tuple[int, int]], list[float]]:
        w = self.w
        applicant = {_akey(k): v for k, v in w.applicant.items() if v is not None and not isinstance(v, list)}
        self.fired.clear()
        tags: list[dict[str, bool]] = [{f"t_{t}": True for t in w.profile_tags} for _ in range(w.n)]
        rule_tags = [w.rules[i].tags for i in range(len(w.rules))]
        for layer, name in enumerate(self.layer_names):
            calcs = self.layer_calcs[layer]
            gates = self.layer_gates[layer]
            facts = []
            for pi, (prog, raw) in enumerate(zip(self.programs, self.raw, strict=True)):
                have = tags[pi]
                if gates is not None and not any(all(g in have for g in gate) for gate in gates):
                    continue  # every rule of this layer requires a tag this program lacks
                fact: dict[str, Any] = {"id": pi, "pi": pi, "kind": "program", **prog, **applicant, **have}
                for key, fn in calcs:
                    v = fn(raw, w.applicant)
                    if v is not None:
                        fact[key] = v
                facts.append(fact)
            if not facts:
                continue  # durable_rules 2.0.28 crashes on an empty batch
            before = set(self.fired)
            try:
                self.host.assert_facts(name, facts)
            except self.not_handled:
                # raised when some fact of the batch matched no rule; the matches of the others are
                # queued, but the Host skipped running their actions: run them now
                self.host.get_ruleset(name).dispatch()
            self.host.retract_facts(name, [{"id": f["id"]} for f in facts])
            for i, pi in self.fired - before:
                for t in rule_tags[i]:
                    tags[pi][f"t_{t}"] = True
        fired = sorted(self.fired)
        d = [0.0] * w.n
        for i, pi in fired:
            if w.rules[i].has_score:
                d[pi] += w.rules[i].score
        return fired, [x + 0.0 for x in d]


# =============================================================================================
# ours
# =============================================================================================


def ours_firings(w: Workload, rec: Any) -> tuple[list[tuple[int, int]], list[float], list[str]]:
    """Program-stage firings and log2 odds sums of one of our recommendations.

    Read from ``rec.firings()`` (the firings as arrays, with each one's odds factor) where the
    recommendation has it, else from every program's audit trail: the same factors, in the same
    order (a rule without ``odds`` has factor 1 there, and adding log2(1) = 0 changes no sum).
    """
    index = {rid: i for i, rid in enumerate(w.rule_ids)}
    pindex = {pid: i for i, pid in enumerate(w.pids)}
    fired: list[tuple[int, int]] = []
    deltas = [0.0] * w.n
    if hasattr(rec, "firings"):
        f = rec.firings()
        rule_ids, program_ids = f.rule_ids, f.program_ids
        order = sorted(range(len(f)), key=lambda j: (int(f.program[j]), int(f.rule[j])))
        rules, programs, odds = f.rule.tolist(), f.program.tolist(), f.odds.tolist()
        for j in order:
            k = pindex[program_ids[programs[j]]]
            fired.append((index[rule_ids[rules[j]]], k))
            deltas[k] += math.log2(odds[j])
        return fired, [d + 0.0 for d in deltas], list(rec.profile_tags)
    for r in rec.programs:
        pi = pindex[r.program.id]
        d = 0.0
        for e in r.audit:
            if e.stage == "program":
                fired.append((index[e.rule_id], pi))
                if e.odds is not None:
                    d += math.log2(e.odds)
        deltas[pi] = d + 0.0
    return fired, deltas, list(rec.profile_tags)


# =============================================================================================
# children: one engine per fresh process
# =============================================================================================


def _cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def _median_rounds(fn: Callable[[], Any], rounds: int) -> tuple[list[float], list[float], Any]:
    cpu: list[float] = []
    wall: list[float] = []
    out: Any = None
    for _ in range(rounds):
        c, wl, out = _cpu(fn)
        cpu.append(c)
        wall.append(wl)
    return cpu, wall, out


def missing_module(peer: str) -> str | None:
    """Why a peer cannot run here (its package is not installed), or None."""
    import importlib

    mod = PEERS[peer]["module"]
    try:
        importlib.import_module(mod)
    except Exception as exc:  # ImportError, or a C extension failing to load
        return f"{PEERS[peer]['package']} is not importable ({type(exc).__name__}: {exc})"
    if peer == "durable":
        from smartpick_rules.engines.durable import durable_unavailable_reason

        return durable_unavailable_reason()
    return None


def child_peer(peer: str, programs: int, n_rules: int, seed: int, rounds: int, check: bool) -> dict[str, Any]:
    """Prepare, warm up, time ``rounds`` runs of one peer; return the timings (and firings to compare)."""
    import gc

    c0 = time.process_time()
    w = Workload(programs, n_rules, seed)
    inputs_s = time.process_time() - c0
    out: dict[str, Any] = {"peer": peer, "programs": programs, "rules": n_rules, "program_rules": len(w.rules), "inputs_s": inputs_s}
    extra: dict[str, Any] = {}
    c0 = time.process_time()
    if peer in ("native", "durable"):
        import smartpick_rules as sr

        ruleset = w.ruleset()
        limits = sr.Limits(max_programs=max(programs, sr.DEFAULT_LIMITS.max_programs), max_firings=10**8, max_work=10**9)

        def run() -> Any:
            return sr.evaluate(w.profile, w.catalog, ruleset, engine=peer, as_of=AS_OF, limits=limits)

        prepare_s = time.process_time() - c0
        first_s, _wall, rec = _cpu(run)  # compiles the rule set, builds the catalog's columns
        gc.collect()
        cpu, wall, rec = _median_rounds(run, rounds)
        fired, deltas, ptags = ours_firings(w, rec) if check else ([], [], [])
        out["profile_tags"] = sorted(ptags)
    else:
        cls = {"numpy": NumpyPeer, "python": PythonPeer, "rule_engine": RuleEnginePeer, "zen": ZenPeer, "durable_rules": DurableRulesPeer}[peer]
        engine = cls(w)
        prepare_s = time.process_time() - c0
        first_s, _wall, _ = _cpu(engine.run)
        gc.collect()
        cpu, wall, result = _median_rounds(engine.run, rounds)
        if peer == "numpy":
            firings, deltas_arr = result
            index = {rid: i for i, rid in enumerate(w.rule_ids)}
            pindex = {pid: i for i, pid in enumerate(w.pids)}
            fired = [(index[r], pindex[p]) for r, p, _d in firings]
            deltas = deltas_arr.tolist()
            # the cheaper variants, same process, same rounds
            for name, fn in (("masks", engine.run_masks), ("arrays", engine.run_arrays)):
                fn()
                c, _w, _ = _median_rounds(fn, rounds)
                extra[name] = {"cpu_s": c, "median_s": statistics.median(c)}
        else:
            fired, deltas = result
        if peer == "durable_rules":
            extra["calc_rules"] = engine.calc_rules
        out["profile_tags"] = sorted(w.profile_tags)
    out.update(
        prepare_s=prepare_s,
        first_s=first_s,
        cpu_s=cpu,
        wall_s=wall,
        median_s=statistics.median(cpu),
        firings=len(fired),
        extra=extra,
    )
    if check:
        fired_sorted = sorted(set(fired))
        if len(fired_sorted) != len(fired):
            raise SystemExit(f"{peer}: a rule fired twice for one program")
        out["fired_rule"] = [r for r, _p in fired_sorted]
        out["fired_program"] = [p for _r, p in fired_sorted]
        out["deltas"] = deltas
        out["rule_ids"] = w.rule_ids
    return out


def run_child(args: list[str], timeout: float = 3600, script: Path | None = None) -> dict[str, Any]:
    """Run this script (or ``script``) as a child in a fresh interpreter and return its JSON answer."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out_path = tmp.name
    try:
        proc = subprocess.run(
            [sys.executable, str(script or Path(__file__).resolve()), *args, "--out", out_path],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            how = f"crashed (signal {-proc.returncode})" if proc.returncode < 0 else f"failed (exit {proc.returncode})"
            raise RuntimeError(f"child {' '.join(args)} {how}:\n{proc.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(Path(out_path).read_text(encoding="utf-8"))
        return result
    finally:
        Path(out_path).unlink(missing_ok=True)


def check_agreement(results: dict[str, dict[str, Any]]) -> str:
    """Assert every peer's firings and per-program deltas equal the first's; a one-line summary."""
    names = list(results)
    ref_name = names[0]
    ref = results[ref_name]
    ref_pairs = list(zip(ref["fired_rule"], ref["fired_program"], strict=True))
    problems = []
    for name in names[1:]:
        r = results[name]
        pairs = list(zip(r["fired_rule"], r["fired_program"], strict=True))
        if r["profile_tags"] != ref["profile_tags"]:
            problems.append(f"{name}: profile tags {r['profile_tags']} != {ref_name}'s {ref['profile_tags']}")
        if pairs != ref_pairs:
            a, b = set(pairs), set(ref_pairs)
            ids = ref["rule_ids"]
            only_a = sorted(a - b)[:5]
            only_b = sorted(b - a)[:5]
            problems.append(
                f"{name}: {len(pairs)} firings, {ref_name}: {len(ref_pairs)}; only in {name}: "
                f"{[(ids[i], p) for i, p in only_a]}; only in {ref_name}: {[(ids[i], p) for i, p in only_b]}"
            )
        if r["deltas"] != ref["deltas"]:
            diff = [(i, x, y) for i, (x, y) in enumerate(zip(r["deltas"], ref["deltas"], strict=True)) if x != y][:5]
            problems.append(f"{name}: log2 odds sums differ from {ref_name}'s at (program, {name}, {ref_name}) {diff}")
    if problems:
        raise SystemExit("peers DISAGREE; nothing printed:\n  " + "\n  ".join(problems))
    total = len(ref_pairs)
    return (
        f"all {len(names)} agree: {total:,} program-stage firings over {ref['programs']:,} programs x "
        f"{ref['program_rules']} program rules, identical per-program log2 odds sums and profile tags"
    )


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def child_scaling(sizes: list[int], rule_counts: list[int], base_programs: int, base_rules: int, seed: int, rounds: int) -> dict[str, Any]:
    """Native evaluate() CPU time by number of programs and by number of rules (one process)."""
    import gc

    from synthetic import synthetic_catalog, synthetic_profile, synthetic_rules_toml

    import smartpick_rules as sr

    profile = sr.profile_from_data(synthetic_profile(seed))
    limits = sr.Limits(max_programs=max([*sizes, sr.DEFAULT_LIMITS.max_programs]), max_firings=10**8, max_work=10**9)

    def ruleset(n: int) -> Any:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / f"synthetic_{n}_{seed}.toml"
            path.write_text(synthetic_rules_toml(n, seed, peers=True), encoding="utf-8")
            return sr.load_rules(path)

    def measure(catalog: Any, rules: Any) -> float:
        sr.evaluate(profile, catalog, rules, as_of=AS_OF, limits=limits)  # columns, compiled plan
        gc.collect()
        cpu, _wall, _ = _median_rounds(lambda: sr.evaluate(profile, catalog, rules, as_of=AS_OF, limits=limits), rounds)
        return statistics.median(cpu)

    by_programs = []
    rules = ruleset(base_rules)
    for n in sizes:
        catalog = synthetic_catalog(n, seed)
        by_programs.append((n, measure(catalog, rules)))
        del catalog
        gc.collect()
    by_rules = []
    catalog = synthetic_catalog(base_programs, seed)
    for k in rule_counts:
        by_rules.append((k, measure(catalog, ruleset(k))))
    return {"by_programs": by_programs, "by_rules": by_rules}


# =============================================================================================
# the run
# =============================================================================================


def machine_line() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "?", ""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}{' (with local changes)' if dirty else ''}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def fmt_s(s: float) -> str:
    return f"{s * 1000:,.1f} ms" if s < 10 else f"{s:,.1f} s"


def print_table(results: dict[str, dict[str, Any]], rounds: int, fast_rounds: int, passes: int) -> list[dict[str, Any]]:
    native = results.get("native", {}).get("median_s")
    numpy_ = results.get("numpy", {}).get("median_s")
    rows: list[dict[str, Any]] = []
    for name, r in results.items():
        rows.append({"peer": name, "label": PEERS[name]["label"], "median_s": r["median_s"], "cpu_s": r["cpu_s"], "prepare_s": r["prepare_s"]})
        if name == "numpy":
            for variant, label in (("masks", "numpy: masks only"), ("arrays", "numpy: masks + firings as arrays (floor)")):
                v = r["extra"][variant]
                rows.append({"peer": f"numpy_{variant}", "label": label, "median_s": v["median_s"], "cpu_s": v["cpu_s"], "prepare_s": None})
    header = f"{'engine':42} {'median CPU':>11} {'min':>10} {'max':>10} {'x native':>9} {'x numpy':>8} {'prepare':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        med = row["median_s"]
        xn = f"{med / native:8.2f}x" if native else "      n/a"
        xp = f"{med / numpy_:7.2f}x" if numpy_ else "     n/a"
        prep = fmt_s(row["prepare_s"]) if row["prepare_s"] is not None else ""
        print(f"{row['label']:42} {fmt_s(med):>11} {fmt_s(min(row['cpu_s'])):>10} {fmt_s(max(row['cpu_s'])):>10} {xn} {xp} {prep:>9}")
        row["x_native"] = med / native if native else None
        row["x_numpy"] = med / numpy_ if numpy_ else None
    print("(time.process_time of each round after one warm-up run, each engine in a fresh process;")
    print(f" {', '.join(sorted(FAST_PEERS))}: {fast_rounds} rounds in each of {passes} alternating processes, median of all their rounds;")
    print(f" the others: median of {rounds} rounds;")
    print(" x native / x numpy: that engine's median over the native evaluate()'s / the numpy evaluator's;")
    print(" prepare: one-off translation and compilation of the rules and the catalog's input form, not timed above)")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1,000 programs x 40 rules, 3 rounds, short slopes")
    ap.add_argument("--programs", type=int, default=None, help="programs in the catalog (default 6,000)")
    ap.add_argument("--rules", type=int, default=None, help="rules in the rule set (default 80)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds per slow engine (default 5, --quick 3)")
    ap.add_argument(
        "--fast-rounds", type=int, default=None, help=f"timed rounds per process of a fast engine ({', '.join(sorted(FAST_PEERS))}; default 20, --quick 5)"
    )
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset of: " + ", ".join(PEERS))
    ap.add_argument("--allow-missing", action="store_true", help="leave out peers whose package is missing instead of refusing")
    ap.add_argument("--passes", type=int, default=None, help="processes per fast engine, alternating (default 3, --quick 1)")
    ap.add_argument("--no-slopes", action="store_true", help="skip the scaling slopes")
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--no-check", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", help=argparse.SUPPRESS)
    ap.add_argument("--rule-counts", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    programs = a.programs or (1_000 if a.quick else 6_000)
    n_rules = a.rules or (40 if a.quick else 80)
    rounds = a.rounds or (3 if a.quick else 5)
    # a fresh process runs its first few rounds slower than the rest (the interpreter specialises
    # code after several calls, caches warm): the fast engines, timed in milliseconds, run enough
    # rounds that the median is the steady state a long-lived caller sees, as pyperf's calibrated
    # loops are; the slow ones spend seconds a round and are warm after their warm-up run
    fast_rounds = a.fast_rounds or (5 if a.quick else 20)
    passes = a.passes or (1 if a.quick else 3)

    if a.child:
        if a.child == "scaling":
            sizes = [int(x) for x in a.sizes.split(",")]
            counts = [int(x) for x in a.rule_counts.split(",")]
            result = child_scaling(sizes, counts, programs, n_rules, a.seed, rounds)
        else:
            result = child_peer(a.child, programs, n_rules, a.seed, rounds, not a.no_check)
        Path(a.out).write_text(json.dumps(result), encoding="utf-8")
        return 0

    peers = [p for p in a.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        ap.error(f"unknown peers {unknown}; choose from {', '.join(PEERS)}")
    missing = {p: why for p in peers if (why := missing_module(p))}
    if missing and not a.allow_missing:
        lines = "\n".join(f"  {p}: {why}" for p, why in missing.items())
        print(
            f"peers.py: cannot run every peer:\n{lines}\n"
            "install them with `pip install -e '.[bench]'` (durable-rules needs Python 3.11 or 3.12), "
            "or leave them out with --peers / --allow-missing",
            file=sys.stderr,
        )
        return 2
    peers = [p for p in peers if p not in missing]

    started = machine_line()
    results: dict[str, dict[str, Any]] = {}
    common = ["--programs", str(programs), "--rules", str(n_rules), "--seed", str(a.seed)]
    # the engines that take well under a second run in a few alternating processes and every round
    # counts, so a burst of load from other jobs on a shared machine does not land on one of them only
    for k in range(passes):
        for p in peers:
            if k and p not in FAST_PEERS:
                continue
            print(f"  running {p} (pass {k + 1}) ...", file=sys.stderr, flush=True)
            n_rounds = fast_rounds if p in FAST_PEERS else rounds
            r = run_child(["--child", p, *common, "--rounds", str(n_rounds), *(["--no-check"] if k else [])])
            if k == 0:
                results[p] = r
                continue
            merged = results[p]
            merged["cpu_s"] += r["cpu_s"]
            merged["wall_s"] += r["wall_s"]
            merged["median_s"] = statistics.median(merged["cpu_s"])
            for name, v in r["extra"].items():
                if isinstance(v, dict):
                    merged["extra"][name]["cpu_s"] += v["cpu_s"]
                    merged["extra"][name]["median_s"] = statistics.median(merged["extra"][name]["cpu_s"])
    agreement = check_agreement(results)

    scaling: dict[str, Any] | None = None
    if not a.no_slopes:
        sizes = [1_000, 3_000, 10_000] if a.quick else [1_000, 3_000, 10_000, 30_000, 100_000, 300_000]
        counts = [20, 40, 80] if a.quick else [20, 40, 80, 160, 320]
        print("  running scaling ...", file=sys.stderr, flush=True)
        scaling = run_child(
            ["--child", "scaling", "--sizes", ",".join(map(str, sizes)), "--rule-counts", ",".join(map(str, counts)),
             "--programs", str(programs), "--rules", str(n_rules), "--seed", str(a.seed), "--rounds", "3"]
        )

    first = results[peers[0]]
    print(f"Peers side by side: {programs:,} programs x {n_rules} rules ({first['program_rules']} in the program stage), "
          f"synthetic seed {a.seed}, as_of {AS_OF}")
    print(f"run: {started}")
    print(agreement)
    if "durable_rules" in results:
        print(f"durable_rules: {results['durable_rules']['extra']['calc_rules']} of {first['program_rules']} program rules "
              "compare a value computed in Python when each fact is built (see the module docstring)")
    if missing:
        print("left out (not installed): " + ", ".join(missing))
    print()
    rows = print_table(results, rounds, fast_rounds, passes)
    if scaling is not None:
        bp, br = scaling["by_programs"], scaling["by_rules"]
        s_p = slope([x for x, _ in bp], [y for _, y in bp])
        s_r = slope([x for x, _ in br], [y for _, y in br])
        print()
        print(f"Scaling of native evaluate() (median CPU of 3 rounds each; {n_rules} rules; by rules at {programs:,} programs):")
        print("  programs: " + ", ".join(f"{x:,}: {fmt_s(y)}" for x, y in bp) + f"  -> log-log slope {s_p:.2f}")
        print("  rules:    " + ", ".join(f"{x}: {fmt_s(y)}" for x, y in br) + f"  -> log-log slope {s_r:.2f}")
        scaling["slope_programs"] = s_p
        scaling["slope_rules"] = s_r
    print(f"finished: {machine_line()}")
    if a.json:
        slim = {k: {kk: vv for kk, vv in v.items() if kk not in ("fired_rule", "fired_program", "deltas", "rule_ids")} for k, v in results.items()}
        a.json.write_text(json.dumps({"run": started, "agreement": agreement, "peers": slim, "rows": rows, "scaling": scaling}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
