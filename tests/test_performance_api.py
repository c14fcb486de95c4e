"""The fast paths of issue 12 give exactly what the slow ones gave.

The runtime decides every program over arrays and builds per-program results, ``firings()``,
exclusion counts and why-not from those arrays on demand (``runtime/outcome.py``); a process
pool sends the arrays back instead of results. These tests check each fast path against the
straightforward computation it replaces: audit values against the scalar interpreter, the
list choice against the loop it was, one program's result against every result built at once,
a pickled outcome against the live one. No timing is asserted here (speed targets live in
benchmarks/targets.py).
"""

from __future__ import annotations

import importlib.metadata
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fixtures
import smartpick_rules as sr
from smartpick_rules.domain.converter import converter
from smartpick_rules.language.interp import Scope, evaluate_expr
from smartpick_rules.plan import plan_ruleset
from smartpick_rules.ruleset.load import load_rules_from_text
from smartpick_rules.runtime.audit import json_value
from smartpick_rules.runtime.list_stage import ListSettings, choose_list

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = ROOT / "examples" / "profiles" / "default.toml"


@pytest.fixture(scope="module")
def shipped(shipped_rules: sr.RuleSet) -> sr.RuleSet:
    return shipped_rules


@pytest.fixture(scope="module")
def small(small_catalog: sr.Catalog) -> sr.Catalog:
    return small_catalog


@pytest.fixture(scope="module")
def profile(default_profile: sr.Profile) -> sr.Profile:
    return default_profile


# -- the package itself ------------------------------------------------------------------------


def test_version_is_the_installed_distributions() -> None:
    assert sr.__version__ == importlib.metadata.version("smartpick-rules")


