"""Changes to a profile, written as ``FIELD=VALUE`` or ``FIELD+=VALUE``.

FIELD is a dotted path into the profile (``step2_ck.score``, ``preferences.long_term_la_plan``,
``letters.0.addresses_scores``) and VALUE a TOML literal (``240``, ``true``, ``"spanish"``,
``{ kind = "hands_on", months = 3 }``); a bare word that is not valid TOML is taken as a string
(``visa=h1b``). What-if questions, the levers and the list's shortfall all apply changes this
way; a changed profile is structured (and so validated) again.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import attrs

from ..errors import Diagnostic, InputError, Location, did_you_mean
from ..records import frozen
from ..sourcemap import DocumentError, parse_toml
from .converter import unstructure
from .inputs import profile_from_data
from .models import Profile

__all__ = ["Change", "apply_changes", "check_change", "expand_change", "parse_change", "type_hints"]


def _format(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, list):
        return "a list"
    return str(value)


_CHANGE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(\+=|=)(.*)$", re.DOTALL)
_BARE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .,/-]*$")


@frozen
class Change:
    """One change to a profile: ``path op value``."""

    path: tuple[str, ...]
    op: str  # "=" | "+="
    value: Any
    text: str

    def __str__(self) -> str:
        return self.text


def _where(text: str) -> Location:
    return Location(f"--set {text}")


def parse_change(text: str) -> Change:
    """Parse ``FIELD=VALUE`` or ``FIELD+=VALUE``; VALUE is a TOML literal or a bare word."""
    m = _CHANGE.match(text)
    if m is None:
        raise InputError(
            Diagnostic(
                "input_error",
                "expected FIELD=VALUE or FIELD+=VALUE",
                _where(text),
                help="for example step2_ck.score=240, languages+=spanish, preferences.long_term_la_plan=true",
            )
        )
    dotted, op, raw = m.group(1), m.group(2), m.group(3).strip()
    parts = tuple(dotted.split("."))
    if parts[0] in ("applicant", "profile") and len(parts) > 1:
        parts = parts[1:]
    if not raw:
        raise InputError(Diagnostic("input_error", f"no value after `{op}`", _where(text), help='write a TOML value: 240, true, "text"'))
    try:
        value = parse_toml(f"v = {raw}", "<change>")["v"]
    except DocumentError:
        if not _BARE.match(raw):
            raise InputError(
                Diagnostic(
                    "input_error",
                    f"`{raw}` is not a TOML value",
                    _where(text),
                    help='quote strings ("..."), write tables as { key = value }, lists as [a, b]',
                )
            ) from None
        value = raw
    return Change(parts, op, value, text.strip())


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``, worked out once per class: resolving a class's string
    annotations is slow (a compile per field), and rule sets check dozens of lever changes."""
    return typing.get_type_hints(cls)


def _field_type(cls: type, name: str) -> Any:
    return type_hints(cls)[name]


def _strip_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def check_change(change: Change) -> None:
    """Refuse a path that is not a field of the profile, with a "did you mean"."""
    tp: Any = Profile
    walked: list[str] = []
    for part in change.path:
        tp = _strip_optional(tp)
        if typing.get_origin(tp) is tuple:
            if not part.isdigit():
                raise InputError(
                    Diagnostic(
                        "input_error",
                        f"`{'.'.join(walked)}` is a list; index it with a number (`{'.'.join(walked)}.0.{part}`) or append with +=",
                        _where(change.text),
                    )
                )
            tp = typing.get_args(tp)[0]
        elif isinstance(tp, type) and attrs.has(tp):
            names = [a.name for a in attrs.fields(tp) if not a.name.startswith("_")]
            if part not in names:
                where = "the profile" if not walked else f"`{'.'.join(walked)}`"
                hint = did_you_mean(part, names)
                raise InputError(
                    Diagnostic(
                        "input_error",
                        f"{where} has no field `{part}`",
                        _where(change.text),
                        suggestion=".".join([*walked, hint]) if hint else None,
                        help=None if hint else f"fields: {', '.join(names)}",
                    )
                )
            tp = _field_type(tp, part)
        else:
            raise InputError(Diagnostic("input_error", f"`{'.'.join(walked)}` has no fields", _where(change.text)))
        walked.append(part)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def apply_changes(profile: Profile, changes: Sequence[Change | str]) -> Profile:
    """A new profile with ``changes`` applied, structured (and so validated) again."""
    data: dict[str, Any] = _plain(unstructure(profile))
    parsed = [parse_change(c) if isinstance(c, str) else c for c in changes]
    for ch in parsed:
        check_change(ch)
        node: Any = data
        for i, part in enumerate(ch.path[:-1]):
            key: Any = int(part) if isinstance(node, list) else part
            if isinstance(node, list):
                if key >= len(node):
                    raise InputError(
                        Diagnostic(
                            "input_error",
                            f"`{'.'.join(ch.path[:i])}` has {len(node)} entries; there is no entry {key}",
                            _where(ch.text),
                        )
                    )
            elif node.get(key) is None:
                node[key] = {}
            node = node[key]
        last: Any = ch.path[-1]
        if isinstance(node, list):
            last = int(last)
            if last >= len(node):
                raise InputError(Diagnostic("input_error", f"there is no entry {last}", _where(ch.text)))
        current = node[last] if isinstance(node, list) else node.get(last)
        if ch.op == "=":
            node[last] = ch.value
        elif isinstance(current, list):
            current.extend(ch.value if isinstance(ch.value, list) else [ch.value])
        elif current is None and not isinstance(ch.value, int | float):
            node[last] = ch.value if isinstance(ch.value, list) else [ch.value]
        elif isinstance(current, int | float | None) and isinstance(ch.value, int | float) and not isinstance(ch.value, bool):
            node[last] = (current or 0) + ch.value
        else:
            raise InputError(
                Diagnostic(
                    "input_error",
                    f"`+=` appends to a list or adds to a number; `{'.'.join(ch.path)}` is {_format(current)}",
                    _where(ch.text),
                )
            )
    source = "--set " + " --set ".join(c.text for c in parsed) if parsed else "<profile>"
    return profile_from_data(data, source=source)


def expand_change(text: str, profile: Profile | None, as_of: int) -> str:
    """A lever's change with ``{specialty}`` (the first preferred specialty) and ``{as_of}`` filled in."""
    specialty = "internal_medicine"
    if profile is not None and profile.preferences.specialties:
        specialty = profile.preferences.specialties[0].value
    return text.replace("{specialty}", specialty).replace("{as_of}", str(as_of))
