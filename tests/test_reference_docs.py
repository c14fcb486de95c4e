"""The reference generated from the models stays complete and current.

docs/profile.md, docs/catalog.md and docs/fields.md are generated (scripts/gen_reference_docs.py);
every model field must have a meaning in domain/fielddocs.py; the JSON Schemas accept the shipped
examples and refuse what the loader refuses; and the readable-fields page lists exactly the paths
the type checker accepts.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import attrs
import jsonschema
import pytest

import smartpick_rules as sr
from smartpick_rules.domain.fielddocs import CLASS_DOCS, FIELD_DOCS, describe_fields, record_classes
from smartpick_rules.domain.models import Profile, Program
from smartpick_rules.domain.schema import catalog_file_schema, profile_file_schema
from smartpick_rules.language.facts import ListFacts, ListItem, record_fields
from test_cli_support import PROFILES, REPO, run_main


def _gen() -> object:
    spec = importlib.util.spec_from_file_location("gen_reference_docs", REPO / "scripts" / "gen_reference_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_pages_are_current() -> None:
    stale = _gen().stale()  # type: ignore[attr-defined]
    assert not stale, f"{stale} out of date: run python scripts/gen_reference_docs.py"


@pytest.mark.parametrize("root", [Profile, Program])
def test_every_model_field_is_documented(root: type) -> None:
    for cls in record_classes(root):
        assert cls in CLASS_DOCS, f"{cls.__name__} has no entry in CLASS_DOCS (domain/fielddocs.py)"
        fields = {a.name for a in attrs.fields(cls) if not a.name.startswith("_")}
        docs = set(FIELD_DOCS.get(cls, {}))
        assert fields - docs == set(), f"{cls.__name__} fields without a meaning in fielddocs.py: {sorted(fields - docs)}"
        assert docs - fields == set(), f"fielddocs.py documents fields {cls.__name__} no longer has: {sorted(docs - fields)}"
        for f in describe_fields(cls):
            assert f.doc.doc.strip(), f"{cls.__name__}.{f.name} has an empty meaning"


def test_examples_in_the_field_docs_are_valid_values() -> None:
    # every example is a value the loader accepts for its field
    for cls, docs in FIELD_DOCS.items():
        for name, doc in docs.items():
            if doc.example is None:
                continue
            if cls is Profile:
                sr.profile_from_data({"graduation_year": 2020, name: doc.example})
            elif cls is Program:
                base = {"id": "p", "name": "P", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community"}
                sr.catalog_from_data([{**base, name: doc.example}])


def test_every_checker_path_is_on_the_fields_page() -> None:
    text = (REPO / "docs" / "fields.md").read_text(encoding="utf-8")
    for name in record_fields(Profile):
        assert f"`applicant.{name}`" in text
    for name in record_fields(Program):
        assert f"`program.{name}`" in text
    for name in record_fields(ListFacts):
        assert f"`list.{name}`" in text
    for name in set(record_fields(ListItem)) - set(record_fields(Program)):
        assert f"`item.{name}`" in text
    for name in record_fields(sr.domain.models.ClinicalExperience):  # type: ignore[attr-defined]
        assert f"`item.{name}` in `applicant.usce`" in text


def test_docs_that_promise_the_readable_fields_link_the_page() -> None:
    for page in ("authoring.md", "rule-language.md"):
        text = (REPO / "docs" / page).read_text(encoding="utf-8")
        assert "fields.md" in text, f"docs/{page} must point readers at docs/fields.md for the readable fields"


# --- JSON Schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.toml")), ids=lambda p: p.stem)
def test_profile_schema_accepts_every_example(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(data, profile_file_schema())


def test_profile_schema_refuses_what_the_loader_refuses() -> None:
    schema = profile_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    bad = [
        {"step2_ck": {"score": 224}},  # graduation_year is required
        {"graduation_year": 2021, "step2_ck": 224},
        {"graduation_year": 2021, "visa": "j3"},
        {"graduation_year": 2021, "step2_ck": {"score": 301}},
        {"graduation_year": 2021, "usce": [{"kind": "hands_on", "monthz": 2}]},
        {"graduation_year": 2021, "nickname": "x"},
    ]
    for data in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data, schema)
        with pytest.raises(sr.InputError):
            sr.profile_from_data(data)


def test_catalog_schema_accepts_a_catalog_and_refuses_a_bad_one() -> None:
    schema = catalog_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    programs = [sr.domain.converter.unstructure(p) for p in list(sr.load_catalog(sr.sample_catalog_path()))[:50]]  # type: ignore[attr-defined]
    programs = [{k: v for k, v in p.items() if v is not None} for p in programs]
    jsonschema.validate({"programs": programs}, schema)
    jsonschema.validate({"program": programs[:2]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"programs": [{**programs[0], "region": "mars"}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"programs": [{k: v for k, v in programs[0].items() if k != "name"}]}, schema)


@pytest.mark.parametrize(("flag", "title"), [("--profile", "applicant profile"), ("--catalog", "program catalog"), ("--rules", "rule set")])
def test_schema_command_writes_each_schema(flag: str, title: str, tmp_path: Path) -> None:
    run = run_main("schema", flag)
    assert run.code == 0, run.err
    assert json.loads(run.out)["title"] == f"smartpick_rules {title}"


def test_descriptions_carry_units_and_meanings() -> None:
    props = profile_file_schema()["$defs"]["Exam"]["properties"]
    assert re.search(r"Unit: points", props["score"]["description"])
    assert props["score"]["minimum"] == 1 and props["score"]["maximum"] == 300
    visa = profile_file_schema()["properties"]["visa"]
    assert "j1 (a J-1 visa)" in visa["description"]
