"""End to end: each applicant archetype in examples/profiles against the shipped catalog and rules.

Each test asserts what the guide says should happen to that applicant (the archetype file's
comment quotes it): which programs are filtered and by which rule, where LA programs land, the
breadth target, and the advice given. The assertions are about reasons (rule ids) and shapes
(tiers, order of regions, counts against the catalog's own policies), not exact scores, so that
retuning a weight does not break them while changing what a rule means does.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from smartpick_rules import Recommendation, evaluate, load_catalog, load_profile
from smartpick_rules.domain.models import CALIFORNIA_REGIONS, Catalog, Program

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "examples" / "profiles"
CATALOG = ROOT / "examples" / "catalog.csv"

ARCHETYPES = [
    "im_la_low_scores",
    "failed_step1_strong_ck",
    "strong_scores_no_ca_ties",
    "spanish_speaker_la_usce",
    "old_grad_visa",
    "unmatched_reapplicant",
    "derm_low_scores",
    "psych_observerships_outside_ca",
]

#: the guide's spread: LA County, then Orange County + Inland Empire, then the rest of California, then other states
LADDER = {
    "la_county": 0,
    "orange_county": 1,
    "inland_empire": 1,
    "kern": 2,
    "central_valley": 2,
    "northern_california": 2,
    "san_diego": 2,
    "central_coast": 2,
    "out_of_state": 3,
}


@cache
def catalog() -> Catalog:
    return load_catalog(CATALOG)


@cache
def run(name: str) -> Recommendation:
    return evaluate(load_profile(PROFILES / f"{name}.toml"), catalog(), as_of=2026)


def fired(rec: Recommendation, program_id: str) -> set[str]:
    p = rec.get(program_id)
    assert p is not None
    return {a.rule_id for a in p.audit}


def excluded_by(rec: Recommendation, program_id: str) -> set[str]:
    p = rec.get(program_id)
    assert p is not None
    return {x.rule_id for x in p.exclusions}


def advice_ids(rec: Recommendation) -> set[str]:
    return {a.rule_id for a in rec.advice}


def advice_text(rec: Recommendation, rule_id: str) -> str:
    return " ".join(a.message for a in rec.advice if a.rule_id == rule_id)


def programs(specialties: set[str]) -> list[Program]:
    """The catalog's programs in these specialties."""
    return [p for p in catalog() if p.specialty.value in specialties]


def chosen_regions(rec: Recommendation) -> Counter[str]:
    return Counter(p.program.region.value for p in rec.chosen())


@pytest.mark.parametrize("name", ARCHETYPES)
def test_archetype_profiles_exist_and_evaluate(name: str) -> None:
    rec = run(name)
    assert rec.breadth.rule_id is not None, "a breadth rule sets the number of applications"
    assert len(rec.breadth.chosen) <= rec.breadth.max
    assert rec.advice, "every archetype gets some of the guide's advice"


# --- (a) Step 1 208 / Step 2 CK 224, IM in LA ------------------------------------------------------


def test_im_la_low_scores() -> None:
    rec = run("im_la_low_scores")
    tags = set(rec.profile_tags)
    assert {
        "low_step1",
        "low_step2",
        "low_scores",
        "step2_redemption",
        "strong_usce_socal",
        "la_ties",
        "strong_compensation",
    } <= tags

    im = programs({"internal_medicine"})
    # filters: a published Step 2 CK minimum above 224, and no J-1
    for p in im:
        if p.min_step2_ck is not None and p.min_step2_ck > 224:
            assert "base.min_step2_ck" in excluded_by(rec, p.id), p.id
        if not p.sponsors_j1:
            assert "base.visa_j1" in excluded_by(rec, p.id), p.id
    # a minimum of 220 or below never excludes on Step 2 CK
    assert all(
        "base.min_step2_ck" not in excluded_by(rec, p.id)
        for p in im
        if p.min_step2_ck is not None and p.min_step2_ck <= 224
    )
    # only IM is considered
    assert all(p.program.specialty == "internal_medicine" for p in rec.included())
    other = next(p for p in catalog() if p.specialty.value == "family_medicine")
    assert rec.get(other.id).excluded.rule_id == "base.specialty_not_preferred"

    # where LA programs land: community / county programs likely, university programs reaches
    la = [p for p in rec.included() if p.program.region == "la_county"]
    assert la
    for p in la:
        if p.program.program_type.value in ("community", "county_safety_net"):
            assert p.tier == "likely", (p.program.id, p.tier, p.score)
        if p.program.program_type.value == "university":
            assert p.tier == "reach", (p.program.id, p.tier)
            assert "breadth.la_university_reach" in fired(rec, p.program.id)
    flagships = [p for p in rec.included() if "academic_flagship" in p.program.tags]
    assert flagships and all(p.tier == "reach" for p in flagships)

    # breadth: 80-120+, bounded by the budget of 100; a small number of reaches (strong compensation)
    assert (rec.breadth.min, rec.breadth.max, rec.breadth.rule_id) == (80, 100, "breadth.broad_budget")
    assert rec.breadth.max_reach == 10
    chosen = rec.chosen()
    assert sum(1 for p in chosen if p.tier == "reach") <= 10
    # the spread: LA County first, then OC / Inland Empire, then the rest of California, then other states
    ranks = [LADDER[rec.get(rid).program.region.value] for rid in rec.breadth.chosen]
    assert ranks == sorted(ranks)
    assert chosen[0].program.region == "la_county"
    assert chosen_regions(rec)["out_of_state"] > 0, "the list extends out of state to reach the breadth"

    assert {
        "advice.frame_step2_improvement",
        "advice.apply_broadly_low_step2",
        "advice.apply_out_of_state",
        "advice.la_fit_statement",
    } <= advice_ids(rec)
    assert "224" in advice_text(rec, "advice.frame_step2_improvement") and "208" in advice_text(
        rec, "advice.frame_step2_improvement"
    )


