"""Engine semantics users rely on: order independence, the firing budget, JSON round trip,
applicant-only clauses decided once, and why-not explanations."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

import smartpick_rules as sr
from smartpick_rules.ruleset.load import load_rules_from_text

ROOT = Path(__file__).parent.parent
RULES = '''
[ruleset]
name = "sem"
version = "2"
[chance]
base = 0.1
target = 0.08
likely = 0.15
[[group]]
name = "academic"
programs = "program.program_type == 'university' or 'academic_flagship' in program.tags"
[[rule]]
id = "sem.low"
stage = "profile"
when = "applicant.step2_ck.score < 230"
then = { tag = "low", odds = 0.740818 }
explain = "Step 2 CK {applicant.step2_ck.score} is below 230"
[[rule]]
id = "sem.min"
stage = "program"
salience = 100
when = ["known(program.min_step2_ck)", "applicant.step2_ck.score < program.min_step2_ck"]
then = { exclude = "below minimum {program.min_step2_ck}" }
[[rule]]
id = "sem.friendly"
stage = "program"
salience = 5
when = "program.img_share >= 0.3 or 'img_friendly' in program.tags"
then = { tag = "friendly", odds = 2.117 }
[[rule]]
id = "sem.friendly_la"
stage = "program"
salience = 5
when = "has('friendly') and program.region == 'la_county'"
then = { tag = "friendly_la", odds = 1.52959, priority = 30 }
[[rule]]
id = "sem.not_friendly"
stage = "program"
salience = 50
when = "not has('friendly') and has('low')"
then = { odds = 0.543351, tag = "hard" }
[[rule]]
id = "sem.flagship"
stage = "program"
salience = 60
when = "'academic_flagship' in program.tags and has('low')"
then = { tier_at_most = "reach" }
[[rule]]
id = "sem.community"
stage = "program"
when = "program.program_type in ['community', 'county_safety_net']"
then = { odds = 1.39097, priority = 5 }
[[rule]]
id = "sem.breadth"
stage = "list"
when = "list.size > 0"
then = { breadth = { min = "min(10, list.size)", max = "min(25, list.size)" }, at_most = { academic = 3 } }
[[rule]]
id = "sem.advice"
stage = "list"
when = "list.la_county_count < 10"
then = { advice = "only {list.la_county_count} LA programs" }
'''


@pytest.fixture(scope="module")
def catalog(small_catalog: sr.Catalog) -> sr.Catalog:
    return small_catalog


@pytest.fixture(scope="module")
def profile() -> sr.Profile:
    return sr.profile_from_data({"graduation_year": 2017, "step2_ck": {"score": 224}, "step1": {"passed": True}})


def test_shuffled_catalog_and_rules_give_identical_json(catalog: sr.Catalog, profile: sr.Profile) -> None:
    rules = load_rules_from_text([("sem.toml", RULES)])
    want = sr.evaluate(profile, catalog, rules, as_of=2026).to_json()
    rnd = random.Random(7)
    for _ in range(5):
        programs = list(catalog.programs)
        rnd.shuffle(programs)
        shuffled_rules = list(rules.rules)
        rnd.shuffle(shuffled_rules)
        groups = list(rules.groups)
        rnd.shuffle(groups)
        # a new RuleSet: it must not share the compiled plan cached on the original
        rs2 = sr.RuleSet(tuple(shuffled_rules), rules.rulesets, rules.chance, rules.estimates, tuple(groups), rules.levers)
        got = sr.evaluate(profile, sr.Catalog.of(programs, synthetic=catalog.synthetic), rs2, as_of=2026).to_json()
        assert got == want


def test_json_round_trips_through_cattrs(catalog: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, catalog, load_rules_from_text([("sem.toml", RULES)]), as_of=2026)
    text = rec.to_json()
    again = sr.Recommendation.from_json(text)
    assert again.to_json() == text
    data = json.loads(text)
    assert data["schema_version"] == 4 and data["provenance"]["schema_version"] == 4
    assert data["provenance"]["rulesets"] == [{"name": "sem", "version": "2", "sha256": rec.provenance.rulesets[0].sha256}]
    assert data["provenance"]["as_of_year"] == 2026


def test_audit_reads_like_the_rules(catalog: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, catalog, load_rules_from_text([("sem.toml", RULES)]), as_of=2026)
    excluded = rec.excluded()
    assert excluded, "the small catalog has programs with published minimums above 224"
    r = excluded[0]
    assert r.excluded is not None and r.excluded.rule_id == "sem.min"
    assert r.excluded.reason == f"below minimum {r.program.min_step2_ck}"
    entry = next(a for a in r.audit if a.rule_id == "sem.min")
    assert entry.values == {"program.min_step2_ck": r.program.min_step2_ck, "applicant.step2_ck.score": 224}
    assert (entry.file, entry.line) == ("sem.toml", 18)
    # the audit's running chance ends at the program's chance, which is the base odds times
    # every factor the audit shows
    kept = rec.included()[0]
    after = [a.chance_after for a in kept.audit if a.chance_after is not None]
    assert after[-1] == kept.chance
    odds = 0.1 / 0.9 * math.prod(a.odds for a in kept.audit if a.odds is not None)
    assert kept.chance == pytest.approx(odds / (1 + odds), rel=1e-12)
    # higher salience first inside the program stage
    prog = [a.salience for a in kept.audit if a.stage == "program"]
    assert prog == sorted(prog, reverse=True)


def test_why_not_names_the_failing_clause(catalog: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, catalog, load_rules_from_text([("sem.toml", RULES)]), as_of=2026)
    target = next(r for r in rec.programs if r.program.region.value != "la_county" and r.excluded is None)
    why = {w.rule_id: w for w in rec.why_not(target.program.id)}
    w = why["sem.friendly_la"]
    assert w.values.get("program.region", None) == target.program.region.value or "has(" in w.clause
    text = rec.explain(target.program.id)
    assert "Rules considered but not fired" in text and "sem.friendly_la" in text


def test_firing_budget_stops_a_runaway_rule_set(catalog: sr.Catalog, profile: sr.Profile) -> None:
    rules = load_rules_from_text([("sem.toml", RULES)])
    with pytest.raises(sr.EvaluationError) as info:
        sr.evaluate(profile, catalog, rules, as_of=2026, limits=sr.Limits(max_firings=20))
    assert info.value.code == "budget_exceeded"
    assert info.value.rule_id


def test_applicant_only_clauses_are_decided_once(catalog: sr.Catalog, profile: sr.Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    from smartpick_rules.language import interp

    rules = load_rules_from_text([("sem.toml", RULES)])
    calls = {"n": 0}
    original = interp.read_path

    def counting(path: object, scope: interp.Scope) -> object:
        if getattr(path, "dotted", "") == "applicant.step2_ck.score" and scope.program is None:
            calls["n"] += 1
        return original(path, scope)  # type: ignore[arg-type]

    monkeypatch.setattr(interp, "read_path", counting)
    sr.evaluate(profile, catalog, rules, as_of=2026)
    # profile rule + the gate of sem.min (+ breadth of nothing): a handful, not once per program
    assert calls["n"] < 10 < len(catalog)


def test_profile_and_catalog_as_plain_data(catalog: sr.Catalog) -> None:
    rules = load_rules_from_text([("sem.toml", RULES)])
    from smartpick_rules.domain.converter import unstructure

    programs = [unstructure(p) for p in catalog.programs]
    rec = sr.evaluate({"graduation_year": 2017, "step2_ck": {"score": 224}}, programs, rules, as_of=2026)
    assert len(rec.programs) == len(catalog)
    with pytest.raises(sr.InputError) as info:
        sr.evaluate({"graduation_year": 2017, "step2_ck": {"scor": 224}}, programs, rules, as_of=2026)
    assert info.value.diagnostics[0].field_path == "$.step2_ck.scor"


def test_unknown_engine_is_a_clear_error(catalog: sr.Catalog, profile: sr.Profile) -> None:
    with pytest.raises(sr.EngineUnavailable, match="unknown engine `rete`"):
        sr.evaluate(profile, catalog, load_rules_from_text([("sem.toml", RULES)]), engine="rete")


def test_list_items_catalog_tags_are_the_catalogs_in_every_evaluation() -> None:
    """``item.program_tags`` is the catalog's ``tags`` and ``item.tags`` the rules' tags. The
    catalog's column cache is shared by every evaluation: a list rule reading one must read the
    catalog's, and leave ``program.tags`` as the catalog has it for the next evaluation."""
    programs = [
        {"id": "la", "name": "LA", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community", "tags": ["img_friendly"]},
        {"id": "tx", "name": "TX", "specialty": "internal_medicine", "state": "TX", "region": "out_of_state", "program_type": "community"},
    ]
    catalog = sr.catalog_from_data(programs)
    listing = load_rules_from_text([("list.toml", '''
[ruleset]
name = "listing"
[[rule]]
id = "listing.far"
stage = "program"
when = "program.region == 'out_of_state'"
then = { tag = "far" }
[[rule]]
id = "listing.friendly"
stage = "list"
when = "count(list.programs, 'img_friendly' in item.program_tags and len(item.program_tags) == 1) == 1"
then = { advice = "one IMG-friendly program" }
[[rule]]
id = "listing.far_items"
stage = "list"
when = "count(list.programs, 'far' in item.tags and len(item.tags) == 1) == 1"
then = { advice = "one program far away" }
''')])
    reading = load_rules_from_text([("prog.toml", '''
[ruleset]
name = "reading"
[[rule]]
id = "reading.friendly"
stage = "program"
when = "'img_friendly' in program.tags and len(program.tags) == 1"
then = { tag = "friendly" }
''')])
    profile = sr.profile_from_data({"graduation_year": 2020})
    first = sr.evaluate(profile, catalog, listing, as_of=2026)
    assert [a.rule_id for a in first.advice] == ["listing.far_items", "listing.friendly"]
    second = sr.evaluate(profile, catalog, reading, as_of=2026)
    assert {r.program.id: r.tags for r in second.programs} == {"la": ("friendly",), "tx": ()}


def test_results_in_list_order_each_eligible_program_chosen_or_saying_why(catalog: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, catalog, load_rules_from_text([("sem.toml", RULES)]), as_of=2026)
    programs = list(rec.programs)
    eligible = [r for r in programs if r.excluded is None]
    excluded = [r for r in programs if r.excluded is not None]
    assert excluded and programs == eligible + excluded
    keys = [(-r.priority, -(r.chance or 0.0), r.program.id) for r in eligible]
    assert keys == sorted(keys), "eligible programs by priority, then chance, then id"
    assert [r.program.id for r in excluded] == sorted(r.program.id for r in excluded)
    for r in excluded:
        assert (r.chance, r.tier, r.chosen, r.left_off) == (None, None, False, None)
    for r in eligible:
        assert (r.left_off is None) == r.chosen, r.program.id
        band = "likely" if r.chance >= 0.15 else "target" if r.chance >= 0.08 else "reach"
        ceiling = any(a.rule_id == "sem.flagship" for a in r.audit)
        assert r.tier == ("reach" if ceiling else band), r.program.id
    chosen = rec.chosen()
    assert [r.program.id for r in chosen] == list(rec.breadth.chosen)
    assert len(chosen) == rec.breadth.max == 25
    assert sum(r.academic for r in chosen) <= 3 == rec.breadth.at_most["academic"]
    assert rec.expected_interviews == pytest.approx(sum(r.chance or 0.0 for r in chosen), rel=1e-12)
    assert rec.breadth.eligible_expected_interviews == pytest.approx(sum(r.chance or 0.0 for r in eligible), rel=1e-12)
    held = [r for r in eligible if not r.chosen and r.academic and r.left_off and "academic" in r.left_off]
    assert all(r.left_off == "the list already holds the 3 academic programs it allows" for r in held)


def test_top_movers_rank_exclusion_then_ceilings_then_the_largest_odds() -> None:
    # the chance is high enough for both ceilings to hold "small" down (see the next test)
    rules = load_rules_from_text([("m.toml", '''
[ruleset]
name = "m"
[chance]
base = 0.6
target = 0.08
likely = 0.2
[[rule]]
id = "m.profile_odds"
stage = "profile"
when = "true"
then = { odds = 0.9 }
[[rule]]
id = "m.exclude"
stage = "program"
when = "program.positions > 5"
then = { exclude = "too big" }
[[rule]]
id = "m.tier"
stage = "program"
when = "true"
then = { tier_at_most = "target" }
[[rule]]
id = "m.cap"
stage = "program"
when = "true"
then = { chance_cap = 0.3 }
[[rule]]
id = "m.halve"
stage = "program"
when = "true"
then = { odds = 0.5 }
[[rule]]
id = "m.triple"
stage = "program"
when = "true"
then = { odds = 3 }
[[rule]]
id = "m.tag"
stage = "program"
when = "true"
then = { tag = "seen" }
''')])
    programs = [
        {"id": "big", "name": "Big", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community", "positions": 8},
        {"id": "small", "name": "Small", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community"},
    ]
    rec = sr.evaluate({"graduation_year": 2020}, programs, rules, as_of=2026)
    big, small = rec.get("big"), rec.get("small")
    assert big is not None and small is not None
    assert [a.rule_id for a in big.top_movers(6)] == ["m.exclude", "m.tier", "m.cap", "m.triple", "m.halve", "m.profile_odds"]
    assert small.tier == "target" and small.chance == 0.3
    assert [a.rule_id for a in small.top_movers(2, include_profile=False)] == ["m.tier", "m.cap"]
    assert [a.movement() for a in small.top_movers(5)] == [
        (1e8, "tier at most target"),
        (1e7, "chance at most 30%"),
        (pytest.approx(math.log(3)), "odds x3"),
        (pytest.approx(math.log(2)), "odds x0.5"),
        (pytest.approx(-math.log(0.9)), "odds x0.9"),
    ]
    assert all(a.movement() is None for a in small.audit if a.rule_id == "m.tag")


def test_a_ceiling_that_did_not_hold_the_program_down_is_not_a_mover() -> None:
    # A cap at "target" on a program that ended "reach", and a chance ceiling above its final
    # chance, did not move it: the reports' reasons are the entries that did. An entry with a
    # slack ceiling and odds weighs for its odds. The audit keeps every entry.
    rules = load_rules_from_text([("s.toml", '''
[ruleset]
name = "s"
[chance]
base = 0.1
target = 0.08
likely = 0.2
[[rule]]
id = "s.reach"
stage = "program"
when = "true"
then = { tier_at_most = "reach" }
[[rule]]
id = "s.target"
stage = "program"
when = "true"
then = { tier_at_most = "target" }
[[rule]]
id = "s.tight"
stage = "program"
when = "true"
then = { chance_cap = 0.05 }
[[rule]]
id = "s.loose"
stage = "program"
when = "true"
then = { chance_cap = 0.9 }
[[rule]]
id = "s.both"
stage = "program"
when = "true"
then = { tier_at_most = "likely", odds = 3 }
[[rule]]
id = "s.halve"
stage = "program"
when = "true"
then = { odds = 0.5 }
''')])
    programs = [{"id": "p", "name": "P", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community"}]
    rec = sr.evaluate({"graduation_year": 2020}, programs, rules, as_of=2026)
    p = rec.get("p")
    assert p is not None and p.tier == "reach" and p.chance == 0.05
    assert [a.rule_id for a in p.top_movers(6)] == ["s.reach", "s.tight", "s.both", "s.halve"]
    assert {a.rule_id for a in p.audit} >= {"s.target", "s.loose"}
    # the entry's own movement is unchanged: only the program's ranking of it is
    both = next(a for a in p.audit if a.rule_id == "s.both")
    assert both.movement() == (1e8, "tier at most likely")
