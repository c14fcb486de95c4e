"""Bringing your own catalog in: a spreadsheet (CSV or XLSX) with a column map, or a pandas DataFrame.

A real program list rarely has our column names. A *column map* in TOML says which column of
the sheet holds which program field, how the sheet writes some values, and what to assume for
fields the sheet does not have::

    [sheet]
    name = "Programs"          # the XLSX sheet (default: the first); ignored for CSV
    header_row = 2             # the row holding the column names (default: 1)

    [columns]                  # program field = the sheet's column header
    id = "ACGME ID"
    name = "Program"
    min_step2_ck = "Step 2 CK min"
    sponsors_j1 = "J-1?"

    [values.sponsors_j1]       # the sheet's word = the field's value
    "J-1 waiver only" = true

    [defaults]                 # fields the sheet does not have
    region = "out_of_state"

Columns named like a field (any case, spaces for underscores: ``Min Step2 CK``) need no entry.
Every bad cell is one error naming the sheet, the row and the column (``Programs!D12``, header
``Step 2 CK min``) and what was expected; the whole sheet is checked before anything is refused.
Empty cells, ``NaN`` and ``None`` are *not published* for the optional fields. Reading XLSX
needs openpyxl (``pip install 'smartpick-rules[xlsx]'``); ``Catalog.from_pandas`` needs pandas.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import attrs

from ..errors import Diagnostic, InputError, Location, did_you_mean
from ..limits import DEFAULT_LIMITS, Limits, limit_help
from ..records import frozen
from .converter import _StructureFailure, structure_mapping
from .models import Catalog, Program

__all__ = ["ColumnMap", "catalog_from_records", "catalog_to_csv", "import_catalog", "load_column_map"]

_FIELDS = {a.name: a for a in attrs.fields(Program) if not a.name.startswith("_")}
_TRUE = {"true", "yes", "y", "1", "x", "✓"}
_FALSE = {"false", "no", "n", "0", "-"}
#: most errors collected before the import stops looking (each is one bad cell)
MAX_ERRORS = 200


def _key(text: str) -> str:
    """A header compared loosely: case, spaces, hyphens and underscores do not matter."""
    return re.sub(r"[\s_\-]+", "", str(text).casefold())


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet names a column."""
    out = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


@frozen
class ColumnMap:
    """How a sheet's columns become program fields (see the module docstring for the TOML form)."""

    columns: dict[str, str] = attrs.field(factory=dict)
    values: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    defaults: dict[str, Any] = attrs.field(factory=dict)
    sheet: str | None = None
    header_row: int = 1
    source: str = ""


def load_column_map(path: str | Path) -> ColumnMap:
    """Read a column map from TOML; unknown fields and tables are errors with a "did you mean"."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Diagnostic("io_error", "no such file", Location(str(p)))) from None
    except OSError as exc:
        raise InputError(Diagnostic("io_error", f"cannot read: {exc.strerror}", Location(str(p)))) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(Diagnostic("parse_error", f"invalid TOML: {exc}", Location(str(p)))) from None
    return column_map_from_data(data, source=str(p))


def column_map_from_data(data: Mapping[str, Any], source: str = "<column map>") -> ColumnMap:
    diags: list[Diagnostic] = []
    where = Location(source)
    fields = list(_FIELDS)
    for table in data:
        if table not in ("sheet", "columns", "values", "defaults"):
            diags.append(
                Diagnostic("input_error", f"unknown table `[{table}]`", where, suggestion=did_you_mean(table, ["sheet", "columns", "values", "defaults"]), help="a column map has [sheet], [columns], [values.FIELD] and [defaults]")
            )

    def check_fields(names: Iterable[str], table: str) -> None:
        for name in names:
            if name not in _FIELDS:
                diags.append(
                    Diagnostic("input_error", f"[{table}]: `{name}` is not a program field", where, suggestion=did_you_mean(name, fields), help=f"program fields: {', '.join(fields)}")
                )

    columns = data.get("columns", {})
    values = data.get("values", {})
    defaults = data.get("defaults", {})
    sheet = data.get("sheet", {})
    for name, value, kind in (("columns", columns, dict), ("values", values, dict), ("defaults", defaults, dict), ("sheet", sheet, dict)):
        if not isinstance(value, kind):
            diags.append(Diagnostic("input_error", f"`{name}` must be a table", where))
    if diags:
        raise InputError(diags)
    check_fields(columns, "columns")
    check_fields(values, "values")
    check_fields(defaults, "defaults")
    for name, header in columns.items():
        if not isinstance(header, str):
            diags.append(Diagnostic("input_error", f"[columns]: `{name}` must name a column header (a string)", where))
    for name, table in values.items():
        if not isinstance(table, dict):
            diags.append(Diagnostic("input_error", f"[values.{name}] must be a table of `\"sheet value\" = field value`", where))
    extra = set(sheet) - {"name", "header_row"}
    if extra:
        diags.append(Diagnostic("input_error", f"[sheet]: unknown key `{sorted(extra)[0]}`", where, help="[sheet] has `name` and `header_row`"))
    header_row = sheet.get("header_row", 1)
    if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
        diags.append(Diagnostic("input_error", "[sheet]: `header_row` must be a row number, 1 or more", where))
    name = sheet.get("name")
    if name is not None and not isinstance(name, str):
        diags.append(Diagnostic("input_error", "[sheet]: `name` must be a string", where))
    if diags:
        raise InputError(diags)
    return ColumnMap(
        columns=dict(columns),
        values={k: {str(w).strip().casefold(): v for w, v in t.items()} for k, t in values.items()},
        defaults=dict(defaults),
        sheet=name,
        header_row=header_row,
        source=source,
    )


# --- one cell -------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    # pandas' NA and NaT, without importing pandas
    return type(value).__name__ in ("NAType", "NaTType")


def _plain(value: Any) -> Any:
    """numpy and pandas scalars as the Python values they stand for."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__.startswith("numpy"):
        return item()
    return value