# --- (b) failed Step 1 once, Step 2 CK 245 ------------------------------------------------------------


def test_failed_step1_strong_ck() -> None:
    rec = run("failed_step1_strong_ck")
    tags = set(rec.profile_tags)
    assert {"failed_attempt", "strong_step2", "step2_redemption", "low_scores"} <= tags

    mine = programs({"internal_medicine", "family_medicine"})
    one_attempt = [p for p in mine if p.max_attempts == 1]
    assert one_attempt
    for p in one_attempt:
        assert "base.max_attempts_step1" in excluded_by(rec, p.id), p.id
    # a limit of 2 or more attempts, or none, is not a filter for one failed sitting
    assert all(
        "base.max_attempts_step1" not in excluded_by(rec, p.id)
        for p in mine
        if p.max_attempts is None or p.max_attempts >= 2
    )
    # 245 clears almost every published Step 2 CK minimum
    assert all(
        "base.min_step2_ck" not in excluded_by(rec, p.id)
        for p in mine
        if p.min_step2_ck is not None and p.min_step2_ck <= 245
    )

    # the attempts penalty is specialty-dependent: mild in FM, steeper in IM
    fm = next(p for p in rec.included() if p.program.specialty == "family_medicine")
    im = next(p for p in rec.included() if p.program.specialty == "internal_medicine")
    assert "specialties.family_medicine.failed_attempt" in fired(rec, fm.program.id)
    assert "specialties.internal_medicine.failed_attempt" in fired(rec, im.program.id)
    rs_fm = next(
        a for a in rec.get(fm.program.id).audit if a.rule_id == "specialties.family_medicine.failed_attempt"
    )
    rs_im = next(
        a for a in rec.get(im.program.id).audit if a.rule_id == "specialties.internal_medicine.failed_attempt"
    )
    assert rs_fm.effect == "score -1" and rs_im.effect == "score -3"

    # LA community programs still land well: the failed attempt is "not always fatal"
    la_community = [
        p
        for p in rec.included()
        if p.program.region == "la_county" and p.program.program_type.value == "community"
    ]
    assert la_community and all(p.tier in ("likely", "target") for p in la_community)

    assert (rec.breadth.min, rec.breadth.max) == (80, 110)
    assert rec.breadth.max_reach == 3  # no 3-month hands-on Southern California block: no strong compensation
    assert {"advice.resilience_story", "advice.frame_step2_after_failure"} <= advice_ids(rec)
    assert "245" in advice_text(rec, "advice.frame_step2_after_failure")
    assert "advice.letters_address_gap" not in advice_ids(rec)  # one letter already addresses the scores


# --- (c) strong scores, no California ties --------------------------------------------------------------


def test_strong_scores_no_ca_ties() -> None:
    rec = run("strong_scores_no_ca_ties")
    tags = set(rec.profile_tags)
    assert "strong_step2" in tags
    assert not tags & {"low_scores", "ca_ties", "la_ties", "needs_breadth"}

    # scores are not the problem: no IM program is filtered (US citizen, 252, first attempts, 2025 graduate)
    im = programs({"internal_medicine"})
    assert all(rec.get(p.id).excluded is None for p in im)

    # LA fit is: every California program is marked down for the missing ties, and lands as a target
    la = [p for p in rec.included() if p.program.region == "la_county"]
    assert la
    for p in la:
        assert "la_ties.no_california_ties" in fired(rec, p.program.id)
        assert p.tier == "target", (p.program.id, p.tier)
    # no low scores: flagships are not forced to reach
    assert all("breadth.flagship_reach" not in fired(rec, p.program.id) for p in la)

    # Texas, where the ties are, ranks first; the list reaches other states
    tx = [p for p in rec.included() if p.program.state == "TX"]
    assert tx and all("la_ties.other_state_ties" in fired(rec, p.program.id) for p in tx)
    assert rec.chosen()[0].program.state == "TX"
    regions = chosen_regions(rec)
    assert regions["out_of_state"] > regions["la_county"] > 0

    # fewer applications for a strong profile, within the budget of 60
    assert (rec.breadth.min, rec.breadth.max, rec.breadth.rule_id) == (60, 60, "breadth.focused_budget")
    assert {"advice.no_california_ties", "advice.california_usce"} <= advice_ids(rec)
    assert not advice_ids(rec) & {
        "advice.apply_broadly_low_step2",
        "advice.frame_step2_improvement",
        "advice.interview_communication",
    }


