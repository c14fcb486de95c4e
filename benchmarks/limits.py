"""Every phase at the largest input the default limits allow: time and peak memory.

    .venv/bin/python benchmarks/limits.py                 # every phase (a few minutes)
    .venv/bin/python benchmarks/limits.py load_rules eval_vector   # some phases
    .venv/bin/python benchmarks/limits.py --markdown      # the table for docs/security.md

Each phase runs in a fresh process: it builds its input (files in a temporary folder, or models
in memory), then resets the process's peak resident memory (``/proc/self/clear_refs``, Linux)
and times the phase alone. "peak RSS" is the whole process's high-water mark during the phase
(the interpreter, numpy and the input included); the target (issue 11) is at most 2 s and at
most 512 MiB for each phase on the project's 2-core machine. A phase that ends in the refusal
its limit promises says so: the time is then the time to refuse.

The inputs are adversarial, not typical: the largest file, the most rules, the longest and
deepest conditions, the biggest catalog, profile and result the defaults let through, and work
shaped to be as slow per unit as the engine allows.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import smartpick_rules as sr  # noqa: E402
from smartpick_rules.limits import DEFAULT_LIMITS as L  # noqa: E402
from smartpick_rules.ruleset.load import load_rules_from_text  # noqa: E402

MIB = 1024 * 1024
PROGRAM: dict[str, Any] = {"name": "P", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community"}


# --- measuring ---------------------------------------------------------------------------------


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set
    except OSError:
        pass


def _peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(run: Callable[[], Any]) -> dict[str, Any]:
    gc.collect()
    _reset_peak()
    start = time.perf_counter()
    outcome = "ok"
    try:
        result = run()
        if isinstance(result, str):
            outcome = result
    except sr.SmartpickError as exc:
        d = exc.diagnostics[0]
        which = next((w for w in (d.help or "").split() if w.startswith("Limits.")), "").rstrip(";,")
        outcome = f"refused: {d.code}" + (f" ({which})" if which else "") + (f", {len(exc.diagnostics):,} diagnostics" if len(exc.diagnostics) > 1 else "")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mib": _peak_rss_mib(), "outcome": outcome}


# --- inputs --------------------------------------------------------------------------------------------


def long_condition(stage: str, length: int, k: int = 0, never: bool = False) -> str:
    """A condition as long as allowed, of cheap comparisons (the most nodes per character);
    ``never``: one that is false for every fact (so the rule costs its evaluation, never a firing)."""
    field = {"profile": "applicant.graduation_year", "program": "program.positions", "list": "list.size"}[stage]
    op, joiner = ("==", " or ") if never else ("!=", " and ")
    parts: list[str] = []
    i = 0
    while True:
        part = f"{field} {op} {1_000_000 + k * 1000 + i}"
        if len(joiner.join([*parts, part])) > length:
            break
        parts.append(part)
        i += 1
    return joiner.join(parts)


def rule_files(n_files: int, rules_per_file: int, when_length: int, pad_to: int) -> list[tuple[str, str]]:
    """``n_files`` rule files of ``rules_per_file`` rules each, padded with descriptions to ``pad_to`` bytes."""
    out = []
    stages = ("profile", "program", "list")
    for f in range(n_files):
        parts = [f'[ruleset]\nname = "f{f}"\n']
        for r in range(rules_per_file):
            stage = stages[r % 3]
            when = long_condition(stage, when_length, f * rules_per_file + r)
            parts.append(f'[[rule]]\nid = "f{f}.r{r}"\nstage = "{stage}"\nwhen = "{when}"\nthen = {{ tag = "t{(f * rules_per_file + r) % 900}" }}\n')
        text = "".join(parts)
        if pad_to > len(text.encode()):
            room = pad_to - len(text.encode()) - 40
            text = text.replace('[ruleset]\nname = "f' + str(f) + '"\n', f'[ruleset]\nname = "f{f}"\ndescription = "{"x" * room}"\n', 1)
        out.append((f"f{f}.toml", text))
    return out


def write(folder: Path, files: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files:
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def largest_rule_folder(tmp: Path) -> Path:
    # max_rulesets files, max_ruleset_total_bytes together, max_rules rules in all, nothing but
    # conditions (the costly part)
    per_file = max(1, L.max_rules // L.max_rulesets)
    per_rule = L.max_ruleset_total_bytes // L.max_rules - 120
    files = rule_files(L.max_rulesets, per_file, min(per_rule, L.max_expression_length - 10), 0)
    return write(tmp / "rules", files)


def largest_rule_set() -> sr.RuleSet:
    """max_rules rules, conditions filling max_ruleset_total_bytes, reading tags in chains (max_tags tags)."""
    parts = ['[ruleset]\nname = "big"\n']
    stages = ("profile", "program", "list")
    tags = L.max_tags - L.max_tags % 3
    length = min(L.max_expression_length, L.max_ruleset_total_bytes // L.max_rules - 110)
    for r in range(L.max_rules):
        stage = stages[r % 3]
        when = long_condition(stage, length, r)
        if r >= 3 and r % tags >= 3:
            when = f"has('t{(r - 3) % tags}') and " + when[: length - 20]
            when = when.rsplit(" and ", 1)[0]
        parts.append(f'[[rule]]\nid = "big.r{r}"\nstage = "{stage}"\nwhen = "{when}"\nthen = {{ tag = "t{r % tags}" }}\n')
    return load_rules_from_text([("big.toml", "".join(parts))], limits=sr.Limits(max_ruleset_bytes=L.max_ruleset_total_bytes))


def exclusion_rule_set() -> sr.RuleSet:
    """max_rules program rules, every one an exclusion with several clauses: the lint's worst case."""
    parts = ['[ruleset]\nname = "ex"\n']
    for r in range(L.max_rules):
        clauses = [f"program.positions > {r % 50}", f"program.img_share > 0.{r % 9 + 1}", f"applicant.graduation_year > {1950 + r % 60}"]
        parts.append(
            f'[[rule]]\nid = "ex.r{r}"\nstage = "program"\nsalience = {r % 100}\nwhen = {json.dumps(clauses)}\nthen = {{ exclude = "no" }}\n'
        )
    return load_rules_from_text([("ex.toml", "".join(parts))])


