"""What every profile and catalog field means: the prose the reference docs, the JSON Schemas,
``smartpick-rules init`` and the readable-fields list are generated from.

Types, defaults, allowed values and ranges are read from the models themselves
(`smartpick_rules.domain.models`); only what the code cannot say lives here: the meaning,
the unit and an example. ``tests/test_reference_docs.py`` fails when a model field has no entry
here (or an entry names a field that no longer exists), so a new field cannot go undocumented.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

import attrs

from ..records import frozen
from .models import (
    ApplicantType,
    ClinicalExperience,
    CommunityWork,
    Exam,
    ExperienceKind,
    Letter,
    MatchHistory,
    Preferences,
    Profile,
    Program,
    ProgramType,
    Region,
    Research,
    Tie,
    TieKind,
    VisaNeed,
    WorkKind,
    calendar_year,
    nonnegative,
    share,
    usmle_score,
)

__all__ = [
    "CLASS_DOCS",
    "ENUM_DOCS",
    "FIELD_DOCS",
    "FieldDoc",
    "FieldInfo",
    "describe_fields",
    "record_classes",
]


@frozen
class FieldDoc:
    """The human part of a field's documentation."""

    doc: str
    #: the unit of a number ("points", "months", "years", "share 0-1"), if any
    unit: str | None = None
    #: a value as it would be written in a TOML file (None: no example)
    example: Any = None


D = FieldDoc

#: What each record (a TOML table) is.
CLASS_DOCS: dict[type, str] = {
    Profile: "One applicant. The top level of a profile file.",
    Exam: "One USMLE exam (`step1`, `step2_ck`, `step3`). Leave the table out if the exam is not taken yet.",
    ClinicalExperience: "One block of US clinical experience (USCE): a rotation, externship, observership or volunteer work.",
    Letter: "One letter of recommendation.",
    Tie: "A geographic tie: somewhere you lived, studied, worked or have family.",
    CommunityWork: "Underserved or community work: free clinics, safety-net hospitals, outreach.",
    Research: "Research output, counted.",
    Preferences: "What you are looking for. The shipped rules exclude specialties you do not list.",
    MatchHistory: "Earlier Match cycles.",
    Program: "One residency program: one row of a catalog. Score-policy fields are left empty where the program publishes none.",
}

