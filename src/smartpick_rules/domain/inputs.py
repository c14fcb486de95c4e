"""Reading profiles and catalogs from files or plain data.

Every failure becomes an [`InputError`][smartpick_rules.InputError] whose diagnostics name the file,
the line (TOML, JSON) or row (CSV), and the field or column, with what was expected. Nothing is
dropped silently: a row that does not fit is an error, not a skipped program.
"""

from __future__ import annotations

import collections
import csv
import functools
import io
import itertools
import math
import re
import stat
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ..errors import Diagnostic, InputError, Location, did_you_mean
from ..limits import DEFAULT_LIMITS, Limits, limit_help
from ..sourcemap import (
    DocumentError,
    SourceMap,
    json_source_map,
    parse_json,
    parse_toml,
    path_from_field_path,
    toml_source_map,
)
from .converter import _strict_str, _StructureFailure, converter, limits_applied, structure_mapping
from .models import Catalog, Profile, Program

__all__ = [
    "catalog_from_data",
    "catalog_metadata_path",
    "load_catalog",
    "load_profile",
    "profile_from_data",
    "sample_catalog_path",
]


def sample_catalog_path() -> Path:
    """The synthetic sample catalog installed with the package (examples/catalog.csv)."""
    # the package's folder, as importlib.resources.files would say for a package on disk, without
    # importing it (with tempfile, shutil and the compression modules: about 4 ms of a cold command)
    return Path(__file__).parents[1] / "data" / "sample_catalog.csv"

T = TypeVar("T")


