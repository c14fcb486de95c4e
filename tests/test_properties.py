"""Properties in the rule language: [[property]] tables, their checks at load, the search, the report.

Everything here runs on small rule sets and catalogs written for the test; the shipped rule sets'
properties are checked in test_shipped_properties.py.
"""

from __future__ import annotations

import json
import textwrap
import tomllib
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smartpick_rules as sr
from fixtures import RULESET_HEADER, catalog, program
from smartpick_rules.domain.models import CALIFORNIA_REGIONS, Profile, Region, Specialty
from smartpick_rules.results.recommendation import ProgramResult
from smartpick_rules.ruleset.load import load_rules_from_text
from smartpick_rules.testing.properties import check_properties, profile_toml
from smartpick_rules.testing.strategies import profile_strategy
from test_cli_support import run_main

CATALOG = catalog(
    program("la-1", name="LA One"),
    program("la-2", name="LA Two", program_type="university"),
    program("oc-1", name="OC One", region="orange_county"),
    program("tx-1", name="TX One", state="TX", region="out_of_state"),
)

HEADER = RULESET_HEADER + "\n"

# A Step 2 CK band that wins a tier and loses it again above the band: the non-monotone shape
# issue 10 found (a bonus only for low scorers), on LA programs only.
BAND_RULE = """
[[rule]]
id = "t.band"
stage = "program"
when = ["applicant.step2_ck.score >= 220", "applicant.step2_ck.score < 230", "program.region == 'la_county'"]
then = { odds = 50 }
explain = "Step 2 CK {applicant.step2_ck.score} in the band"
"""

BREADTH_RULE = """
[[rule]]
id = "t.breadth"
stage = "list"
when = "true"
then = { breadth = { min = 2, max = 3 } }
"""


def rules(text: str) -> sr.RuleSet:
    return load_rules_from_text([("t.toml", HEADER + textwrap.dedent(text))])


def errors(text: str) -> list[sr.Diagnostic]:
    with pytest.raises(sr.RulesetError) as info:
        rules(text)
    return list(info.value.diagnostics)


def check(rs: sr.RuleSet, **kw: object) -> list:  # type: ignore[type-arg]
    options: dict[str, object] = {"examples": 40, "seed": 1, "max_seconds": 20, "as_of": 2026}
    options.update(kw)
    return list(check_properties(rs, CATALOG, **options).results)  # type: ignore[arg-type]


# --- the language ---------------------------------------------------------------------------------


def test_properties_load_into_the_rule_set() -> None:
    rs = rules(
        BAND_RULE
        + """
        [[property]]
        id = "t.step2"
        description = "a better Step 2 CK never lowers a tier"
        change = { raise = "applicant.step2_ck.score", by = [1, 20] }
        observe = ["program.tier", "program.eligible"]
        where = "program.region == 'la_county'"
        source = "issue 10"

        [[property]]
        id = "t.list"
        given = "applicant.visa == 'j1'"
        holds = ["len(result.chosen) <= result.breadth.max", "all(result.chosen, item.eligible)"]
        """
    )
    assert [p.id for p in rs.properties] == ["t.step2", "t.list"]
    step2, lst = rs.properties
    assert step2.kind == "monotone" and lst.kind == "invariant"
    assert step2.change is not None and step2.change.path.dotted == "applicant.step2_ck.score"
    assert step2.change.by == (1.0, 20.0) and step2.change.integer
    assert step2.describe() == (
        "raise applicant.step2_ck.score by 1 to 20 never lowers program.tier, program.eligible "
        "(programs where program.region == 'la_county')"
    )
    assert step2.ruleset == "t" and step2.source == "issue 10" and step2.loc.line > 0
    assert lst.describe() == "always len(result.chosen) <= result.breadth.max and all(result.chosen, item.eligible)"
    assert rs.get_property("t.list") is lst
    # the rules are unchanged by the properties beside them
    assert [r.id for r in rs.rules] == ["t.band"]


