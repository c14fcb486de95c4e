"""Strict data (issue 11, item 4): every reproducer of a silent wrong answer or an untyped error
is a typed, located SmartpickError or the right result.

Duplicate JSON keys, non-finite numbers in output, CSV numbers that are not ASCII decimal,
empty booleans, ids that differ by case or spaces, US states written as names, out-of-range
``as_of``, derived values of two types, unanchored ids and tags, comments and bidirectional
controls in conditions, placeholders that would never render, 5,000-digit numbers and lone
surrogates.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

import fixtures
import smartpick_rules as sr
from fixtures import program, refused, rule_file
from smartpick_rules.limits import DEFAULT_LIMITS
from smartpick_rules.ruleset.load import load_rules_from_text
from smartpick_rules.whatif import Evaluator

PROGRAM = program("p1")
PROFILE = {"graduation_year": 2019}
HEADER = "id,name,specialty,state,region,program_type,positions,sponsors_j1,img_share\n"



# -- JSON ---------------------------------------------------------------------------------------


def test_duplicate_json_keys_are_refused_where_written(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{\n  "graduation_year": 2019,\n  "step2_ck": {"score": 250,\n    "score": 200}\n}\n')
    with pytest.raises(sr.InputError) as info:
        sr.load_profile(path)
    d = info.value.diagnostics[0]
    assert d.code == "parse_error" and "`score` appears twice" in d.message
    assert (d.location.line, d.location.column) == (4, 5)


def test_duplicate_keys_in_a_json_catalog_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps([PROGRAM])[:-2] + ', "id": "p2"}]')
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(path)
    assert "`id` appears twice" in info.value.diagnostics[0].message


def test_keys_equal_in_different_objects_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps([PROGRAM, {**PROGRAM, "id": "p2"}]))
    assert len(sr.load_catalog(path)) == 2


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_a_five_thousand_digit_number_in_an_input_is_a_parse_error(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"p.{fmt}"
    number = "9" * 5000
    path.write_text(f'{{"graduation_year": {number}}}' if fmt == "json" else f"graduation_year = {number}\n")
    with pytest.raises(sr.InputError) as info:
        sr.load_profile(path)
    d = info.value.diagnostics[0]
    assert d.code == "parse_error" and "digits" in d.message and d.location.line == 1


def test_a_five_thousand_digit_number_in_a_rule_file_is_a_parse_error() -> None:
    err = refused(rule_file(f'stage = "program"\nwhen = "true"\nsalience = {"9" * 5000}\nthen = {{ tag = "t" }}'))
    assert err.code == "parse_error" and err.location.line == 7


def test_output_json_has_no_infinity() -> None:
    text = rule_file(
        'stage = "program"\nwhen = "program.positions * 1e300 * 1e300 > 0"\nthen = { tag = "t" }',
        'stage = "profile"\nwhen = "known(total(applicant.usce, item.months * 1e300 * 1e300))"\nthen = { tag = "u" }',
    )
    rs = load_rules_from_text([("s.toml", text)])
    rec = sr.evaluate({**PROFILE, "usce": [{"kind": "hands_on", "months": 3}]}, [{**PROGRAM, "positions": 3}], rs, as_of=2026)
    out = rec.to_json()
    assert "Infinity" not in out and "NaN" not in out
    data = json.loads(out)
    values = data["programs"][0]["audit"][-1]["values"]
    assert values["program.positions"] == 3
    # the total overflowed to infinity: recorded as null, like an unknown value
    assert data["profile_audit"][0]["values"] == {"total(applicant.usce, item.months * 1e+300 * 1e+300)": None}


def test_to_json_is_the_same_text_as_dumping_to_dict() -> None:
    rec = sr.evaluate(PROFILE, sr.load_catalog(sr.sample_catalog_path())[:40], as_of=2026)
    for indent in (None, 2):
        assert rec.to_json(indent=indent) == json.dumps(rec.to_dict(), indent=indent, ensure_ascii=False)


# -- CSV ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["2_20", "\u0662\u0662\u0660", "\uff12\uff12\uff10", "1e3", "0x10", "22O", "\u00b2"])
def test_csv_integers_are_ascii_decimal(tmp_path: Path, cell: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + f"p1,A,internal_medicine,CA,la_county,community,{cell},true,\n", encoding="utf-8")
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(path)
    d = info.value.diagnostics[0]
    assert "digits 0-9" in d.message and (d.location.line, d.location.column) == (2, 7)


@pytest.mark.parametrize(("cell", "value"), [("220", 220), ("+220", 220), ("220.0", 220), (" 220 ", 220)])
def test_csv_integers_that_are_plain_decimal_are_read(tmp_path: Path, cell: str, value: int) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + f"p1,A,internal_medicine,CA,la_county,community,{cell},true,\n")
    assert sr.load_catalog(path)[0].positions == value


@pytest.mark.parametrize(("cell", "ok"), [("0.25", True), (".5", True), ("2.5e-1", True), ("\u0660.\u0665", False), ("1_0.5", False), ("inf", False), ("nan", False)])
def test_csv_numbers_are_ascii_decimal(tmp_path: Path, cell: str, ok: bool) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + f"p1,A,internal_medicine,CA,la_county,community,3,true,{cell}\n", encoding="utf-8")
    if ok:
        assert sr.load_catalog(path)[0].img_share == float(cell)
    else:
        with pytest.raises(sr.InputError):
            sr.load_catalog(path)


def test_an_empty_boolean_cell_is_not_false(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "p1,A,internal_medicine,CA,la_county,community,3,,\n")
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(path)
    d = info.value.diagnostics[0]
    assert "sponsors_j1" in d.message and "true or false" in d.message and d.location.column == 8


@pytest.mark.parametrize(("second", "fragment"), [(" p1", "starts or ends with spaces"), ("P1", "differs only by case"), ("p1", "already used")])
def test_ids_that_differ_only_by_case_or_spaces_are_refused(tmp_path: Path, second: str, fragment: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "p1,A,internal_medicine,CA,la_county,community,3,true,\n" + f"{second},B,internal_medicine,CA,la_county,community,3,true,\n")
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(path)
    d = info.value.diagnostics[0]
    assert fragment in d.message and d.location.line == 3


@pytest.mark.parametrize("second", ["P1", "p1 ", "p1\n"])
def test_ids_that_differ_only_by_case_or_spaces_are_refused_in_data(second: str) -> None:
    with pytest.raises(sr.InputError):
        sr.catalog_from_data([PROGRAM, {**PROGRAM, "id": second}])
    with pytest.raises(sr.InputError):
        sr.Catalog.of([sr.Program(**{**PROGRAM, "id": "p1"}), sr.Program(**{**PROGRAM, "id": "P1"})])


@pytest.mark.parametrize("bad", ["", "  ", "a\nb", "a\u202eb", "x\x1b[31m"])
def test_program_and_profile_ids_are_printable_and_trimmed(bad: str) -> None:
    with pytest.raises(sr.InputError) as info:
        sr.catalog_from_data([{**PROGRAM, "id": bad}])
    assert info.value.diagnostics[0].field_path == "$[0].id"
    with pytest.raises(sr.InputError):
        sr.profile_from_data({**PROFILE, "id": bad})


# -- US states --------------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["TX", "tx", " TX", "Texas", "texas ", "TEXAS"])
def test_states_are_normalised_to_their_code(written: str) -> None:
    cat = sr.catalog_from_data([{**PROGRAM, "state": written, "region": "out_of_state"}])
    assert cat[0].state == "TX"
    prof = sr.profile_from_data({**PROFILE, "ties": [{"kind": "lived", "state": written}], "letters": [{"state": written}]})
    assert prof.ties[0].state == prof.letters[0].state == "TX"


def test_a_tie_written_as_a_name_earns_what_the_code_earns() -> None:
    # la_ties: a tie to the program's own state moves an out-of-state program up
    cat = [{**PROGRAM, "id": "tx", "state": "TX", "region": "out_of_state"}]
    base = sr.evaluate({**PROFILE, "ties": [{"kind": "lived", "state": "TX", "years": 3}]}, cat, as_of=2026)
    for written in ("tx", " TX", "Texas"):
        rec = sr.evaluate({**PROFILE, "ties": [{"kind": "lived", "state": written, "years": 3}]}, cat, as_of=2026)
        assert [a.rule_id for a in rec.programs[0].audit] == [a.rule_id for a in base.programs[0].audit]


@pytest.mark.parametrize(("written", "hint"), [("Texs", "Texas"), ("Ontario", None), ("XX", None)])
def test_an_unknown_state_is_refused_with_a_suggestion(written: str, hint: str | None) -> None:
    with pytest.raises(sr.InputError) as info:
        sr.catalog_from_data([{**PROGRAM, "state": written}])
    d = info.value.diagnostics[0]
    assert d.field_path == "$[0].state" and "not a US state or territory" in d.message
    assert (f"did you mean `{hint}`" in d.message) if hint else "did you mean" not in d.message


def test_a_rule_comparing_a_state_with_a_name_is_a_type_error() -> None:
    err = refused(rule_file('stage = "program"\nwhen = "program.state == \'Texas\'"\nthen = { tag = "t" }'))
    assert err.code == "type_error" and err.diagnostics[0].suggestion == "TX"


# -- as_of ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", [0, -1, 1939, 2101, True, dt.date(1, 1, 1), "2026"])
def test_as_of_outside_a_sane_range_is_refused_everywhere(as_of: Any, tmp_path: Path) -> None:
    cat = [PROGRAM]
    with pytest.raises(sr.InputError):
        sr.evaluate(PROFILE, cat, as_of=as_of)
    with pytest.raises(sr.InputError):
        sr.evaluate_many([PROFILE], cat, as_of=as_of)
    with pytest.raises(sr.InputError):
        Evaluator(sr.catalog_from_data(cat), fixtures.shipped_rules(), as_of=as_of)


def test_a_suite_with_as_of_zero_is_refused_at_its_line(tmp_path: Path) -> None:
    from smartpick_rules.testing.suite import load_suite

    path = tmp_path / "x.test.toml"
    path.write_text('[suite]\nas_of = 0\n\n[[case]]\nname = "c"\nexpect = { fired = [] }\n')
    with pytest.raises(sr.InputError) as info:
        load_suite(path)
    d = info.value.diagnostics[0]
    assert "as_of" in d.message and d.location.line == 2


# -- rule files ------------------------------------------------------------------------------------------


def test_derived_values_have_one_type_across_rules() -> None:
    err = refused(
        rule_file(
            'stage = "profile"\nwhen = "true"\nthen = { set = { x = 1 } }',
            'stage = "profile"\nwhen = "true"\nsalience = 1\nthen = { set = { x = "s" } }',
        )
    )
    assert err.code == "type_error" and err.rule_id == "s.r1" and "derived.x" in err.diagnostics[0].message


def test_derived_numbers_may_be_integers_or_fractions() -> None:
    load_rules_from_text(
        [("s.toml", rule_file('stage = "profile"\nwhen = "true"\nthen = { set = { x = 1 } }', 'stage = "profile"\nwhen = "true"\nsalience = 1\nthen = { set = { x = 1.5 } }'))]
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", '"s.r9\\n"'), ("tag", '"t\\n"'), ("name", '"s\\n"'), ("set", '"x\\n"')],
)
def test_ids_tags_and_names_are_anchored(field: str, value: str) -> None:
    if field == "id":
        text = f'[ruleset]\nname = "s"\n[[rule]]\nid = {value}\nstage = "program"\nwhen = "true"\nthen = {{ tag = "t" }}\n'
    elif field == "name":
        text = f'[ruleset]\nname = {value}\n'
    elif field == "tag":
        text = rule_file(f'stage = "program"\nwhen = "true"\nthen = {{ tag = {value} }}')
    else:
        text = rule_file(f'stage = "profile"\nwhen = "true"\nthen = {{ set = {{ {value} = 1 }} }}')
    err = refused(text)
    assert err.code == "schema_error"


@pytest.mark.parametrize(
    "when",
    [
        '"""true # and false\n"""',
        '"""true and\n  # program.positions > 1\n  true"""',
        '"program.name == \'a\\u202eb\'"',
        '"program.name == \'a\\u2066b\\u2069\'"',
        '"program.name == \'a\\u200bb\'"',
    ],
)
def test_comments_and_invisible_controls_are_refused_in_conditions(when: str) -> None:
    err = refused(rule_file(f'stage = "program"\nwhen = {when}\nthen = {{ tag = "t" }}'))
    assert err.code == "parse_error" and err.location.line >= 6


