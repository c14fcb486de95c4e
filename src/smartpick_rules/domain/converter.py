"""The one cattrs converter: plain data (TOML, JSON, CSV rows) in, attrs models out, and back.

Structuring is strict on purpose. cattrs' defaults would turn ``"false"`` into ``True`` and
``227.9`` into ``227``; an applicant's score silently changed is the worst kind of wrong answer, so
booleans must be booleans, integers integral, floats finite, and unknown keys are refused with a
"did you mean". Errors come back as [`Diagnostic`][smartpick_rules.Diagnostic] values carrying the
field path (``$.step2_ck.score``) so loaders can point at a line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from ..errors import Diagnostic, did_you_mean
from ..limits import DEFAULT_LIMITS, Limits, limit_help

__all__ = ["converter", "limits_applied", "structure_diagnostics", "unstructure"]

T = TypeVar("T")

#: longest string accepted in any input field: Limits.max_string_length of the current load
_max_string_length: ContextVar[int] = ContextVar("max_string_length", default=DEFAULT_LIMITS.max_string_length)
#: most items accepted in one list field: Limits.max_list_items of the current load
_max_list_items: ContextVar[int] = ContextVar("max_list_items", default=DEFAULT_LIMITS.max_list_items)


class StrictValueError(ValueError):
    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        #: the likely intended value, for the diagnostic's ``suggestion``
        self.suggestion = suggestion


class LimitValueError(StrictValueError):
    """A value over one of the configured limits (reported as ``limit_exceeded``)."""


def _strict_int(value: Any, _type: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StrictValueError(f"expected an integer, got {_describe(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise StrictValueError(f"expected an integer, got {value!r}")
        value = int(value)
    if abs(value) > 10**12:
        raise StrictValueError(f"integer {value} is out of range")
    return int(value)


def _strict_float(value: Any, _type: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StrictValueError(f"expected a number, got {_describe(value)}")
    f = float(value)
    if not math.isfinite(f):
        raise StrictValueError(f"expected a finite number, got {value!r}")
    return f


def _strict_bool(value: Any, _type: type) -> bool:
    if not isinstance(value, bool):
        raise StrictValueError(f"expected true or false, got {_describe(value)}")
    return value


def _strict_str(value: Any, _type: type) -> str:
    if isinstance(_type, type) and issubclass(_type, Enum):
        # StrEnum subclasses str, so singledispatch routes enums here first
        return _enum(value, _type)  # type: ignore[return-value]
    if not isinstance(value, str):
        raise StrictValueError(f"expected a string, got {_describe(value)}")
    limit = _max_string_length.get()
    if len(value) > limit:
        raise LimitValueError(f"string of {len(value)} characters is longer than the limit of {limit}")
    return value


def _enum(value: Any, type_: type[Enum]) -> Enum:
    if isinstance(value, type_):
        return value
    if isinstance(value, str):
        member = type_._value2member_map_.get(value)  # the common case, without building messages
        if member is not None:
            return member
    allowed = [str(m.value) for m in type_]
    if not isinstance(value, str):
        raise StrictValueError(f"expected one of {', '.join(allowed)}; got {_describe(value)}")
    try:
        return type_(value)
    except ValueError:
        pass
    # vocabulary forgives case and separators: "J1", "J-1" and "Internal Medicine" are j1 and
    # internal_medicine; the key drops what cannot tell two members apart
    key = _enum_key(value)
    matches = [m for m in type_ if _enum_key(str(m.value)) == key]
    if len(matches) == 1:
        return matches[0]
    # the field's name comes with the path; the model's class name means nothing to a user
    shown = value if len(value) <= 40 else value[:37] + "..."
    msg = f"`{shown}` is not one of the allowed values: {', '.join(allowed)}"
    # the likely value goes in the diagnostic's suggestion (an app shows it as it likes;
    # first_line() and render() add "did you mean")
    raise StrictValueError(msg, _closest_value(value, allowed)) from None


def _enum_key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _closest_value(value: str, allowed: list[str]) -> str | None:
    """The allowed value ``value`` most likely meant: a typo, or (for short codes such as
    ``j3`` for ``j1``) the only one a single edit away."""
    hint = did_you_mean(value.strip().casefold().replace(" ", "_"), allowed)
    if hint:
        return hint
    v = _enum_key(value)
    near = [a for a in allowed if len(a) == len(v) and sum(x != y for x, y in zip(a, v, strict=True)) == 1]
    return near[0] if len(near) == 1 else None


def _describe(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return "a value of another kind"


def _is_sequence_type(t: Any) -> bool:
    origin = getattr(t, "__origin__", None)
    if origin is list:
        return True
    return origin is tuple and t.__args__[-1:] == (Ellipsis,)


def _make_strict_sequence(c: cattrs.Converter) -> Any:
    def structure_seq(value: Any, type_: Any) -> Any:
        # a bare string is iterable: without this, languages = "es" became ("e", "s")
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
            raise StrictValueError(f"expected a list, got {_describe(value)}")
        if len(value) > _max_list_items.get():
            raise LimitValueError(f"list of {len(value)} items is longer than the limit of {_max_list_items.get()}")
        elem = type_.__args__[0]
        items: list[Any] = []
        errors: list[Any] = []
        for i, v in enumerate(value):
            try:
                items.append(c.structure(v, elem))
            except Exception as exc:  # collected, re-raised below as one group
                exc.__notes__ = [*getattr(exc, "__notes__", []), f"index {i}"]
                errors.append(_IndexedError(i, exc))
        if errors:
            raise IterableValidationError(f"While structuring {type_}", errors, type_)
        return items if type_.__origin__ is list else tuple(items)

    return structure_seq


class _IndexedError(Exception):
    def __init__(self, index: int, exc: Exception) -> None:
        super().__init__(index, exc)
        self.index = index
        self.exc = exc


class _Converter(cattrs.Converter):
    """A converter that generates a record's structuring function once.

    cattrs generates the function of a record nested in another afresh each time it generates
    the outer one (it does not cache hooks found while generating), so a rule file's effect was
    generated and compiled four times in a process, its rule four, its header three: about a
    third of the structuring code a cold command compiled. The one generated first is kept by
    class, until a hook is registered (which could change what it would be).
    """

    __slots__ = ("record_hooks",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.record_hooks: dict[type, Any] = {}  # cattrs registers its own hooks while starting
        super().__init__(*args, **kwargs)

    def register_structure_hook(self, *args: Any, **kwargs: Any) -> Any:
        self.record_hooks.clear()
        return super().register_structure_hook(*args, **kwargs)

    def register_structure_hook_func(self, *args: Any, **kwargs: Any) -> Any:
        self.record_hooks.clear()
        return super().register_structure_hook_func(*args, **kwargs)

    def register_structure_hook_factory(self, *args: Any, **kwargs: Any) -> Any:
        self.record_hooks.clear()
        return super().register_structure_hook_factory(*args, **kwargs)


def _make_converter() -> cattrs.Converter:
    c = _Converter(forbid_extra_keys=True, detailed_validation=True)
    c.register_structure_hook(int, _strict_int)
    c.register_structure_hook(float, _strict_float)
    c.register_structure_hook(bool, _strict_bool)
    c.register_structure_hook(str, _strict_str)
    c.register_structure_hook_func(lambda t: isinstance(t, type) and issubclass(t, Enum), _enum)
    c.register_structure_hook_func(_is_sequence_type, _make_strict_sequence(c))
    c.register_structure_hook_factory(attrs.has, lambda cl: _record_hook(c, cl))
    c.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, Enum), lambda e: e.value
    )
    return c


def _record_hook(c: _Converter, cl: type) -> Any:
    hook = c.record_hooks.get(cl)
    if hook is None:
        hook = c.record_hooks[cl] = _new_record_hook(c, cl)
    return hook


def _new_record_hook(c: cattrs.Converter, cl: type) -> Any:
    inner: Any = c.gen_structure_attrs_fromdict(cl)
    keys = ", ".join(a.name for a in attrs.fields(cl) if not a.name.startswith("_"))

    def structure_record(value: Any, _type: Any) -> Any:
        # without this, `step2_ck = 224` reached cattrs' `in` test: "argument of type 'int' is not iterable"
        if not isinstance(value, Mapping):
            raise StrictValueError(f"expected a table ({keys}), got {_describe(value)}")
        return inner(value, _type)

    return structure_record


converter = _make_converter()


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)


def structure(data: Any, cls: type[T]) -> T:
    return converter.structure(data, cls)


def structure_diagnostics(exc: BaseException, root: str = "$") -> list[Diagnostic]:
    """Flatten a cattrs validation error into diagnostics, one per offending field path."""
    out: list[Diagnostic] = []
    _walk(exc, root, out, None)
    if not out:
        out.append(Diagnostic("input_error", _message(exc), field_path=root))
    return out


def _walk(exc: BaseException, path: str, out: list[Diagnostic], cls: type | None) -> None:
    if isinstance(exc, ClassValidationError | IterableValidationError):
        target = getattr(exc, "cl", None)
        with_notes, without_notes = exc.group_exceptions()
        for sub in without_notes:
            _walk(sub, path, out, target if isinstance(target, type) else None)
        for sub, note in with_notes:
            name = getattr(note, "name", None)
            index = getattr(note, "index", None)
            if name is not None:
                sub_path = f"{path}.{name}"
            elif index is not None:
                sub_path = f"{path}[{index}]"
            else:
                sub_path = path
            if isinstance(sub, KeyError) and name is not None:
                out.append(Diagnostic("input_error", f"required field `{name}` is missing", field_path=sub_path))
                continue
            _walk(sub, sub_path, out, target if isinstance(target, type) else None)
        return
    if isinstance(exc, _IndexedError):
        _walk(exc.exc, f"{path}[{exc.index}]", out, cls)
        return
    if isinstance(exc, ForbiddenExtraKeysError):
        fields = [a.name for a in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        for key in sorted(exc.extra_fields):
            hint = did_you_mean(key, fields)
            out.append(
                Diagnostic(
                    "input_error",
                    f"unknown field `{key}`",
                    field_path=f"{path}.{key}",
                    suggestion=hint,
                    help=None if hint else f"known fields: {', '.join(fields)}",
                )
            )
        return
    from .models import FieldValueError

    if isinstance(exc, FieldValueError):
        out.append(Diagnostic("input_error", str(exc), field_path=f"{path}.{exc.field}"))
        return
    if isinstance(exc, BaseExceptionGroup):
        for sub_exc in exc.exceptions:
            _walk(sub_exc, path, out, cls)
        return
    if isinstance(exc, LimitValueError):
        which = "max_list_items" if str(exc).startswith("list of") else "max_string_length"
        out.append(Diagnostic("limit_exceeded", str(exc), field_path=path, help=limit_help(which)))
        return
    out.append(Diagnostic("input_error", _message(exc), field_path=path, suggestion=getattr(exc, "suggestion", None)))


def _message(exc: BaseException) -> str:
    if isinstance(exc, StrictValueError | ValueError):
        return str(exc)
    if isinstance(exc, TypeError):
        text = str(exc)
        if "missing" in text and "required" in text:
            return text.split(") ", 1)[-1] if ") " in text else text
        return f"wrong type: {text}"
    if isinstance(exc, AttributeError):
        return "expected a table"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def limits_applied(limits: Limits) -> Iterator[None]:
    """``limits``' string length and list size apply to what `converter` structures inside."""
    token = _max_string_length.set(limits.max_string_length)
    list_token = _max_list_items.set(limits.max_list_items)
    try:
        yield
    finally:
        _max_list_items.reset(list_token)
        _max_string_length.reset(token)


