"""Generate the SYNTHETIC sample catalog of residency programs.

Nothing in the output describes a real program. Every institution name is invented from two
word lists (``Kestrel Bluff Community Hospital``, ``Saffron Mesa University Medical Center``)
and every program name is that invented institution plus a specialty; any resemblance to a
real hospital is a coincidence. Cities and two-letter state codes are real so that regions and
states read naturally, but the policies attached to them are drawn at random. What *is*
realistic is the shape of the catalog: how many programs each specialty has, how many publish
a minimum score, how restrictive they are about attempts and graduation year, how many sponsor
visas and how many of their residents are IMGs. Those shares come from
``../shared/domain/public-figures.md`` (tables cited below as A2, A3, B1, D1, D2, E1, E2)
or, where that file has no figure, are marked "assumption".

Usage::

    python examples/generate_catalog.py            # writes the two files shipped in the repo
    python examples/generate_catalog.py OUT_DIR    # writes OUT_DIR/sample_catalog.csv, OUT_DIR/small_catalog.csv

The output is deterministic: stdlib ``random`` only, every draw made from a ``random.Random``
seeded from :data:`SEED` plus a stable key (the program id or the institution slot), so the
same script always writes byte-identical files.

Size and spread
    * Programs per specialty = national count x :data:`SCALE` (1/3), rounded. National counts:
      internal medicine 758 (A3 2025, P), family medicine 817 (A3/E1 2025, P), pediatrics 211
      (E1 FREIDA ~2020, P), psychiatry 352 (E1 2022, S); every other specialty's count is an
      assumption (E1: neurology and pathology counts "not found").
    * 30% of each specialty is in California (assumption; E2: CA counts "not found". California is
      over-sampled relative to the nation because the catalog serves LA-focused lists).
    * California regions, most to fewest: la_county, orange_county, inland_empire, san_diego,
      central_valley, northern_california, kern, central_coast (the guide's spread; weights are an
      assumption). Competitive and academic specialties are concentrated in the regions with
      university centres.
    * The other 70% is ``out_of_state`` in 50 states + DC, weighted by a rough GME size (assumption,
      with NY, PA, MI, TX, FL, NJ heavy: E2 "top states by matched IMGs, 2024").

Program type mix (university / university_affiliated_community / community / county_safety_net)
    Assumption per specialty group (:data:`TYPE_WEIGHTS`). The IM mix (28/32/33/7) is tuned so
    that about 42% of out-of-state IM programs are IMG-dominated, img_share > 0.5 (D2 "IM programs
    by trainee mix": 42% IMG-dominated, 2019 JGIM).

IMG share of residents (``img_share``)
    * Specialty base = IMG share of filled PGY-1 positions (A2 2022, A3 2024/2025): IM 0.42,
      pathology 0.42, neurology 0.30, FM 0.30, pediatrics 0.23, psychiatry 0.16, EM 0.12,
      general surgery 0.10, anesthesiology 0.08, OB/GYN 0.055, orthopaedics 0.022. Preliminary
      medicine 0.35, preliminary surgery 0.20, transitional year 0.12, diagnostic radiology 0.08
      and the other surgical / small specialties 0.02-0.04 are assumptions.
    * Program type: IM community programs draw from 0.55-0.70 and IM university programs from
      0.22-0.30 (D2 "IMG share of IM PGY-1", APDIM 2007-2019); for other specialties those ranges
      become multipliers of the base (university x0.62, university-affiliated x1.0, community
      x1.5, county x0.9; assumption), divided by the specialty's type-mix average so that the
      specialty's mean stays at its base, with +/-25% noise. ``academic_flagship`` centres get
      x0.6 (assumption).
    * California: IM x0.5 (CA IM ~20% vs national 40-44%), FM x0.8 (25% vs ~30%), pathology x0.8
      (33% vs ~42%), every other specialty x0.6 ("most other specialties <10%"), all from E2
      "IMGs matched in CA". Out-of-state programs in NY, PA, MI, TX, FL, NJ x1.1 (E2 top states;
      assumption for the size of the factor).

Minimum scores
    * Share publishing a minimum Step 2 CK: 45% primary care, 40% surgery/EM/anesthesia/OB/
      radiology, 30% small competitive specialties, i.e. more than half publish none (D2:
      ">50%" of programs state no minimum in FREIDA, 2021 Cureus, pediatrics; extended to every
      specialty as an assumption). A minimum Step 1 is published by 60% of those (assumption: Step 1
      has been pass/fail since 2022, so fewer programs state a number).
    * Minimum Step 2 CK value: centre 220 community, 222 county, 225 university-affiliated, 230
      university, 235 flagship (anchors: D2 APDIM 2017 mean IMG interview cutoff 228 in IM; D1
      NRMP 2018 mean cutoff "in the 210s"); plus a specialty offset (FM -3, psychiatry -2,
      surgery/EM/anesthesia/OB +6 to +8, radiology +10, small competitive specialties +12 to +15;
      assumption guided by B1's matched means and the guide's tolerance list); +3 in California
      (assumption: the guide's "competitive region"); Gaussian noise sd 4; rounded to 5 and clipped
      to 205-250. Minimum Step 1 = Step 2 CK minimum - 5, rounded to 5 (D2: APDIM 224 vs 228).

Attempts (``max_attempts``)
    Share with ``max_attempts = 1`` per specialty from D2 "Programs refusing >1 Step 1 attempt"
    (~2010): general surgery 0.45, anesthesiology 0.28, pathology 0.24, OB/GYN 0.21, IM 0.18,
    neurology 0.18, EM 0.20, FM 0.05, psychiatry 0.05, pediatrics 0.04. Preliminary surgery 0.40,
    transitional year and preliminary medicine 0.18, radiology 0.30 and the small surgical /
    competitive specialties 0.35-0.45 are assumptions. A further 18% publish ``2`` and, in
    FM/psychiatry/pediatrics, 4% publish ``3`` (assumption); the rest publish nothing.

Years since graduation (``max_years_since_graduation``)
    Published by 45% of primary-care programs and 35% of the rest (assumption: D2 "YOG cutoffs -
    national share of programs" not found). Values 3/5/7/10 weighted 35/45/15/5% at university
    programs and 15/45/25/15% elsewhere (assumption; D2 examples "within 5 years", essay "moving from
    <=5 to <=3 years"; D1 FM 2024: 57% of programs weigh "continuous education without gaps").

Visas
    J-1 share, then H-1B share among J-1 acceptors: IM 0.637 / 0.345 (D2, 2022 JGME: 63.7% J-1,
    22.0% H-1B overall, 34.5% of J-1 acceptors), diagnostic radiology 0.731 / 0.317 (D2, 2023 Acad
    Radiol: 73.1% / 23.2%). Every other specialty is an assumption (:data:`VISA`), lower in
    FM (D1 FM 2024: 47% of programs weigh "can work in US without a visa") and in EM and the
    surgical specialties. A program sponsoring H-1B always accepts J-1 (as in the IM data).

Positions (PGY-1 per program)
    Mean per specialty: IM 14.4 (A3 2025: 10,941 / 758), FM 6.6 (5,357 / 817), pediatrics 15
    (3,193 / 211, years mixed), psychiatry 6.8 (2,396 / 352, years mixed); others assumption.
    University x1.3, flagship x1.6, county x1.2, community x0.75 (assumption), noise x0.6-1.4.

``usce_required``
    University 0.15, university-affiliated 0.30, county 0.30, community 0.40, teaching health
    centre 0.35; +0.15 in California (the guide: LA programs weigh recent US clinical experience);
    halved in the small competitive specialties. All assumption.

Tag vocabulary (:data:`TAG_VOCABULARY`)
    ``img_friendly``                img_share >= 0.30 (threshold is an assumption; ~ national FM share, A3).
    ``academic_flagship``           a big-name university centre: 3 in la_county, 3 in northern_california,
                                    2 in san_diego, 1 each in orange_county, inland_empire and
                                    central_valley; out of state 2 in NY and 1 in each of PA, TX,
                                    MA, MI, OH, IL, NC, MD, TN (assumption). A flagship centre takes
                                    a place's first university program of every specialty.
    ``safety_net``                  county_safety_net programs and FQHC-based health centres.
    ``fqhc``                        continuity clinic in a federally qualified health centre: 85% of
                                    teaching health centres, 20% of other community and
                                    university-affiliated FM programs (assumption).
    ``teaching_health_center``      community-based HRSA THCGME-style program: 25% of community FM,
                                    12% of community psychiatry, 6% of community IM and pediatrics
                                    (assumption).
    ``rural``                       the program's city is flagged rural in the city lists (assumption).
    ``underserved_focus``           safety_net, fqhc, teaching_health_center or rural, plus 15% of other
                                    community / university-affiliated primary-care programs (assumption).
    ``spanish_speaking_population`` institution in a large Spanish-speaking community: per region or
                                    state probability, e.g. la_county 0.75, central_valley and kern 0.7,
                                    TX 0.6, NM 0.7 (assumption; E2 cites UCLA's Spanish-English IMG
                                    program as the LA anchor).

Program ids are ``<specialty>-<place>-<nnn>``: ``im-la-001`` for California regions (la, oc, ie,
sd, cv, norcal, kern, cc) and ``im-oos-tx-001`` for out-of-state programs (``oos`` keeps
Louisiana's ``la`` apart from Los Angeles'). Numbers count within specialty and place.

The small catalog (``small_catalog.csv``, ~40 programs) is a fixed subset of the full one, rows
identical, for quick runs and tests.
"""

