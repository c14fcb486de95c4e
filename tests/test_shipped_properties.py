"""The shipped rule sets' declared properties (rulesets/invariants.toml), checked as CI checks them.

CI checks them here: a counterexample fails the build with the shrunk profile and the audit lines
that caused it. The mechanism itself is tested on small rule sets in test_properties.py.
"""

from __future__ import annotations

import pytest

import smartpick_rules as sr
from smartpick_rules.testing.properties import check_properties, example_profiles

pytestmark = pytest.mark.slow


def test_the_shipped_rule_sets_declare_at_least_twelve_sourced_properties() -> None:
    rs = sr.load_rules()
    props = [p for p in rs.properties if p.ruleset == "invariants"]
    assert len(props) >= 12
    assert all(p.source and p.description for p in props), [p.id for p in props if not (p.source and p.description)]
    assert {p.kind for p in props} == {"monotone", "invariant"}


def test_the_shipped_properties_hold() -> None:
    # a seeded subsample of the catalog and a few seconds a property keep the suite quick; the
    # example applicants are tried first, which is where the model's old violations showed up;
    # `smartpick-rules check --properties` searches longer against the whole catalog
    report = check_properties(
        sr.load_rules(), examples=10, seed=0, max_seconds=4, sample=1500, as_of=2026, starts=example_profiles()
    )
    assert report.ok, "\n".join(f"{r.property.id}: {r.violation.message if r.violation else r.note}" for r in report.failed)
