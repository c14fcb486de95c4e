"""Rule tests kept in TOML beside rule sets, and their runner.

A test file (``tests/<name>.test.toml`` beside the rule sets) holds cases: a partial applicant
and one or more partial programs (defaults fill the rest), and what should happen — which
rules fire or not, tags, exclusion and by which rule, tier, chance, odds, priority, advice, breadth,
whether the program is in the list and why not. Tests
check the *reasons*, not only the outcome. The same files run under ``smartpick-rules test``
and under pytest (see ``smartpick_rules.testing.pytest_plugin``).

```toml
[suite]
rules = [".."]        # rule paths relative to this file; default: the folder above `tests/`
as_of = 2026

[[case]]
name = "a failed Step 1 attempt is a red flag"
applicant = { graduation_year = 2019, step1 = { passed = true, attempts = 2 } }
program = { region = "la_county", max_attempts = 1 }
expect = { fired = ["red_flags.failed_attempt"], tags = ["failed_attempt"], excluded_by = "base.max_attempts" }
```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ..domain.converter import _StructureFailure, structure_mapping
from ..domain.inputs import catalog_from_data, profile_from_data, read_input_text
from ..errors import Diagnostic, InputError, Location, SmartpickError
from ..language.expr import to_source
from ..language.interp import Scope, evaluate_expr, truth
from ..language.ir import RuleSet
from ..limits import DEFAULT_LIMITS, Limits
from ..records import frozen
from ..results.recommendation import Recommendation
from ..ruleset.load import load_rules, shipped_rulesets_path
from ..runtime.session import evaluate
from ..sourcemap import DocumentError, parse_toml, toml_source_map

__all__ = ["CaseResult", "Coverage", "RuleTestCase", "TestSuite", "load_suite", "run_suite"]

DEFAULT_PROGRAM: dict[str, Any] = {
    "id": "test-program",
    "name": "Test Program",
    "specialty": "internal_medicine",
    "state": "CA",
    "region": "la_county",
    "program_type": "community",
}
DEFAULT_APPLICANT: dict[str, Any] = {"graduation_year": 2022}


@frozen
class Expect:
    fired: list[str] = attrs.field(factory=list)
    not_fired: list[str] = attrs.field(factory=list)
    tags: list[str] = attrs.field(factory=list)
    no_tags: list[str] = attrs.field(factory=list)
    excluded: bool | None = None
    excluded_by: str | None = None
    tier: str | None = None
    #: the program's estimated chance of an interview, within half a percentage point
    chance: float | None = None
    chance_min: float | None = None
    chance_max: float | None = None
    #: rule id -> the odds factor its audit entry shows for the program
    odds: dict[str, float] = attrs.field(factory=dict)
    priority: float | None = None
    advice_from: list[str] = attrs.field(factory=list)
    no_advice_from: list[str] = attrs.field(factory=list)
    breadth_min: int | None = None
    breadth_max: int | None = None
    chosen: bool | None = None
    #: text the reason an eligible program is left off the list contains
    left_off: str | None = None


@frozen
class RawCase:
    name: str
    expect: Expect
    applicant: dict[str, Any] = attrs.field(factory=dict)
    program: dict[str, Any] | None = None
    programs: list[dict[str, Any]] | None = None
    #: which program the per-program expectations are about (default: the first)
    check_program: str | None = None


@frozen
class RawSuiteHeader:
    rules: list[str] = attrs.field(factory=list)
    as_of: int = 2026
    name: str = ""


@frozen
class RuleTestCase:
    name: str
    applicant: dict[str, Any]
    programs: tuple[dict[str, Any], ...]
    check_program: str
    expect: Expect
    location: Location


@frozen
class TestSuite:
    path: str
    rules_paths: tuple[str, ...]
    as_of: int
    cases: tuple[RuleTestCase, ...]
    name: str = ""


@frozen
class CaseResult:
    case: RuleTestCase
    failures: tuple[str, ...]
    fired: frozenset[str]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None


@frozen
class Coverage:
    """Rules fired by some case, and clauses made true / false by some case."""

    rules_total: int
    rules_fired: frozenset[str]
    clauses_total: int
    clauses_true: frozenset[tuple[str, int]]
    clauses_false: frozenset[tuple[str, int]]
    unfired: tuple[str, ...]
    clauses_never_true: tuple[str, ...]
    clauses_never_false: tuple[str, ...]

    @property
    def rule_percent(self) -> float:
        return 100.0 * len(self.rules_fired) / self.rules_total if self.rules_total else 100.0

    @property
    def clause_percent(self) -> float:
        if not self.clauses_total:
            return 100.0
        return 100.0 * (len(self.clauses_true) + len(self.clauses_false)) / (2 * self.clauses_total)


def load_suite(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> TestSuite:
    """Read one ``*.test.toml`` file.

    A suite may name rule paths (``[suite] rules = [...]``, relative to the file) only inside
    its own rule-set folder (the folder its ``tests/`` folder is in, or its own folder) or the
    shipped rule sets: a test file shared with others must not make ``test`` read files
    elsewhere on the machine.
    """
    p = Path(path)
    text = read_input_text(p, limits)
    try:
        data = parse_toml(text, str(p))
    except DocumentError as exc:
        raise InputError(exc.diagnostic) from None
    smap = toml_source_map(text, str(p))
    diags: list[Diagnostic] = []
    header = RawSuiteHeader()
    if "suite" in data:
        try:
            header = structure_mapping(data["suite"], RawSuiteHeader, "$.suite")
        except _StructureFailure as fail:
            diags.extend(attrs.evolve(d, location=Location(str(p), *smap.position(["suite"]))) for d in fail.diagnostics)
    extra = sorted(set(data) - {"suite", "case"})
    for key in extra:
        diags.append(Diagnostic("schema_error", f"unknown table `{key}`; a test file has [suite] and [[case]]", Location(str(p), *smap.position([key]))))
    cases: list[RuleTestCase] = []
    for i, raw in enumerate(data.get("case", [])):
        loc = Location(str(p), *smap.position(["case", i]))
        try:
            rc = structure_mapping(raw, RawCase, f"$.case[{i}]")
        except _StructureFailure as fail:
            diags.extend(attrs.evolve(d, location=loc) for d in fail.diagnostics)
            continue
        programs = rc.programs if rc.programs is not None else [rc.program or {}]
        full = []
        for k, prog in enumerate(programs):
            merged = {**DEFAULT_PROGRAM, **prog}
            if "id" not in prog and len(programs) > 1:
                merged["id"] = f"test-program-{k + 1}"
            full.append(merged)
        cases.append(
            RuleTestCase(
                name=rc.name,
                applicant={**DEFAULT_APPLICANT, **rc.applicant},
                programs=tuple(full),
                check_program=rc.check_program or full[0]["id"],
                expect=rc.expect,
                location=loc,
            )
        )
    if "suite" in data and not 1940 <= header.as_of <= 2100:
        line, col = smap.position(["suite", "as_of"])
        diags.append(Diagnostic("input_error", f"as_of must be a year between 1940 and 2100, got {header.as_of}", Location(str(p), line, col)))
    home = _suite_home(p)
    rules: list[str] = []
    for r in header.rules:
        # named as the user would write it (`rulesets/tests/../x.toml` -> `rulesets/x.toml`), checked where it really is
        shown = os.path.normpath(p.parent / r)
        if not _confined(Path(shown), home):
            line, col = smap.position(["suite", "rules"])
            diags.append(
                Diagnostic(
                    "io_error",
                    f"refused: rule path `{r}` is outside this suite's rule-set folder",
                    Location(str(p), line, col),
                    help=f"a suite may load rules from {os.path.normpath(home)} or the shipped rule sets",
                )
            )
        rules.append(shown)
    if diags:
        raise InputError(diags)
    paths = tuple(rules) or (os.path.normpath(p.parent.parent),)
    return TestSuite(str(p), paths, header.as_of, tuple(cases), header.name or p.name.removesuffix(".test.toml"))


def _suite_home(p: Path) -> Path:
    """The folder a suite's rules may come from: the rule-set folder beside its ``tests/``."""
    return p.parent.parent if p.parent.name == "tests" else p.parent


