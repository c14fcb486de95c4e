"""Generate the SYNTHETIC sample catalog of residency programs.

Nothing in the output describes a real program. Every institution name is invented from two
word lists (``Kestrel Bluff Community Hospital``, ``Saffron Mesa University Medical Center``)
and every program name is that invented institution plus a specialty; any resemblance to a real
hospital is a coincidence. Cities and two-letter state codes are real so that regions and states
read naturally, but the policies attached to them are drawn at random. What *is* realistic is
the shape of the catalog: how many programs each specialty has nationally and in California,
which types they are, how many of their residents are IMGs, how many publish a minimum score
and how high it is, how restrictive they are about attempts and graduation year, and how many
sponsor visas. Every share, with the published figure it comes from or the assumption it rests
on, is in ``docs/sample-data.md``; the tables cited here as A2, A3, B1, D1, D2, E1, E2 are those
of ``docs/sources.md``, and "calibration §N" is section N of the calibration notes, whose figures
used here are listed with their addresses in ``docs/sample-data.md``.

Usage::

    python examples/generate_catalog.py            # rewrites the shipped files and docs/sample-data.md's tables
    python examples/generate_catalog.py OUT_DIR    # writes the catalogs into OUT_DIR instead

It writes ``sample_catalog.csv`` (every program) and ``small_catalog.csv`` (a fixed subset,
rows identical, for quick runs), each with a metadata sidecar ``<name>.meta.toml`` saying
``synthetic = true`` with this generator's seed and version, which
:func:`smartpick_rules.load_catalog` reads into ``Catalog.synthetic``.

The output is deterministic: stdlib ``random`` only, and every draw comes from a
``random.Random`` seeded with :data:`SEED` plus a stable key (the program id, the institution
slot, the specialty and place), so the same script always writes byte-identical files, whatever
``PYTHONHASHSEED`` is.

How a program is made
    1. Programs per specialty: the national count (:data:`NATIONAL_PROGRAMS`; IM, FM, pediatrics
       and psychiatry from A3/E1, the rest assumptions), of which :data:`CA_SHARE` in California,
       split over the California regions by :data:`CA_REGIONS` (largest remainder, so exact), and
       the rest over the 50 states and DC by :data:`STATES` weights.
    2. Program type drawn from :data:`TYPE_WEIGHTS`; the program joins a fictional institution of
       that type in its place (institutions host several specialties; the first university program
       of each specialty in a place goes to the place's big-name ``academic_flagship`` centres).
    3. IMG share: a shape by type (IM: the APDIM ranges of D2; other specialties:
       :data:`IMG_TYPE_SHAPE`), then scaled per specialty so that the share of PGY-1 positions
       held by IMGs matches :data:`IMG_TARGET` nationally (A2/A3) and :data:`CA_IMG_TARGET` in
       California (E2), California's shortfall falling most on university programs.
    4. Score screen: every program has one (a Step 2 CK value below which it rarely interviews an
       IMG), centred by type and specialty (D2's APDIM mean IMG cutoff 228 in IM; B1 for the
       specialty offsets) and raised where the program takes fewer IMGs than its peers. Only
       :data:`PUBLISH_SHARE` of programs publish it as ``min_step2_ck`` (D2: more than half of
       programs state no minimum in FREIDA); the rest screen without saying so, which is what an
       estimated bar has to stand in for.
    5. Attempts, graduation year, visas (D2/calibration §5 odds ratios by type), positions, USCE
       and tags, each from its table below.
"""

from __future__ import annotations

import csv
import io
import math
import random
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from smartpick_rules.domain.models import CALIFORNIA_REGIONS, Program, ProgramType, Region, Specialty

__all__ = [
    "GENERATOR_VERSION",
    "SEED",
    "TAG_VOCABULARY",
    "generate",
    "main",
    "metadata_toml",
    "refresh_doc",
    "render_csv",
    "small_subset",
    "summary_markdown",
    "write_catalogs",
]

SEED = 20250517
#: bumped whenever the generator's parameters change what it writes
GENERATOR_VERSION = 2

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

