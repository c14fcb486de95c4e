"""The small inputs the tests share: one program, catalogs built from it, rule files from rule bodies.

Test files that need a program write only the fields their test is about; everything else comes
from ``PROGRAM``, the same default program the rule-test runner fills in
(``smartpick_rules.testing.suite.DEFAULT_PROGRAM``), so a case in a ``*.test.toml`` file and a
test here describe the same program. The shipped rule set, the sample catalogs and the default
profile are loaded once per test process (``conftest.py`` hands them out as fixtures).
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import smartpick_rules as sr
from smartpick_rules.limits import DEFAULT_LIMITS, Limits
from smartpick_rules.ruleset.load import load_rules_from_text
from smartpick_rules.testing.suite import DEFAULT_PROGRAM

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PROFILES = EXAMPLES / "profiles"
DEFAULT_PROFILE = PROFILES / "default.toml"
SMALL_CATALOG = EXAMPLES / "small_catalog.csv"

#: a program's required fields, without its id: a community internal-medicine program in LA County
PROGRAM: Mapping[str, Any] = {k: v for k, v in DEFAULT_PROGRAM.items() if k != "id"}
#: the same without a region, for tests whose programs place themselves (or are nowhere)
UNPLACED_PROGRAM: Mapping[str, Any] = {k: v for k, v in PROGRAM.items() if k != "region"}

#: the ``[ruleset]`` table of a throwaway rule file
RULESET_HEADER = '[ruleset]\nname = "t"\nversion = "1"\n'


def program(id: str, **fields: Any) -> dict[str, Any]:
    """One program's data: ``PROGRAM`` with ``id`` and ``fields`` over it."""
    return {**PROGRAM, "id": id, **fields}


def catalog(*programs: Mapping[str, Any], base: Mapping[str, Any] = PROGRAM) -> sr.Catalog:
    """A catalog of ``programs`` over ``base``; a program without an id is ``p0``, ``p1``, ..."""
    return sr.catalog_from_data([{"id": f"p{i}", **base, **p} for i, p in enumerate(programs)])


def rule_file(*bodies: str, name: str = "s", header: str = "") -> str:
    """A rule file: ``[ruleset]`` named ``name`` (plus ``header`` lines), then each body (TOML key
    lines, dedented) as a ``[[rule]]`` table with id ``<name>.r0``, ``<name>.r1``, ..."""
    out = f'[ruleset]\nname = "{name}"\n' + (header.rstrip("\n") + "\n" if header else "")
    for i, body in enumerate(bodies):
        out += f'[[rule]]\nid = "{name}.r{i}"\n' + textwrap.dedent(body).strip() + "\n"
    return out


def rule_table(i: int, stage: str, when: str, then: str, extra: str = "") -> str:
    """One ``[[rule]]`` table with id ``r<i>``, a one-string condition and an inline ``then``."""
    return f'[[rule]]\nid = "r{i}"\nstage = "{stage}"\nwhen = "{when}"\n{extra}then = {{ {then} }}\n'


def load(text: str, file: str = "s.toml", limits: Limits = DEFAULT_LIMITS) -> sr.RuleSet:
    """The rule set in one rule file's text."""
    return load_rules_from_text([(file, text)], limits=limits)


def refused(text: str, limits: Limits = DEFAULT_LIMITS, file: str = "s.toml") -> sr.RulesetError:
    """The error loading one rule file's text raises (the test fails if it loads)."""
    with pytest.raises(sr.RulesetError) as info:
        load_rules_from_text([(file, text)], limits=limits)
    return info.value


# -- the shipped inputs, loaded once per process ---------------------------------------------------
# Cached functions rather than only fixtures: parametrize lists and hypothesis strategies are built
# at import, where fixtures cannot reach. All of these are immutable values.


@functools.cache
def shipped_rules() -> sr.RuleSet:
    return sr.load_rules()


@functools.cache
def small_catalog() -> sr.Catalog:
    return sr.load_catalog(SMALL_CATALOG)


@functools.cache
def sample_catalog() -> sr.Catalog:
    return sr.load_catalog(sr.sample_catalog_path())


@functools.cache
def default_profile() -> sr.Profile:
    return sr.load_profile(DEFAULT_PROFILE)
