"""End to end, as an advisor reads the lists: each archetype in examples/profiles against the
shipped sample catalog and rule sets.

The assertions are an IMG advisor's expectations, written from the guide and the public figures
(each archetype file quotes what the guide says should happen), not exact numbers: a list holds
the breadth the guide asks for or says in numbers why it cannot; LA County comes first, then the
guide's ladder outward; tiers are believable for the profile (no "likely" where a public figure
says the applicant sits under the typical screen or carries a flag programs screen on); the
applicant's preferences are visible; a better profile never fares worse. Retuning a factor must
not break them; changing what the model means should.
"""

from __future__ import annotations

import itertools
from collections import Counter
from functools import cache
from pathlib import Path

import attrs
import pytest

from smartpick_rules import Profile, Recommendation, evaluate, load_catalog, load_profile, sample_catalog_path
from smartpick_rules.domain.changes import apply_changes
from smartpick_rules.domain.models import Catalog

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "examples" / "profiles"

ARCHETYPES = [
    "im_la_low_scores",
    "failed_step1_strong_ck",
    "strong_scores_no_ca_ties",
    "spanish_speaker_la_usce",
    "old_grad_visa",
    "unmatched_reapplicant",
    "derm_low_scores",
    "psych_observerships_outside_ca",
    "weak_no_usce",
    "failed_low_step2",
]

#: the guide's ladder outward from LA; a preferred region or ties can lift a program a rung
LADDER = {
    "la_county": 0,
    "orange_county": 1,
    "inland_empire": 1,
    "san_diego": 1,
    "kern": 2,
    "central_valley": 2,
    "central_coast": 3,
    "northern_california": 3,
    "out_of_state": 4,
}
TIER_RANK = {None: 0, "reach": 1, "target": 2, "likely": 3}


@cache
def catalog() -> Catalog:
    return load_catalog(sample_catalog_path())


@cache
def profile(name: str) -> Profile:
    return load_profile(PROFILES / f"{name}.toml")


@cache
def run(name: str) -> Recommendation:
    return evaluate(profile(name), catalog(), as_of=2026)


def advice_ids(rec: Recommendation) -> set[str]:
    return {a.rule_id for a in rec.advice}


def im(rec: Recommendation) -> list:  # type: ignore[type-arg]
    return [r for r in rec.programs if r.chance is not None and r.program.specialty.value == "internal_medicine"]


# --- what every list owes its applicant -----------------------------------------------------------


@pytest.mark.parametrize("name", ARCHETYPES)
def test_the_list_reaches_its_breadth_or_says_in_numbers_why_not(name: str) -> None:
    rec = run(name)
    b = rec.breadth
    chosen = rec.chosen()
    assert b.rule_id is not None, "a breadth rule sets the number of applications"
    assert len(chosen) <= b.max
    held_back = sum((b.shortfall.held_back if b.shortfall else {}).values())
    if b.eligible >= b.min and held_back == 0:
        assert len(chosen) >= b.min, f"{len(chosen)} chosen, breadth {b.min}-{b.max}, {b.eligible} eligible"
        assert b.shortfall is None
    if len(chosen) < b.min:
        s = b.shortfall
        assert s is not None, "a short list says so"
        assert (s.wanted, s.chosen, s.eligible) == (b.min, len(chosen), b.eligible)
        text = s.describe()
        assert str(b.min) in text and str(len(chosen)) in text
        assert "advice.list_short" in advice_ids(rec)


@pytest.mark.parametrize("name", ARCHETYPES)
def test_every_eligible_program_off_the_list_says_why(name: str) -> None:
    rec = run(name)
    for r in rec.programs:
        if r.excluded is not None:
            assert r.chance is None and r.tier is None and r.left_off is None
        elif r.chosen:
            assert r.left_off is None
        else:
            assert r.left_off, r.program.id


@pytest.mark.parametrize("name", ARCHETYPES)
def test_expected_interviews_are_the_sum_of_the_chosen_chances(name: str) -> None:
    rec = run(name)
    total = sum(r.chance for r in rec.chosen() if r.chance is not None)
    assert rec.expected_interviews == pytest.approx(total)
    if rec.expected_interviews < (rec.interview_target or 0):
        assert advice_ids(rec) & {"advice.few_expected_interviews", "advice.breadth_cannot_close_the_gap"}


@pytest.mark.parametrize("name", ARCHETYPES)
def test_the_list_runs_from_la_county_outward(name: str) -> None:
    """The guide's ladder: in the chosen list, a program never comes before one two rungs nearer LA,
    except where the applicant's preferences or ties lift it, or places kept for other states."""
    rec = run(name)
    prefs = {r.value for r in profile(name).preferences.regions}
    chosen = [r for r in rec.chosen() if r.program.region.value not in prefs and r.priority < 15]
    rungs = [LADDER[r.program.region.value] for r in chosen if r.program.region.value != "out_of_state"]
    assert all(b >= a - 1 for a, b in itertools.pairwise(rungs)), rungs
    la = [r for r in rec.chosen() if r.program.region.value == "la_county"]
    if la and "la_county" in prefs:
        assert rec.chosen()[0].program.region.value == "la_county"


