"""The shipped rule sets' declared properties (rulesets/invariants.toml), checked as CI checks them.

The current score model breaks some of them: that is issue 10, and the lead's model change fixes
it. Until it lands this test is an expected failure; the reason lists what failed when it was
written. The mechanism itself is tested on small rule sets in test_properties.py.
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


@pytest.mark.xfail(
    strict=False,
    reason="issue 10: the current score model breaks invariants.step2_ck_never_lowers_a_program and "
    "invariants.step2_ck_never_shortens_the_list (Step 2 CK 229 -> 230 drops the low-score bonuses and "
    "breadth 80..120 -> 60..80: the list falls from 79 to 15), "
    "invariants.fewer_failed_step1_attempts_never_lower_a_program and "
    "invariants.fewer_failed_step2_ck_attempts_never_lower_a_program (the low-score bonuses outweigh the "
    "failed-attempt penalty) and invariants.list_reaches_breadth (15 programs chosen for a breadth of 60: "
    "the reach cap counts reach tiers); the lead removes this mark when the model change lands",
)
def test_the_shipped_properties_hold() -> None:
    report = check_properties(
        sr.load_rules(), examples=30, seed=0, max_seconds=10, as_of=2026, starts=example_profiles()
    )
    assert report.ok, "\n".join(f"{r.property.id}: {r.violation.message if r.violation else r.note}" for r in report.failed)