#: national program counts, at full scale (the catalog is the whole country, not a sample)
NATIONAL_PROGRAMS: dict[Specialty, int] = {
    S.internal_medicine: 758,  # A3 / E1 2025, categorical (P)
    S.family_medicine: 817,  # A3 / E1 2025, categorical (P)
    S.pediatrics: 211,  # E1, categorical programs in FREIDA ~2020 (P)
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

#: where each national count comes from
COUNT_SOURCE: dict[Specialty, str] = {
    **{s: "assumption" for s in Specialty},
    S.internal_medicine: "A3/E1 2025 (P)",
    S.family_medicine: "A3/E1 2025 (P)",
    S.pediatrics: "E1 FREIDA ~2020 (P)",
    S.psychiatry: "E1 2022 (S)",
}

#: California's share of every specialty's programs (assumption: E2 and calibration §7 found no
#: California count; CA has ~12% of the US population and fewer residency places per head. Checks:
#: E2 CalMedForce, 173 CA primary-care and EM programs applied in 2024; calibration §7, "more than
#: 52" CA family medicine programs)
CA_SHARE = 0.085

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
#: specialties spread over every California region like the population (the rest concentrate
#: near university centres)
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

# --- program types -----------------------------------------------------------------------------

_TW = tuple[float, float, float, float]  # university, university-affiliated, community, county
TYPES_ORDER = (T.university, T.university_affiliated_community, T.community, T.county_safety_net)
_GROUP_TYPES: dict[str, _TW] = {
    "neuro_path": (0.65, 0.20, 0.12, 0.03),
    "mid": (0.45, 0.28, 0.20, 0.07),
    "competitive": (0.78, 0.15, 0.06, 0.01),
}
#: program type weights per specialty (assumption; the IM mix is set so that about 42% of IM
#: programs are IMG-dominated, D2 2019 JGIM, given D2's APDIM IMG ranges by type)
TYPE_WEIGHTS: dict[Specialty, _TW] = {
    S.internal_medicine: (0.28, 0.37, 0.28, 0.07),
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

# --- IMG share ---------------------------------------------------------------------------------

#: share of PGY-1 positions filled by IMGs, national (position-weighted); A2 2022, A3 2023-2025,
#: calibration §8; "assumption" where no figure was found
IMG_TARGET: dict[Specialty, float] = {
    S.internal_medicine: 0.43,  # A3: 43% of filled 2024, 44.6% 2025; A2 2022: 40.0% (reported, not forced)
    S.family_medicine: 0.30,  # A3 2024: 31.8%; calibration §8 2023: 30%
    S.pediatrics: 0.25,  # A3 2024: ~25.8%; A2 2022: 20.1%
    S.psychiatry: 0.16,  # A2 2022: 15.8%; A3 2024: ~16.1%
    S.neurology: 0.30,  # A2 2022: 29.8%; A3 2024: 29.5%
    S.pathology: 0.40,  # A2 2022: 44.3%; A3 2024: 37.4%
    S.emergency_medicine: 0.15,  # A3 2024: ~15.5%; calibration §8 2023: 14.3%
    S.general_surgery: 0.10,  # A2 2022: 9.9%
    S.anesthesiology: 0.08,  # A2 2022: 7.8%
    S.obstetrics_gynecology: 0.055,  # A2 2022: 5.5%
    S.orthopaedic_surgery: 0.022,  # A2 2022: 2.2%
    S.preliminary_surgery: 0.445,  # calibration §8 2023: surgery prelim 44.5% of filled
    S.preliminary_medicine: 0.35,  # assumption
    S.transitional_year: 0.12,  # assumption
    S.diagnostic_radiology: 0.08,  # assumption (calibration §5: 66% of DR programs have >= 1 IMG)
    S.radiation_oncology: 0.04,  # assumption
    S.dermatology: 0.03,  # assumption
    S.neurosurgery: 0.04,  # assumption
    S.plastic_surgery: 0.02,  # assumption
    S.otolaryngology: 0.02,  # assumption
    S.ophthalmology: 0.04,  # assumption
    S.urology: 0.03,  # assumption
}
#: IM IMG share by type, uniform within the range (D2, APDIM 2007-2019: community 55-70%,
#: university 22-30%; the other two assumption)
IM_IMG_RANGE: dict[ProgramType, tuple[float, float]] = {
    T.university: (0.22, 0.30),
    T.university_affiliated_community: (0.35, 0.65),
    T.community: (0.55, 0.70),
    T.county_safety_net: (0.25, 0.45),
}
#: other specialties: the shape across types before scaling to IMG_TARGET (assumption, the APDIM
#: IM ratio community:university ~2.4:1 carried over), times uniform noise 0.75-1.25
IMG_TYPE_SHAPE: dict[ProgramType, float] = {
    T.university: 0.62,
    T.university_affiliated_community: 1.0,
    T.community: 1.5,
    T.county_safety_net: 0.9,
}
FLAGSHIP_IMG_FACTOR = 0.6  # assumption: big-name centres take fewer IMGs than other university programs
HIGH_IMG_STATES = frozenset({"NY", "PA", "MI", "TX", "FL", "NJ"})  # E2 top states by matched IMGs, 2024
HIGH_IMG_STATE_FACTOR = 1.1  # assumption for the size
#: California, share of PGY-1 positions filled by IMGs (E2: IM ~20%, FM 25%, pathology 33%, "most
#: other specialties <10%"; pediatrics, psychiatry, EM and neurology from E2's counts of IMGs matched
#: in CA divided by the catalog's CA positions, rounded down to keep under 10-11%)
CA_IMG_TARGET: dict[Specialty, float] = {
    S.internal_medicine: 0.20,
    S.family_medicine: 0.25,
    S.pathology: 0.33,
    S.pediatrics: 0.10,
    S.psychiatry: 0.07,
    S.emergency_medicine: 0.10,
    S.neurology: 0.10,
}
CA_IMG_OTHER_FACTOR = 0.6  # other specialties: national x0.6 (E2 "<10%"; the factor is an assumption)
#: in California the shortfall falls most on university programs (assumption; calibration §5: IMGs
#: get 15% of interview slots at university IM programs vs 45% at community ones, nationally)
CA_TYPE_RELATIVE: dict[ProgramType, float] = {
    T.university: 0.7,
    T.university_affiliated_community: 1.0,
    T.community: 1.25,
    T.county_safety_net: 1.0,
}
IMG_SHARE_MAX = 0.9

# --- score screens -----------------------------------------------------------------------------

#: the IMG Step 2 CK screen by type, in IM (D2: APDIM 2017 mean IMG interview cutoff 228; the type
#: spread is an assumption; the mix average is ~228)
STEP2_CENTRE: dict[ProgramType, float] = {
    T.community: 224,
    T.county_safety_net: 226,
    T.university_affiliated_community: 228,
    T.university: 232,
}
FLAGSHIP_STEP2_CENTRE = 238.0  # assumption
#: specialty offset from IM (assumption: about half the gap between matched non-US IMG means in B1
#: 2013, FM/psychiatry 219, peds 231, pathology 228, neurology 236 vs IM 236; surgical and
#: competitive specialties by the guide's tolerance list)
STEP2_OFFSET: dict[Specialty, float] = {
    S.internal_medicine: 0,
    S.family_medicine: -6,
    S.pediatrics: -2,
    S.psychiatry: -5,
    S.transitional_year: 3,
    S.preliminary_medicine: 0,
    S.preliminary_surgery: 2,
    S.neurology: 0,
    S.pathology: -3,
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
#: points the screen rises per unit of IMG share below the program's specialty-and-type peers
#: (assumption: 2 points per 10 percentage points; a California community IM program at ~40% IMGs
#: screens ~5 points above a national one at ~63%)
SCREEN_IMG_SLOPE = 20.0
SCREEN_NOISE_SD = 4.0
SCREEN_RANGE = (215, 255)  # 214 was the Step 2 CK pass mark until July 2025 (calibration §1)
#: share of programs that publish their Step 2 CK screen as a minimum (D2: ">50%" of pediatrics
#: programs state none in FREIDA, 2021; the per-specialty values are assumptions, see docs)
PUBLISH_SHARE: dict[Specialty, float] = {
    S.internal_medicine: 0.40,
    S.pediatrics: 0.40,
    S.family_medicine: 0.35,
    S.psychiatry: 0.35,
    S.neurology: 0.35,
    S.pathology: 0.35,
    S.transitional_year: 0.35,
    S.preliminary_medicine: 0.35,
    **{s: 0.30 for s in MID},
    **{s: 0.20 for s in COMPETITIVE},
}
STEP1_SHARE = 0.5  # of programs publishing Step 2 CK, also a Step 1 minimum (assumption: Step 1 P/F since 2022)
STEP1_BELOW_STEP2 = 5  # D2: APDIM mean IMG cutoffs Step 1 224 vs Step 2 CK 228

# --- attempts, graduation year --------------------------------------------------------------------

#: share with max_attempts = 1 (D2 "programs refusing >1 Step 1 attempt", ~2010; others assumption)
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

YOG_PUBLISHED = (0.45, 0.35)  # primary care, others (assumption: D2 national share not found)
YOG_VALUES: dict[bool, tuple[tuple[str, float], ...]] = {
    True: (("3", 0.35), ("5", 0.45), ("7", 0.15), ("10", 0.05)),  # university
    False: (("3", 0.15), ("5", 0.45), ("7", 0.25), ("10", 0.15)),
}

# --- visas ---------------------------------------------------------------------------------------

#: (share of programs accepting J-1, share of J-1 acceptors also sponsoring H-1B); IM and radiology
#: from D2, the rest assumption (FM lower: D1 2024, 47% of FM programs weigh "can work in US without
#: a visa"; EM and surgical specialties lower)
VISA: dict[Specialty, tuple[float, float]] = {
    S.internal_medicine: (0.637, 0.345),  # D2 2022 JGME: 63.7% J-1, 22.0% H-1B
    S.diagnostic_radiology: (0.731, 0.317),  # D2 2023 Acad Radiol: 73.1% / 23.2%
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
#: odds of accepting a J-1 relative to a university program (calibration §5, 2022 JGME, IM:
#: community aOR 0.2, county-hospital affiliation aOR 0.22; university-affiliated assumption;
#: carried to every specialty as an assumption). The intercept is solved per specialty so the
#: specialty's J-1 share stays at VISA's figure.
J1_TYPE_ODDS: dict[ProgramType, float] = {
    T.university: 1.0,
    T.university_affiliated_community: 0.5,
    T.community: 0.2,
    T.county_safety_net: 0.22,
}

# --- positions, USCE, health centres ---------------------------------------------------------------

#: mean PGY-1 positions per program (A3-derived for IM, FM, peds, psych; others assumption)
POSITIONS: dict[Specialty, float] = {
    S.internal_medicine: 14.4,  # A3 2025: 10,941 / 758
    S.family_medicine: 6.6,  # A3 2025: 5,357 / 817
    S.pediatrics: 15.0,  # A3 2025 3,193 / E1 211
    S.psychiatry: 6.8,  # A3 2025 2,396 / E1 2022 352
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
FLAGSHIP_POSITIONS_MULT = 1.6

USCE_REQUIRED: dict[ProgramType, float] = {
    T.university: 0.15,
    T.university_affiliated_community: 0.30,
    T.county_safety_net: 0.30,
    T.community: 0.40,
}
USCE_THC = 0.35
USCE_CA_EXTRA = 0.15  # the guide: LA programs weigh recent US clinical experience

#: chance a community program in this specialty is a teaching health centre (assumption)
THC_SHARE: dict[Specialty, float] = {
    S.family_medicine: 0.25,
    S.psychiatry: 0.12,
    S.internal_medicine: 0.06,
    S.pediatrics: 0.06,
}
THC_FQHC = 0.85
FM_FQHC = 0.20
PRIMARY_UNDERSERVED = 0.15

# --- places ------------------------------------------------------------------------------------

#: California region -> (id code, weight for BROAD specialties, weight for the others); assumption:
#: the population split (LA County ~25% of Californians, the Bay Area and Sacramento ~28%, the
#: Inland Empire ~12%, San Diego, Orange County and the Central Valley ~8-10% each, the Central
#: Coast ~6%, Kern ~2%) tilted towards the university centres of LA and Northern California
CA_REGIONS: dict[Region, tuple[str, float, float]] = {
    R.la_county: ("la", 0.31, 0.34),
    R.northern_california: ("norcal", 0.23, 0.30),
    R.inland_empire: ("ie", 0.11, 0.08),
    R.san_diego: ("sd", 0.10, 0.12),
    R.central_valley: ("cv", 0.09, 0.05),
    R.orange_county: ("oc", 0.08, 0.09),
    R.central_coast: ("cc", 0.05, 0.02),
    R.kern: ("kern", 0.03, 0.02),
}
#: more county safety-net programs in a place than TYPE_WEIGHTS gives (assumption: LA County's public
#: hospital system runs three large teaching hospitals, the guide's safety-net anchor)
PLACE_COUNTY_FACTOR: dict[str, float] = {"la": 3.0}
#: big-name academic centres per California region (assumption)
FLAGSHIPS_PER_REGION: dict[Region, int] = {
    R.la_county: 3,
    R.northern_california: 3,
    R.san_diego: 1,
    R.orange_county: 1,
    R.inland_empire: 1,
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

#: out-of-state: state -> (weight, Spanish-speaking probability, cities); weights an assumption
#: (rough GME size, NY, PA, MI, TX, FL, NJ heavy: E2 "top states by matched IMGs, 2024")
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
#: out-of-state big-name academic centres per state (assumption; 35, about one per large
#: academic medical centre city)
FLAGSHIPS_PER_STATE: dict[str, int] = {
    "NY": 4, "MA": 3, "PA": 2, "TX": 2, "OH": 2, "IL": 2, "NC": 2, "MI": 1, "MD": 1, "FL": 1,
    "TN": 1, "MO": 1, "MN": 1, "GA": 1, "WA": 1, "CT": 1, "CO": 1, "UT": 1, "WI": 1, "VA": 1,
    "AL": 1, "IN": 1, "IA": 1, "OR": 1, "DC": 1,
}

# --- fictional institution names ---------------------------------------------------------------

PLACE_FIRST = (
    "Mesa", "Arroyo", "Copper", "Sable", "Juniper", "Lantern", "Marigold", "Heron", "Quarry", "Saffron",
    "Tamarack", "Amberly", "Larkspur", "Meadowlark", "Driftwood", "Ironwood", "Sagebrush", "Fernhollow",
    "Oriole", "Kestrel", "Bramble", "Calico", "Cobalt", "Halcyon", "Wrenfield", "Ashgrove", "Bellmoor",
    "Cindervale", "Dovetail", "Emberly", "Foxglove", "Goldcrest", "Hartwell", "Indigo", "Thistle",
    "Lupine", "Mossbank", "Nettlefield", "Oakhaven", "Plover", "Quillan", "Rosemere", "Starling",
    "Tanager", "Umber", "Verbena", "Whitlow", "Yarrow", "Zephyr", "Alder", "Bittern", "Chicory",
    "Aspenwick", "Briarly", "Cressida", "Dunmore", "Elderberry", "Fallowmere", "Gannet", "Hazelton",
    "Ivybridge", "Jessamine", "Kingfisher", "Linnet", "Mallowby", "Nightjar", "Osprey", "Pipit",
    "Quince", "Redstart", "Sorrel", "Teasel", "Upland", "Vireo", "Willet", "Yellowhammer",
)
PLACE_SECOND = (
    "Verde", "Bluff", "Crossing", "Hollow", "Point", "Terrace", "Landing", "Glen", "Reach", "Knoll",
    "Meadows", "Canyon", "Heights", "Commons", "Vista", "Shores", "Gate", "Ridge", "Fields", "Mesa",
    "Springs", "Cove", "Grove", "Park", "Valley", "Falls", "Bend", "Rise", "Ford", "Crest",
)
NAME_TEMPLATES: dict[str, tuple[str, ...]] = {
    "flagship": ("{p} University Medical Center",),
    "university": ("{p} University Hospital", "{p} University Health"),
    "affiliated": ("{p} Medical Center", "{p} Regional Medical Center"),
    "community": ("{p} Community Hospital", "{p} General Hospital"),
    "county": ("{p} County Medical Center", "{p} Public Hospital"),
    "health_center": ("{p} Family Health Center", "{p} Community Health Center"),
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


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _j1_intercept(spec: Specialty) -> float:
    """Log-odds for a university program such that the type mix averages to VISA's J-1 share."""
    target = VISA[spec][0]
    mix = list(zip(TYPES_ORDER, TYPE_WEIGHTS[spec], strict=True))
    lo, hi = -10.0, 10.0
    for _ in range(60):  # bisection: the mixed share rises monotonically with the intercept
        mid = (lo + hi) / 2
        share = sum(w * _logistic(mid + math.log(J1_TYPE_ODDS[t])) for t, w in mix) / sum(w for _, w in mix)
        lo, hi = (mid, hi) if share < target else (lo, mid)
    return (lo + hi) / 2


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

    @property
    def in_california(self) -> bool:
        return self.region in CALIFORNIA_REGIONS


class _Names:
    """Unique fictional names, drawn deterministically from the two word lists."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, rng: random.Random) -> str:
        n = len(PLACE_FIRST) * len(PLACE_SECOND)
        start = rng.randrange(n)
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
        if rng.random() < THC_FQHC:
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


@attrs.define
class _Draft:
    """A program before its IMG share is scaled to the specialty's target (the second pass)."""

    pid: str
    spec: Specialty
    place: Place
    inst: Institution
    ptype: ProgramType
    positions: int
    raw_share: float
    img_share: float = 0.0

    @property
    def flagship(self) -> bool:
        return self.inst.kind == "flagship"


def _draft(pid: str, spec: Specialty, place: Place, inst: Institution, ptype: ProgramType) -> _Draft:
    rng = _rng("draft", pid)
    flagship = inst.kind == "flagship"
    mean = POSITIONS[spec] * (FLAGSHIP_POSITIONS_MULT if flagship else POSITIONS_TYPE_MULT[ptype])
    positions = max(1, round(mean * (0.6 + 0.8 * rng.random())))
    if spec is S.internal_medicine:
        lo, hi = IM_IMG_RANGE[ptype]
        share = lo + (hi - lo) * rng.random()
    else:
        share = IMG_TYPE_SHAPE[ptype] * (0.75 + 0.5 * rng.random())
    if flagship:
        share *= FLAGSHIP_IMG_FACTOR
    if place.in_california:
        share *= CA_TYPE_RELATIVE[ptype]
    elif place.state in HIGH_IMG_STATES:
        share *= HIGH_IMG_STATE_FACTOR
    return _Draft(pid, spec, place, inst, ptype, positions, share)


def _weighted_share(drafts: Iterable[_Draft], value: Callable[[_Draft], float]) -> tuple[float, int]:
    items = list(drafts)
    positions = sum(d.positions for d in items)
    return sum(d.positions * value(d) for d in items), positions


def _calibrate_img_shares(spec: Specialty, drafts: list[_Draft]) -> None:
    """Scale raw shares so IMGs fill the target share of positions, in California and nationally.

    IM keeps D2's ranges outside California (its national share is reported, not forced).
    """
    ca = [d for d in drafts if d.place.in_california]
    oos = [d for d in drafts if not d.place.in_california]
    ca_target = CA_IMG_TARGET.get(spec, IMG_TARGET[spec] * CA_IMG_OTHER_FACTOR)
    raw_ca, pos_ca = _weighted_share(ca, lambda d: d.raw_share)
    ca_scale = ca_target * pos_ca / raw_ca if raw_ca else 0.0
    for d in ca:
        d.img_share = round(_clip(d.raw_share * ca_scale, 0.0, IMG_SHARE_MAX), 2)
    if spec is S.internal_medicine:
        oos_scale = 1.0
    else:
        got_ca, _ = _weighted_share(ca, lambda d: d.img_share)
        raw_oos, pos_oos = _weighted_share(oos, lambda d: d.raw_share)
        oos_scale = (IMG_TARGET[spec] * (pos_ca + pos_oos) - got_ca) / raw_oos
    for d in oos:
        d.img_share = round(_clip(d.raw_share * oos_scale, 0.0, IMG_SHARE_MAX), 2)


def _peer_shares(drafts: list[_Draft]) -> dict[ProgramType, float]:
    """Mean IMG share of the specialty's out-of-state programs by type: the screen's reference."""
    out: dict[ProgramType, float] = {}
    for t in TYPES_ORDER:
        values = [d.img_share for d in drafts if d.ptype is t and not d.place.in_california and not d.flagship]
        out[t] = statistics.fmean(values) if values else 0.0
    return out


def _program(d: _Draft, peers: Mapping[ProgramType, float], j1_intercept: float) -> Program:
    rng = _rng("program", d.pid)
    spec, ptype, place = d.spec, d.ptype, d.place
    in_ca = place.in_california
    thc = d.inst.kind == "health_center"

    # the screen every program has; published by a minority
    centre = FLAGSHIP_STEP2_CENTRE if d.flagship else STEP2_CENTRE[ptype]
    screen = centre + STEP2_OFFSET[spec] + SCREEN_IMG_SLOPE * (peers[ptype] - d.img_share)
    screen += rng.gauss(0, SCREEN_NOISE_SD)
    min_step1: int | None = None
    min_step2: int | None = None
    if rng.random() < PUBLISH_SHARE[spec]:
        min_step2 = int(_clip(_round5(screen), *SCREEN_RANGE))
        if rng.random() < STEP1_SHARE:
            min_step1 = min_step2 - STEP1_BELOW_STEP2

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
    if rng.random() < YOG_PUBLISHED[0 if spec in PRIMARY_CARE else 1]:
        max_yog = int(_pick(rng, YOG_VALUES[ptype is T.university]))

    # visas: the type's odds of a J-1, then H-1B among J-1 acceptors
    p_j1 = _logistic(j1_intercept + math.log(J1_TYPE_ODDS[ptype]))
    sponsors_j1 = rng.random() < p_j1
    sponsors_h1b = sponsors_j1 and rng.random() < VISA[spec][1]

    # USCE
    p_usce = USCE_THC if thc else USCE_REQUIRED[ptype]
    p_usce += USCE_CA_EXTRA if in_ca else 0.0
    if spec in COMPETITIVE:
        p_usce /= 2
    usce_required = rng.random() < p_usce

    tags = set(d.inst.tags)
    if d.img_share >= IMG_FRIENDLY_THRESHOLD:
        tags.add("img_friendly")
    community_like = ptype in (T.community, T.university_affiliated_community)
    if spec is S.family_medicine and not thc and community_like and rng.random() < FM_FQHC:
        tags |= {"fqhc", "underserved_focus"}
    if spec in BROAD and community_like and rng.random() < PRIMARY_UNDERSERVED:
        tags.add("underserved_focus")

    return Program(
        id=d.pid,
        name=f"{d.inst.name} {DISPLAY[spec]}",
        specialty=spec,
        state=place.state,
        region=place.region,
        program_type=ptype,
        city=d.inst.city,
        positions=d.positions,
        min_step1=min_step1,
        min_step2_ck=min_step2,
        max_attempts=max_attempts,
        max_years_since_graduation=max_yog,
        sponsors_j1=sponsors_j1,
        sponsors_h1b=sponsors_h1b,
        img_share=d.img_share,
        usce_required=usce_required,
        tags=tuple(t for t in TAG_VOCABULARY if t in tags),
    )


def _types_for(spec: Specialty, place: Place, n: int) -> list[ProgramType]:
    """``n`` program types for one specialty in one place, university first.

    Each type gets the whole part of its quota; the places left are drawn by the fractional
    parts, so a place's mix follows TYPE_WEIGHTS closely without every place looking the same.
    """
    rng = _rng("types", spec.value, place.key)
    weights = dict(zip(TYPES_ORDER, TYPE_WEIGHTS[spec], strict=True))
    weights[T.county_safety_net] *= PLACE_COUNTY_FACTOR.get(place.key, 1.0)
    total = sum(weights.values())
    quotas = {t: n * w / total for t, w in weights.items()}
    counts = {t: int(q) for t, q in quotas.items()}
    fractions = {t.value: quotas[t] - counts[t] for t in TYPES_ORDER}
    for _ in range(n - sum(counts.values())):
        t = ProgramType(_pick(rng, fractions))
        counts[t] += 1
        fractions[t.value] = 0.0
    return [t for t in TYPES_ORDER for _ in range(counts[t])]


def _kind_for(spec: Specialty, ptype: ProgramType, place: Place, index: int) -> str:
    if (
        ptype is T.community
        and spec in THC_SHARE
        and _rng("thc", spec.value, place.key, index).random() < THC_SHARE[spec]
    ):
        return "health_center"
    return TYPE_KIND[ptype]


def ca_count(spec: Specialty) -> int:
    """California's programs in ``spec``."""
    return round(NATIONAL_PROGRAMS[spec] * CA_SHARE)


def generate() -> list[Program]:
    """The full synthetic catalog, in a fixed order (specialty, then place, then type)."""
    ca, oos = _places()
    names = _Names()
    state_weights = [(p.key, STATES[p.state][0]) for p in oos]
    programs: list[Program] = []
    for spec in Specialty:
        n_ca = ca_count(spec)
        column = 1 if spec in BROAD else 2
        ca_counts = _apportion(n_ca, [(p.key, CA_REGIONS[p.region][column]) for p in ca])
        srng = _rng("states", spec.value)
        oos_counts: dict[str, int] = {}
        for _ in range(NATIONAL_PROGRAMS[spec] - n_ca):
            k = _pick(srng, state_weights)
            oos_counts[k] = oos_counts.get(k, 0) + 1
        drafts: list[_Draft] = []
        for place in [*ca, *oos]:
            count = (ca_counts if place.in_california else oos_counts).get(place.key, 0)
            for i, ptype in enumerate(_types_for(spec, place, count), start=1):
                inst = _institution_for(place, spec, _kind_for(spec, ptype, place, i), names)
                drafts.append(_draft(f"{ABBREV[spec]}-{place.key}-{i:03d}", spec, place, inst, ptype))
        _calibrate_img_shares(spec, drafts)
        peers = _peer_shares(drafts)
        intercept = _j1_intercept(spec)
        programs.extend(_program(d, peers, intercept) for d in drafts)
    return programs


#: (specialty, place key, how many) for the small catalog; picked evenly from each group
SMALL_PLAN: tuple[tuple[Specialty, str, int], ...] = (
    (S.internal_medicine, "la", 7),
    (S.internal_medicine, "oc", 1),
    (S.internal_medicine, "ie", 2),
    (S.internal_medicine, "sd", 1),
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


def metadata_toml(csv_name: str, description: str) -> str:
    """The ``<name>.meta.toml`` sidecar that marks a generated file as synthetic."""
    return (
        f"# Metadata for {csv_name}, written by examples/generate_catalog.py; read by load_catalog.\n"
        "[catalog]\n"
        "synthetic = true\n"
        f'description = "{description}"\n'
        'generator = "examples/generate_catalog.py"\n'
        f"generator_version = {GENERATOR_VERSION}\n"
        f"seed = {SEED}\n"
    )


# --- the docs' tables of what was generated --------------------------------------------------------

DOC_BEGIN = "<!-- generated by examples/generate_catalog.py: begin -->"
DOC_END = "<!-- generated by examples/generate_catalog.py: end -->"
_SHORT = {
    S.internal_medicine: "IM",
    S.family_medicine: "FM",
    S.pediatrics: "pediatrics",
    S.psychiatry: "psychiatry",
    S.transitional_year: "TY",
    S.preliminary_medicine: "prelim medicine",
    S.preliminary_surgery: "prelim surgery",
    S.neurology: "neurology",
    S.pathology: "pathology",
    S.obstetrics_gynecology: "OB/GYN",
    S.general_surgery: "general surgery",
    S.emergency_medicine: "EM",
    S.anesthesiology: "anesthesiology",
    S.diagnostic_radiology: "radiology",
    S.radiation_oncology: "radiation oncology",
    S.dermatology: "dermatology",
    S.orthopaedic_surgery: "orthopaedics",
    S.neurosurgery: "neurosurgery",
    S.plastic_surgery: "plastic surgery",
    S.otolaryngology: "ENT",
    S.ophthalmology: "ophthalmology",
    S.urology: "urology",
}
#: figures the catalog's shares are compared with in the docs ("" where the value is an assumption)
IMG_FIGURE: dict[Specialty, str] = {
    S.internal_medicine: "40.0% (A2 2022) - 44.6% (A3 2025)",
    S.family_medicine: "27.7% (A2) - 31.8% (A3 2024)",
    S.pediatrics: "20.1% (A2) - 25.8% (A3 2024)",
    S.psychiatry: "15.8% (A2) - 16.1% (A3 2024)",
    S.neurology: "29.8% (A2) / 29.5% (A3 2024)",
    S.pathology: "44.3% (A2) / 37.4% (A3 2024)",
    S.emergency_medicine: "8.2% (A2) - 15.5% (A3 2024)",
    S.general_surgery: "9.9% (A2)",
    S.anesthesiology: "7.8% (A2)",
    S.obstetrics_gynecology: "5.5% (A2)",
    S.orthopaedic_surgery: "2.2% (A2)",
    S.preliminary_surgery: "44.5% (calibration §8, 2023)",
}
CA_IMG_FIGURE: dict[Specialty, str] = {
    S.internal_medicine: "~20% (E2)",
    S.family_medicine: "25% (E2)",
    S.pathology: "33% (E2)",
    S.pediatrics: "29 IMGs matched (E2): ~10%",
    S.psychiatry: "15 IMGs matched (E2): ~7%",
    S.emergency_medicine: "30 IMGs matched (E2): ~10%",
    S.neurology: "8 IMGs matched (E2): ~10%",
}
VISA_FIGURE: dict[Specialty, str] = {
    S.internal_medicine: "63.7% / 22.0% (D2 2022)",
    S.diagnostic_radiology: "73.1% / 23.2% (D2 2023)",
}
ATTEMPT_FIGURE: dict[Specialty, str] = {
    S.general_surgery: "45%",
    S.anesthesiology: "28%",
    S.pathology: "24%",
    S.obstetrics_gynecology: "21%",
    S.internal_medicine: "16-21%",
    S.neurology: "16-21%",
    S.emergency_medicine: "16-21%",
    S.family_medicine: "3-6%",
    S.psychiatry: "3-6%",
    S.pediatrics: "3-6%",
}


IMG_BANDS = ((0.0, 0.15), (0.15, 0.30), (0.30, 0.50), (0.50, 2.0))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _position_share(programs: Sequence[Program]) -> float:
    positions = sum(p.positions for p in programs)
    return sum(p.positions * (p.img_share or 0.0) for p in programs) / positions


def summary_markdown(programs: Sequence[Program]) -> str:
    """The tables of docs/sample-data.md that describe the generated catalog, next to the figures."""
    by_spec = {s: [p for p in programs if p.specialty is s] for s in Specialty}
    ca = [p for p in programs if p.region in CALIFORNIA_REGIONS]
    out: list[str] = []
    add = out.append
    add(f"Generator version {GENERATOR_VERSION}, seed {SEED}: {len(programs):,} programs, "
        f"{len(ca):,} in California ({_pct(len(ca) / len(programs))}), "
        f"{len(programs) - len(ca):,} in other states.")
    add("")
    add("**Programs per specialty and place**")
    add("")
    add("| Specialty | National count | Source | California | LA County | San Diego | Other states |")
    add("|---|---:|---|---:|---:|---:|---:|")
    for s, ps in by_spec.items():
        n_ca = sum(p.region in CALIFORNIA_REGIONS for p in ps)
        la = sum(p.region is R.la_county for p in ps)
        sd = sum(p.region is R.san_diego for p in ps)
        add(f"| {_SHORT[s]} | {NATIONAL_PROGRAMS[s]} | {COUNT_SOURCE[s]} | {n_ca} | {la} | {sd} | {len(ps) - n_ca} |")
    add("")
    regions = {r: sum(p.region is r for p in ca) for r in CA_REGIONS}
    add("California by region: " + ", ".join(f"{r.value} {n} ({_pct(n / len(ca))})" for r, n in regions.items()) + ".")
    add("")
    add("**IMG share of PGY-1 positions** (position-weighted `img_share`; the figure is the share of filled")
    add("positions, so the two compare like for like)")
    add("")
    add("| Specialty | National figure | Catalog | California figure | Catalog, California | Programs with `img_friendly` |")
    add("|---|---|---:|---|---:|---:|")
    for s, ps in by_spec.items():
        ca_ps = [p for p in ps if p.region in CALIFORNIA_REGIONS]
        ca_fig = CA_IMG_FIGURE.get(s, "national x0.6 (E2: most others <10%)")
        friendly = sum("img_friendly" in p.tags for p in ps) / len(ps)
        add(f"| {_SHORT[s]} | {IMG_FIGURE.get(s, 'assumption')} | {_pct(_position_share(ps))} | {ca_fig} | "
            f"{_pct(_position_share(ca_ps))} | {_pct(friendly)} |")
    add("")
    add("**Published policies** (share of the specialty's programs)")
    add("")
    add("| Specialty | Publish a Step 2 CK minimum | Median published minimum | Also a Step 1 minimum | "
        "J-1 / H-1B figure | J-1 / H-1B | `max_attempts = 1` figure (D2) | `max_attempts = 1` |")
    add("|---|---:|---:|---:|---|---:|---|---:|")
    for s, ps in by_spec.items():
        mins = [p.min_step2_ck for p in ps if p.min_step2_ck is not None]
        published = len(mins) / len(ps)
        step1 = sum(p.min_step1 is not None for p in ps) / len(ps)
        j1 = sum(p.sponsors_j1 for p in ps) / len(ps)
        h1b = sum(p.sponsors_h1b for p in ps) / len(ps)
        one = sum(p.max_attempts == 1 for p in ps) / len(ps)
        median = f"{statistics.median(mins):g}" if mins else "-"
        add(f"| {_SHORT[s]} | {_pct(published)} | {median} | {_pct(step1)} | {VISA_FIGURE.get(s, 'assumption')} | "
            f"{_pct(j1)} / {_pct(h1b)} | {ATTEMPT_FIGURE.get(s, 'assumption')} | {_pct(one)} |")
    everyone_published = sum(p.min_step2_ck is not None for p in programs) / len(programs)
    add("")
    add(f"All specialties: {_pct(everyone_published)} of programs publish a Step 2 CK minimum, "
        f"{_pct(1 - everyone_published)} publish none (D2: more than 50% state none).")
    add("")
    add("**Internal medicine by program type** (other states; big-name `academic_flagship` centres apart)")
    add("")
    add("| Type | Programs | Mean `img_share` | D2 figure | Accept J-1 | Median published minimum | Publish one |")
    add("|---|---:|---:|---|---:|---:|---:|")
    im = [p for p in by_spec[S.internal_medicine] if p.region is R.out_of_state]
    d2 = {T.university: "22-30%", T.community: "55-70%"}
    groups: list[tuple[str, list[Program], str]] = [
        ("academic_flagship", [p for p in im if "academic_flagship" in p.tags], "assumption")
    ]
    groups += [
        (t.value, [p for p in im if p.program_type is t and "academic_flagship" not in p.tags], d2.get(t, "assumption"))
        for t in TYPES_ORDER
    ]
    for label, ps, fig in groups:
        mins = [p.min_step2_ck for p in ps if p.min_step2_ck is not None]
        add(f"| {label} | {len(ps)} | {statistics.fmean(p.img_share or 0.0 for p in ps):.2f} | {fig} | "
            f"{_pct(sum(p.sponsors_j1 for p in ps) / len(ps))} | {statistics.median(mins):g} | {_pct(len(mins) / len(ps))} |")
    add("")
    add("**Published Step 2 CK minimums by IMG share** (IM and FM, every place): the screens rise as")
    add("`img_share` falls, which is what an estimated bar can act on where nothing is published")
    add("")
    add("| Specialty | `img_share` | Programs | Publish a minimum | Median published minimum |")
    add("|---|---|---:|---:|---:|")
    for s in (S.internal_medicine, S.family_medicine):
        for lo, hi in IMG_BANDS:
            ps = [p for p in by_spec[s] if lo <= (p.img_share or 0.0) < hi]
            mins = [p.min_step2_ck for p in ps if p.min_step2_ck is not None]
            label = f"{lo:.2f}-{hi:.2f}" if hi <= 1 else f">= {lo:.2f}"
            median = f"{statistics.median(mins):g}" if mins else "-"
            add(f"| {_SHORT[s]} | {label} | {len(ps)} | {_pct(len(mins) / len(ps)) if ps else '-'} | {median} |")
    dominated = sum((p.img_share or 0.0) > 0.5 for p in by_spec[S.internal_medicine]) / len(by_spec[S.internal_medicine])
    add("")
    add(f"IM programs with `img_share > 0.5` (IMG-dominated): {_pct(dominated)} (D2, 2019 JGIM: 42%).")
    add("")
    add("**Tags**: " + ", ".join(
        f"`{t}` {sum(t in p.tags for p in programs):,}" for t in TAG_VOCABULARY
    ) + ".")
    return "\n".join(out) + "\n"


def refresh_doc(doc: Path, programs: Sequence[Program]) -> bool:
    """Replace the generated block of ``doc`` with the current tables; True if it changed."""
    text = doc.read_text(encoding="utf-8")
    start, end = text.find(DOC_BEGIN), text.find(DOC_END)
    if start < 0 or end < start:
        raise RuntimeError(f"{doc} has no {DOC_BEGIN} ... {DOC_END} block")
    new = text[: start + len(DOC_BEGIN)] + "\n" + summary_markdown(programs) + text[end:]
    if new != text:
        doc.write_text(new, encoding="utf-8", newline="")
    return new != text


REPO = Path(__file__).resolve().parent.parent
DEFAULT_FULL = REPO / "src" / "smartpick_rules" / "data" / "sample_catalog.csv"
DEFAULT_SMALL = REPO / "examples" / "small_catalog.csv"
DEFAULT_DOC = REPO / "docs" / "sample-data.md"
_DESCRIPTIONS = {
    "full": "Synthetic sample catalog: invented programs at national scale; not real program data",
    "small": "Synthetic sample catalog, small subset: invented programs; not real program data",
}


def _sidecar(path: Path) -> Path:
    return path.with_name(path.stem + ".meta.toml")


def write_catalogs(
    full: Path, small: Path, log: Callable[[str], None] = print, doc: Path | None = None
) -> tuple[int, int]:
    """Write both catalogs and their metadata sidecars (and refresh ``doc``'s tables); return their sizes."""
    programs = generate()
    subset = small_subset(programs)
    for path, rows, kind in ((full, programs, "full"), (small, subset, "small")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_csv(rows), encoding="utf-8", newline="")
        _sidecar(path).write_text(metadata_toml(path.name, _DESCRIPTIONS[kind]), encoding="utf-8", newline="")
        log(f"wrote {len(rows)} programs to {path} (and {_sidecar(path).name})")
    if doc is not None and refresh_doc(doc, programs):
        log(f"updated the tables in {doc}")
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
        write_catalogs(DEFAULT_FULL, DEFAULT_SMALL, doc=DEFAULT_DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