def test_change_kinds_parse() -> None:
    rs = rules(
        """
        [[property]]
        id = "t.a"
        change = { add = "applicant.usce", with = { kind = "hands_on", region = "la_county", months = 3 } }
        observe = "program.tier"
        [[property]]
        id = "t.b"
        change = { remove = "applicant.letters", where = "item.us" }
        observe = "list.length"
        never = "raise"
        [[property]]
        id = "t.c"
        change = { set = "applicant.preferences.long_term_la_plan", to = true }
        observe = "program.priority"
        [[property]]
        id = "t.d"
        change = { lower = "applicant.step1.attempts", by = 1 }
        given = ["applicant.step1.attempts > 1"]
        observe = "program.eligible"
        """
    )
    a, b, c, d = rs.properties
    assert a.change is not None and a.change.fixed == (("kind", "hands_on"), ("region", "la_county"), ("months", 3))
    assert b.change is not None and b.change.where is not None and b.never == "raise"
    assert c.change is not None and c.change.to is True
    assert d.change is not None and d.change.describe() == "lower applicant.step1.attempts by 1"


@pytest.mark.parametrize(
    ("body", "code", "needle", "suggestion"),
    [
        ('change = { raise = "applicant.step2_ck.scroe", by = 5 }\nobserve = "program.tier"', "unknown_field", "has no field `scroe`", "applicant.step2_ck.score"),
        ('change = { raise = "applicant.step2_ck.score", by = 5 }\nobserve = "program.tire"', "unknown_field", "unknown observable `program.tire`", "program.tier"),
        ('change = { raise = "applicant.step2_ck.score", bye = 5 }\nobserve = "program.tier"', "schema_error", "unknown key `change.bye`", "by"),
        ('change = { add = "applicant.letters", with = { uss = true } }\nobserve = "program.tier"', "unknown_field", "`Letter` has no field `uss`", "us"),
        ('change = { add = "applicant.ties", with = { region = "la_conty" } }\nobserve = "program.tier"', "type_error", "`with.region` must be one of", None),
        ('change = { set = "applicant.visa", to = 3 }\nobserve = "program.tier"', "type_error", "`to` must be a string", None),
        ('change = { raise = "applicant.visa", by = 1 }\nobserve = "program.tier"', "type_error", "`raise` moves a number", None),
        ('change = { raise = "applicant.step1.failed_attempts", by = 1 }\nobserve = "program.tier"', "schema_error", "is computed from other fields", None),
        ('change = { raise = "applicant.step2_ck.score", by = [5, 1] }\nobserve = "program.tier"', "schema_error", "least <= most", None),
        ('change = { raise = "applicant.step2_ck.score", by = 1.5 }\nobserve = "program.tier"', "type_error", "must be whole numbers", None),
        ('change = { raise = "applicant.step2_ck.score", lower = "applicant.step1.score", by = 1 }\nobserve = "program.tier"', "schema_error", "exactly one of", None),
        ('change = { raise = "applicant.step2_ck.score", by = 1, to = 3 }\nobserve = "program.tier"', "schema_error", "`to` does not go with `raise`", None),
        ('change = { raise = "applicant.step2_ck.score", by = 1 }', "schema_error", "needs `observe`", None),
        ('change = { raise = "applicant.step2_ck.score", by = 1 }\nobserve = "program.tier"\nnever = "fall"', "schema_error", '`never` must be "lower" or "raise"', None),
        ('change = { raise = "applicant.step2_ck.score", by = 1 }\nobserve = "program.tier"\nwhere = "applicant.visa == \'j1\'"', "stage_error", "`where` reads only the program", None),
        ('change = { raise = "applicant.step2_ck.score", by = 1 }\nobserve = "list.length"\nwhere = "program.region == \'kern\'"', "schema_error", "every observable here is about the whole list", None),
        ('change = { raise = "applicant.step2_ck.score", by = 1 }\nobserve = "program.tier"\nwhere = "program.region == \'la_countyy\'"', "type_error", "never a value of this field", "la_county"),
        ('holds = "len(result.chosn) > 0"', "unknown_field", "`result` has no field `chosn`", "result.chosen"),
        ('holds = "program.positions > 0"', "stage_error", "`holds` reads the result", None),
        ('holds = "has(\'low_step2\')"', "stage_error", "has() reads rule tags", None),
        ('holds = "result.breadth.min"', "type_error", "must be a condition", None),
        ('holds = "true"\nobserve = "program.tier"', "schema_error", "`observe` belongs to a monotone property", None),
        ('given = "result.breadth.min > 0"\nholds = "true"', "stage_error", "`given` reads only the generated applicant", None),
        ('description = "neither"', "schema_error", "either `change`", None),
        ('holds = "true"\nchange = { set = "applicant.visa", to = "j1" }\nobserve = "program.tier"', "schema_error", "not both", None),
        ('holds = "true"\nobserv = "program.tier"', "schema_error", "unknown field `observ`", "observe"),
    ],
)
def test_mistakes_are_located_and_explained(body: str, code: str, needle: str, suggestion: str | None) -> None:
    diags = errors('[[property]]\nid = "t.p"\n' + body + "\n")
    hit = [d for d in diags if needle in d.message]
    assert hit, [d.render() for d in diags]
    d = hit[0]
    assert d.code == code, d.render()
    assert d.location.file == "t.toml" and d.location.line >= 5, d.render()
    assert d.rule_id == "t.p"
    if suggestion is not None:
        assert suggestion in d.render(), d.render()


