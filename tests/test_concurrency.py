"""Compiled rule sets are immutable and shared: 16 threads give serial results; no state leaks.

The memory check here is a bounded one (a few hundred evaluations, Python objects and RSS);
benchmarks/scale.py prints RSS over 10,000 evaluations.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import fixtures
import smartpick_rules as sr
from smartpick_rules.engines import available_engines
from smartpick_rules.ruleset.load import load_rules_from_text

ROOT = Path(__file__).resolve().parent.parent
THREADS = 16

RULES = """
[ruleset]
name = "conc"
[chance]
base = 0.08
target = 0.06
likely = 0.15
[[estimate]]
name = "screen"
start = 226
[[group]]
name = "academic"
programs = "program.program_type == 'university' or 'academic_flagship' in program.tags"
[[group]]
name = "away"
programs = "program.region == 'out_of_state'"
[[rule]]
id = "conc.university_screen"
stage = "program"
when = "program.program_type == 'university'"
then = { estimate = { screen = 6 } }
[[rule]]
id = "conc.below_screen"
stage = "program"
when = ["known(applicant.step2_ck.score)", "not known(program.min_step2_ck)", "applicant.step2_ck.score < estimate.screen"]
then = { odds = "exp((applicant.step2_ck.score - estimate.screen) / 10)", chance_cap = "0.3 if has('low_ck') else 0.6" }
[[rule]]
id = "conc.low_ck"
stage = "profile"
when = "known(applicant.step2_ck.score) and applicant.step2_ck.score < 230"
then = { tag = "low_ck", odds = 0.67032, set = { band = "low" } }
explain = "CK {applicant.step2_ck.score}"
[[rule]]
id = "conc.old_grad"
stage = "profile"
when = "years_since(applicant.graduation_year) > 5"
then = { tag = "old_grad", advice = "Graduated {applicant.graduation_year}" }
[[rule]]
id = "conc.min_ck"
stage = "program"
salience = 20
when = ["known(program.min_step2_ck)", "applicant.step2_ck.score < program.min_step2_ck"]
then = { exclude = "Step 2 CK {applicant.step2_ck.score} below {program.min_step2_ck}" }
[[rule]]
id = "conc.yog"
stage = "program"
salience = 20
when = ["known(program.max_years_since_graduation)", "years_since(applicant.graduation_year) > program.max_years_since_graduation"]
then = { exclude = "graduated too long ago" }
[[rule]]
id = "conc.la"
stage = "program"
when = "program.region in ['la_county', 'orange_county']"
then = { tag = "socal", odds = 1.82212, priority = 5 }
[[rule]]
id = "conc.friendly"
stage = "program"
when = "has('socal') and known(program.img_share) and program.img_share > 0.2"
then = { tag = "friendly", odds = 1.64872 }
[[rule]]
id = "conc.community"
stage = "program"
when = "program.program_type != 'university' and not has('friendly')"
then = { odds = 1.2214 }
[[rule]]
id = "conc.flagship_reach"
stage = "program"
salience = 5
when = "has('low_ck') and 'academic_flagship' in program.tags"
then = { tier_at_most = "reach", odds = 0.449329 }
[[rule]]
id = "conc.visa"
stage = "program"
when = "applicant.visa == 'j1' and not program.sponsors_j1"
then = { exclude = "no J-1 sponsorship" }
[[rule]]
id = "conc.breadth"
stage = "list"
when = "list.size > 0"
then = { breadth = { min = "min(list.size, 10)", max = "min(list.size, 25)" }, at_most = { academic = 3 }, at_least = { away = 2 }, set = { interview_target = 2 } }
[[rule]]
id = "conc.review"
stage = "list"
when = "list.expected_interviews < list.interview_target"
then = { advice = "{list.chosen_count} programs make {list.expected_interviews} expected interviews" }
"""


@pytest.fixture(scope="module")
def catalog(small_catalog: sr.Catalog) -> sr.Catalog:
    return small_catalog


@pytest.fixture(scope="module")
def profiles() -> list[sr.Profile]:
    return [sr.load_profile(p) for p in sorted((ROOT / "examples" / "profiles").glob("*.toml"))]


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads every 10 µs instead of 5 ms, so races show up in a short test."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def fresh_rules() -> sr.RuleSet:
    return load_rules_from_text([("conc.toml", RULES)])


@pytest.mark.parametrize("engine", available_engines())
def test_sixteen_threads_give_the_serial_results(
    engine: str, catalog: sr.Catalog, profiles: list[sr.Profile], fast_switching: None
) -> None:
    serial = [sr.evaluate(p, catalog, fresh_rules(), engine=engine, as_of=2026).to_json() for p in profiles]
    shared = fresh_rules()  # not compiled yet: the threads race to compile it too
    barrier = threading.Barrier(THREADS)

    def work(t: int) -> list[tuple[int, str]]:
        barrier.wait()
        out = []
        for k in range(len(profiles)):
            i = (t + k) % len(profiles)  # every thread walks the profiles from a different start
            out.append((i, sr.evaluate(profiles[i], catalog, shared, engine=engine, as_of=2026).to_json()))
        return out

    with ThreadPoolExecutor(THREADS) as ex:
        runs = list(ex.map(work, range(THREADS)))
    for run in runs:
        for i, text in run:
            assert text == serial[i], f"thread result for profile {i} differs from the serial run"
    # analysis: kept by the loader; every key for the default limits, none added by the threads
    limits = sr.DEFAULT_LIMITS
    assert set(shared.compiled_cache()) == {("analysis", limits), ("plan", limits), f"engine:{engine}:{limits!r}"}


def test_one_recommendation_read_from_sixteen_threads(
    catalog: sr.Catalog, profiles: list[sr.Profile], fast_switching: None
) -> None:
    """Per-program results are built lazily; concurrent readers must all see the same thing."""
    rules = fresh_rules()
    expected = sr.evaluate(profiles[0], catalog, rules, as_of=2026)
    expected_json = expected.to_json()
    ids = [r.program.id for r in expected.programs]
    expected_why = {pid: expected.why_not(pid) for pid in ids}
    shared = sr.evaluate(profiles[0], catalog, rules, as_of=2026)  # nothing built yet
    barrier = threading.Barrier(THREADS)

    def work(t: int) -> tuple[str, bool]:
        barrier.wait()
        why_ok = all(shared.why_not(pid) == expected_why[pid] for pid in ids[t % 4 :: 4])
        return shared.to_json(), why_ok

    with ThreadPoolExecutor(THREADS) as ex:
        for text, why_ok in ex.map(work, range(THREADS)):
            assert text == expected_json and why_ok


@pytest.mark.parametrize("engine", available_engines())
def test_one_session_shared_by_sixteen_threads(
    engine: str, catalog: sr.Catalog, profiles: list[sr.Profile], fast_switching: None
) -> None:
    """One Session, made once and used by every thread: evaluate, explain, why-not and what-if
    give what a session of one's own gives serially."""
    alone = sr.Session(fresh_rules(), catalog, engine=engine, as_of=2026)
    serial = [alone.evaluate(p) for p in profiles]
    serial_json = [r.to_json() for r in serial]
    pids = [r.programs[0].program.id for r in serial]
    serial_explain = [alone.explain(p, pid) for p, pid in zip(profiles, pids, strict=True)]
    change = ["preferences.long_term_la_plan=true"]
    serial_whatif = [alone.whatif(p, change).to_dict() for p in profiles]
    shared = sr.Session(fresh_rules(), catalog, engine=engine, as_of=2026)
    barrier = threading.Barrier(THREADS)

    def work(t: int) -> list[str]:
        barrier.wait()
        wrong = []
        for k in range(len(profiles)):
            i = (t + k) % len(profiles)
            rec = shared.evaluate(profiles[i])
            if rec.to_json() != serial_json[i]:
                wrong.append(f"evaluate {i}")
            if k % 3 == t % 3:  # explanations and what-ifs for a third of the profiles per thread
                if shared.explain(rec, pids[i]) != serial_explain[i]:
                    wrong.append(f"explain {i}")
                if shared.whatif(profiles[i], change).to_dict() != serial_whatif[i]:
                    wrong.append(f"whatif {i}")
        return wrong

    with ThreadPoolExecutor(THREADS) as ex:
        wrong = [w for run in ex.map(work, range(THREADS)) for w in run]
    assert not wrong, wrong[:10]
    limits = sr.DEFAULT_LIMITS
    assert set(shared.rules.compiled_cache()) == {("analysis", limits), ("plan", limits), f"engine:{engine}:{limits!r}"}


