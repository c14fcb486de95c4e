"""The shipped rule sets: they load cleanly, every rule is sourced and explained, every rule-test
suite beside them passes, every rule is fired by some case, and docs/rulesets.md is current."""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

from smartpick_rules import RuleSet, load_rules
from smartpick_rules.analysis.lint import lint_rules
from smartpick_rules.domain.models import Specialty
from smartpick_rules.ruleset.load import shipped_rulesets_path
from smartpick_rules.testing.suite import load_suite, run_suite

ROOT = Path(__file__).resolve().parent.parent
RULESETS = shipped_rulesets_path()
TESTS = RULESETS / "tests"
SUITES = sorted(TESTS.glob("*.test.toml"))


@cache
def shipped() -> RuleSet:
    return load_rules()


@cache
def suite_results(path: Path) -> tuple[list[tuple[str, tuple[str, ...], str | None]], frozenset[str], int]:
    suite = load_suite(path)
    results, coverage = run_suite(suite, shipped())
    failures = [(r.case.name, r.failures, r.error) for r in results if not r.passed]
    return failures, coverage.rules_fired, len(results)


# --- loading ------------------------------------------------------------------------------------------


def test_shipped_rulesets_load() -> None:
    rs = shipped()
    names = {info.name for info in rs.rulesets}
    assert {"base", "red_flags", "strengths", "la_ties", "breadth", "advice"} <= names
    assert len(rs.rules) > 100
    assert not rs.disabled and not rs.overridden


def test_shipped_rulesets_have_no_lint_warnings() -> None:
    diags = lint_rules(shipped())
    assert not diags, "\n".join(f"{d.code}: {d.rule_id}: {d.message}" for d in diags)


def test_score_model() -> None:
    s = shipped().scoring
    assert (s.base, s.target, s.likely) == (50, 50, 70)


def test_one_specialty_rule_set_per_specialty() -> None:
    names = {info.name for info in shipped().rulesets}
    for spec in Specialty:
        assert (RULESETS / "specialties" / f"{spec.value}.toml").is_file(), spec.value
        assert f"specialties.{spec.value}" in names
        rs = shipped()
        assert rs.get(f"specialties.{spec.value}.low_score_tolerance") is not None, spec.value
        assert rs.get(f"specialties.{spec.value}.failed_attempt") is not None, spec.value


@pytest.mark.parametrize("rule_id", [r.id for r in load_rules().rules])
def test_every_rule_is_sourced_and_explained(rule_id: str) -> None:
    rule = shipped().get(rule_id)
    assert rule is not None
    assert rule.source.strip(), "every rule cites the guide section or public figure it comes from"
    assert rule.source.startswith(("Guide: ", "public-figures.md ")), rule.source
    assert rule.explain is not None and rule.explain.text.strip()
    assert rule.id.startswith(rule.ruleset + "."), "rule ids are <ruleset>.<name>"


def test_exclusions_outrank_scores() -> None:
    rs = shipped()
    excl = [r.salience for r in rs.rules if r.then.exclude is not None]
    others = [r.salience for r in rs.rules if r.then.exclude is None and r.stage == "program"]
    assert excl and min(excl) > max(others)


def test_guide_tolerance_order() -> None:
    """Tolerant specialties (guide) gain, less tolerant ones lose; within the published IMG-share
    order (public-figures.md 'What this means' 2) the moves do not invert."""
    rs = shipped()

    def tol(spec: str) -> float:
        rule = rs.get(f"specialties.{spec}.low_score_tolerance")
        assert rule is not None and rule.then.score is not None
        return rule.then.score

    tolerant = ["internal_medicine", "family_medicine", "pediatrics", "psychiatry", "transitional_year"]
    less = [
        "diagnostic_radiology",
        "anesthesiology",
        "dermatology",
        "orthopaedic_surgery",
        "emergency_medicine",
        "neurosurgery",
        "plastic_surgery",
        "otolaryngology",
        "ophthalmology",
        "urology",
        "radiation_oncology",
    ]
    assert min(tol(s) for s in tolerant) > 0 > max(tol(s) for s in less)
    order = [
        ["pathology", "internal_medicine"],
        ["family_medicine", "neurology"],
        ["pediatrics"],
        ["psychiatry"],
        ["general_surgery", "anesthesiology"],
        ["obstetrics_gynecology", "orthopaedic_surgery"],
    ]
    for higher, lower in pairwise(order):
        assert min(tol(s) for s in higher) >= max(tol(s) for s in lower), (higher, lower)
    # "very competitive in CA" / "especially in LA": the least realistic fields get the largest penalties
    assert max(tol(s) for s in ["dermatology", "neurosurgery", "plastic_surgery"]) <= min(
        tol(s) for s in ["emergency_medicine", "anesthesiology"]
    )


# --- rule tests -------------------------------------------------------------------------------------------


def test_every_rule_set_has_a_test_file() -> None:
    rs = shipped()
    with_rules = {r.ruleset for r in rs.rules} | {r.ruleset for r in rs.disabled}
    for info in rs.rulesets:
        if info.name not in with_rules:
            continue  # a rule set of properties only (invariants.toml) is checked by its properties
        assert (TESTS / f"{info.name}.test.toml").is_file(), f"no rulesets/tests/{info.name}.test.toml"


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_rule_suite_passes(path: Path) -> None:
    failures, _fired, n = suite_results(path)
    assert n > 0
    assert not failures, "\n".join(f"{name}: {'; '.join(f)} {err or ''}" for name, f, err in failures)


def test_every_shipped_rule_is_fired_by_some_case() -> None:
    fired: set[str] = set()
    for path in SUITES:
        fired |= suite_results(path)[1]
    unfired = sorted({r.id for r in shipped().rules} - fired)
    assert not unfired, f"rules no case fires: {unfired}"


def test_every_rule_is_tested_in_its_own_suite() -> None:
    """Each suite names the rules of its own rule set in `fired` (and usually `not_fired`)."""
    rs = shipped()
    for info in rs.rulesets:
        own = [r for r in rs.rules if r.ruleset == info.name]
        if not own:
            continue  # properties only (invariants.toml)
        text = (TESTS / f"{info.name}.test.toml").read_text(encoding="utf-8")
        for rule in own:
            assert re.search(rf'"{re.escape(rule.id)}"', text), (
                f"{rule.id} is not named in {info.name}.test.toml"
            )


# --- generated documentation ------------------------------------------------------------------------------


def _doc_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_rulesets_doc", ROOT / "scripts" / "gen_rulesets_doc.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rulesets_doc_is_current() -> None:
    gen = _doc_module()
    expected = gen.render(shipped())
    current = (ROOT / "docs" / "rulesets.md").read_text(encoding="utf-8")
    assert current == expected, "docs/rulesets.md is out of date: run python scripts/gen_rulesets_doc.py"


def test_rulesets_doc_lists_every_rule() -> None:
    text = (ROOT / "docs" / "rulesets.md").read_text(encoding="utf-8")
    for rule in shipped().rules:
        assert f"| `{rule.id}` |" in text