def test_a_hash_inside_a_string_literal_is_text() -> None:
    load_rules_from_text([("s.toml", rule_file('stage = "program"\nwhen = "program.name == \'#1 in LA\'"\nthen = { tag = "t" }'))])


@pytest.mark.parametrize("depth", [41, 100])
def test_parentheses_count_toward_the_depth_limit(depth: int) -> None:
    when = "(" * depth + "true" + ")" * depth
    err = refused(rule_file(f'stage = "program"\nwhen = "{when}"\nthen = {{ tag = "t" }}'))
    assert err.code == "limit_exceeded" and "max_expression_depth" in (err.diagnostics[0].help or "")


def test_parentheses_within_the_depth_limit_are_fine() -> None:
    depth = DEFAULT_LIMITS.max_expression_depth
    when = "(" * depth + "true" + ")" * depth
    load_rules_from_text([("s.toml", rule_file(f'stage = "program"\nwhen = "{when}"\nthen = {{ tag = "t" }}'))])


def test_a_huge_salience_is_refused() -> None:
    err = refused(rule_file('stage = "program"\nwhen = "true"\nsalience = 1000000000000\nthen = { tag = "t" }'))
    assert err.code == "limit_exceeded" and "salience" in err.diagnostics[0].message


@pytest.mark.parametrize("placeholder", ["{ program . positions }", "{program .positions}", "{program. positions}"])
def test_placeholders_with_spaces_in_a_path_render_the_value(placeholder: str) -> None:
    # issue 11: these rendered "not set"; a placeholder is an expression, so they read the field
    rs = load_rules_from_text([("s.toml", rule_file(f'stage = "program"\nwhen = "true"\nexplain = "has {placeholder}"\nthen = {{ tag = "t" }}'))])
    rec = sr.evaluate(PROFILE, [{**PROGRAM, "positions": 4}], rs, as_of=2026)
    assert rec.programs[0].audit[-1].explanation == "has 4"


