"""The durable engine cannot hang or crash the host (issue 11, item 2).

durable_rules' C core runs in worker processes (engines/durable/worker.py) with a deadline on
every call; shapes measured to hang it are refused at compile time. These tests run the engine
in this process: what they check is exactly that nothing reaches it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

import smartpick_rules as sr
from smartpick_rules.engines import available_engines, compile_ruleset
from smartpick_rules.engines.durable import compile_stage, lowering
from smartpick_rules.engines.durable.host import WorkerFailed, WorkerPool, wait_for_exit
from smartpick_rules.limits import DEFAULT_LIMITS
from smartpick_rules.plan import plan_ruleset
from smartpick_rules.ruleset.load import load_rules_from_text

needs_durable = pytest.mark.skipif("durable" not in available_engines(), reason="durable_rules does not import on this Python")

PROGRAMS = [
    {"id": f"p{i}", "name": "P", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community", "positions": i}
    for i in range(1, 8)
]
PROFILE = {"graduation_year": 2019}
LIMITS = attrs.evolve(DEFAULT_LIMITS, max_expression_length=20_000)


def membership_rules(*sizes: int, prefix: str = "") -> sr.RuleSet:
    """One program rule per size: ``program.positions in [...]`` with that many distinct values."""
    text = '[ruleset]\nname = "x"\n'
    start = 0
    for r, k in enumerate(sizes):
        values = ", ".join(str(start + j) for j in range(k))
        start += k
        text += f'[[rule]]\nid = "x.r{r}"\nstage = "program"\nwhen = "{prefix}program.positions in [{values}]"\nthen = {{ tag = "t{r}" }}\n'
    return load_rules_from_text([("x.toml", text)], limits=LIMITS)


def same_as_native(rules: sr.RuleSet, limits: sr.Limits = LIMITS) -> None:
    a = sr.evaluate(PROFILE, PROGRAMS, rules, engine="durable", as_of=2026, limits=limits)
    b = sr.evaluate(PROFILE, PROGRAMS, rules, engine="native", as_of=2026, limits=limits)
    blank = attrs.evolve(a.provenance, engine="*")
    assert attrs.evolve(a, provenance=blank).to_json() == attrs.evolve(b, provenance=attrs.evolve(b.provenance, engine="*")).to_json()


# -- shapes that hang the C core are refused at compile time (no durable_rules call) --------------


@pytest.mark.parametrize("sizes", [(512,), (1000,)])
def test_a_rule_with_more_alternatives_than_the_c_core_takes_is_refused(sizes: tuple[int, ...]) -> None:
    plan = plan_ruleset(membership_rules(*sizes), LIMITS)
    with pytest.raises(sr.RulesetError) as info:
        compile_stage(plan.program, {})
    d = info.value.diagnostics[0]
    assert d.code == "unsupported" and d.rule_id == "x.r0" and "511" in d.message


def test_alternatives_adding_up_across_rules_go_to_separate_rule_sets() -> None:
    # 270 + 270 distinct values hanging from `candidate` in one rule set hung the C core
    code = compile_stage(plan_ruleset(membership_rules(270, 270), LIMITS).program, {})
    assert [len(chunk.rules) for chunk in code.strata[0]] == [1, 1]
    # the same values in two rules share their nodes: one rule set
    code = compile_stage(plan_ruleset(membership_rules(300, 0), LIMITS).program, {})
    assert len(code.strata[0]) == 1


def test_alternatives_behind_a_shared_test_count_for_that_test() -> None:
    rules = membership_rules(300, 300, prefix="program.positions > 3 and ")
    code = compile_stage(plan_ruleset(rules, LIMITS).program, {})
    assert len(code.strata[0]) == 2


def test_the_alpha_network_model_matches_what_was_measured() -> None:
    net = lowering.AlphaNetwork()
    eq = [lowering._Test("$eq", "program.positions", k) for k in range(511)]
    assert net.add(lowering._and([lowering.CANDIDATE, lowering._or(eq, exclusive=True)]))
    # the 512th child of `candidate` is refused, and nothing of it is kept
    assert not net.add(lowering._and([lowering.CANDIDATE, lowering._Test("$eq", "program.positions", 999)]))
    assert net.needed == 512 and max(net.counts.values()) == 511
    # `$nex` tests live in another list: they do not count
    assert net.add(lowering._and([lowering.CANDIDATE, lowering._Test("$nex", "fired.x")]))


@needs_durable
@pytest.mark.parametrize("sizes", [(511,), (300, 300), (270, 270, 270)])
def test_wide_rules_within_the_limit_run_and_agree_with_native(sizes: tuple[int, ...]) -> None:
    same_as_native(membership_rules(*sizes))


# -- a hang or a crash in the worker never reaches the host ----------------------------------------


@pytest.fixture
def no_static_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let through the shapes the compiler refuses, to make the C core hang for real."""
    monkeypatch.setattr(lowering, "MAX_ALPHA_CHILDREN", 10**9)
    yield