def test_shipped_rules_across_threads(catalog: sr.Catalog, profiles: list[sr.Profile]) -> None:
    rules = fixtures.shipped_rules()
    serial = {p.id: sr.evaluate(p, catalog, rules, as_of=2026).to_json() for p in profiles}
    with ThreadPoolExecutor(THREADS) as ex:
        got = list(ex.map(lambda p: (p.id, sr.evaluate(p, catalog, rules, as_of=2026).to_json()), profiles * 2))
    assert all(text == serial[pid] for pid, text in got)


def test_evaluation_order_does_not_leak_into_results(catalog: sr.Catalog, profiles: list[sr.Profile]) -> None:
    rules = fresh_rules()
    forward = [sr.evaluate(p, catalog, rules, as_of=2026).to_json() for p in profiles]
    backward = [sr.evaluate(p, catalog, rules, as_of=2026).to_json() for p in reversed(profiles)]
    assert forward == backward[::-1]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc")
def test_memory_and_caches_are_flat_over_repeated_evaluations(catalog: sr.Catalog, profiles: list[sr.Profile]) -> None:
    rules = fresh_rules()

    def burst(n: int) -> None:
        for k in range(n):
            rec = sr.evaluate(profiles[k % len(profiles)], catalog, rules, as_of=2026)
            if k % 10 == 0:
                rec.to_json()
                rec.why_not(rec.programs[0].program.id)

    burst(60)  # warm up: compiled plan, catalog columns, interned strings
    gc.collect()
    objects_before, rss_before = len(gc.get_objects()), _rss_bytes()
    cache_keys = (set(rules.compiled_cache()), set(catalog.column_cache()))
    burst(400)
    gc.collect()
    objects_after, rss_after = len(gc.get_objects()), _rss_bytes()
    assert (set(rules.compiled_cache()), set(catalog.column_cache())) == cache_keys
    assert objects_after - objects_before < 2_000, (objects_before, objects_after)
    assert rss_after - rss_before < 16 * 2**20, (rss_before, rss_after)