@pytest.mark.parametrize("name", ARCHETYPES)
def test_tiers_are_bands_of_chance_lowered_only_by_flags(name: str) -> None:
    rec = run(name)
    model_likely, model_target = 0.2, 0.06
    for r in rec.programs:
        if r.chance is None:
            continue
        band = "likely" if r.chance >= model_likely else "target" if r.chance >= model_target else "reach"
        assert TIER_RANK[r.tier] <= TIER_RANK[band], (r.program.id, r.chance, r.tier)
        if TIER_RANK[r.tier] < TIER_RANK[band]:
            assert any("tier at most" in a.effect for a in r.audit), r.program.id


# --- archetype by archetype --------------------------------------------------------------------


def test_a_im_la_low_scores_has_no_likely_la_program() -> None:
    """Step 1 208 / Step 2 CK 224: under the mean IMG interview cutoff of 228 (APDIM 2017), so no
    LA County IM program is 'likely'; the list goes to the budget and the advice says the expected
    interviews fall short."""
    rec = run("im_la_low_scores")
    la_im = [r for r in im(rec) if r.program.region.value == "la_county"]
    assert la_im and not [r for r in la_im if r.tier == "likely"]
    assert rec.breadth.min == 80 and rec.breadth.max == 100
    chosen = rec.chosen()
    assert Counter(r.tier for r in chosen)["likely"] <= len(chosen) // 10
    # the academic reach programs are capped; the bulk is community and affiliated programs
    assert sum(1 for r in chosen if r.academic) <= (rec.breadth.at_most.get("academic") or 0)
    assert advice_ids(rec) >= {"advice.frame_step2_improvement", "advice.soap_plan", "advice.apply_broadly_low_step2"}


def test_b_failed_step1_is_never_likely() -> None:
    """A failed attempt is a flag 74-82% of programs weigh (NRMP PD surveys): no program is 'likely'."""
    rec = run("failed_step1_strong_ck")
    assert not [r for r in rec.programs if r.tier == "likely"]
    assert "advice.resilience_story" in advice_ids(rec)
    strong = evaluate(apply_changes(profile("failed_step1_strong_ck"), ["step1.attempts = 1"]), catalog(), as_of=2026)
    # one failed sitting fewer raises every chance
    for r in rec.programs:
        other = strong.get(r.program.id)
        assert other is not None
        if r.chance is not None:
            assert other.chance is not None and other.chance >= r.chance


def test_c_strong_scores_are_likely_at_community_programs() -> None:
    rec = run("strong_scores_no_ca_ties")
    community = [r for r in im(rec) if r.program.program_type.value == "community" and r.program.region.value == "out_of_state"]
    assert community and sum(1 for r in community if r.tier == "likely") > len(community) // 2
    assert rec.breadth.min == 60, "no red flag: the focused breadth"
    assert "advice.no_california_ties" in advice_ids(rec)


def test_d_spanish_speaker_with_la_experience_fits_la() -> None:
    rec = run("spanish_speaker_la_usce")
    la = [r for r in rec.programs if r.chance is not None and r.program.region.value == "la_county"]
    assert la and any(r.tier in ("likely", "target") for r in la)
    spanish = [r for r in la if "spanish_speaking_population" in r.program.tags]
    assert spanish and all(any(a.rule_id == "la_ties.spanish_speaking_population" for a in r.audit) for r in spanish)


def test_e_old_graduate_needing_h1b_is_told_what_widens_the_pool() -> None:
    rec = run("old_grad_visa")
    assert not [r for r in rec.programs if r.tier == "likely"], "graduated 14 years ago: a flag programs screen on"
    assert "advice.h1b_pool" in advice_ids(rec)
    if rec.shortfall is not None:
        assert any("J-1" in what for what, _n in rec.shortfall.wideners)
    # in proportion: 14 years out fares worse than 6 years out, all else equal
    six = evaluate(apply_changes(profile("old_grad_visa"), ["graduation_year = 2020"]), catalog(), as_of=2026)
    for r in rec.programs:
        if r.chance is not None:
            other = six.get(r.program.id)
            assert other is not None and other.chance is not None and other.chance > r.chance


def test_f_reapplicant_gets_a_broad_list_and_soap_planning() -> None:
    rec = run("unmatched_reapplicant")
    assert rec.breadth.min >= 100
    assert {"advice.soap_backup", "advice.gap_year_plan"} <= advice_ids(rec)