@needs_durable
def test_a_hang_while_compiling_is_stopped_at_the_deadline(no_static_guard: None) -> None:
    limits = attrs.evolve(LIMITS, max_engine_seconds=2)
    rules = membership_rules(600)
    ticks = _ticker()
    started = time.monotonic()
    with pytest.raises(sr.RulesetError) as info:
        compile_ruleset(rules, "durable", limits)
    elapsed = time.monotonic() - started
    assert info.value.code == "unsupported" and "did not finish compiling" in str(info.value)
    assert "max_engine_seconds" in (info.value.diagnostics[0].help or "")
    assert elapsed < 30
    # the host kept running while the worker hung (the C core holds the GIL of its own process)
    assert ticks() > 5


@pytest.mark.slow
@needs_durable
def test_a_hang_while_matching_is_stopped_and_the_next_call_still_answers(no_static_guard: None) -> None:
    limits = attrs.evolve(LIMITS, max_engine_seconds=2)
    rules = membership_rules(512)  # compiles, then every match loops forever
    compiled = compile_ruleset(rules, "durable", limits)
    for _ in range(2):  # each time a fresh worker, each time stopped
        with pytest.raises(sr.EvaluationError) as info:
            sr.evaluate(PROFILE, PROGRAMS, rules, engine="durable", as_of=2026, limits=limits)
        assert info.value.code == "budget_exceeded" and "max_engine_seconds" in (info.value.diagnostics[0].help or "")
        assert len(compiled.worker_pids()) <= compiled.pool_size
    same_as_native(membership_rules(10))  # another rule set, meanwhile, is unaffected


@needs_durable
def test_a_worker_killed_between_evaluations_is_replaced() -> None:
    rules = membership_rules(20)
    compiled = compile_ruleset(rules, "durable", LIMITS)
    same_as_native(rules)
    for pid in compiled.worker_pids():
        os.kill(pid, signal.SIGKILL)
    assert wait_for_exit(compiled.worker_pids() or [], timeout=5) or True
    same_as_native(rules)
    assert compiled.worker_pids()


@needs_durable
def test_a_crash_in_the_c_core_is_a_typed_error() -> None:
    # durable_rules 2.0.28 keeps a fact's property count in an unsigned char: a fact with 300
    # properties corrupts it, and the next call segfaults (the lowering never writes one)
    definitions: dict[str, Any] = {"rs": {"r": {"all": [{"m": {"candidate": True}}], "run": "r"}}}
    pool = WorkerPool(definitions, 1, deadline=20.0)
    worker = pool.acquire()
    props = ",".join(f'"p{k}":{k}' for k in range(300))
    fact = f'[{{"sid":"s","id":1,"candidate":true,{props}}}]'.encode()
    retract = b'[{"sid":"s","id":1}]'
    with pytest.raises(WorkerFailed) as info:
        for _ in range(5):
            worker.call({"op": "run", "sid": "s", "chunks": [["rs", 2]]}, [fact, retract, fact, retract])
    assert "died" in str(info.value) or "exited" in str(info.value) or "answer" in str(info.value)
    assert not worker.alive
    pool.discard(worker)
    pool.close()


@needs_durable
def test_workers_stop_with_their_rule_set() -> None:
    rules = membership_rules(5)
    pids = compile_ruleset(rules, "durable", LIMITS).worker_pids()
    assert pids
    del rules
    import gc

    gc.collect()
    assert wait_for_exit(pids, timeout=10)


@needs_durable
def test_threads_share_the_pool() -> None:
    rules = membership_rules(50)
    compiled = compile_ruleset(rules, "durable", LIMITS)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                same_as_native(rules)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert 1 <= len(compiled.worker_pids()) <= compiled.pool_size


def _ticker() -> Any:
    """Count ticks of a thread of this process, to show it is not blocked."""
    count = [0]
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.1):
            count[0] += 1

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def read() -> int:
        stop.set()
        return count[0]

    return read
