"""Every phase is linear or bounded by a named limit (issue 11, docs/security.md "Work bounds").

Each test here is an input that once took a host process down or took minutes: a negative tag
cycle (cubic), a JSON catalog full of errors (quadratic), thousands of unknown names (difflib
over every candidate), chains deep enough to exhaust Python's stack. The inputs are as large as
the default limits allow, so a regression shows as a test that does not finish. Speed figures
live in benchmarks/limits.py, never here.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

import smartpick_rules as sr
from fixtures import PROGRAM, rule_table
from smartpick_rules.analysis.lint import lint_rules
from smartpick_rules.errors import did_you_mean
from smartpick_rules.limits import DEFAULT_LIMITS
from smartpick_rules.ruleset.load import load_rules_from_text

# -- stratification ---------------------------------------------------------------------------


def test_a_negative_cycle_as_large_as_the_limits_allow_is_refused() -> None:
    # was cubic: 600 rules took 16 s, the 2,000 allowed about ten minutes
    n = DEFAULT_LIMITS.max_rules
    text = '[ruleset]\nname = "x"\n' + "".join(rule_table(i, "profile", "not has('t')", 'tag = "t"') for i in range(n))
    with pytest.raises(sr.RulesetError) as info:
        load_rules_from_text([("x.toml", text)])
    assert set(info.value.codes) == {"negative_cycle"}
    assert len(info.value.diagnostics) == n


def test_strata_follow_negation_through_a_long_chain() -> None:
    # t0 <- not t1 <- ... : each rule one stratum above the one whose tag it negates
    n = 300
    rules = [rule_table(0, "profile", "true", f'tag = "t{n - 1}"')]
    rules += [rule_table(i, "profile", f"not has('t{n - i}')", f'tag = "t{n - 1 - i}"') for i in range(1, n)]
    rs = load_rules_from_text([("x.toml", '[ruleset]\nname = "x"\n' + "".join(rules))])
    from smartpick_rules.plan import plan_ruleset

    plan = plan_ruleset(rs)
    strata = {cr.id: cr.stratum for cr in plan.profile.rules}
    assert strata == {f"r{i}": i for i in range(n)}
    rec = sr.evaluate({"graduation_year": 2020}, [], rs, as_of=2026)
    # the chain alternates: r0 sets t299, so r1 (not t299) does not fire, so r2 fires, ...
    assert rec.profile_tags == tuple(sorted(f"t{n - 1 - i}" for i in range(0, n, 2)))


def test_a_cycle_reaching_through_other_rules_names_the_negating_rule() -> None:
    rules = [
        rule_table(0, "program", "has('c')", 'tag = "a"'),
        rule_table(1, "program", "has('a')", 'tag = "b"'),
        rule_table(2, "program", "not has('b')", 'tag = "c"'),
        rule_table(3, "program", "has('c')", 'tag = "d"'),  # downstream of the cycle, not in it
    ]
    with pytest.raises(sr.RulesetError) as info:
        load_rules_from_text([("x.toml", '[ruleset]\nname = "x"\n' + "".join(rules))])
    assert [(d.code, d.rule_id) for d in info.value.diagnostics] == [("negative_cycle", "r2")]


# -- no recursion Python's stack can exhaust -------------------------------------------------------


def test_a_long_requires_chain_loads_in_order() -> None:
    n = 3000  # load_rules counts files (Limits.max_rulesets); text sources are the embedding app's
    sources = [(f"r{i}.toml", f'[ruleset]\nname = "r{i}"\n' + (f'requires = ["r{i - 1}"]\n' if i else "")) for i in range(n)]
    rs = load_rules_from_text(reversed(sources))
    assert [info.name for info in rs.rulesets] == [f"r{i}" for i in range(n)]


def test_a_long_requires_cycle_is_one_readable_line() -> None:
    n = 3000
    sources = [(f"r{i}.toml", f'[ruleset]\nname = "r{i}"\nrequires = ["r{(i - 1) % n}"]\n') for i in range(n)]
    with pytest.raises(sr.RulesetError) as info:
        load_rules_from_text(sources)
    assert info.value.codes == ["dependency_cycle"]
    message = info.value.diagnostics[0].message
    assert "more" in message and len(message) < 200


def test_lint_over_a_deep_valid_tag_chain() -> None:
    n = DEFAULT_LIMITS.max_rules
    rules = [rule_table(0, "profile", "true", 'tag = "t0"')]
    rules += [rule_table(i, "profile", f"has('t{i - 1}')", f'tag = "t{i}"') for i in range(1, n)]
    limits = attrs.evolve(DEFAULT_LIMITS, max_tags=n)
    rs = load_rules_from_text([("x.toml", '[ruleset]\nname = "x"\n' + "".join(rules))], limits=limits)
    diags = lint_rules(rs)
    assert [d.code for d in diags] == ["unused_tag"]  # the last tag; no cycle, no RecursionError
    rec = sr.evaluate({"graduation_year": 2020}, [], rs, as_of=2026, limits=limits)
    assert len(rec.profile_tags) == n


def test_a_long_tag_cycle_is_linted_without_recursion() -> None:
    n = 1000
    rules = [rule_table(i, "profile", f"has('t{(i - 1) % n}') or applicant.graduation_year > 2000", f'tag = "t{i}"') for i in range(n)]
    rs = load_rules_from_text([("x.toml", '[ruleset]\nname = "x"\n' + "".join(rules))])
    assert [d.code for d in lint_rules(rs)] == ["tag_cycle"]


# -- error collection is linear -----------------------------------------------------------------


def test_a_json_catalog_of_thousands_of_bad_programs_points_at_each(tmp_path: Path) -> None:
    # was quadratic (42 s for 8,000 programs), and every error said line 1
    n = 8000
    programs = [{k: v for k, v in {**PROGRAM, "id": f"p{i}"}.items() if k != "name"} for i in range(n)]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(programs, indent=2))
    with pytest.raises(sr.InputError) as info:
        sr.load_catalog(path)
    diags = info.value.diagnostics
    assert len(diags) == n and {d.message for d in diags} == {"required field `name` is missing"}
    lines = path.read_text().splitlines()
    for d in diags[:3] + diags[-3:]:
        # the program's opening brace, followed by its fields
        assert lines[d.location.line - 1].strip() == "{"
        index = int(d.field_path.split("]")[0][2:])
        assert f'"id": "p{index}"' in "\n".join(lines[d.location.line : d.location.line + 6])


def test_json_positions_of_nested_fields_and_array_elements(tmp_path: Path) -> None:
    text = (
        '{\n  "graduation_year": 2020,\n  "usce": [\n    {"kind": "hands_on", "months": 2},\n'
        '    {"kind": "hands_on",\n     "months": -1}\n  ],\n  "languages": ["es", 3],\n'
        '  "step2_ck": {"score": 999}\n}\n'
    )
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(sr.InputError) as info:
        sr.load_profile(path)
    where = {d.field_path: (d.location.line, d.location.column) for d in info.value.diagnostics}
    assert where == {"$.usce[1].months": (6, 6), "$.languages[1]": (8, 23), "$.step2_ck.score": (9, 16)}


def test_thousands_of_unknown_tags_each_get_a_suggestion() -> None:
    # difflib over every tag for every error took 40 s at the limits
    n = DEFAULT_LIMITS.max_rules // 2
    setters = "".join(rule_table(i, "profile", "true", f'tag = "tag_number_{i}"') for i in range(n))
    readers = "".join(rule_table(n + i, "profile", f"has('tag_numbr_{i}')", f'tag = "tag_number_{i}"') for i in range(n))
    with pytest.raises(sr.RulesetError) as info:
        load_rules_from_text([("x.toml", '[ruleset]\nname = "x"\n' + setters + readers)])
    diags = [d for d in info.value.diagnostics if d.code == "unknown_tag"]
    assert len(diags) == n
    assert {d.suggestion for d in diags} == {f"tag_number_{i}" for i in range(n)}


def test_thousands_of_unknown_overrides_are_reported_quickly() -> None:
    n = DEFAULT_LIMITS.max_rules // 2
    base = "".join(rule_table(i, "profile", "true", 'tag = "z"').replace(f'"r{i}"', f'"rule_number_{i}"') for i in range(n))
    over = "".join(
        rule_table(i, "profile", "true", 'tag = "z"', extra="override = true\n").replace(f'"r{i}"', f'"rule_numbr_{i}"') for i in range(n)
    )
    sources = [("a.toml", '[ruleset]\nname = "a"\n' + base), ("b.toml", '[ruleset]\nname = "b"\nrequires = ["a"]\n' + over)]
    with pytest.raises(sr.RulesetError) as info:
        load_rules_from_text(sources)
    assert info.value.codes == ["unknown_rule"] * n
    assert info.value.diagnostics[0].suggestion == "rule_number_0"


@pytest.mark.parametrize(
    ("word", "pool", "expected"),
    [
        ("tag_numbr_7", [f"tag_number_{i}" for i in range(500)], "tag_number_7"),
        ("tag_nubmer_7", [f"tag_number_{i}" for i in range(500)], "tag_number_7"),
        ("tag_number", [f"tag_number_{i}" for i in range(500)], "tag_number_0"),
        ("zzz", [f"tag_number_{i}" for i in range(500)], None),
        ("p1234x", [f"p{i}" for i in range(30_000)], "p1234"),
        ("x" * 500, [f"p{i}" for i in range(30_000)], None),
    ],
)
def test_did_you_mean_in_large_pools(word: str, pool: list[str], expected: str | None) -> None:
    assert did_you_mean(word, pool) == expected


def test_lint_over_thousands_of_exclusion_rules_is_bounded() -> None:
    # every pair of 2,000 exclusions over the same fields was compared for shadowing: 183 s
    n = DEFAULT_LIMITS.max_rules
    body = "".join(
        rule_table(i, "program", f"program.positions > {i % 50}", 'exclude = "no"', extra=f"salience = {i % 100}\n") for i in range(n)
    )
    rs = load_rules_from_text([("x.toml", '[ruleset]\nname = "x"\n' + body)])
    diags = lint_rules(rs)
    assert diags and {d.code for d in diags} == {"shadowed_rule"}


def test_the_shadowing_lint_still_finds_what_it_found() -> None:
    text = '[ruleset]\nname = "x"\n' + rule_table(0, "program", "program.positions > 3", 'exclude = "many"', extra="salience = 10\n")
    text += rule_table(1, "program", "program.positions > 5", 'tag = "t"')
    text += rule_table(2, "program", "program.positions > 1", 'tag = "u"')
    text += rule_table(3, "program", "has('t')", 'tag = "v"')
    rs = load_rules_from_text([("x.toml", text)])
    assert [(d.code, d.rule_id) for d in lint_rules(rs) if d.code == "shadowed_rule"] == [("shadowed_rule", "r1")]


def _always_true(n_rules: int) -> sr.RuleSet:
    body = "".join(rule_table(i, "program", "true", "priority = 1") for i in range(n_rules))
    return load_rules_from_text([("x.toml", '[ruleset]\nname = "x"\n' + body)])


def test_the_audit_bound_applies_to_what_is_built_not_to_evaluating() -> None:
    limits = attrs.evolve(DEFAULT_LIMITS, max_audit_entries=50)
    cat = [{**PROGRAM, "id": f"p{i}"} for i in range(20)]
    rec = sr.evaluate({"graduation_year": 2020}, cat, _always_true(5), as_of=2026, limits=limits)
    # a few trails are fine, and a lookup builds only the program looked up
    assert len(rec.programs[0].audit) == 5 and rec.get("p7") is not None and rec.get("nope") is None
    with pytest.raises(sr.EvaluationError) as info:
        list(rec.programs)  # every trail: 100 entries kept
    assert info.value.code == "limit_exceeded" and "max_audit_entries" in (info.value.diagnostics[0].help or "")
    with pytest.raises(sr.EvaluationError) as info2:
        rec.to_json()  # one to_json writes 100
    assert "max_audit_entries" in (info2.value.diagnostics[0].help or "")


def test_the_issues_reproducer_is_refused_at_once() -> None:
    # 2,000 always-true program rules over a catalog: 3.8 GB and a MemoryError under --format json
    cat = [{**PROGRAM, "id": f"p{i}"} for i in range(2500)]
    with pytest.raises(sr.EvaluationError) as info:
        sr.evaluate({"graduation_year": 2020}, cat, _always_true(DEFAULT_LIMITS.max_rules), as_of=2026).to_json()
    assert info.value.code == "budget_exceeded"


@pytest.mark.skipif("durable" not in sr.compile_ruleset.__globals__["available_engines"](), reason="durable_rules does not import here")
def test_the_durable_engine_counts_its_assertions_as_work() -> None:
    cat = [{**PROGRAM, "id": f"p{i}", "positions": i} for i in range(50)]
    body = "".join(rule_table(i, "program", f"program.positions == {1000 + i}", 'tag = "t"') for i in range(10))
    rs = load_rules_from_text([("x.toml", '[ruleset]\nname = "x"\n' + body)])
    limits = attrs.evolve(DEFAULT_LIMITS, max_work=400)  # 50 candidates x 10 rules = 500
    with pytest.raises(sr.EvaluationError) as info:
        sr.evaluate({"graduation_year": 2020}, cat, rs, engine="durable", as_of=2026, limits=limits)
    assert info.value.code == "budget_exceeded" and "max_work" in (info.value.diagnostics[0].help or "")
    sr.evaluate({"graduation_year": 2020}, cat, rs, engine="durable", as_of=2026)  # within the default


def test_a_plan_made_under_generous_limits_is_not_reused_under_strict_ones() -> None:
    # issue 14: the plan cache ignored the limits it was made under
    text = '[ruleset]\nname = "x"\n' + "".join(rule_table(i, "program", "true", f'tag = "t{i}"') for i in range(5))
    rs = load_rules_from_text([("x.toml", text)])
    cat = [{**PROGRAM, "id": "p0"}]
    sr.evaluate({"graduation_year": 2020}, cat, rs, as_of=2026)  # planned under the defaults
    with pytest.raises(sr.RulesetError) as info:
        sr.evaluate({"graduation_year": 2020}, cat, rs, as_of=2026, limits=attrs.evolve(DEFAULT_LIMITS, max_tags=2))
    assert "max_tags" in str(info.value)
