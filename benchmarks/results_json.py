"""Issue 14's result targets, measured in one run and printed as MET / NOT MET.

    .venv/bin/python benchmarks/results_json.py [--rounds 7]

On the shipped 5,301-program sample catalog (``sr.sample_catalog_path()``), the shipped rule
sets and ``examples/profiles/default.toml`` (as of 2026):

* ``rec.to_json()`` (``detail="full"``) <= 3 MB and <= 100 ms;
* ``rec.chosen()`` <= 5 ms.

Each round evaluates afresh (nothing an earlier round built is reused) and times the call alone,
in CPU time; the figure is the median of the rounds. ``to_json(detail="chosen")`` is printed for
information.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path
from typing import Any

import smartpick_rules as sr

ROOT = Path(__file__).resolve().parent.parent
AS_OF = 2026


def measure(rounds: int) -> dict[str, Any]:
    catalog = sr.load_catalog(sr.sample_catalog_path())
    profile = sr.load_profile(ROOT / "examples" / "profiles" / "default.toml")
    rules = sr.load_rules()
    warm = sr.evaluate(profile, catalog, rules, as_of=AS_OF)
    warm.to_json()
    warm.chosen()
    out: dict[str, Any] = {"programs": len(catalog)}
    for name, call in (
        ("to_json_full", lambda r: r.to_json()),
        ("to_json_chosen", lambda r: r.to_json(detail="chosen")),
        ("chosen", lambda r: r.chosen()),
    ):
        times = []
        for _ in range(rounds):
            fresh = sr.evaluate(profile, catalog, rules, as_of=AS_OF)
            gc.collect()
            t0 = time.process_time()
            value = call(fresh)
            times.append(time.process_time() - t0)
        out[f"{name}_s"] = statistics.median(times)
        if isinstance(value, str):
            out[f"{name}_bytes"] = len(value.encode("utf-8"))
        else:
            out[f"{name}_count"] = len(value)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args(argv)
    m = measure(a.rounds)
    rows = [
        ("to_json() full: size", f"{m['to_json_full_bytes'] / 1e6:.2f} MB", "<= 3 MB", m["to_json_full_bytes"] <= 3_000_000),
        ("to_json() full: CPU time", f"{m['to_json_full_s'] * 1e3:.0f} ms", "<= 100 ms", m["to_json_full_s"] <= 0.1),
        (f"chosen() ({m['chosen_count']} programs)", f"{m['chosen_s'] * 1e3:.1f} ms", "<= 5 ms", m["chosen_s"] <= 0.005),
        (
            "  for information: to_json(detail='chosen')",
            f"{m['to_json_chosen_bytes'] / 1e6:.2f} MB, {m['to_json_chosen_s'] * 1e3:.0f} ms",
            "",
            None,
        ),
    ]
    print(f"Issue 14's result targets ({m['programs']:,}-program sample catalog, default profile; CPU time, median of {a.rounds} rounds)")
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for name, measured, target, ok in rows:
        status = "" if ok is None else "MET" if ok else "NOT MET"
        print(f"{name:{w0}}  {measured:{w1}}  {target:>9}  {status}")
    met = sum(1 for *_x, ok in rows if ok)
    print(f"\n{met} of {sum(1 for *_x, ok in rows if ok is not None)} targets met.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
