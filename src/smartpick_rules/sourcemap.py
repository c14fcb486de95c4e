"""Line numbers for paths inside TOML and JSON documents.

``tomllib`` and ``json`` return plain data without positions. Diagnostics must still name a
line, so this module scans the source text once and maps key paths (``("rule", 3, "when")``)
to the line and column where the key is written. The scan understands tables, arrays of
tables, dotted and quoted keys, and skips multi-line strings; it never evaluates anything.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
from collections.abc import Sequence
from typing import Any

from .errors import Diagnostic, Location
from .records import frozen

__all__ = ["DocumentError", "SourceMap", "json_source_map", "parse_json", "parse_toml", "toml_source_map"]

PathKey = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*(\]\]?)\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_PARSE_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


_KEY_PART = re.compile(r"""[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'""")


def _split_key(text: str) -> list[str]:
    parts: list[str] = []
    for m in _KEY_PART.finditer(text):
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(m.group(2))
        else:
            parts.append(m.group(0))
    return parts


@frozen
class SourceMap:
    """Maps key paths to ``(line, column)``; unknown paths fall back to their longest known prefix."""

    file: str
    positions: dict[PathKey, tuple[int, int]]
    lines: tuple[str, ...] = ()

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        key = tuple(path)
        while key:
            if key in self.positions:
                return self.positions[key]
            key = key[:-1]
        return (0, 0)

    def locate(self, paths: Sequence[Sequence[str | int]]) -> list[tuple[int, int]]:
        """`position` of each path; one pass over the text where that is cheaper."""
        return [self.position(p) for p in paths]

    def find_text(self, text: str, start_line: int, end_line: int = 0) -> tuple[int, int]:
        """Where ``text`` first appears at or after ``start_line`` and before ``end_line`` (1-based,
        0 for the end of the file); (0, 0) if absent."""
        if not text:
            return (0, 0)
        probe = text.strip().splitlines()[0] if text.strip() else text
        stop = min(end_line - 1, len(self.lines)) if end_line > 0 else len(self.lines)
        for i in range(max(start_line - 1, 0), stop):
            col = self.lines[i].find(probe)
            if col >= 0:
                return (i + 1, col + 1)
        return (0, 0)


def toml_source_map(text: str, file: str = "") -> SourceMap:
    positions: dict[PathKey, tuple[int, int]] = {}
    counters: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    lines = text.splitlines()
    in_multiline: str | None = None
    for lineno, raw in enumerate(lines, start=1):
        line = raw
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _HEADER.match(line)
        if m and m.group(1) in ("[", "[[") and "=" not in m.group(2):
            names: list[str | int] = list(_split_key(m.group(2)))
            if m.group(1) == "[[":
                base = tuple(names)
                idx = counters.get(base, 0)
                counters[base] = idx + 1
                table = (*base, idx)
            else:
                table = tuple(names)
            positions.setdefault(table, (lineno, line.index("[") + 1))
            continue
        km = _KEY.match(line)
        if km:
            key = (*table, *_split_key(km.group(1)))
            positions.setdefault(key, (lineno, len(line) - len(line.lstrip()) + 1))
            rest = line[km.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_multiline = quote
    return SourceMap(file, positions, tuple(lines))


def json_source_map(text: str, file: str = "") -> SourceMap:
    """A map for JSON: a key path to where its key (or, in an array, its element) is written.

    Nothing is scanned until a position is asked for; `SourceMap.locate` then finds
    every path asked for in one pass over the text, so locating the errors of a large document
    costs one scan, not one per error.
    """
    return _JsonMap(file, {}, (), text)


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],]')
_NON_SPACE = re.compile(r"\S")


@frozen
class _JsonMap(SourceMap):
    text: str = ""

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        return self.locate([path])[0]

    def locate(self, paths: Sequence[Sequence[str | int]]) -> list[tuple[int, int]]:
        wanted: set[tuple[str | int, ...]] = set()
        for p in paths:
            for k in range(1, len(p) + 1):
                wanted.add(tuple(p[:k]))
        found = _scan_json(self.text, wanted)
        out = []
        for p in paths:
            key = tuple(p)
            while key and key not in found:
                key = key[:-1]
            out.append(found[key] if key else (0, 0))
        return out


def _scan_json(text: str, wanted: set[tuple[str | int, ...]]) -> dict[tuple[str | int, ...], tuple[int, int]]:
    """Where each wanted path's key or array element starts: one pass, no recursion."""
    found: dict[tuple[str | int, ...], tuple[int, int]] = {}
    if not wanted:
        return found
    deepest = max(len(w) for w in wanted)
    path: list[str | int] = []
    #: per open container: True for an object waiting for a key
    expect_key: list[bool] = []
    line, line_start, counted = 1, 0, 0

    def where(pos: int) -> tuple[int, int]:
        nonlocal line, line_start, counted
        newlines = text.count("\n", counted, pos)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", counted, pos) + 1
        counted = pos
        return (line, pos - line_start + 1)

    def element(after: int) -> None:
        # an array element starts at the next non-space character (numbers are not tokens)
        key = tuple(path)
        if key in wanted and key not in found:
            m = _NON_SPACE.search(text, after)
            if m is not None and m.group() not in "]":
                found[key] = where(m.start())

    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        c = tok[0]
        if c == '"':
            if expect_key and expect_key[-1]:
                expect_key[-1] = False
                name = tok[1:-1]
                if "\\" in name:
                    with contextlib.suppress(ValueError):
                        name = json.loads(tok)
                path[-1] = name
                if len(path) <= deepest:
                    key = tuple(path)
                    if key in wanted and key not in found:
                        found[key] = where(m.start())
            continue
        if c == "{":
            path.append("")  # the key comes next
            expect_key.append(True)
        elif c == "[":
            path.append(0)
            expect_key.append(False)
            if len(path) <= deepest:
                element(m.end())
        elif c == ",":
            if not path:
                continue
            last = path[-1]
            if isinstance(last, int):  # in an array: the next element (object keys are strings)
                path[-1] = last + 1
                if len(path) <= deepest:
                    element(m.end())
            else:
                expect_key[-1] = True
        else:  # } or ]
            if path:
                path.pop()
                expect_key.pop()
        if len(found) == len(wanted):
            break
    return found