def _confined(target: Path, home: Path) -> bool:
    try:
        real = target.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    for root in (home, shipped_rulesets_path()):
        try:
            if real.is_relative_to(root.resolve()):
                return True
        except (OSError, RuntimeError):
            continue
    return False


def run_case(case: RuleTestCase, rules: RuleSet, as_of: int) -> tuple[CaseResult, Recommendation | None]:
    try:
        profile = profile_from_data(case.applicant, source=f"{case.location}: applicant")
        catalog = catalog_from_data(list(case.programs), source=f"{case.location}: program")
        rec = evaluate(profile, catalog, rules, as_of=as_of)
    except SmartpickError as exc:  # a case that does not structure, or runs out of budget: that case fails
        return CaseResult(case, (), frozenset(), error=exc.first_line()), None
    target = rec.get(case.check_program)
    failures: list[str] = []
    if target is None:
        return CaseResult(case, (f"no program `{case.check_program}` in the case",), frozenset()), rec
    fired = {a.rule_id for a in rec.profile_audit} | {a.rule_id for a in rec.list_audit}
    fired |= {a.rule_id for a in target.audit}
    e = case.expect
    # an expectation about a rule that does not exist can never fail: a renamed or removed rule
    # would leave its tests passing silently
    known = {r.id for r in (*rules.rules, *rules.disabled, *rules.overridden)}
    named = [*e.fired, *e.not_fired, *e.advice_from, *e.no_advice_from, *e.odds]
    if e.excluded_by is not None:
        named.append(e.excluded_by)
    for rid in dict.fromkeys(named):
        if rid not in known:
            failures.append(f"`{rid}` is not a rule of the rule sets under test")
    for rid in e.fired:
        if rid not in fired:
            failures.append(f"expected rule `{rid}` to fire; it did not")
    for rid in e.not_fired:
        if rid in fired:
            failures.append(f"expected rule `{rid}` not to fire; it did")
    for t in e.tags:
        if t not in target.tags:
            failures.append(f"expected tag `{t}`; tags were {', '.join(target.tags) or 'none'}")
    for t in e.no_tags:
        if t in target.tags:
            failures.append(f"expected no tag `{t}`")
    is_excluded = target.excluded is not None
    if e.excluded is not None and e.excluded != is_excluded:
        failures.append(f"expected excluded = {str(e.excluded).lower()}; it was {str(is_excluded).lower()}")
    if e.excluded_by is not None:
        by = [x.rule_id for x in target.exclusions]
        if e.excluded_by not in by:
            failures.append(f"expected exclusion by `{e.excluded_by}`; excluded by {', '.join(by) or 'nothing'}")
    if e.tier is not None and target.tier != e.tier:
        failures.append(f"expected tier {e.tier}; it was {target.tier}")
    chance = target.chance
    if e.chance is not None and (chance is None or abs(chance - e.chance) > 0.005):
        failures.append(f"expected chance {e.chance}; it was {_show(chance)}")
    if e.chance_min is not None and (chance is None or chance < e.chance_min):
        failures.append(f"expected chance >= {e.chance_min}; it was {_show(chance)}")
    if e.chance_max is not None and (chance is None or chance > e.chance_max):
        failures.append(f"expected chance <= {e.chance_max}; it was {_show(chance)}")
    factors = {a.rule_id: a.odds for a in target.audit if a.odds is not None}
    for rid, want in sorted(e.odds.items()):
        got = factors.get(rid)
        if got is None:
            failures.append(f"expected `{rid}` to multiply the odds by {want}; it did not move them")
        elif abs(got - want) > 1e-6 * max(1.0, abs(want)):
            failures.append(f"expected `{rid}` to multiply the odds by {want}; it multiplied them by {got:.6g}")
    if e.priority is not None and abs(target.priority - e.priority) > 1e-9:
        failures.append(f"expected priority {e.priority}; it was {target.priority:g}")
    advice_ids = {a.rule_id for a in rec.advice} | {a.rule_id for a in target.advice}
    for rid in e.advice_from:
        if rid not in advice_ids:
            failures.append(f"expected advice from `{rid}`")
    for rid in e.no_advice_from:
        if rid in advice_ids:
            failures.append(f"expected no advice from `{rid}`")
    if e.breadth_min is not None and rec.breadth.min != e.breadth_min:
        failures.append(f"expected breadth min {e.breadth_min}; it was {rec.breadth.min}")
    if e.breadth_max is not None and rec.breadth.max != e.breadth_max:
        failures.append(f"expected breadth max {e.breadth_max}; it was {rec.breadth.max}")
    if e.chosen is not None and target.chosen != e.chosen:
        failures.append(f"expected chosen = {str(e.chosen).lower()}; it was {str(target.chosen).lower()}")
    if e.left_off is not None and (target.left_off is None or e.left_off not in target.left_off):
        failures.append(f"expected it left off the list because {e.left_off!r}; {_left_off(target.left_off, target.chosen)}")
    return CaseResult(case, tuple(failures), frozenset(fired)), rec


