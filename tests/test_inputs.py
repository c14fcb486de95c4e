"""Profiles and catalogs: every bad input is an InputError naming the file, line/row and field/column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import smartpick_rules as sr

HEADER = "id,name,specialty,state,region,program_type,min_step2_ck,sponsors_j1,img_share,tags\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_csv_good_rows(tmp_path: Path) -> None:
    p = write(tmp_path, "c.csv", HEADER + "a,A,internal_medicine,CA,la_county,community,220,yes,0.4,img_friendly;safety_net\n"
              "b,B,family_medicine,NV,out_of_state,university,,no,,\n")
    cat = sr.load_catalog(p)
    assert len(cat) == 2 and "a" in cat
    a = cat.get("a")
    assert a is not None and a.min_step2_ck == 220 and a.sponsors_j1 and a.tags == ("img_friendly", "safety_net")
    b = cat.get("b")
    assert b is not None and b.min_step2_ck is None and b.img_share is None


@pytest.mark.parametrize(
    "row,line,col,fragment",
    [
        ("a,A,internal_medicine,CA,la_county,community,abc,yes,0.4,\n", 2, 7, "expected an integer"),
        ("a,A,internal_medicine,CA,la_county,community,220.5,yes,0.4,\n", 2, 7, "expected an integer"),
        ("a,A,internal_medicine,CA,la_county,community,220,maybe,0.4,\n", 2, 8, "expected true or false"),
        ("a,A,internal_medicine,CA,la_county,community,220,yes,nan,\n", 2, 9, "finite"),
        ("a,A,internal_medicine,CA,la_county,community,220,yes,1.5,\n", 2, 9, "between 0 and 1"),
        ("a,A,internal_medcine,CA,la_county,community,220,yes,0.4,\n", 2, 3, "did you mean `internal_medicine`"),
        ("a,A,internal_medicine,CA,la_county,community,999,yes,0.4,\n", 2, 7, "between 1 and 300"),
        ("a,A,internal_medicine,CA,la_county,community,220\n", 2, 0, "row has 7 cells"),
    ],
)
def test_csv_bad_rows_name_row_and_column(tmp_path: Path, row: str, line: int, col: int, fragment: str) -> None:
    p = write(tmp_path, "c.csv", HEADER + row)
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(p)
    d = info.value.diagnostics[0]
    assert (d.location.file, d.location.line, d.location.column) == (str(p), line, col)
    assert fragment in d.render()


def test_csv_every_bad_row_reported_and_duplicates(tmp_path: Path) -> None:
    p = write(tmp_path, "c.csv", HEADER
              + "a,A,internal_medicine,CA,la_county,community,x,yes,0.4,\n"
              + "b,B,internal_medicine,CA,la_county,community,220,yes,0.4,\n"
              + "b,B2,internal_medicine,CA,la_county,community,220,yes,0.4,\n"
              + "c,C,internal_medicine,CA,la_county,community,y,yes,0.4,\n")
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(p)
    codes = [(d.code, d.location.line) for d in info.value.diagnostics]
    assert codes == [("input_error", 2), ("duplicate_id", 4), ("input_error", 5)]


def test_csv_header_problems(tmp_path: Path) -> None:
    p = write(tmp_path, "c.csv", "id,name,specialty,state,regon,program_type\n")
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(p)
    msgs = [d.render() for d in info.value.diagnostics]
    assert any("unknown column `regon`" in m and "did you mean `region`" in m for m in msgs)
    assert any("required column `region` is missing" in m for m in msgs)


def test_csv_with_bom_and_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_bytes(("\ufeff" + HEADER + "a,A,internal_medicine,CA,la_county,community,,no,,\n").encode("utf-8"))
    assert len(sr.load_catalog(p)) == 1
    with pytest.raises(sr.InputError, match="empty"):
        sr.load_catalog(write(tmp_path, "e.csv", ""))


def test_json_catalog_errors_name_the_line(tmp_path: Path) -> None:
    programs = [
        {"id": "a", "name": "A", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community"},
        {"id": "b", "name": "B", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community", "positions": "four"},
    ]
    p = write(tmp_path, "c.json", json.dumps({"programs": programs}, indent=2))
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(p)
    d = info.value.diagnostics[0]
    assert d.field_path == "$[1].positions"
    assert d.location.line == p.read_text().splitlines().index('      "positions": "four"') + 1


def test_json_refuses_nan_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(sr.InputError, match="NaN"):
        sr.load_catalog(write(tmp_path, "n.json", '[{"id": "a", "img_share": NaN}]'))
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(write(tmp_path, "s.json", '[{"id": "a",,}]'))
    assert info.value.code == "parse_error" and info.value.location.line == 1


def test_toml_catalog(tmp_path: Path) -> None:
    p = write(tmp_path, "c.toml", '[[program]]\nid = "a"\nname = "A"\nspecialty = "pediatrics"\nstate = "CA"\n'
              'region = "kern"\nprogram_type = "community"\n')
    assert sr.load_catalog(p)[0].specialty.value == "pediatrics"


def test_profile_errors_name_line_and_field(tmp_path: Path) -> None:
    p = write(tmp_path, "p.toml", 'graduation_year = 2018\n\n[step2_ck]\nscore = "224"\n\n[preferences]\nspecialtys = ["x"]\n')
    with pytest.raises(sr.InputError) as info:
        sr.load_profile(p)
    ds = {d.field_path: d for d in info.value.diagnostics}
    assert ds["$.step2_ck.score"].location.line == 4
    assert ds["$.preferences.specialtys"].suggestion == "specialties"
    assert ds["$.preferences.specialtys"].location.line == 7


@pytest.mark.parametrize(
    "data,fragment",
    [
        ({"graduation_year": 2018, "languages": "spanish"}, "expected a list"),
        ({"graduation_year": 2018, "step1": {"passed": "yes"}}, "expected true or false"),
        ({"graduation_year": 2018, "step1": {"score": 227.9}}, "expected an integer"),
        ({"graduation_year": "2018"}, "expected an integer"),
        ({}, "required field `graduation_year`"),
        ({"graduation_year": 2018, "visa": "j2"}, "`j2` is not one of the allowed values: none, j1, h1b"),
        ({"graduation_year": 2018, "step2_ck": {"score": -4}}, "between 1 and 300"),
        ({"graduation_year": 2018, "name": "x" * 20_000}, "longer than the limit"),
    ],
)
def test_profile_from_data_refuses_quietly_wrong_values(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(sr.InputError) as info:
        sr.profile_from_data(data)
    assert fragment in str(info.value)


def test_missing_and_wrong_kind_of_file(tmp_path: Path) -> None:
    with pytest.raises(sr.InputError, match="no such file"):
        sr.load_profile(tmp_path / "nope.toml")
    with pytest.raises(sr.InputError, match="unknown file type"):
        sr.load_profile(write(tmp_path, "p.yaml", "a: 1"))
    with pytest.raises(sr.InputError, match="not UTF-8"):
        bad = tmp_path / "b.toml"
        bad.write_bytes(b"\xff\xfe\x00")
        sr.load_profile(bad)


def test_catalog_limit(tmp_path: Path) -> None:
    p = write(tmp_path, "c.csv", HEADER + "".join(f"p{i},A,internal_medicine,CA,la_county,community,,no,,\n" for i in range(5)))
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(p, limits=sr.Limits(max_programs=3))
    assert info.value.code == "limit_exceeded"
