"""``records.frozen``: the package's classes are ``attrs.frozen`` classes whose ``__repr__`` is one
shared function, which writes what attrs' generated one writes."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from smartpick_rules.records import attrs_repr, frozen


def make(decorator: Any) -> tuple[type, type]:
    """The same two classes (one a subclass of the other), made by ``decorator``."""

    @decorator
    class Node:
        name: str
        items: list[Any] = attrs.field(factory=list)
        secret: str = attrs.field(default="x", repr=False)
        shown: int = attrs.field(default=3, repr=lambda v: f"<{v}>")
        later: Any = attrs.field(init=False, default=attrs.NOTHING)

    @decorator
    class Leaf(Node):
        weight: float = 0.5

    return Node, Leaf


def test_the_shared_repr_writes_what_attrs_writes() -> None:
    ours, theirs = make(frozen), make(attrs.frozen)
    assert ours[0].__repr__ is attrs_repr and theirs[0].__repr__ is not attrs_repr
    for (mine, reference) in zip(ours, theirs, strict=True):
        for args in (("a",), ("b", [1, "two", None], "s", 7)):
            a, b = mine(*args), reference(*args)
            assert repr(a) == repr(b)  # the class names are the same: both made by make()
            assert "later=NOTHING" in repr(a)  # not set by __init__, and never set
    # an object met again inside itself is written "..."
    a, b = ours[0]("loop"), theirs[0]("loop")
    a.items.append(a)
    b.items.append(b)
    assert repr(a) == repr(b) and "..." in repr(a)


@pytest.mark.parametrize("options", [{"repr": False}, {"eq": False}, {"order": True}])
def test_options_are_attrs_own(options: dict[str, Any]) -> None:
    (mine, _), (reference, _) = make(frozen(**options)), make(attrs.frozen(**options))
    assert (mine.__repr__ is object.__repr__) == (reference.__repr__ is object.__repr__)
    assert (mine.__eq__ is object.__eq__) == (reference.__eq__ is object.__eq__)
    assert hasattr(mine, "__lt__") == hasattr(reference, "__lt__")


def test_a_class_that_writes_its_own_repr_keeps_it() -> None:
    @frozen
    class Own:
        x: int

        def __repr__(self) -> str:
            return "own"

    assert repr(Own(1)) == "own"
