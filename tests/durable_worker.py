"""Run durable-engine evaluations in a separate process, so a crash in durable_rules' C
extension fails a test instead of killing pytest.

:class:`DurableWorker` starts ``python tests/durable_worker.py`` once and sends it jobs, one
JSON line each; the worker answers one JSON line per job. A job names a rule set (TOML texts,
or the shipped rule sets), profiles and catalogs (plain data, a file, or a synthetic catalog
from ``benchmarks/synthetic.py``); the worker evaluates each profile against each catalog with
``engine="durable"`` and returns the results' JSON. The tests compute the native results in
their own process and compare.

:func:`canonical` is the JSON the engines must agree on byte for byte: ``to_json()`` with the
one field that names the engine (``provenance.engine``) set to a placeholder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import smartpick_rules as sr  # noqa: E402
from smartpick_rules.ruleset.load import load_rules_from_text  # noqa: E402

__all__ = ["DurableWorker", "WorkerCrashed", "assert_same_results", "canonical", "evaluate_job"]


def canonical(rec: sr.Recommendation) -> str:
    """``rec.to_json()`` with ``provenance.engine`` (the only field naming the engine) blanked."""
    return attrs.evolve(rec, provenance=attrs.evolve(rec.provenance, engine="*")).to_json()


# --- building inputs from a job (both processes) -------------------------------------------------

_RULES: dict[str, sr.RuleSet] = {}
_CATALOGS: dict[str, sr.Catalog] = {}


def job_rules(spec: dict[str, Any]) -> sr.RuleSet:
    key = json.dumps(spec, sort_keys=True)
    rs = _RULES.get(key)
    if rs is None:
        rs = sr.load_rules() if spec.get("shipped") else load_rules_from_text([tuple(t) for t in spec["texts"]])
        if len(_RULES) >= 16:  # a differential test sends many rule sets: keep the newest
            _RULES.pop(next(iter(_RULES)))
        _RULES[key] = rs
    return rs


def job_catalog(spec: dict[str, Any]) -> sr.Catalog:
    key = json.dumps(spec, sort_keys=True)
    cat = _CATALOGS.get(key)
    if cat is None:
        if "csv" in spec:
            cat = sr.load_catalog(spec["csv"])
        elif "synthetic" in spec:
            from synthetic import synthetic_catalog

            n, seed = spec["synthetic"]
            cat = synthetic_catalog(n, seed)
        else:
            cat = sr.catalog_from_data(spec["data"])
        if len(_CATALOGS) >= 16:
            _CATALOGS.pop(next(iter(_CATALOGS)))
        _CATALOGS[key] = cat
    return cat


def job_profile(spec: dict[str, Any]) -> sr.Profile:
    if "toml" in spec:
        return sr.load_profile(spec["toml"])
    return sr.profile_from_data(spec["data"])


def evaluate_job(job: dict[str, Any], engine: str) -> list[dict[str, Any]]:
    """Every profile against every catalog; per pair ``{"json": ...}`` or ``{"error": code}``."""
    rules = job_rules(job["rules"])
    out: list[dict[str, Any]] = []
    for cspec in job["catalogs"]:
        cat = job_catalog(cspec)
        for pspec in job["profiles"]:
            try:
                rec = sr.evaluate(job_profile(pspec), cat, rules, engine=engine, as_of=job.get("as_of", 2026))
                out.append({"json": canonical(rec)})
            except sr.SmartpickError as exc:
                out.append({"error": sorted(exc.codes), "message": str(exc)[:500]})
    return out


def _threads_job(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The same evaluations from several threads at once on one compiled rule set."""
    n = job.get("threads", 4)
    results: list[list[dict[str, Any]] | None] = [None] * n
    errors: list[str] = []

    def work(k: int) -> None:
        try:
            results[k] = evaluate_job(job, "durable")
        except BaseException as exc:  # report, never hang the worker
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    first = results[0] or []
    for other in results[1:]:
        if other != first:
            raise RuntimeError("threads disagree")
    return first


def _rss_job(job: dict[str, Any]) -> dict[str, Any]:
    """RSS of the engine's worker processes (where durable_rules keeps its states) before and
    after ``job["n"]`` evaluations (after a warm-up)."""
    from smartpick_rules.engines import compile_ruleset

    def rss_kib(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    compiled = compile_ruleset(job_rules(job["rules"]), "durable")
    for _ in range(job.get("warmup", 20)):
        evaluate_job(job, "durable")
    pids = compiled.worker_pids()
    before = sum(rss_kib(pid) for pid in pids)
    for _ in range(job["n"]):
        evaluate_job(job, "durable")
    return {"before_kib": before, "after_kib": sum(rss_kib(pid) for pid in compiled.worker_pids()), "workers": len(pids)}


def _serve() -> None:
    for line in sys.stdin:
        job = json.loads(line)
        try:
            op = job.get("op", "evaluate")
            if op == "evaluate":
                reply: dict[str, Any] = {"results": evaluate_job(job, "durable")}
            elif op == "threads":
                reply = {"results": _threads_job(job)}
            elif op == "rss":
                reply = _rss_job(job)
            elif op == "compile":
                from smartpick_rules.engines import compile_ruleset

                reply = {"json": compile_ruleset(job_rules(job["rules"]), "durable").rulesets_json()}
            else:
                reply = {"failure": f"unknown op {op}"}
        except Exception as exc:
            reply = {"failure": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply, ensure_ascii=False) + "\n")
        sys.stdout.flush()


# --- the client (the test process) --------------------------------------------------------------


def assert_same_results(job: dict[str, Any], durable: list[dict[str, Any]]) -> None:
    """The native results of ``job`` (computed here) equal ``durable`` byte for byte, error for error."""
    native = evaluate_job(job, "native")
    assert len(native) == len(durable)
    pairs = [(c, p) for c in job["catalogs"] for p in job["profiles"]]
    for (cspec, pspec), n, d in zip(pairs, native, durable, strict=True):
        where = f"catalog {str(cspec)[:80]}, profile {str(pspec)[:80]}"
        if "error" in n or "error" in d:
            assert n.get("error") == d.get("error"), f"{where}: native {n} / durable {d}"
            continue
        a, b = n["json"], d["json"]
        if a != b:
            k = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            raise AssertionError(
                f"{where}: results differ at character {k}:\n"
                f" native  ...{a[max(k - 300, 0) : k + 200]}\n durable ...{b[max(k - 300, 0) : k + 200]}"
            )



class WorkerCrashed(AssertionError):
    """The durable worker process died (a crash in durable_rules' C extension, most likely)."""


class DurableWorker:
    """A long-lived ``tests/durable_worker.py`` process; restarted after a crash."""

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONFAULTHANDLER="1")
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )

    def request(self, job: dict[str, Any]) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        timer = threading.Timer(self.timeout, proc.kill)
        timer.start()
        try:
            proc.stdin.write(json.dumps(job, ensure_ascii=False) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        finally:
            timer.cancel()
        if not line:
            proc.kill()
            proc.wait()
            stderr = proc.stderr.read() if proc.stderr else ""
            self.proc = None
            raise WorkerCrashed(f"durable worker died (exit {proc.returncode}):\n{stderr[-3000:]}")
        reply: dict[str, Any] = json.loads(line)
        if "failure" in reply:
            raise AssertionError(f"durable worker: {reply['failure']}")
        return reply

    def evaluate(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self.request({**job, "op": "evaluate"})["results"]
        return results

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()
            self.proc = None


if __name__ == "__main__":
    _serve()