def parse_error_position(message: str) -> tuple[int, int]:
    """tomllib and json put the position in the message; pull it out."""
    m = _PARSE_POS.search(message)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.search(r"line (\d+) column (\d+)", message)
    if m:
        return int(m.group(1)), int(m.group(2))
    return (0, 0)


def path_from_field_path(field_path: str) -> list[str | int]:
    """``$.usce[1].months`` -> ``["usce", 1, "months"]``."""
    out: list[str | int] = []
    for m in re.finditer(r"\.([^.\[\]]+)|\[(\d+)\]", field_path):
        if m.group(1) is not None:
            out.append(m.group(1))
        else:
            out.append(int(m.group(2)))
    return out


# --- parsing untrusted documents ------------------------------------------------------------


class DocumentError(Exception):
    """A document that does not parse; ``diagnostic`` says where and why (callers raise their own error type)."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


_LONG_NUMBER = re.compile(r"[0-9][0-9_]{4000,}")


def _too_many_digits(text: str, file: str, kind: str) -> DocumentError:
    # Python refuses to convert integers of over 4,300 digits (a denial-of-service guard) with
    # a ValueError that has no position; find the number for the message
    m = _LONG_NUMBER.search(text)
    line = text.count("\n", 0, m.start()) + 1 if m else 0
    column = m.start() - text.rfind("\n", 0, m.start()) if m else 0
    return DocumentError(
        Diagnostic("parse_error", f"invalid {kind}: a number with thousands of digits", Location(file, line, column))
    )


def parse_toml(text: str, file: str) -> Any:
    """``tomllib.loads`` with every failure as a located `DocumentError`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col = parse_error_position(str(exc))
        raise DocumentError(
            Diagnostic("parse_error", f"invalid TOML: {str(exc).split(' (at')[0]}", Location(file, line, col))
        ) from None
    except RecursionError:
        raise DocumentError(Diagnostic("parse_error", "invalid TOML: nested too deeply", Location(file))) from None
    except ValueError:
        raise _too_many_digits(text, file, "TOML") from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _v in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number this library accepts")


def parse_json(text: str, file: str) -> Any:
    """``json.loads``, strict: no ``NaN``/``Infinity``, no key twice in an object, every failure a
    located `DocumentError`. (Python's json keeps the last of two equal keys, silently.)"""
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise DocumentError(Diagnostic("parse_error", f"invalid JSON: {exc.msg}", Location(file, exc.lineno, exc.colno))) from None
    except _DuplicateKey as exc:
        line, col = _duplicate_key_position(text, exc.key)
        shown = exc.key if len(exc.key) <= 40 else exc.key[:37] + "..."
        raise DocumentError(
            Diagnostic("parse_error", f"invalid JSON: the key `{shown}` appears twice in one object", Location(file, line, col))
        ) from None
    except RecursionError:
        raise DocumentError(Diagnostic("parse_error", "invalid JSON: nested too deeply", Location(file))) from None
    except ValueError as exc:
        if "digits" in str(exc):
            raise _too_many_digits(text, file, "JSON") from None
        raise DocumentError(Diagnostic("parse_error", f"invalid JSON: {exc}", Location(file))) from None


def _duplicate_key_position(text: str, key: str) -> tuple[int, int]:
    """Where ``key`` is written a second time in one object: one pass, no recursion."""
    frames: list[set[str] | None] = []  # per open container: the keys seen, or None for an array
    expect_key: list[bool] = []
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        c = tok[0]
        if c == '"':
            if frames and frames[-1] is not None and expect_key[-1]:
                expect_key[-1] = False
                name = tok[1:-1]
                if "\\" in name:
                    with contextlib.suppress(ValueError):
                        name = json.loads(tok)
                keys = frames[-1]
                if name in keys and name == key:
                    line = text.count("\n", 0, m.start()) + 1
                    return line, m.start() - text.rfind("\n", 0, m.start())
                keys.add(name)
        elif c == "{":
            frames.append(set())
            expect_key.append(True)
        elif c == "[":
            frames.append(None)
            expect_key.append(False)
        elif c == ",":
            if frames and frames[-1] is not None:
                expect_key[-1] = True
        elif frames:
            frames.pop()
            expect_key.pop()
    return (0, 0)
