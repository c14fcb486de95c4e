"""The applicant, the programs and the catalog: the facts rules read.

Every model is a frozen attrs class, structured from TOML, JSON or CSV by the one converter in
``smartpick_rules.domain.converter``. Field names here are the names rule authors write after
``applicant.`` and ``program.``, so renaming a field is a breaking change to every rule set.
Enumerations are string enums: their values are what a rule compares against
(``program.region == "la_county"``), and the type checker refuses a value not listed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any

import attrs

from ..records import frozen
from .states import US_STATES, normalise_state
from .vocabulary import normalise_languages, normalise_tags

__all__ = [
    "ApplicantType",
    "Catalog",
    "ClinicalExperience",
    "CommunityWork",
    "Exam",
    "ExperienceKind",
    "Letter",
    "MatchHistory",
    "Preferences",
    "Profile",
    "Program",
    "ProgramType",
    "Region",
    "Research",
    "Specialty",
    "Tie",
    "TieKind",
    "VisaNeed",
    "WorkKind",
]


class Region(StrEnum):
    """Where a program, a tie or an experience is. California is split the way the guide spreads a list."""

    la_county = "la_county"
    orange_county = "orange_county"
    inland_empire = "inland_empire"
    san_diego = "san_diego"
    kern = "kern"
    central_valley = "central_valley"
    central_coast = "central_coast"
    northern_california = "northern_california"
    out_of_state = "out_of_state"
    outside_us = "outside_us"


#: Regions inside California, for rules that ask "California?" and for the list's spread.
CALIFORNIA_REGIONS = frozenset(r for r in Region if r not in (Region.out_of_state, Region.outside_us))
#: The guide's "greater Southern California".
SOUTHERN_CALIFORNIA_REGIONS = frozenset(
    {Region.la_county, Region.orange_county, Region.inland_empire, Region.san_diego, Region.kern}
)


class Specialty(StrEnum):
    internal_medicine = "internal_medicine"
    family_medicine = "family_medicine"
    pediatrics = "pediatrics"
    psychiatry = "psychiatry"
    transitional_year = "transitional_year"
    preliminary_medicine = "preliminary_medicine"
    preliminary_surgery = "preliminary_surgery"
    neurology = "neurology"
    pathology = "pathology"
    obstetrics_gynecology = "obstetrics_gynecology"
    general_surgery = "general_surgery"
    emergency_medicine = "emergency_medicine"
    anesthesiology = "anesthesiology"
    diagnostic_radiology = "diagnostic_radiology"
    radiation_oncology = "radiation_oncology"
    dermatology = "dermatology"
    orthopaedic_surgery = "orthopaedic_surgery"
    neurosurgery = "neurosurgery"
    plastic_surgery = "plastic_surgery"
    otolaryngology = "otolaryngology"
    ophthalmology = "ophthalmology"
    urology = "urology"


class ProgramType(StrEnum):
    university = "university"
    university_affiliated_community = "university_affiliated_community"
    community = "community"
    county_safety_net = "county_safety_net"


class VisaNeed(StrEnum):
    none = "none"
    j1 = "j1"
    h1b = "h1b"


class ApplicantType(StrEnum):
    non_us_img = "non_us_img"
    us_img = "us_img"
    us_md = "us_md"
    us_do = "us_do"


class ExperienceKind(StrEnum):
    """Kinds of US clinical experience, in the guide's order of impact (highest first)."""

    sub_internship = "sub_internship"
    hands_on = "hands_on"
    externship = "externship"
    observership = "observership"
    volunteer_clinical = "volunteer_clinical"
    research = "research"


class TieKind(StrEnum):
    lived = "lived"
    studied = "studied"
    family = "family"
    partner = "partner"
    worked = "worked"


class WorkKind(StrEnum):
    safety_net_hospital = "safety_net_hospital"
    community_clinic = "community_clinic"
    homeless_care = "homeless_care"
    undocumented_care = "undocumented_care"
    mental_health = "mental_health"
    public_health = "public_health"
    other = "other"


