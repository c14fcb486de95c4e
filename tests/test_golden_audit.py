"""Golden audit trails: the explain() text of fixed cases, compared byte for byte.

Regenerate after an intended change with ``SMARTPICK_UPDATE_GOLDEN=1 pytest tests/test_golden_audit.py``
and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from case_runner import evaluate_case, read_case

GOLDEN = Path(__file__).parent / "golden"
CASES = Path(__file__).parent / "cases"

PROGRAMS = {
    "effects/exclude_and_reason": ["a", "b"],
    "effects/odds_tier_priority": ["flag", "comm"],
    "effects/chance_cap": ["a"],
    "estimates/estimate_rules": ["univ", "comm"],
    "list_stage/at_least_swaps": ["la2", "oh_target"],
    "negation/stratified": ["x", "y"],
    "unknowns/three_valued": ["pub"],
}


@pytest.mark.parametrize("case_name", sorted(PROGRAMS))
def test_explain_matches_golden(case_name: str) -> None:
    rec = evaluate_case(read_case(CASES / f"{case_name}.toml"))
    text = "\n\n".join(rec.explain(pid) for pid in PROGRAMS[case_name]) + "\n"
    path = GOLDEN / (case_name.replace("/", "__") + ".txt")
    if os.environ.get("SMARTPICK_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with SMARTPICK_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")
