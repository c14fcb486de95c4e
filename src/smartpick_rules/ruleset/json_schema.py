"""The JSON Schema of rule files, generated from the raw rule-file models.

Editors with a TOML language server (Taplo, Even Better TOML) validate and complete rule files
against it. It describes the *shape* of a file (tables, keys, value types, enumerations of
stages and set targets) and, from the function registry (``language.functions``), which
functions an expression may call; what only the type checker can know (that a path exists,
that a tag is set, that a call has the right arguments) is left to ``smartpick-rules check``.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs

from ..language.functions import BUILTINS
from ..language.ir import DIRECTIONS, LEVER_KINDS, STAGES, TIERS
from ..language.result_facts import OBSERVABLES
from .load import (
    RawBreadth,
    RawChance,
    RawEffect,
    RawEstimate,
    RawGroup,
    RawHeader,
    RawLever,
    RawProperty,
    RawRule,
)

__all__ = ["expression_pattern", "rule_file_schema"]

SCHEMA_ID = "https://smartpick-rules.invalid/schema/rule-file.json"

_DESCRIPTIONS = {
    "id": "Unique, lower-case, dotted rule id, e.g. red_flags.failed_attempt",
    "stage": "profile, program or list",
    "salience": "Orders the audit trail (higher first) and breaks ties between `set` effects",
    "when": "A condition, or a list of conditions that must all hold. Readable fields (applicant.*, program.*, list.*, item.*) are listed in docs/fields.md",
    "then": "The rule's effects",
    "explain": "Explanation template; {path} inserts a value the rule reads",
    "source": "Where the guidance comes from (guide section, or publication and year)",
    "description": "Assumptions and notes",
    "enabled": "false turns the rule off",
    "override": "true replaces a rule of the same id from an earlier rule set",
    "tag": "Tag(s) to add; later rules read them with has()",
    "priority": "Added to the program's place in the recommended list (program stage): higher comes first",
    "odds": "Multiplies the odds of an interview (profile or program stage): a number above 0, or an expression",
    "chance_cap": "The chance of an interview is at most this (0 to 1; profile or program stage)",
    "tier_at_most": "The tier is at most this (reach, target or likely; profile or program stage)",
    "estimate": "Adds to per-program estimates declared with [[estimate]] (program stage; only effect of its rule)",
    "at_most": "The list takes at most this many programs of a [[group]] (list stage)",
    "at_least": "The list keeps this many places for a [[group]]'s best programs (list stage)",
    "exclude": "Exclude the program with this reason (template; program stage)",
    "advice": "Advice for the applicant (template)",
    "set": "Derived values: any name in the profile stage (read as derived.NAME); `interview_target` in the list stage",
    "start": "The estimate's value before any rule adds to it",
    "programs": "A condition on program (and applicant) fields: which programs belong to the group",
    "unit": "What the estimate counts, for explanations (e.g. Step 2 CK points)",
    "breadth": "Recommended number of applications (list stage); numbers or expressions",
    "requires": "Rule sets that must be loaded and applied first",
    "disable": "Ids of earlier rules or properties to turn off",
    "given": "Property: conditions on the generated applicant (applicant.) that select the profiles checked",
    "change": "Monotone property: the change applied to each generated profile",
    "observe": "Monotone property: what the change must never move the wrong way",
    "never": "Monotone property: lower (default) or raise",
    "where": "Monotone property: only programs matching this condition on program. fields",
    "holds": "Invariant: conditions over result. and applicant. true for every generated profile",
}


def _schema_for(tp: Any, name: str = "") -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _schema_for(options[0], name)
        return {"anyOf": [_schema_for(o, name) for o in options]}
    if origin is list:
        return {"type": "array", "items": _schema_for(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_for(args[1])}
    if tp is Any:
        return {}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if isinstance(tp, type) and attrs.has(tp):
        return _object(tp)
    raise TypeError(f"no schema for {tp!r}")


def _object(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for a in attrs.fields(cls):
        s = _schema_for(hints[a.name], a.name)
        if a.name in _DESCRIPTIONS:
            s = {**s, "description": _DESCRIPTIONS[a.name]}
        props[a.name] = s
        if a.default is attrs.NOTHING:
            required.append(a.name)
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


#: words of the language that may stand right before "(" besides the functions: `not(x)`, `x in(...)`
_KEYWORDS = ("and", "else", "if", "in", "not", "or")


def expression_pattern() -> str:
    """A regular expression an expression matches when every call in it names a builtin function.

    It reads the text as strings, names (paths, numbers, words) and other characters; a name may
    be followed directly by ``(`` only when it is a function (or a keyword). No look-around, so
    editors' regular expression engines (JavaScript's, Rust's) read it as Python's does.
    """
    string = r'"(?:[^"\\]|\\.)*"|' + r"'(?:[^'\\]|\\.)*'"
    name = r"[A-Za-z0-9_.]+"
    callable_ = "|".join(sorted((*BUILTINS, *_KEYWORDS), key=lambda w: (-len(w), w)))
    token = rf"""{string}|[^A-Za-z0-9_."'(]|\(|(?:{callable_})\(|{name}(?:{string}|[^A-Za-z0-9_.("']|$)"""
    return rf"^(?:{token})*$"


def _expression_schema() -> dict[str, Any]:
    calls = "; ".join(" or ".join(spec.forms) for spec in BUILTINS.values())
    return {
        "type": "string",
        "pattern": expression_pattern(),
        "description": "An expression of the rule language (docs/rule-language.md). Functions: " + calls,
    }


_EXPRESSION_REF = {"$ref": "#/$defs/expression"}


def _expressions(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its string forms read as expressions."""
    if node.get("type") == "string":
        rest = {k: v for k, v in node.items() if k != "type"}
        return {**_EXPRESSION_REF, **rest}
    out = dict(node)
    if "anyOf" in out:
        out["anyOf"] = [_expressions(o) for o in out["anyOf"]]
    if "items" in out:
        out["items"] = _expressions(out["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _expressions(out["additionalProperties"])
    return out


def rule_file_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a rule-set TOML file."""
    rule = _object(RawRule)
    rule["properties"]["stage"] = {"enum": list(STAGES), "description": _DESCRIPTIONS["stage"]}
    rule["properties"]["id"]["pattern"] = r"^[a-z0-9_]+(\.[a-z0-9_-]+)*$"
    effect = _object(RawEffect)
    effect["minProperties"] = 1
    effect["properties"]["set"]["properties"] = {"interview_target": {"type": "number", "minimum": 0}}
    effect["properties"]["tier_at_most"] = {"enum": list(TIERS), "description": _DESCRIPTIONS["tier_at_most"]}
    breadth = _object(RawBreadth)
    for bound in ("min", "max"):
        breadth["properties"][bound] = _expressions(breadth["properties"][bound])
    effect["properties"]["breadth"] = {**breadth, "description": _DESCRIPTIONS["breadth"]}
    for key in ("odds", "chance_cap", "estimate", "at_most", "at_least"):
        effect["properties"][key] = _expressions(effect["properties"][key])
    rule["properties"]["then"] = {**effect, "description": _DESCRIPTIONS["then"]}
    rule["properties"]["when"] = _expressions(rule["properties"]["when"])
    prop = _object(RawProperty)
    prop["properties"]["id"]["pattern"] = r"^[a-z0-9_]+(\.[a-z0-9_-]+)*$"
    for key in ("given", "where", "holds"):
        prop["properties"][key] = _expressions(prop["properties"][key])
    observable = {"enum": list(OBSERVABLES)}
    prop["properties"]["observe"] = {"anyOf": [observable, {"type": "array", "items": observable}], "description": _DESCRIPTIONS["observe"]}
    prop["properties"]["never"] = {"enum": list(DIRECTIONS), "description": _DESCRIPTIONS["never"]}
    amount = {"type": "number", "exclusiveMinimum": 0}
    prop["properties"]["change"] = {
        "type": "object",
        "description": _DESCRIPTIONS["change"],
        "properties": {
            "raise": {"type": "string", "description": "a number in the profile, raised by `by`"},
            "lower": {"type": "string", "description": "a number in the profile, lowered by `by`"},
            "add": {"type": "string", "description": "a list of records in the profile; one item is added"},
            "remove": {"type": "string", "description": "a list of records in the profile; one item is removed"},
            "set": {"type": "string", "description": "a field of the profile, set to `to`"},
            "by": {"anyOf": [amount, {"type": "array", "items": amount, "minItems": 2, "maxItems": 2}]},
            "with": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
            "to": {"type": ["string", "number", "boolean"]},
            "where": _EXPRESSION_REF,
        },
        "additionalProperties": False,
        "oneOf": [{"required": [verb]} for verb in ("raise", "lower", "add", "remove", "set")],
    }
    lever = _object(RawLever)
    lever["properties"]["id"]["pattern"] = rule["properties"]["id"]["pattern"]
    lever["properties"]["kind"] = {"enum": list(LEVER_KINDS), "description": "strengthen (raises chances) or widen (adds eligible programs)"}
    lever["properties"]["set"] = {
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
        "description": "Profile changes, FIELD=VALUE or FIELD+=VALUE; {specialty} and {as_of} are filled in",
    }
    lever["properties"]["when"] = {
        **_expressions(lever["properties"]["when"]),
        "description": "A condition on the applicant (and profile tags): the lever is offered when it holds",
    }
    group = _object(RawGroup)
    group["properties"]["programs"] = _expressions(group["properties"]["programs"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "smartpick_rules rule set",
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            "ruleset": _object(RawHeader),
            "chance": {
                **_object(RawChance),
                "description": "Chances of an interview: base (at the program's bar), tier cuts target and likely, floor, ceiling",
            },
            "estimate": {"type": "array", "items": _object(RawEstimate)},
            "group": {"type": "array", "items": group},
            "lever": {"type": "array", "items": lever},
            "rule": {"type": "array", "items": rule},
            "property": {"type": "array", "items": prop},
        },
        "required": ["ruleset"],
        "additionalProperties": False,
        "$defs": {"expression": _expression_schema()},
    }
