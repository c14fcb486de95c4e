"""The list stage: how many programs, which ones, in what order."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import Diagnostic, EvaluationError
from ..language.facts import ListItem
from ..language.ir import Rule

__all__ = ["TIER_RANK", "LazyItems", "breadth_bound", "choose_list"]

BoolArray = npt.NDArray[np.bool_]


TIER_RANK = {"likely": 0, "target": 1, "reach": 2}


def choose_list(
    ranked: list[int],
    size: int,
    tiers: list[str | None],
    max_reach: int | None,
    min_out_of_state: int | None,
    out_of_state: list[bool],
) -> list[int]:
    """The recommended list, in priority order: ``size`` programs, at most ``max_reach`` of them
    reaches, and where eligible programs allow, ``min_out_of_state`` of them in other states
    (the guide's "LA focus with a broad national strategy")."""
    chosen: list[int] = []
    taken: set[int] = set()
    reach_taken = 0

    def take(i: int) -> bool:
        nonlocal reach_taken
        if i in taken or len(chosen) >= size:
            return False
        if tiers[i] == "reach" and max_reach is not None:
            if reach_taken >= max_reach:
                return False
            reach_taken += 1
        chosen.append(i)
        taken.add(i)
        return True

    if min_out_of_state:
        quota = min(min_out_of_state, size)
        oos = [i for i in ranked if out_of_state[i]]
        # the quota's places go to the best out-of-state programs, reaches last
        for i in [*(i for i in oos if tiers[i] != "reach"), *(i for i in oos if tiers[i] == "reach")]:
            if len(chosen) >= quota:
                break
            take(i)
    for i in ranked:
        if len(chosen) >= size:
            break
        take(i)
    position = {i: k for k, i in enumerate(ranked)}
    return sorted(chosen, key=position.__getitem__)


class LazyItems(Sequence[ListItem]):
    """``list.programs``, built only if a condition walks it item by item."""

    def __init__(self, build: Callable[[], tuple[ListItem, ...]]) -> None:
        self._build = build
        self._items: tuple[ListItem, ...] | None = None

    def _all(self) -> tuple[ListItem, ...]:
        items = self._items
        if items is None:
            items = self._items = self._build()
        return items

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, i: Any) -> Any:
        return self._all()[i]

    def __iter__(self) -> Iterator[ListItem]:
        return iter(self._all())


def breadth_bound(value: Any, rule: Rule) -> int:
    if value is None or isinstance(value, bool):
        raise EvaluationError(
            Diagnostic("evaluation_error", "a breadth bound has no value (it read something not set)", rule.loc, rule.id)
        )
    number = float(value)
    if not math.isfinite(number) or abs(number) > 1e9:
        raise EvaluationError(
            Diagnostic("evaluation_error", f"a breadth bound is {value!r}, not a usable number of programs", rule.loc, rule.id)
        )
    return max(round(number), 0)
