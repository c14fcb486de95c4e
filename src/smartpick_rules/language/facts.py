"""The fact schema: what paths a rule may read, and their types, derived from the models.

A rule's ``applicant.step2_ck.score`` is type-checked against [`Profile`][smartpick_rules.Profile]
at load time, so a misspelt field or a string compared with a number is refused before anything
runs. The schema is generated from the attrs classes themselves (plus a few computed properties
listed here), so adding a model field makes it readable by rules with no other change.
"""

from __future__ import annotations

import collections.abc
import functools
import types
import typing
from collections.abc import Sequence
from enum import Enum
from typing import Any

import attrs

from ..domain.models import Exam, Profile, Program, Research
from ..records import frozen

__all__ = ["CHOSEN_FACTS", "LIST_ITEM_RENAMED", "FactType", "ListFacts", "ListItem", "record_fields", "type_of_class"]


@frozen
class FactType:
    """The type of a value a path or expression yields.

    ``kind`` is one of ``number``, ``string``, ``bool``, ``list``, ``record``, ``null`` (the
    literal ``none``) or ``any`` (an empty list literal). ``enum`` lists the values a string
    may take; ``record`` names the attrs class of a record; ``optional`` marks values that may
    be absent (a pass/fail Step 1 has no score), which evaluate to *unknown*.
    """

    kind: str
    elem: FactType | None = None
    record: type | None = None
    enum: tuple[str, ...] | None = None
    optional: bool = False

    def describe(self) -> str:
        if self.kind == "list" and self.elem is not None:
            base = f"list of {self.elem.describe()}"
        elif self.kind == "record" and self.record is not None:
            # its fields, not the model's class name, which a rule author never writes
            names = list(record_fields(self.record))
            base = "record (" + ", ".join(names[:4]) + (", ..." if len(names) > 4 else "") + ")"
        elif self.enum:
            base = "string (" + ", ".join(self.enum[:6]) + (", ..." if len(self.enum) > 6 else "") + ")"
        else:
            base = self.kind
        return base

    def required(self) -> FactType:
        return attrs.evolve(self, optional=False)


NUMBER = FactType("number")
STRING = FactType("string")
BOOL = FactType("bool")
NULL = FactType("null", optional=True)
ANY = FactType("any")


@frozen
class ListItem:
    """One program as the list stage sees it: the program's fields plus its result so far."""

    program: Program
    #: estimated chance of an interview (0 when excluded)
    chance: float
    tier: str | None
    excluded: bool
    priority: float
    #: the tags rules set for the program (profile and program stage); the catalog's own tags
    #: are ``item.program_tags``
    tags: tuple[str, ...]


@frozen
class ListFacts:
    """What the list stage reads as ``list.*``."""

    programs: Sequence[ListItem]
    size: int
    excluded_count: int
    likely_count: int
    target_count: int
    reach_count: int
    la_county_count: int
    california_count: int
    out_of_state_count: int
    #: the sum of every eligible program's chance: what applying everywhere would yield
    eligible_interviews: float = 0.0
    # -- known only once the list is chosen (see CHOSEN_FACTS); unknown while it is being decided
    chosen_count: int | None = None
    #: the sum of the chosen programs' chances
    expected_interviews: float | None = None
    chosen_la_county_count: int | None = None
    chosen_california_count: int | None = None
    chosen_out_of_state_count: int | None = None
    breadth_min: int | None = None
    breadth_max: int | None = None
    interview_target: float | None = None
    #: column view of ``programs`` for count/total/any/all over the whole list (not a rule field)
    _columns: Any = attrs.field(default=None, eq=False, repr=False, alias="columns")


#: list facts known only after the list is chosen. A list rule that reads one reviews the chosen
#: list: it runs after the choice and may only give advice (or tags), never decide the list.
CHOSEN_FACTS = frozenset(
    {
        "chosen_count",
        "expected_interviews",
        "chosen_la_county_count",
        "chosen_california_count",
        "chosen_out_of_state_count",
        "breadth_min",
        "breadth_max",
        "interview_target",
    }
)

# Properties that are not attrs fields but that rules may read.
COMPUTED: dict[type, dict[str, FactType]] = {
    Exam: {"failed_attempts": NUMBER},
    Research: {"total": NUMBER},
}

# The list item is flat for authors: item.region, item.tier, not item.program.region.
_LIST_ITEM_EXTRA = ("chance", "tier", "excluded", "priority", "tags")
#: list-item fields read from the program under another name (``tags`` is the rules' tags)
LIST_ITEM_RENAMED = {"program_tags": "tags"}


def type_of_class(tp: Any) -> FactType:
    """The FactType of a Python annotation used in the models."""
    optional = False
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) != len(typing.get_args(tp))
        tp = args[0] if len(args) == 1 else tp
        origin = typing.get_origin(tp)
    if origin is tuple or origin is collections.abc.Sequence:
        elem = type_of_class(typing.get_args(tp)[0])
        return FactType("list", elem=elem, optional=optional)
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return FactType("string", enum=tuple(str(m.value) for m in tp), optional=optional)
        if tp is bool:
            return FactType("bool", optional=optional)
        if tp is int or tp is float:
            return FactType("number", optional=optional)
        if tp is str:
            return FactType("string", optional=optional)
        if attrs.has(tp):
            return FactType("record", record=tp, optional=optional)
    raise TypeError(f"no fact type for {tp!r}")


_FIELDS_CACHE: dict[type, dict[str, FactType]] = {}


def record_fields(cls: type) -> dict[str, FactType]:
    """Field name -> type for a record class (attrs fields plus computed properties)."""
    cached = _FIELDS_CACHE.get(cls)
    if cached is not None:
        return cached
    out: dict[str, FactType] = {}
    if cls is ListItem:
        out.update(record_fields(Program))
        out["chance"] = NUMBER
        out["tier"] = FactType("string", enum=("reach", "target", "likely"), optional=True)
        out["excluded"] = BOOL
        out["priority"] = NUMBER
        out["tags"] = FactType("list", elem=STRING)
        out["program_tags"] = FactType("list", elem=STRING)
    else:
        hints = typing.get_type_hints(cls)
        for a in attrs.fields(cls):
            if a.name.startswith("_"):
                continue
            ft = type_of_class(hints[a.name])
            values = a.metadata.get("values")
            if values and ft.kind == "string":
                # a string field with a closed set of values (US state codes): literals compared
                # with it are checked like an enumeration's
                ft = attrs.evolve(ft, enum=tuple(values))
            out[a.name] = ft
        out.update(COMPUTED.get(cls, {}))
    _FIELDS_CACHE[cls] = out
    return out


@functools.cache
def root_types() -> dict[str, FactType]:
    """The roots' types (one dict, built once: the checker asks for it at every path)."""
    return {
        "applicant": FactType("record", record=Profile),
        "program": FactType("record", record=Program),
        "list": FactType("record", record=ListFacts),
    }


def get_field(obj: Any, name: str) -> Any:
    """Read one field of a record for the scalar interpreter (the flat list-item view included)."""
    if isinstance(obj, ListItem):
        if name in _LIST_ITEM_EXTRA:
            return getattr(obj, name)
        return getattr(obj.program, LIST_ITEM_RENAMED.get(name, name))
    return getattr(obj, name)