#: What each field means. Keys are the attrs field names.
FIELD_DOCS: dict[type, dict[str, FieldDoc]] = {
    Profile: {
        "graduation_year": D("The year you graduated (or will graduate) from medical school. Programs that take only recent graduates compare it with the year of the list.", "year", 2021),
        "id": D("A short identifier for this profile, recorded in results.", None, "me"),
        "name": D("A name shown in the title of reports.", None, "Dr. A. Example"),
        "applicant_type": D("Who you are to US programs: a non-US IMG, a US citizen IMG, or a US MD or DO graduate.", None, "non_us_img"),
        "medical_school_country": D("The country of your medical school.", None, "Philippines"),
        "step1": D("USMLE Step 1. Since 2022 Step 1 is pass/fail: give `passed` and `attempts` and leave `score` out.", None, {"score": 208, "passed": True, "attempts": 1}),
        "step2_ck": D("USMLE Step 2 CK, the score most programs now screen on.", None, {"score": 224, "passed": True, "attempts": 1}),
        "step3": D("USMLE Step 3, if taken (it helps applicants who need an H-1B visa).", None, None),
        "visa": D("The visa you would need to train in the US: none (citizen or green card), J-1 or H-1B.", None, "j1"),
        "usce": D("Your US clinical experience, one table per block.", None, None),
        "letters": D("Your letters of recommendation, one table per letter.", None, None),
        "ties": D("Your geographic ties, one table per tie.", None, None),
        "languages": D("Languages you speak. Written any way you like (`Spanish`, `spanish`); they are compared in lower case.", None, ["English", "Tagalog"]),
        "research": D("Your research output.", None, None),
        "community_work": D("Your underserved or community work, one table per block.", None, None),
        "leadership_roles": D("Leadership roles held (chief, president, coordinator...).", "roles", 1),
        "teaching_roles": D("Teaching roles held (tutor, instructor, teaching assistant...).", "roles", 1),
        "preferences": D("What you are looking for.", None, None),
        "history": D("Your earlier Match cycles, if any.", None, None),
    },
    Exam: {
        "score": D("The three-digit score; leave it out for a pass/fail exam.", "points (1-300)", 224),
        "passed": D("false while the exam is failed and not yet passed on a retake.", None, True),
        "attempts": D("Every sitting, the passing one included: 1 for a first-time pass.", "sittings", 1),
    },
    ClinicalExperience: {
        "kind": D("What kind of experience, in the guide's order of impact (highest first).", None, "hands_on"),
        "months": D("How long it lasted.", "months", 3),
        "specialty": D("The specialty it was in.", None, "internal_medicine"),
        "state": D("The US state, as its two-letter code.", None, "CA"),
        "region": D("Where it was (California is split by region).", None, "la_county"),
        "end_year": D("The year it ended (recent experience counts for more).", "year", 2025),
        "letter": D("true if it earned you a letter of recommendation.", None, True),
        "institution": D("The hospital or clinic (shown in explanations only).", None, "Example General Hospital"),
        "teaching_hospital": D("true if the hospital has residency programs.", None, True),
    },
    Letter: {
        "specialty": D("The letter writer's specialty.", None, "internal_medicine"),
        "us": D("true for a letter from a US physician.", None, True),
        "state": D("The writer's US state, as its two-letter code.", None, "CA"),
        "region": D("Where the writer works.", None, "la_county"),
        "residency_faculty": D("true if the writer teaches residents (a program director or core faculty).", None, False),
        "knows_applicant_well": D("true if the writer worked with you closely enough to be specific.", None, True),
        "addresses_scores": D("true if the letter speaks to your performance despite your scores.", None, False),
    },
    Tie: {
        "kind": D("What ties you to the place.", None, "lived"),
        "state": D("The US state, as its two-letter code.", None, "CA"),
        "region": D("Where the tie is.", None, "la_county"),
        "years": D("How long (0 when it is not about time, like family).", "years", 1),
    },
    CommunityWork: {
        "kind": D("What kind of work.", None, "community_clinic"),
        "region": D("Where it was.", None, "la_county"),
        "months": D("How long it lasted.", "months", 4),
    },
    Research: {
        "publications": D("Peer-reviewed publications.", "papers", 1),
        "abstracts": D("Published abstracts.", "abstracts", 0),
        "posters": D("Posters presented.", "posters", 2),
        "in_california": D("true if any of it was done in California.", None, False),
    },
    Preferences: {
        "specialties": D("The specialties you apply to. The shipped rules exclude every program in a specialty not listed here (none listed: every specialty).", None, ["internal_medicine"]),
        "regions": D("Regions you prefer; programs there move up the list.", None, ["la_county", "orange_county"]),
        "program_types": D("Kinds of program you prefer.", None, ["community", "university_affiliated_community"]),
        "application_budget": D("How many programs you can afford to apply to.", "applications", 100),
        "long_term_la_plan": D("true if you plan to practise in Los Angeles after residency (the guide's 'LA fit').", None, True),
    },
    MatchHistory: {
        "applied_before": D("true if you applied in an earlier Match.", None, False),
        "unmatched_before": D("true if you went unmatched in an earlier Match.", None, False),
        "soap": D("true if you took part in SOAP (the Supplemental Offer and Acceptance Program).", None, False),
        "cycles": D("How many earlier cycles you applied in.", "cycles", 0),
    },
    Program: {
        "id": D("A unique id for the program in this catalog (the first column). Commands such as `explain` take it.", None, "im-la-001"),
        "name": D("The program's name.", None, "Example Medical Center Internal Medicine"),
        "specialty": D("The program's specialty.", None, "internal_medicine"),
        "state": D("The US state, as its two-letter code.", None, "CA"),
        "region": D("Where the program is (California is split by region; `out_of_state` elsewhere in the US).", None, "la_county"),
        "program_type": D("The kind of institution.", None, "community"),
        "city": D("The city.", None, "Los Angeles"),
        "positions": D("First-year positions offered.", "positions", 12),
        "min_step1": D("The published minimum Step 1 score; empty where none is published.", "points (1-300)", None),
        "min_step2_ck": D("The published minimum Step 2 CK score; empty where none is published.", "points (1-300)", 220),
        "max_attempts": D("The most attempts per exam the program accepts; empty where it publishes no limit.", "attempts", 1),
        "max_years_since_graduation": D("The most years since graduation the program accepts; empty where it publishes no limit.", "years", 5),
        "sponsors_j1": D("true if the program accepts J-1 visa holders.", None, True),
        "sponsors_h1b": D("true if the program sponsors H-1B visas.", None, False),
        "img_share": D("The share of current residents who are IMGs; empty where unknown.", "share (0-1)", 0.35),
        "usce_required": D("true if the program requires US clinical experience.", None, False),
        "tags": D("Free labels that rules read (`\"img_friendly\" in program.tags`); separated by `;` in CSV.", None, ["img_friendly", "safety_net"]),
    },
}

