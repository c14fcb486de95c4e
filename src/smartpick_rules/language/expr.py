"""The expression language of ``when`` clauses: parser, printer and walks over the tree.

Expressions look like Python (``applicant.step2_ck.score < program.min_step2_ck and
not has("failed_attempt")``) because rule authors have seen Python-like conditions in
spreadsheets and notebooks. They are parsed with ``ast`` and then *translated* into this
module's own small tree; any Python node outside a short whitelist is refused, so nothing a
rule file says is ever handed to ``eval`` or ``exec``. The tree's nodes are in ``nodes``
(re-exported here); the functions a call may name are in ``functions``.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import Diagnostic, Location
from ..limits import DEFAULT_LIMITS, Limits, limit_help
from .functions import tag_read
from .nodes import (
    Arith,
    BoolOp,
    Call,
    Compare,
    Expr,
    IfElse,
    ListLiteral,
    Literal,
    LiteralValue,
    Neg,
    Not,
    Path,
)

__all__ = [
    "Arith",
    "BoolOp",
    "Call",
    "Compare",
    "Expr",
    "ExpressionError",
    "IfElse",
    "ListLiteral",
    "Literal",
    "Neg",
    "Not",
    "Path",
    "count_nodes",
    "iter_nodes",
    "parse_expression",
    "program_nodes",
    "to_source",
]

ROOTS = ("applicant", "program", "list", "item", "derived", "estimate", "result")
COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
ARITH_OPS = ("+", "-", "*", "/", "%")

class ExpressionError(Exception):
    """A refused expression; carries a diagnostic whose location is relative to the expression."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


_CMP = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_NAMED_CONSTANTS: dict[str, LiteralValue] = {
    "true": True,
    "false": False,
    "none": None,
    "True": True,
    "False": False,
    "None": None,
}

_REFUSED_HELP = {
    ast.Lambda: "lambdas are not part of the rule language",
    ast.ListComp: "comprehensions are not part of the rule language; use count(...), any(...) or all(...)",
    ast.SetComp: "comprehensions are not part of the rule language; use count(...), any(...) or all(...)",
    ast.DictComp: "comprehensions are not part of the rule language",
    ast.GeneratorExp: "comprehensions are not part of the rule language; use count(...), any(...) or all(...)",
    ast.Subscript: "indexing is not part of the rule language; use a dotted path or count(...)",
    ast.Pow: "`**` is not allowed (it can make numbers explode); use `*`, or exp(x) for a growth rate",
    ast.NamedExpr: "assignment is not allowed in a condition",
    ast.Await: "not part of the rule language",
    ast.JoinedStr: "f-strings are not allowed in conditions",
    ast.Dict: "tables are not allowed in conditions",
    ast.Set: "sets are not allowed; use a list [..]",
    ast.Starred: "`*` unpacking is not allowed",
}


def parse_expression(source: str, limits: Limits = DEFAULT_LIMITS, origin: Location | None = None) -> Expr:
    """Parse one condition. Raises ``ExpressionError`` on anything outside the language.

    ``origin`` is where the expression text starts in its file; node locations are shifted
    by it so diagnostics point at the right column of the right line.
    """
    origin = origin or Location()
    if not isinstance(source, str):
        raise ExpressionError(Diagnostic("parse_error", "a condition must be a string", origin))
    if len(source) > limits.max_expression_length:
        raise ExpressionError(
            Diagnostic(
                "limit_exceeded",
                f"expression is {len(source)} characters, more than the limit of {limits.max_expression_length}",
                origin,
                help=limit_help("max_expression_length"),
            )
        )
    if not source.strip():
        raise ExpressionError(Diagnostic("parse_error", "empty condition", origin))
    if "\x00" in source:
        raise ExpressionError(Diagnostic("parse_error", "condition contains a NUL character", origin))
    invisible = _INVISIBLE.search(source)
    if invisible:
        # "Trojan source": bidirectional controls reorder what a reviewer sees, inside string
        # literals too, so the condition that runs is not the one that was read
        raise ExpressionError(
            Diagnostic(
                "parse_error",
                f"condition contains the invisible control character U+{ord(invisible.group()):04X}",
                _at(origin, 1 + source.count("\n", 0, invisible.start()), invisible.start() - source.rfind("\n", 0, invisible.start())),
                help="remove it; write the text it was hiding plainly",
            )
        )
    _check_lexically(source, origin, limits)
    # Rule authors write conditions on several lines in TOML multi-line strings; ast's "eval"
    # mode accepts newlines only inside brackets, so wrap once.
    stripped = source.strip()
    text = "(" + stripped + "\n)"
    lead = len(source) - len(source.lstrip())
    try:
        # Python warns about oddities such as `1and`; a rule file must not write to the host's stderr
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        line, offset = exc.lineno or 1, exc.offset or 1
        last = stripped.count("\n") + 1
        if line > last:
            # at the wrapping's closing bracket: the expression ended too soon. Point just past
            # its end, not at the file's next line
            line = last
            offset = len(stripped.rsplit("\n", 1)[-1]) + (2 if last == 1 else 1)
        col = max(offset - 1, 1) + lead
        raise ExpressionError(Diagnostic("parse_error", f"invalid expression: {exc.msg}", _at(origin, line, col))) from None
    except UnicodeError:
        raise ExpressionError(Diagnostic("parse_error", "condition is not valid Unicode text", origin)) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise ExpressionError(
            Diagnostic("limit_exceeded", "expression is nested too deeply", origin, help=limit_help("max_expression_depth"))
        ) from None
    translator = _Translator(origin, lead, limits)
    return translator.visit(tree.body, 1)


