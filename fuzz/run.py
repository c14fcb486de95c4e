"""Run the atheris harnesses one after another, each for a time budget, and report the figures.

    .venv/bin/python fuzz/run.py --seconds 600                 # every target, 10 minutes each
    .venv/bin/python fuzz/run.py --seconds 60 expression rules # some targets

For each target it builds a seed corpus (the shipped rule sets, the language cases in
tests/cases, the example catalog and profiles), a dictionary of the language's tokens, and runs
libFuzzer with ``-max_total_time`` until the budget is spent, restarting after a libFuzzer stop
(a timeout, an out-of-memory, or a crash with FUZZ_RAISE=1) with the corpus kept. It prints, per
target: inputs tried, executions per second, coverage, corpus size, distinct crashes recorded
by the harness (fuzz/.work/<target>/crashes/) and libFuzzer's own artifacts (timeouts, OOMs).
The summary is also written to fuzz/.work/summary.json.

Needs ``pip install atheris`` (binary wheels for CPython on x86-64 Linux; no clang needed).
Only one libFuzzer process runs at a time: the machine this was written on has two shared cores.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from smartpick_rules.language.functions import BUILTINS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
TARGETS = {"expression": 4096, "rules": 32768, "inputs": 16384}

TOKENS = [
    "applicant.", "program.", "list.", "item.", "derived.", "and", "or", "not", "in", "not in",
    *(f"{name}(" for name in BUILTINS),  # every builtin function, from the registry
    "==", "!=", "<=", ">=", "(", ")", "[", "]", ",", '"', "'", "true", "false", "none", "__class__",
    "step2_ck.score", "region", "la_county", "usce", "tags", "img_share", "positions", "graduation_year",
    "[ruleset]", "[[rule]]", "[chance]", "[[estimate]]", "[[group]]", "[[lever]]", "name = ", "id = ", "stage = ", "when = ", "then = ",
    "salience = ", "requires = ", "disable = ", "override = true", "tag = ", "odds = ", "chance_cap = ", "tier_at_most = ", "priority = ", "at_most = ", "at_least = ", "estimate = ",
    "exclude = ", "advice = ", "set = ", "breadth = ", "explain = ", '"""', "'''", "{", "}", "\\u0000",
    "program", "profile", "list", "nan", "inf", "1e308", "-0", "\xef\xbb\xbf", "\r\n", ";", "id,name,",
]


def _rule_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "rulesets").rglob("*.toml"))]
    for case in sorted((ROOT / "tests/cases").rglob("*.toml")):
        try:
            data = tomllib.loads(case.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError:
            continue
        rules = data.get("rules")
        for t in rules if isinstance(rules, list) else [rules]:
            if isinstance(t, str):
                texts.append(t.lstrip("\n"))
    return texts


def _whens(texts: list[str]) -> list[str]:
    out: list[str] = []
    for t in texts:
        try:
            data = tomllib.loads(t)
        except tomllib.TOMLDecodeError:
            continue
        for r in data.get("rule", []):
            w = r.get("when") if isinstance(r, dict) else None
            out.extend([w] if isinstance(w, str) else [x for x in w or [] if isinstance(x, str)])
    return sorted(set(out))


def seeds(target: str) -> list[bytes]:
    texts = _rule_texts()
    whens = _whens(texts)
    if target == "expression":
        return [w.encode() for w in whens]
    if target == "rules":
        out = [b"\x00" + t.encode() for t in texts] + [b"\x01" + w.encode() for w in whens]
        return [*out, b"\x03true", b"\x03applicant.step2_ck.score < 230", b"\x05list.size > 3", b"\x05min(list.size, 80)"]
    csv_lines = (ROOT / "examples/small_catalog.csv").read_text(encoding="utf-8").splitlines()
    sys.path.insert(0, str(ROOT / "src"))
    import smartpick_rules as sr
    from smartpick_rules.domain.converter import unstructure

    small = sr.load_catalog(ROOT / "examples/small_catalog.csv")
    programs = [{k: v for k, v in unstructure(p).items() if v not in (None, (), [])} for p in small.programs[:4]]
    toml_catalog = "".join(
        "[[program]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in p.items()) for p in programs
    )
    out = [
        b"\x00" + "\n".join(csv_lines[:6]).encode(),
        b"\x00\xef\xbb\xbf" + "\n".join(csv_lines[:3]).encode(),
        b"\x01" + json.dumps({"programs": programs}).encode(),
        b"\x01" + json.dumps(programs[:2], indent=1).encode(),
        b"\x02" + toml_catalog.encode(),
    ]
    for p in sorted((ROOT / "examples/profiles").glob("*.toml"))[:4]:
        out.append(b"\x04" + p.read_bytes())
        try:
            prof = sr.load_profile(p)
            out.append(b"\x03" + json.dumps(unstructure(prof)).encode())
        except sr.SmartpickError:
            pass
    return out


def _dict_file(target: str) -> Path:
    path = WORK / target / "tokens.dict"
    lines = []
    for tok in TOKENS:
        escaped = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else f"\\x{ord(c):02x}" for c in tok)
        lines.append(f'"{escaped}"')
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)
_PROGRESS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: \d+ corp: (\d+)/", re.M)


