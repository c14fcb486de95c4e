"""Values over a whole catalog, as the vectorised evaluator computes them.

A program-stage expression evaluates to one of these: the same value for every program
(``Const``), a condition as two masks (``VBool``: definitely true, definitely false; where
neither, unknown), a number with a mask of where it is known (``VNum``), categorical strings
(``VStr``) or one Python value per program (``VObj``). The builtin functions (``functions``)
and the evaluator (``vector``) both build them.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "BoolArray",
    "Const",
    "FloatArray",
    "NumberReader",
    "VBool",
    "VNum",
    "VObj",
    "VStr",
    "Value",
    "known_both",
    "num_operand",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


class Const:
    """A value that is the same for every program (read from the applicant, or a literal)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class VBool:
    """A condition over every program: where it is definitely true (``t``) and false (``f``)."""

    __slots__ = ("f", "t")

    def __init__(self, t: BoolArray, f: BoolArray) -> None:
        self.t = t
        self.f = f


class VNum:
    """A number over every program: its value ``v`` where it is known (``k``)."""

    __slots__ = ("k", "v")

    def __init__(self, v: FloatArray, k: BoolArray) -> None:
        self.v = v
        self.k = k


class VStr:
    """A string over every program, as codes into ``cats`` (-1 where absent)."""

    __slots__ = ("cats", "codes")

    def __init__(self, codes: npt.NDArray[np.int32], cats: tuple[str, ...]) -> None:
        self.codes = codes
        self.cats = cats


class VObj:
    """Anything else, one Python value per program."""

    __slots__ = ("values",)

    def __init__(self, values: list[Any]) -> None:
        self.values = values


Value = Const | VBool | VNum | VStr | VObj


class NumberReader(Protocol):
    """What reads any value as a number over the catalog (a ``ProgramContext``)."""

    def as_num(self, v: Value) -> VNum: ...


def num_operand(ctx: NumberReader, v: Value) -> tuple[Any, Any]:
    """A number operand as (values, known): a constant stays a Python float (numpy broadcasts
    it, with the same result as a column of it) and its known-ness a Python bool."""
    if isinstance(v, Const):
        if v.value is None:
            return 0.0, False
        return float(v.value), True
    x = ctx.as_num(v)
    return x.v, x.k


def known_both(a: Any, b: Any) -> Any:
    """Where two operands are both known, each a Python bool (a constant) or a mask."""
    if a is False or b is False:
        return False
    if a is True:
        return b
    if b is True:
        return a
    return a & b