from __future__ import annotations

import csv
import io
import random
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from smartpick_rules.domain.models import CALIFORNIA_REGIONS, Program, ProgramType, Region, Specialty

__all__ = ["SEED", "TAG_VOCABULARY", "generate", "main", "render_csv", "small_subset", "write_catalogs"]

SEED = 20250517
SCALE = 1 / 3
CA_SHARE = 0.30  # assumption: California over-sampled for LA-focused lists

S = Specialty
R = Region
T = ProgramType

TAG_VOCABULARY: tuple[str, ...] = (
    "img_friendly",
    "academic_flagship",
    "safety_net",
    "fqhc",
    "teaching_health_center",
    "rural",
    "underserved_focus",
    "spanish_speaking_population",
)
IMG_FRIENDLY_THRESHOLD = 0.30

# --- specialties -------------------------------------------------------------------------------

#: id prefix per specialty
ABBREV: dict[Specialty, str] = {
    S.internal_medicine: "im",
    S.family_medicine: "fm",
    S.pediatrics: "peds",
    S.psychiatry: "psych",
    S.transitional_year: "ty",
    S.preliminary_medicine: "pmed",
    S.preliminary_surgery: "psurg",
    S.neurology: "neuro",
    S.pathology: "path",
    S.obstetrics_gynecology: "obgyn",
    S.general_surgery: "gsurg",
    S.emergency_medicine: "em",
    S.anesthesiology: "anes",
    S.diagnostic_radiology: "rad",
    S.radiation_oncology: "radonc",
    S.dermatology: "derm",
    S.orthopaedic_surgery: "ortho",
    S.neurosurgery: "nsurg",
    S.plastic_surgery: "plast",
    S.otolaryngology: "ent",
    S.ophthalmology: "ophth",
    S.urology: "uro",
}

#: shown after the institution name
DISPLAY: dict[Specialty, str] = {
    S.internal_medicine: "Internal Medicine",
    S.family_medicine: "Family Medicine",
    S.pediatrics: "Pediatrics",
    S.psychiatry: "Psychiatry",
    S.transitional_year: "Transitional Year",
    S.preliminary_medicine: "Preliminary Medicine",
    S.preliminary_surgery: "Preliminary Surgery",
    S.neurology: "Neurology",
    S.pathology: "Pathology",
    S.obstetrics_gynecology: "Obstetrics and Gynecology",
    S.general_surgery: "General Surgery",
    S.emergency_medicine: "Emergency Medicine",
    S.anesthesiology: "Anesthesiology",
    S.diagnostic_radiology: "Diagnostic Radiology",
    S.radiation_oncology: "Radiation Oncology",
    S.dermatology: "Dermatology",
    S.orthopaedic_surgery: "Orthopaedic Surgery",
    S.neurosurgery: "Neurological Surgery",
    S.plastic_surgery: "Plastic Surgery",
    S.otolaryngology: "Otolaryngology",
    S.ophthalmology: "Ophthalmology",
    S.urology: "Urology",
}

