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

import numpy as np
import numpy.typing as npt

from ..domain.models import Catalog
from ..errors import Diagnostic, EvaluationError
from ..language.expr import Expr
from ..language.facts import ListItem
from ..language.interp import ScalarCompiler, Scope
from ..language.ir import Rule
from ..language.vector import ProgramColumns, ProgramContext
from ..plan import CompiledRule, Plan
from ..records import frozen

__all__ = [
    "Choice",
    "LazyItems",
    "ListSettings",
    "breadth_bound",
    "choose_list",
    "group_masks",
    "id_order",
    "id_rank",
    "list_settings",
    "priority_order",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@frozen
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


def list_settings(
    fired: Sequence[CompiledRule], scope: Scope, eligible: int, compiler: ScalarCompiler | None = None
) -> ListSettings:
    """Breadth, interview target and group bounds from the fired list rules (audit order).

    ``breadth`` and ``set`` are not additive: the highest-salience rule wins (checked
    unambiguous at load). Group bounds combine: the smallest ``at_most`` and the largest
    ``at_least`` of the rules that fired, whatever order they fired in.
    """
    compiled = compiler if compiler is not None else ScalarCompiler()

    def evaluate_expr(e: Expr, scope: Scope) -> Any:
        return compiled(e)(scope)

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


def group_masks(plan: Plan, catalog: Catalog, scope: Scope, columns: ProgramColumns | None = None) -> dict[str, BoolArray]:
    """Which programs belong to each declared group (decided once per evaluation)."""
    if not plan.groups:
        return {}
    ctx = ProgramContext(columns or ProgramColumns(catalog), scope, {}, lambda i: frozenset(scope.tags), plan.scalar)
    compiler = plan.vector(own_tags=False)
    return {g.name: ctx.as_bool(compiler(g.condition, g.program_nodes)(ctx)).t for g in plan.groups}


def id_rank(catalog: Catalog) -> npt.NDArray[np.int64]:
    """Each program's rank in id order (cached on the catalog)."""
    cache = catalog.column_cache()
    rank = cache.get("id_rank")
    if rank is None:
        ids = [p.id for p in catalog.programs]
        order = sorted(range(len(ids)), key=ids.__getitem__)
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(len(ids))
        cache["id_rank"] = rank
    return rank  # type: ignore[return-value]


def by_id(catalog: Catalog) -> npt.NDArray[np.intp]:
    """The catalog's program indices in id order (cached on the catalog)."""
    cache = catalog.column_cache()
    order = cache.get("by_id")
    if order is None:
        order = np.argsort(id_rank(catalog), kind="stable").astype(np.intp)
        order.flags.writeable = False
        order = cache.setdefault("by_id", order)
    return order  # type: ignore[return-value]


def priority_order(catalog: Catalog, priority: FloatArray, chance: FloatArray, candidates: BoolArray) -> npt.NDArray[np.intp]:
    """Candidates by priority (highest first), then chance (highest first), then program id.

    The order ``np.lexsort((id, -chance, -priority))`` gives, as stable sorts from the last key to
    the first: the candidates taken in id order from the catalog's cached id order (no sort),
    then by chance, then by priority, skipped when every candidate's priority is the same.
    """
    idx = id_order(catalog, candidates)
    idx = idx[np.argsort(-chance[idx], kind="stable")]
    p = priority[idx]
    if len(p) and p.min() != p.max():
        idx = idx[np.argsort(-p, kind="stable")]
    return idx


def id_order(catalog: Catalog, candidates: BoolArray) -> npt.NDArray[np.intp]:
    """Candidates in program-id order."""
    order = by_id(catalog)
    return order[candidates[order]]


#: why an eligible program is not in the list
LEFT_LOWER, LEFT_FULL, LEFT_REPLACED = 1, 2, 3


@frozen(eq=False)
class Choice:
    """The chosen list (priority order) and why every other eligible program is not on it."""

    #: program indices, in priority order
    chosen: npt.NDArray[np.intp]
    #: per program: in the list
    chosen_mask: BoolArray
    #: per program: 0, or why it was left off (LEFT_LOWER, LEFT_FULL, LEFT_REPLACED)
    left_code: npt.NDArray[np.int8]
    #: per program left off for a group: which group (index into ``group_names``), else -1
    left_group: npt.NDArray[np.int16]
    group_names: tuple[str, ...]
    #: per group, the places ``at_least`` keeps for it (for LEFT_REPLACED's reason)
    kept: dict[str, int]
    at_most: dict[str, int]
    expected_interviews: float
    stopped: str
    #: per group, eligible programs kept off because the group was full
    held_back: dict[str, int]

    def left_off(self, i: int) -> str | None:
        """Why program ``i`` is not in the list (None when chosen or excluded)."""
        code = int(self.left_code[i])
        if code == 0:
            return None
        if code == LEFT_LOWER:
            return f"lower priority than the last program chosen ({self.stopped})"
        g = self.group_names[int(self.left_group[i])]
        if code == LEFT_FULL:
            return f"the list already holds the {self.at_most[g]} {g.replace('_', ' ')} programs it allows"
        return f"its place went to a program in the {g.replace('_', ' ')} group, for which the list keeps {self.kept[g]} places"


def choose_list(
    ranked: npt.NDArray[np.intp],
    chance: FloatArray,
    groups: dict[str, BoolArray],
    settings: ListSettings,
) -> Choice:
    """The list in priority order, bounded by the groups' ``at_most`` and kept to their ``at_least``.

    First the eligible programs in priority order, skipping a program whose group is full, until
    the list holds ``breadth.min`` programs and its expected interviews reach the target, or it
    holds ``breadth.max``. Then each group's ``at_least`` (in name order): its best programs not yet
    chosen take the places of the lowest-priority chosen programs outside it that no other group
    keeps. A list shorter than ``breadth.min`` keeps places in proportion to its length.

    The first pass runs over arrays: whether a program of a capped group is skipped depends only
    on the programs of its groups before it, so the skips are decided group by group (or, where
    groups overlap, in one loop over their members), and the stopping point is the first place
    where the count or the running sum of chances (a cumulative sum: the same additions, in the
    same order, as adding one by one) reaches its bound.
    """
    lo, hi, target = settings.lo, settings.hi, settings.interview_target
    n = len(chance)
    m = len(ranked)
    names = tuple(sorted(groups))
    gindex = {g: k for k, g in enumerate(names)}
    left_code = np.zeros(n, dtype=np.int8)
    left_group = np.full(n, -1, dtype=np.int16)

    # -- which programs of capped groups the first pass skips -----------------------------------
    capped = [g for g in sorted(settings.at_most) if g in groups]
    skip = np.zeros(m, dtype=np.bool_)
    skip_group = np.full(m, -1, dtype=np.int16)
    if capped and m:
        member = np.stack([groups[g][ranked] for g in capped])
        if int(member.sum(axis=0).max()) <= 1:
            for row, g in zip(member, capped, strict=True):
                over = row & (np.cumsum(row) > settings.at_most[g])
                skip |= over
                skip_group[over] = gindex[g]
        else:
            counts = dict.fromkeys(capped, 0)
            cols = member.T
            for p in np.flatnonzero(member.any(axis=0)).tolist():
                mine = [g for g, on in zip(capped, cols[p].tolist(), strict=True) if on]
                full = next((g for g in mine if counts[g] >= settings.at_most[g]), None)
                if full is not None:
                    skip[p] = True
                    skip_group[p] = gindex[full]
                    continue
                for g in mine:
                    counts[g] += 1

    # -- where the first pass stops -----------------------------------------------------------
    taken_r = ~skip
    c = chance[ranked]
    count_before = np.concatenate(([0], np.cumsum(taken_r)))[:m] if m else np.zeros(0, dtype=np.int64)
    exp_before = np.concatenate(([0.0], np.cumsum(np.where(taken_r, c, 0.0))))[:m] if m else np.zeros(0)
    at_max = count_before >= hi
    at_target = (count_before >= lo) & (exp_before >= target) if target is not None else np.zeros(m, dtype=np.bool_)
    stops = np.flatnonzero(at_max | at_target)
    stopped = "every eligible program is in the list"
    stop = m
    if len(stops):
        stop = int(stops[0])
        if at_max[stop]:
            stopped = f"the list holds its maximum of {hi} programs"
        else:
            stopped = f"the list reached {target:g} expected interviews with {int(count_before[stop])} programs"
    first = skip[:stop]
    # per group, how many of its programs the first pass skipped (groups in the order they first
    # held one back, as counting them one by one did)
    held_codes = skip_group[:stop][first]
    held_back: dict[str, int] = {}
    if len(held_codes):
        how_many = np.bincount(held_codes, minlength=len(names)).tolist()
        present = [k for k, c in enumerate(how_many) if c]
        if len(present) > 1:
            present.sort(key=lambda k: int(np.argmax(held_codes == k)))
        for k in present:
            held_back[names[k]] = how_many[k]
    skipped = ranked[:stop][first]
    left_code[skipped] = LEFT_FULL
    left_group[skipped] = skip_group[:stop][first]
    first_pass = ranked[:stop][~first]  # in priority order

    # -- places kept for groups: their best programs replace the lowest-priority ones outside them
    kept_for: dict[str, int] = {}
    active = [g for g in sorted(settings.at_least) if g in groups]
    chosen: list[int] = first_pass.tolist() if active else []
    if active:
        member_l = {g: groups[g].tolist() for g in groups}
        count = {g: sum(1 for i in chosen if member_l[g][i]) for g in groups}
        taken = set(chosen)

        def kept(g: str) -> int:
            k = settings.at_least[g]
            if len(chosen) < lo and lo > 0:
                k = min(k, round(k * len(chosen) / lo))
            return min(k, len(chosen))

        ranked_l = ranked.tolist()
        for g in active:
            need = kept(g)
            kept_for[g] = need
            if count[g] >= need:
                continue
            mg = member_l[g]
            incoming = [i for i in ranked_l if mg[i] and i not in taken]
            for i in incoming:
                if count[g] >= need:
                    break
                mine_capped = [h for h in sorted(settings.at_most) if h in groups and member_l[h][i]]
                out = None
                for o in reversed(chosen):
                    if mg[o]:
                        continue
                    # never take a place another group keeps
                    if any(member_l[h][o] and count[h] <= kept(h) for h in settings.at_least if h != g and h in groups):
                        continue
                    if any(count[h] - (1 if member_l[h][o] else 0) >= settings.at_most[h] for h in mine_capped):
                        continue
                    out = o
                    break
                if out is None:
                    break
                chosen.remove(out)
                taken.discard(out)
                for h in groups:
                    if member_l[h][out]:
                        count[h] -= 1
                left_code[out] = LEFT_REPLACED
                left_group[out] = gindex[g]
                chosen.append(i)
                taken.add(i)
                for h in groups:
                    if member_l[h][i]:
                        count[h] += 1
                left_code[i] = 0
                left_group[i] = -1

    if active:
        chosen_arr = np.array(chosen, dtype=np.intp)
        position = np.empty(n, dtype=np.intp)
        position[ranked] = np.arange(m)
        chosen_arr = chosen_arr[np.argsort(position[chosen_arr], kind="stable")] if len(chosen_arr) else chosen_arr
    else:
        chosen_arr = first_pass  # no place kept for a group: the first pass is the list, in order
    chosen_mask = np.zeros(n, dtype=np.bool_)
    chosen_mask[chosen_arr] = True
    rest = ranked[~chosen_mask[ranked]]
    left_code[rest[left_code[rest] == 0]] = LEFT_LOWER
    # the float sum in the list's own order, so it does not depend on how the list was built
    total = float(np.cumsum(chance[chosen_arr])[-1]) + 0.0 if len(chosen_arr) else 0.0
    return Choice(
        chosen_arr, chosen_mask, left_code, left_group, names, kept_for, dict(settings.at_most), total, stopped, held_back
    )


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