def run_target(target: str, seconds: float, python: str) -> dict[str, object]:
    folder = WORK / target
    corpus = folder / "corpus"
    artifacts = folder / "artifacts"
    for f in (corpus, artifacts, folder / "seeds"):
        f.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seeds(target)):
        (folder / "seeds" / f"seed{i:04d}").write_bytes(s)
    dict_path = _dict_file(target)
    executions = 0
    cov = corp = 0
    stops: list[str] = []
    started = time.monotonic()
    log = (folder / "run.log").open("w", encoding="utf-8")
    while (left := seconds - (time.monotonic() - started)) > 5 and len(stops) < 50:
        cmd = [
            python, str(HERE / f"fuzz_{target}.py"),
            f"-max_total_time={int(left)}", f"-max_len={TARGETS[target]}", "-timeout=10",
            "-rss_limit_mb=3072", "-print_final_stats=1", f"-dict={dict_path}",
            f"-artifact_prefix={artifacts}/", str(corpus), str(folder / "seeds"),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", cwd=ROOT)
        out = proc.stdout + proc.stderr
        log.write(out)
        stats = dict(_STAT.findall(out))
        progress = _PROGRESS.findall(out)
        if "number_of_executed_units" in stats:
            executions += int(stats["number_of_executed_units"])
        elif progress:
            executions += int(progress[-1][0])
        if progress:
            cov, corp = int(progress[-1][1]), int(progress[-1][2])
        if proc.returncode != 0:
            kind = "timeout" if "ALARM" in out or "timeout" in out else "oom" if "out-of-memory" in out else "crash"
            stops.append(kind)
    log.close()
    elapsed = time.monotonic() - started
    crashes = sorted(p.read_text(encoding="utf-8").splitlines()[0] for p in (folder / "crashes").glob("*.txt")) if (
        folder / "crashes"
    ).is_dir() else []
    return {
        "target": target,
        "seconds": round(elapsed),
        "executions": executions,
        "exec_per_s": round(executions / elapsed) if elapsed else 0,
        "coverage": cov,
        "corpus": corp,
        "crashes": crashes,
        "libfuzzer_stops": stops,
        "artifacts": sorted(p.name for p in artifacts.iterdir()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help=f"some of {', '.join(TARGETS)} (default: all)")
    ap.add_argument("--seconds", type=float, default=600, help="budget per target (default 600)")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        return 2
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        ap.error(f"unknown target {unknown[0]}; targets: {', '.join(TARGETS)}")
    WORK.mkdir(exist_ok=True)
    results = []
    for t in args.targets or list(TARGETS):
        print(f"fuzzing {t} for {args.seconds:.0f} s ...", flush=True)
        r = run_target(t, args.seconds, args.python)
        results.append(r)
        print(json.dumps(r), flush=True)
    print()
    print(f"{'target':<12} {'seconds':>8} {'inputs tried':>13} {'exec/s':>8} {'cov':>6} {'corpus':>7} {'crashes':>8}  stops")
    for r in results:
        crashes = r["crashes"]
        assert isinstance(crashes, list)
        print(
            f"{r['target']:<12} {r['seconds']:>8} {r['executions']:>13,} {r['exec_per_s']:>8} {r['coverage']:>6} "
            f"{r['corpus']:>7} {len(crashes):>8}  {', '.join(map(str, r['libfuzzer_stops'])) or '-'}"
        )
        for c in crashes:
            print(f"    crash: {c}")
    (WORK / "summary.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 1 if any(r["crashes"] or r["libfuzzer_stops"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
