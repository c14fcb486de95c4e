"""Native vs durable engine: median ``evaluate`` time, peak memory, and RSS over many evaluations.

    python benchmarks/engines.py                       # 6,000 programs x 100 rules, 5 runs each
    python benchmarks/engines.py --programs 2000 --runs 7 --rss-evaluations 200

Each engine runs in its own fresh process (so one's memory does not count against the other):
the process builds the synthetic catalog and rule set (benchmarks/synthetic.py), evaluates once
to compile and warm the caches, then times ``--runs`` evaluations and reports the median. Peak
memory is measured three ways: the high-water RSS of the process above its level before the
first evaluation, the peak RSS of the durable engine's worker processes (where durable_rules'
C allocations live; the engine runs out of process), and tracemalloc's peak of Python
allocations during one more evaluation. A last process runs ``--rss-evaluations`` durable
evaluations on a smaller catalog and prints its RSS and its workers' as it goes: it must stay
flat (each evaluation deletes its durable_rules state).

``evaluate`` returns lazily built per-program results; the time measured is the engine's work
plus ranking and the list stage, not rendering 6,000 audit trails (``to_json``), which is
shared code and the same for both engines.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _rss_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _max_rss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def _workers_kib(ruleset: Any, engine: str, field: str = "VmRSS:") -> int:
    """The durable engine's worker processes (where durable_rules keeps its memory): their RSS
    (``VmRSS:``) or peak RSS (``VmHWM:``), summed; 0 for the native engine."""
    if engine != "durable":
        return 0
    from smartpick_rules.engines import compile_ruleset

    total = 0
    for pid in compile_ruleset(ruleset, "durable").worker_pids():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def _limits() -> Any:
    """A workload this size is beyond the default work budget for the durable engine (a unit per
    rule per candidate asserted, chaining included): a benchmark of speed raises it."""
    import smartpick_rules as sr

    return sr.Limits(max_work=100_000_000, max_firings=10_000_000)


def _inputs(programs: int, rules: int, seed: int) -> tuple[Any, Any, Any]:
    from synthetic import synthetic_catalog, synthetic_profile, synthetic_rules_toml

    import smartpick_rules as sr
    from smartpick_rules.ruleset.load import load_rules_from_text

    catalog = synthetic_catalog(programs, seed)
    ruleset = load_rules_from_text([(f"synthetic_{rules}.toml", synthetic_rules_toml(rules, seed))])
    profile = sr.profile_from_data(synthetic_profile(seed))
    return profile, catalog, ruleset


def child_time(engine: str, programs: int, rules: int, seed: int, runs: int) -> dict[str, Any]:
    import smartpick_rules as sr

    profile, catalog, ruleset = _inputs(programs, rules, seed)
    base_rss = _rss_kib()
    t0 = time.perf_counter()
    rec = sr.evaluate(profile, catalog, ruleset, engine=engine, as_of=2026, limits=_limits())
    first = time.perf_counter() - t0
    fired = sum(len(r.audit) for r in rec.programs)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sr.evaluate(profile, catalog, ruleset, engine=engine, as_of=2026, limits=_limits())
        times.append(time.perf_counter() - t0)
    peak_rss = _max_rss_kib()
    worker_peak = _workers_kib(ruleset, engine, "VmHWM:")
    tracemalloc.start()
    sr.evaluate(profile, catalog, ruleset, engine=engine, as_of=2026, limits=_limits())
    _current, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "engine": engine,
        "first_s": first,
        "times_s": times,
        "median_s": statistics.median(times),
        "rss_before_kib": base_rss,
        "peak_rss_above_kib": max(peak_rss - base_rss, 0),
        #: the durable engine's worker processes, at their peak (their whole RSS: they start empty)
        "worker_peak_rss_kib": worker_peak,
        "tracemalloc_peak_kib": traced_peak // 1024,
        "audit_entries": fired,
    }


def child_rss(programs: int, rules: int, seed: int, evaluations: int) -> dict[str, Any]:
    import smartpick_rules as sr

    profile, catalog, ruleset = _inputs(programs, rules, seed)
    sr.evaluate(profile, catalog, ruleset, engine="durable", as_of=2026, limits=_limits())
    # this process and the engine's workers together: durable_rules' states live in the workers
    samples = [(0, _rss_kib() + _workers_kib(ruleset, "durable"))]
    step = max(evaluations // 4, 1)
    t0 = time.perf_counter()
    for k in range(1, evaluations + 1):
        sr.evaluate(profile, catalog, ruleset, engine="durable", as_of=2026, limits=_limits())
        if k % step == 0 or k == evaluations:
            samples.append((k, _rss_kib() + _workers_kib(ruleset, "durable")))
    return {"samples": samples, "seconds": time.perf_counter() - t0}


def _run_child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--programs", type=int, default=6000)
    ap.add_argument("--rules", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rss-evaluations", type=int, default=1000)
    ap.add_argument("--rss-programs", type=int, default=200)
    ap.add_argument("--engines", default="native,durable")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    ap.add_argument("--child", choices=["time", "rss"], help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child == "time":
        print(json.dumps(child_time(a.engine, a.programs, a.rules, a.seed, a.runs)))
        return 0
    if a.child == "rss":
        print(json.dumps(child_rss(a.rss_programs, a.rules, a.seed, a.rss_evaluations)))
        return 0

    from smartpick_rules.engines.durable import durable_unavailable_reason

    engines = [e for e in a.engines.split(",") if e]
    reason = durable_unavailable_reason()
    if reason and "durable" in engines:
        print(f"durable engine skipped: {reason}")
        engines.remove("durable")
    common = ["--programs", str(a.programs), "--rules", str(a.rules), "--seed", str(a.seed), "--runs", str(a.runs)]
    results = {e: _run_child(["--child", "time", "--engine", e, *common]) for e in engines}

    print(f"evaluate(): {a.programs:,} programs x {a.rules} rules (synthetic, seed {a.seed}), median of {a.runs} runs")
    print(f"Python {sys.version.split()[0]}")
    print()
    header = f"{'engine':8} {'median s':>9} {'min s':>7} {'max s':>7} {'first s':>8} {'peak RSS MiB':>13} {'worker MiB':>11} {'py peak MiB':>12}"
    print(header)
    print("-" * len(header))
    for e, r in results.items():
        print(
            f"{e:8} {r['median_s']:9.3f} {min(r['times_s']):7.3f} {max(r['times_s']):7.3f} {r['first_s']:8.3f} "
            f"{r['peak_rss_above_kib'] / 1024:13.1f} {r.get('worker_peak_rss_kib', 0) / 1024:11.1f} {r['tracemalloc_peak_kib'] / 1024:12.1f}"
        )
    if "native" in results and "durable" in results:
        ratio = results["durable"]["median_s"] / results["native"]["median_s"]
        print()
        print(f"durable / native median time: {ratio:.2f}x")
        target = "met" if results["durable"]["median_s"] <= 2.0 else "NOT met"
        print(f"target durable <= 2 s median: {target} ({results['durable']['median_s']:.3f} s)")
    if "durable" in engines and a.rss_evaluations > 0:
        rss = _run_child(
            ["--child", "rss", "--rss-programs", str(a.rss_programs), "--rules", str(a.rules), "--seed", str(a.seed),
             "--rss-evaluations", str(a.rss_evaluations)]
        )
        print()
        print(f"durable RSS over {a.rss_evaluations:,} evaluations ({a.rss_programs} programs x {a.rules} rules, {rss['seconds']:.1f} s):")
        first = rss["samples"][0][1]
        for k, kib in rss["samples"]:
            print(f"  after {k:>5} evaluations: {kib / 1024:8.1f} MiB  ({(kib - first) / 1024:+.1f})")
        results["rss"] = rss
    if a.json:
        print()
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