#: bidirectional and zero-width controls: invisible, and able to make text read other than it runs
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
#: what matters lexically: string literals (skipped), brackets and comments
_LEXEMES = re.compile(
    r'''"""(?:[^\\]|\\.)*?"""|\'\'\'(?:[^\\]|\\.)*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|[()\[\]#]'''
)


def _check_lexically(source: str, origin: Location, limits: Limits) -> None:
    """Refuse comments and bracket nesting deeper than ``max_expression_depth``.

    Python drops both before the syntax tree is built: a ``#`` inside a multi-line condition
    silently cuts off the rest of its line, and redundant parentheses would not count toward
    the nesting limit.
    """
    if "#" not in source and source.count("(") + source.count("[") <= limits.max_expression_depth:
        return
    depth = 0
    for m in _LEXEMES.finditer(source):
        tok = m.group()
        if tok == "#":
            line = 1 + source.count("\n", 0, m.start())
            raise ExpressionError(
                Diagnostic(
                    "parse_error",
                    "`#` starts a comment, which would hide the rest of the line from the condition",
                    _at(origin, line, m.start() - source.rfind("\n", 0, m.start())),
                    help="put comments on TOML lines of their own, outside the string; write \"#\" inside quotes for the character",
                )
            )
        if tok in "([":
            depth += 1
            if depth > limits.max_expression_depth:
                line = 1 + source.count("\n", 0, m.start())
                raise ExpressionError(
                    Diagnostic(
                        "limit_exceeded",
                        f"brackets nested more than {limits.max_expression_depth} levels deep",
                        _at(origin, line, m.start() - source.rfind("\n", 0, m.start())),
                        help=limit_help("max_expression_depth"),
                    )
                )
        elif tok in ")]":
            depth = max(depth - 1, 0)


def _at(origin: Location, line: int, col: int) -> Location:
    if line <= 1:
        return Location(origin.file, origin.line, origin.column + max(col - 1, 0) if origin.column else col)
    return Location(origin.file, origin.line + line - 1, col)


