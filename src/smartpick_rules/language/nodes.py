"""The syntax tree of the rule language's expressions.

Each node keeps its location, which is excluded from equality so golden trees ignore positions.
The parser and printer are in ``expr``; the builtin functions a ``Call`` names are in ``functions``.
"""

from __future__ import annotations

import attrs

from ..errors import Location
from ..records import frozen

__all__ = [
    "Arith",
    "BoolOp",
    "Call",
    "Compare",
    "Expr",
    "IfElse",
    "ListLiteral",
    "Literal",
    "LiteralValue",
    "Neg",
    "Not",
    "Path",
]

LiteralValue = int | float | str | bool | None



def _loc() -> Location:
    return Location()


@frozen
class Literal:
    value: LiteralValue
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


@frozen
class ListLiteral:
    items: tuple[Expr, ...]
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


@frozen
class Path:
    """A dotted path rooted at a fact: ``applicant.step2_ck.score``."""

    root: str
    parts: tuple[str, ...]
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)

    @property
    def dotted(self) -> str:
        return ".".join((self.root, *self.parts))


@frozen
class Not:
    operand: Expr
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


@frozen
class Neg:
    operand: Expr
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


@frozen
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Expr, ...]
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


@frozen
class Compare:
    op: str
    left: Expr
    right: Expr
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


@frozen
class Arith:
    op: str
    left: Expr
    right: Expr
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


@frozen
class Call:
    func: str
    args: tuple[Expr, ...]
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


@frozen
class IfElse:
    """``then if test else orelse``: ``then`` only where ``test`` is definitely true.

    Like a rule's condition, an unknown test does not take the ``then`` branch.
    """

    test: Expr
    then: Expr
    orelse: Expr
    loc: Location = attrs.field(factory=_loc, eq=False, repr=False)


Expr = Literal | ListLiteral | Path | Not | Neg | BoolOp | Compare | Arith | Call | IfElse
