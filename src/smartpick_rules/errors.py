"""The library's exceptions and diagnostics.

One small tree, so an embedding app can catch everything this library refuses with a single
``except SmartpickError``::

    SmartpickError
    ├── RulesetError        a rule set could not be loaded, checked or compiled
    ├── InputError          a profile or catalog could not be read or structured
    ├── EvaluationError     something went wrong while rules ran (firing budget, conflicts)
    └── EngineUnavailable   the requested engine cannot run on this interpreter

Every error carries one or more [`Diagnostic`][smartpick_rules.Diagnostic] values. A diagnostic
keeps *what* went wrong (``message``), *where* (``location``) and *how to fix it* (``help``,
``suggestion``) apart, and has a stable ``code`` that tests and tools match instead of prose.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Sequence

import attrs

from .records import frozen

__all__ = [
    "Diagnostic",
    "EngineUnavailable",
    "EvaluationError",
    "InputError",
    "Location",
    "RulesetError",
    "Severity",
    "SmartpickError",
    "did_you_mean",
]

#: Stable diagnostic codes. Tests, ``--format json`` and editors match these, never messages.
CODES = frozenset(
    {
        # loading and compiling rule sets
        "parse_error",
        "schema_error",
        "duplicate_rule",
        "unknown_field",
        "unknown_function",
        "unknown_tag",
        "unknown_rule",
        "unknown_ruleset",
        "dependency_cycle",
        "type_error",
        "stage_error",
        "rule_conflict",
        "negative_cycle",
        "template_error",
        "limit_exceeded",
        "unsupported",
        "io_error",
        # inputs
        "input_error",
        "duplicate_id",
        # evaluation
        "budget_exceeded",
        "evaluation_error",
        "engine_unavailable",
        # lints (warnings)
        "unused_tag",
        "tag_cycle",
        "never_true",
        "shadowed_rule",
        "template_unread",
        "vocabulary",
    }
)

Severity = str  # "error" | "warning"


@frozen(order=True)
class Location:
    """Where something is in a source file. Lines and columns count from 1; 0 means unknown."""

    file: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        return ":".join(parts)

    def shifted(self, lines: int = 0, column: int = 0) -> Location:
        return Location(self.file, self.line + lines, column or self.column)


@frozen
class Diagnostic:
    """One finding about an input: an error or (for lints) a warning."""

    code: str
    message: str
    location: Location = attrs.field(factory=Location, eq=False)
    rule_id: str | None = None
    help: str | None = None
    suggestion: str | None = None
    severity: Severity = "error"
    field_path: str | None = None

    def render(self) -> str:
        """``file:line:col: code: rule-id: message`` followed by indented help lines."""
        head = f"{self.location}: {self.code}: "
        if self.severity != "error":
            head = f"{self.location}: {self.severity}: {self.code}: "
        if self.rule_id:
            head += f"{self.rule_id}: "
        text = head + self.message_with_field()
        if self.suggestion:
            text += f"\n    help: did you mean `{self.suggestion}`?"
        if self.help:
            text += f"\n    help: {self.help}"
        return text

    def message_with_field(self) -> str:
        """The message, led by the field it is about when the message does not name it already.

        Plain data (a dict from a web request) has no line to point at: the field path is the
        only way to say where the mistake is.
        """
        field = (self.field_path or "").removeprefix("$").lstrip(".")
        if field and field not in self.message:
            return f"`{field}`: {self.message}"
        return self.message

    def one_line(self) -> str:
        """``file:line:col: code: [rule-id: ]message (did you mean ...?)`` on one line."""
        line = f"{self.location}: {self.code}: " + (f"{self.rule_id}: " if self.rule_id else "") + self.message_with_field()
        if self.suggestion:
            line += f" (did you mean `{self.suggestion}`?)"
        return line

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.location.file, self.location.line, self.location.column, self.code)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "rule_id": self.rule_id,
            "field_path": self.field_path,
            "help": self.help,
            "suggestion": self.suggestion,
        }


class SmartpickError(Exception):
    """Base of every error this library raises on purpose.

    ``diagnostics`` holds every finding (a rule file with five mistakes reports five);
    ``str(error)`` shows the first few and says how many more there are.
    """

    shown = 8
    """How many diagnostics ``str()`` shows before "... and N more"."""

    def __init__(self, diagnostics: Diagnostic | Sequence[Diagnostic]) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        super().__init__(self._render())

    def __reduce__(self) -> tuple[object, ...]:
        # Exception's own reduce passes the rendered message back to __init__
        return (type(self), (self.diagnostics,))

    @property
    def code(self) -> str:
        """The code of the first diagnostic."""
        return self.diagnostics[0].code if self.diagnostics else "error"

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    @property
    def location(self) -> Location:
        return self.diagnostics[0].location if self.diagnostics else Location()

    @property
    def rule_id(self) -> str | None:
        return self.diagnostics[0].rule_id if self.diagnostics else None

    def _render(self) -> str:
        errors = [d for d in self.diagnostics]
        lines = [d.render() for d in errors[: self.shown]]
        if len(errors) > self.shown:
            lines.append(f"... and {len(errors) - self.shown} more")
        return "\n".join(lines)

    def first_line(self) -> str:
        """One line for a command-line tool's stderr."""
        line = self.diagnostics[0].one_line()
        if len(self.diagnostics) > 1:
            line += f" (and {len(self.diagnostics) - 1} more)"
        return line

    def lines(self, limit: int = 20) -> list[str]:
        """Every diagnostic as one line, up to ``limit``, then how many more there are."""
        out = [d.one_line() for d in self.diagnostics[:limit]]
        if len(self.diagnostics) > limit:
            out.append(f"... and {len(self.diagnostics) - limit} more")
        return out


