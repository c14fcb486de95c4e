"""Line numbers for paths inside TOML and JSON documents.

``tomllib`` and ``json`` return plain data without positions. Diagnostics must still name a
line, so this module scans the source text once and maps key paths (``("rule", 3, "when")``)
to the line and column where the key is written. The scan understands tables, arrays of
tables, dotted and quoted keys, and skips multi-line strings; it never evaluates anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

__all__ = ["SourceMap", "json_source_map", "toml_source_map"]

PathKey = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*(\]\]?)\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_PARSE_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _split_key(text: str) -> list[str]:
    parts: list[str] = []
    for m in re.finditer(r"""[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'""", text):
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(m.group(2))
        else:
            parts.append(m.group(0))
    return parts


@attrs.frozen
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

    def find_text(self, text: str, start_line: int) -> tuple[int, int]:
        """Where ``text`` first appears at or after ``start_line`` (1-based); (0, 0) if absent."""
        if not text:
            return (0, 0)
        probe = text.strip().splitlines()[0] if text.strip() else text
        for i in range(max(start_line - 1, 0), len(self.lines)):
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
    """A rough map for JSON: each key path to the first line, after its parent's, naming the key."""
    lines = tuple(text.splitlines())
    return _JsonMap(file, {}, lines)


@attrs.frozen
class _JsonMap(SourceMap):
    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        line = 1
        col = 1
        for part in path:
            if isinstance(part, int):
                continue
            found = self.find_text(f'"{part}"', line)
            if found == (0, 0):
                break
            line, col = found
        return (line, col) if path else (0, 0)


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