class _Translator:
    def __init__(self, origin: Location, lead: int, limits: Limits) -> None:
        self.origin = origin
        self.lead = lead
        self.limits = limits
        #: nodes starting at one place share a Location (a comparison, its left side, its root name)
        self.locs: dict[tuple[int, int], Location] = {}

    def loc(self, node: ast.AST) -> Location:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        key = (line, col)
        found = self.locs.get(key)
        if found is None:
            # the wrapping "(" shifts the first line by one column
            found = self.locs[key] = _at(self.origin, line, (col - 1 + self.lead if line == 1 else col) + 1)
        return found

    def fail(self, node: ast.AST, message: str, help: str | None = None, code: str = "parse_error") -> ExpressionError:
        return ExpressionError(Diagnostic(code, message, self.loc(node), help=help))

    def visit(self, node: ast.expr, depth: int) -> Expr:
        if depth > self.limits.max_expression_depth:
            raise self.fail(
                node,
                f"expression is nested more than {self.limits.max_expression_depth} levels deep",
                help=limit_help("max_expression_depth"),
                code="limit_exceeded",
            )
        d = depth + 1
        loc = self.loc(node)
        if isinstance(node, ast.BoolOp):
            bop = "and" if isinstance(node.op, ast.And) else "or"
            return BoolOp(bop, tuple(self.visit(v, d) for v in node.values), loc)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return Not(self.visit(node.operand, d), loc)
            if isinstance(node.op, ast.USub):
                inner = self.visit(node.operand, d)
                if isinstance(inner, Literal) and isinstance(inner.value, int | float) and not isinstance(inner.value, bool):
                    return Literal(-inner.value, loc)
                return Neg(inner, loc)
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand, d)
            raise self.fail(node, "the `~` operator is not part of the rule language")
        if isinstance(node, ast.Compare):
            parts: list[Expr] = []
            left = self.visit(node.left, d)
            for op_node, right_node in zip(node.ops, node.comparators, strict=True):
                cop = _CMP.get(type(op_node))
                if cop is None:
                    raise self.fail(node, "`is` is not supported; use `==` or known(...)")
                right = self.visit(right_node, d)
                parts.append(Compare(cop, left, right, loc))
                left = right
            return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts), loc)
        if isinstance(node, ast.BinOp):
            aop = _ARITH.get(type(node.op))
            if aop is None:
                help = _REFUSED_HELP.get(type(node.op))
                raise self.fail(node, f"operator `{type(node.op).__name__}` is not allowed", help)
            return Arith(aop, self.visit(node.left, d), self.visit(node.right, d), loc)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or value is None or isinstance(value, str):
                return Literal(value, loc)
            if isinstance(value, int):
                if abs(value) > 10**15:
                    raise self.fail(node, "number is too large", code="limit_exceeded")
                return Literal(value, loc)
            if isinstance(value, float):
                if not math.isfinite(value):
                    raise self.fail(node, "number is not finite")
                return Literal(value, loc)
            raise self.fail(node, f"{type(value).__name__} literals are not allowed")
        if isinstance(node, ast.Name):
            if node.id in _NAMED_CONSTANTS:
                return Literal(_NAMED_CONSTANTS[node.id], loc)
            if node.id in ROOTS:
                return Path(node.id, (), loc)
            from ..errors import did_you_mean

            hint = did_you_mean(node.id, ROOTS)
            raise ExpressionError(
                Diagnostic(
                    "unknown_field",
                    f"unknown name `{node.id}`",
                    loc,
                    help="a path starts with applicant., program., list., item., derived. or estimate. (result. in a property)",
                    suggestion=hint,
                )
            )
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise self.fail(node, f"attribute `{node.attr}` is not allowed: names starting with `_` are never fields")
            base = self.visit(node.value, d)
            if not isinstance(base, Path):
                raise self.fail(node, "only fact paths have attributes (applicant.x, program.y)")
            return Path(base.root, (*base.parts, node.attr), base.loc)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self.fail(node, "only the rule language's functions can be called (has, count, years_since, ...)")
            if node.keywords:
                raise self.fail(node, "keyword arguments are not supported")
            return Call(node.func.id, tuple(self.visit(a, d) for a in node.args), loc)
        if isinstance(node, ast.IfExp):
            return IfElse(self.visit(node.test, d), self.visit(node.body, d), self.visit(node.orelse, d), loc)
        if isinstance(node, ast.List | ast.Tuple):
            if len(node.elts) > 1000:
                raise self.fail(node, "list literal has more than 1000 items", code="limit_exceeded")
            return ListLiteral(tuple(self.visit(e, d) for e in node.elts), loc)
        help = _REFUSED_HELP.get(type(node))
        raise self.fail(node, f"`{type(node).__name__}` is not part of the rule language", help)


# --- printing -----------------------------------------------------------------------------

