"""A CSV catalog read a column at a time equals the same file read row by row; its fingerprint
written a column at a time equals the one written program by program; the values an audit reads
from a column (`json_values`) equal those read program by program.

`load_catalog` reads a CSV body in one batch (each column's distinct cells converted once, the
programs built from finished values) and falls back on the row-by-row path whenever anything is
off, which alone words errors. These tests pin the two together: the same programs, field by
field and type by type, for the sample catalog and for generated files; the same refusal, with
the same diagnostics, for generated bad files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smartpick_rules as sr
from smartpick_rules.domain import inputs
from smartpick_rules.domain.converter import unstructure
from smartpick_rules.domain.models import Region
from smartpick_rules.language.interp import plain
from smartpick_rules.limits import DEFAULT_LIMITS
from smartpick_rules.runtime.audit import catalog_sha256, json_value, json_values, program_json_lines

FIELDS = [a.name for a in attrs.fields(sr.Program)]


def row_by_row(monkeypatch: pytest.MonkeyPatch, path: Path, **kw: Any) -> Any:
    with monkeypatch.context() as m:
        m.setattr(inputs, "_csv_programs_batched", lambda *a, **k: None)
        return outcome(path, **kw)


def outcome(path: Path, **kw: Any) -> Any:
    try:
        return sr.load_catalog(path, **kw)
    except sr.InputError as exc:
        return exc


def assert_same(batched: Any, exact: Any) -> None:
    assert type(batched) is type(exact)
    if isinstance(exact, Exception):
        assert [d.to_dict() for d in batched.diagnostics] == [d.to_dict() for d in exact.diagnostics]
        return
    assert batched == exact
    assert batched.source == exact.source and batched.synthetic == exact.synthetic
    for a, b in zip(batched, exact, strict=True):
        for name in FIELDS:
            va, vb = getattr(a, name), getattr(b, name)
            # attrs equality takes 1 == 1.0 and an enum member == its value; the types must agree too
            assert (va, type(va)) == (vb, type(vb)), name
        assert hash(a) == hash(b) and repr(a) == repr(b)


def test_the_sample_catalog_is_read_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    path = sr.sample_catalog_path()
    batched = sr.load_catalog(path)
    assert len(batched) > 5000
    assert_same(batched, row_by_row(monkeypatch, path))


def test_the_batch_gives_way_on_a_bad_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[Any] = []
    real = inputs._csv_programs_batched

    def spy(*a: Any, **k: Any) -> Any:
        result = real(*a, **k)
        calls.append(result)
        return result

    monkeypatch.setattr(inputs, "_csv_programs_batched", spy)
    path = tmp_path / "c.csv"
    path.write_text("id,name,specialty,state,region,program_type,positions\np1,A,internal_medicine,CA,la_county,community,NaN\n", encoding="utf-8")
    exc = outcome(path)
    assert isinstance(exc, sr.InputError) and calls == [None]
    assert "column `positions`" in str(exc) and f"{path}:2:7" in exc.first_line()


# --- generated files: every column drawn from good, odd and bad cells -------------------------

#: cells every check accepts (some only after normalising: case, spaces, names for codes)
GOOD: dict[str, list[str]] = {
    "id": ["p1", "q-7", "Ünï"],
    "name": ["A", "", "  spaced  ", "Ünïcode"],
    "specialty": ["internal_medicine", "Internal Medicine", "INTERNAL-MEDICINE", "pediatrics"],
    "state": ["CA", "ca", "California", " new  york ", "Washington, D.C."],
    "region": ["la_county", "LA County", "out_of_state"],
    "program_type": ["community", "University"],
    "city": ["", "Los Angeles", " x "],
    "positions": ["1", "12", " 3 ", "4.0", "1e2", "+7", "0"],
    "min_step1": ["", " ", "220", "300", "220.0"],
    "min_step2_ck": ["", "240"],
    "max_attempts": ["", "0", "2"],
    "max_years_since_graduation": ["", "5"],
    "sponsors_j1": ["true", "False", "YES", "n", "1", " true "],
    "sponsors_h1b": ["false", "0", "Y"],
    "img_share": ["", "0.5", "1", "0", ".5", "5e-1", "1."],
    "usce_required": ["false", "true"],
    "tags": ["", "academic_flagship", "Academic Flagship;spanish_speaking_population", " ; ;x", "a;b;a"],
}
#: cells some check refuses
BAD: dict[str, list[str]] = {
    "id": ["", " p3", "p4 ", "p\u200b5"],
    "name": ["x" * 30],
    "specialty": ["", "surgery", "familymedicine"],
    "state": ["", "ZZ", "Calfornia"],
    "region": ["", "mars"],
    "program_type": ["", "clinic"],
    "city": ["y" * 26],
    "positions": ["", "-1", "1.5", "NaN", "inf", "\uff11", "2_0", "1e999"],
    "min_step1": ["0", "301", "abc"],
    "min_step2_ck": ["1e999", "-5"],
    "max_attempts": ["-1"],
    "max_years_since_graduation": ["5.5"],
    "sponsors_j1": ["", "maybe"],
    "sponsors_h1b": ["", "2"],
    "img_share": ["1.5", "-0.1", "NaN", "Infinity", "0x1"],
    "usce_required": [""],
    "tags": ["z" * 26],
}


@st.composite
def csv_files(draw: Any) -> tuple[str, int]:
    required = ["id", "name", "specialty", "state", "region", "program_type"]
    optional = draw(st.lists(st.sampled_from([f for f in FIELDS if f not in required]), unique=True))
    header = draw(st.permutations(required + optional))
    good = draw(st.booleans())  # half the files hold only cells the checks accept
    extra = "" if good else draw(st.sampled_from(["", "bogus"]))  # sometimes an unknown column
    out = io.StringIO()
    w = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    w.writerow([*header, extra] if extra else header)
    n = draw(st.integers(0, 8) if not good else st.integers(1, 8))
    ids = draw(st.lists(st.sampled_from(["p1", "P1", "p2", "q-7", "Ünï", "ÜNÏ", "r"]), min_size=n, max_size=n))
    for i in range(n):
        if draw(st.integers(0, 9)) == 0:
            w.writerow(["", " "] + [""] * (len(header) - 2))  # a blank row is skipped
            continue
        row = []
        for name in header:
            if name == "id" and (good or draw(st.booleans())):
                cell = f"p{i}" if good else ids[i]  # unique, or maybe a duplicate (in any case)
            elif good or draw(st.integers(0, 3)):
                cell = draw(st.sampled_from(GOOD[name]))
            else:
                cell = draw(st.sampled_from(BAD[name]))
            row.append(cell)
        if extra:
            row.append("x")
        if not good and draw(st.integers(0, 9)) == 0:
            row = row[:-1]  # a short row
        w.writerow(row)
    max_programs = DEFAULT_LIMITS.max_programs if good or draw(st.booleans()) else 3
    return out.getvalue(), max_programs


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(csv_files())
def test_generated_files_are_read_or_refused_the_same_either_way(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: tuple[str, int]) -> None:
    text, max_programs = case
    path = tmp_path / "gen.csv"
    path.write_text(text, encoding="utf-8")
    limits = attrs.evolve(DEFAULT_LIMITS, max_programs=max_programs, max_string_length=25)
    assert_same(outcome(path, limits=limits), row_by_row(monkeypatch, path, limits=limits))


# --- the catalog's fingerprint, written a column at a time -----------------------------------


def program_lines_one_by_one(programs: Any) -> list[str]:
    return [json.dumps(unstructure(p), sort_keys=True, ensure_ascii=False) for p in programs]


def test_the_sample_catalogs_json_lines_are_written_the_same_either_way() -> None:
    programs = sr.load_catalog(sr.sample_catalog_path()).programs
    assert program_json_lines(programs) == program_lines_one_by_one(programs)


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@st.composite
def odd_programs(draw: Any) -> list[sr.Program]:
    base = draw(st.lists(st.sampled_from(SAMPLE_PROGRAMS), min_size=1, max_size=6))
    out = []
    for i, p in enumerate(base):
        changes: dict[str, Any] = {"id": f"{p.id}-{i}"}
        if draw(st.booleans()):
            changes["name"] = draw(TEXT)
        if draw(st.booleans()):
            changes["city"] = draw(st.sampled_from(['"quoted"', "back\\slash", "tab\there", "\u2028", "\U0001f600", "é", ""]))
        if draw(st.booleans()):
            changes["img_share"] = draw(st.sampled_from([None, 0.0, -0.0, 1, 1.0, 0.1 + 0.2, 5e-324, True]))
        if draw(st.booleans()):
            changes["positions"] = draw(st.sampled_from([0, 1, True, False, 10**12]))
        if draw(st.booleans()):
            changes["min_step1"] = draw(st.sampled_from([None, 1, 300, 250]))
        if draw(st.booleans()):
            changes["tags"] = draw(st.lists(st.sampled_from(["a", "b_c", "academic_flagship"]), max_size=3).map(tuple))
        out.append(attrs.evolve(p, **changes))
    return out


SAMPLE_PROGRAMS = list(sr.load_catalog(sr.sample_catalog_path()).programs[::97])


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(odd_programs())
def test_odd_programs_json_lines_are_written_the_same_or_left_to_the_one_by_one_path(programs: list[sr.Program]) -> None:
    lines = program_json_lines(programs)
    if lines is not None:
        assert lines == program_lines_one_by_one(programs)
    assert catalog_sha256(sr.Catalog.of(programs)) == hashlib.sha256("\n".join(sorted(program_lines_one_by_one(programs))).encode("utf-8")).hexdigest()


def _typed(values: list[Any]) -> list[Any]:
    """Values with their types, recursively, and the sign of a zero: 1 and True, 0.0 and -0.0 differ."""
    return [(type(v), _typed(v) if isinstance(v, list) else repr(v)) for v in values]


def test_the_sample_catalogs_raw_columns_are_read_the_same_either_way() -> None:
    programs = sr.load_catalog(sr.sample_catalog_path()).programs
    for name in FIELDS:
        values = [getattr(p, name) for p in programs]
        assert _typed(json_values(values)) == _typed([json_value(plain(v)) for v in values]), name


@settings(max_examples=200, deadline=None)
@given(odd_programs())
def test_odd_programs_raw_columns_are_read_the_same_either_way(programs: list[sr.Program]) -> None:
    for name in FIELDS:
        values = [getattr(p, name) for p in programs]
        assert _typed(json_values(values)) == _typed([json_value(plain(v)) for v in values]), name


@pytest.mark.parametrize(
    "values",
    [
        [1.5, None, float("inf")],
        [float("nan"), 2.0],
        [1e308, 1e308],
        [0.0, -0.0, None],
        [1, True, 1.0],
        [None, None],
        [("a", "b"), None, ()],
        [("a", 1), ("b",)],
        [*Region, None, *Region],
        [Region.la_county, "la_county"],
    ],
)
def test_odd_columns_are_read_the_same_either_way(values: list[Any]) -> None:
    assert _typed(json_values(values)) == _typed([json_value(plain(v)) for v in values])