#: national program counts; see the module docstring for which are sourced
NATIONAL_PROGRAMS: dict[Specialty, int] = {
    S.internal_medicine: 758,  # A3 2025 (P)
    S.family_medicine: 817,  # A3 / E1 2025 (P)
    S.pediatrics: 211,  # E1 FREIDA ~2020 (P)
    S.psychiatry: 352,  # E1 2022 (S)
    S.transitional_year: 150,  # assumption
    S.preliminary_medicine: 200,  # assumption
    S.preliminary_surgery: 170,  # assumption
    S.neurology: 170,  # assumption (E1: not found)
    S.pathology: 140,  # assumption (E1: not found)
    S.obstetrics_gynecology: 290,  # assumption
    S.general_surgery: 340,  # assumption
    S.emergency_medicine: 290,  # assumption
    S.anesthesiology: 170,  # assumption
    S.diagnostic_radiology: 200,  # assumption
    S.radiation_oncology: 90,  # assumption
    S.dermatology: 140,  # assumption
    S.orthopaedic_surgery: 210,  # assumption
    S.neurosurgery: 118,  # assumption
    S.plastic_surgery: 90,  # assumption
    S.otolaryngology: 125,  # assumption
    S.ophthalmology: 125,  # assumption
    S.urology: 145,  # assumption
}

PRIMARY_CARE = frozenset(
    {
        S.internal_medicine,
        S.family_medicine,
        S.pediatrics,
        S.psychiatry,
        S.transitional_year,
        S.preliminary_medicine,
        S.neurology,
        S.pathology,
    }
)
MID = frozenset(
    {
        S.preliminary_surgery,
        S.obstetrics_gynecology,
        S.general_surgery,
        S.emergency_medicine,
        S.anesthesiology,
        S.diagnostic_radiology,
    }
)
#: the guide's "less realistic with low scores" specialties that are small and university-based
COMPETITIVE = frozenset(
    {
        S.radiation_oncology,
        S.dermatology,
        S.orthopaedic_surgery,
        S.neurosurgery,
        S.plastic_surgery,
        S.otolaryngology,
        S.ophthalmology,
        S.urology,
    }
)
#: specialties spread over every California region (the rest concentrate near university centres)
BROAD = frozenset(
    {
        S.internal_medicine,
        S.family_medicine,
        S.pediatrics,
        S.psychiatry,
        S.transitional_year,
        S.preliminary_medicine,
    }
)

_TW = tuple[float, float, float, float]  # university, university-affiliated, community, county
_GROUP_TYPES: dict[str, _TW] = {
    "neuro_path": (0.65, 0.20, 0.12, 0.03),
    "mid": (0.45, 0.28, 0.20, 0.07),
    "competitive": (0.78, 0.15, 0.06, 0.01),
}
#: program type weights per specialty (assumption, see docstring)
TYPE_WEIGHTS: dict[Specialty, _TW] = {
    S.internal_medicine: (0.28, 0.32, 0.33, 0.07),
    S.family_medicine: (0.12, 0.33, 0.45, 0.10),
    S.pediatrics: (0.45, 0.25, 0.22, 0.08),
    S.psychiatry: (0.40, 0.28, 0.24, 0.08),
    S.transitional_year: (0.15, 0.35, 0.45, 0.05),
    S.preliminary_medicine: (0.35, 0.30, 0.30, 0.05),
    S.preliminary_surgery: (0.45, 0.30, 0.20, 0.05),
    S.neurology: _GROUP_TYPES["neuro_path"],
    S.pathology: _GROUP_TYPES["neuro_path"],
    S.obstetrics_gynecology: _GROUP_TYPES["mid"],
    S.general_surgery: _GROUP_TYPES["mid"],
    S.emergency_medicine: _GROUP_TYPES["mid"],
    S.anesthesiology: _GROUP_TYPES["mid"],
    S.diagnostic_radiology: (0.60, 0.25, 0.13, 0.02),
    **{s: _GROUP_TYPES["competitive"] for s in COMPETITIVE},
}
TYPES_ORDER = (T.university, T.university_affiliated_community, T.community, T.county_safety_net)

#: IMG share of filled PGY-1 positions (A2 2022, A3 2024/2025; others assumption)
IMG_BASE: dict[Specialty, float] = {
    S.internal_medicine: 0.42,
    S.pathology: 0.42,
    S.neurology: 0.30,
    S.family_medicine: 0.30,
    S.pediatrics: 0.23,
    S.psychiatry: 0.16,
    S.emergency_medicine: 0.12,
    S.general_surgery: 0.10,
    S.anesthesiology: 0.08,
    S.obstetrics_gynecology: 0.055,
    S.orthopaedic_surgery: 0.022,
    S.preliminary_medicine: 0.35,  # assumption
    S.preliminary_surgery: 0.20,  # assumption
    S.transitional_year: 0.12,  # assumption
    S.diagnostic_radiology: 0.08,  # assumption
    S.radiation_oncology: 0.04,  # assumption
    S.dermatology: 0.03,  # assumption
    S.neurosurgery: 0.04,  # assumption
    S.plastic_surgery: 0.02,  # assumption
    S.otolaryngology: 0.02,  # assumption
    S.ophthalmology: 0.04,  # assumption
    S.urology: 0.03,  # assumption
}
IMG_TYPE_MULT: dict[ProgramType, float] = {
    T.university: 0.62,
    T.university_affiliated_community: 1.0,
    T.community: 1.5,
    T.county_safety_net: 0.9,
}
#: the type-mix average of IMG_TYPE_MULT per specialty, so multipliers keep the national base
_MIX_NORM: dict[Specialty, float] = {
    s: sum(w * IMG_TYPE_MULT[t] for t, w in zip(TYPES_ORDER, TYPE_WEIGHTS[s], strict=True)) for s in Specialty
}
#: IM ranges per program type (D2, APDIM: community 55-70%, university 22-30%; the other two assumption)
IM_IMG_RANGE: dict[ProgramType, tuple[float, float]] = {
    T.university: (0.22, 0.30),
    T.university_affiliated_community: (0.32, 0.55),
    T.community: (0.55, 0.70),
    T.county_safety_net: (0.25, 0.45),
}
#: California factor on img_share (E2)
CA_IMG_FACTOR: dict[Specialty, float] = {S.internal_medicine: 0.5, S.family_medicine: 0.8, S.pathology: 0.8}
CA_IMG_FACTOR_OTHER = 0.6
HIGH_IMG_STATES = frozenset({"NY", "PA", "MI", "TX", "FL", "NJ"})  # E2 top states by matched IMGs, 2024

