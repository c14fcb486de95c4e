"""Bringing your own data: a spreadsheet with a column map, a pandas DataFrame in, a DataFrame out."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import fixtures
import smartpick_rules as sr
from smartpick_rules.domain.importers import catalog_to_csv, column_letter
from test_cli_support import DEFAULT_PROFILE, REPO, run_main

SAMPLE = REPO / "examples" / "catalog.csv"

MAP = """\
[sheet]
name = "Programs"
header_row = 2

[columns]
id = "ACGME ID"
name = "Program"
specialty = "Specialty"
state = "State"
region = "Area"
program_type = "Kind"
min_step2_ck = "Step 2 CK min"
sponsors_j1 = "J-1?"
img_share = "IMGs"
tags = "Labels"

[values.sponsors_j1]
"waiver only" = true

[defaults]
city = "Somewhere"
"""

GOOD_ROWS = [
    ["P-1", "Alpha Internal Medicine", "Internal Medicine", "CA", "LA County", "Community", 220, "Yes", "35%", "Safety Net; img friendly"],
    ["P-2", "Beta Family Medicine", "family_medicine", "NY", "out_of_state", "university", None, "waiver only", 0.5, None],
    [3, "Gamma Pediatrics", "pediatrics", "TX", "out_of_state", "county_safety_net", 215.0, False, None, "rural"],
]


def _workbook(path: Path, rows: list[list[object]], sheet: str = "Programs") -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(["Exported from the office list"])  # a title row above the header
    ws.append(["ACGME ID", "Program", "Specialty", "State", "Area", "Kind", "Step 2 CK min", "J-1?", "IMGs", "Labels"])
    for r in rows:
        ws.append(r)
    book.create_sheet("Notes").append(["nothing here"])
    book.save(path)
    return path


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    p = tmp_path / "map.toml"
    p.write_text(MAP, encoding="utf-8")
    return p


def test_xlsx_with_a_column_map(tmp_path: Path, mapping: Path) -> None:
    book = _workbook(tmp_path / "programs.xlsx", GOOD_ROWS)
    catalog = sr.import_catalog(book, mapping)
    assert catalog.ids() == ["P-1", "P-2", "3"]
    p1, p2, p3 = catalog
    assert p1.specialty.value == "internal_medicine" and p1.region.value == "la_county"  # vocabulary forgives case
    assert p1.min_step2_ck == 220 and p1.sponsors_j1 and p1.img_share == 0.35
    assert p1.tags == ("safety_net", "img_friendly") and p1.city == "Somewhere"
    assert p2.min_step2_ck is None and p2.sponsors_j1 and p2.img_share == 0.5  # empty = not published; mapped word
    assert p3.min_step2_ck == 215 and not p3.sponsors_j1


def test_one_error_per_bad_cell_naming_sheet_row_and_column(tmp_path: Path, mapping: Path) -> None:
    rows = [
        GOOD_ROWS[0],
        ["P-2", "Beta", "family medcine", "NY", "out_of_state", "university", "high", "maybe", 0.5, None],
        ["P-3", None, "pediatrics", "TX", "out_of_state", "community", 215, "no", None, None],
        ["P-1", "Duplicate", "pediatrics", "TX", "out_of_state", "community", 215, "no", None, None],
        ["P-7", "Delta", "pediatrics", "TX", "out_of_state", "community", 215, "no", "150%", None],
    ]
    book = _workbook(tmp_path / "bad.xlsx", rows)
    with pytest.raises(sr.InputError) as info:
        sr.import_catalog(book, mapping)
    messages = [d.message for d in info.value.diagnostics]
    expected = [
        "sheet `Programs`, row 4, column G (`Step 2 CK min`): `min_step2_ck`: expected a whole number, got 'high'",
        "sheet `Programs`, row 4, column H (`J-1?`): `sponsors_j1`: expected yes or no (true/false), got 'maybe'",
        "sheet `Programs`, row 5, column B (`Program`): `name` is required and the cell is empty",
        "sheet `Programs`, row 6, column A (`ACGME ID`): program id `P-1` is already used in row 3",
    ]
    for e in expected:
        assert e in messages, (e, messages)
    # the enum and the share are checked by the model, and still point at their cells
    specialty = next(d for d in info.value.diagnostics if "column C" in d.message)
    assert specialty.message.startswith("sheet `Programs`, row 4, column C (`Specialty`): `specialty`: `family medcine` is not one of")
    assert specialty.suggestion == "family_medicine" or "did you mean `family_medicine`" in specialty.message
    assert any(m.startswith("sheet `Programs`, row 7, column I (`IMGs`): `img_share`: must be a share between 0 and 1") for m in messages), messages
    assert len(messages) == 6  # nothing else, nothing twice
    for d in info.value.diagnostics:
        assert d.location.file == str(book)
    bad_cell = next(d for d in info.value.diagnostics if "column G" in d.message)
    assert (bad_cell.location.line, bad_cell.location.column) == (4, 7)


def test_column_map_mistakes_are_named(tmp_path: Path) -> None:
    book = _workbook(tmp_path / "p.xlsx", GOOD_ROWS)
    bad = tmp_path / "bad.toml"
    bad.write_text('[sheet]\nname = "Programs"\nheader_row = 2\n[columns]\nid = "ACGME"\nnmae = "Program"\n', encoding="utf-8")
    with pytest.raises(sr.InputError) as info:
        sr.import_catalog(book, bad)
    assert "`nmae` is not a program field" in str(info.value) and "did you mean `name`" in str(info.value)
    good_fields = tmp_path / "cols.toml"
    good_fields.write_text('[sheet]\nname = "Programs"\nheader_row = 2\n[columns]\nid = "ACGME"\n', encoding="utf-8")
    with pytest.raises(sr.InputError) as info:
        sr.import_catalog(book, good_fields)
    text = str(info.value)
    assert "names column `ACGME` for `id`, which the sheet does not have" in text and "did you mean `ACGME ID`" in text
    assert "no column for the required field `region`" in text
    with pytest.raises(sr.InputError, match=r"(?s)no sheet `Progams`.*did you mean `Programs`"):
        sr.import_catalog(book, None, sheet="Progams")


def test_csv_import_with_headers_named_like_fields_needs_no_map(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8").splitlines()
    header = ",".join(h.replace("_", " ").title() for h in text[0].split(","))  # "Min Step2 Ck"
    sheet = tmp_path / "programs.csv"
    sheet.write_text("\n".join([header, *text[1:]]) + "\n", encoding="utf-8")
    assert sr.import_catalog(sheet) == sr.load_catalog(SAMPLE)


def test_catalog_from_pandas_treats_nan_as_missing() -> None:
    df = pd.read_csv(SAMPLE)
    assert df["min_step2_ck"].isna().any() and df["min_step2_ck"].dtype == "float64"
    catalog = sr.Catalog.from_pandas(df)
    assert catalog == sr.load_catalog(SAMPLE)
    assert all(isinstance(p.positions, int) for p in catalog)  # numpy integers became Python ints


def test_catalog_from_pandas_names_bad_cells_by_row_label_and_column() -> None:
    df = pd.DataFrame(
        {
            "id": ["a", "b"],
            "name": ["A", "B"],
            "specialty": ["internal_medicine", "internal_medicine"],
            "state": ["CA", "CA"],
            "region": ["la_county", "la_county"],
            "program_type": ["community", "community"],
            "min_step2_ck": [math.nan, "two hundred"],
        },
        index=["first", "second"],
    )
    with pytest.raises(sr.InputError) as info:
        sr.Catalog.from_pandas(df)
    assert [d.message for d in info.value.diagnostics] == [
        "row second, column `min_step2_ck`: `min_step2_ck`: expected a whole number, got 'two hundred'"
    ]


def test_catalog_to_csv_round_trips() -> None:
    catalog = sr.load_catalog(SAMPLE)
    text = catalog_to_csv(catalog)
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == len(catalog) + 1
    assert sr.Catalog.from_pandas(pd.read_csv(io.StringIO(text))) == catalog


def test_import_catalog_command_and_evaluate_with_a_spreadsheet(tmp_path: Path, mapping: Path) -> None:
    book = _workbook(tmp_path / "programs.xlsx", GOOD_ROWS)
    run = run_main("import-catalog", book, "--map", mapping, "-o", tmp_path / "catalog.json")
    assert run.code == 0, run.err
    assert run.out.startswith("Wrote 3 programs to ")
    assert len(json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))["programs"]) == 3
    assert sr.load_catalog(tmp_path / "catalog.json") == sr.import_catalog(book, mapping)
    run = run_main("evaluate", DEFAULT_PROFILE, "--catalog", book, "--catalog-map", mapping, "--as-of", "2026", "--format", "json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["provenance"]["catalog_size"] == 3
    bad = _workbook(tmp_path / "bad.xlsx", [[*GOOD_ROWS[0][:6], "x", "maybe", None, None]])
    run = run_main("import-catalog", bad, "--map", mapping)
    assert run.code == 2
    lines = run.err.splitlines()
    assert len(lines) == 2 and all("sheet `Programs`, row 3, column" in line for line in lines), lines


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702)] == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


# --- results out ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rec() -> sr.Recommendation:
    return sr.evaluate(fixtures.default_profile(), sr.load_catalog(SAMPLE), fixtures.shipped_rules(), as_of=2026)


def test_to_frame(rec: sr.Recommendation) -> None:
    frame = rec.to_frame()
    assert len(frame) == len(rec.programs)
    chosen = frame[frame["chosen"]].sort_values("rank")
    assert list(chosen["program_id"]) == list(rec.breadth.chosen)
    assert list(chosen["rank"]) == list(range(1, len(rec.breadth.chosen) + 1))
    assert frame["rank"].isna().sum() == len(rec.programs) - len(rec.breadth.chosen)
    excluded = frame[frame["excluded_by"].notna()]
    assert len(excluded) == len(rec.excluded())
    only = rec.to_frame(chosen_only=True)
    assert list(only["program_id"]) == list(rec.breadth.chosen)
    assert {"tier", "priority", "reasons", "region", "exclusion_reason"} <= set(frame.columns)


def test_short_reprs(rec: sr.Recommendation) -> None:
    text = repr(rec)
    assert len(text) < 300, len(text)
    assert text.startswith("<Recommendation: ") and f"{len(rec.chosen())} of {len(rec.programs):,} programs chosen" in text
    first = rec.chosen()[0]
    r = repr(first)
    assert len(r) < 300 and first.program.id in r and "chosen" in r
    html_text = rec._repr_html_()
    assert "<table>" in html_text and html_text.count("<tr>") == 11 and "not of matching" in html_text
    assert first._repr_html_().count("<li>") == len(first.audit)


def test_reprs_escape_html(tmp_path: Path) -> None:
    catalog = sr.catalog_from_data(
        [{"id": "x", "name": "<script>x</script>", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community"}]
    )
    rec = sr.evaluate({"graduation_year": 2021}, catalog, as_of=2026)
    assert "<script>" not in rec._repr_html_() and "&lt;script&gt;" in rec._repr_html_()
    assert "<script>" not in rec.programs[0]._repr_html_()