# --- (d) Spanish speaker with 6 months hands-on in LA ------------------------------------------------------


def test_spanish_speaker_la_usce() -> None:
    rec = run("spanish_speaker_la_usce")
    tags = set(rec.profile_tags)
    assert {
        "spanish_speaker",
        "la_language",
        "safety_net_work",
        "strong_usce_socal",
        "la_ties",
        "us_letters",
        "below_avg_step2",
    } <= tags

    # no visa filter; USCE requirements are met
    assert not any(x.rule_id.startswith("base.visa") for p in rec.excluded() for x in p.exclusions)
    assert not any(x.rule_id == "base.usce_required" for p in rec.excluded() for x in p.exclusions)

    # LA safety-net / FQHC programs and Spanish-speaking populations are boosted
    la = [p for p in rec.included() if p.program.region == "la_county"]
    safety = [
        p
        for p in la
        if p.program.program_type.value == "county_safety_net" or {"safety_net", "fqhc"} & set(p.program.tags)
    ]
    assert safety and all("la_ties.safety_net_program" in fired(rec, p.program.id) for p in safety)
    spanish = [p for p in la if "spanish_speaking_population" in p.program.tags]
    assert spanish and all("la_ties.spanish_speaking_population" in fired(rec, p.program.id) for p in spanish)
    community = [p for p in la if p.program.program_type.value in ("community", "county_safety_net")]
    assert community and all(p.tier == "likely" for p in community)

    # an LA-heavy list: it starts in LA County, and LA County is its largest region
    regions = chosen_regions(rec)
    assert rec.chosen()[0].program.region == "la_county"
    assert regions.most_common(1)[0][0] == "la_county"
    assert (rec.breadth.min, rec.breadth.max) == (80, 90)
    assert {"advice.la_fit_statement", "advice.apply_out_of_state"} <= advice_ids(rec)
    assert "advice.california_usce" not in advice_ids(rec)


# --- (e) graduated 2012, needs H-1B ------------------------------------------------------------------------


def test_old_grad_visa() -> None:
    rec = run("old_grad_visa")
    tags = set(rec.profile_tags)
    assert {"old_graduate", "needs_breadth", "recent_usce"} <= tags
    assert "low_scores" not in tags  # 221 / 231 are not low by the guide's bands

    im = programs({"internal_medicine"})
    # every published graduation-year limit (3-10 years) excludes a 2012 graduate; every non-H-1B program too
    for p in im:
        if p.max_years_since_graduation is not None:
            assert "base.years_since_graduation" in excluded_by(rec, p.id), p.id
        if not p.sponsors_h1b:
            assert "base.visa_h1b" in excluded_by(rec, p.id), p.id
    eligible = rec.included()
    assert all(p.program.sponsors_h1b and p.program.max_years_since_graduation is None for p in eligible)

    # a short list, widened out of state
    assert len(eligible) < 80
    assert (rec.breadth.min, rec.breadth.max) == (80, 120)
    assert len(rec.chosen()) == len(eligible)
    regions = chosen_regions(rec)
    assert regions["out_of_state"] > sum(n for r, n in regions.items() if r in CALIFORNIA_REGIONS)
    assert {"advice.thin_pool", "advice.h1b_pool", "advice.highlight_recent_experience"} <= advice_ids(rec)
    assert "step2_redemption" not in tags  # Step 1 221 is not low: nothing to redeem
    assert "advice.continued_engagement" not in advice_ids(rec)


# --- (f) unmatched last cycle, reapplying --------------------------------------------------------------------


