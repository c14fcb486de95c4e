"""The list stage: how many programs, which ones, in what order.

Everything here is declared by rule sets; this module only carries it out:

* list-stage rules set the breadth (``breadth = { min, max }``), the expected interviews the
  list aims at (``set = { interview_target = N }``) and per-group bounds (``at_most`` /
  ``at_least``) over groups declared with ``[[group]]``;
* the list is the eligible programs in priority order (higher ``priority`` first, then higher
  chance, then id): first the places a group's ``at_least`` keeps, then the rest in order,
  skipping programs whose group is full, until the list holds ``breadth.min`` programs and its
  expected interviews reach the target, or it holds ``breadth.max``.

Every eligible program left off says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog
from ..errors import Diagnostic, EvaluationError
from ..language.facts import ListItem
from ..language.interp import Scope, evaluate_expr
from ..language.ir import Rule
from ..language.vector import ProgramColumns, VectorEvaluator
from ..plan import CompiledRule, Plan

__all__ = ["Choice", "LazyItems", "ListSettings", "breadth_bound", "choose_list", "group_masks", "list_settings", "priority_order"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@attrs.frozen
class ListSettings:
    """What the list-stage rules decided."""

    lo: int
    hi: int
    breadth_rule: CompiledRule | None
    interview_target: float | None
    at_most: dict[str, int]
    at_least: dict[str, int]


def breadth_bound(value: Any, rule: Rule, what: str = "a breadth bound") -> int:
    if value is None or isinstance(value, bool):
        raise EvaluationError(
            Diagnostic("evaluation_error", f"{what} has no value (it read something not set)", rule.loc, rule.id)
        )
    number = float(value)
    if not math.isfinite(number) or abs(number) > 1e9:
        raise EvaluationError(
            Diagnostic("evaluation_error", f"{what} is {value!r}, not a usable number of programs", rule.loc, rule.id)
        )
    return max(round(number), 0)


def list_settings(fired: Sequence[CompiledRule], scope: Scope, eligible: int) -> ListSettings:
    """Breadth, interview target and group bounds from the fired list rules (audit order).

    ``breadth`` and ``set`` are not additive: the highest-salience rule wins (checked
    unambiguous at load). Group bounds combine: the smallest ``at_most`` and the largest
    ``at_least`` of the rules that fired, whatever order they fired in.
    """
    breadth_rule = next((cr for cr in fired if cr.rule.then.breadth is not None), None)
    if breadth_rule is not None:
        b = breadth_rule.rule.then.breadth
        assert b is not None
        lo = breadth_bound(evaluate_expr(b.min, scope), breadth_rule.rule)
        hi = breadth_bound(evaluate_expr(b.max, scope), breadth_rule.rule)
        lo, hi = min(lo, hi), max(lo, hi)
    else:
        lo = hi = eligible
    target: float | None = None
    at_most: dict[str, int] = {}
    at_least: dict[str, int] = {}
    for cr in fired:
        for name, value in cr.rule.then.sets:
            if name == "interview_target" and target is None:
                target = float(value)
        for name, e in cr.rule.then.at_most:
            v = breadth_bound(evaluate_expr(e, scope), cr.rule, f"`at_most.{name}`")
            at_most[name] = min(at_most.get(name, v), v)
        for name, e in cr.rule.then.at_least:
            v = breadth_bound(evaluate_expr(e, scope), cr.rule, f"`at_least.{name}`")
            at_least[name] = max(at_least.get(name, v), v)
    return ListSettings(lo, hi, breadth_rule, target, at_most, at_least)


def group_masks(plan: Plan, catalog: Catalog, scope: Scope) -> dict[str, BoolArray]:
    """Which programs belong to each declared group (decided once per evaluation)."""
    if not plan.groups:
        return {}
    evaluator = VectorEvaluator(ProgramColumns(catalog), scope, {}, lambda i: frozenset(scope.tags))
    return {g.name: evaluator.as_bool(evaluator.ev_in(g.condition, g.program_nodes)).t for g in plan.groups}


def priority_order(catalog: Catalog, priority: FloatArray, chance: FloatArray, candidates: BoolArray) -> list[int]:
    """Candidates by priority (highest first), then chance (highest first), then program id."""
    cache = catalog.column_cache()
    id_rank = cache.get("id_rank")
    if id_rank is None:
        ids = [p.id for p in catalog.programs]
        order = sorted(range(len(ids)), key=ids.__getitem__)
        id_rank = np.empty(len(ids), dtype=np.int64)
        id_rank[order] = np.arange(len(ids))
        cache["id_rank"] = id_rank
    idx = np.flatnonzero(candidates)
    keys = np.lexsort((np.asarray(id_rank)[idx], -chance[idx], -priority[idx]))
    return idx[keys].tolist()  # type: ignore[no-any-return]


@attrs.frozen
class Choice:
    """The chosen list (priority order) and why every other eligible program is not on it."""

    chosen: list[int]
    left_off: dict[int, str]
    expected_interviews: float
    stopped: str
    #: per group, eligible programs kept off because the group was full
    held_back: dict[str, int]


def choose_list(
    ranked: list[int],
    chance: list[float],
    groups: dict[str, BoolArray],
    settings: ListSettings,
) -> Choice:
    """The list in priority order, bounded by the groups' ``at_most`` and kept to their ``at_least``.

    First the eligible programs in priority order, skipping a program whose group is full, until
    the list holds ``breadth.min`` programs and its expected interviews reach the target, or it
    holds ``breadth.max``. Then each group's ``at_least`` (in name order): its best programs not yet
    chosen take the places of the lowest-priority chosen programs outside it that no other group
    keeps. A list shorter than ``breadth.min`` keeps places in proportion to its length.
    """
    lo, hi, target = settings.lo, settings.hi, settings.interview_target
    member: dict[str, list[bool]] = {g: m.tolist() for g, m in groups.items()}
    count = dict.fromkeys(groups, 0)
    chosen: list[int] = []
    taken: set[int] = set()
    left_off: dict[int, str] = {}
    held_back: dict[str, int] = {}
    expected = 0.0

    def caps_of(i: int) -> list[str]:
        return [g for g in sorted(settings.at_most) if g in member and member[g][i]]

    def add(i: int, sign: int) -> None:
        for g, m in member.items():
            if m[i]:
                count[g] += sign

    stopped = "every eligible program is in the list"
    for i in ranked:
        if len(chosen) >= hi:
            stopped = f"the list holds its maximum of {hi} programs"
            break
        if len(chosen) >= lo and target is not None and expected >= target:
            stopped = f"the list reached {target:g} expected interviews with {len(chosen)} programs"
            break
        full = next((g for g in caps_of(i) if count[g] >= settings.at_most[g]), None)
        if full is not None:
            left_off[i] = f"the list already holds the {settings.at_most[full]} {full.replace('_', ' ')} programs it allows"
            held_back[full] = held_back.get(full, 0) + 1
            continue
        chosen.append(i)
        taken.add(i)
        add(i, 1)
        expected += chance[i]

    # places kept for a group: its best programs replace the lowest-priority programs outside it
    def kept(g: str) -> int:
        m = settings.at_least[g]
        if len(chosen) < lo and lo > 0:
            m = min(m, round(m * len(chosen) / lo))
        return min(m, len(chosen))

    for g in sorted(settings.at_least):
        if g not in member:
            continue
        need = kept(g)
        incoming = [i for i in ranked if i not in taken and member[g][i]]
        for i in incoming:
            if count[g] >= need:
                break
            out = None
            for o in reversed(chosen):
                if member[g][o]:
                    continue
                # never take a place another group keeps
                if any(member[h][o] and count[h] <= kept(h) for h in settings.at_least if h != g and h in member):
                    continue
                if any(count[h] - (1 if member[h][o] else 0) >= settings.at_most[h] for h in caps_of(i)):
                    continue
                out = o
                break
            if out is None:
                break
            chosen.remove(out)
            taken.discard(out)
            add(out, -1)
            left_off[out] = f"its place went to a program in the {g.replace('_', ' ')} group, for which the list keeps {need} places"
            chosen.append(i)
            taken.add(i)
            add(i, 1)
            left_off.pop(i, None)
    position = {i: k for k, i in enumerate(ranked)}
    for i in ranked:
        if i not in taken and i not in left_off:
            left_off[i] = f"lower priority than the last program chosen ({stopped})"
    chosen.sort(key=position.__getitem__)
    # the float sum in the list's own order, so it does not depend on how the list was built
    total = 0.0
    for i in chosen:
        total = total + chance[i]
    return Choice(chosen, left_off, total, stopped, held_back)


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