class FieldValueError(ValueError):
    """A validator's refusal, carrying the field so errors can name its path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def state_code(value: Any) -> str:
    """Converter of a ``state`` field: the USPS code (``Texas``, ``tx``, `` TX`` -> ``TX``)."""
    if not isinstance(value, str):
        raise FieldValueError("state", f"expected a US state code or name, got {value!r}")
    try:
        return normalise_state(value)
    except ValueError as exc:
        raise FieldValueError("state", str(exc)) from None


def optional_state_code(value: Any) -> str | None:
    return None if value is None else state_code(value)


#: a ``state`` field holds one of these codes: rules' literals are checked against them
STATE_VALUES = {"values": tuple(US_STATES)}


#: characters an id may not contain: controls (a newline forges a line in every report), and
#: the invisible bidirectional controls that make two different ids look the same
_ID_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def identifier(_inst: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str):
        raise FieldValueError(attribute.name, f"expected a string, got {value!r}")
    if not value.strip():
        raise FieldValueError(attribute.name, "must not be empty")
    if value != value.strip():
        raise FieldValueError(attribute.name, f"{value!r} starts or ends with spaces")
    bad = _ID_REFUSED.search(value)
    if bad:
        raise FieldValueError(attribute.name, f"contains the control character U+{ord(bad.group()):04X}")


def nonnegative(_inst: Any, attribute: Any, value: Any) -> None:
    if value is not None and value < 0:
        raise FieldValueError(attribute.name, f"must be 0 or more, got {value}")


def usmle_score(_inst: Any, attribute: Any, value: Any) -> None:
    if value is not None and not (1 <= value <= 300):
        raise FieldValueError(attribute.name, f"must be a USMLE score between 1 and 300, got {value}")


def calendar_year(_inst: Any, attribute: Any, value: Any) -> None:
    if value is not None and not (1940 <= value <= 2100):
        raise FieldValueError(attribute.name, f"must be a year between 1940 and 2100, got {value}")


def share(_inst: Any, attribute: Any, value: Any) -> None:
    if value is not None and not (0.0 <= value <= 1.0):
        raise FieldValueError(attribute.name, f"must be a share between 0 and 1, got {value}")


@frozen
class Exam:
    """One USMLE exam. ``score`` is None when the exam is pass/fail (Step 1 since 2022).

    ``attempts`` counts every sitting, the passing one included; ``passed`` is False while
    the exam is failed and not yet retaken successfully.
    """

    score: int | None = attrs.field(default=None, validator=usmle_score)
    passed: bool = True
    attempts: int = attrs.field(default=1, validator=nonnegative)

    @property
    def failed_attempts(self) -> int:
        """Sittings that did not pass."""
        return max(self.attempts - (1 if self.passed else 0), 0)


@frozen
class ClinicalExperience:
    """One block of US clinical experience (USCE)."""

    kind: ExperienceKind
    months: float = attrs.field(default=1.0, validator=nonnegative)
    specialty: Specialty | None = None
    state: str | None = attrs.field(default=None, converter=optional_state_code, metadata=STATE_VALUES)
    region: Region | None = None
    end_year: int | None = attrs.field(default=None, validator=calendar_year)
    letter: bool = False
    institution: str | None = None
    teaching_hospital: bool = False


@frozen
class Letter:
    """A letter of recommendation."""

    specialty: Specialty | None = None
    us: bool = True
    state: str | None = attrs.field(default=None, converter=optional_state_code, metadata=STATE_VALUES)
    region: Region | None = None
    residency_faculty: bool = False
    knows_applicant_well: bool = True
    addresses_scores: bool = False


@frozen
class Tie:
    """A geographic tie: somewhere the applicant lived, studied, worked or has family."""

    kind: TieKind
    state: str | None = attrs.field(default=None, converter=optional_state_code, metadata=STATE_VALUES)
    region: Region | None = None
    years: float = attrs.field(default=0.0, validator=nonnegative)


@frozen
class CommunityWork:
    """Underserved or community work (free clinics, safety-net hospitals, outreach)."""

    kind: WorkKind
    region: Region | None = None
    months: float = attrs.field(default=0.0, validator=nonnegative)


@frozen
class Research:
    publications: int = attrs.field(default=0, validator=nonnegative)
    abstracts: int = attrs.field(default=0, validator=nonnegative)
    posters: int = attrs.field(default=0, validator=nonnegative)
    in_california: bool = False

    @property
    def total(self) -> int:
        return self.publications + self.abstracts + self.posters


@frozen
class Preferences:
    specialties: tuple[Specialty, ...] = ()
    regions: tuple[Region, ...] = ()
    program_types: tuple[ProgramType, ...] = ()
    application_budget: int | None = attrs.field(default=None, validator=nonnegative)
    long_term_la_plan: bool = False


@frozen
class MatchHistory:
    applied_before: bool = False
    unmatched_before: bool = False
    soap: bool = False
    cycles: int = attrs.field(default=0, validator=nonnegative)


@frozen
class Profile:
    """One applicant."""

    graduation_year: int = attrs.field(validator=calendar_year)
    id: str = attrs.field(default="applicant", validator=identifier)
    name: str | None = None
    applicant_type: ApplicantType = ApplicantType.non_us_img
    medical_school_country: str | None = None
    step1: Exam | None = None
    step2_ck: Exam | None = None
    step3: Exam | None = None
    visa: VisaNeed = VisaNeed.none
    usce: tuple[ClinicalExperience, ...] = ()
    letters: tuple[Letter, ...] = ()
    ties: tuple[Tie, ...] = ()
    #: kept in canonical form (lower case, known aliases mapped): see domain/vocabulary.py
    languages: tuple[str, ...] = attrs.field(default=(), converter=normalise_languages)
    research: Research = attrs.field(factory=Research)
    community_work: tuple[CommunityWork, ...] = ()
    leadership_roles: int = attrs.field(default=0, validator=nonnegative)
    teaching_roles: int = attrs.field(default=0, validator=nonnegative)
    preferences: Preferences = attrs.field(factory=Preferences)
    history: MatchHistory = attrs.field(factory=MatchHistory)


@frozen
class Program:
    """One residency program in a catalog. Score policy fields are None where unpublished."""

    id: str = attrs.field(validator=identifier)
    name: str
    specialty: Specialty
    state: str = attrs.field(converter=state_code, metadata=STATE_VALUES)
    region: Region
    program_type: ProgramType
    city: str = ""
    positions: int = attrs.field(default=1, validator=nonnegative)
    min_step1: int | None = attrs.field(default=None, validator=usmle_score)
    min_step2_ck: int | None = attrs.field(default=None, validator=usmle_score)
    max_attempts: int | None = attrs.field(default=None, validator=nonnegative)
    max_years_since_graduation: int | None = attrs.field(default=None, validator=nonnegative)
    sponsors_j1: bool = False
    sponsors_h1b: bool = False
    img_share: float | None = attrs.field(default=None, validator=share)
    usce_required: bool = False
    #: kept in canonical form (lower case, underscores): see domain/vocabulary.py
    tags: tuple[str, ...] = attrs.field(default=(), converter=normalise_tags)


@frozen
class Catalog(Sequence[Program]):
    """An ordered, immutable collection of programs with lookup by id.

    Build one with [`load_catalog`][smartpick_rules.load_catalog] or ``Catalog.of(programs)``; both
    refuse duplicate ids.

    ``synthetic`` is True when the programs are invented (the shipped sample catalog, or any file
    whose metadata says ``synthetic = true``); results carry it as
    ``Provenance.catalog_synthetic`` so that every output naming programs can say they are not real.
    Like ``source``, it describes the catalog and is not part of equality.
    """

    programs: tuple[Program, ...]
    source: str = attrs.field(default="", eq=False)
    synthetic: bool = attrs.field(default=False, eq=False)
    _by_id: Mapping[str, Program] = attrs.field(init=False, repr=False, eq=False)
    #: per-catalog cache of columns used by the vectorised engine (never part of equality)
    _columns: dict[str, object] = attrs.field(init=False, repr=False, eq=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        by_id: dict[str, Program] = {}
        folded: dict[str, str] = {}
        for p in self.programs:
            other = folded.get(p.id.casefold())
            if other is not None:
                from ..errors import Diagnostic, InputError, Location

                message = f"program id `{p.id}` appears twice" if other == p.id else f"program ids `{other}` and `{p.id}` differ only by case"
                raise InputError(Diagnostic("duplicate_id", message, Location(self.source)))
            by_id[p.id] = p
            folded[p.id.casefold()] = p.id
        object.__setattr__(self, "_by_id", by_id)

    @classmethod
    def of(cls, programs: Sequence[Program], source: str = "", *, synthetic: bool = False) -> Catalog:
        return cls(tuple(programs), source, synthetic)

    @classmethod
    def from_pandas(cls, df: Any, column_map: Any = None, *, source: str = "<DataFrame>") -> Catalog:
        """A catalog from a pandas DataFrame, one program per row.

        Columns named like `Program` fields (any case; spaces for underscores) are read as
        those fields; ``column_map`` (a `ColumnMap` or the path of its TOML file, see
        docs/import.md) maps other names. NaN, None and NaT are missing values: *not published*
        for the optional fields. Every bad cell is an `InputError` naming its row and column.
        """
        from .importers import catalog_from_frame

        return catalog_from_frame(df, column_map, source=source)

    def get(self, program_id: str) -> Program | None:
        return self._by_id.get(program_id)

    def __getitem__(self, index: int) -> Program:  # type: ignore[override]
        return self.programs[index]

    def __len__(self) -> int:
        return len(self.programs)

    def __iter__(self) -> Iterator[Program]:
        return iter(self.programs)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self._by_id
        return item in self.programs

    def ids(self) -> list[str]:
        return [p.id for p in self.programs]

    def column_cache(self) -> dict[str, object]:
        """Cache the engine fills with per-catalog arrays; safe because the catalog is immutable."""
        return self._columns