def test_g_dermatology_hopeful_is_pointed_to_the_tolerant_fields() -> None:
    rec = run("derm_low_scores")
    derm = [r for r in rec.programs if r.chance is not None]
    assert derm and all(r.tier == "reach" for r in derm)
    # the guide's first step ("Choose Specialties Realistically") is the first thing the applicant reads
    assert rec.advice[0].rule_id == "specialties.dermatology.realism_advice"
    assert rec.advice[1].rule_id == "advice.breadth_cannot_close_the_gap"
    s = rec.shortfall
    assert s is not None, "a dermatology-only pool cannot reach the breadth"
    widened = dict(s.wideners)
    assert widened.get("Add internal medicine as a second specialty", 0) > 0
    assert widened.get("Add family medicine as a second specialty", 0) > 0
    la = [r for r in rec.chosen() if r.program.region.value == "la_county"]
    if any(r.program.region.value == "la_county" for r in derm):
        assert la, "the LA dermatology programs the applicant has ties to come first"


def test_h_observerships_outside_california_keep_other_states_in_the_list() -> None:
    rec = run("psych_observerships_outside_ca")
    assert rec.breadth.at_least.get("other_states", 0) >= 20 or rec.breadth.min <= 80
    assert "advice.hands_on_over_observership" in advice_ids(rec)


def test_i_weakest_applicant_gets_breadth_honest_chances_and_the_gap_advice() -> None:
    rec = run("weak_no_usce")
    chosen = rec.chosen()
    assert chosen and all(r.tier == "reach" for r in chosen)
    assert rec.expected_interviews < 2
    assert {"advice.step2_filter_risk", "advice.breadth_cannot_close_the_gap"} <= advice_ids(rec)
    # even every eligible program cannot reach the interview target: said first, before the
    # advice about a list that cannot work as it stands (it was seventh of eleven)
    assert rec.breadth.eligible_expected_interviews < (rec.interview_target or 0)
    assert rec.advice[0].rule_id == "advice.breadth_cannot_close_the_gap"
    if rec.shortfall is not None:
        assert dict(rec.shortfall.wideners).get("Add family medicine as a second specialty", 0) > 0


def test_j_failed_attempt_and_low_step2_goes_to_the_budget() -> None:
    rec = run("failed_low_step2")
    assert len(rec.chosen()) == min(100, rec.breadth.eligible)
    assert not [r for r in rec.programs if r.tier == "likely"]
    fm = [r.chance for r in rec.programs if r.chance is not None and r.program.specialty.value == "family_medicine"]
    im_ = [r.chance for r in rec.programs if r.chance is not None and r.program.specialty.value == "internal_medicine"]
    assert fm and im_ and sum(fm) / len(fm) > sum(im_) / len(im_), "family medicine screens lower and forgives attempts more"


# --- preferences and monotonicity ----------------------------------------------------------------


def test_preferred_regions_move_up_the_list() -> None:
    """The applicant who asks for Kern and the Central Valley (and not LA) finds them first in the
    list, ahead of the rest of Southern California."""
    base = profile("im_la_low_scores")
    asked = apply_changes(base, ['preferences.regions = ["kern", "central_valley"]'])
    rec = evaluate(asked, catalog(), as_of=2026)
    chosen = rec.chosen()
    wanted = [k for k, r in enumerate(chosen) if r.program.region.value in ("kern", "central_valley")]
    socal = [k for k, r in enumerate(chosen) if r.program.region.value in ("orange_county", "inland_empire", "san_diego")]
    assert wanted, "the preferred regions' eligible programs are in the list"
    if socal:
        assert max(wanted) < min(socal)
    assert chosen[0].program.region.value in ("kern", "central_valley")


def test_la_safety_net_work_counts_at_la_programs_not_elsewhere() -> None:
    base = profile("strong_scores_no_ca_ties")
    with_work = apply_changes(base, ['community_work += { kind = "safety_net_hospital", region = "la_county", months = 6 }'])
    rec = evaluate(with_work, catalog(), as_of=2026)
    for r in rec.programs:
        moved = any(a.rule_id == "la_ties.safety_net_la_program" for a in r.audit)
        if r.chance is not None:
            assert moved == (r.program.region.value == "la_county"), r.program.id


@pytest.mark.slow
@pytest.mark.parametrize("name", ["im_la_low_scores", "weak_no_usce"])
def test_a_better_step2_ck_never_lowers_a_chance_a_tier_or_eligibility(name: str) -> None:
    """The issue's finding: Step 2 CK 226-229 once fared better than 231-239. Swept point by point."""
    base = profile(name)
    previous: Recommendation | None = None
    for score in range(205, 256, 3):
        rec = evaluate(attrs.evolve(base, step2_ck=attrs.evolve(base.step2_ck, score=score)), catalog(), as_of=2026)
        if previous is not None:
            for r in previous.programs:
                now = rec.get(r.program.id)
                assert now is not None
                if r.chance is not None:
                    assert now.chance is not None, (score, r.program.id, "became ineligible")
                    assert now.chance >= r.chance - 1e-12, (score, r.program.id)
                    assert TIER_RANK[now.tier] >= TIER_RANK[r.tier], (score, r.program.id)
            assert rec.breadth.min <= previous.breadth.min, "breadth grows as chances fall, never the other way"
        previous = rec