def read_input_text(path: Path, limits: Limits) -> str:
    """The text of an input file: a regular file (a named pipe would block), within
    ``Limits.max_input_bytes`` (checked before reading), UTF-8 with or without a BOM."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise InputError(Diagnostic("io_error", f"is {what}, expected a file", Location(str(path))))
        size = st.st_size
        if size > limits.max_input_bytes:
            raise InputError(
                Diagnostic(
                    "limit_exceeded",
                    f"file is {size} bytes, more than the limit of {limits.max_input_bytes}",
                    Location(str(path)),
                    help=limit_help("max_input_bytes"),
                )
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(Diagnostic("io_error", "no such file", Location(str(path)))) from None
    except IsADirectoryError:
        raise InputError(Diagnostic("io_error", "is a folder, expected a file", Location(str(path)))) from None
    except OSError as exc:
        raise InputError(Diagnostic("io_error", f"cannot read: {exc.strerror}", Location(str(path)))) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            Diagnostic("input_error", f"not UTF-8 text (byte {exc.start})", Location(str(path)))
        ) from None


def _parse_document(text: str, file: str, suffix: str) -> tuple[Any, SourceMap]:
    try:
        if suffix == ".toml":
            return parse_toml(text, file), toml_source_map(text, file)
        if suffix == ".json":
            return parse_json(text, file), json_source_map(text, file)
    except DocumentError as exc:
        raise InputError(exc.diagnostic) from None
    raise InputError(
        Diagnostic(
            "input_error",
            f"unknown file type `{suffix or '(none)'}`",
            Location(file),
            help="use .toml or .json for a profile; .csv, .json or .toml for a catalog",
        )
    )


def _locate(diags: Iterable[Diagnostic], smap: SourceMap | None, file: str, prefix: Iterable[str | int] = ()) -> list[Diagnostic]:
    diags = list(diags)
    head = list(prefix)
    paths = [[*head, *path_from_field_path(d.field_path)] if d.field_path else [] for d in diags]
    # every position in one pass over the document (a JSON map scans the text once per call)
    where = smap.locate(paths) if smap is not None else [(0, 0)] * len(diags)
    return [
        attrs.evolve(d, location=Location(file, *(pos if d.field_path else (0, 0))))
        for d, pos in zip(diags, where, strict=True)
    ]


def _structure(
    data: Any,
    cls: type[T],
    file: str,
    smap: SourceMap | None,
    root: str = "$",
    prefix: Iterable[str | int] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> T:
    try:
        return structure_mapping(data, cls, root, limits)
    except _StructureFailure as fail:
        raise InputError(_locate(fail.diagnostics, smap, file, prefix)) from None


def profile_from_data(
    data: Mapping[str, Any] | Profile, *, source: str = "<profile>", limits: Limits = DEFAULT_LIMITS
) -> Profile:
    """Structure a profile from plain data (a dict from JSON, say). Errors name the field path."""
    if isinstance(data, Profile):
        return data
    data = dict(data) if isinstance(data, Mapping) else data
    if isinstance(data, dict):
        data.pop("$schema", None)
    return _structure(data, Profile, source, None, limits=limits)


def load_profile(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Profile:
    """Read one applicant profile from a ``.toml`` or ``.json`` file."""
    p = Path(path)
    text = read_input_text(p, limits)
    data, smap = _parse_document(text, str(p), p.suffix.lower())
    if isinstance(data, dict):
        data.pop("$schema", None)
        # a profile file may wrap the applicant in [applicant] or [profile]
        for wrapper in ("applicant", "profile"):
            if set(data) == {wrapper} and isinstance(data[wrapper], dict):
                return _structure(data[wrapper], Profile, str(p), smap, prefix=[wrapper], limits=limits)
    return _structure(data, Profile, str(p), smap, limits=limits)


# --- catalogs -----------------------------------------------------------------------------

_PROGRAM_FIELDS = {a.name: a for a in attrs.fields(Program)}
#: numbers in CSV cells: ASCII digits, an optional sign, fraction and exponent; nothing else
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+(?:\.0*)?", re.ASCII)
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def _csv_cell(value: str, type_: Any) -> Any:
    """Turn one CSV cell into the plain value cattrs expects for ``type_``."""
    return _cell_reader(type_)(value)


@functools.cache
def _cell_reader(type_: Any) -> Callable[[str], Any]:
    """`_csv_cell` for one column type, its type inspected once rather than for every cell."""
    origin = typing.get_origin(type_)
    args = typing.get_args(type_)
    optional = (origin is typing.Union or origin is types.UnionType) and type(None) in args
    inner = next(a for a in args if a is not type(None)) if optional else type_
    inner_origin = typing.get_origin(inner)
    if inner is str:
        if optional:
            return lambda value: None if value.strip() == "" else value
        return lambda value: value

    def read(value: str) -> Any:
        if optional and value.strip() == "":
            return None
        return _convert_cell(value, inner, inner_origin)

    return read


def _convert_cell(value: str, type_: Any, origin: Any) -> Any:
    text = value.strip()
    if origin is tuple:
        return [t.strip() for t in text.split(";") if t.strip()] if text else []
    if type_ is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        if low == "":
            # unknown is not false: a program that did not say whether it sponsors visas must not
            # silently read as "does not"
            raise ValueError("empty; write true or false (or leave the column out for its default, false)")
        raise ValueError(f"expected true or false, got {value!r}")
    if type_ is int:
        # ASCII decimal only: Python's float() also takes `2_20`, Arabic-Indic and full-width digits
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"expected an integer written with the digits 0-9, got {value!r}")
        f = float(text)
        if not math.isfinite(f) or not f.is_integer():
            raise ValueError(f"expected an integer, got {value!r}")
        return int(f)
    if type_ is float:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f"expected a finite number written with the digits 0-9, got {value!r}")
        f = float(text)
        if not math.isfinite(f):
            raise ValueError(f"expected a finite number, got {value!r}")
        return f
    return value


def _duplicate_message(pid: str, first: str, where: str) -> str:
    if pid == first:
        return f"program id `{pid}` already used {where}"
    return f"program id `{pid}` differs only by case from `{first}`, already used {where}"


def _program_types() -> dict[str, Any]:
    hints = typing.get_type_hints(Program)
    return {name: hints[name] for name in _PROGRAM_FIELDS}


#: a cell (or an omitted field) the batched reading of a CSV catalog cannot take
_REFUSED = object()


def _finished_value(cell: str | None, read: Callable[[str], Any], field: Any, type_: Any) -> Any:
    """What the row-by-row path makes of one cell: the cell reader, the converter's hook for the
    field's type, then the field's attrs converter and validator, as `Program.__init__` runs
    them. ``cell`` None (no such column) or an empty optional cell is the field's default, through
    its converter and validator like any default. ``_REFUSED`` for anything that fails."""
    try:
        value = None if cell is None else read(cell)
        if value is None:
            default = field.default
            if default is attrs.NOTHING:
                return _REFUSED
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                if default.takes_self:
                    return _REFUSED
                default = default.factory()
            value = default
        else:
            value = converter.structure(value, type_)
        if field.converter is not None:
            value = field.converter(value)
        if field.validator is not None:
            field.validator(None, field, value)
    except Exception:  # the row-by-row path reports it
        return _REFUSED
    return value


def _finished_text(cell: str, field: Any) -> Any:
    """`_finished_value` of a cell of a plain ``str`` field, no longer than the string limit: the
    converter's hook for ``str`` (`_strict_str`) returns such a cell as it is, so only the field's
    converter and validator are left to run (a cell of a column of ids or names is rarely seen
    twice, so the hook's call was paid for nearly every program)."""
    try:
        value = cell if field.converter is None else field.converter(cell)
        if field.validator is not None:
            field.validator(None, field, value)
    except Exception:  # the row-by-row path reports it
        return _REFUSED
    return value


@functools.cache
def _program_builder() -> Callable[[list[list[Any]]], tuple[Program, ...]]:
    """`Program`s from their finished field values, one column per field in field order, without
    running the converters and validators again (`_finished_value` ran them): the values go
    straight into the slots, a column at a time (each column one C-level loop, not a call per
    program and field). Falls back on the constructor if the class ever grows an
    ``__attrs_post_init__``, a hash cache or anything else its ``__init__`` would do besides
    setting fields."""
    names = list(_PROGRAM_FIELDS)
    slots = [Program.__dict__.get(name) for name in names]
    plain = (
        set(getattr(Program, "__slots__", ())) <= {*names, "__weakref__"}
        and all(isinstance(slot, types.MemberDescriptorType) for slot in slots)
        and not any(hasattr(Program, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__", "__attrs_init__"))
    )
    if not plain:
        return lambda columns: tuple(Program(**dict(zip(names, row, strict=True))) for row in zip(*columns, strict=True))
    setters = [slot.__set__ for slot in slots]  # type: ignore[union-attr]
    new = object.__new__

    def build(columns: list[list[Any]]) -> tuple[Program, ...]:
        n = len(columns[0]) if columns else 0
        programs = list(map(new, itertools.repeat(Program, n)))
        for set_field, column in zip(setters, columns, strict=True):
            if len(column) != n:
                raise ValueError("columns of different lengths")
            collections.deque(map(set_field, programs, column), maxlen=0)
        return tuple(programs)

    return build


def _csv_programs_batched(rows: list[list[str]], header: list[str], hints: dict[str, Any], limits: Limits) -> tuple[Program, ...] | None:
    """Every program of a CSV catalog's rows at once, a column at a time; None when anything at
    all is wrong.

    Each column's distinct cells go once through `_finished_value` (a column of 5,000 cells
    holds a few dozen distinct values, bar the ids and names), and each program is then built
    from finished values. A bad cell, a short row, an over-long cell, too many rows or a
    duplicate id returns None, and the caller reads the file again row by row: that path alone
    words errors, so a file is refused with the same messages either way. Tested equal to the
    row-by-row path in tests/test_catalog_batched.py.
    """
    body = [row for row in rows if "".join(row).strip()]  # a row of blank cells is skipped
    if len(body) > limits.max_programs or any(len(row) != len(header) for row in body):
        return None
    if not body:
        return ()
    columns = dict(zip(header, zip(*body, strict=True), strict=True))
    values: list[Any] = []
    with limits_applied(limits):
        for name, field in _PROGRAM_FIELDS.items():
            cells = columns.get(name)
            if cells is None:
                default = _finished_value(None, str, field, hints[name])
                if default is _REFUSED:
                    return None
                values.append([default] * len(body))
                continue
            if max(map(len, cells)) > limits.max_string_length:
                return None
            if hints[name] is str and converter.get_structure_hook(str) is _strict_str:
                if field.converter is None and field.validator is None:
                    values.append(list(cells))
                    continue
                memo = {cell: _finished_text(cell, field) for cell in set(cells)}
            else:
                read = _cell_reader(hints[name])
                memo = {cell: _finished_value(cell, read, field, hints[name]) for cell in set(cells)}
            if any(value is _REFUSED for value in memo.values()):
                return None
            values.append(list(map(memo.__getitem__, cells)))
    ids = values[list(_PROGRAM_FIELDS).index("id")]
    if len({pid.casefold() for pid in ids}) != len(ids):
        return None
    return _program_builder()(values)


def _catalog_from_csv(text: str, file: str, limits: Limits, synthetic: bool = False) -> Catalog:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(Diagnostic("input_error", "the CSV file is empty; expected a header row", Location(file, 1))) from None
    except csv.Error as exc:
        raise InputError(Diagnostic("parse_error", f"invalid CSV: {exc}", Location(file, 1))) from None
    header = [h.strip() for h in header]
    diags: list[Diagnostic] = []
    hints = _program_types()
    known = list(_PROGRAM_FIELDS)
    seen: set[str] = set()
    for col, name in enumerate(header, start=1):
        if name not in _PROGRAM_FIELDS:
            diags.append(
                Diagnostic(
                    "input_error",
                    f"unknown column `{name}`",
                    Location(file, 1, col),
                    suggestion=did_you_mean(name, known),
                    help=f"known columns: {', '.join(known)}",
                )
            )
        elif name in seen:
            diags.append(Diagnostic("input_error", f"column `{name}` appears twice", Location(file, 1, col)))
        seen.add(name)
    required = [a.name for a in _PROGRAM_FIELDS.values() if a.default is attrs.NOTHING]
    for name in required:
        if name not in header:
            diags.append(Diagnostic("input_error", f"required column `{name}` is missing", Location(file, 1)))
    if diags:
        raise InputError(diags)
    readers = [_cell_reader(hints[name]) for name in header]
    try:
        rows = list(reader)
    except csv.Error:
        rows = None
    if rows is not None:
        batched = _csv_programs_batched(rows, header, hints, limits)
        if batched is not None:
            return Catalog(batched, file, synthetic)
    # Something is wrong (or the batch could not tell): read the rows again one by one, which
    # finds every problem and words it with its line and column.
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    programs: list[Program] = []
    #: case-folded id -> (line, id as written): `p1` and `P1` are one program written twice
    ids: dict[str, tuple[int, str]] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(programs) >= limits.max_programs:
                diags.append(
                    Diagnostic("limit_exceeded", f"more than {limits.max_programs} programs", Location(file, line), help=limit_help("max_programs"))
                )
                break
            if len(row) != len(header):
                diags.append(
                    Diagnostic(
                        "input_error",
                        f"row has {len(row)} cells, the header has {len(header)}",
                        Location(file, line),
                    )
                )
                continue
            record: dict[str, Any] = {}
            row_ok = True
            for col, (name, cell) in enumerate(zip(header, row, strict=True), start=1):
                if len(cell) > limits.max_string_length:
                    diags.append(
                        Diagnostic(
                            "limit_exceeded",
                            f"column `{name}`: cell longer than {limits.max_string_length} characters",
                            Location(file, line, col),
                            help=limit_help("max_string_length"),
                        )
                    )
                    row_ok = False
                    continue
                try:
                    value = readers[col - 1](cell)
                except ValueError as exc:
                    diags.append(Diagnostic("input_error", f"column `{name}`: {exc}", Location(file, line, col)))
                    row_ok = False
                    continue
                if value is None:
                    continue  # an empty optional cell means "not published"
                record[name] = value
            if not row_ok:
                continue
            try:
                # a CSV row holds only header names and decoded text: nothing for the plain-data check
                program = structure_mapping(record, Program, "$", limits, plain_checked=True)
            except _StructureFailure as fail:
                for d in fail.diagnostics:
                    column = path_from_field_path(d.field_path or "")
                    colname = str(column[0]) if column else ""
                    colno = header.index(colname) + 1 if colname in header else 0
                    diags.append(
                        attrs.evolve(d, message=f"column `{colname}`: {d.message}" if colname else d.message, location=Location(file, line, colno))
                    )
                continue
            folded = program.id.casefold()
            if folded in ids:
                first_line, first_id = ids[folded]
                diags.append(
                    Diagnostic(
                        "duplicate_id",
                        _duplicate_message(program.id, first_id, f"on line {first_line}"),
                        Location(file, line, header.index("id") + 1),
                    )
                )
                continue
            ids[folded] = (line, program.id)
            programs.append(program)
    except csv.Error as exc:
        diags.append(Diagnostic("parse_error", f"invalid CSV: {exc}", Location(file, reader.line_num)))
    if diags:
        raise InputError(diags)
    return Catalog(tuple(programs), file, synthetic)


def catalog_from_data(data: Any, *, source: str = "<catalog>", limits: Limits = DEFAULT_LIMITS, _smap: SourceMap | None = None) -> Catalog:
    """Build a catalog from plain data: a list of program tables, or ``{"programs": [...]}``."""
    if isinstance(data, Catalog):
        return data
    prefix: list[str | int] = []
    synthetic = False
    if isinstance(data, Mapping):
        if "catalog" in data:
            synthetic = _catalog_metadata(data["catalog"], source, _smap)
        if "program" in data:
            key = "program"
        elif "programs" in data:
            key = "programs"
        else:
            raise InputError(
                Diagnostic("input_error", "expected a list of programs under `programs` (or [[program]] tables)", Location(source))
            )
        extra = sorted(set(data) - {key, "$schema", "catalog"})
        if extra:
            raise InputError(Diagnostic("input_error", f"unknown top-level key `{extra[0]}`", Location(source)))
        data = data[key]
        prefix = [key]
    if not isinstance(data, list):
        raise InputError(Diagnostic("input_error", "expected a list of programs", Location(source)))
    if len(data) > limits.max_programs:
        raise InputError(
            Diagnostic(
                "limit_exceeded",
                f"{len(data)} programs, more than the limit of {limits.max_programs}",
                Location(source),
                help=limit_help("max_programs"),
            )
        )
    programs: list[Program] = []
    diags: list[Diagnostic] = []
    #: case-folded id -> (index, id as written)
    ids: dict[str, tuple[int, str]] = {}
    for i, item in enumerate(data):
        if isinstance(item, Program):
            programs.append(item)
            continue
        try:
            program = structure_mapping(item, Program, f"$[{i}]", limits)
        except _StructureFailure as fail:
            diags.extend(fail.diagnostics)
            continue
        folded = program.id.casefold()
        if folded in ids:
            first, first_id = ids[folded]
            diags.append(
                Diagnostic("duplicate_id", _duplicate_message(program.id, first_id, f"by program #{first + 1}"), field_path=f"$[{i}].id")
            )
            continue
        ids[folded] = (i, program.id)
        programs.append(program)
    if diags:
        raise InputError(_locate(diags, _smap, source, prefix))
    return Catalog(tuple(programs), source, synthetic)


#: what a catalog's metadata (a ``[catalog]`` table) may hold, and the type of each entry
_METADATA_KEYS: dict[str, type] = {
    "synthetic": bool,
    "description": str,
    "generator": str,
    "generator_version": int,
    "seed": int,
}
_METADATA_TYPE_NAMES: dict[type, str] = {bool: "true or false", str: "a string", int: "an integer"}


def _catalog_metadata(meta: Any, file: str, smap: SourceMap | None) -> bool:
    """Check a catalog's ``[catalog]`` metadata table; return its ``synthetic`` flag."""

    def where(*path: str) -> Location:
        line, col = smap.position(["catalog", *path]) if smap is not None else (0, 0)
        return Location(file, line, col)

    if not isinstance(meta, Mapping):
        raise InputError(
            Diagnostic("input_error", "`catalog` must be a table of metadata", where(), field_path="catalog")
        )
    diags: list[Diagnostic] = []
    for key, value in meta.items():
        expected = _METADATA_KEYS.get(key)
        if expected is None:
            diags.append(
                Diagnostic(
                    "input_error",
                    f"unknown catalog metadata key `{key}`",
                    where(str(key)),
                    field_path=f"catalog.{key}",
                    suggestion=did_you_mean(str(key), list(_METADATA_KEYS)),
                    help=f"known keys: {', '.join(_METADATA_KEYS)}",
                )
            )
        elif type(value) is not expected:  # exact: a bool is not an int here
            diags.append(
                Diagnostic(
                    "input_error",
                    f"catalog metadata `{key}` must be {_METADATA_TYPE_NAMES[expected]}, got {value!r}",
                    where(key),
                    field_path=f"catalog.{key}",
                )
            )
    if diags:
        raise InputError(diags)
    return bool(meta.get("synthetic", False))


def catalog_metadata_path(path: str | Path) -> Path | None:
    """The metadata sidecar of a CSV catalog, ``<name>.meta.toml`` beside it, if there is one.

    A symbolic link's own folder is searched first, then its target's, so a link to the shipped
    sample catalog is labelled synthetic like the file itself.
    """
    p = Path(path)
    candidates = [p.with_name(p.stem + ".meta.toml")]
    if p.is_symlink():
        real = p.resolve()
        candidates.append(real.with_name(real.stem + ".meta.toml"))
    return next((c for c in candidates if c.is_file()), None)


def _csv_sidecar_synthetic(path: Path, limits: Limits) -> bool:
    meta_path = catalog_metadata_path(path)
    if meta_path is None:
        return False
    data, smap = _parse_document(read_input_text(meta_path, limits), str(meta_path), ".toml")
    extra = sorted(set(data) - {"catalog"})
    if extra:
        raise InputError(
            Diagnostic(
                "input_error",
                f"unknown top-level key `{extra[0]}` in catalog metadata",
                Location(str(meta_path), *smap.position([extra[0]])),
                help="the metadata file holds one [catalog] table",
            )
        )
    return _catalog_metadata(data.get("catalog", {}), str(meta_path), smap)


def load_catalog(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """Read a catalog of programs from ``.csv``, ``.json`` or ``.toml``.

    CSV has one column per [`Program`][smartpick_rules.Program] field; an empty cell is "not
    published" for the optional score-policy columns, and ``tags`` are separated by ``;``. A CSV
    file's metadata sits beside it in ``<name>.meta.toml`` (see ``catalog_metadata_path``); a
    TOML or JSON catalog carries it in a top-level ``catalog`` table. Its ``synthetic = true``
    sets ``Catalog.synthetic``.
    """
    p = Path(path)
    text = read_input_text(p, limits)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return _catalog_from_csv(text, str(p), limits, _csv_sidecar_synthetic(p, limits))
    data, smap = _parse_document(text, str(p), suffix)
    return catalog_from_data(data, source=str(p), limits=limits, _smap=smap)