def test_import_loads_nothing_until_a_name_is_used() -> None:
    code = (
        "import sys, smartpick_rules as sr\n"
        "heavy = [m for m in ('numpy', 'cattrs', 'smartpick_rules.cohort', 'smartpick_rules.runtime.evaluate', 'smartpick_rules.runtime.session') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "for name in sr.__all__:\n"
        "    getattr(sr, name)\n"
        "assert callable(sr.evaluate) and sr.evaluate.__module__ == 'smartpick_rules.runtime.session'\n"
        "from smartpick_rules import load_rules, Recommendation\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-1000:]
    with pytest.raises(AttributeError):
        sr.no_such_name  # noqa: B018


# -- firings and exclusions from the columns ---------------------------------------------------


def _check_firings(rec: sr.Recommendation, rules: sr.RuleSet) -> None:
    f = rec.firings()
    plan = plan_ruleset(rules)
    by_id = {cr.id: cr for cr in plan.program.rules}
    assert f.rule_ids == tuple(cr.id for cr in plan.program.rules)
    assert len(f) == len(f.program) == len(f.odds) == len(f.chance_cap) == len(f.priority) == len(f.excludes)
    rows: dict[str, list[tuple[str, float, float, float, bool]]] = {}
    for r, p, o, c, pr, ex in zip(f.rule.tolist(), f.program.tolist(), f.odds.tolist(), f.chance_cap.tolist(), f.priority.tolist(), f.excludes.tolist(), strict=True):
        rows.setdefault(f.program_ids[p], []).append((f.rule_ids[r], o, c, pr, ex))
    for result in rec.programs:
        got = sorted(rows.get(result.program.id, []), key=lambda t: f.rule_ids.index(t[0]))
        entries = [a for a in result.audit if a.stage == "program"]
        assert [g[0] for g in got] == [a.rule_id for a in entries], result.program.id
        for g, a in zip(got, entries, strict=True):
            eff = by_id[a.rule_id].rule.then
            assert g[1] == (1.0 if a.odds is None else a.odds)
            assert g[2] == (1.0 if a.chance_cap is None else a.chance_cap)
            assert g[3] == (0.0 if eff.priority is None else float(eff.priority))
            assert g[4] == (eff.exclude is not None)


def test_firings_are_the_audit_as_arrays(shipped: sr.RuleSet, small: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, small, shipped, as_of=2026)
    _check_firings(rec, shipped)
    f = rec.firings()
    assert f.rule.dtype == np.int32 and f.odds.dtype == np.float64 and f.excludes.dtype == np.bool_
    # ordered by rule (audit order), then program (catalog order)
    key = f.rule.astype(np.int64) * len(f.program_ids) + f.program
    assert (np.diff(key) > 0).all()


def test_firings_need_the_evaluation(shipped: sr.RuleSet, small: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, small, shipped, as_of=2026)
    with pytest.raises(ValueError, match="columns"):
        sr.Recommendation.from_json(rec.to_json()).firings()


def test_exclusion_counts_are_counts_of_the_results(shipped: sr.RuleSet, small: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, small, shipped, as_of=2026)
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for r in rec.programs:
        if r.excluded is not None:
            counts[r.excluded.rule_id] = counts.get(r.excluded.rule_id, 0) + 1
            first.setdefault(r.excluded.rule_id, r.excluded.reason)
    want = [(rid, k, first[rid]) for rid, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    fresh = sr.evaluate(profile, small, shipped, as_of=2026)
    assert fresh.exclusion_counts() == want
    assert sr.Recommendation.from_json(rec.to_json()).exclusion_counts() == want
    groups = fresh.excluded_by_rule()
    assert [(rid, len(rs), reason) for rid, reason, rs in groups] == want
    assert [[r.program.id for r in rs] for _rid, _reason, rs in groups] == [
        [r.program.id for r in rec.programs if r.excluded is not None and r.excluded.rule_id == rid] for rid, _k, _t in want
    ]


# -- one program alone, every program at once -------------------------------------------------


def test_one_program_is_built_alone_and_equals_building_all(shipped: sr.RuleSet, small: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, small, shipped, as_of=2026)
    last = rec.programs[len(rec.programs) - 1].program.id
    fresh = sr.evaluate(profile, small, shipped, as_of=2026)
    assert fresh.get(last) is not None
    assert len(fresh.programs._cache) == 1  # type: ignore[attr-defined]
    assert fresh.get("no-such-program") is None
    everything = list(sr.evaluate(profile, small, shipped, as_of=2026).programs)
    one_by_one = [sr.evaluate(profile, small, shipped, as_of=2026).get(r.program.id) for r in everything]
    assert [converter.unstructure(r) for r in everything] == [converter.unstructure(r) for r in one_by_one]
    assert json.dumps([converter.unstructure(r) for r in everything]) == json.dumps([converter.unstructure(r) for r in one_by_one])
    # a slice is a lazy view of the same results
    view = fresh.programs[2:5]
    assert [r.program.id for r in view] == [r.program.id for r in everything[2:5]]


def _json_of(results: list[sr.ProgramResult]) -> list[str]:
    # json.dumps writes floats by repr: equal text means bit-identical numbers (0.0 and -0.0 differ)
    return [json.dumps(converter.unstructure(r), sort_keys=True) for r in results]


@pytest.mark.parametrize("which", ["chosen", "first 300", "every 17th", "last 40"])
def test_programs_built_together_equal_each_built_alone(shipped: sr.RuleSet, sample_catalog: sr.Catalog, profile: sr.Profile, which: str) -> None:
    # results() builds entries rule by rule and shares equal ones between programs; result()
    # builds one program's own; the JSON of both is the same, number for number
    rec = sr.evaluate(profile, sample_catalog, shipped, as_of=2026)
    order = rec._outcome.order.tolist()
    chosen = [i for i in order if rec._outcome.choice.chosen_mask[i]]
    subset = {"chosen": chosen, "first 300": order[:300], "every 17th": order[::17], "last 40": order[-40:]}[which]
    together = rec._outcome.results(subset)
    alone = [sr.evaluate(profile, sample_catalog, shipped, as_of=2026)._outcome.result(i) for i in subset]
    assert _json_of(together) == _json_of(alone)


def test_chosen_builds_the_list_alone_in_order(shipped: sr.RuleSet, sample_catalog: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, sample_catalog, shipped, as_of=2026)
    chosen = rec.chosen()
    assert [r.program.id for r in chosen] == list(rec.breadth.chosen)
    assert all(r.chosen for r in chosen)
    assert len(rec.programs._cache) == len(chosen)  # type: ignore[attr-defined]
    everything = {r.program.id: r for r in sr.evaluate(profile, sample_catalog, shipped, as_of=2026).programs.iter_uncached()}  # type: ignore[attr-defined]
    assert _json_of(chosen) == _json_of([everything[r.program.id] for r in chosen])
    # positions come from the evaluation's order, not from a table built of every id
    assert rec.programs.position(chosen[-1].program.id) == [r.program.id for r in rec.programs.iter_uncached()].index(chosen[-1].program.id)  # type: ignore[attr-defined]
    assert rec.programs.position("no-such-program") is None  # type: ignore[attr-defined]


def test_shared_entries_do_not_share_the_catalogs_values(shipped: sr.RuleSet, sample_catalog: sr.Catalog, profile: sr.Profile) -> None:
    # equal entries of programs built together are one object, like the profile stage's; a list
    # an entry reports is its own copy, so changing it changes neither the catalog's cached
    # column nor the next evaluation's entries
    rec = sr.evaluate(profile, sample_catalog, shipped, as_of=2026)
    chosen = rec.chosen()
    listed = [(e, k) for r in chosen for e in r.audit if e.stage == "program" for k, v in e.values.items() if isinstance(v, list)]
    assert listed, "the shipped rules report some list value (a program's tags, its states)"
    before = _json_of(sr.evaluate(profile, sample_catalog, shipped, as_of=2026).chosen())
    for entry, key in listed:
        entry.values[key].append("changed")  # type: ignore[union-attr]
    assert _json_of(sr.evaluate(profile, sample_catalog, shipped, as_of=2026).chosen()) == before
    shared = {id(e) for r in chosen for e in r.audit if e.stage == "program"}
    assert len(shared) < sum(1 for r in chosen for e in r.audit if e.stage == "program")


# -- audit values read from the columns ---------------------------------------------------------

READS_RULES = """
[ruleset]
name = "reads"
version = "1"

[[estimate]]
name = "screen"
start = 220

[[rule]]
id = "reads.screen_up"
stage = "program"
when = "program.program_type == 'university'"
then = { estimate = { screen = 7.5 } }

[[rule]]
id = "reads.bar"
stage = "program"
when = ["known(applicant.step2_ck.score)", "applicant.step2_ck.score >= estimate.screen"]
then = { odds = "exp(0.05 * (applicant.step2_ck.score - estimate.screen))", tag = "over_bar" }
explain = "CK {applicant.step2_ck.score} vs screen {estimate.screen}; {program.positions * 2} seats x2; {min(program.positions, 5)} capped; {len(program.tags)} tags"

[[rule]]
id = "reads.ties"
stage = "program"
when = "any(applicant.ties, item.region == program.region) or count(applicant.usce, item.region == program.region) >= 1"
then = { priority = 4 }
explain = "ties {count(applicant.ties, item.region == program.region)}; usce months {total(applicant.usce, item.months, item.region == program.region)}"

[[rule]]
id = "reads.mixed"
stage = "program"
when = ["has('over_bar')", "(program.img_share if known(program.img_share) else 0) >= 0"]
then = { chance_cap = "min(0.9, 0.2 + program.positions / 100)" }
explain = "{program.img_share if known(program.img_share) else 0} share, {abs(program.positions - 10)} off ten, tags {program.tags}"

[[rule]]
id = "reads.list"
stage = "list"
when = "count(list.programs, 'img_friendly' in item.program_tags) >= 0"
then = { advice = "{count(list.programs, not item.excluded)} eligible" }
"""


def _reference_values(rec: sr.Recommendation, rules: sr.RuleSet, prof: sr.Profile) -> None:
    """Every program-stage entry's values equal what the scalar interpreter reads for that program."""
    plan = plan_ruleset(rules)
    by_id = {cr.id: cr for cr in plan.program.rules}
    derived = dict(rec.derived)
    for result in rec.programs:
        scope = Scope(applicant=prof, program=result.program, derived=derived, tags=frozenset(result.tags), as_of_year=2026)
        for a in result.audit:
            if a.stage != "program":
                continue
            cr = by_id[a.rule_id]
            want = {k: json_value(evaluate_expr(e, scope)) for k, e, _p in cr.reads}
            # json, so 1 and 1.0 (or True) are told apart
            assert json.dumps(a.values) == json.dumps(want), (result.program.id, a.rule_id)


def test_audit_values_from_columns_are_the_interpreters(small: sr.Catalog) -> None:
    rules = load_rules_from_text([("reads.toml", READS_RULES)])
    for data in (
        {"graduation_year": 2019, "step2_ck": {"score": 236}, "ties": [{"kind": "lived", "region": "la_county"}], "usce": [{"kind": "hands_on", "months": 3, "region": "la_county"}]},
        {"graduation_year": 2010, "step1": {"passed": True}},
    ):
        prof = sr.profile_from_data(data)
        rec = sr.evaluate(prof, small, rules, as_of=2026)
        _reference_values(rec, rules, prof)
        _check_firings(rec, rules)


def test_shipped_audit_values_are_the_interpreters(shipped: sr.RuleSet, small: sr.Catalog) -> None:
    for path in sorted((ROOT / "examples" / "profiles").glob("*.toml"))[:4]:
        prof = sr.load_profile(path)
        _reference_values(sr.evaluate(prof, small, shipped, as_of=2026), shipped, prof)


PICK_RULES = """
[ruleset]
name = "picks"
version = "1"

[[rule]]
id = "picks.extremes"
stage = "program"
when = "program.positions >= 0"
then = { priority = 1 }
explain = "{max(program.positions, program.img_share * 100, 3)} {min(program.img_share * 100, program.positions)} {max(program.positions, program.img_share if known(program.img_share) else 0)} {abs(program.positions - 10)}"
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.one_of(st.none(), st.sampled_from([0.0, 0.03, 0.05, 0.1, 0.25, 0.3, 0.5, 0.6]))),
        min_size=8,
        max_size=40,
    )
)
def test_min_and_max_read_many_programs_at_once_are_pythons(cells: list[tuple[int, float | None]]) -> None:
    # many programs at once, min and max pick the winning argument from their columns (argmax /
    # argmin: the first at the extreme); Python's min and max, on one program, are the reference:
    # 5 and 5.0 tie, and the first argument's type wins
    catalog = fixtures.catalog(*(fixtures.program(f"p{i}", positions=n, img_share=share) for i, (n, share) in enumerate(cells)))
    rules = load_rules_from_text([("picks.toml", PICK_RULES)])
    prof = sr.profile_from_data({"graduation_year": 2020})
    rec = sr.evaluate(prof, catalog, rules, as_of=2026)
    order = rec._outcome.order.tolist()
    together = rec._outcome.results(order)
    alone = [sr.evaluate(prof, catalog, rules, as_of=2026)._outcome.result(i) for i in order]
    assert _json_of(together) == _json_of(alone)
    _reference_values(rec, rules, prof)


def test_a_pickled_outcome_carries_every_value_its_entries_read(shipped: sr.RuleSet, sample_catalog: sr.Catalog) -> None:
    # before it is pickled, an outcome computes the values no column types where the rules
    # reading them fired, and nothing else: every program's result in the receiving process is
    # the live one's
    for data in ({"graduation_year": 2019, "step2_ck": {"score": 231}}, {"graduation_year": 2012, "step1": {"passed": True}}):
        prof = sr.profile_from_data(data)
        rec = sr.evaluate(prof, sample_catalog, shipped, as_of=2026)
        copy = pickle.loads(pickle.dumps(rec._outcome))
        copy.attach(plan_ruleset(shipped), sample_catalog)
        order = rec._outcome.order.tolist()[::7]
        live = sr.evaluate(prof, sample_catalog, shipped, as_of=2026)._outcome
        assert _json_of(copy.results(order)) == _json_of([live.result(i) for i in order])


# -- results never depend on what the process evaluated before --------------------------------

POISON_RULES = """
[ruleset]
name = "poison"
version = "1"

[[rule]]
id = "poison.big"
stage = "program"
when = "program.positions > 5"
then = { tag = "img_friendly" }

[[rule]]
id = "poison.friendly"
stage = "program"
when = ["applicant.visa == 'j1'", "'img_friendly' in program.tags"]
then = { priority = 10 }

[[rule]]
id = "poison.list"
stage = "list"
when = "count(list.programs, 'img_friendly' in item.program_tags) >= 0"
then = { advice = "x" }
"""


def test_a_list_reading_item_program_tags_does_not_change_the_next_evaluation(small: sr.Catalog) -> None:
    # The list stage's program_tags once filled the catalog's cache for `'x' in program.tags`
    # from the rules' tags: the next profile's program stage read the wrong column.
    rules = load_rules_from_text([("poison.toml", POISON_RULES)])
    first = sr.profile_from_data({"graduation_year": 2019, "visa": "none"})
    second = sr.profile_from_data({"graduation_year": 2019, "visa": "j1"})
    fresh = sr.catalog_from_data([converter.unstructure(p) for p in small.programs])
    alone = sr.evaluate(second, fresh, rules, as_of=2026).to_json()
    shared = sr.catalog_from_data([converter.unstructure(p) for p in small.programs])
    sr.evaluate(first, shared, rules, as_of=2026)
    assert sr.evaluate(second, shared, rules, as_of=2026).to_json() == alone


# -- the list choice over arrays equals the loop it replaced -----------------------------------


def _reference_choice(ranked: list[int], chance: list[float], groups: dict[str, list[bool]], s: ListSettings) -> tuple[Any, ...]:
    """The list stage's first implementation, one program at a time (kept as the specification)."""
    lo, hi, target = s.lo, s.hi, s.interview_target
    member = groups
    count = dict.fromkeys(groups, 0)
    chosen: list[int] = []
    taken: set[int] = set()
    left_off: dict[int, str] = {}
    held_back: dict[str, int] = {}
    expected = 0.0

    def caps_of(i: int) -> list[str]:
        return [g for g in sorted(s.at_most) if g in member and member[g][i]]

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
        full = next((g for g in caps_of(i) if count[g] >= s.at_most[g]), None)
        if full is not None:
            left_off[i] = f"the list already holds the {s.at_most[full]} {full.replace('_', ' ')} programs it allows"
            held_back[full] = held_back.get(full, 0) + 1
            continue
        chosen.append(i)
        taken.add(i)
        add(i, 1)
        expected += chance[i]

    def kept(g: str) -> int:
        m = s.at_least[g]
        if len(chosen) < lo and lo > 0:
            m = min(m, round(m * len(chosen) / lo))
        return min(m, len(chosen))

    for g in sorted(s.at_least):
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
                if any(member[h][o] and count[h] <= kept(h) for h in s.at_least if h != g and h in member):
                    continue
                if any(count[h] - (1 if member[h][o] else 0) >= s.at_most[h] for h in caps_of(i)):
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
    total = 0.0
    for i in chosen:
        total = total + chance[i]
    return chosen, left_off, total, stopped, held_back


@st.composite
def list_problem(draw: st.DrawFn) -> tuple[list[int], list[float], dict[str, list[bool]], ListSettings, int]:
    n = draw(st.integers(0, 40))
    chance = [draw(st.sampled_from([0.001, 0.01, 0.05, 0.125, 0.3, 0.85])) for _ in range(n)]
    eligible = [i for i in range(n) if draw(st.booleans()) or draw(st.booleans())]
    ranked = draw(st.permutations(eligible))
    names = draw(st.lists(st.sampled_from(["academic", "other_states", "away"]), unique=True, max_size=3))
    groups = {g: [draw(st.integers(0, 3)) == 0 for _ in range(n)] for g in names}
    lo = draw(st.integers(0, 25))
    hi = draw(st.integers(lo, 30))
    at_most = {g: draw(st.integers(0, 6)) for g in names if draw(st.booleans())}
    at_least = {g: draw(st.integers(0, 6)) for g in names if draw(st.booleans())}
    target = draw(st.sampled_from([None, 0.1, 0.5, 2.0]))
    return list(ranked), chance, groups, ListSettings(lo, hi, None, target, at_most, at_least), n


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(list_problem())
def test_choose_list_is_the_loop_it_replaced(problem: tuple[list[int], list[float], dict[str, list[bool]], ListSettings, int]) -> None:
    ranked, chance, groups, s, n = problem
    want_chosen, want_left, want_total, want_stopped, want_held = _reference_choice(ranked, chance, groups, s)
    got = choose_list(
        np.array(ranked, dtype=np.intp), np.array(chance, dtype=np.float64), {g: np.array(m, dtype=np.bool_) for g, m in groups.items()}, s
    )
    assert got.chosen.tolist() == want_chosen
    assert got.chosen_mask.tolist() == [i in set(want_chosen) for i in range(n)]
    assert {i: got.left_off(i) for i in range(n) if got.left_off(i) is not None} == want_left
    assert got.expected_interviews == want_total
    assert got.stopped == want_stopped
    assert got.held_back == want_held


# -- a process pool's columns ---------------------------------------------------------------------


def test_an_outcome_pickles_and_attaches_to_the_same_results(shipped: sr.RuleSet, small: sr.Catalog, profile: sr.Profile) -> None:
    rec = sr.evaluate(profile, small, shipped, as_of=2026)
    copy = pickle.loads(pickle.dumps(rec._outcome))
    assert copy.plan is None and copy.catalog is None and copy.prof_out is None
    copy.attach(plan_ruleset(shipped), small)
    want = [converter.unstructure(r) for r in sr.evaluate(profile, small, shipped, as_of=2026).programs]
    order = rec._outcome.order.tolist()
    assert [converter.unstructure(copy.result(i)) for i in order] == want
    assert [converter.unstructure(r) for r in copy.results(order)] == want
    assert (copy.firings().odds == rec.firings().odds).all()
    with pytest.raises(ValueError, match="live evaluation"):
        copy.why_not(order[0])


def test_an_outcome_pickled_after_one_program_was_read_gives_every_result(shipped: sr.RuleSet, small: sr.Catalog, profile: sr.Profile) -> None:
    # values no column types are computed per program as entries are built: the pickle carries them all
    rec = sr.evaluate(profile, small, shipped, as_of=2026)
    last = rec.programs._order[-1]  # type: ignore[attr-defined]
    one = converter.unstructure(rec._outcome.result(last))
    copy = pickle.loads(pickle.dumps(rec._outcome))
    copy.attach(plan_ruleset(shipped), small)
    order = rec._outcome.order.tolist()
    want = [converter.unstructure(r) for r in sr.evaluate(profile, small, shipped, as_of=2026).programs]
    assert [converter.unstructure(copy.result(i)) for i in order] == want and want[-1] == one


def test_widening_levers_count_as_the_whole_program_stage_would(shipped: sr.RuleSet, small: sr.Catalog) -> None:
    # the wideners of a short list re-run only the rules that decide eligibility
    from smartpick_rules.engines import Budget, compile_ruleset, get_engine
    from smartpick_rules.runtime.levers import pool_wideners
    from smartpick_rules.runtime.stages import run_profile_stage

    plan = plan_ruleset(shipped)
    eng, compiled = get_engine("native"), compile_ruleset(shipped, "native")
    # the same plan, but with every program rule counted as deciding eligibility
    everything = attrs.evolve(plan, cache={"exclusion_closure": frozenset(range(len(plan.program.rules)))})
    for path in sorted((ROOT / "examples" / "profiles").glob("*.toml")):
        prof = sr.load_profile(path)
        scope = run_profile_stage(plan, eng, compiled, prof, 2026, Budget(10**9)).scope
        fast = pool_wideners(plan, eng, compiled, prof, scope, small, 2026, sr.DEFAULT_LIMITS, 0)
        slow = pool_wideners(everything, eng, compiled, prof, scope, small, 2026, sr.DEFAULT_LIMITS, 0)
        assert fast == slow, path.name
        assert len(plan.cache["exclusion_closure"]) < len(plan.program.rules)


SPREAD_RULES = """
[ruleset]
name = "spread"
version = "1"

[chance]
base = 0.05

[[rule]]
id = "spread.seats"
stage = "program"
when = "program.positions >= 0"
then = { odds = "1 + program.img_share * 3 + program.positions / 7", priority = 1 }
"""


def test_the_same_catalog_in_another_order_gives_the_same_json() -> None:
    # breadth.eligible_expected_interviews once added chances in catalog order: the last bit
    # moved with the order of the programs
    import random

    rules = load_rules_from_text([("spread.toml", SPREAD_RULES)])
    rnd = random.Random(3)
    programs = [
        {"id": f"p{i:03d}", "name": f"P {i}", "specialty": "internal_medicine", "state": "CA", "region": "kern",
         "program_type": "community", "positions": rnd.randrange(1, 40), "img_share": round(rnd.random(), 4)}
        for i in range(500)
    ]
    prof = sr.profile_from_data({"graduation_year": 2020})
    want = sr.evaluate(prof, sr.catalog_from_data(programs), rules, as_of=2026).to_json()
    for seed in range(5):
        shuffled = list(programs)
        random.Random(seed).shuffle(shuffled)
        assert sr.evaluate(prof, sr.catalog_from_data(shuffled), rules, as_of=2026).to_json() == want, seed


# -- chances from log-odds: the ufunc form is np.clip's, bit for bit ---------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=0, max_size=40),
    st.floats(0.0, 0.5),
    st.floats(0.5, 1.0),
)
def test_chance_of_is_the_clipped_logistic(log_odds: list[float], floor: float, ceiling: float) -> None:
    from smartpick_rules.language.ir import ChanceModel
    from smartpick_rules.runtime.stages import chance_of

    model = attrs.evolve(ChanceModel(), floor=floor, ceiling=ceiling)
    x = np.array(log_odds, dtype=np.float64)
    with np.errstate(over="ignore"):
        want = np.clip(1.0 / (1.0 + np.exp(-np.clip(x, -700.0, 700.0))), floor, ceiling)
    got = chance_of(x, model)
    assert got.tobytes() == want.tobytes()
    assert x.tobytes() == np.array(log_odds, dtype=np.float64).tobytes()  # its argument unchanged


# -- the ranking without lexsort is lexsort's ---------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, -0.0, 0.05, 0.07, 0.2, 0.3, 1e-9]),
            st.sampled_from([0.0, -0.0, 5.0, 10.0, -3.0]),
            st.booleans(),
        ),
        min_size=0,
        max_size=60,
    ),
    st.randoms(use_true_random=False),
)
def test_priority_order_is_lexsorts(rows: list[tuple[float, float, bool]], rnd: Any) -> None:
    from smartpick_rules.runtime.list_stage import id_order, priority_order

    ids = [f"p{k:03d}" for k in range(len(rows))]
    rnd.shuffle(ids)  # catalog order is not id order
    catalog = sr.catalog_from_data([{"id": pid, "name": pid, "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community", "city": "Los Angeles", "positions": 10} for pid in ids])
    chance = np.array([r[0] for r in rows], dtype=np.float64)
    priority = np.array([r[1] for r in rows], dtype=np.float64)
    candidates = np.array([r[2] for r in rows], dtype=np.bool_)
    rank = np.argsort(np.argsort(np.array(ids, dtype=object), kind="stable"), kind="stable")
    idx = np.flatnonzero(candidates)
    want = idx[np.lexsort((rank[idx], -chance[idx], -priority[idx]))]
    assert priority_order(catalog, priority, chance, candidates).tolist() == want.tolist()
    assert id_order(catalog, candidates).tolist() == idx[np.argsort(rank[idx], kind="stable")].tolist()