def test_unmatched_reapplicant() -> None:
    rec = run("unmatched_reapplicant")
    tags = set(rec.profile_tags)
    assert {"prior_unmatched", "low_step2", "low_scores", "la_research", "safety_net_work"} <= tags

    mine = {"internal_medicine", "family_medicine", "preliminary_medicine", "transitional_year"}
    for p in programs(mine):
        if p.min_step2_ck is not None and p.min_step2_ck > 219:
            assert "base.min_step2_ck" in excluded_by(rec, p.id), p.id
    # backups are in the list, IMG-friendly programs get the SOAP bonus
    specs = {p.program.specialty.value for p in rec.chosen()}
    assert {"internal_medicine", "family_medicine", "preliminary_medicine", "transitional_year"} <= specs
    friendly = [p for p in rec.included() if "img_friendly" in p.program.tags]
    assert friendly and all(
        f"specialties.{p.program.specialty.value}.soap_backup" in fired(rec, p.program.id) for p in friendly
    )

    # the top of the 80-120+ range, up to the budget of 130; a large out-of-state share
    assert (rec.breadth.min, rec.breadth.max, rec.breadth.rule_id) == (100, 130, "breadth.reapplicant_budget")
    regions = chosen_regions(rec)
    assert regions["out_of_state"] >= 0.4 * len(rec.chosen())
    assert {
        "advice.soap_backup",
        "advice.gap_year_plan",
        "advice.apply_broadly_low_step2",
        "specialties.transitional_year.foot_in_the_door",
    } <= advice_ids(rec)


# --- (g) dermatology with low scores --------------------------------------------------------------------------


def test_derm_low_scores() -> None:
    rec = run("derm_low_scores")
    tags = set(rec.profile_tags)
    assert {"low_step1", "low_step2", "low_scores"} <= tags

    derm = programs({"dermatology"})
    for p in derm:
        if p.min_step2_ck is not None and p.min_step2_ck > 221:
            assert "base.min_step2_ck" in excluded_by(rec, p.id), p.id
    eligible = rec.included()
    # near empty (under a quarter of the catalog's dermatology programs: most publish no minimum),
    # and every remaining dermatology program is a long-shot reach
    assert 0 < len(eligible) < len(derm) / 4
    assert all(p.program.specialty == "dermatology" and p.tier == "reach" for p in eligible)
    for p in eligible:
        assert "specialties.dermatology.low_score_tolerance" in fired(rec, p.program.id)
    la = [p for p in eligible if p.program.region == "la_county"]
    assert la and all("specialties.dermatology.la_competition" in fired(rec, p.program.id) for p in la)
    # only a handful of reaches are chosen
    assert rec.breadth.max_reach == 3
    assert len(rec.chosen()) == 3
    assert (rec.breadth.min, rec.breadth.max) == (40, 40)

    ids = advice_ids(rec)
    assert {"specialties.dermatology.realism_advice", "advice.thin_pool", "advice.budget_below_range"} <= ids
    text = advice_text(rec, "specialties.dermatology.realism_advice")
    for alt in ("internal medicine", "family medicine", "pediatrics", "psychiatry", "transitional year"):
        assert alt in text


# --- (h) psychiatry with observerships outside California only --------------------------------------------------


def test_psych_observerships_outside_ca() -> None:
    rec = run("psych_observerships_outside_ca")
    tags = set(rec.profile_tags)
    assert "observership_usce" in tags
    assert not tags & {"hands_on_usce", "ca_ties", "la_ties", "low_scores", "strong_usce_socal"}

    psych = programs({"psychiatry"})
    for p in psych:
        if p.min_step2_ck is not None and p.min_step2_ck > 232:
            assert "base.min_step2_ck" in excluded_by(rec, p.id), p.id
        if not p.sponsors_j1:
            assert "base.visa_j1" in excluded_by(rec, p.id), p.id
    # observerships satisfy no USCE requirement outright: a penalty, not a filter
    required = [p for p in rec.included() if p.program.usce_required]
    assert required and all(
        "strengths.usce_required_observer_only" in fired(rec, p.program.id) for p in required
    )

    # the list leans to Illinois and New York, where the letters and ties are; LA programs are the California share
    chosen = rec.chosen()
    first_states = {p.program.state for p in chosen[:2]}
    assert first_states <= {"IL", "NY"}
    ny_il = [p for p in rec.included() if p.program.state in ("NY", "IL")]
    assert ny_il and all("la_ties.other_state_experience" in fired(rec, p.program.id) for p in ny_il)
    la = [p for p in rec.included() if p.program.region == "la_county"]
    assert la and all(p.chosen for p in la)
    assert all("la_ties.no_california_ties" in fired(rec, p.program.id) for p in la)
    regions = chosen_regions(rec)
    assert regions["out_of_state"] > regions["la_county"]

    assert (rec.breadth.min, rec.breadth.max, rec.breadth.rule_id) == (60, 80, "breadth.focused_budget")
    assert {
        "specialties.psychiatry.img_openness_advice",
        "advice.hands_on_over_observership",
        "advice.no_california_ties",
        "advice.california_usce",
    } <= advice_ids(rec)
    # at national scale the psychiatry pool open to this applicant is not thin
    assert len(rec.included()) >= 80 and "advice.thin_pool" not in advice_ids(rec)