def _left_off(reason: str | None, chosen: bool) -> str:
    if reason is not None:
        return f"it was left off because {reason!r}"
    return "it is in the list" if chosen else "it is excluded"


def _show(chance: float | None) -> str:
    return "excluded" if chance is None else f"{chance:.4f}"


def run_suite(suite: TestSuite, rules: RuleSet | None = None) -> tuple[list[CaseResult], Coverage]:
    """Run every case; coverage counts rules and ``when`` clauses of the rule set under test."""
    rs = rules if rules is not None else load_rules(*suite.rules_paths)
    results: list[CaseResult] = []
    fired_all: set[str] = set()
    true_clauses: set[tuple[str, int]] = set()
    false_clauses: set[tuple[str, int]] = set()
    for case in suite.cases:
        result, rec = run_case(case, rs, suite.as_of)
        results.append(result)
        fired_all |= result.fired
        if rec is not None:
            _clause_coverage(rs, case, rec, suite.as_of, true_clauses, false_clauses)
    return results, coverage_of(rs, fired_all, true_clauses, false_clauses)


def coverage_of(rs: RuleSet, fired: set[str], true_c: set[tuple[str, int]], false_c: set[tuple[str, int]]) -> Coverage:
    from ..language.expr import Literal
    from ..plan import plan_ruleset

    plan = plan_ruleset(rs)
    # a constant clause (`when = "true"`) has one outcome only: there is nothing for a test to cover
    all_clauses = [
        (cr.id, k, cr.clauses[k])
        for st in ("profile", "program", "list")
        for cr in plan.stage(st).rules
        for k in range(len(cr.clauses))
        if not isinstance(cr.clauses[k], Literal)
    ]
    ids = [r.id for r in rs.rules]
    counted = {(rid, k) for rid, k, _c in all_clauses}
    return Coverage(
        rules_total=len(ids),
        rules_fired=frozenset(fired & set(ids)),
        clauses_total=len(all_clauses),
        clauses_true=frozenset(true_c & counted),
        clauses_false=frozenset(false_c & counted),
        unfired=tuple(sorted(set(ids) - fired)),
        clauses_never_true=tuple(f"{rid}: {to_source(c)}" for rid, k, c in all_clauses if (rid, k) not in true_c),
        clauses_never_false=tuple(f"{rid}: {to_source(c)}" for rid, k, c in all_clauses if (rid, k) not in false_c),
    )