_PREC = {"if": 0, "or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "neg": 7}


def _prec(e: Expr) -> int:
    if isinstance(e, IfElse):
        return _PREC["if"]
    if isinstance(e, BoolOp):
        return _PREC[e.op]
    if isinstance(e, Not):
        return _PREC["not"]
    if isinstance(e, Compare):
        return _PREC["cmp"]
    if isinstance(e, Arith):
        return _PREC[e.op]
    if isinstance(e, Neg):
        return _PREC["neg"]
    if isinstance(e, Literal) and isinstance(e.value, int | float) and not isinstance(e.value, bool) and e.value < 0:
        return _PREC["neg"]
    return 100


def _literal_source(value: LiteralValue) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return _quote(value)
    return repr(value)


def _quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF or _INVISIBLE.match(ch):
            # escaped: printed text parses back, and invisible controls are refused in source
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def to_source(e: Expr, memo: dict[int, tuple[Expr, str]] | None = None) -> str:
    """Canonical text of an expression; ``parse_expression(to_source(e)) == e``.

    ``memo`` keeps the text of every node written, by id (with the node, which keeps the id its
    own): a caller that writes nested nodes one by one (the vector compiler keys each node by
    its text) then writes each node once, not once for each of its ancestors."""
    if memo is None:
        return _source(e, None)
    hit = memo.get(id(e))
    if hit is not None:
        return hit[1]
    text = _source(e, memo)
    memo[id(e)] = (e, text)
    return text


def _source(e: Expr, memo: dict[int, tuple[Expr, str]] | None) -> str:
    def wrap(child: Expr, min_prec: int) -> str:
        text = to_source(child, memo)
        return f"({text})" if _prec(child) < min_prec else text

    if isinstance(e, Literal):
        return _literal_source(e.value)
    if isinstance(e, ListLiteral):
        return "[" + ", ".join(to_source(i, memo) for i in e.items) + "]"
    if isinstance(e, Path):
        return e.dotted
    if isinstance(e, Not):
        return "not " + wrap(e.operand, _PREC["not"])
    if isinstance(e, Neg):
        return "-" + wrap(e.operand, _PREC["neg"] + 1)
    if isinstance(e, BoolOp):
        p = _PREC[e.op]
        return f" {e.op} ".join(wrap(o, p + 1) for o in e.operands)
    if isinstance(e, Compare):
        p = _PREC["cmp"]
        return f"{wrap(e.left, p + 1)} {e.op} {wrap(e.right, p + 1)}"
    if isinstance(e, Arith):
        p = _PREC[e.op]
        return f"{wrap(e.left, p)} {e.op} {wrap(e.right, p + 1)}"
    if isinstance(e, Call):
        return f"{e.func}(" + ", ".join(to_source(a, memo) for a in e.args) + ")"
    if isinstance(e, IfElse):
        return f"{wrap(e.then, 1)} if {wrap(e.test, 1)} else {wrap(e.orelse, 0)}"
    raise TypeError(f"not an expression: {e!r}")


def children(e: Expr) -> tuple[Expr, ...]:
    return _CHILDREN[type(e)](e)


# one lookup by type instead of a chain of isinstance tests: the planner and the checkers walk
# every node of every condition, millions at the limits
_CHILDREN: dict[type, Callable[[Any], tuple[Expr, ...]]] = {
    Literal: lambda e: (),
    Path: lambda e: (),
    ListLiteral: lambda e: e.items,
    Not: lambda e: (e.operand,),
    Neg: lambda e: (e.operand,),
    BoolOp: lambda e: e.operands,
    Compare: lambda e: (e.left, e.right),
    Arith: lambda e: (e.left, e.right),
    Call: lambda e: e.args,
    IfElse: lambda e: (e.test, e.then, e.orelse),
}


def count_nodes(e: Expr) -> int:
    """How many nodes ``e`` has."""
    n = 0
    stack = [e]
    table = _CHILDREN
    while stack:
        node = stack.pop()
        n += 1
        stack.extend(table[type(node)](node))
    return n


def iter_nodes(e: Expr) -> Iterator[Expr]:
    """Every node of ``e``, parents before children."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def conjuncts(e: Expr) -> list[Expr]:
    """The top-level ``and`` operands of ``e`` (``e`` itself if it is not an ``and``)."""
    if isinstance(e, BoolOp) and e.op == "and":
        out: list[Expr] = []
        for o in e.operands:
            out.extend(conjuncts(o))
        return out
    return [e]


def program_nodes(e: Expr, program_tags: frozenset[str]) -> set[int]:
    """Ids of the nodes of ``e`` whose value depends on the program.

    A node depends on the program when it reads ``program.*`` or tests a tag in
    ``program_tags`` (tags the program stage sets), or when one of its children does.
    """
    out: set[int] = set()

    def visit(node: Expr) -> bool:
        reads = False
        if isinstance(node, Path) and node.root in ("program", "estimate"):
            reads = True
        elif isinstance(node, Call):
            tag = tag_read(node)
            reads = tag is not None and tag in program_tags
        for child in children(node):
            if visit(child):
                reads = True
        if reads:
            out.add(id(node))
        return reads

    visit(e)
    return out