def test_a_placeholder_with_spaces_around_renders() -> None:
    rs = load_rules_from_text([("s.toml", rule_file('stage = "program"\nwhen = "true"\nexplain = "has { program.positions }"\nthen = { tag = "t" }'))])
    rec = sr.evaluate(PROFILE, [{**PROGRAM, "positions": 4}], rs, as_of=2026)
    assert rec.programs[0].audit[-1].explanation == "has 4"


def test_a_placeholder_naming_every_program_is_refused() -> None:
    err = refused(rule_file('stage = "list"\nwhen = "len(list.programs) > 0"\nthen = { advice = "{list.programs}" }'))
    assert err.code == "template_error" and "whole list" in err.diagnostics[0].message


def test_a_list_rule_reading_the_length_of_the_list_serialises() -> None:
    rs = load_rules_from_text([("s.toml", rule_file('stage = "list"\nwhen = "len(list.programs) > 0"\nthen = { advice = "{list.size} programs" }'))])
    rec = sr.evaluate(PROFILE, [PROGRAM], rs, as_of=2026)
    data = json.loads(rec.to_json())
    assert data["list_audit"][0]["values"] == {"len(list.programs)": 1, "list.size": 1}
    assert data["advice"][0]["message"] == "1 programs"


# -- plain data from an app ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({**PROFILE, "name": "\ud800"}, "$.name"),
        ({**PROFILE, "languages": ["es", "\udcff"]}, "$.languages[1]"),
        ({**PROFILE, 1: 2}, "$"),
        ({**PROFILE, "step2_ck": {1: 2}}, "$.step2_ck"),
        ({**PROFILE, "\ud800": 1}, "$"),
    ],
)
def test_surrogates_and_non_string_keys_in_profiles_are_input_errors(data: dict[Any, Any], path: str) -> None:
    with pytest.raises(sr.InputError) as info:
        sr.evaluate(data, [PROGRAM], as_of=2026)
    assert info.value.diagnostics[0].field_path == path


def test_surrogates_in_catalog_data_are_input_errors() -> None:
    with pytest.raises(sr.InputError) as info:
        sr.evaluate(PROFILE, [{**PROGRAM, "name": "x\ud800"}], as_of=2026)
    assert info.value.diagnostics[0].field_path == "$[0].name"


def test_evaluate_many_structures_profiles_with_its_limits() -> None:
    limits = attrs.evolve(DEFAULT_LIMITS, max_list_items=2)
    [result] = sr.evaluate_many([{**PROFILE, "languages": ["a", "b", "c"]}], [PROGRAM], limits=limits, as_of=2026)
    assert isinstance(result, sr.InputError) and result.code == "limit_exceeded"
