"""benchmarks/peers.py on a tiny workload: every peer's firings and score deltas equal ours.

The benchmark asserts the same agreement at full size before it prints a figure; this keeps the
translations (plain Python, numpy, rule-engine, zen-engine, durable_rules) honest in the test
suite. Peers from the optional extra ``bench`` are skipped, with the reason, when not installed.
No timing is asserted here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import peers  # noqa: E402

import smartpick_rules as sr  # noqa: E402

PROGRAMS, RULES, SEED = 150, 24, 3


@pytest.fixture(scope="module")
def workload() -> peers.Workload:
    return peers.Workload(PROGRAMS, RULES, SEED)


@pytest.fixture(scope="module")
def ours(workload: peers.Workload) -> dict[str, Any]:
    rec = sr.evaluate(workload.profile, workload.catalog, workload.ruleset(), as_of=peers.AS_OF)
    fired, deltas, tags = peers.ours_firings(workload, rec)
    return {"fired": sorted(fired), "deltas": deltas, "tags": sorted(tags)}


def _needs(module: str, extra: str = "bench") -> None:
    if importlib.util.find_spec(module.split(".")[0]) is None:
        pytest.skip(f"{module} is not installed (optional extra `{extra}`)")


@pytest.mark.parametrize("peer", ["python", "numpy", "rule_engine", "zen"])
def test_peer_agrees_with_native(peer: str, workload: peers.Workload, ours: dict[str, Any]) -> None:
    if peer == "rule_engine":
        _needs("rule_engine")
    if peer == "zen":
        _needs("zen")
    cls = {"python": peers.PythonPeer, "numpy": peers.NumpyPeer, "rule_engine": peers.RuleEnginePeer, "zen": peers.ZenPeer}[peer]
    engine = cls(workload)
    if peer == "numpy":
        firings, deltas_arr = engine.run()
        index = {rid: i for i, rid in enumerate(workload.rule_ids)}
        pindex = {pid: i for i, pid in enumerate(workload.pids)}
        fired = [(index[r], pindex[p]) for r, p, _d in firings]
        deltas = deltas_arr.tolist()
    else:
        fired, deltas = engine.run()
    assert ours["fired"], "the tiny workload should fire some program rules"
    assert sorted(fired) == ours["fired"]
    assert deltas == ours["deltas"]
    assert sorted(workload.profile_tags) == ours["tags"]


def test_durable_rules_peer_agrees_in_its_own_process() -> None:
    # durable_rules' C core is process-global; the benchmark runs it in a child, and so does this
    reason = peers.missing_module("durable_rules")
    if reason:
        pytest.skip(reason)
    common = ["--programs", str(PROGRAMS), "--rules", str(RULES), "--seed", str(SEED), "--rounds", "1"]
    results = {p: peers.run_child(["--child", p, *common], timeout=120) for p in ("python", "durable_rules")}
    assert "agree" in peers.check_agreement(results)


def test_disagreement_is_refused() -> None:
    base = {"programs": 2, "program_rules": 1, "profile_tags": [], "rule_ids": ["r"], "fired_rule": [0], "fired_program": [1], "deltas": [0.0, 1.0]}
    other = {**base, "fired_program": [0], "deltas": [1.0, 0.0]}
    with pytest.raises(SystemExit, match="DISAGREE"):
        peers.check_agreement({"a": base, "b": other})