def _clause_coverage(
    rs: RuleSet, case: RuleTestCase, rec: Recommendation, as_of: int, true_c: set[tuple[str, int]], false_c: set[tuple[str, int]]
) -> None:
    from ..plan import plan_ruleset

    plan = plan_ruleset(rs)
    profile = profile_from_data(case.applicant)
    target = rec.get(case.check_program)
    tags = frozenset(rec.profile_tags)
    derived = dict(rec.derived)
    scopes = {
        "profile": Scope(applicant=profile, derived=derived, tags=tags, as_of_year=as_of),
        "program": Scope(
            applicant=profile,
            program=target.program if target else None,
            derived=derived,
            tags=frozenset(target.tags) if target else tags,
            as_of_year=as_of,
        ),
    }
    for st in ("profile", "program"):
        if st == "program" and target is None:
            continue
        for cr in plan.stage(st).rules:
            for k, clause in enumerate(cr.clauses):
                v = truth(evaluate_expr(clause, scopes[st]))
                if v is True:
                    true_c.add((cr.id, k))
                elif v is False:
                    false_c.add((cr.id, k))
    # list-stage clauses, on the list facts the evaluation saw
    list_scope = rec._list_scope
    if list_scope is not None:
        for cr in plan.list.rules:
            for k, clause in enumerate(cr.clauses):
                v = truth(evaluate_expr(clause, list_scope))
                if v is True:
                    true_c.add((cr.id, k))
                elif v is False:
                    false_c.add((cr.id, k))


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """Test files under ``paths`` (files, or folders searched for ``*.test.toml``).

    What is found is not read here: `load_suite` refuses anything but a regular file
    (a named pipe called ``x.test.toml`` would block the reader forever).
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(f for f in sorted(p.rglob("*.test.toml")) if not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif p.exists():
            out.append(p)
    return out