#: Step 2 CK minimum: centre by program type, plus specialty offset (assumption around D1/D2 anchors)
STEP2_CENTRE: dict[ProgramType, float] = {
    T.community: 220,
    T.county_safety_net: 222,
    T.university_affiliated_community: 225,
    T.university: 230,
}
FLAGSHIP_STEP2_CENTRE = 235.0
STEP2_OFFSET: dict[Specialty, float] = {
    S.internal_medicine: 0,
    S.family_medicine: -3,
    S.pediatrics: 0,
    S.psychiatry: -2,
    S.transitional_year: 3,
    S.preliminary_medicine: 0,
    S.preliminary_surgery: 2,
    S.neurology: 2,
    S.pathology: 0,
    S.obstetrics_gynecology: 6,
    S.general_surgery: 8,
    S.emergency_medicine: 6,
    S.anesthesiology: 8,
    S.diagnostic_radiology: 10,
    S.radiation_oncology: 12,
    S.dermatology: 15,
    S.orthopaedic_surgery: 15,
    S.neurosurgery: 15,
    S.plastic_surgery: 15,
    S.otolaryngology: 13,
    S.ophthalmology: 12,
    S.urology: 12,
}

#: share with max_attempts = 1 (D2 ~2010 NRMP PD survey; assumption where marked)
ONE_ATTEMPT: dict[Specialty, float] = {
    S.general_surgery: 0.45,
    S.anesthesiology: 0.28,
    S.pathology: 0.24,
    S.obstetrics_gynecology: 0.21,
    S.internal_medicine: 0.18,
    S.neurology: 0.18,
    S.emergency_medicine: 0.20,
    S.family_medicine: 0.05,
    S.psychiatry: 0.05,
    S.pediatrics: 0.04,
    S.preliminary_surgery: 0.40,  # assumption
    S.transitional_year: 0.18,  # assumption
    S.preliminary_medicine: 0.18,  # assumption
    S.diagnostic_radiology: 0.30,  # assumption
    S.radiation_oncology: 0.35,  # assumption
    S.dermatology: 0.40,  # assumption
    S.orthopaedic_surgery: 0.45,  # assumption
    S.neurosurgery: 0.45,  # assumption
    S.plastic_surgery: 0.45,  # assumption
    S.otolaryngology: 0.40,  # assumption
    S.ophthalmology: 0.35,  # assumption
    S.urology: 0.40,  # assumption
}
TWO_ATTEMPTS = 0.18  # assumption
THREE_ATTEMPTS_LENIENT = 0.04  # assumption, FM / psychiatry / pediatrics only
LENIENT_ATTEMPTS = frozenset({S.family_medicine, S.psychiatry, S.pediatrics})

#: (J-1 share, H-1B share among J-1 acceptors); IM and radiology from D2, the rest assumption
VISA: dict[Specialty, tuple[float, float]] = {
    S.internal_medicine: (0.637, 0.345),
    S.diagnostic_radiology: (0.731, 0.317),
    S.family_medicine: (0.55, 0.28),
    S.pediatrics: (0.60, 0.30),
    S.psychiatry: (0.55, 0.28),
    S.neurology: (0.65, 0.35),
    S.pathology: (0.70, 0.40),
    S.transitional_year: (0.45, 0.25),
    S.preliminary_medicine: (0.60, 0.30),
    S.preliminary_surgery: (0.50, 0.30),
    S.general_surgery: (0.45, 0.30),
    S.emergency_medicine: (0.35, 0.25),
    S.anesthesiology: (0.45, 0.25),
    S.obstetrics_gynecology: (0.40, 0.25),
    S.radiation_oncology: (0.55, 0.25),
    S.dermatology: (0.30, 0.20),
    S.orthopaedic_surgery: (0.30, 0.20),
    S.neurosurgery: (0.45, 0.30),
    S.plastic_surgery: (0.30, 0.20),
    S.otolaryngology: (0.30, 0.20),
    S.ophthalmology: (0.35, 0.20),
    S.urology: (0.30, 0.20),
}

#: mean PGY-1 positions per program (A3-derived for IM, FM, peds, psych; others assumption)
POSITIONS: dict[Specialty, float] = {
    S.internal_medicine: 14.4,
    S.family_medicine: 6.6,
    S.pediatrics: 15.0,
    S.psychiatry: 6.8,
    S.transitional_year: 10.0,
    S.preliminary_medicine: 8.0,
    S.preliminary_surgery: 6.0,
    S.neurology: 5.0,
    S.pathology: 4.0,
    S.obstetrics_gynecology: 5.0,
    S.general_surgery: 5.5,
    S.emergency_medicine: 10.0,
    S.anesthesiology: 10.0,
    S.diagnostic_radiology: 6.0,
    S.radiation_oncology: 2.0,
    S.dermatology: 3.5,
    S.orthopaedic_surgery: 5.0,
    S.neurosurgery: 2.0,
    S.plastic_surgery: 2.0,
    S.otolaryngology: 3.0,
    S.ophthalmology: 4.0,
    S.urology: 3.0,
}
POSITIONS_TYPE_MULT: dict[ProgramType, float] = {
    T.university: 1.3,
    T.university_affiliated_community: 1.0,
    T.community: 0.75,
    T.county_safety_net: 1.2,
}

USCE_REQUIRED: dict[ProgramType, float] = {
    T.university: 0.15,
    T.university_affiliated_community: 0.30,
    T.county_safety_net: 0.30,
    T.community: 0.40,
}

#: chance a community program in this specialty is a teaching health centre (assumption)
THC_SHARE: dict[Specialty, float] = {
    S.family_medicine: 0.25,
    S.psychiatry: 0.12,
    S.internal_medicine: 0.06,
    S.pediatrics: 0.06,
}

# --- places ------------------------------------------------------------------------------------

#: California region -> (id code, weight for broad specialties, weight for academic ones)
CA_REGIONS: dict[Region, tuple[str, float, float]] = {
    R.la_county: ("la", 0.34, 0.36),
    R.orange_county: ("oc", 0.14, 0.16),
    R.inland_empire: ("ie", 0.13, 0.14),
    R.san_diego: ("sd", 0.11, 0.12),
    R.central_valley: ("cv", 0.10, 0.10),
    R.northern_california: ("norcal", 0.09, 0.09),
    R.kern: ("kern", 0.05, 0.02),
    R.central_coast: ("cc", 0.04, 0.01),
}
FLAGSHIPS_PER_REGION: dict[Region, int] = {
    R.la_county: 3,
    R.northern_california: 3,
    R.san_diego: 2,
    R.orange_county: 1,
    R.inland_empire: 1,
    R.central_valley: 1,
}
SPANISH_CA: dict[Region, float] = {
    R.la_county: 0.75,
    R.inland_empire: 0.65,
    R.central_valley: 0.70,
    R.kern: 0.70,
    R.san_diego: 0.55,
    R.orange_county: 0.55,
    R.central_coast: 0.55,
    R.northern_california: 0.30,
}