class RulesetError(SmartpickError):
    """A rule set could not be loaded, type-checked or compiled."""


class InputError(SmartpickError):
    """A profile or catalog could not be read or does not fit the model."""


class EvaluationError(SmartpickError):
    """Evaluation stopped: the firing budget ran out, or rules conflicted at run time."""


class EngineUnavailable(SmartpickError):
    """The requested engine cannot run here (for example durable_rules on Python 3.13+)."""


def _close_matches(word: str, pool: Sequence[str], cutoff: float) -> list[str]:
    # difflib (about 2 ms to import) is imported when a suggestion is looked for: a run
    # without a misspelt name never needs it
    import difflib

    return difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``word``, if one is close enough to be a likely typo.

    Bounded work however many candidates there are: difflib compares every candidate, which
    is fine for field names and enumerations; for large pools (tags, rule ids, program ids)
    only the candidates within a couple of edits of ``word`` are compared, found through an
    index of single-character deletions built once per pool. A file with two thousand unknown
    tags then costs a fraction of a second, not minutes.
    """
    distinct = frozenset(candidates)
    pool = _sorted_pool(distinct) if len(distinct) <= _CACHED_POOL else tuple(sorted(distinct))
    if not pool:
        return None
    # a truncated name (`min_step2` for `min_step2_ck`) is the likeliest slip; in sorted order
    # the names starting with `word` are one run, found by bisection
    if len(word) >= 4:
        at = bisect.bisect_right(pool, word)
        end = at
        while end < len(pool) and pool[end].startswith(word):
            end += 1
        if end > at:
            return min(pool[at:end], key=len)
    if len(pool) > _SMALL_POOL:
        return _close_in_large_pool(word, pool)
    matches = _close_matches(word, pool, 0.6)
    if matches:
        return matches[0]
    # a dotted path whose last segment is the typo: compare last segments
    if "." in word:
        tail = word.rsplit(".", 1)[1]
        tails = {c.rsplit(".", 1)[-1]: c for c in pool}
        m = _close_matches(tail, sorted(tails), 0.7)
        if m:
            return tails[m[0]]
    return None


#: pools up to this size are compared whole with difflib
_SMALL_POOL = 200
#: larger pools (a catalog's program ids) are neither cached nor indexed: one lookup scans them
_CACHED_POOL = 20_000
#: longest word looked up in a large pool (its deletions are enumerated)
_LONGEST_WORD = 64


@functools.lru_cache(maxsize=16)
def _sorted_pool(candidates: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(candidates))


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))} | {word}


@functools.lru_cache(maxsize=8)
def _deletion_index(pool: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for c in pool:
        if len(c) <= _LONGEST_WORD:
            for d in _deletions(c):
                index.setdefault(d, []).append(c)
    return {k: tuple(v) for k, v in index.items()}


def _close_in_large_pool(word: str, pool: tuple[str, ...]) -> str | None:
    if len(word) > _LONGEST_WORD:
        return None
    # candidates sharing a single-character deletion with the word: at most two edits away
    # (a substitution, an insertion or deletion, an adjacent swap, or one of each)
    near: set[str] = set()
    if len(pool) <= _CACHED_POOL:
        index = _deletion_index(pool)
        for d in _deletions(word):
            near.update(index.get(d, ()))
    else:
        mine = _deletions(word)
        near = {c for c in pool if abs(len(c) - len(word)) <= 2 and not mine.isdisjoint(_deletions(c))}
    near.discard(word)
    if not near:
        return None
    matches = _close_matches(word, sorted(near), 0.6)
    return matches[0] if matches else None