def negative_cycle_text() -> str:
    rules = "".join(
        f'[[rule]]\nid = "c.r{i}"\nstage = "profile"\nwhen = "not has(\'t\')"\nthen = {{ tag = "t" }}\n' for i in range(L.max_rules)
    )
    return '[ruleset]\nname = "c"\n' + rules


def catalog_csv(path: Path, programs: int, target_bytes: int) -> Path:
    header = "id,name,specialty,state,region,program_type,city,positions,min_step2_ck,sponsors_j1,tags\n"
    base_row = "p{i},Program {i},internal_medicine,TX,out_of_state,community,{city},3,230,true,x;y\n"
    plain = len(base_row.format(i=programs, city="").encode())
    pad = max(0, min(L.max_string_length, target_bytes // programs - plain - 1))
    city = "c" * pad
    with path.open("w", encoding="utf-8") as f:
        f.write(header)
        for i in range(programs):
            f.write(base_row.format(i=i, city=city))
    return path


def largest_profile(path: Path) -> Path:
    """Every list at max_list_items, every string long, up to max_input_bytes of JSON."""
    items = L.max_list_items
    budget = L.max_input_bytes // 6 // items  # six lists of records
    text = "x" * max(1, min(L.max_string_length, budget - 200))
    data = {
        "graduation_year": 2019,
        "name": text,
        "languages": [f"l{i}" + text[: budget - 10] for i in range(items)],
        "usce": [{"kind": "hands_on", "months": 1, "institution": text} for _ in range(items)],
        "letters": [{"specialty": "internal_medicine", "state": "CA"} for _ in range(items)],
        "ties": [{"kind": "lived", "state": "TX"} for _ in range(items)],
        "community_work": [{"kind": "community_clinic", "months": 1} for _ in range(items)],
    }
    path.write_text(json.dumps(data))
    return path


# --- phases ---------------------------------------------------------------------------------------------


def phase_load_rules(tmp: Path) -> dict[str, Any]:
    folder = largest_rule_folder(tmp)
    size = sum(f.stat().st_size for f in folder.iterdir())
    out = measure(lambda: sr.load_rules(folder))
    out["input"] = f"{L.max_rulesets} files, {size / 1e6:.1f} MB together (max_ruleset_total_bytes), {L.max_rules:,} rules of nothing but conditions"
    return out


def phase_check(tmp: Path) -> dict[str, Any]:
    from smartpick_rules.analysis.lint import lint_rules

    rs = exclusion_rule_set()
    out = measure(lambda: lint_rules(rs))
    out["input"] = f"lint of {L.max_rules:,} program rules, each an exclusion of 3 clauses (every pair compared for shadowing)"
    return out


def phase_check_long(tmp: Path) -> dict[str, Any]:
    from smartpick_rules.analysis.check import check_rules

    rs = largest_rule_set()
    out = measure(lambda: check_rules(rs.rules))
    out["input"] = f"type check of {L.max_rules:,} rules whose conditions fill max_ruleset_total_bytes, tag chains"
    return out


def phase_stratify(tmp: Path) -> dict[str, Any]:
    text = negative_cycle_text()
    out = measure(lambda: load_rules_from_text([("c.toml", text)]))
    out["input"] = f"a negative tag cycle of {L.max_rules:,} rules (load, check, refuse)"
    return out


def phase_plan(tmp: Path) -> dict[str, Any]:
    from smartpick_rules.plan import plan_ruleset

    rs = largest_rule_set()
    out = measure(lambda: plan_ruleset(rs))
    out["input"] = f"plan of {L.max_rules:,} rules whose conditions fill max_ruleset_total_bytes"
    return out


def phase_compile_durable(tmp: Path) -> dict[str, Any]:
    from smartpick_rules.engines import available_engines, compile_ruleset

    if "durable" not in available_engines():
        return {"seconds": 0.0, "peak_rss_mib": 0.0, "outcome": "skipped: durable_rules does not import here", "input": ""}
    rs = largest_rule_set()

    def run() -> str:
        compiled = compile_ruleset(rs, "durable")
        chunks = sum(len(s) for code in compiled.stages.values() for s in code.strata)
        return f"ok ({chunks} durable_rules rule sets, compiled in the worker)"

    out = measure(run)
    out["input"] = f"durable compile of {L.max_rules:,} rules whose conditions fill max_ruleset_total_bytes"
    return out


def phase_load_catalog(tmp: Path) -> dict[str, Any]:
    path = catalog_csv(tmp / "catalog.csv", L.max_programs, L.max_input_bytes - 1000)
    size = path.stat().st_size
    out = measure(lambda: sr.load_catalog(path))
    out["input"] = f"CSV of {L.max_programs:,} programs, {size / 1e6:.0f} MB (max_input_bytes {L.max_input_bytes / 1e6:.0f} MB)"
    return out


def phase_load_catalog_json(tmp: Path) -> dict[str, Any]:
    path = tmp / "catalog.json"
    path.write_text(json.dumps([{k: v for k, v in {**PROGRAM, "id": f"p{i}"}.items() if k != "name"} for i in range(L.max_programs)], indent=1))
    size = path.stat().st_size
    out = measure(lambda: sr.load_catalog(path))
    out["input"] = f"JSON of {L.max_programs:,} programs, every one missing `name` ({size / 1e6:.0f} MB): every error located"
    return out


def phase_load_profile(tmp: Path) -> dict[str, Any]:
    path = largest_profile(tmp / "profile.json")
    size = path.stat().st_size
    out = measure(lambda: sr.load_profile(path))
    out["input"] = f"JSON profile, six lists of {L.max_list_items:,} items, long strings ({size / 1e6:.0f} MB)"
    return out


def _catalog(n: int) -> sr.Catalog:
    return sr.Catalog.of([sr.Program(**{**PROGRAM, "id": f"p{i}", "positions": i % 7}) for i in range(n)])


def phase_eval_vector(tmp: Path) -> dict[str, Any]:
    """The program stage at max_programs with rules that never fire: bounded by max_work."""
    n = L.max_programs
    cat = _catalog(n)
    length = min(L.max_expression_length - 10, L.max_ruleset_total_bytes // L.max_rules - 90)
    text = '[ruleset]\nname = "v"\n' + "".join(
        f'[[rule]]\nid = "v.r{r}"\nstage = "program"\nwhen = "{long_condition("program", length, r, never=True)}"\nthen = {{ tag = "t" }}\n'
        for r in range(L.max_rules)
    )
    rs = load_rules_from_text([("v.toml", text)])
    sr.evaluate({"graduation_year": 2019}, cat[:10], rs, as_of=2026)  # compile and plan outside the clock
    out = measure(lambda: sr.evaluate({"graduation_year": 2019}, cat, rs, as_of=2026))
    out["input"] = f"{L.max_rules:,} program rules (conditions filling max_ruleset_total_bytes) that never fire, over {n:,} programs"
    return out


def phase_eval_durable(tmp: Path) -> dict[str, Any]:
    """The durable engine at its work bound: a candidate asserted into a rule set costs a unit
    per rule in it, so rules x programs stays under max_work (a bigger input is refused at once)."""
    from smartpick_rules.engines import available_engines, compile_ruleset

    if "durable" not in available_engines():
        return {"seconds": 0.0, "peak_rss_mib": 0.0, "outcome": "skipped: durable_rules does not import here", "input": ""}
    n_rules = 100
    n = L.max_work // n_rules - 100
    cat = _catalog(n)
    text = '[ruleset]\nname = "v"\n' + "".join(
        f'[[rule]]\nid = "v.r{r}"\nstage = "program"\nwhen = "{long_condition("program", 300, r, never=True)}"\nthen = {{ tag = "t" }}\n'
        for r in range(n_rules)
    )
    rs = load_rules_from_text([("v.toml", text)])
    sr.evaluate({"graduation_year": 2019}, cat[:10], rs, engine="durable", as_of=2026)  # compile outside the clock

    def run() -> str:
        sr.evaluate({"graduation_year": 2019}, cat, rs, engine="durable", as_of=2026)
        worker = 0
        for pid in compile_ruleset(rs, "durable").worker_pids():
            with open(f"/proc/{pid}/status") as f:
                worker += next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        return f"ok (its worker process: {worker / 1024:.0f} MiB at its peak)"

    out = measure(run)
    out["input"] = f"the durable engine: {n_rules} rules over {n:,} programs (max_work: a unit per rule per candidate asserted)"
    return out


def phase_eval_nested(tmp: Path) -> dict[str, Any]:
    """Collection functions nested in a list rule: catalog x catalog, bounded by max_work."""
    cat = _catalog(6000)
    when = "count(list.programs, count(list.programs, item.positions > 3) > 0) > 0"
    rs = load_rules_from_text([("n.toml", f'[ruleset]\nname = "n"\n[[rule]]\nid = "n.r"\nstage = "list"\nwhen = "{when}"\nthen = {{ tag = "t" }}\n')])
    sr.evaluate({"graduation_year": 2019}, cat[:10], rs, as_of=2026)
    out = measure(lambda: sr.evaluate({"graduation_year": 2019}, cat, rs, as_of=2026))
    out["input"] = f"`{when}` over 6,000 programs (36 million item visits unbounded)"
    return out


def phase_eval_profile_nested(tmp: Path) -> dict[str, Any]:
    """Nested collections over the applicant's longest lists in the profile stage."""
    items = L.max_list_items
    prof = sr.profile_from_data({"graduation_year": 2019, "languages": [f"l{i}" for i in range(items)]})
    when = "count(applicant.languages, count(applicant.languages, count(applicant.languages, item == 'l1') > 0) > 0) > 0"
    rs = load_rules_from_text([("p.toml", f'[ruleset]\nname = "p"\n[[rule]]\nid = "p.r"\nstage = "profile"\nwhen = "{when}"\nthen = {{ tag = "t" }}\n')])
    out = measure(lambda: sr.evaluate(prof, [], rs, as_of=2026))
    out["input"] = f"three nested counts over a list of {items:,} (10^9 visits unbounded)"
    return out


def phase_eval_audit(tmp: Path) -> dict[str, Any]:
    """Always-true program rules: as many audit entries as max_audit_entries allows (2,000 such
    rules over a catalog were 3.8 GB and a MemoryError), every program's trail built, as the
    reports do."""
    n_rules = 1000
    n = L.max_audit_entries // n_rules - 1
    cat = _catalog(n)
    text = '[ruleset]\nname = "a"\n' + "".join(
        f'[[rule]]\nid = "a.r{r}"\nstage = "program"\nwhen = "true"\nthen = {{ score = 1 }}\n' for r in range(n_rules)
    )
    rs = load_rules_from_text([("a.toml", text)])
    sr.evaluate({"graduation_year": 2019}, cat[:10], rs, as_of=2026)

    def run() -> str:
        rec = sr.evaluate({"graduation_year": 2019}, cat, rs, as_of=2026)
        entries = sum(len(p.audit) for p in rec.programs)
        return f"ok ({entries:,} entries built)"

    out = measure(run)
    out["input"] = f"{n_rules:,} always-true program rules over {n:,} programs: evaluate, then build every program's trail (max_audit_entries)"
    return out


def phase_eval_audit_refused(tmp: Path) -> dict[str, Any]:
    n_rules = L.max_rules
    n = 2500
    cat = _catalog(n)
    text = '[ruleset]\nname = "a"\n' + "".join(
        f'[[rule]]\nid = "a.r{r}"\nstage = "program"\nwhen = "true"\nthen = {{ score = 1 }}\n' for r in range(n_rules)
    )
    rs = load_rules_from_text([("a.toml", text)])
    sr.evaluate({"graduation_year": 2019}, cat[:10], rs, as_of=2026)

    def run() -> str:
        rec = sr.evaluate({"graduation_year": 2019}, cat, rs, as_of=2026)
        try:
            rec.to_json()
        except sr.SmartpickError as exc:  # written a program at a time, up to max_result_bytes
            first = f"to_json {exc.code}"
        else:
            first = "to_json ok"
        list(rec.programs)  # what a report reads: refused at max_audit_entries
        return first

    out = measure(run)
    out["input"] = f"the issue's reproducer: {n_rules:,} always-true program rules over {n:,} programs (5 million entries): to_json, then every program's trail"
    return out


def phase_serialise(tmp: Path) -> dict[str, Any]:
    """to_json up to max_result_bytes: the shipped rules over a synthetic catalog as big as it allows."""
    from synthetic import synthetic_catalog

    prof = sr.load_profile(ROOT / "examples" / "profiles" / "default.toml")
    # ~13.5 KB of JSON a program with the shipped rules: the catalog that reaches the limit
    n = max(1000, int(L.max_result_bytes / 13_500))
    limits = sr.Limits(max_programs=max(n, L.max_programs))
    cat = synthetic_catalog(n, seed=1)
    rec = sr.evaluate(prof, cat, as_of=2026, limits=limits)

    def run() -> str:
        text = rec.to_json()
        return f"ok ({len(text.encode()) / 1e6:.0f} MB)"

    out = measure(run)
    out["input"] = f"to_json of the shipped rules over {n:,} programs (max_result_bytes {L.max_result_bytes / 1e6:.0f} MB)"
    return out


PHASES: dict[str, tuple[str, Callable[[Path], dict[str, Any]]]] = {
    "load_rules": ("load", phase_load_rules),
    "load_catalog": ("load", phase_load_catalog),
    "load_catalog_errors": ("load", phase_load_catalog_json),
    "load_profile": ("load", phase_load_profile),
    "check_types": ("check", phase_check_long),
    "check_lint": ("check", phase_check),
    "stratify": ("stratify", phase_stratify),
    "plan": ("plan", phase_plan),
    "compile_durable": ("compile", phase_compile_durable),
    "eval_vector": ("evaluate", phase_eval_vector),
    "eval_durable": ("evaluate", phase_eval_durable),
    "eval_nested_list": ("evaluate", phase_eval_nested),
    "eval_nested_profile": ("evaluate", phase_eval_profile_nested),
    "eval_audit": ("evaluate", phase_eval_audit),
    "eval_audit_refused": ("evaluate", phase_eval_audit_refused),
    "serialise": ("serialise", phase_serialise),
}


def run_phase(name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="smartpick-limits-") as tmp:
        result = PHASES[name][1](Path(tmp))
    result["phase"] = PHASES[name][0]
    result["name"] = name
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("phases", nargs="*", help=f"phases to run (default: all): {', '.join(PHASES)}")
    parser.add_argument("--markdown", action="store_true", help="print the table for docs/security.md")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--child", metavar="PHASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_phase(args.child)))
        return
    names = args.phases or list(PHASES)
    results = []
    for name in names:
        done = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            results.append({"name": name, "phase": PHASES[name][0], "seconds": float("nan"), "peak_rss_mib": float("nan"), "outcome": "failed: " + done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed", "input": ""})
        else:
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{r['name']:<22} {r['seconds']:8.2f} s {r['peak_rss_mib']:8.0f} MiB  {r['outcome']}", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nPython {platform.python_version()}, {os.cpu_count()} cores, load average {load:.2f} at the end, smartpick_rules {sr.__version__}")
    if args.markdown:
        print("\n| phase | input (the largest the default limits allow) | time | peak RSS | outcome |")
        print("|---|---|---:|---:|---|")
        for r in results:
            print(f"| {r['phase']} | {r['input']} | {r['seconds']:.2f} s | {r['peak_rss_mib']:.0f} MiB | {r['outcome']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