# a trailing "*" marks a rural city
CA_CITIES: dict[Region, tuple[str, ...]] = {
    R.la_county: (
        "Los Angeles", "Los Angeles", "Los Angeles", "Long Beach", "Pasadena", "Torrance", "Glendale",
        "Burbank", "Downey", "Lancaster", "Palmdale", "West Covina", "Pomona", "Santa Monica",
        "Inglewood", "Whittier", "Norwalk", "Sylmar", "Van Nuys", "Northridge", "Montebello",
        "Lynwood", "Bellflower", "Alhambra", "Panorama City",
    ),
    R.orange_county: (
        "Anaheim", "Santa Ana", "Irvine", "Orange", "Fullerton", "Fountain Valley", "Mission Viejo",
        "Newport Beach", "Garden Grove", "Huntington Beach",
    ),
    R.inland_empire: (
        "Riverside", "San Bernardino", "Colton", "Fontana", "Moreno Valley", "Ontario",
        "Rancho Cucamonga", "Palm Springs", "Indio", "Victorville", "Murrieta", "Redlands", "Blythe*",
    ),
    R.san_diego: ("San Diego", "San Diego", "Chula Vista", "La Jolla", "Escondido", "Oceanside", "El Cajon",
                  "National City", "El Centro*"),
    R.kern: ("Bakersfield", "Bakersfield", "Delano*", "Tehachapi*", "Ridgecrest*", "Wasco*"),
    R.central_valley: ("Fresno", "Fresno", "Modesto", "Stockton", "Visalia", "Merced", "Hanford*", "Madera*",
                       "Turlock", "Porterville*"),
    R.central_coast: ("San Luis Obispo", "Santa Barbara", "Salinas", "Ventura", "Santa Maria", "Monterey",
                      "Oxnard", "King City*"),
    R.northern_california: ("Sacramento", "San Francisco", "Oakland", "San Jose", "Santa Rosa", "Berkeley",
                            "Walnut Creek", "Vallejo", "Redding*", "Chico", "Eureka*", "Yreka*"),
}

#: out-of-state: state -> (weight, Spanish-speaking probability, cities); weights are an assumption
STATES: dict[str, tuple[float, float, tuple[str, ...]]] = {
    "NY": (12, 0.35, ("New York", "Brooklyn", "Bronx", "Buffalo", "Rochester", "Syracuse", "Albany",
                      "Jamaica", "Mineola", "Cooperstown*")),
    "PA": (8, 0.10, ("Philadelphia", "Pittsburgh", "Allentown", "Scranton", "Harrisburg", "Erie",
                     "Johnstown", "Danville*")),
    "TX": (9, 0.60, ("Houston", "Dallas", "San Antonio", "Austin", "El Paso", "Lubbock", "Fort Worth",
                     "McAllen", "Temple", "Odessa", "Harlingen", "Uvalde*")),
    "FL": (7, 0.50, ("Miami", "Orlando", "Tampa", "Jacksonville", "Gainesville", "Fort Lauderdale",
                     "Pensacola", "Tallahassee", "Sebring*")),
    "MI": (6, 0.08, ("Detroit", "Ann Arbor", "Grand Rapids", "Lansing", "Flint", "Royal Oak", "Dearborn",
                     "Kalamazoo", "Traverse City*")),
    "OH": (6, 0.08, ("Cleveland", "Columbus", "Cincinnati", "Toledo", "Akron", "Dayton", "Youngstown",
                     "Athens*")),
    "IL": (6, 0.30, ("Chicago", "Chicago", "Evanston", "Oak Lawn", "Peoria", "Springfield", "Rockford",
                     "Urbana", "Carbondale*")),
    "NJ": (4, 0.35, ("Newark", "Paterson", "Camden", "Jersey City", "New Brunswick", "Trenton",
                     "Atlantic City", "Elizabeth")),
    "MA": (4, 0.12, ("Boston", "Boston", "Worcester", "Springfield", "Cambridge", "Pittsfield*")),
    "NC": (4, 0.10, ("Charlotte", "Durham", "Raleigh", "Greenville", "Winston-Salem", "Asheville",
                     "Wilmington", "Ahoskie*")),
    "GA": (3, 0.10, ("Atlanta", "Augusta", "Macon", "Savannah", "Columbus", "Albany*")),
    "MD": (3, 0.10, ("Baltimore", "Bethesda", "Silver Spring", "Cumberland*")),
    "VA": (3, 0.08, ("Richmond", "Norfolk", "Roanoke", "Charlottesville", "Falls Church", "Abingdon*")),
    "TN": (3, 0.05, ("Nashville", "Memphis", "Knoxville", "Chattanooga", "Johnson City", "Jackson")),
    "MO": (3, 0.05, ("St. Louis", "Kansas City", "Columbia", "Springfield", "Kirksville*")),
    "AZ": (3, 0.50, ("Phoenix", "Tucson", "Scottsdale", "Mesa", "Flagstaff*", "Yuma*")),
    "CT": (3, 0.20, ("New Haven", "Hartford", "Bridgeport", "Stamford", "Norwalk")),
    "WA": (2, 0.15, ("Seattle", "Spokane", "Tacoma", "Everett", "Yakima*")),
    "CO": (2, 0.30, ("Denver", "Aurora", "Colorado Springs", "Pueblo", "Grand Junction*")),
    "MN": (2, 0.05, ("Minneapolis", "St. Paul", "Rochester", "Duluth")),
    "WI": (2, 0.05, ("Milwaukee", "Madison", "Green Bay", "La Crosse", "Eau Claire*")),
    "IN": (2, 0.05, ("Indianapolis", "Fort Wayne", "Evansville", "Muncie", "South Bend")),
    "KY": (2, 0.03, ("Louisville", "Lexington", "Bowling Green", "Hazard*")),
    "LA": (2, 0.05, ("New Orleans", "Baton Rouge", "Shreveport", "Lafayette", "Monroe")),
    "AL": (2, 0.03, ("Birmingham", "Mobile", "Huntsville", "Montgomery", "Tuscaloosa", "Selma*")),
    "SC": (2, 0.05, ("Charleston", "Columbia", "Greenville", "Spartanburg", "Florence")),
    "OK": (1.5, 0.10, ("Oklahoma City", "Tulsa", "Lawton", "Enid*")),
    "NV": (1.5, 0.40, ("Las Vegas", "Las Vegas", "Reno", "Elko*")),
    "OR": (1.5, 0.15, ("Portland", "Eugene", "Medford", "Klamath Falls*")),
    "WV": (1.5, 0.02, ("Morgantown", "Huntington", "Charleston", "Beckley*")),
    "DC": (1.5, 0.15, ("Washington",)),
    "KS": (1, 0.10, ("Wichita", "Kansas City", "Salina*")),
    "IA": (1, 0.05, ("Des Moines", "Iowa City", "Sioux City")),
    "NE": (1, 0.08, ("Omaha", "Lincoln", "Kearney*")),
    "NM": (1, 0.70, ("Albuquerque", "Las Cruces", "Santa Fe", "Gallup*")),
    "UT": (1, 0.10, ("Salt Lake City", "Provo", "Ogden")),
    "AR": (1, 0.05, ("Little Rock", "Fayetteville", "Jonesboro", "Helena*")),
    "MS": (1, 0.02, ("Jackson", "Tupelo", "Hattiesburg", "Greenwood*")),
    "RI": (1, 0.20, ("Providence", "Pawtucket")),
    "HI": (0.5, 0.05, ("Honolulu",)),
    "DE": (0.5, 0.08, ("Wilmington", "Dover")),
    "NH": (0.5, 0.03, ("Manchester", "Concord", "Lebanon*")),
    "ME": (0.5, 0.02, ("Portland", "Bangor", "Lewiston")),
    "VT": (0.5, 0.02, ("Burlington",)),
    "ND": (0.5, 0.02, ("Fargo", "Grand Forks", "Bismarck")),
    "SD": (0.5, 0.02, ("Sioux Falls", "Rapid City")),
    "ID": (0.5, 0.10, ("Boise", "Pocatello", "Twin Falls*")),
    "MT": (0.5, 0.02, ("Billings", "Missoula", "Miles City*")),
    "WY": (0.5, 0.05, ("Cheyenne", "Casper*")),
    "AK": (0.3, 0.03, ("Anchorage",)),
}
#: out-of-state flagship centres per state (assumption)
FLAGSHIPS_PER_STATE: dict[str, int] = {
    "NY": 2, "PA": 1, "TX": 1, "MA": 1, "MI": 1, "OH": 1, "IL": 1, "NC": 1, "MD": 1, "TN": 1,
}

