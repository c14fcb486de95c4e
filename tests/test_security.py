"""Attempts to break out of the rule language and the loaders, and every limit in Limits.

Rule files, profiles and catalogs are untrusted (docs/security.md). Each test here is one way an
uploaded input could try to run code, read files it should not, or use unbounded time or memory;
each must end in a result or a typed, located ``SmartpickError``. Refusals of bare expressions
by the parser are in tests/test_expressions.py; these go through the public loaders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import smartpick_rules as sr
from fixtures import PROGRAM, catalog, program, refused, rule_file
from smartpick_rules.limits import DEFAULT_LIMITS, Limits
from smartpick_rules.ruleset.load import load_rules_from_text

CATALOG = catalog(program("a", positions=0), program("b", positions=3))
PROFILE = sr.profile_from_data({"graduation_year": 2018, "step2_ck": {"score": 224}})


def loads_and_runs(text: str, limits: Limits = DEFAULT_LIMITS) -> sr.Recommendation:
    rules = load_rules_from_text([("s.toml", text)], limits=limits)
    rec = sr.evaluate(PROFILE, CATALOG, rules, as_of=2026, limits=limits)
    rec.to_json()
    return rec


# -- running code: dunders, calls, nothing is eval'd ----------------------------------------

DUNDERS = [
    "program.__class__.__name__ == 'Program'",
    "applicant.__dict__ == 1",
    "applicant._by_id == 1",
    "derived.__class__ == 1",
    "count(applicant.usce, item.__class__ == 1) > 0",
    "program.name.__len__ == 1",
]


@pytest.mark.parametrize("when", DUNDERS)
def test_dunder_attributes_are_refused_in_rule_files(when: str) -> None:
    err = refused(rule_file(f'stage = "program"\nwhen = "{when}"\nthen = {{ tag = "x" }}'))
    assert err.code == "parse_error"
    assert err.rule_id == "s.r0" and err.location.file == "s.toml" and err.location.line == 6
    assert "_" in err.diagnostics[0].message


@pytest.mark.parametrize("template", ["{program.__class__}", "{applicant.__init__.__globals__}", "{program._by_id}"])
def test_dunder_attributes_are_refused_in_templates(template: str) -> None:
    err = refused(rule_file(f'stage = "program"\nwhen = "true"\nthen = {{ exclude = "{template}" }}'))
    assert err.code == "template_error"


def test_dunder_keys_in_profiles_and_catalogs_are_unknown_fields() -> None:
    with pytest.raises(sr.InputError) as info:
        sr.profile_from_data({"graduation_year": 2018, "__class__": "x"})
    assert info.value.diagnostics[0].field_path == "$.__class__"
    with pytest.raises(sr.InputError):
        sr.catalog_from_data([{**PROGRAM, "id": "a", "__dict__": {}}])


CALLS = {
    "__import__('os').system('touch PWNED')": "parse_error",  # a call on a call's attribute
    "open('PWNED', 'w') == 1": "unknown_function",
    "exec('import os') == 1": "unknown_function",
    "eval('1') == 1": "unknown_function",
    "breakpoint() == 1": "unknown_function",
    "globals() == 1": "unknown_function",
    "print(1) == 1": "unknown_function",
    "type(program) == 1": "unknown_function",
    "program.name.upper() == 'X'": "parse_error",
    "(lambda: 1)() == 1": "parse_error",
    "count.__call__(applicant.usce) == 1": "parse_error",
}


@pytest.mark.parametrize("when,code", CALLS.items())
def test_calls_of_names_not_whitelisted_are_refused_and_nothing_runs(
    when: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    err = refused(rule_file(f'stage = "program"\nwhen = "{when}"\nthen = {{ tag = "x" }}'))
    assert err.code == code, err
    assert not (tmp_path / "PWNED").exists()


def test_keys_that_look_like_code_are_only_names() -> None:
    err = refused(rule_file('stage = "profile"\nwhen = "true"\nthen = { set = { "__class__" = 1 } }'))
    assert err.code == "schema_error"
    err = refused(rule_file('stage = "profile"\nwhen = "true"\nthen = { tag = "__import__" }'))
    assert err.code == "schema_error"


# -- huge numbers and repeated strings --------------------------------------------------------


@pytest.mark.parametrize(
    "when,code",
    [
        ("2 ** 100000 > 1", "parse_error"),
        ("10 ** 10 ** 10 > 1", "parse_error"),
        ("applicant.step2_ck.score > 1" + "0" * 20, "limit_exceeded"),
        ("'a' * 1000000000000000000 == 'a'", "limit_exceeded"),
        ("len(applicant.id * 100000000) > 1", "type_error"),
        ("len(applicant.id + applicant.id) > 1", "type_error"),
        ("len(['a', 'b'] * 100000000) > 1", "type_error"),
    ],
)
def test_huge_exponents_and_repeated_strings_are_refused(when: str, code: str) -> None:
    assert refused(rule_file(f'stage = "profile"\nwhen = "{when}"\nthen = {{ tag = "x" }}')).code == code


def test_a_five_thousand_digit_literal_is_refused() -> None:
    when = "applicant.step2_ck.score > " + "9" * 5000
    err = refused(rule_file(f'stage = "profile"\nwhen = "{when}"\nthen = {{ tag = "x" }}'), Limits(max_expression_length=10_000))
    assert err.code in ("parse_error", "limit_exceeded")


@pytest.mark.parametrize(
    "when",
    [
        "program.positions * 1e300 * 1e300 > 1",  # overflows to inf: a number, not a crash
        "applicant.step2_ck.score * 1000000000000000 * 1000000000000000 * 1000000000000000 > 1",
        "applicant.step2_ck.score / 0 > 1",  # unknown
        "applicant.step2_ck.score % 0 > 1",
        "program.min_step2_ck / program.positions > 1",
        "years_since(applicant.step2_ck.score * 1000000000000000) > 1",
    ],
)
def test_run_time_arithmetic_extremes_give_results(when: str) -> None:
    stage = "program" if "program." in when else "profile"
    loads_and_runs(rule_file(f'stage = "{stage}"\nwhen = "{when}"\nthen = {{ tag = "x" }}'))


@pytest.mark.parametrize(
    "value", ["nan", "inf", "-inf", "1e300", "99999999999999999999"], ids=["nan", "inf", "-inf", "1e300", "20-digits"]
)
def test_effect_numbers_out_of_range_are_refused(value: str) -> None:
    for then in (f"{{ odds = {value} }}", f"{{ chance_cap = {value} }}", f"{{ priority = {value} }}"):
        err = refused(rule_file(f'stage = "program"\nwhen = "true"\nthen = {then}'))
        assert err.code in ("schema_error", "limit_exceeded")
    err = refused(rule_file(f'stage = "list"\nwhen = "true"\nthen = {{ set = {{ interview_target = {value} }} }}'))
    assert err.code in ("schema_error", "limit_exceeded", "type_error")
    estimate = f'[ruleset]\nname = "s"\n[[estimate]]\nname = "screen"\nstart = {value}\n'
    assert refused(estimate).code in ("schema_error", "limit_exceeded")
    err = refused(
        '[ruleset]\nname = "s"\n[[estimate]]\nname = "screen"\nstart = 220\n'
        + rule_file(f'stage = "program"\nwhen = "true"\nthen = {{ estimate = {{ screen = {value} }} }}').split("\n", 2)[2]
    )
    assert err.code in ("schema_error", "limit_exceeded")
    assert refused(f'[ruleset]\nname = "s"\n[chance]\nbase = {value}\n').code in ("schema_error", "limit_exceeded")


@pytest.mark.parametrize(
    ("effect", "message"),
    [
        ('odds = "(1 + program.positions) * 1e300 * 1e300"', "`odds` must be a positive number (program `a`), got inf"),
        ('odds = "program.positions - 3"', "`odds` must be a positive number (program `a`), got -3.0"),
        ('odds = "(1 + program.positions) * 1e300 * 1e300 - (1 + program.positions) * 1e300 * 1e300"', "`odds` must be a positive number (program `a`), got nan"),
        ('chance_cap = "program.positions / 2"', "`chance_cap` must be between 0 and 1 (program `a`), got 0.0"),
        # a's ceiling of 1 is allowed (no ceiling at all); b's 4 is not a chance
        ('chance_cap = "1 + program.positions"', "`chance_cap` must be between 0 and 1 (program `b`), got 4.0"),
        ('odds = "program.img_share"', "`odds` has no value for program `a` (it read something not set)"),
    ],
)
def test_effect_values_out_of_range_at_run_time_are_evaluation_errors(effect: str, message: str) -> None:
    rules = load_rules_from_text([("s.toml", rule_file(f'stage = "program"\nwhen = "true"\nthen = {{ {effect} }}'))])
    with pytest.raises(sr.EvaluationError) as info:
        sr.evaluate(PROFILE, CATALOG, rules, as_of=2026)
    d = info.value.diagnostics[0]
    assert d.rule_id == "s.r0" and d.location.file == "s.toml"
    assert message in d.message, d.message


def test_profile_odds_out_of_range_at_run_time_are_evaluation_errors() -> None:
    rules = load_rules_from_text([("s.toml", rule_file('stage = "profile"\nwhen = "true"\nthen = { odds = "applicant.step2_ck.score - 224" }'))])
    with pytest.raises(sr.EvaluationError, match=r"`odds` must be a positive number, got 0.0"):
        sr.evaluate(PROFILE, CATALOG, rules, as_of=2026)


def test_exp_of_anything_stays_finite() -> None:
    rec = loads_and_runs(rule_file('stage = "program"\nwhen = "true"\nthen = { odds = "exp(program.positions * 1e300)" }'))
    by_id = {r.program.id: r for r in rec.programs}
    assert by_id["b"].audit[0].odds == pytest.approx(5.184705528587072e21)  # e**50, the bound
    assert 0 < (by_id["b"].chance or 0) < 1


@pytest.mark.parametrize("bound", ["list.size * 1e300 * 1e300", "0 - list.size * 1e300 * 1e300 + list.size * 1e300 * 1e300"])
def test_an_infinite_or_nan_group_bound_is_an_evaluation_error(bound: str) -> None:
    text = '[ruleset]\nname = "s"\n[[group]]\nname = "g"\nprograms = "program.positions > 1"\n' + rule_file(
        f'stage = "list"\nwhen = "true"\nthen = {{ at_most = {{ g = "{bound}" }} }}'
    ).split("\n", 2)[2]
    rules = load_rules_from_text([("s.toml", text)])
    with pytest.raises(sr.EvaluationError, match=r"`at_most\.g` is .*not a usable number of programs"):
        sr.evaluate(PROFILE, CATALOG, rules, as_of=2026)


def test_deeply_nested_conditional_expressions_are_refused() -> None:
    deep = "1 if true else " * 300 + "0"
    err = refused(rule_file(f'stage = "profile"\nwhen = "{deep} > 0"\nthen = {{ tag = "x" }}'))
    assert err.code in ("limit_exceeded", "parse_error")


@pytest.mark.parametrize("bound", ["list.size * 1e300 * 1e300", "list.size * 1e300 * 1e300 - list.size * 1e300 * 1e300"])
def test_an_infinite_or_nan_breadth_bound_is_an_evaluation_error(bound: str) -> None:
    rules = load_rules_from_text([("s.toml", rule_file(f'stage = "list"\nwhen = "true"\nthen = {{ breadth = {{ min = 1, max = "{bound}" }} }}'))])
    with pytest.raises(sr.EvaluationError):
        sr.evaluate(PROFILE, CATALOG, rules, as_of=2026)


# -- deep nesting: expressions and TOML -----------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "(" * 200 + "true" + ")" * 200,
        "not " * 60 + "true",
        "-" * 100 + "applicant.step2_ck.score > 1",
        "[" * 60 + "1" + "]" * 60 + " == 1",
        "min(" * 50 + "1" + ", 2)" * 50 + " > 0",
    ],
    ids=["parens", "not", "negation", "lists", "calls"],
)
def test_deeply_nested_conditions_in_rule_files_are_refused(when: str) -> None:
    err = refused(rule_file(f'stage = "profile"\nwhen = "{when}"\nthen = {{ tag = "x" }}'))
    assert err.code in ("limit_exceeded", "parse_error")


def test_a_wide_condition_within_the_limits_runs() -> None:
    when = " and ".join(["applicant.step2_ck.score > 1"] * 60)
    loads_and_runs(rule_file(f'stage = "profile"\nwhen = "{when}"\nthen = {{ tag = "x" }}'))


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 50_000 + "]" * 50_000, "x = " + "{a = " * 20_000 + "1" + "}" * 20_000, "[" + "a." * 20_000 + "b]\n"],
    ids=["arrays", "inline-tables", "dotted-keys"],
)
def test_deeply_nested_toml_rule_files_are_refused(text: str) -> None:
    assert refused(text).code in ("parse_error", "schema_error", "limit_exceeded")


def test_deeply_nested_json_inputs_are_refused(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(sr.InputError):
        sr.load_catalog(tmp_path / "c.json")
    (tmp_path / "p.json").write_text('{"graduation_year": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(sr.InputError):
        sr.load_profile(tmp_path / "p.json")


@pytest.mark.parametrize("kind", ["profile", "catalog"])
def test_deeply_nested_toml_inputs_are_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.toml"
    path.write_text("x = " + "[" * 50_000 + "]" * 50_000)
    with pytest.raises(sr.InputError):
        sr.load_profile(path) if kind == "profile" else sr.load_catalog(path)


# -- tag cycles and rule sets that require themselves ----------------------------------------


def test_a_long_positive_tag_cycle_reaches_a_fixpoint() -> None:
    n = 50
    rules = [f'stage = "program"\nwhen = "has(\'t{(i + 1) % n}\') or program.positions > 2"\nthen = {{ tag = "t{i}", odds = 1.01 }}' for i in range(n)]
    rec = loads_and_runs(rule_file(*rules))
    by_id = {r.program.id: r for r in rec.programs}
    # each of the n rules fired once for b: its odds are the base odds times 1.01 ** n
    odds = 0.05 / 0.95 * 1.01**n
    assert by_id["b"].chance == pytest.approx(odds / (1 + odds), rel=1e-12) and len(by_id["b"].tags) == n
    assert len([a for a in by_id["b"].audit if a.odds == 1.01]) == n
    assert by_id["a"].chance == pytest.approx(0.05, rel=1e-12) and by_id["a"].tags == ()


@pytest.mark.parametrize(
    "rules",
    [
        ['stage = "program"\nwhen = "not has(\'a\')"\nthen = { tag = "a" }'],
        [
            'stage = "profile"\nwhen = "not has(\'c\')"\nthen = { tag = "a" }',
            'stage = "profile"\nwhen = "has(\'a\')"\nthen = { tag = "b" }',
            'stage = "profile"\nwhen = "has(\'b\')"\nthen = { tag = "c" }',
        ],
    ],
    ids=["self", "three-rules"],
)
def test_a_tag_cycle_through_negation_is_refused(rules: list[str]) -> None:
    err = refused(rule_file(*rules))
    assert "negative_cycle" in err.codes


def test_rule_sets_that_require_each_other_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[ruleset]\nname = "a"\nrequires = ["b"]\n')
    (tmp_path / "b.toml").write_text('[ruleset]\nname = "b"\nrequires = ["a"]\n')
    (tmp_path / "self.toml").write_text('[ruleset]\nname = "self"\nrequires = ["self"]\n')
    with pytest.raises(sr.RulesetError) as info:
        sr.load_rules(tmp_path)
    assert "dependency_cycle" in info.value.codes
    with pytest.raises(sr.RulesetError) as info2:
        sr.load_rules(tmp_path / "a.toml", tmp_path / "b.toml")
    assert info2.value.codes == ["dependency_cycle"]


# -- the file system: symlinks, special files, sizes --------------------------------------------


def test_symlinks_that_escape_the_rule_set_folder_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.toml").write_text(rule_file('stage = "profile"\nwhen = "true"\nthen = { tag = "x" }', name="secret"))
    folder = tmp_path / "rulesets"
    folder.mkdir()
    (folder / "ok.toml").write_text('[ruleset]\nname = "ok"\n')
    (folder / "escape.toml").symlink_to(outside / "secret.toml")
    (folder / "up.toml").symlink_to(Path("..") / "outside" / "secret.toml")
    with pytest.raises(sr.RulesetError) as info:
        sr.load_rules(folder)
    assert info.value.codes == ["io_error", "io_error"]
    assert all("outside the rule-set folder" in d.message for d in info.value.diagnostics)


def test_symlinked_folders_are_not_followed_and_loops_do_not_hang(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.toml").write_text('[ruleset]\nname = "secret"\n')
    folder = tmp_path / "rulesets"
    folder.mkdir()
    (folder / "ok.toml").write_text('[ruleset]\nname = "ok"\n')
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    rules = sr.load_rules(folder)
    assert [r.name for r in rules.rulesets] == ["ok"]


def test_a_symlink_inside_the_folder_is_allowed(tmp_path: Path) -> None:
    folder = tmp_path / "rulesets"
    (folder / "real").mkdir(parents=True)
    (folder / "real" / "a.toml").write_text('[ruleset]\nname = "a"\n')
    (folder / "alias.toml").symlink_to(folder / "real" / "a.toml")
    with pytest.raises(sr.RulesetError) as info:  # the same file twice: the same rule set name twice
        sr.load_rules(folder)
    assert info.value.codes == ["duplicate_rule"]


def test_a_dangling_symlink_is_an_io_error(tmp_path: Path) -> None:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    (folder / "gone.toml").symlink_to(tmp_path / "nowhere.toml")
    with pytest.raises(sr.RulesetError) as info:
        sr.load_rules(folder)
    assert info.value.code == "io_error"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_in_a_rule_set_folder_does_not_hang(tmp_path: Path) -> None:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    os.mkfifo(folder / "pipe.toml")
    code = f"import smartpick_rules as sr\ntry:\n    sr.load_rules({str(folder)!r})\nexcept sr.SmartpickError:\n    pass\n"
    try:
        subprocess.run([sys.executable, "-c", code], timeout=30, check=True, capture_output=True)  # a hang detector: generous on a loaded machine
    except subprocess.TimeoutExpired:
        pytest.fail("load_rules hung on a named pipe")


def test_huge_files_are_refused_before_they_are_read(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    with big.open("wb") as f:  # sparse: 2 GB on paper, nothing on disk
        f.truncate(2_000_000_000)
    with pytest.raises(sr.RulesetError) as info:
        sr.load_rules(big)
    assert info.value.code == "limit_exceeded" and "1000000" in str(info.value)
    for name in ("big.csv", "big.json"):
        path = tmp_path / name
        with path.open("wb") as f:
            f.truncate(2_000_000_000)
        with pytest.raises(sr.InputError) as info2:
            sr.load_catalog(path)
        assert info2.value.code == "limit_exceeded"
    with pytest.raises(sr.InputError) as info3:
        sr.load_profile(tmp_path / "big.json")
    assert info3.value.code == "limit_exceeded"


# -- every limit, configured tiny -----------------------------------------------------------


def _csv(rows: int, name: str = "P") -> str:
    head = "id,name,specialty,state,region,program_type\n"
    return head + "".join(f"p{i},{name},internal_medicine,CA,la_county,community\n" for i in range(rows))


def _exceeds(limit: str, value: int, tmp_path: Path) -> sr.SmartpickError:
    """Trip ``limit`` configured at ``value``; return the error."""
    limits = attrs.evolve(DEFAULT_LIMITS, **{limit: value})
    rule = 'stage = "profile"\nwhen = "true"\nthen = { tag = "x" }'
    try:
        if limit == "max_ruleset_bytes":
            (tmp_path / "r.toml").write_text(rule_file(rule))
            sr.load_rules(tmp_path / "r.toml", limits=limits)
        elif limit == "max_ruleset_total_bytes":
            for n in ("a", "b"):
                (tmp_path / f"{n}.toml").write_text(rule_file(rule, name=n))
            sr.load_rules(tmp_path, limits=limits)
        elif limit == "max_rules":
            load_rules_from_text([("r.toml", rule_file(rule, rule.replace('"x"', '"y"'), rule.replace('"x"', '"z"')))], limits=limits)
        elif limit == "max_rulesets":
            for n in ("a", "b", "c"):
                (tmp_path / f"{n}.toml").write_text(f'[ruleset]\nname = "{n}"\n')
            sr.load_rules(tmp_path, limits=limits)
        elif limit == "max_expression_length":
            load_rules_from_text([("r.toml", rule_file(rule.replace('"true"', '"applicant.step2_ck.score > 200"')))], limits=limits)
        elif limit == "max_expression_depth":
            load_rules_from_text([("r.toml", rule_file(rule.replace('"true"', '"not not not not true"')))], limits=limits)
        elif limit == "max_tags":
            load_rules_from_text([("r.toml", rule_file(rule.replace('"x"', '["a", "b", "c"]')))], limits=limits)
        elif limit == "max_firings":
            rules = load_rules_from_text([("r.toml", rule_file('stage = "program"\nwhen = "true"\nthen = { odds = 2 }'))])
            sr.evaluate(PROFILE, CATALOG, rules, as_of=2026, limits=limits)
        elif limit == "max_work":
            rules = load_rules_from_text([("r.toml", rule_file('stage = "program"\nwhen = "program.positions > 1 and program.positions < 9"\nthen = { priority = 1 }'))])
            sr.evaluate(PROFILE, CATALOG, rules, as_of=2026, limits=limits)
        elif limit == "max_audit_entries":
            rules = load_rules_from_text([("r.toml", rule_file('stage = "program"\nwhen = "true"\nthen = { priority = 1 }'))])
            list(sr.evaluate(PROFILE, CATALOG, rules, as_of=2026, limits=limits).programs)  # what a report reads
        elif limit == "max_result_bytes":
            rules = load_rules_from_text([("r.toml", rule_file('stage = "program"\nwhen = "true"\nthen = { priority = 1 }'))])
            sr.evaluate(PROFILE, CATALOG, rules, as_of=2026, limits=limits).to_json()
        elif limit == "max_programs":
            (tmp_path / "c.csv").write_text(_csv(5))
            sr.load_catalog(tmp_path / "c.csv", limits=limits)
        elif limit == "max_string_length":
            (tmp_path / "c.csv").write_text(_csv(1, name="a long program name"))
            sr.load_catalog(tmp_path / "c.csv", limits=limits)
        elif limit == "max_list_items":
            sr.profile_from_data({"graduation_year": 2018, "languages": ["es", "ko", "tl", "hy", "fa"]}, limits=limits)
        elif limit == "max_input_bytes":
            (tmp_path / "c.csv").write_text(_csv(3))
            sr.load_catalog(tmp_path / "c.csv", limits=limits)
        elif limit == "max_message_length":
            load_rules_from_text([("r.toml", rule_file(rule.replace('{ tag = "x" }', '{ advice = "a message longer than ten" }')))], limits=limits)
        else:
            raise AssertionError(f"no test for {limit}")
    except sr.SmartpickError as exc:
        return exc
    raise AssertionError(f"{limit}={value} was not enforced")


TINY = {
    "max_ruleset_bytes": 20,
    "max_ruleset_total_bytes": 150,
    "max_rules": 2,
    "max_rulesets": 2,
    "max_expression_length": 10,
    "max_expression_depth": 3,
    "max_tags": 2,
    "max_firings": 1,
    "max_work": 3,
    "max_audit_entries": 1,
    "max_result_bytes": 100,
    "max_programs": 3,
    "max_string_length": 5,
    "max_list_items": 3,
    "max_input_bytes": 40,
    "max_message_length": 10,
}


def test_every_limit_has_a_tiny_value_test() -> None:
    # max_engine_seconds needs the durable engine hanging for real: tests/test_durable_isolation.py
    assert set(TINY) | {"max_engine_seconds"} == {a.name for a in attrs.fields(Limits)}


@pytest.mark.parametrize("limit", sorted(TINY))
def test_each_limit_configured_tiny_gives_a_clear_error(limit: str, tmp_path: Path) -> None:
    err = _exceeds(limit, TINY[limit], tmp_path)
    assert err.code == ("budget_exceeded" if limit in ("max_firings", "max_work") else "limit_exceeded"), err
    assert str(TINY[limit]) in err.diagnostics[0].message, err  # the configured value is named
    # and the default is not hit by the same input
    assert getattr(DEFAULT_LIMITS, limit) > TINY[limit]


@pytest.mark.parametrize("limit", sorted(TINY))
def test_each_limit_error_names_the_limits_field(limit: str, tmp_path: Path) -> None:
    err = _exceeds(limit, TINY[limit], tmp_path)
    d = err.diagnostics[0]
    assert f"Limits.{limit}" in f"{d.message} {d.help or ''}", d.render()  # the app knows what to raise


@pytest.mark.parametrize("kind", ["json-catalog", "profile"])
def test_max_string_length_applies_to_json_inputs(kind: str, tmp_path: Path) -> None:
    limits = Limits(max_string_length=5)
    if kind == "json-catalog":
        (tmp_path / "c.json").write_text(json.dumps([{**PROGRAM, "id": "a", "name": "a long name"}]))
        with pytest.raises(sr.InputError) as info:
            sr.load_catalog(tmp_path / "c.json", limits=limits)
    else:
        (tmp_path / "p.json").write_text(json.dumps({"graduation_year": 2018, "name": "a long name"}))
        with pytest.raises(sr.InputError) as info:
            sr.load_profile(tmp_path / "p.json", limits=limits)
    assert info.value.code == "limit_exceeded"


def test_limits_travel_through_evaluate() -> None:
    with pytest.raises(sr.InputError) as info:
        sr.evaluate(PROFILE, CATALOG, None, as_of=2026, limits=Limits(max_programs=1))
    assert info.value.code == "limit_exceeded"
    rules = load_rules_from_text([("r.toml", rule_file('stage = "program"\nwhen = "true"\nthen = { odds = 2 }'))])
    with pytest.raises(sr.EvaluationError) as info2:
        sr.evaluate(PROFILE, CATALOG, rules, as_of=2026, limits=Limits(max_firings=1))
    assert info2.value.code == "budget_exceeded" and "Limits.max_firings" in (info2.value.diagnostics[0].help or "")


def test_rendered_messages_are_cut_at_max_message_length() -> None:
    text = rule_file('stage = "program"\nwhen = "true"\nthen = { exclude = "{program.name}" }')
    catalog = sr.catalog_from_data([{**PROGRAM, "id": "a", "name": "n" * 5000}])
    rules = load_rules_from_text([("r.toml", text)])
    rec = sr.evaluate(PROFILE, catalog, rules, as_of=2026, limits=Limits(max_message_length=50))
    reason = rec.programs[0].excluded
    assert reason is not None and len(reason.reason) <= 50


def test_lone_surrogates_in_rule_text_are_refused() -> None:
    # text from a file decoded with errors="surrogateescape" can carry them
    with pytest.raises(sr.RulesetError):
        load_rules_from_text([("s.toml", '[ruleset]\nname = "\udcff"\n')])


def test_a_lone_surrogate_in_an_expression_is_a_parse_error() -> None:
    from smartpick_rules.language.expr import ExpressionError, parse_expression

    with pytest.raises(ExpressionError) as info:
        parse_expression('applicant.name == "\udcff"')
    assert info.value.diagnostic.code == "parse_error"


def test_parsing_a_condition_emits_no_python_warnings() -> None:
    import warnings

    from smartpick_rules.language.expr import parse_expression

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parse_expression("applicant.step2_ck.score > 1and true")
    assert [str(w.message) for w in caught] == []
