"""The JSON Schema of rule files accepts every shipped rule file and refuses broken ones."""

from __future__ import annotations

import tomllib
from pathlib import Path

import jsonschema
import pytest

from smartpick_rules.ruleset.json_schema import rule_file_schema
from smartpick_rules.ruleset.load import shipped_rulesets_path

SCHEMA = rule_file_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
CASES = Path(__file__).parent / "cases"


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def shipped_files() -> list[Path]:
    root = shipped_rulesets_path()
    return sorted(p for p in root.rglob("*.toml") if "tests" not in p.parts and not p.name.endswith(".test.toml"))


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.name)
def test_shipped_rule_files_validate(path: Path) -> None:
    errors = sorted(VALIDATOR.iter_errors(tomllib.loads(path.read_text("utf-8"))), key=str)
    assert not errors, [e.message for e in errors]


def test_there_are_shipped_rule_files() -> None:
    assert shipped_files()


def _case_rule_texts() -> list[str]:
    out = []
    for p in sorted(CASES.rglob("*.toml")):
        case = tomllib.loads(p.read_text("utf-8"))
        if "error_code" in case["want"]:
            continue
        texts = case["rules"] if isinstance(case["rules"], list) else [case["rules"]]
        out.extend(texts)
    return out


@pytest.mark.parametrize("text", _case_rule_texts())
def test_language_case_rule_files_validate(text: str) -> None:
    assert not list(VALIDATOR.iter_errors(tomllib.loads(text)))


BROKEN = {
    "no header": '[[rule]]\nid = "a.b"\nstage = "profile"\nwhen = "true"\nthen = { tag = "x" }\n',
    "unknown stage": '[ruleset]\nname = "t"\n[[rule]]\nid = "a.b"\nstage = "profil"\nwhen = "true"\nthen = { tag = "x" }\n',
    "misspelt key": '[ruleset]\nname = "t"\n[[rule]]\nid = "a.b"\nstage = "profile"\nwhen = "true"\nthn = { tag = "x" }\n',
    "empty then": '[ruleset]\nname = "t"\n[[rule]]\nid = "a.b"\nstage = "profile"\nwhen = "true"\nthen = {}\n',
    "score (gone)": '[ruleset]\nname = "t"\n[[rule]]\nid = "a.b"\nstage = "program"\nwhen = "true"\nthen = { score = 5 }\n',
    "scoring table (gone)": '[ruleset]\nname = "t"\n[scoring]\nbase = 50\n',
    "odds as boolean": '[ruleset]\nname = "t"\n[[rule]]\nid = "a.b"\nstage = "program"\nwhen = "true"\nthen = { odds = true }\n',
    "bad id": '[ruleset]\nname = "t"\n[[rule]]\nid = "A B"\nstage = "profile"\nwhen = "true"\nthen = { tag = "x" }\n',
    "bad tier": '[ruleset]\nname = "t"\n[[rule]]\nid = "a.b"\nstage = "program"\nwhen = "true"\nthen = { tier_at_most = "safe" }\n',
    "negative interview target": '[ruleset]\nname = "t"\n[[rule]]\nid = "a.b"\nstage = "list"\nwhen = "true"\nthen = { set = { interview_target = -2 } }\n',
    "chance as text": '[ruleset]\nname = "t"\n[chance]\nbase = "low"\n',
    "estimate without start": '[ruleset]\nname = "t"\n[[estimate]]\nname = "screen"\n',
    "group without programs": '[ruleset]\nname = "t"\n[[group]]\nname = "academic"\n',
    "lever of an unknown kind": '[ruleset]\nname = "t"\n[[lever]]\nid = "a.b"\ntitle = "T"\nkind = "widden"\nset = ["visa = \\"j1\\""]\n',
    "lever without a change": '[ruleset]\nname = "t"\n[[lever]]\nid = "a.b"\ntitle = "T"\nset = []\n',
    "unknown table": '[ruleset]\nname = "t"\n[rules]\nx = 1\n',
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_rule_files_are_refused(name: str) -> None:
    assert list(VALIDATOR.iter_errors(tomllib.loads(BROKEN[name]))), name


def test_the_shipped_levers_are_described() -> None:
    lever = SCHEMA["properties"]["lever"]["items"]
    assert lever["properties"]["kind"]["enum"] == ["strengthen", "widen"]
    assert set(lever["required"]) == {"id", "title", "set"}
