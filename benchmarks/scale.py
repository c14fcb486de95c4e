"""How the library scales: one run prints every figure docs/performance.md records.

    .venv/bin/python benchmarks/scale.py            # the full run (several minutes on 2 cores)
    .venv/bin/python benchmarks/scale.py --quick    # fewer repetitions and sizes, to check it works
    .venv/bin/python benchmarks/scale.py --json out.json

Figures:

1. one evaluation (``evaluate``, the shipped rule sets, one example profile) against synthetic
   catalogs of 1,000 / 6,000 / 60,000 programs: the first call on a new catalog (which builds
   its column arrays) and the median of the following calls;
2. ``to_json()`` of one recommendation at 6,000 programs (builds every program's audit trail);
3. cohort throughput of :func:`smartpick_rules.cohort.evaluate_many` in profiles per second:
   in-process, and on a process pool of 1 and 2 workers;
0. resident memory (RSS) at the start and end of 10,000 evaluations (the 40-program example
   catalog, profiles rotating), to show nothing accumulates (run first, while the process is small);
5. the what-if ``levers`` time on the shipped 1,769-program catalog, if smartpick_rules.whatif
   is there.

Synthetic catalogs come from benchmarks/synthetic.py (``synthetic_catalog(n, seed)``); if it is
missing, a small generator here stands in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import smartpick_rules as sr  # noqa: E402
from smartpick_rules.cohort import evaluate_many  # noqa: E402

AS_OF = 2026
#: cohort timings are the median of this many runs (the machine is shared: single runs are noisy)
REPEATS = 3


def _synthetic() -> tuple[Callable[[int, int], sr.Catalog], Callable[[int], dict[str, Any]]]:
    try:
        from synthetic import synthetic_catalog, synthetic_profile

        return synthetic_catalog, synthetic_profile
    except ImportError:  # benchmarks/synthetic.py not there: a stand-in
        import random

        def catalog(n: int, seed: int = 0) -> sr.Catalog:
            rnd = random.Random(seed)
            regions = ["la_county", "orange_county", "kern", "san_diego", "out_of_state"]
            return sr.catalog_from_data(
                [
                    {
                        "id": f"syn-{i:05d}",
                        "name": f"Program {i}",
                        "specialty": rnd.choice(["internal_medicine", "family_medicine", "pediatrics"]),
                        "state": "CA",
                        "region": rnd.choice(regions),
                        "program_type": rnd.choice(["community", "university", "county_safety_net"]),
                        "min_step2_ck": rnd.choice([None, 215, 225, 240]),
                        "sponsors_j1": rnd.random() < 0.6,
                        "img_share": round(rnd.random(), 2),
                    }
                    for i in range(n)
                ],
                limits=sr.Limits(max_programs=10**6),
            )

        def profile(seed: int = 0) -> dict[str, Any]:
            rnd = random.Random(seed)
            return {"id": f"p{seed}", "graduation_year": rnd.randrange(2010, 2025), "step2_ck": {"score": rnd.randrange(205, 260)}}

        return catalog, profile


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    return {
        "date": dt.date.today().isoformat(),
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "smartpick_rules": sr.__version__,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def bench_sizes(rules: sr.RuleSet, profile: sr.Profile, sizes: list[int], reps: int) -> list[dict[str, Any]]:
    make_catalog, _ = _synthetic()
    limits = sr.Limits(max_programs=max(sizes) * 2)
    out = []
    for n in sizes:
        catalog = make_catalog(n, 1)
        first, _ = timed(lambda c=catalog: sr.evaluate(profile, c, rules, as_of=AS_OF, limits=limits))
        times = [timed(lambda c=catalog: sr.evaluate(profile, c, rules, as_of=AS_OF, limits=limits))[0] for _ in range(reps)]
        med = statistics.median(times)
        out.append({"programs": n, "first_s": first, "median_s": med, "min_s": min(times), "us_per_program": med / n * 1e6, "reps": reps})
        print(f"  {n:>7,} programs: first {first * 1000:8.1f} ms, median {med * 1000:8.1f} ms of {reps} "
              f"({med / n * 1e6:.1f} µs/program)", flush=True)
    return out


def bench_to_json(rules: sr.RuleSet, profile: sr.Profile, n: int, reps: int) -> dict[str, Any]:
    make_catalog, _ = _synthetic()
    catalog = make_catalog(n, 1)
    sr.evaluate(profile, catalog, rules, as_of=AS_OF)
    times = []
    size = 0
    for _ in range(reps):
        rec = sr.evaluate(profile, catalog, rules, as_of=AS_OF)  # a fresh one: nothing built yet
        t, text = timed(rec.to_json)
        times.append(t)
        size = len(text.encode("utf-8"))
    med = statistics.median(times)
    print(f"  to_json() at {n:,} programs: median {med * 1000:.0f} ms of {reps}, {size / 2**20:.1f} MiB", flush=True)
    return {"programs": n, "median_s": med, "bytes": size, "reps": reps}


def bench_cohort(rules: sr.RuleSet, catalog: sr.Catalog, label: str, n_profiles: int, n_full: int) -> list[dict[str, Any]]:
    """Profiles per second: in-process (results lazy, or every program's result built, which is
    the work a remote worker does before sending), and process pools sending all or the chosen programs."""
    _, make_profile = _synthetic()
    everyone = [make_profile(seed) for seed in range(max(n_profiles, n_full))]
    evaluate_many(everyone[:2], catalog, rules, as_of=AS_OF)  # warm: compiled plan, catalog columns

    def built(profiles: list[Any]) -> list[Any]:
        results = evaluate_many(profiles, catalog, rules, as_of=AS_OF)
        for r in results:
            if isinstance(r, sr.Recommendation):
                list(r.programs)
        return results

    out = []
    modes: list[tuple[str, int | None, str]] = [
        ("in-process, lazy results", None, "lazy"),
        ("in-process, all results built", None, "built"),
        ("process pool x1, detail=full", 1, "full"),
        ("process pool x2, detail=full", 2, "full"),
        ("process pool x1, detail=chosen", 1, "chosen"),
        ("process pool x2, detail=chosen", 2, "chosen"),
    ]
    for name, workers, detail in modes:
        profiles = everyone[: n_full if detail in ("full", "built") else n_profiles]
        times = []
        if workers is None:
            for _ in range(REPEATS):
                if detail == "built":
                    t, results = timed(lambda ps=profiles: built(ps))
                else:
                    t, results = timed(lambda ps=profiles: evaluate_many(ps, catalog, rules, as_of=AS_OF))
                times.append(t)
        else:
            with ProcessPoolExecutor(workers) as ex:
                evaluate_many(everyone[: 2 * workers], catalog, rules, as_of=AS_OF, executor=ex, chunk_size=1)  # start workers
                for _ in range(REPEATS):
                    t, results = timed(
                        lambda ex=ex, d=detail, ps=profiles: evaluate_many(ps, catalog, rules, as_of=AS_OF, executor=ex, detail=d)
                    )
                    times.append(t)
        t = statistics.median(times)
        failed = sum(1 for r in results if isinstance(r, sr.SmartpickError))
        rate = len(profiles) / t
        out.append({"catalog": label, "mode": name, "workers": workers, "detail": detail, "profiles": len(profiles),
                    "seconds": t, "runs": times, "profiles_per_s": rate, "failed": failed})
        print(f"  {label}: {name:<32} {rate:8.1f} profiles/s ({len(profiles)} profiles in {t:.1f} s, median of {REPEATS}; "
              f"{failed} refused)",
              flush=True)
    return out


def bench_memory(rules: sr.RuleSet, n: int) -> dict[str, Any]:
    catalog = sr.load_catalog(ROOT / "examples" / "small_catalog.csv")
    profiles = [sr.load_profile(p) for p in sorted((ROOT / "examples" / "profiles").glob("*.toml"))]
    for p in profiles:
        sr.evaluate(p, catalog, rules, as_of=AS_OF).to_json()
    gc.collect()
    start, objects_start = rss_mb(), len(gc.get_objects())
    marks = []
    t0 = time.perf_counter()
    for k in range(n):
        rec = sr.evaluate(profiles[k % len(profiles)], catalog, rules, as_of=AS_OF)
        if k % 100 == 0:
            rec.to_json()
        if (k + 1) % (n // 4) == 0:
            marks.append(round(rss_mb(), 1))
    elapsed = time.perf_counter() - t0
    gc.collect()
    end, objects_end = rss_mb(), len(gc.get_objects())
    print(f"  {n:,} evaluations ({len(catalog)} programs, {len(profiles)} profiles rotating) in {elapsed:.0f} s: "
          f"RSS {start:.1f} MiB -> {end:.1f} MiB (quarters: {', '.join(map(str, marks))}); "
          f"live objects {objects_start:,} -> {objects_end:,}", flush=True)
    return {"evaluations": n, "catalog_programs": len(catalog), "rss_start_mib": start, "rss_end_mib": end,
            "rss_quarters_mib": marks, "objects_start": objects_start, "objects_end": objects_end, "seconds": elapsed}


def bench_levers(rules: sr.RuleSet, profile: sr.Profile, reps: int) -> dict[str, Any] | None:
    try:
        from smartpick_rules import whatif
    except ImportError:
        print("  smartpick_rules.whatif is not there yet: skipped", flush=True)
        return None
    catalog = sr.load_catalog(sr.sample_catalog_path())
    t_setup, ev = timed(lambda: whatif.Evaluator(catalog, rules, as_of=AS_OF))
    first, results = timed(lambda: whatif.levers(ev, profile))
    times = [timed(lambda: whatif.levers(ev, profile))[0] for _ in range(reps)]
    med = statistics.median(times)
    print(f"  levers on the shipped catalog ({len(catalog):,} programs, {len(results)} levers): "
          f"first {first:.2f} s, median {med:.2f} s of {reps} (Evaluator setup {t_setup * 1000:.0f} ms)", flush=True)
    return {"programs": len(catalog), "levers": len(results), "first_s": first, "median_s": med, "reps": reps}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and few repetitions, to check the script works")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    quick = args.quick
    info = machine()
    print(f"smartpick_rules {info['smartpick_rules']} on {info['cpu']} ({info['cores']} cores), Python {info['python']}, "
          f"numpy {info['numpy']}, {info['date']}; load average at start {info['load_average']}", flush=True)
    rules = sr.load_rules()
    profile = sr.load_profile(ROOT / "examples" / "profiles" / "default.toml")
    sr.compile_ruleset(rules)
    results: dict[str, Any] = {"machine": info}

    # first, while the process is small: RSS then shows only what evaluations themselves keep
    print("\n0. Memory over repeated evaluations")
    results["memory"] = bench_memory(rules, 1_000 if quick else 10_000)

    print("\n1. One evaluation (shipped rule sets, examples/profiles/default.toml, synthetic catalog)")
    results["evaluate"] = bench_sizes(rules, profile, [1_000, 6_000] if quick else [1_000, 6_000, 60_000], 3 if quick else 7)
    print("\n2. Serialising one recommendation")
    results["to_json"] = bench_to_json(rules, profile, 6_000, 2 if quick else 5)
    print("\n3. Cohort throughput (evaluate_many; synthetic profiles)")
    small = sr.load_catalog(ROOT / "examples" / "small_catalog.csv")
    shipped = sr.load_catalog(sr.sample_catalog_path())
    results["cohort"] = bench_cohort(rules, small, f"{len(small)}-program example catalog", 40 if quick else 400, 40 if quick else 400)
    results["cohort"] += bench_cohort(rules, shipped, f"{len(shipped):,}-program shipped catalog", 20 if quick else 200, 4 if quick else 24)
    print("\n5. What-if levers")
    results["levers"] = bench_levers(rules, profile, 1 if quick else 3)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