def _unwrap(type_: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(type_)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(type_) if a is not type(None)]
        return args[0], True
    return type_, False


def _cell(value: Any, type_: Any) -> Any:
    """One cell as the plain value the converter expects for ``type_``; ValueError if it cannot be."""
    base, _optional = _unwrap(type_)
    value = _plain(value)
    if typing.get_origin(base) is tuple:
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if not _is_missing(v)]
        return [t.strip() for t in re.split(r"[;,]", str(value)) if t.strip()]
    if base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        low = str(value).strip().casefold()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"expected yes or no (true/false), got {_shown(value)}")
    if base is int:
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {_shown(value)}")
        if isinstance(value, int):
            return value
        number = _number(value, "a whole number")
        if not number.is_integer():
            raise ValueError(f"expected a whole number, got {_shown(value)}")
        return int(number)
    if base is float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {_shown(value)}")
        return _number(value, "a number")
    if isinstance(value, _dt.date | _dt.datetime):
        raise ValueError(f"expected text, got the date {value}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an id typed as 123 in a spreadsheet arrives as 123.0
    return str(value).strip()


def _number(value: Any, what: str) -> float:
    if isinstance(value, int | float):
        f = float(value)
    else:
        text = str(value).strip().replace(",", "")
        percent = text.endswith("%")
        try:
            f = float(text.rstrip("%").strip())
        except ValueError:
            raise ValueError(f"expected {what}, got {_shown(value)}") from None
        if percent:
            f /= 100.0
    if not math.isfinite(f):
        raise ValueError(f"expected {what}, got {_shown(value)}")
    return f


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


# --- rows to a catalog ----------------------------------------------------------------------------


@frozen
class _Sheet:
    """Where rows come from, to name cells in errors."""

    file: str
    name: str | None  # the sheet's name (XLSX), None for CSV and DataFrames
    kind: str  # "sheet" | "csv" | "frame"

    def cell(self, row: Any, col: int | None, header: str | None) -> str:
        if self.kind == "frame":
            return f"row {row}" + (f", column `{header}`" if header is not None else "")
        where = f"row {row}" + (f", column {column_letter(col)}" if col is not None else "")
        if header is not None:
            where += f" (`{header}`)"
        return (f"sheet `{self.name}`, " if self.name else "") + where


def _resolve_columns(headers: list[str], cmap: ColumnMap, sheet: _Sheet) -> tuple[dict[str, int], list[Diagnostic]]:
    """Field -> column index, from the map's [columns] and from headers named like fields."""
    diags: list[Diagnostic] = []
    by_key: dict[str, int] = {}
    for i, h in enumerate(headers):
        if h and _key(h) not in by_key:
            by_key[_key(h)] = i
    out: dict[str, int] = {}
    for field, header in cmap.columns.items():
        found = by_key.get(_key(header))
        if found is None:
            diags.append(
                Diagnostic(
                    "input_error",
                    f"the column map names column `{header}` for `{field}`, which the {'sheet' if sheet.kind == 'sheet' else 'file'} does not have",
                    Location(cmap.source or sheet.file),
                    suggestion=did_you_mean(header, [h for h in headers if h]),
                    help="columns: " + ", ".join(h for h in headers if h),
                )
            )
            continue
        out[field] = found
    taken = set(out.values())
    for field in _FIELDS:
        if field in out or field in cmap.defaults:
            continue
        same = by_key.get(_key(field))
        if same is not None and same not in taken:
            out[field] = same
    required = [n for n, a in _FIELDS.items() if a.default is attrs.NOTHING]
    for field in required:
        if field not in out and field not in cmap.defaults:
            diags.append(
                Diagnostic(
                    "input_error",
                    f"no column for the required field `{field}`",
                    Location(sheet.file, 0, 0),
                    help=f"name it in the column map's [columns] (`{field} = \"Your header\"`) or give it in [defaults]",
                )
            )
    return out, diags


def catalog_from_records(
    headers: list[str],
    rows: Iterable[tuple[Any, list[Any]]],
    cmap: ColumnMap | None = None,
    *,
    file: str = "<catalog>",
    sheet_name: str | None = None,
    kind: str = "sheet",
    limits: Limits = DEFAULT_LIMITS,
) -> Catalog:
    """Build a catalog from a header row and ``(row label, cells)`` pairs: the shared core of every import."""
    cmap = cmap or ColumnMap()
    sheet = _Sheet(file, sheet_name, kind)
    columns, diags = _resolve_columns([str(h) if not _is_missing(h) else "" for h in headers], cmap, sheet)
    if diags:
        raise InputError(diags)
    hints = typing.get_type_hints(Program)
    programs: list[Program] = []
    seen: dict[str, Any] = {}
    for label, cells in rows:
        if len(diags) >= MAX_ERRORS:
            diags.append(Diagnostic("input_error", f"stopped after {MAX_ERRORS} errors", Location(file)))
            break
        if all(_is_missing(c) for c in cells):
            continue
        if len(programs) >= limits.max_programs:
            diags.append(Diagnostic("limit_exceeded", f"more than {limits.max_programs} programs", Location(file), help=limit_help("max_programs")))
            break
        record: dict[str, Any] = {}
        row_ok = True
        failed: set[str] = set()
        for field, default in cmap.defaults.items():
            record[field] = default
        line = label if isinstance(label, int) and kind != "frame" else 0
        for field, col in columns.items():
            value = cells[col] if col < len(cells) else None
            header = headers[col]
            mapped = cmap.values.get(field)
            if mapped is not None and not _is_missing(value) and str(value).strip().casefold() in mapped:
                record[field] = mapped[str(value).strip().casefold()]
                continue
            if _is_missing(value):
                if field in cmap.defaults:
                    continue
                if _unwrap(hints[field])[1] or _FIELDS[field].default is not attrs.NOTHING:
                    continue  # not published / the field's default
                diags.append(Diagnostic("input_error", f"{sheet.cell(label, col, header)}: `{field}` is required and the cell is empty", Location(file, line, col + 1)))
                row_ok = False
                failed.add(field)
                continue
            if isinstance(value, str) and len(value) > limits.max_string_length:
                diags.append(Diagnostic("limit_exceeded", f"{sheet.cell(label, col, header)}: longer than {limits.max_string_length} characters", Location(file, line, col + 1), help=limit_help("max_string_length")))
                row_ok = False
                failed.add(field)
                continue
            try:
                record[field] = _cell(value, hints[field])
            except ValueError as exc:
                diags.append(Diagnostic("input_error", f"{sheet.cell(label, col, header)}: `{field}`: {exc}", Location(file, line, col + 1), field_path=f"$.{field}"))
                row_ok = False
                failed.add(field)
        rid = record.get("id") if "id" not in failed else None
        duplicate = False
        if isinstance(rid, str) and rid.strip():
            if rid in seen:
                col = columns["id"]
                diags.append(
                    Diagnostic("duplicate_id", f"{sheet.cell(label, col, headers[col])}: program id `{rid}` is already used in row {seen[rid]}", Location(file, line, col + 1))
                )
                duplicate = True
            else:
                seen[rid] = label
        # the model checks the rest of the row even when a cell failed (one error per bad cell):
        # a failed required field gets a stand-in value so the other fields' checks still run
        for field in failed:
            if _FIELDS[field].default is attrs.NOTHING:
                record[field] = _stand_in(hints[field])
        try:
            program = structure_mapping(record, Program, "$", limits)
        except _StructureFailure as fail:
            for d in fail.diagnostics:
                field = (d.field_path or "").removeprefix("$.").split(".")[0].split("[")[0]
                if field in failed or (not field and not row_ok):
                    continue  # reported already, at its cell
                at = columns.get(field)
                shown_header = headers[at] if at is not None else None
                where = sheet.cell(label, at, shown_header) if at is not None else sheet.cell(label, None, None) + f" ([defaults] `{field}`)"
                diags.append(attrs.evolve(d, message=f"{where}: `{field}`: {d.message}", location=Location(file, line, (at if at is not None else -1) + 1)))
            continue
        if row_ok and not duplicate:
            programs.append(program)
    if diags:
        raise InputError(diags)
    return Catalog(tuple(programs), file)


def _stand_in(type_: Any) -> Any:
    base, _optional = _unwrap(type_)
    if isinstance(base, type) and issubclass(base, Enum):
        return next(iter(base)).value
    return {bool: False, int: 0, float: 0.0}.get(base, "?")


# --- files ----------------------------------------------------------------------------------------


def _csv_rows(path: Path, header_row: int) -> tuple[list[str], Iterator[tuple[Any, list[Any]]]]:
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if len(rows) < header_row:
        raise InputError(Diagnostic("input_error", f"the file has no row {header_row} to read column names from", Location(str(path))))
    headers = [h.strip() for h in rows[header_row - 1]]
    return headers, ((k, r) for k, r in enumerate(rows[header_row:], start=header_row + 1))


def _xlsx_rows(path: Path, sheet: str | None, header_row: int) -> tuple[str, list[str], Iterator[tuple[Any, list[Any]]]]:
    try:
        import openpyxl
    except ImportError:
        raise InputError(
            Diagnostic("input_error", "reading .xlsx needs openpyxl", Location(str(path)), help="pip install 'smartpick-rules[xlsx]'")
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputError(Diagnostic("parse_error", f"not a readable .xlsx workbook ({type(exc).__name__})", Location(str(path)))) from None
    names = list(book.sheetnames)
    if sheet is None:
        ws = book[names[0]]
    elif sheet in names:
        ws = book[sheet]
    else:
        raise InputError(
            Diagnostic("input_error", f"no sheet `{sheet}`", Location(str(path)), suggestion=did_you_mean(sheet, names), help="sheets: " + ", ".join(names))
        )
    rows = ws.iter_rows(values_only=True)
    headers: list[str] = []
    for k, row in enumerate(rows, start=1):
        if k == header_row:
            headers = ["" if _is_missing(h) else str(h).strip() for h in row]
            break
    else:
        raise InputError(Diagnostic("input_error", f"sheet `{ws.title}` has no row {header_row} to read column names from", Location(str(path))))
    return ws.title, headers, ((k, list(r)) for k, r in enumerate(rows, start=header_row + 1))


def import_catalog(
    path: str | Path, column_map: ColumnMap | str | Path | None = None, *, sheet: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> Catalog:
    """Import a catalog from a spreadsheet: ``.xlsx`` (openpyxl) or ``.csv``, with an optional column map.

    ``column_map`` is a `ColumnMap` or the path of its TOML file; ``sheet`` overrides the map's
    sheet name. Every bad cell is reported, each naming its sheet, row and column.
    """
    cmap = column_map if isinstance(column_map, ColumnMap) else load_column_map(column_map) if column_map is not None else ColumnMap()
    p = Path(path)
    if not p.is_file():
        raise InputError(Diagnostic("io_error", "no such file" if not p.exists() else "not a regular file", Location(str(p))))
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        title, headers, rows = _xlsx_rows(p, sheet or cmap.sheet, cmap.header_row)
        return catalog_from_records(headers, rows, cmap, file=str(p), sheet_name=title, kind="sheet", limits=limits)
    if suffix == ".csv":
        headers, rows = _csv_rows(p, cmap.header_row)
        return catalog_from_records(headers, rows, cmap, file=str(p), kind="csv", limits=limits)
    raise InputError(Diagnostic("input_error", f"cannot import `{suffix or '(none)'}` files", Location(str(p)), help="import .xlsx or .csv"))


def catalog_from_frame(df: Any, column_map: ColumnMap | str | Path | None = None, *, source: str = "<DataFrame>", limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """`Catalog.from_pandas`: one program per row; NaN, None and NaT are missing values."""
    cmap = column_map if isinstance(column_map, ColumnMap) else load_column_map(column_map) if column_map is not None else ColumnMap()
    headers = [str(c) for c in df.columns]
    rows = ((label, list(values)) for label, values in zip(df.index, df.itertuples(index=False, name=None), strict=True))
    return catalog_from_records(headers, rows, cmap, file=source, kind="frame", limits=limits)


def catalog_to_csv(catalog: Catalog) -> str:
    """The catalog in the CSV form `load_catalog` reads: one column per field, ``;`` between tags."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = list(_FIELDS)
    writer.writerow(names)
    for p in catalog:
        row = []
        for name in names:
            v = getattr(p, name)
            if v is None:
                row.append("")
            elif isinstance(v, bool):
                row.append("true" if v else "false")
            elif isinstance(v, tuple):
                row.append(";".join(str(x) for x in v))
            elif isinstance(v, float) and v.is_integer():
                row.append(str(int(v)) if name != "img_share" else str(v))
            else:
                row.append(str(getattr(v, "value", v)))
        writer.writerow(row)
    return buf.getvalue()
