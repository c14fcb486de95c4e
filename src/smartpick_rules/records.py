"""``frozen``: ``attrs.frozen`` whose classes share one ``__repr__`` instead of each compiling its own.

attrs writes the source of every class's ``__init__``, ``__eq__``, ``__hash__`` and ``__repr__``
and compiles it when the class is defined. A cold command defines about a hundred classes, and
compiling their methods is about a tenth of its time; the ``__repr__`` (an f-string naming every
field) is about half of that, for a method a command rarely calls. ``attrs_repr`` writes the same
text as the one attrs would compile, reading the fields when called.

For the type checker ``frozen`` is ``attrs.frozen`` itself, so the attrs plugin reads the classes
as it always did.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import attrs

__all__ = ["attrs_repr", "frozen"]

#: the objects being written on this thread: an object met again inside itself is written
#: ``...``, as attrs does
_writing = threading.local()


def attrs_repr(self: Any) -> str:
    """What attrs' generated ``__repr__`` returns: ``Name(field=repr(value), ...)`` with the
    fields of ``repr=True`` (a field's own ``repr`` callable where it has one), an unset field
    not set by ``__init__`` as ``NOTHING``, and ``...`` for an object inside itself."""
    seen: set[int] | None = getattr(_writing, "ids", None)
    if seen is None:
        seen = _writing.ids = set()
    key = id(self)
    if key in seen:
        return "..."
    seen.add(key)
    try:
        parts = []
        for a in type(self).__attrs_attrs__:
            if a.repr is False:
                continue
            value = getattr(self, a.name) if a.init else getattr(self, a.name, attrs.NOTHING)
            parts.append(f"{a.name}={value!r}" if a.repr is True else f"{a.name}={a.repr(value)}")
        return f"{type(self).__qualname__.rsplit('>.', 1)[-1]}({', '.join(parts)})"
    finally:
        seen.discard(key)


if TYPE_CHECKING:
    from attrs import frozen as frozen
else:

    def frozen(maybe_cls=None, /, **options):
        """``attrs.frozen(...)``, with ``attrs_repr`` as the ``__repr__`` where attrs would have
        generated one (a class that writes its own, or asks for none, keeps its choice)."""

        def wrap(cls):
            if options.get("repr") not in (None, True) or "__repr__" in cls.__dict__:
                return attrs.frozen(cls, **options)
            out = attrs.frozen(cls, **{**options, "repr": False})
            out.__repr__ = attrs_repr
            return out

        return wrap if maybe_cls is None else wrap(maybe_cls)