def test_result_is_not_readable_in_a_rule() -> None:
    diags = errors('[[rule]]\nid = "t.r"\nstage = "list"\nwhen = "len(result.chosen) > 0"\nthen = { tag = "x" }\n')
    assert diags[0].code == "stage_error" and "only in a property" in diags[0].message


def test_ids_are_one_namespace_and_disable_reaches_properties() -> None:
    diags = errors(BAND_RULE + '[[property]]\nid = "t.band"\nholds = "true"\n')
    assert diags[0].code == "duplicate_rule" and "id already used" in diags[0].message
    base = HEADER + '[[property]]\nid = "t.one"\nholds = "true"\n[[property]]\nid = "t.two"\nholds = "true"\nenabled = false\n'
    later = '[ruleset]\nname = "u"\nrequires = ["t"]\ndisable = ["t.one"]\n'
    rs = load_rules_from_text([("t.toml", base), ("u.toml", later)])
    assert rs.properties == ()
    assert sorted(p.id for p in rs.disabled_properties) == ["t.one", "t.two"]
    with pytest.raises(sr.RulesetError) as info:
        load_rules_from_text([("t.toml", base), ("u.toml", later.replace("t.one", "t.onne"))])
    assert "did you mean `t.one`" in info.value.diagnostics[0].render()