def structure_mapping(data: Any, cls: type[T], root: str = "$", limits: Limits | None = None, *, plain_checked: bool = False) -> T:
    """Structure ``data`` into ``cls``, or raise diagnostics ready for an
    [`InputError`][smartpick_rules.InputError].

    ``plain_checked``: the caller knows ``data`` holds only string keys and valid text (a CSV
    row), so `plain_data_problems` is skipped.
    """
    if limits is not None:
        with limits_applied(limits):
            return structure_mapping(data, cls, root, plain_checked=plain_checked)
    if not isinstance(data, Mapping):
        raise _StructureFailure([Diagnostic("input_error", f"expected a table, got {_describe(data)}", field_path=root)])
    if not plain_checked:
        problems = plain_data_problems(data, root)
        if problems:
            raise _StructureFailure(problems)
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        raise _StructureFailure(structure_diagnostics(exc, root)) from None
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        raise _StructureFailure(structure_diagnostics(exc, root)) from None


_SURROGATE = re.compile("[\ud800-\udfff]")
#: plain data is walked this deep at most (JSON and TOML parsers stop far earlier)
_MAX_DEPTH = 100


def plain_data_problems(data: Any, root: str = "$") -> list[Diagnostic]:
    """What in plain data (a dict from JSON, TOML or an app) no model can hold, by field path.

    Keys that are not strings (``{1: 2}`` from an app) and strings with a lone surrogate (text
    decoded with ``surrogateescape``, or a JSON ``\\ud800`` escape, which no output can
    encode) would otherwise fail deep inside structuring, hashing or writing JSON as
    ``TypeError`` or ``UnicodeEncodeError``. Iterative, so no nesting exhausts Python's stack;
    field paths are worked out only when something is wrong.
    """
    if _clean(data):
        return []
    out: list[Diagnostic] = []
    stack: list[tuple[Any, str, int]] = [(data, root, 0)]
    while stack and len(out) < 100:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            bad = _SURROGATE.search(value)
            if bad:
                out.append(
                    Diagnostic("input_error", f"not valid Unicode text (a lone surrogate at character {bad.start()})", field_path=path)
                )
            continue
        if depth >= _MAX_DEPTH and isinstance(value, Mapping | list | tuple):
            out.append(Diagnostic("input_error", "nested too deeply", field_path=path))
            continue
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    out.append(Diagnostic("input_error", f"key {key!r} is not a string", field_path=path))
                    continue
                if _SURROGATE.search(key):
                    out.append(Diagnostic("input_error", "a key is not valid Unicode text (a lone surrogate)", field_path=path))
                    continue
                stack.append((item, f"{path}.{key}", depth + 1))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                stack.append((item, f"{path}[{i}]", depth + 1))
    return out


def _clean(data: Any) -> bool:
    """True when `plain_data_problems` would find nothing: one quick pass, no paths."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    search = _SURROGATE.search
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if kind is str:
            if search(value):
                return False
        elif kind is dict or isinstance(value, Mapping):
            if depth >= _MAX_DEPTH:
                return False
            for key, item in value.items():
                if type(key) is not str or search(key):
                    return False
                if type(item) is not str or search(item):
                    stack.append((item, depth + 1))
        elif kind is list or kind is tuple or isinstance(value, list | tuple):
            if depth >= _MAX_DEPTH:
                return False
            stack.extend((item, depth + 1) for item in value)
    return True


class _StructureFailure(Exception):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