# --- fictional institution names ---------------------------------------------------------------

PLACE_FIRST = (
    "Mesa", "Arroyo", "Copper", "Sable", "Juniper", "Lantern", "Marigold", "Heron", "Quarry", "Saffron",
    "Tamarack", "Amberly", "Larkspur", "Meadowlark", "Driftwood", "Ironwood", "Sagebrush", "Fernhollow",
    "Oriole", "Kestrel", "Bramble", "Calico", "Cobalt", "Halcyon", "Wrenfield", "Ashgrove", "Bellmoor",
    "Cindervale", "Dovetail", "Emberly", "Foxglove", "Goldcrest", "Hartwell", "Indigo", "Thistle",
    "Lupine", "Mossbank", "Nettlefield", "Oakhaven", "Plover", "Quillan", "Rosemere", "Starling",
    "Tanager", "Umber", "Verbena", "Whitlow", "Yarrow", "Zephyr", "Alder", "Bittern", "Chicory",
)
PLACE_SECOND = (
    "Verde", "Bluff", "Crossing", "Hollow", "Point", "Terrace", "Landing", "Glen", "Reach", "Knoll",
    "Meadows", "Canyon", "Heights", "Commons", "Vista", "Shores", "Gate", "Ridge", "Fields", "Mesa",
)
NAME_TEMPLATES: dict[str, tuple[str, ...]] = {
    "flagship": ("{p} University Medical Center",),
    "university": ("{p} University Hospital", "{p} University Health"),
    "affiliated": ("{p} Medical Center", "{p} Regional Medical Center"),
    "community": ("{p} Community Hospital", "{p} General Hospital"),
    "county": ("{p} County Medical Center", "{p} Public Hospital"),
    "health_center": ("{p} Family Health Center", "{p} Community Health Center"),
}
KIND_TYPE: dict[str, ProgramType] = {
    "flagship": T.university,
    "university": T.university,
    "affiliated": T.university_affiliated_community,
    "community": T.community,
    "county": T.county_safety_net,
    "health_center": T.community,
}
TYPE_KIND: dict[ProgramType, str] = {
    T.university: "university",
    T.university_affiliated_community: "affiliated",
    T.community: "community",
    T.county_safety_net: "county",
}
#: specialties a community hospital or health centre can host at most (assumption)
MAX_SPECIALTIES: dict[str, int] = {"community": 6, "health_center": 3, "county": 12, "affiliated": 10}


def _rng(*key: object) -> random.Random:
    """A generator seeded from SEED and a stable key (str seeding is hash-independent)."""
    return random.Random("/".join([str(SEED), *map(str, key)]))


def _pick(rng: random.Random, weights: Mapping[str, float] | Sequence[tuple[str, float]]) -> str:
    items = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
    total = sum(w for _, w in items)
    x = rng.random() * total
    for name, w in items:
        x -= w
        if x < 0:
            return name
    return items[-1][0]


def _apportion(total: int, weights: Sequence[tuple[str, float]]) -> dict[str, int]:
    """Largest-remainder split of ``total`` by ``weights`` (deterministic, ties by order)."""
    wsum = sum(w for _, w in weights)
    quotas = [(k, total * w / wsum) for k, w in weights]
    counts = {k: int(q) for k, q in quotas}
    left = total - sum(counts.values())
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i][1] - int(quotas[i][1])), i))
    for i in order[:left]:
        counts[quotas[i][0]] += 1
    return counts


@attrs.define
class Institution:
    name: str
    kind: str
    city: str
    rural: bool
    tags: set[str]
    specialties: set[Specialty] = attrs.field(factory=set)


@attrs.define
class Place:
    """A California region or an out-of-state state: where institutions are created."""

    key: str  # id code: "la" or "oos-tx"
    region: Region
    state: str
    cities: tuple[str, ...]
    spanish: float
    flagships: int
    institutions: list[Institution] = attrs.field(factory=list)