def test_the_rule_file_schema_describes_properties() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from smartpick_rules.ruleset.json_schema import rule_file_schema

    schema = rule_file_schema()
    good = tomllib.loads(
        HEADER + '[[property]]\nid = "t.p"\nchange = { add = "applicant.letters", with = { us = true } }\nobserve = ["program.tier"]\n'
    )
    jsonschema.validate(good, schema)
    bad = {**good, "property": [{**good["property"][0], "observe": ["program.tire"]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


# --- generated profiles ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, database=None)
@given(profile_strategy([Specialty.internal_medicine, Specialty.pediatrics], 2026, [("step2_ck", "score")]))
def test_generated_profiles_are_valid_and_realistic(profile: Profile) -> None:
    # the validators ran (attrs), and the overrides hold
    assert 2011 <= profile.graduation_year <= 2026
    assert profile.step2_ck is not None and profile.step2_ck.score is not None
    assert 180 <= profile.step2_ck.score <= 270 and 1 <= profile.step2_ck.attempts <= 4
    assert 1 <= len(profile.preferences.specialties) <= 2
    assert set(profile.preferences.specialties) <= {Specialty.internal_medicine, Specialty.pediatrics}
    for item in (*profile.usce, *profile.letters, *profile.ties):
        if item.region in CALIFORNIA_REGIONS:
            assert item.state == "CA"
        elif item.region == Region.outside_us:
            assert item.state is None
    # the report's TOML is a profile file that reads back as the same profile
    assert sr.profile_from_data(tomllib.loads(profile_toml(profile))) == profile


# --- the search -------------------------------------------------------------------------------------


def test_a_non_monotone_rule_is_found_shrunk_and_explained() -> None:
    rs = rules(
        BAND_RULE
        + """
        [[property]]
        id = "t.step2"
        change = { raise = "applicant.step2_ck.score", by = [1, 30] }
        observe = ["program.tier", "program.eligible"]
        source = "issue 10"
        """
    )
    (result,) = check(rs)
    assert result.status == "failed"
    v = result.violation
    assert v is not None and v.observable == "program.tier"
    assert v.program_id in ("la-1", "la-2") and v.other_programs == 1  # both LA programs, never OC or TX
    assert (v.before, v.after) == ("likely", "reach")
    assert v.changed_profile is not None and v.profile.step2_ck is not None and v.changed_profile.step2_ck is not None
    assert 220 <= v.profile.step2_ck.score < 230 <= v.changed_profile.step2_ck.score  # type: ignore[operator]
    assert v.change is not None and v.change.startswith("raise applicant.step2_ck.score by ")
    # the audit line that caused it: the band rule fired before and not after
    (line,) = [a for a in v.audit if a.rule_id == "t.band"]
    assert line.status == "before only" and line.effect.startswith("odds") and line.file == "t.toml"
    assert line.explanation_before == f"Step 2 CK {v.profile.step2_ck.score} in the band"
    # shrunk: nothing in the profile that does not matter
    assert v.profile.usce == () and v.profile.letters == () and v.profile.ties == () and v.profile.step1 is None
    text = profile_toml(v.profile)
    assert "step2_ck = { score = " in text and "[[" not in text


def test_the_same_seed_finds_the_same_counterexample() -> None:
    rs = rules(BAND_RULE + '[[property]]\nid = "t.p"\nchange = { raise = "applicant.step2_ck.score", by = [1, 30] }\nobserve = "program.tier"\n')
    first, second = check(rs, seed=7, examples=60)[0].violation, check(rs, seed=7, examples=60)[0].violation
    assert first is not None and second is not None
    assert (first.profile, first.change) == (second.profile, second.change)


NESTED_PROPERTY = BAND_RULE + '[[property]]\nid = "t.p"\nchange = { raise = "applicant.step2_ck.score", by = [1, 30] }\nobserve = "program.tier"\n'


@pytest.fixture(scope="module")
def found_outside_any_test() -> Profile:
    violation = check(rules(NESTED_PROPERTY), seed=7, examples=60)[0].violation
    assert violation is not None
    return violation.profile


@settings(max_examples=2, deadline=None)
@given(st.integers(0, 1))
def test_the_search_runs_inside_a_property_based_test(found_outside_any_test: Profile, n: int) -> None:
    # the search is a hypothesis @given of its own; called from inside another (a user's
    # property-based test, the CLI fuzz test running `smartpick-rules test`), hypothesis would
    # refuse it as nested: it runs in a thread of its own and finds the same counterexample
    (result,) = check(rules(NESTED_PROPERTY), seed=7, examples=60)
    assert result.status == "failed" and result.violation is not None
    assert result.violation.profile == found_outside_any_test


def test_where_restricts_the_programs_observed() -> None:
    rs = rules(
        BAND_RULE
        + '[[property]]\nid = "t.p"\nchange = { raise = "applicant.step2_ck.score", by = [1, 30] }\n'
        + "observe = \"program.tier\"\nwhere = \"program.region != 'la_county'\"\n"
    )
    (result,) = check(rs)
    assert result.status == "passed" and result.examples > 0


def test_a_monotone_rule_set_passes() -> None:
    rs = rules(
        """
        [[rule]]
        id = "t.good"
        stage = "program"
        when = "applicant.step2_ck.score >= 230"
        then = { odds = 50 }

        [[property]]
        id = "t.p"
        change = { raise = "applicant.step2_ck.score", by = [1, 30] }
        observe = ["program.tier", "program.eligible", "program.priority"]
        """
    )
    (result,) = check(rs)
    assert result.status == "passed" and result.violation is None
    assert result.examples == 40


def test_a_list_observable_reports_the_list_stage_audit_diff() -> None:
    rs = rules(
        """
        [[rule]]
        id = "t.narrow"
        stage = "list"
        salience = 10
        when = "applicant.step2_ck.score < 200"
        then = { breadth = { min = 1, max = 2 } }

        [[rule]]
        id = "t.wide"
        stage = "list"
        when = "not (applicant.step2_ck.score < 200)"
        then = { breadth = { min = 3, max = 4 } }

        [[property]]
        id = "t.p"
        change = { lower = "applicant.step2_ck.score", by = [1, 40] }
        observe = "list.breadth_min"
        """
    )
    (result,) = check(rs)
    v = result.violation
    assert result.status == "failed" and v is not None
    assert (v.observable, v.before, v.after, v.program_id) == ("list.breadth_min", 3, 1, None)
    statuses = {a.rule_id: a.status for a in v.audit}
    assert statuses == {"t.wide": "before only", "t.narrow": "after only"}


def test_an_invariant_reports_the_values_it_read() -> None:
    rs = rules(
        BREADTH_RULE
        + """
        [[rule]]
        id = "t.only_la"
        stage = "program"
        when = "applicant.visa == 'j1' and program.region != 'la_county'"
        then = { exclude = "no J-1 here" }

        [[property]]
        id = "t.p"
        holds = "len(result.chosen) >= 3"
        """
    )
    (result,) = check(rs)
    v = result.violation
    assert result.status == "failed" and v is not None
    assert v.profile.visa.value == "j1"
    assert v.message == "`len(result.chosen) >= 3` is false"
    assert dict(v.values)["len(result.chosen)"] == 2
    assert dict(v.values)["result.chosen"] == ["la-1", "la-2"]
    assert [a.rule_id for a in v.audit] == ["t.breadth"]


def test_remove_and_set_changes() -> None:
    rs = rules(
        """
        [[rule]]
        id = "t.letters"
        stage = "program"
        when = "count(applicant.letters, item.us) >= 1"
        then = { priority = 5 }

        [[rule]]
        id = "t.plan"
        stage = "program"
        when = "applicant.preferences.long_term_la_plan"
        then = { exclude = "made up: a plan excludes" }

        [[property]]
        id = "t.remove"
        change = { remove = "applicant.letters", where = "item.us" }
        observe = "program.priority"
        never = "raise"

        [[property]]
        id = "t.set"
        change = { set = "applicant.preferences.long_term_la_plan", to = true }
        observe = "program.eligible"
        """
    )
    remove, set_ = check(rs)
    assert remove.status == "passed" and remove.examples > 0
    assert set_.status == "failed" and set_.violation is not None
    assert set_.violation.change == "set applicant.preferences.long_term_la_plan from no to yes"
    assert (set_.violation.before, set_.violation.after) == (True, False)


def test_attempts_stay_realistic_when_lowered() -> None:
    rs = rules(
        """
        [[rule]]
        id = "t.first_try"
        stage = "program"
        when = "applicant.step1.attempts == 1"
        then = { exclude = "made up: first-time passers excluded" }

        [[property]]
        id = "t.p"
        change = { lower = "applicant.step1.attempts", by = 1 }
        observe = "program.eligible"
        """
    )
    (result,) = check(rs)
    v = result.violation
    assert result.status == "failed" and v is not None and v.changed_profile is not None
    assert v.changed_profile.step1 is not None and v.changed_profile.step1.attempts == 1  # never 0


def test_unsatisfiable_given_is_inconclusive_and_a_tiny_budget_is_said() -> None:
    rs = rules(
        '[[property]]\nid = "t.never"\ngiven = "applicant.leadership_roles > 1000"\nholds = "true"\n'
        '[[property]]\nid = "t.slow"\nholds = "true"\n'
    )
    never, slow = check(rs, max_seconds=0.001, examples=5)
    assert never.status == "inconclusive" and "given" in never.note
    assert slow.status in ("inconclusive", "passed") and ("time" in slow.note or "within" in slow.note)


def test_observables_the_result_does_not_have_are_reported_not_guessed() -> None:
    rs = rules(
        '[[property]]\nid = "t.chance"\nchange = { add = "applicant.letters" }\nobserve = "program.chance"\n'
        '[[property]]\nid = "t.yield"\nholds = "result.expected_interviews >= 0"\n'
    )
    chance, yield_ = check(rs, examples=5)
    if "chance" not in attrs.fields_dict(ProgramResult):
        assert chance.status == "unsupported" and "ProgramResult.chance" in chance.note
    else:
        assert chance.status != "unsupported"
    if not hasattr(sr.Recommendation, "expected_interviews"):
        assert yield_.status == "unsupported" and "Recommendation.expected_interviews" in yield_.note


def test_an_evaluation_error_is_a_counterexample() -> None:
    rs = rules(
        """
        [[rule]]
        id = "t.budget"
        stage = "list"
        when = "true"
        then = { breadth = { min = "applicant.preferences.application_budget", max = 10 } }

        [[property]]
        id = "t.p"
        holds = "true"
        """
    )
    (result,) = check(rs)
    assert result.status == "failed" and result.violation is not None
    assert "the evaluation fails" in result.violation.message
    assert result.violation.profile.preferences.application_budget is None


# --- the command line ---------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "t.toml").write_text(HEADER + textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "catalog.json").write_text(json.dumps([sr.domain.converter.unstructure(p) for p in CATALOG]), encoding="utf-8")
    return tmp_path


def test_check_properties_text_and_json(tmp_path: Path) -> None:
    folder = _write(tmp_path, BAND_RULE + '[[property]]\nid = "t.p"\nchange = { raise = "applicant.step2_ck.score", by = [1, 30] }\nobserve = "program.tier"\n')
    common = ("check", folder / "t.toml", "--properties", "--catalog", folder / "catalog.json", "--examples", "30", "--seed", "3", "--as-of", "2026")
    run = run_main(*common)
    assert run.code == 1, run.out + run.err
    assert "checked 1 file, 1 rule, 1 property: 0 errors, 0 warnings" in run.out
    assert "FAILED       t.p" in run.out
    assert "counterexample: program.tier of la-" in run.out
    assert "- t.band (program, before only): odds" in run.out
    assert "minimal profile:" in run.out and "step2_ck = { score = " in run.out
    assert run.out.rstrip().endswith("0 passed, 1 failed")
    run = run_main(*common, "--format", "json")
    assert run.code == 1
    data = json.loads(run.out)
    prop = data["properties"]["properties"][0]
    assert data["properties"]["failed"] == 1 and prop["status"] == "failed"
    assert prop["violation"]["observable"] == "program.tier" and prop["violation"]["audit"][0]["rule_id"] == "t.band"
    assert sr.profile_from_data(tomllib.loads(prop["violation"]["profile_toml"])) == sr.profile_from_data(prop["violation"]["profile"])
    # without --properties, check only loads; an unknown property id is an error
    assert run_main("check", folder / "t.toml").code == 0
    run = run_main(*common, "--property", "t.q")
    assert run.code == 2 and "no property `t.q`" in run.err and "did you mean `t.p`" in run.err


def test_test_runs_the_properties_of_the_rule_sets_under_test(tmp_path: Path) -> None:
    folder = _write(tmp_path, BAND_RULE + '[[property]]\nid = "t.p"\nchange = { raise = "applicant.step2_ck.score", by = [1, 30] }\nobserve = "program.tier"\n')
    (folder / "tests").mkdir()
    (folder / "tests" / "t.test.toml").write_text(
        '[suite]\nas_of = 2026\n\n[[case]]\nname = "the band"\napplicant = { step2_ck = { score = 225 } }\nexpect = { tier = "likely" }\n',
        encoding="utf-8",
    )
    args = ("test", folder, "--catalog", folder / "catalog.json", "--examples", "30", "--as-of", "2026")
    run = run_main(*args)
    assert run.code == 1, run.out + run.err
    assert "  PASS  the band" in run.out and "FAILED       t.p" in run.out
    assert "1 of 1 properties have a counterexample" in run.out
    assert run.out.splitlines()[-1] == "1 suite: 1 passed, 0 failed"
    run = run_main(*args, "--no-properties")
    assert run.code == 0 and "t.p" not in run.out


# --- start profiles ----------------------------------------------------------------------------------

RICH_ONLY = """
[[rule]]
id = "t.rich_band"
stage = "program"
when = ["count(applicant.letters, item.us and item.residency_faculty) >= 3", "applicant.step2_ck.score < 230"]
then = { odds = 50 }

[[property]]
id = "t.p"
change = { raise = "applicant.step2_ck.score", by = [1, 30] }
observe = "program.tier"
"""


def _rich() -> Profile:
    letter = sr.profile_from_data({"graduation_year": 2022, "letters": [{"us": True, "residency_faculty": True}]}).letters[0]
    return sr.profile_from_data(
        {
            "graduation_year": 2020,
            "name": "rich",
            "step1": {"score": 221},
            "step2_ck": {"score": 229},
            "letters": [sr.domain.converter.unstructure(letter)] * 4,
            "usce": [{"kind": "hands_on", "months": 3, "region": "la_county", "state": "CA"}],
            "ties": [{"kind": "family", "region": "la_county", "state": "CA"}],
            "languages": ["Spanish"],
            "preferences": {"specialties": ["internal_medicine"], "long_term_la_plan": True},
        }
    )


def test_a_start_profile_finds_what_random_profiles_rarely_do_and_is_shrunk() -> None:
    rs = rules(RICH_ONLY)
    (result,) = check(rs, examples=10, starts=[("rich", _rich())])
    v = result.violation
    assert result.status == "failed" and v is not None, result
    assert "found from the start profile `rich`, then shrunk" in result.note
    assert v.change == "raise applicant.step2_ck.score by 1 (from 229 to 230)"
    # greedily shrunk: only what the violation needs is left
    p = v.profile
    assert len(p.letters) == 3 and p.usce == () and p.ties == () and p.languages == () and p.step1 is None
    assert p.name is None and p.id == "applicant" and not p.preferences.long_term_la_plan
    assert p.step2_ck is not None and p.step2_ck.score == 229


def test_the_cli_starts_from_profiles_it_is_given(tmp_path: Path) -> None:
    folder = _write(tmp_path, RICH_ONLY)
    (folder / "rich.toml").write_text(profile_toml(_rich()), encoding="utf-8")
    common = ("check", folder / "t.toml", "--properties", "--catalog", folder / "catalog.json", "--examples", "5", "--as-of", "2026")
    run = run_main(*common, "--no-example-profiles", "--profiles", folder / "rich.toml")
    assert run.code == 1, run.out + run.err
    assert "1 start profile tried first" in run.out and "found from the start profile" in run.out
    run = run_main(*common, "--no-example-profiles", "--profiles", folder / "missing.toml")
    assert run.code == 2 and "no such file or folder" in run.err


@pytest.mark.slow
def test_the_pytest_plugin_collects_properties(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    folder = _write(
        tmp_path,
        BAND_RULE
        + '[[property]]\nid = "t.bad"\nchange = { raise = "applicant.step2_ck.score", by = [1, 30] }\nobserve = "program.tier"\n'
        + '[[property]]\nid = "t.good"\nholds = "len(result.chosen) <= result.breadth.max"\n',
    )
    (folder / "tests").mkdir()
    (folder / "tests" / "t.test.toml").write_text(
        '[suite]\nas_of = 2026\n\n[[case]]\nname = "the band"\napplicant = { step2_ck = { score = 225 } }\nexpect = { tier = "likely" }\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "smartpick_rules.testing.pytest_plugin", "-p", "no:cacheprovider",
         "--smartpick-properties", "--smartpick-examples", "60", "--smartpick-catalog", str(folder / "catalog.json"),
         str(folder / "tests"), "-rA"],
        capture_output=True, text=True, cwd=folder, env=env, timeout=300,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "PASSED tests/t.test.toml::the band" in out
    assert "PASSED tests/t.test.toml::property t.good" in out
    assert "FAILED tests/t.test.toml::property t.bad" in out
    assert "property failed: t.bad" in out and "minimal profile:" in out