#: What some enumeration values mean (values not listed speak for themselves).
ENUM_DOCS: dict[type[Enum], dict[str, str]] = {
    Region: {
        "la_county": "Los Angeles County",
        "orange_county": "Orange County",
        "inland_empire": "Riverside and San Bernardino counties",
        "san_diego": "San Diego County",
        "kern": "Kern County (Bakersfield)",
        "central_valley": "California's Central Valley (Fresno, Modesto, Stockton...)",
        "central_coast": "California's Central Coast",
        "northern_california": "the Bay Area, Sacramento and the north of California",
        "out_of_state": "anywhere in the US outside California",
        "outside_us": "outside the United States",
    },
    ProgramType: {
        "university": "a university program or big-name academic centre",
        "university_affiliated_community": "a community hospital affiliated with a university",
        "community": "a community hospital",
        "county_safety_net": "a county or safety-net hospital",
    },
    VisaNeed: {"none": "no visa needed: a US citizen or permanent resident", "j1": "a J-1 visa", "h1b": "an H-1B visa"},
    ApplicantType: {
        "non_us_img": "an international medical graduate who is not a US citizen",
        "us_img": "a US citizen who graduated from a medical school abroad",
        "us_md": "a graduate of a US MD school",
        "us_do": "a graduate of a US DO school",
    },
    ExperienceKind: {
        "sub_internship": "a sub-internship or acting internship",
        "hands_on": "a hands-on clinical rotation",
        "externship": "an externship",
        "observership": "an observership",
        "volunteer_clinical": "volunteer clinical work",
        "research": "clinical research",
    },
    TieKind: {},
    WorkKind: {},
}

_RANGES = {
    usmle_score: (1, 300),
    calendar_year: (1940, 2100),
    share: (0, 1),
    nonnegative: (0, None),
}


@frozen
class FieldInfo:
    """Everything the reference knows about one field: from the model and from `FIELD_DOCS`."""

    name: str
    owner: type
    annotation: Any
    #: ``int``, ``float``, ``bool``, ``str``, an Enum class or an attrs class (the element type for lists)
    base: Any
    is_list: bool
    optional: bool
    required: bool
    default: Any
    minimum: float | None
    maximum: float | None
    doc: FieldDoc

    @property
    def enum(self) -> type[Enum] | None:
        return self.base if isinstance(self.base, type) and issubclass(self.base, Enum) else None

    @property
    def record(self) -> type | None:
        return self.base if isinstance(self.base, type) and attrs.has(self.base) else None

    def type_text(self) -> str:
        """The type in words: "whole number", "list of text", "table (Exam)"."""
        base = self.base
        if self.record is not None:
            word = f"table ({base.__name__})"
        elif self.enum is not None:
            word = "one of the values listed"
        elif base is bool:
            word = "true or false"
        elif base is int:
            word = "whole number"
        elif base is float:
            word = "number"
        else:
            word = "text"
        if self.is_list:
            if self.record is not None:
                return f"list of tables ({base.__name__})"
            return f"list of {'values listed' if self.enum is not None else word}"
        return word

    def range_text(self) -> str:
        if self.minimum is None and self.maximum is None:
            return ""
        if self.maximum is None:
            return f"{_n(self.minimum)} or more"
        return f"{_n(self.minimum)} to {_n(self.maximum)}"

    def default_text(self) -> str:
        if self.required:
            return "required"
        d = self.default
        if d is None:
            return "not given"
        if isinstance(d, bool):
            return str(d).lower()
        if isinstance(d, Enum):
            return f"`{d.value}`"
        if isinstance(d, tuple):
            return "empty list" if not d else str(list(d))
        if attrs.has(type(d)):
            return "all defaults"
        return f"`{d}`" if isinstance(d, str) else _n(d)


def _n(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else str(x)


def _unwrap(tp: Any) -> tuple[Any, bool, bool]:
    """(base type, is a list, may be absent)."""
    optional = False
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) != len(typing.get_args(tp))
        tp = args[0]
        origin = typing.get_origin(tp)
    if origin is tuple:
        return typing.get_args(tp)[0], True, optional
    return tp, False, optional


def describe_fields(cls: type) -> list[FieldInfo]:
    """Every public field of a model class, in declaration order, with its documentation."""
    hints = typing.get_type_hints(cls)
    docs = FIELD_DOCS.get(cls, {})
    out = []
    for a in attrs.fields(cls):
        if a.name.startswith("_"):
            continue
        base, is_list, optional = _unwrap(hints[a.name])
        lo = hi = None
        validators = getattr(a.validator, "_validators", (a.validator,)) if a.validator else ()
        for v in validators:
            if v in _RANGES:
                lo, hi = _RANGES[v]
        default: Any = a.default
        required = default is attrs.NOTHING
        factory = getattr(default, "factory", None)
        if callable(factory) and not required:  # an attrs.Factory
            default = factory()
        out.append(
            FieldInfo(
                name=a.name,
                owner=cls,
                annotation=hints[a.name],
                base=base,
                is_list=is_list,
                optional=optional,
                required=required,
                default=None if required else default,
                minimum=lo,
                maximum=hi,
                doc=docs.get(a.name, FieldDoc("")),
            )
        )
    return out


def record_classes(root: type) -> list[type]:
    """``root`` and every record class reachable from it, in first-reached order."""
    seen: list[type] = []

    def visit(cls: type) -> None:
        if cls in seen:
            return
        seen.append(cls)
        for f in describe_fields(cls):
            if f.record is not None:
                visit(f.record)

    visit(root)
    return seen
