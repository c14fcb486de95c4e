"""Hypothesis strategies for applicant profiles, derived from the attrs models.

Each field's strategy follows from its annotation and validator (an enum is sampled from its
members, a ``usmle_score`` is a score, a ``calendar_year`` a year, ``X | None`` is either, a
tuple is a short list of X, a nested record is built the same way), so a field added to
`smartpick_rules.domain.models` is generated with no change here. Where the schema allows
more than an applicant ever shows, an override keeps profiles realistic: Step scores 180-270,
graduation within 15 years of ``as_of``, one or two specialties the catalog has, a state that
matches the region. Shrinking moves towards the simplest profile: no lists, ``None`` where a
field is optional, the first enum member, a recent graduate.

Needs the ``hypothesis`` package (the ``properties`` extra: ``pip install smartpick-rules[properties]``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Collection
from enum import Enum
from typing import Any

import attrs
from hypothesis import strategies as st

from ..domain import models
from ..domain.models import (
    CALIFORNIA_REGIONS,
    ClinicalExperience,
    CommunityWork,
    Exam,
    Letter,
    MatchHistory,
    Preferences,
    Profile,
    Region,
    Research,
    Specialty,
    Tie,
)
from ..records import frozen

__all__ = ["field_bounds", "profile_strategy", "record_strategy"]

#: other states a tie, a letter or a rotation may be in (a few, so shrinking has little to do)
OTHER_STATES = ("TX", "NY", "FL", "IL", "AZ", "NV", "WA", "PA")
COUNTRIES = ("India", "Philippines", "Pakistan", "Nigeria", "Egypt", "Mexico", "Armenia", "Iran")
LANGUAGES = ("English", "Spanish", "Tagalog", "Korean", "Mandarin", "Armenian", "Farsi", "Vietnamese", "Hindi", "Arabic")
#: at most this many items in a generated list (letters, rotations, ties, ...)
MAX_ITEMS = 4

Path = tuple[str, ...]


@frozen
class _Context:
    as_of: int
    specialties: tuple[Specialty, ...]
    #: field paths that must not be None (a property changes or reads through them)
    required: frozenset[Path] = frozenset()
    #: numeric fields to draw near these values as well (the thresholds rules compare them with)
    near: tuple[tuple[Path, tuple[int, ...], int], ...] = ()

    def needed(self, path: Path) -> bool:
        return any(r[: len(path)] == path for r in self.required)


def field_bounds(cls: type, name: str, as_of: int) -> tuple[float | None, float | None]:
    """The realistic range of a numeric field: what profiles are generated in and changes may reach."""
    a = attrs.fields_dict(cls)[name]
    v = a.validator
    if (cls, name) == (Exam, "attempts"):
        return (1, 6)
    if v is models.usmle_score:
        return (1, 300)
    if v is models.calendar_year:
        return (as_of - 40, as_of + 2)
    if v is models.share:
        return (0, 1)
    if v is models.nonnegative:
        return (0, None)
    return (None, None)


def _place(record: Any) -> Any:
    """A state that agrees with the region: CA for a California region, another state out of state."""
    region = getattr(record, "region", None)
    state = getattr(record, "state", None)
    if region is None:
        return record
    if region in CALIFORNIA_REGIONS:
        want = "CA"
    elif region == Region.outside_us:
        want = None
    else:
        want = state if state in OTHER_STATES else OTHER_STATES[0]
    return attrs.evolve(record, state=want) if want != state else record


def _override(cls: type, name: str, ctx: _Context) -> st.SearchStrategy[Any] | None:
    """Realistic strategies where the schema alone allows too much; None: derive from the type."""
    as_of = ctx.as_of
    table: dict[tuple[type, str], Callable[[], st.SearchStrategy[Any]]] = {
        (Profile, "id"): lambda: st.just("applicant"),
        (Profile, "name"): lambda: st.none(),
        (Profile, "medical_school_country"): lambda: st.sampled_from(COUNTRIES),
        # a recent graduate is the simplest case: shrinking moves towards as_of
        (Profile, "graduation_year"): lambda: st.integers(0, 15).map(lambda k: as_of - k),
        (Profile, "languages"): lambda: st.lists(st.sampled_from(LANGUAGES), max_size=3, unique=True).map(tuple),
        (Profile, "leadership_roles"): lambda: st.integers(0, 4),
        (Profile, "teaching_roles"): lambda: st.integers(0, 4),
        (Exam, "score"): lambda: st.integers(180, 270),
        (Exam, "attempts"): lambda: st.integers(1, 4),
        (ClinicalExperience, "months"): lambda: st.integers(1, 12).map(float),
        (ClinicalExperience, "end_year"): lambda: st.integers(0, 8).map(lambda k: as_of - k),
        (ClinicalExperience, "institution"): lambda: st.none(),
        (Tie, "years"): lambda: st.integers(0, 20).map(float),
        (CommunityWork, "months"): lambda: st.integers(0, 24).map(float),
        (Research, "publications"): lambda: st.integers(0, 10),
        (Research, "abstracts"): lambda: st.integers(0, 10),
        (Research, "posters"): lambda: st.integers(0, 10),
        (Preferences, "application_budget"): lambda: st.integers(20, 200),
        (MatchHistory, "cycles"): lambda: st.integers(0, 3),
    }
    if (cls, name) == (Preferences, "specialties"):
        # one or two of the catalog's specialties: an applicant names what they apply to, and an
        # empty choice (every specialty) would make each evaluation read the whole catalog
        return st.lists(st.sampled_from(ctx.specialties), min_size=1, max_size=2, unique=True).map(tuple)
    if name == "state" and cls in (ClinicalExperience, Letter, Tie):
        return st.sampled_from((None, *OTHER_STATES))  # made to agree with the region by _place
    make = table.get((cls, name))
    return make() if make is not None else None


def _within(spread: int, lo: float | None, hi: float | None) -> Callable[[int], st.SearchStrategy[int]]:
    def near(c: int) -> st.SearchStrategy[int]:
        low = c - spread if lo is None else max(c - spread, int(lo))
        high = c + spread if hi is None else min(c + spread, int(hi))
        return st.integers(low, high)

    return near


def _strategy(tp: Any, cls: type, name: str, path: Path, ctx: _Context) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _strategy(args[0], cls, name, path, ctx)
        # None first: shrinking prefers it, so a minimal profile leaves out what does not matter
        return inner if ctx.needed(path) else st.one_of(st.none(), inner)
    override = _override(cls, name, ctx)
    for near_path, values, spread in ctx.near:
        if near_path == path and override is not None:
            # a threshold a rule compares this field with: crossing it is where monotonicity
            # breaks, and uniform draws rarely land within a change's reach of it
            lo, hi = field_bounds(cls, name, ctx.as_of)
            around = st.sampled_from(values).flatmap(_within(spread, lo, hi))
            return st.one_of(override, around)
    if override is not None:
        return override
    if origin is tuple:
        elem = typing.get_args(tp)[0]
        if isinstance(elem, type) and issubclass(elem, Enum):
            return st.lists(st.sampled_from(list(elem)), max_size=3, unique=True).map(tuple)
        items = _strategy(elem, cls, name, path, ctx)
        return st.lists(items, min_size=1 if ctx.needed(path) else 0, max_size=MAX_ITEMS).map(tuple)
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return st.sampled_from(list(tp))
        if tp is bool:
            default = attrs.fields_dict(cls)[name].default
            if default is True:
                # shrink towards the default, so a minimal profile shows only what departs from it
                return st.booleans().map(lambda b: not b)
            return st.booleans()
        if attrs.has(tp):
            return _record(tp, path, ctx)
        if tp is int or tp is float:
            lo, hi = field_bounds(cls, name, ctx.as_of)
            lo_i = int(lo) if lo is not None else 0
            ints = st.integers(lo_i, int(hi) if hi is not None else lo_i + 10)
            return ints if tp is int else ints.map(float)
        if tp is str:
            return st.sampled_from(("a", "b"))
    raise TypeError(f"no strategy for {cls.__name__}.{name}: {tp!r}")


def _record(cls: type, path: Path, ctx: _Context, fixed: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for a in attrs.fields(cls):
        if not a.init or a.name.startswith("_"):
            continue
        if fixed and a.name in fixed:
            fields[a.name] = st.just(fixed[a.name])
        else:
            fields[a.name] = _strategy(hints[a.name], cls, a.name, (*path, a.name), ctx)
    built = st.builds(cls, **fields)
    if "region" in fields and "state" in fields and not (fixed and "state" in fixed):
        return built.map(_place)
    return built


def profile_strategy(
    specialties: Collection[Specialty],
    as_of: int,
    required: Collection[Path] = (),
    near: Collection[tuple[Path, Collection[int], int]] = (),
) -> st.SearchStrategy[Profile]:
    """Profiles of applicants to ``specialties``, graduating near ``as_of``.

    ``required`` lists field paths (``("step2_ck", "score")``) that must be present, because a
    property changes them: drawing ``None`` there would only be rejected. ``near`` lists
    ``(path, values, spread)``: draw that field within ``spread`` of one of ``values`` as well as
    over its usual range (values outside its realistic range are ignored).
    """
    near_ctx = []
    for path, values, spread in near:
        cls: type = Profile
        for part in path[:-1]:
            hint = typing.get_type_hints(cls)[part]
            cls = next(a for a in (typing.get_args(hint) or (hint,)) if a is not type(None))
        lo, hi = field_bounds(cls, path[-1], as_of)
        keep = tuple(sorted(v for v in values if (lo is None or v >= lo) and (hi is None or v <= hi)))
        if keep:
            near_ctx.append((tuple(path), keep, spread))
    ctx = _Context(
        as_of,
        tuple(sorted(specialties, key=list(Specialty).index)),
        frozenset(tuple(r) for r in required),
        tuple(near_ctx),
    )
    if not ctx.specialties:
        raise ValueError("no specialties to generate applicants for: the catalog is empty")
    strategy: st.SearchStrategy[Profile] = _record(Profile, (), ctx)
    return strategy


def record_strategy(cls: type, as_of: int, fixed: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """One record of ``cls`` (a letter, a rotation, a tie), with ``fixed`` fields as given."""
    ctx = _Context(as_of, tuple(Specialty))
    return _record(cls, (), ctx, fixed)