class _Names:
    """Unique fictional names, drawn deterministically from the two word lists."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, rng: random.Random) -> str:
        start = rng.randrange(len(PLACE_FIRST) * len(PLACE_SECOND))
        n = len(PLACE_FIRST) * len(PLACE_SECOND)
        for step in range(n):
            i = (start + step * 7) % n
            first, second = PLACE_FIRST[i // len(PLACE_SECOND)], PLACE_SECOND[i % len(PLACE_SECOND)]
            if first == second:
                continue
            base = f"{first} {second}"
            if base not in self.used:
                self.used.add(base)
                return base
        raise RuntimeError("ran out of fictional place names; extend PLACE_FIRST")


def _make_institution(place: Place, kind: str, names: _Names) -> Institution:
    slot = len(place.institutions)
    rng = _rng("institution", place.key, slot, kind)
    base = names.new(rng)
    template = NAME_TEMPLATES[kind][rng.randrange(len(NAME_TEMPLATES[kind]))]
    urban = [c for c in place.cities if not c.endswith("*")]
    if kind == "flagship":
        urban = urban[:3]  # big-name centres sit in the place's main cities
    if kind in ("flagship", "university", "county"):
        city = urban[rng.randrange(len(urban))]
    else:
        weighted = [(c, 1.0 if c.endswith("*") else 3.0) for c in place.cities]
        city = _pick(rng, weighted)
    rural = city.endswith("*")
    tags: set[str] = set()
    if kind == "flagship":
        tags.add("academic_flagship")
    if kind == "county":
        tags.add("safety_net")
    if kind == "health_center":
        tags |= {"teaching_health_center", "underserved_focus"}
        if rng.random() < 0.85:
            tags |= {"fqhc", "safety_net"}
    if rural:
        tags |= {"rural", "underserved_focus"}
    if "safety_net" in tags:
        tags.add("underserved_focus")
    if rng.random() < place.spanish:
        tags.add("spanish_speaking_population")
    inst = Institution(template.format(p=base), kind, city.rstrip("*"), rural, tags)
    place.institutions.append(inst)
    return inst


def _institution_for(place: Place, spec: Specialty, kind: str, names: _Names) -> Institution:
    candidates: list[Institution] = []
    if kind == "university":
        flagships = [i for i in place.institutions if i.kind == "flagship"]
        while len(flagships) < place.flagships:
            flagships.append(_make_institution(place, "flagship", names))
        candidates = flagships
    candidates = candidates + [i for i in place.institutions if i.kind == kind]
    limit = MAX_SPECIALTIES.get(kind, len(Specialty))
    for inst in candidates:
        if spec not in inst.specialties and len(inst.specialties) < limit:
            inst.specialties.add(spec)
            return inst
    inst = _make_institution(place, kind, names)
    inst.specialties.add(spec)
    return inst


def _places() -> tuple[list[Place], list[Place]]:
    ca = [
        Place(code, region, "CA", CA_CITIES[region], SPANISH_CA[region], FLAGSHIPS_PER_REGION.get(region, 0))
        for region, (code, _, _) in CA_REGIONS.items()
    ]
    oos = [
        Place(f"oos-{st.lower()}", R.out_of_state, st, cities, spanish, FLAGSHIPS_PER_STATE.get(st, 0))
        for st, (_, spanish, cities) in sorted(STATES.items())
    ]
    return ca, oos


def _round5(x: float) -> int:
    return int(5 * round(x / 5))


def _clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _program(
    pid: str, spec: Specialty, place: Place, inst: Institution, ptype: ProgramType
) -> Program:
    rng = _rng("program", pid)
    in_ca = place.region in CALIFORNIA_REGIONS
    flagship = inst.kind == "flagship"
    thc = inst.kind == "health_center"

    # img_share
    if spec is S.internal_medicine:
        lo, hi = IM_IMG_RANGE[ptype]
        share = lo + (hi - lo) * rng.random()
    else:
        # normalised so that the specialty's type mix averages to its national base
        share = IMG_BASE[spec] * IMG_TYPE_MULT[ptype] / _MIX_NORM[spec] * (0.75 + 0.5 * rng.random())
    if flagship:
        share *= 0.6
    if in_ca:
        share *= CA_IMG_FACTOR.get(spec, CA_IMG_FACTOR_OTHER)
    elif place.state in HIGH_IMG_STATES:
        share *= 1.1
    img_share = round(_clip(share, 0.0, 0.9), 2)

    # published minimum scores
    p_publish = 0.45 if spec in PRIMARY_CARE else 0.40 if spec in MID else 0.30
    min_step1: int | None = None
    min_step2: int | None = None
    if rng.random() < p_publish:
        centre = FLAGSHIP_STEP2_CENTRE if flagship else STEP2_CENTRE[ptype]
        centre += STEP2_OFFSET[spec] + (3 if in_ca else 0)
        min_step2 = int(_clip(_round5(rng.gauss(centre, 4)), 205, 250))
        if rng.random() < 0.6:
            min_step1 = int(_clip(_round5(min_step2 - 5), 200, 245))

    # attempts
    x = rng.random()
    max_attempts: int | None = None
    if x < ONE_ATTEMPT[spec]:
        max_attempts = 1
    elif x < ONE_ATTEMPT[spec] + TWO_ATTEMPTS:
        max_attempts = 2
    elif spec in LENIENT_ATTEMPTS and x < ONE_ATTEMPT[spec] + TWO_ATTEMPTS + THREE_ATTEMPTS_LENIENT:
        max_attempts = 3

    # years since graduation
    max_yog: int | None = None
    if rng.random() < (0.45 if spec in PRIMARY_CARE else 0.35):
        weights = (
            (("3", 0.35), ("5", 0.45), ("7", 0.15), ("10", 0.05))
            if ptype is T.university
            else (("3", 0.15), ("5", 0.45), ("7", 0.25), ("10", 0.15))
        )
        max_yog = int(_pick(rng, weights))

    # visas
    p_j1, p_h1b = VISA[spec]
    sponsors_j1 = rng.random() < p_j1
    sponsors_h1b = sponsors_j1 and rng.random() < p_h1b

    # positions
    mean = POSITIONS[spec] * (1.6 if flagship else POSITIONS_TYPE_MULT[ptype])
    positions = max(1, round(mean * (0.6 + 0.8 * rng.random())))

    # USCE
    p_usce = 0.35 if thc else USCE_REQUIRED[ptype]
    p_usce += 0.15 if in_ca else 0.0
    if spec in COMPETITIVE:
        p_usce /= 2
    usce_required = rng.random() < p_usce

    tags = set(inst.tags)
    if img_share >= IMG_FRIENDLY_THRESHOLD:
        tags.add("img_friendly")
    if (
        spec is S.family_medicine
        and not thc
        and ptype in (T.community, T.university_affiliated_community)
        and rng.random() < 0.20
    ):
        tags |= {"fqhc", "underserved_focus"}
    if (
        spec in BROAD
        and ptype in (T.community, T.university_affiliated_community)
        and rng.random() < 0.15
    ):
        tags.add("underserved_focus")

    return Program(
        id=pid,
        name=f"{inst.name} {DISPLAY[spec]}",
        specialty=spec,
        state=place.state,
        region=place.region,
        program_type=ptype,
        city=inst.city,
        positions=positions,
        min_step1=min_step1,
        min_step2_ck=min_step2,
        max_attempts=max_attempts,
        max_years_since_graduation=max_yog,
        sponsors_j1=sponsors_j1,
        sponsors_h1b=sponsors_h1b,
        img_share=img_share,
        usce_required=usce_required,
        tags=tuple(t for t in TAG_VOCABULARY if t in tags),
    )


def _types_for(spec: Specialty, place: Place, n: int) -> list[ProgramType]:
    rng = _rng("types", spec.value, place.key)
    weights = [(t.value, w) for t, w in zip(TYPES_ORDER, TYPE_WEIGHTS[spec], strict=True)]
    drawn = [ProgramType(_pick(rng, weights)) for _ in range(n)]
    return sorted(drawn, key=TYPES_ORDER.index)


def _kind_for(spec: Specialty, ptype: ProgramType, place: Place, index: int) -> str:
    if (
        ptype is T.community
        and spec in THC_SHARE
        and _rng("thc", spec.value, place.key, index).random() < THC_SHARE[spec]
    ):
        return "health_center"
    return TYPE_KIND[ptype]


def generate() -> list[Program]:
    """The full synthetic catalog, in a fixed order (specialty, then place, then type)."""
    ca, oos = _places()
    names = _Names()
    programs: list[Program] = []
    for spec in Specialty:
        n = round(NATIONAL_PROGRAMS[spec] * SCALE)
        n_ca = round(n * CA_SHARE)
        broad = spec in BROAD
        ca_weights = [(p.key, CA_REGIONS[p.region][1] if broad else CA_REGIONS[p.region][2]) for p in ca]
        ca_counts = _apportion(n_ca, ca_weights)
        srng = _rng("states", spec.value)
        state_weights = [(p.key, STATES[p.state][0]) for p in oos]
        oos_counts: dict[str, int] = {}
        for _ in range(n - n_ca):
            k = _pick(srng, state_weights)
            oos_counts[k] = oos_counts.get(k, 0) + 1
        for place in [*ca, *oos]:
            count = ca_counts.get(place.key, 0) if place.region in CALIFORNIA_REGIONS else oos_counts.get(place.key, 0)
            for i, ptype in enumerate(_types_for(spec, place, count), start=1):
                inst = _institution_for(place, spec, _kind_for(spec, ptype, place, i), names)
                pid = f"{ABBREV[spec]}-{place.key}-{i:03d}"
                programs.append(_program(pid, spec, place, inst, ptype))
    return programs


#: (specialty, place key, how many) for the small catalog; picked evenly from each group
SMALL_PLAN: tuple[tuple[Specialty, str, int], ...] = (
    (S.internal_medicine, "la", 7),
    (S.internal_medicine, "oc", 2),
    (S.internal_medicine, "ie", 2),
    (S.internal_medicine, "kern", 1),
    (S.internal_medicine, "cv", 1),
    (S.internal_medicine, "oos-ny", 2),
    (S.internal_medicine, "oos-mi", 1),
    (S.internal_medicine, "oos-tx", 1),
    (S.family_medicine, "la", 4),
    (S.family_medicine, "ie", 1),
    (S.family_medicine, "cv", 1),
    (S.family_medicine, "oos-tx", 1),
    (S.family_medicine, "oos-pa", 1),
    (S.psychiatry, "la", 2),
    (S.psychiatry, "sd", 1),
    (S.psychiatry, "oos-ny", 1),
    (S.pediatrics, "la", 2),
    (S.pediatrics, "oos-fl", 1),
    (S.transitional_year, "la", 1),
    (S.preliminary_medicine, "la", 1),
    (S.dermatology, "la", 1),
    (S.dermatology, "oos-ny", 1),
    (S.general_surgery, "la", 1),
    (S.emergency_medicine, "la", 1),
    (S.neurology, "oc", 1),
    (S.pathology, "oos-ny", 1),
)


def small_subset(programs: Sequence[Program]) -> list[Program]:
    """The small catalog: evenly spaced programs from each group in :data:`SMALL_PLAN`."""
    chosen: set[str] = set()
    for spec, key, k in SMALL_PLAN:
        prefix = f"{ABBREV[spec]}-{key}-"
        group = [p for p in programs if p.id.startswith(prefix) and p.id[len(prefix):].isdigit()]
        if len(group) < k:
            raise RuntimeError(f"small catalog wants {k} programs from {prefix}*, the catalog has {len(group)}")
        step = len(group) / k
        chosen.update(group[int((j + 0.5) * step)].id for j in range(k))
    return [p for p in programs if p.id in chosen]


COLUMNS: tuple[str, ...] = tuple(a.name for a in attrs.fields(Program))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def render_csv(programs: Iterable[Program]) -> str:
    """CSV text in the format :func:`smartpick_rules.load_catalog` reads (``\\n`` line endings)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in programs:
        writer.writerow([_cell(getattr(p, c)) for c in COLUMNS])
    return buf.getvalue()


REPO = Path(__file__).resolve().parent.parent
DEFAULT_FULL = REPO / "src" / "smartpick_rules" / "data" / "sample_catalog.csv"
DEFAULT_SMALL = REPO / "examples" / "small_catalog.csv"


def write_catalogs(full: Path, small: Path, log: Callable[[str], None] = print) -> tuple[int, int]:
    programs = generate()
    subset = small_subset(programs)
    for path, rows in ((full, programs), (small, subset)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_csv(rows), encoding="utf-8", newline="")
        log(f"wrote {len(rows)} programs to {path}")
    return len(programs), len(subset)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: generate_catalog.py [OUT_DIR]  (default: the files shipped in the repo)", file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    if args:
        out = Path(args[0])
        write_catalogs(out / "sample_catalog.csv", out / "small_catalog.csv")
    else:
        write_catalogs(DEFAULT_FULL, DEFAULT_SMALL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
