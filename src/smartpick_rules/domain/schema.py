"""JSON Schemas of profile and catalog files, generated from the models and their field docs.

Editors validate and complete TOML files against them (Taplo, Even Better TOML: a
``#:schema ./profile.schema.json`` first line) and JSON files by ``"$schema"``. Like the
rule-file schema they describe shape, types, allowed values and ranges; the loader remains
the judge (it also forgives case in vocabulary values such as ``"J1"``, which the schema lists
in their canonical lower-case form).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from .fielddocs import CLASS_DOCS, ENUM_DOCS, FieldInfo, describe_fields, record_classes
from .models import Profile, Program

__all__ = ["catalog_file_schema", "profile_file_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
PROFILE_SCHEMA_ID = "https://smartpick-rules.invalid/schema/profile.json"
CATALOG_SCHEMA_ID = "https://smartpick-rules.invalid/schema/catalog.json"


def _enum_description(enum: type[Enum]) -> str:
    meanings = ENUM_DOCS.get(enum, {})
    parts = [f"{m.value}" + (f" ({meanings[m.value]})" if m.value in meanings else "") for m in enum]
    return "; ".join(parts)


def _scalar(f: FieldInfo) -> dict[str, Any]:
    base = f.base
    if f.enum is not None:
        return {"enum": [m.value for m in f.enum]}
    if f.record is not None:
        return {"$ref": f"#/$defs/{base.__name__}"}
    if base is bool:
        return {"type": "boolean"}
    if base is int:
        out: dict[str, Any] = {"type": "integer"}
    elif base is float:
        out = {"type": "number"}
    else:
        return {"type": "string"}
    if f.minimum is not None:
        out["minimum"] = f.minimum
    if f.maximum is not None:
        out["maximum"] = f.maximum
    return out


def _field(f: FieldInfo) -> dict[str, Any]:
    item = _scalar(f)
    schema: dict[str, Any] = {"type": "array", "items": item} if f.is_list else dict(item)
    text = f.doc.doc
    if f.doc.unit:
        text += f" Unit: {f.doc.unit}."
    if f.enum is not None:
        text += f" Values: {_enum_description(f.enum)}."
    if text:
        schema["description"] = text.strip()
    if f.doc.example is not None:
        schema["examples"] = [f.doc.example]
    return schema


def _object(cls: type) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in describe_fields(cls):
        props[f.name] = _field(f)
        if f.required:
            required.append(f.name)
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if cls in CLASS_DOCS:
        out["description"] = CLASS_DOCS[cls]
    if required:
        out["required"] = required
    return out


def profile_file_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a profile file (TOML or JSON)."""
    root = _object(Profile)
    defs = {cls.__name__: _object(cls) for cls in record_classes(Profile)[1:]}
    root["properties"] = {"$schema": {"type": "string"}, **root["properties"]}
    return {"$schema": DRAFT, "$id": PROFILE_SCHEMA_ID, "title": "smartpick_rules applicant profile", **root, "$defs": defs}


def catalog_file_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a JSON or TOML catalog file.

    A TOML catalog is ``[[program]]`` tables, a JSON one ``{"programs": [...]}`` (either key
    works in either format). CSV catalogs have one column per program field: docs/catalog.md.
    """
    programs = {"type": "array", "items": {"$ref": "#/$defs/Program"}}
    return {
        "$schema": DRAFT,
        "$id": CATALOG_SCHEMA_ID,
        "title": "smartpick_rules program catalog",
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            "catalog": {"type": "object", "description": "Facts about the catalog as a whole (for example `synthetic = true`)."},
            "program": {**programs, "description": "The programs, as [[program]] tables."},
            "programs": {**programs, "description": "The programs, as a list."},
        },
        "oneOf": [{"required": ["program"]}, {"required": ["programs"]}],
        "additionalProperties": False,
        "$defs": {"Program": _object(Program)},
    }
