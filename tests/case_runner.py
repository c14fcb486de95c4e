"""Runs the language cases in tests/cases/: one TOML file per behaviour, data not code."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import smartpick_rules as sr
from fixtures import PROGRAM
from smartpick_rules.errors import did_you_mean
from smartpick_rules.ruleset.load import load_rules_from_text

CASES = Path(__file__).parent / "cases"
PROGRAM_DEFAULTS = PROGRAM


def all_case_files() -> list[Path]:
    return sorted(CASES.rglob("*.toml"))


#: what a case file may hold, and what each table in it may hold: a key test_cases.py does not
#: read would make its expectation pass without being checked
CASE_KEYS = frozenset({"note", "rules", "applicant", "program", "want"})
WANT_KEYS = frozenset(
    {
        # a rule set that does not load: the diagnostic's code, then what else to check about it
        "error_code", "error_line", "error_suggestion", "error_message", "error_count", "error_rule",
        "evaluation_error",
        "profile_tags", "tags", "chances", "odds", "caps", "chance_after", "tiers", "priorities",
        "excluded", "excluded_by", "reasons", "fired", "advice", "advice_text", "derived",
        "explanations", "values", "list_fired", "breadth", "chosen", "order", "left_off", "groups",
        "expected_interviews", "shortfall",
    }
)  # fmt: skip
BREADTH_KEYS = frozenset({"min", "max", "interview_target", "at_most", "at_least", "stopped", "rule_id", "eligible"})
SHORTFALL_KEYS = frozenset({"wanted", "chosen", "eligible", "held_back", "wideners"})
ERROR_DETAIL_KEYS = frozenset({"error_line", "error_suggestion", "error_message", "error_count", "error_rule"})


class CaseFileError(Exception):
    """A case file that asks for something the runner does not check."""


def read_case(path: Path) -> dict[str, Any]:
    """One case file, refused with a `CaseFileError` if it holds a key the runner would ignore."""
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    check_case_keys(path, case)
    return case


def check_case_keys(path: Path, case: dict[str, Any]) -> None:
    """Refuse keys the runner would silently skip: a misspelt `want` key is an unchecked case."""
    name = _case_name(path)
    _known(path, name, "", case, CASE_KEYS)
    if "want" not in case:
        raise CaseFileError(f"{path}: case {name}: no [want] table; every case says what it expects")
    want = case["want"]
    _known(path, name, "want.", want, WANT_KEYS)
    if isinstance(want.get("breadth"), dict):
        _known(path, name, "want.breadth.", want["breadth"], BREADTH_KEYS)
    if isinstance(want.get("shortfall"), dict):
        _known(path, name, "want.shortfall.", want["shortfall"], SHORTFALL_KEYS)
    stray = sorted(ERROR_DETAIL_KEYS & want.keys()) if "error_code" not in want else []
    if stray:
        raise CaseFileError(f"{path}: case {name}: `want.{stray[0]}` is only checked with `want.error_code`")


def _case_name(path: Path) -> str:
    try:
        return str(path.relative_to(CASES).with_suffix(""))
    except ValueError:
        return path.stem


def _known(path: Path, name: str, prefix: str, table: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in sorted(table.keys() - allowed):
        guess = did_you_mean(key, allowed)
        hint = f"; did you mean `{prefix}{guess}`?" if guess else f" (known: {', '.join(sorted(allowed))})"
        raise CaseFileError(f"{path}: case {name}: unknown key `{prefix}{key}`{hint}")


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
