"""``check --properties`` and the property part of ``test``: search for counterexamples.

The options are shared by both commands; see docs/properties.md for what a property is.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..language.ir import Property, RuleSet
from .io import whole_number_argument, year_argument

if TYPE_CHECKING:
    from ..testing.properties import PropertyReport
    from .io import Io

__all__ = ["add_property_options", "run_property_check", "start_profiles"]


def _count(text: str) -> int:
    return whole_number_argument(text, 1)


def _seconds(text: str) -> float:
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not s > 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {text}")
    return s


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def add_property_options(p: argparse.ArgumentParser, *, catalog: bool = True) -> None:
    from ..testing.defaults import DEFAULT_EXAMPLES, DEFAULT_MAX_SECONDS, DEFAULT_SEED

    g = p.add_argument_group("properties", "search for counterexamples to the rule sets' [[property]] tables (docs/properties.md)")
    g.add_argument("--examples", type=_count, default=DEFAULT_EXAMPLES, metavar="N", help=f"generated profiles per property (default: {DEFAULT_EXAMPLES})")
    g.add_argument("--seed", type=_seed, default=DEFAULT_SEED, metavar="S", help=f"the search's seed; the same seed finds the same counterexample (default: {DEFAULT_SEED})")
    g.add_argument(
        "--max-seconds", type=_seconds, default=DEFAULT_MAX_SECONDS, metavar="T", help=f"wall time per property (default: {DEFAULT_MAX_SECONDS:g})"
    )
    g.add_argument("--property", dest="property_ids", action="append", metavar="ID", help="check only this property (repeatable)")
    if catalog:
        g.add_argument("--catalog", metavar="FILE", help="the catalog to evaluate against (default: the shipped sample catalog)")
    g.add_argument("--sample", type=_count, default=None, metavar="N", help="evaluate against a seeded subsample of N programs, for speed")
    g.add_argument(
        "--profiles",
        dest="start_profiles",
        action="append",
        metavar="PATH",
        help="profiles (files or folders of .toml/.json) to try first, before generated ones (repeatable)",
    )
    g.add_argument(
        "--no-example-profiles",
        dest="example_profiles",
        action="store_false",
        help="do not start from the example applicants shipped with the package",
    )
    g.add_argument("--as-of", dest="as_of", type=year_argument, default=None, metavar="YEAR", help="the evaluation year (default: this year)")


def run_property_check(args: argparse.Namespace, io: Io, rules: RuleSet, properties: Sequence[Property]) -> PropertyReport:
    """Check ``properties`` of ``rules`` with the command's options, printing progress on a terminal."""
    from ..testing.properties import check_properties
    from .io import Progress

    starts = start_profiles(getattr(args, "start_profiles", None) or [], getattr(args, "example_profiles", True))

    with Progress(io, f"checking {len(properties)} properties") as progress:

        def done(result: Any) -> None:
            progress.update(f"checked {result.property.id}")

        return check_properties(
            rules,
            getattr(args, "catalog", None),
            examples=args.examples,
            seed=args.seed,
            max_seconds=args.max_seconds,
            as_of=args.as_of,
            sample=args.sample,
            only=args.property_ids,
            properties=properties,
            on_result=done,
            starts=starts,
        )


def start_profiles(paths: Sequence[str], examples: bool) -> list[tuple[str, Any]]:
    """``(name, profile)`` to start the search from: the shipped examples (unless told not to), then ``paths``."""
    from pathlib import Path

    from ..domain.inputs import load_profile
    from ..errors import Diagnostic, InputError, Location
    from ..testing.properties import example_profiles

    out: list[tuple[str, Any]] = example_profiles() if examples else []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix in (".toml", ".json") and not f.name.endswith(".test.toml"))
        elif p.is_file():
            files = [p]
        else:
            raise InputError(Diagnostic("io_error", "no such file or folder", Location(str(p))))
        out.extend((str(f), load_profile(f)) for f in files)
    return out
