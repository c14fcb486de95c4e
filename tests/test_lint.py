"""Lints (``smartpick-rules check``): each warning found where it should be, and only there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import smartpick_rules as sr
from fixtures import RULESET_HEADER
from smartpick_rules.analysis.lint import field_range, lint_rules
from smartpick_rules.errors import Diagnostic
from smartpick_rules.language.expr import parse_expression
from smartpick_rules.ruleset.load import load_rules_from_text
from test_cli_support import MINI_RULES, run_main, shipped_rules_load, write_mini

HEADER = RULESET_HEADER


def rule(rid: str, stage: str, when: str | list[str], then: str, *, salience: int = 0, explain: str | None = None) -> str:
    w = json.dumps(when)
    text = f'\n[[rule]]\nid = "t.{rid}"\nstage = "{stage}"\nsalience = {salience}\nwhen = {w}\nthen = {then}\n'
    if explain is not None:
        text += f"explain = {json.dumps(explain)}\n"
    return text


def lint(*rules: str) -> list[Diagnostic]:
    rs = load_rules_from_text([("t.toml", HEADER + "".join(rules))])
    return lint_rules(rs)


def codes(diags: list[Diagnostic]) -> list[tuple[str, str | None]]:
    return [(d.code, d.rule_id) for d in diags]


# --- never_true ----------------------------------------------------------------------------------


def test_score_above_the_maximum_is_never_true() -> None:
    diags = lint(rule("x", "profile", "applicant.step2_ck.score > 300", "{ odds = 2 }"))
    assert codes(diags) == [("never_true", "t.x")]
    d = diags[0]
    assert d.severity == "warning"
    assert "`applicant.step2_ck.score` is between 1 and 300" in d.message
    assert d.location.file == "t.toml" and d.location.line > 0
    assert d.render().startswith(f"t.toml:{d.location.line}:{d.location.column}: warning: never_true: t.x: never fires:")


@pytest.mark.parametrize(
    "when",
    [
        "applicant.step1.score < 1",
        "applicant.graduation_year > 2100",
        "program.img_share > 1",
        "applicant.research.publications < 0",
        "count(applicant.usce) < 0",
        "total(applicant.usce, item.months) < 0",
        "not (applicant.step2_ck.score <= 300)",
        "applicant.step2_ck.score == 301",
        "false",
        "applicant.step1.score < 200 and applicant.step1.score > 220",
    ],
)
def test_never_true_conditions(when: str) -> None:
    stage = "program" if "program." in when else "profile"
    assert codes(lint(rule("x", stage, when, "{ odds = 2 }"))) == [("never_true", "t.x")]


@pytest.mark.parametrize(
    "when",
    [
        "applicant.step2_ck.score >= 300",
        "applicant.step1.score < 215",
        "applicant.graduation_year < 2000",
        "program.img_share >= 0.5",
        "total(applicant.usce, item.months) >= 3",
        "applicant.step1.score > 200 and applicant.step1.score < 220",
        "true",
    ],
)
def test_satisfiable_conditions_are_not_flagged(when: str) -> None:
    stage = "program" if "program." in when else "profile"
    assert lint(rule("x", stage, when, "{ odds = 2 }")) == []


def test_contradictory_clauses_across_the_when_list() -> None:
    diags = lint(rule("x", "program", ["program.region == 'la_county'", "program.region in ['kern', 'san_diego']"], "{ odds = 2 }"))
    assert codes(diags) == [("never_true", "t.x")]
    assert "cannot both hold" in diags[0].message


def test_a_tag_and_its_negation() -> None:
    diags = lint(
        rule("a", "profile", "applicant.step1.score < 215", '{ tag = "low" }'),
        rule("b", "program", ["has('low')", "not has('low')"], "{ odds = 2 }"),
    )
    assert ("never_true", "t.b") in codes(diags)


def test_excluding_every_value_of_an_enumeration() -> None:
    when = "applicant.visa not in ['none', 'j1', 'h1b']"
    assert codes(lint(rule("x", "profile", when, "{ odds = 2 }"))) == [("never_true", "t.x")]


def test_field_ranges_come_from_the_models() -> None:
    assert field_range(parse_expression("applicant.step1.score")).describe() == "between 1 and 300"  # type: ignore[arg-type]
    assert field_range(parse_expression("program.img_share")).describe() == "between 0 and 1"  # type: ignore[arg-type]
    assert field_range(parse_expression("applicant.leadership_roles")).describe() == "at least 0"  # type: ignore[arg-type]


# --- shadowed_rule ------------------------------------------------------------------------------

EXCLUDE = rule(
    "min_ck",
    "program",
    ["known(program.min_step2_ck)", "applicant.step2_ck.score < program.min_step2_ck"],
    '{ exclude = "below the minimum" }',
    salience=100,
)


def test_a_rule_implied_by_a_higher_exclusion_is_shadowed() -> None:
    diags = lint(
        EXCLUDE,
        rule(
            "penalty",
            "program",
            ["known(program.min_step2_ck)", "applicant.step2_ck.score < program.min_step2_ck", "program.region == 'la_county'"],
            "{ odds = 0.5 }",
            salience=10,
        ),
    )
    assert codes(diags) == [("shadowed_rule", "t.penalty")]
    assert "already excluded by `t.min_ck` (salience 100)" in diags[0].message


def test_a_narrower_range_implies_a_wider_one() -> None:
    diags = lint(
        rule("low", "program", ["applicant.step1.score < 210", "program.program_type == 'university'"], '{ exclude = "x" }', salience=50),
        rule(
            "lower",
            "program",
            ["applicant.step1.score < 200", "program.program_type in ['university']", "program.positions > 3"],
            "{ odds = 0.8 }",
        ),
    )
    assert codes(diags) == [("shadowed_rule", "t.lower")]


def test_not_shadowed_when_the_condition_is_wider_or_the_exclusion_comes_later() -> None:
    assert lint(EXCLUDE, rule("wider", "program", "program.region == 'la_county'", "{ odds = 0.5 }", salience=10)) == []
    later = rule(
        "later_excl",
        "program",
        ["program.region == 'la_county'", "program.positions > 3"],
        '{ exclude = "x" }',
        salience=1,
    )
    first = rule("first", "program", ["program.region == 'la_county'", "program.positions > 3"], "{ odds = 1.5 }", salience=5)
    assert lint(later, first) == []
    # a wider range does not imply a narrower one
    assert (
        lint(
            rule("low", "program", ["applicant.step1.score < 200", "program.positions > 1"], '{ exclude = "x" }', salience=50),
            rule("lower", "program", ["applicant.step1.score < 210", "program.positions > 1"], "{ odds = 0.8 }"),
        )
        == []
    )


# --- tags -----------------------------------------------------------------------------------------


def test_a_tag_set_and_never_read() -> None:
    diags = lint(rule("x", "profile", "applicant.step1.score < 215", '{ tag = "orphan" }'))
    assert codes(diags) == [("unused_tag", "t.x")]
    assert 'sets the tag "orphan", which no rule reads' in diags[0].message


def test_a_tag_read_in_item_tags_and_never_set() -> None:
    diags = lint(rule("x", "list", "count(list.programs, 'ghost' in item.tags) > 0", '{ advice = "x" }'))
    assert codes(diags) == [("unused_tag", "t.x")]
    assert "which no rule sets" in diags[0].message


def test_a_tag_read_in_item_tags_counts_as_read() -> None:
    diags = lint(
        rule("set", "program", "program.region == 'la_county'", '{ tag = "la" }'),
        rule("read", "list", "count(list.programs, 'la' in item.tags) > 3", '{ advice = "x" }'),
    )
    assert diags == []


def test_tag_cycles() -> None:
    diags = lint(
        rule("a", "profile", ["has('b')"], '{ tag = "a" }'),
        rule("b", "profile", ["has('a') or applicant.graduation_year > 2020"], '{ tag = "b" }'),
    )
    assert [d.code for d in diags] == ["tag_cycle"]
    assert "a -> b -> a" in diags[0].message


# --- template_unread --------------------------------------------------------------------------------


def test_an_explanation_naming_a_value_the_condition_does_not_read() -> None:
    diags = lint(rule("x", "program", "program.region == 'la_county'", "{ odds = 2 }", explain="in {program.city} ({program.region})"))
    assert codes(diags) == [("template_unread", "t.x")]
    assert "`{program.city}`" in diags[0].message


def test_an_explanation_naming_what_the_condition_reads_is_fine() -> None:
    assert lint(rule("x", "profile", "applicant.step2_ck.score < 225", "{ odds = 2 }", explain="Step 2 CK {applicant.step2_ck.score}")) == []


def test_an_explanation_naming_what_the_effect_computes_from_is_fine() -> None:
    """The odds are computed from the score: an explanation may show it."""
    odds = '{ odds = "exp((applicant.step2_ck.score - program.min_step2_ck) / 10)" }'
    assert lint(rule("x", "program", "known(program.min_step2_ck)", odds, explain="Step 2 CK {applicant.step2_ck.score}")) == []
    diags = lint(rule("y", "program", "known(program.min_step2_ck)", odds, explain="in {program.city}"))
    assert codes(diags) == [("template_unread", "t.y")]


def test_a_computed_placeholder_is_not_a_value_to_read() -> None:
    """`{years_since(applicant.graduation_year)}` computes what it shows; it names no field the condition must read."""
    explain = "{years_since(applicant.graduation_year)} years since graduation"
    assert lint(rule("x", "profile", "years_since(applicant.graduation_year) > 5", "{ odds = 0.8 }", explain=explain)) == []


def test_estimates_and_groups_are_known_to_the_lints() -> None:
    rs = load_rules_from_text(
        [
            (
                "t.toml",
                HEADER
                + '[[estimate]]\nname = "screen"\nstart = 228\n'
                + '[[group]]\nname = "academic"\nprograms = "program.program_type == \'university\'"\n'
                + rule("univ", "program", "program.program_type == 'university'", "{ estimate = { screen = 6 } }")
                + rule("below", "program", "applicant.step2_ck.score < estimate.screen", "{ odds = 0.5 }", explain="under {estimate.screen}")
                + rule("cap", "list", "list.size > 10", "{ at_most = { academic = 3 } }"),
            )
        ]
    )
    assert lint_rules(rs) == []


# --- the command ----------------------------------------------------------------------------------

BAD = HEADER + rule("x", "profile", "applicant.step2_ck.score > 300", "{ odds = 2 }")


def test_check_clean(tmp_path: Path) -> None:
    f = tmp_path / "clean.toml"
    f.write_text(HEADER + rule("x", "profile", "applicant.step2_ck.score < 225", "{ odds = 2 }"), encoding="utf-8")
    run = run_main("check", f)
    assert run.code == 0 and run.err == ""
    assert run.out == "checked 1 file, 1 rule: 0 errors, 0 warnings\n"


def test_check_warnings_exit_0_and_1_with_strict(tmp_path: Path) -> None:
    f = tmp_path / "warn.toml"
    f.write_text(BAD, encoding="utf-8")
    run = run_main("check", f)
    assert run.code == 0
    first = run.out.splitlines()[0]
    assert first.startswith(f"{f}:9:9: warning: never_true: t.x: never fires:")
    assert run.out.endswith("checked 1 file, 1 rule: 0 errors, 1 warning\n")
    assert run_main("check", "--strict", f).code == 1


def test_check_errors_exit_2_with_every_error_located(tmp_path: Path) -> None:
    f = tmp_path / "broken.toml"
    f.write_text(
        HEADER
        + rule("a", "program", "program.regoin == 'la_county'", "{ odds = 2 }")
        + rule("c", "program", "program.region == 'la_conty'", "{ odds = 2 }")
        + rule("b", "profile", "lenn(applicant.languages) > 1", "{ odds = 2 }"),
        encoding="utf-8",
    )
    run = run_main("check", f)
    assert run.code == 2
    out = run.out
    assert f"{f}:" in out
    assert "unknown_field: t.a:" in out and "did you mean `program.region`?" in out
    assert "unknown_function: t.b:" in out and "did you mean `len`?" in out
    assert "type_error: t.c:" in out and "did you mean `la_county`?" in out
    assert out.splitlines()[-1].startswith("3 errors")
    assert out.splitlines()[-1].endswith("the rule sets do not load")


def test_check_duplicate_ids(tmp_path: Path) -> None:
    f = tmp_path / "dup.toml"
    f.write_text(HEADER + rule("a", "profile", "true", "{ odds = 2 }") * 2, encoding="utf-8")
    run = run_main("check", f)
    assert run.code == 2 and "duplicate_rule: t.a:" in run.out


def test_check_json(tmp_path: Path) -> None:
    f = tmp_path / "warn.toml"
    f.write_text(BAD, encoding="utf-8")
    data = json.loads(run_main("check", f, "--format", "json").out)
    assert data["errors"] == 0 and data["warnings"] == 1 and data["rules"] == 1
    d = data["diagnostics"][0]
    assert (d["code"], d["severity"], d["rule_id"], d["file"], d["line"]) == ("never_true", "warning", "t.x", str(f), 9)


def test_check_a_folder(tmp_path: Path) -> None:
    folder = write_mini(tmp_path)
    run = run_main("check", folder)
    assert run.code == 0, run.out
    assert run.out.splitlines()[-1] == "checked 1 file, 9 rules: 0 errors, 0 warnings"


def test_check_with_shipped_reports_only_your_files(tmp_path: Path) -> None:
    reason = shipped_rules_load()
    if reason:
        pytest.skip(reason)
    f = tmp_path / "mine.toml"
    f.write_text(
        '[ruleset]\nname = "mine"\nversion = "0.1"\nrequires = ["base"]\n'
        + rule("x", "profile", "applicant.step2_ck.score > 300", "{ odds = 2 }").replace("t.x", "mine.x"),
        encoding="utf-8",
    )
    run = run_main("check", "--with-shipped", f)
    assert run.code == 0, run.out
    assert "warning: never_true: mine.x" in run.out
    assert all(line.startswith(str(f)) or line.startswith("    ") or line.startswith("checked") for line in run.out.splitlines())
    assert run.out.splitlines()[-1] == "checked 1 file, 1 rule: 0 errors, 1 warning"
    # without the shipped rule sets, `requires = ["base"]` cannot be met
    run = run_main("check", f)
    assert run.code == 2 and "unknown_ruleset" in run.out


@pytest.mark.skipif(shipped_rules_load() is not None, reason=str(shipped_rules_load()))
def test_the_shipped_rule_sets_check_without_errors() -> None:
    run = run_main("check")
    assert run.code in (0, 1), run.out
    assert "0 errors" in run.out.splitlines()[-1]


def test_mini_rules_lint_clean() -> None:
    assert lint_rules(load_rules_from_text([("mini.toml", MINI_RULES)])) == []
    assert isinstance(sr.load_rules, object)
