"""Vocabulary that forgives case: values normalised at load, and `check` warns on words that cannot match."""

from __future__ import annotations

from pathlib import Path

import pytest

import fixtures
import smartpick_rules as sr
from fixtures import program
from smartpick_rules.analysis.lint import lint_rules
from smartpick_rules.domain.vocabulary import LANGUAGES, PROGRAM_TAGS
from test_cli_support import run_main

PROGRAM = program("p", name="P")


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        (["Spanish", "spanish", " SPANISH "], ("spanish",)),
        (["Español", "Tagalog"], ("spanish", "tagalog")),
        (["Haitian  Creole", "ASL"], ("haitian creole", "american sign language")),
        (["Klingon"], ("klingon",)),  # not in the vocabulary: kept, in lower case
    ],
)
def test_languages_are_kept_in_canonical_form(written: list[str], kept: tuple[str, ...]) -> None:
    assert sr.profile_from_data({"graduation_year": 2020, "languages": written}).languages == kept


def test_program_tags_are_kept_in_canonical_form() -> None:
    catalog = sr.catalog_from_data([{**PROGRAM, "tags": ["Safety Net", "IMG-friendly", "img_friendly"]}])
    assert catalog[0].tags == ("safety_net", "img_friendly")


@pytest.mark.parametrize(
    ("field", "written", "value"),
    [("visa", "J1", "j1"), ("visa", "J-1", "j1"), ("visa", "H1B", "h1b"), ("applicant_type", "Non US IMG", "non_us_img")],
)
def test_enum_values_forgive_case_and_separators(field: str, written: str, value: str) -> None:
    profile = sr.profile_from_data({"graduation_year": 2020, field: written})
    assert getattr(profile, field).value == value


def test_enum_typos_are_still_refused_by_field_with_a_suggestion() -> None:
    with pytest.raises(sr.InputError) as info:
        sr.profile_from_data({"graduation_year": 2020, "preferences": {"specialties": ["internal medicin"]}})
    d = info.value.diagnostics[0]
    assert d.field_path == "$.preferences.specialties[0]"
    assert d.suggestion == "internal_medicine" or "did you mean `internal_medicine`" in d.message
    assert "Specialty" not in str(info.value)  # no internal class names


def test_a_profile_writing_spanish_capitalised_gets_the_shipped_spanish_rule() -> None:
    rules = fixtures.shipped_rules()
    catalog = sr.catalog_from_data([PROGRAM])
    for written in ("Spanish", "spanish", "Español"):
        rec = sr.evaluate({"graduation_year": 2020, "languages": [written]}, catalog, rules, as_of=2026)
        assert "la_ties.spanish_speaker" in {a.rule_id for a in rec.profile_audit}, written


def test_the_vocabularies_hold_every_word_the_shipped_rules_compare() -> None:
    diags = lint_rules(fixtures.shipped_rules())
    assert [d for d in diags if d.code == "vocabulary"] == []
    for word in ("spanish", "korean", "mandarin", "tagalog", "armenian", "farsi", "persian", "khmer", "arabic"):
        assert word in LANGUAGES
    assert "academic_flagship" in PROGRAM_TAGS


RULES = """\
[ruleset]
name = "v"
version = "0.1.0"

[[rule]]
id = "v.tagalog"
stage = "profile"
when = "any(applicant.languages, item in ['Tagalog', 'ilocano'])"
then = { odds = 1.1 }

[[rule]]
id = "v.typo"
stage = "profile"
when = "'tagalg' in applicant.languages"
then = { odds = 1.1 }

[[rule]]
id = "v.both"
stage = "profile"
when = "any(applicant.languages, item == 'korean' or item == 'Korean')"
then = { odds = 1.1 }

[[rule]]
id = "v.tags"
stage = "program"
when = ["'Safety Net' in program.tags or 'img_frendly' in program.tags", "'our_own_tag' in program.tags"]
then = { odds = 1.1 }
"""


def test_check_warns_on_words_that_cannot_match(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text(RULES, encoding="utf-8")
    diags = [d for d in lint_rules(sr.load_rules(path)) if d.code == "vocabulary"]
    got = [(d.rule_id, d.location.line, d.suggestion, d.help) for d in diags]
    assert got == [
        ("v.tagalog", 8, None, "write 'tagalog'"),
        ("v.typo", 14, "tagalog", None),
        ("v.tags", 26, None, "write 'safety_net'"),
        ("v.tags", 26, "img_friendly", None),
    ]
    # 'ilocano' is a known language; 'Korean' beside 'korean' is dead but harmless; a catalog's
    # own tag ('our_own_tag') is not a near miss of a known one: none of them is warned about
    run = run_main("check", "--strict", path)
    assert run.code == 1
    assert "v.typo: 'tagalg' is not in the vocabulary of `applicant.languages`" in run.out
    assert "help: did you mean `tagalog`?" in run.out
