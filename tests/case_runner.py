"""Runs the language cases in tests/cases/: one TOML file per behaviour, data not code."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import smartpick_rules as sr
from fixtures import PROGRAM
from smartpick_rules.ruleset.load import load_rules_from_text

CASES = Path(__file__).parent / "cases"
PROGRAM_DEFAULTS = PROGRAM


def all_case_files() -> list[Path]:
    return sorted(CASES.rglob("*.toml"))


def read_case(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def case_rules(case: dict[str, Any]) -> sr.RuleSet:
    texts = case["rules"] if isinstance(case["rules"], list) else [case["rules"]]
    return load_rules_from_text([(f"rules{i}.toml", t.lstrip("\n")) for i, t in enumerate(texts)])


def case_inputs(case: dict[str, Any]) -> tuple[sr.Profile, sr.Catalog]:
    profile = sr.profile_from_data(case.get("applicant", {"graduation_year": 2020}))
    programs = [{**PROGRAM_DEFAULTS, "name": p["id"], **p} for p in case.get("program", [])]
    return profile, sr.catalog_from_data(programs)


def evaluate_case(case: dict[str, Any], engine: str = "native") -> sr.Recommendation:
    profile, catalog = case_inputs(case)
    return sr.evaluate(profile, catalog, case_rules(case), engine=engine, as_of=2026)


def outcome(case: dict[str, Any], engine: str = "native") -> str:
    """What a case produces on an engine, as one string to compare: the engine-blind JSON, or
    the evaluation error's first line."""
    try:
        rec = evaluate_case(case, engine=engine)
    except sr.EvaluationError as exc:
        return "EvaluationError: " + exc.first_line()
    return engine_blind_json(rec)


def engine_blind_json(rec: sr.Recommendation) -> str:
    """The JSON with provenance.engine blanked: the one field that names the engine that ran."""
    import attrs

    return attrs.evolve(rec, provenance=attrs.evolve(rec.provenance, engine="*")).to_json()
