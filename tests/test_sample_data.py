"""The shipped sample data: the synthetic catalog, its generator and the example profiles.

The catalog tests check the shares the generator claims to reproduce (docs/sample-data.md), so a
change to the generator that drifts away from public-figures.md fails here, not in a demo.
"""

from __future__ import annotations

import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

import attrs
import pytest

import smartpick_rules
from smartpick_rules.domain.models import (
    CALIFORNIA_REGIONS,
    Catalog,
    Program,
    ProgramType,
    Region,
    Specialty,
    VisaNeed,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GENERATOR = EXAMPLES / "generate_catalog.py"
FULL = ROOT / "src" / "smartpick_rules" / "data" / "sample_catalog.csv"
SMALL = EXAMPLES / "small_catalog.csv"
PROFILES = EXAMPLES / "profiles"

S = Specialty
PRIMARY = (S.internal_medicine, S.family_medicine)
COMPETITIVE = (
    S.dermatology,
    S.orthopaedic_surgery,
    S.neurosurgery,
    S.plastic_surgery,
    S.radiation_oncology,
    S.otolaryngology,
    S.ophthalmology,
    S.urology,
)


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_catalog", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # attrs classes in the module need it registered
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return smartpick_rules.load_catalog(FULL)


def _select(catalog: Iterable[Program], pred: Callable[[Program], bool]) -> list[Program]:
    return [p for p in catalog if pred(p)]


def _share(programs: list[Program], pred: Callable[[Program], bool]) -> float:
    assert programs, "empty selection: the test would be vacuous"
    return sum(1 for p in programs if pred(p)) / len(programs)


def _mean_img(programs: list[Program]) -> float:
    values = [p.img_share for p in programs if p.img_share is not None]
    assert len(values) >= 5, "too few programs for a mean"
    return statistics.fmean(values)


def _of(catalog: Catalog, *specs: Specialty, region: str | None = None) -> list[Program]:
    def pred(p: Program) -> bool:
        if p.specialty not in specs:
            return False
        if region == "ca":
            return p.region in CALIFORNIA_REGIONS
        if region == "oos":
            return p.region is Region.out_of_state
        return True

    return _select(catalog, pred)


# --- the catalog as a whole ---------------------------------------------------------------------


def test_catalog_loads_and_is_large(catalog: Catalog) -> None:
    assert len(catalog) >= 1500


def test_every_specialty_and_region_but_outside_us(catalog: Catalog) -> None:
    assert {p.specialty for p in catalog} == set(Specialty)
    assert {p.region for p in catalog} == set(Region) - {Region.outside_us}


def test_ids_are_readable_and_unique(catalog: Catalog, gen: ModuleType) -> None:
    pattern = re.compile(r"^[a-z]+-(la|oc|ie|sd|cv|norcal|kern|cc|oos-[a-z]{2})-\d{3}$")
    assert len(set(catalog.ids())) == len(catalog)
    for p in catalog:
        assert pattern.match(p.id), p.id
        assert p.id.startswith(gen.ABBREV[p.specialty] + "-"), p.id
        if p.region is Region.out_of_state:
            assert p.id.split("-")[2] == p.state.lower(), p.id
        else:
            assert p.state == "CA", p.id
    assert catalog.get("im-la-001") is not None


def test_names_are_unique_and_fictional(catalog: Catalog) -> None:
    names = [p.name for p in catalog]
    assert len(set(names)) == len(names)
    real = (
        "UCLA", "USC", "UCSF", "UC Davis", "UC Irvine", "Cedars", "Kaiser", "Stanford", "Loma Linda",
        "Olive View", "Keck", "Scripps", "Sharp", "Mayo", "Cleveland Clinic", "Hopkins", "Sinai",
        "Montefiore", "Providence", "Dignity", "Sutter", "Kern Medical", "Arrowhead", "White Memorial",
        "Eisenhower", "Harbor", "Huntington Hospital", "Presbyterian", "Methodist", "Mercy",
    )
    for name in names:
        for word in real:
            assert word not in name, name


def test_states_are_real_codes_and_many(catalog: Catalog) -> None:
    oos_states = {p.state for p in catalog if p.region is Region.out_of_state}
    assert len(oos_states) >= 40
    assert "CA" not in oos_states
    assert all(re.fullmatch(r"[A-Z]{2}", s) for s in oos_states)
    assert all(p.city for p in catalog)


def test_california_regions_in_the_guide_order(catalog: Catalog) -> None:
    counts: Counter[Region] = Counter(p.region for p in catalog if p.region in CALIFORNIA_REGIONS)
    order = [
        Region.la_county,
        Region.orange_county,
        Region.inland_empire,
        Region.san_diego,
        Region.central_valley,
        Region.northern_california,
        Region.kern,
        Region.central_coast,
    ]
    values = [counts[r] for r in order]
    assert values == sorted(values, reverse=True), dict(zip(order, values, strict=True))
    ca_total = sum(values)
    assert 0.2 < ca_total / len(catalog) < 0.4


def test_specialty_counts_follow_national_counts(catalog: Catalog) -> None:
    counts = Counter(p.specialty for p in catalog)
    two_biggest = {s for s, _ in counts.most_common(2)}
    assert two_biggest == {S.internal_medicine, S.family_medicine}
    smallest = {s for s, _ in sorted(counts.items(), key=lambda kv: kv[1])[:4]}
    assert {S.radiation_oncology, S.plastic_surgery} <= smallest
    for s in (S.neurosurgery, S.radiation_oncology, S.plastic_surgery):
        assert counts[s] < counts[S.internal_medicine] / 5


def test_cells_are_in_range(catalog: Catalog) -> None:
    for p in catalog:
        assert p.positions >= 1
        assert p.img_share is not None and 0 <= p.img_share <= 0.9
        if p.min_step2_ck is not None:
            assert 205 <= p.min_step2_ck <= 250 and p.min_step2_ck % 5 == 0
        if p.min_step1 is not None:
            assert p.min_step2_ck is not None and p.min_step1 < p.min_step2_ck
        assert p.max_attempts in (None, 1, 2, 3)
        assert p.max_years_since_graduation in (None, 3, 5, 7, 10)
        assert not (p.sponsors_h1b and not p.sponsors_j1)


# --- shares from public-figures.md ----------------------------------------------------------------


def test_most_programs_publish_no_minimum(catalog: Catalog) -> None:
    # D2: >50% of programs state no minimum score in FREIDA
    assert _share(list(catalog), lambda p: p.min_step2_ck is None) > 0.5
    im = _of(catalog, S.internal_medicine)
    assert _share(im, lambda p: p.min_step2_ck is None) > 0.4
    # but minimums do exist, in every large specialty
    for s in (S.internal_medicine, S.family_medicine, S.psychiatry, S.general_surgery):
        assert _share(_of(catalog, s), lambda p: p.min_step2_ck is not None) > 0.2, s
    assert _share(list(catalog), lambda p: p.min_step1 is not None) < _share(
        list(catalog), lambda p: p.min_step2_ck is not None
    )


def test_minimums_typical_values(catalog: Catalog) -> None:
    def median_min(programs: list[Program]) -> float:
        values = [p.min_step2_ck for p in programs if p.min_step2_ck is not None]
        assert len(values) >= 10
        return statistics.median(values)

    im = _of(catalog, S.internal_medicine)
    # D2: APDIM mean IMG cutoff 228 in IM; D1: mean cutoff "in the 210s"; brief: roughly 210-240
    assert 215 <= median_min(im) <= 232
    community = [p for p in im if p.program_type is ProgramType.community]
    university = [p for p in im if p.program_type is ProgramType.university]
    assert median_min(community) < median_min(university)
    assert median_min(_of(catalog, *COMPETITIVE)) > median_min(_of(catalog, *PRIMARY)) + 10


def test_img_share_tolerance_order(catalog: Catalog) -> None:
    # "What this means", check 2: Path ~ IM > FM ~ Neuro > Peds > Psych ~ EM > GS, Anes > OB, Ortho
    def m(*specs: Specialty) -> float:
        return _mean_img(_of(catalog, *specs, region="oos"))

    assert m(S.internal_medicine) > m(S.family_medicine) > m(S.pediatrics) > m(S.psychiatry)
    assert m(S.pathology) > m(S.family_medicine)
    assert m(S.neurology) > m(S.psychiatry)
    assert m(S.psychiatry) > m(S.general_surgery) > m(S.obstetrics_gynecology) > m(S.orthopaedic_surgery)
    assert m(S.anesthesiology) > m(S.orthopaedic_surgery)
    # national levels (A2/A3): IM ~0.40-0.45, FM ~0.28-0.32, ortho ~0.02
    assert 0.35 <= m(S.internal_medicine) <= 0.50
    assert 0.22 <= m(S.family_medicine) <= 0.38
    assert m(S.orthopaedic_surgery) < 0.05


def test_competitive_specialties_take_few_imgs(catalog: Catalog) -> None:
    competitive = _mean_img(_of(catalog, *COMPETITIVE))
    assert competitive < 0.10
    for s in PRIMARY:
        assert competitive < _mean_img(_of(catalog, s)) / 3, s
    assert _share(_of(catalog, *COMPETITIVE), lambda p: "img_friendly" in p.tags) < 0.02


def test_im_img_share_by_program_type(catalog: Catalog) -> None:
    # D2 (APDIM): IM community programs 55-70% IMG, university 22-30%
    im = _of(catalog, S.internal_medicine, region="oos")
    community = [p for p in im if p.program_type is ProgramType.community]
    university = [
        p for p in im if p.program_type is ProgramType.university and "academic_flagship" not in p.tags
    ]
    assert 0.52 <= _mean_img(community) <= 0.75
    assert 0.20 <= _mean_img(university) <= 0.34
    # D2 (2019 JGIM): 42% of IM programs IMG-dominated
    assert 0.30 <= _share(im, lambda p: (p.img_share or 0) > 0.5) <= 0.55


def test_california_takes_fewer_imgs(catalog: Catalog) -> None:
    # E2: IMG share in CA IM ~20%, FM 25%, below national
    for s, lo, hi in ((S.internal_medicine, 0.15, 0.28), (S.family_medicine, 0.18, 0.32)):
        ca = _mean_img(_of(catalog, s, region="ca"))
        assert lo <= ca <= hi, (s, ca)
        assert ca < _mean_img(_of(catalog, s, region="oos")), s
    # but an IMG aiming at LA IM still finds IMG-friendly community programs there
    la_im = [p for p in _of(catalog, S.internal_medicine) if p.region is Region.la_county]
    assert sum("img_friendly" in p.tags for p in la_im) >= 3


def test_attempt_limits_by_specialty(catalog: Catalog) -> None:
    # D2: programs refusing >1 attempt: Gen Surg 45%; IM/Neuro/EM 16-21%; FM/Psych/Peds 3-6%
    def one(*specs: Specialty) -> float:
        return _share(_of(catalog, *specs), lambda p: p.max_attempts == 1)

    assert 0.30 <= one(S.general_surgery) <= 0.60
    assert 0.10 <= one(S.internal_medicine) <= 0.30
    assert one(S.family_medicine, S.psychiatry, S.pediatrics) < 0.10
    assert one(S.general_surgery) > one(S.internal_medicine) > one(S.family_medicine)
    assert one(S.anesthesiology, S.pathology) > one(S.family_medicine, S.psychiatry, S.pediatrics)
    # many programs publish no attempt limit at all
    assert _share(_of(catalog, S.internal_medicine), lambda p: p.max_attempts is None) > 0.4


def test_graduation_year_limits(catalog: Catalog) -> None:
    published = [p for p in catalog if p.max_years_since_graduation is not None]
    assert 0.3 < len(published) / len(catalog) < 0.6
    assert {p.max_years_since_graduation for p in published} == {3, 5, 7, 10}


def test_visa_shares(catalog: Catalog) -> None:
    # D2 (2022 JGME): IM 63.7% J-1, 22.0% H-1B; radiology (2023): 73.1% / 23.2%
    im = _of(catalog, S.internal_medicine)
    assert 0.55 <= _share(im, lambda p: p.sponsors_j1) <= 0.72
    assert 0.15 <= _share(im, lambda p: p.sponsors_h1b) <= 0.30
    rad = _of(catalog, S.diagnostic_radiology)
    assert 0.60 <= _share(rad, lambda p: p.sponsors_j1) <= 0.85
    everyone = list(catalog)
    assert _share(everyone, lambda p: p.sponsors_h1b) < _share(everyone, lambda p: p.sponsors_j1)


def test_positions_per_program(catalog: Catalog) -> None:
    # A3 2025: IM 10,941 positions / 758 programs ~ 14.4; FM 5,357 / 817 ~ 6.6
    im = statistics.fmean(p.positions for p in _of(catalog, S.internal_medicine))
    fm = statistics.fmean(p.positions for p in _of(catalog, S.family_medicine))
    assert 10 <= im <= 19
    assert 4 <= fm <= 9
    assert statistics.fmean(p.positions for p in _of(catalog, S.neurosurgery, S.radiation_oncology)) < 5


# --- tags -------------------------------------------------------------------------------------------


def test_tags_come_from_the_vocabulary(catalog: Catalog, gen: ModuleType) -> None:
    vocabulary = set(gen.TAG_VOCABULARY)
    used = {t for p in catalog for t in p.tags}
    assert used == vocabulary  # every tag documented, every documented tag used
    doc = (ROOT / "docs" / "sample-data.md").read_text(encoding="utf-8")
    for tag in vocabulary:
        assert f"`{tag}`" in doc, tag


def test_tags_agree_with_fields(catalog: Catalog) -> None:
    for p in catalog:
        assert ("img_friendly" in p.tags) == ((p.img_share or 0) >= 0.30), p.id
        if p.program_type is ProgramType.county_safety_net:
            assert "safety_net" in p.tags, p.id
        if "academic_flagship" in p.tags:
            assert p.program_type is ProgramType.university, p.id
        if "teaching_health_center" in p.tags:
            assert p.program_type is ProgramType.community, p.id
        if {"safety_net", "fqhc", "teaching_health_center", "rural"} & set(p.tags):
            assert "underserved_focus" in p.tags, p.id


def test_flagships_a_handful_per_california_region(catalog: Catalog) -> None:
    centres: dict[Region, set[str]] = {}
    for p in catalog:
        if "academic_flagship" in p.tags and p.region in CALIFORNIA_REGIONS:
            institution = p.name.rsplit(" University Medical Center", 1)[0]
            centres.setdefault(p.region, set()).add(institution)
    assert Region.la_county in centres
    assert all(1 <= len(v) <= 5 for v in centres.values()), centres
    assert max(centres, key=lambda r: len(centres[r])) in (Region.la_county, Region.northern_california)


def test_spanish_speaking_population_mostly_in_california_and_southwest(catalog: Catalog) -> None:
    def share(pred: Callable[[Program], bool]) -> float:
        return _share(_select(catalog, pred), lambda p: "spanish_speaking_population" in p.tags)

    assert share(lambda p: p.region is Region.la_county) > 0.5
    assert share(lambda p: p.state in ("ND", "SD", "VT", "ME", "WV", "KY", "MS", "AL", "MN", "WI")) < 0.2


# --- determinism, files -----------------------------------------------------------------------------


def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different hash seed must not matter
    result = subprocess.run(
        [sys.executable, str(GENERATOR), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sample_catalog.csv").read_bytes() == FULL.read_bytes()
    assert (tmp_path / "small_catalog.csv").read_bytes() == SMALL.read_bytes()


def test_generator_in_process_matches_file(gen: ModuleType) -> None:
    assert gen.render_csv(gen.generate()) == FULL.read_text(encoding="utf-8")


def test_header_is_the_program_fields() -> None:
    header = FULL.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == [a.name for a in attrs.fields(Program)]


def test_examples_catalog_is_a_relative_symlink() -> None:
    link = EXAMPLES / "catalog.csv"
    assert link.is_symlink()
    target = os.readlink(link)
    assert not os.path.isabs(target)
    assert link.resolve() == FULL.resolve()


def test_small_catalog_is_a_subset(catalog: Catalog) -> None:
    small = smartpick_rules.load_catalog(SMALL)
    assert 30 <= len(small) <= 50
    for p in small:
        assert catalog.get(p.id) == p, p.id
    assert Region.la_county in {p.region for p in small}
    assert Region.out_of_state in {p.region for p in small}
    assert {p.program_type for p in small} == set(ProgramType)
    assert any("img_friendly" in p.tags for p in small)
    assert sum(p.specialty is S.internal_medicine and p.region is Region.la_county for p in small) >= 5


def test_catalog_is_package_data() -> None:
    from importlib.resources import files

    data = files("smartpick_rules").joinpath("data", "sample_catalog.csv")
    assert data.is_file()


# --- profiles -----------------------------------------------------------------------------------------

ARCHETYPES = (
    "im_la_low_scores",
    "failed_step1_strong_ck",
    "strong_scores_no_ca_ties",
    "spanish_speaker_la_usce",
    "old_grad_visa",
    "unmatched_reapplicant",
    "derm_low_scores",
    "psych_observerships_outside_ca",
    "default",
)
PROFILE_FILES = sorted(PROFILES.glob("*.toml"))


def test_all_archetypes_present() -> None:
    assert {p.stem for p in PROFILE_FILES} >= set(ARCHETYPES)


#: archetypes defined by what they lack (issue 10's weakest applicants): the header says so, and
#: the file leaves out the sections the applicant has nothing in
LACKS: dict[str, frozenset[str]] = {
    "weak_no_usce": frozenset({"usce", "letters", "ties", "research", "history", "application_budget"}),
    "failed_low_step2": frozenset({"letters", "ties", "research", "history"}),
}


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.stem)
def test_profile_loads_and_is_documented(path: Path) -> None:
    profile = smartpick_rules.load_profile(path)
    text = path.read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 5, "each profile starts with a comment block"
    assert "guide" in " ".join(header).lower()
    lacks = LACKS.get(path.stem, frozenset())
    assert profile.step2_ck is not None and profile.step2_ck.score is not None
    assert profile.preferences.specialties
    assert profile.preferences.application_budget or "application_budget" in lacks
    assert profile.languages
    for key in ("usce", "letters"):
        assert getattr(profile, key) or key in lacks, key
    # every section present in the file, not left to defaults
    data = tomllib.loads(text)
    for key in ("usce", "letters", "ties", "languages", "research", "preferences", "history"):
        assert key in data or key in lacks, key
    for key in lacks & {"usce", "letters", "ties"}:
        assert not getattr(profile, key), f"{path.stem} is said to have no {key}"


def test_profiles_match_their_archetype() -> None:
    def load(stem: str) -> smartpick_rules.Profile:
        return smartpick_rules.load_profile(PROFILES / f"{stem}.toml")

    a = load("im_la_low_scores")
    assert a.step1 is not None and a.step1.score == 208
    assert a.step2_ck is not None and a.step2_ck.score == 224
    assert S.internal_medicine in a.preferences.specialties
    assert Region.la_county in a.preferences.regions

    b = load("failed_step1_strong_ck")
    assert b.step1 is not None and b.step1.attempts == 2 and b.step1.failed_attempts == 1
    assert b.step2_ck is not None and b.step2_ck.score is not None and b.step2_ck.score >= 240

    c = load("strong_scores_no_ca_ties")
    assert not any(t.region in CALIFORNIA_REGIONS for t in c.ties)
    assert not any(u.region in CALIFORNIA_REGIONS for u in c.usce)

    d = load("spanish_speaker_la_usce")
    assert "spanish" in d.languages  # languages are kept in lower case
    la_hands_on = [u for u in d.usce if u.region is Region.la_county and u.kind.value == "hands_on"]
    assert sum(u.months for u in la_hands_on) >= 6
    assert sum(1 for letter in d.letters if letter.region is Region.la_county) >= 2

    e = load("old_grad_visa")
    assert e.graduation_year == 2012 and e.visa is VisaNeed.h1b

    f = load("unmatched_reapplicant")
    assert f.history.unmatched_before and f.history.applied_before and f.history.cycles >= 1

    g = load("derm_low_scores")
    assert g.preferences.specialties[0] is S.dermatology
    assert g.step2_ck is not None and g.step2_ck.score is not None and g.step2_ck.score < 230

    h = load("psych_observerships_outside_ca")
    assert h.preferences.specialties == (S.psychiatry,)
    assert all(u.kind.value == "observership" for u in h.usce)
    assert all(u.region not in CALIFORNIA_REGIONS for u in h.usce)

    assert load("default").step2_ck == a.step2_ck


def test_pass_fail_step1_archetypes() -> None:
    pass_fail = [
        p
        for p in PROFILE_FILES
        if (step1 := smartpick_rules.load_profile(p).step1) is not None and step1.score is None and step1.passed
    ]
    assert len(pass_fail) >= 2
