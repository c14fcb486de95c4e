"""``smartpick-rules test``: run rule-test suites, report pass/fail per case and coverage.

Suites that test the same rule-set paths share one loaded rule set, and their coverage is
added up: a rule counts as covered when any case of any suite fires it, a clause when some
case makes it true and some case makes it false.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, InputError, Location, SmartpickError
from ..language.expr import to_source
from ..language.ir import Property, RuleSet
from ..records import frozen
from ..ruleset.load import load_rules, shipped_rulesets_path
from ..testing.suite import CaseResult, TestSuite, discover, load_suite, run_suite
from .io import rule_cache

if TYPE_CHECKING:
    from .io import Io

__all__ = ["CoverageReport", "SuiteRun", "run_suites", "run_tests"]


@frozen
class CoverageReport:
    """Rule and clause coverage of one rule set (restricted to ``own`` rules when given)."""

    rules: tuple[str, ...]
    fired: frozenset[str]
    clauses: tuple[tuple[str, int, str], ...]
    clauses_true: frozenset[tuple[str, int]]
    clauses_false: frozenset[tuple[str, int]]

    @property
    def rule_percent(self) -> float:
        return 100.0 * len(self.fired) / len(self.rules) if self.rules else 100.0

    @property
    def clause_outcomes(self) -> int:
        return len(self.clauses_true) + len(self.clauses_false)

    @property
    def clause_percent(self) -> float:
        return 100.0 * self.clause_outcomes / (2 * len(self.clauses)) if self.clauses else 100.0

    @property
    def unfired(self) -> list[str]:
        return [r for r in self.rules if r not in self.fired]

    def never(self, outcome: bool) -> list[str]:
        seen = self.clauses_true if outcome else self.clauses_false
        return [f"{rid}: {text}" for rid, k, text in self.clauses if (rid, k) not in seen]


@frozen
class SuiteRun:
    suite: TestSuite | None
    path: str
    results: tuple[CaseResult, ...]
    error: str | None = None


def _coverage(rs: RuleSet, own: set[str] | None, fired: set[str], true_c: set[tuple[str, int]], false_c: set[tuple[str, int]]) -> CoverageReport:
    from ..plan import plan_ruleset

    plan = plan_ruleset(rs)
    ids = [r.id for r in rs.rules if own is None or r.id in own]
    keep = set(ids)
    from ..language.expr import Literal

    clauses = tuple(
        (cr.id, k, to_source(c))
        for st in ("profile", "program", "list")
        for cr in plan.stage(st).rules
        if cr.id in keep
        for k, c in enumerate(cr.clauses)
        if not isinstance(c, Literal)  # a constant clause has no second outcome to cover
    )
    return CoverageReport(
        rules=tuple(sorted(ids)),
        fired=frozenset(fired & keep),
        clauses=clauses,
        clauses_true=frozenset(x for x in true_c if x[0] in keep),
        clauses_false=frozenset(x for x in false_c if x[0] in keep),
    )


def run_suites(
    paths: Sequence[str | Path], *, with_shipped: bool = False, loaded: list[tuple[RuleSet, list[Property]]] | None = None
) -> tuple[list[SuiteRun], list[CoverageReport]]:
    """Discover and run suites; one coverage report per distinct rule set under test.

    ``loaded`` receives each rule set under test with its own properties (those of the suites'
    rule paths, not of the shipped rule sets added by ``with_shipped``).
    """
    files = discover(paths)
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise InputError(Diagnostic("io_error", "no such file or folder", Location(missing[0])))
    if not files:
        raise InputError(
            Diagnostic(
                "input_error",
                "no rule tests found (files named *.test.toml)",
                Location(", ".join(str(p) for p in paths)),
                help="rule tests live beside rule sets, in tests/NAME.test.toml; see docs/authoring.md",
            )
        )
    groups: dict[tuple[str, ...], tuple[RuleSet, set[str] | None]] = {}
    acc: dict[tuple[str, ...], tuple[set[str], set[tuple[str, int]], set[tuple[str, int]]]] = {}
    runs: list[SuiteRun] = []
    shipped = shipped_rulesets_path()
    cache = rule_cache()
    for f in files:
        try:
            suite = load_suite(f)
        except SmartpickError as exc:
            runs.append(SuiteRun(None, str(f), (), error=exc.first_line()))
            continue
        key = suite.rules_paths
        if key not in groups:
            try:
                rs = load_rules(shipped, *key, cache=cache) if with_shipped else load_rules(*key, cache=cache)
            except SmartpickError as exc:
                runs.append(SuiteRun(suite, str(f), (), error=f"the rule sets under test do not load: {exc.first_line()}"))
                continue
            own: set[str] | None = None
            props = list(rs.properties)
            if with_shipped:
                roots = [Path(p).resolve() for p in key]
                own = {r.id for r in rs.rules if _under(Path(r.loc.file).resolve(), roots)}
                props = [p for p in props if _under(Path(p.loc.file).resolve(), roots)]
            groups[key] = (rs, own)
            if loaded is not None:
                loaded.append((rs, props))
            acc[key] = (set(), set(), set())
        rs, _own = groups[key]
        fired, true_c, false_c = acc[key]
        results, cov = run_suite(suite, rs)
        fired |= cov.rules_fired
        true_c |= cov.clauses_true
        false_c |= cov.clauses_false
        runs.append(SuiteRun(suite, str(f), tuple(results)))
    reports = [_coverage(groups[k][0], groups[k][1], *acc[k]) for k in groups]
    return runs, reports


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _merge(reports: Sequence[CoverageReport]) -> CoverageReport:
    if len(reports) == 1:
        return reports[0]
    rules: list[str] = []
    clauses: list[tuple[str, int, str]] = []
    fired: set[str] = set()
    t: set[tuple[str, int]] = set()
    f: set[tuple[str, int]] = set()
    for k, r in enumerate(reports):
        tag = f"#{k + 1}:"
        rules += [tag + x for x in r.rules]
        fired |= {tag + x for x in r.fired}
        clauses += [(tag + rid, i, text) for rid, i, text in r.clauses]
        t |= {(tag + rid, i) for rid, i in r.clauses_true}
        f |= {(tag + rid, i) for rid, i in r.clauses_false}
    return CoverageReport(tuple(rules), frozenset(fired), tuple(clauses), frozenset(t), frozenset(f))


def run_tests(args: argparse.Namespace, io: Io) -> int:
    from .io import EXIT_FAIL, EXIT_OK, Progress, shipped_path

    paths = args.paths or [str(shipped_path() / "tests")]
    loaded: list[tuple[RuleSet, list[Property]]] = []
    with Progress(io, "running rule tests"):
        runs, reports = run_suites(paths, with_shipped=args.with_shipped, loaded=loaded)
    property_reports = _check_properties(args, io, loaded)
    if any(not r.ok for r in property_reports):
        problems_from_properties = [f"{len(r.failed)} of {len(r.results)} properties have a counterexample" for r in property_reports if not r.ok]
    else:
        problems_from_properties = []
    passed = sum(1 for r in runs for c in r.results if c.passed)
    failed = sum(1 for r in runs for c in r.results if not c.passed)
    broken = [r for r in runs if r.error]
    total = _merge(reports) if reports else None
    status = EXIT_OK
    problems: list[str] = []
    if failed or broken:
        status = EXIT_FAIL
    if total is not None and args.fail_under is not None and total.rule_percent < args.fail_under:
        status = EXIT_FAIL
        problems.append(f"rule coverage {total.rule_percent:.1f}% is below --fail-under {args.fail_under:g}%")
    if total is not None and args.fail_under_clauses is not None and total.clause_percent < args.fail_under_clauses:
        status = EXIT_FAIL
        problems.append(f"clause coverage {total.clause_percent:.1f}% is below --fail-under-clauses {args.fail_under_clauses:g}%")
    if problems_from_properties:
        status = EXIT_FAIL
        problems.extend(problems_from_properties)
    if args.format == "json":
        data = _json(runs, reports, total, passed, failed, problems)
        data["properties"] = [r.to_dict() for r in property_reports]
        io.print(json.dumps(data, indent=2, ensure_ascii=False, default=str), raw=True)
        return status
    for run in runs:
        io.print(run.path)
        if run.error:
            io.print(f"  ERROR {run.error}")
            continue
        for c in run.results:
            io.print(f"  {'PASS' if c.passed else 'FAIL'}  {c.case.name}")
            if c.error:
                io.print(f"        {c.error}")
            for msg in c.failures:
                io.print(f"        {c.case.location}: {msg}")
    io.print("")
    for k, rep in enumerate(reports):
        label = "coverage" if len(reports) == 1 else f"coverage of rule set #{k + 1}"
        io.print(
            f"{label}: rules {len(rep.fired)}/{len(rep.rules)} fired ({rep.rule_percent:.1f}%); "
            f"clauses {rep.clause_outcomes}/{2 * len(rep.clauses)} outcomes ({rep.clause_percent:.1f}%)"
        )
        if rep.unfired:
            shown = rep.unfired if args.verbose or len(rep.unfired) <= 12 else [*rep.unfired[:12], f"and {len(rep.unfired) - 12} more"]
            io.print(textwrap.fill("rules no test fires: " + ", ".join(shown), width=100, initial_indent="  ", subsequent_indent="    "))
        never_true, never_false = rep.never(True), rep.never(False)
        if args.verbose:
            for text in never_true:
                io.print(f"  never true:  {text}")
            for text in never_false:
                io.print(f"  never false: {text}")
        elif never_true or never_false:
            io.print(
                f"  clauses no test makes true: {len(never_true)}; false: {len(never_false)} (--verbose lists them)"
            )
    for rep in property_reports:
        io.print(rep.render())
    for p in problems:
        io.print(p)
    suites = sum(1 for r in runs if not r.error)
    tail = f", {len(broken)} suite{'s' if len(broken) != 1 else ''} could not run" if broken else ""
    io.print(f"{suites} suite{'s' if suites != 1 else ''}: {passed} passed, {failed} failed{tail}")
    return status


def _check_properties(args: argparse.Namespace, io: Io, loaded: Sequence[tuple[RuleSet, list[Property]]]) -> list[Any]:
    """The properties of each rule set under test, checked (``--no-properties`` skips them)."""
    if not getattr(args, "properties", True):
        return []
    todo = [(rs, props) for rs, props in loaded if props]
    if not todo:
        return []
    from ..testing.properties import hypothesis_available

    if not hypothesis_available():
        io.eprint("properties not checked: they need the hypothesis package (pip install 'smartpick-rules[properties]')")
        return []
    from .cmd_properties import run_property_check

    out = []
    for rs, props in todo:
        wanted = props if not args.property_ids else [p for p in props if p.id in set(args.property_ids)]
        if wanted:
            ns = argparse.Namespace(**{**vars(args), "property_ids": None})
            out.append(run_property_check(ns, io, rs, wanted))
    return out


def _json(
    runs: Sequence[SuiteRun], reports: Sequence[CoverageReport], total: CoverageReport | None, passed: int, failed: int, problems: list[str]
) -> dict[str, Any]:
    return {
        "passed": passed,
        "failed": failed,
        "suites": [
            {
                "path": r.path,
                "error": r.error,
                "cases": [
                    {
                        "name": c.case.name,
                        "location": str(c.case.location),
                        "passed": c.passed,
                        "failures": list(c.failures),
                        "error": c.error,
                        "fired": sorted(c.fired),
                    }
                    for c in r.results
                ],
            }
            for r in runs
        ],
        "coverage": [
            {
                "rules": len(rep.rules),
                "rules_fired": len(rep.fired),
                "rule_percent": round(rep.rule_percent, 2),
                "clauses": len(rep.clauses),
                "clause_outcomes_covered": rep.clause_outcomes,
                "clause_percent": round(rep.clause_percent, 2),
                "unfired": rep.unfired,
                "clauses_never_true": rep.never(True),
                "clauses_never_false": rep.never(False),
            }
            for rep in reports
        ],
        "rule_percent": round(total.rule_percent, 2) if total else None,
        "clause_percent": round(total.clause_percent, 2) if total else None,
        "problems": problems,
    }
