"""Atheris harness: the expression parser and type checker.

Each input is decoded as UTF-8 (invalid bytes replaced, as a file read with errors="replace"
would be) and given to ``parse_expression``; a parsed expression is type-checked in every
stage, and printed and re-parsed (``parse_expression(to_source(e)) == e``). A refusal
(``ExpressionError``, ``SmartpickError``) is fine; any other exception, or a round trip that
changes the tree, is a crash.

    .venv/bin/python fuzz/fuzz_expression.py -max_total_time=600 fuzz/.work/expression/corpus
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["smartpick_rules"]):
    from smartpick_rules.analysis.check import check_expression
    from smartpick_rules.language.expr import parse_expression, to_source
    from smartpick_rules.limits import Limits

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from fuzz._common import guard

ROUND_TRIP_LIMITS = Limits(max_expression_length=1_000_000, max_expression_depth=10_000)


def one(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    e = parse_expression(text)
    for stage in ("profile", "program", "list"):
        check_expression(e, stage)
    again = parse_expression(to_source(e), ROUND_TRIP_LIMITS)
    if again != e:
        raise AssertionError(f"round trip changed the tree: {text!r} -> {to_source(e)!r}")


def test_one_input(data: bytes) -> None:
    guard("expression", data, lambda: one(data))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
