"""What-if and levers: changes to a profile, what moves, and why."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

import fixtures
import smartpick_rules as sr
from smartpick_rules.whatif import Evaluator, apply_changes, candidate_levers, levers, parse_change, whatif
from test_cli_support import (
    DEFAULT_PROFILE,
    PROFILES,
    one_clear_line,
    run_main,
    shipped_rules_load,
    write_mini,
)


@pytest.fixture(scope="module")
def catalog() -> sr.Catalog:
    return sr.load_catalog(sr.sample_catalog_path())


@pytest.fixture(scope="module")
def mini_rules(tmp_path_factory: pytest.TempPathFactory) -> sr.RuleSet:
    return sr.load_rules(write_mini(tmp_path_factory.mktemp("mini")))


@pytest.fixture(scope="module")
def profile() -> sr.Profile:
    return sr.load_profile(DEFAULT_PROFILE)


# --- changes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "op", "value"),
    [
        ("step2_ck.score=240", ("step2_ck", "score"), "=", 240),
        ("applicant.step2_ck.score = 240", ("step2_ck", "score"), "=", 240),
        ("languages+=spanish", ("languages",), "+=", "spanish"),
        ('languages += "Spanish"', ("languages",), "+=", "Spanish"),
        ("visa=h1b", ("visa",), "=", "h1b"),
        ("preferences.long_term_la_plan=true", ("preferences", "long_term_la_plan"), "=", True),
        ("research.publications+=1", ("research", "publications"), "+=", 1),
        ('usce += { kind = "hands_on", months = 3 }', ("usce",), "+=", {"kind": "hands_on", "months": 3}),
        ("letters.0.addresses_scores=false", ("letters", "0", "addresses_scores"), "=", False),
    ],
)
def test_parse_change(text: str, path: tuple[str, ...], op: str, value: object) -> None:
    ch = parse_change(text)
    assert (ch.path, ch.op, ch.value) == (path, op, value)


def test_apply_changes(profile: sr.Profile) -> None:
    changed = apply_changes(
        profile,
        [
            "step2_ck.score=240",
            "languages+=Spanish",
            "research.publications+=2",
            'usce += { kind = "hands_on", months = 3, region = "la_county", state = "CA" }',
            "letters.1.addresses_scores=true",
            "visa=h1b",
        ],
    )
    assert changed.step2_ck is not None and changed.step2_ck.score == 240
    assert changed.languages == (*profile.languages, "spanish")  # kept in lower case
    assert changed.research.publications == profile.research.publications + 2
    assert len(changed.usce) == len(profile.usce) + 1 and changed.usce[-1].months == 3
    assert changed.letters[1].addresses_scores
    assert changed.visa.value == "h1b"
    assert profile.step2_ck is not None and profile.step2_ck.score == 224  # the original is untouched


def test_apply_changes_creates_a_missing_record() -> None:
    p = sr.profile_from_data({"graduation_year": 2020})
    changed = apply_changes(p, ["step2_ck.score=231", "step3 = { passed = true }"])
    assert changed.step2_ck is not None and changed.step2_ck.score == 231
    assert changed.step3 is not None and changed.step3.passed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("step2_ck.scroe=240", "`step2_ck` has no field `scroe`"),
        ("stepp2_ck.score=240", "the profile has no field `stepp2_ck`"),
        ("usce.kind=hands_on", "`usce` is a list; index it with a number"),
        ("letters.9.us=true", "there is no entry 9"),
        ("nonsense", "expected FIELD=VALUE or FIELD+=VALUE"),
        ("step2_ck.score=", "no value after `=`"),
        ("step2_ck.score=[1, ", "is not a TOML value"),
        ("step2_ck.score=400", "USMLE score between 1 and 300"),
        ("visa+=h1b", "`+=` appends to a list or adds to a number"),
    ],
)
def test_bad_changes_are_input_errors(profile: sr.Profile, change: str, message: str) -> None:
    with pytest.raises(sr.InputError) as info:
        apply_changes(profile, [change])
    assert message in str(info.value)


def test_did_you_mean_for_a_misspelt_field(profile: sr.Profile) -> None:
    with pytest.raises(sr.InputError) as info:
        apply_changes(profile, ["step2_ck.scroe=240"])
    assert info.value.diagnostics[0].suggestion == "step2_ck.score"


# --- outcomes are evaluate()'s decisions ------------------------------------------------------------


def _assert_outcomes_match(ev: Evaluator, p: sr.Profile) -> None:
    o = ev.outcomes(p)
    rec = ev.evaluate(p)
    by_id = {r.program.id: r for r in rec.programs}
    for i, pid in enumerate(ev.ids):
        r = by_id[pid]
        assert o.tiers[i] == r.tier, pid
        assert (None if o.excluded[i] else float(o.chance[i])) == r.chance, pid
        assert o.excluded_by(i) == (r.excluded.rule_id if r.excluded else None), pid
        fired = {a.rule_id for a in r.audit if a.stage == "program"}
        assert {cr.rule.id for cr in o.plan.program.rules if o.fired[cr.index][i]} == fired, pid
    assert o.profile_fired == {a.rule_id for a in rec.profile_audit}


def test_outcomes_match_evaluate_with_the_mini_rules(catalog: sr.Catalog, mini_rules: sr.RuleSet) -> None:
    ev = Evaluator(catalog, mini_rules, as_of=2026)
    for path in sorted(PROFILES.glob("*.toml")):
        _assert_outcomes_match(ev, sr.load_profile(path))


@pytest.mark.slow  # 34 s; the same comparison runs fast with the mini rules
@pytest.mark.skipif(shipped_rules_load() is not None, reason=str(shipped_rules_load()))
def test_outcomes_match_evaluate_with_the_shipped_rules(catalog: sr.Catalog) -> None:
    ev = Evaluator(catalog, fixtures.shipped_rules(), as_of=2026)
    for path in sorted(PROFILES.glob("*.toml"))[:4]:
        _assert_outcomes_match(ev, sr.load_profile(path))


# --- what-if --------------------------------------------------------------------------------------


def test_whatif_names_the_programs_and_the_rules(catalog: sr.Catalog, mini_rules: sr.RuleSet, profile: sr.Profile) -> None:
    ev = Evaluator(catalog, mini_rules, as_of=2026)
    res = whatif(ev, profile, ["step2_ck.score=240"])
    c = res.comparison
    assert c.count("unexcluded") > 0
    for change in c.moved():
        if change.kind == "unexcluded":
            assert change.before_excluded_by == "mini.min_step2_ck"
            assert "mini.min_step2_ck" in change.rules_removed
    assert c.profile_rules_removed == ("mini.low_step2",)
    assert (res.before.breadth.min, res.after.breadth.min) == (20, 10)
    data = res.to_dict()
    assert data["summary"]["unexcluded"] == c.count("unexcluded")
    assert data["advice_removed"] == ["mini.breadth_low"]
    json.dumps(data)


def test_whatif_with_no_change_moves_nothing(catalog: sr.Catalog, mini_rules: sr.RuleSet, profile: sr.Profile) -> None:
    ev = Evaluator(catalog, mini_rules, as_of=2026)
    assert whatif(ev, profile, ["step2_ck.score=224"]).comparison.changes == ()


# --- levers ----------------------------------------------------------------------------------------


def test_candidate_levers_depend_on_the_profile(profile: sr.Profile) -> None:
    """The shipped rule sets' [[lever]] tables, offered by their `when` on the profile."""
    keys = [lv.key for lv in candidate_levers(profile, 2026)]
    assert not any(k.startswith("levers.step2_ck") for k in keys)  # taken already
    assert "levers.language_spanish" in keys  # speaks English and Tagalog
    assert "levers.la_plan" not in keys  # already states it
    assert "levers.j1_instead_of_h1b" not in keys  # a J-1 applicant
    fresh = sr.profile_from_data({"graduation_year": 2022, "languages": ["Spanish"], "visa": "h1b"})
    offered = candidate_levers(fresh, 2026)
    keys = [lv.key for lv in offered]
    assert keys[:4] == ["levers.step2_ck_220", "levers.step2_ck_230", "levers.step2_ck_240", "levers.step2_ck_250"]
    assert "levers.language_spanish" not in keys and "levers.la_plan" in keys
    assert "levers.j1_instead_of_h1b" in keys
    # no preferred specialty: no backup specialty to add to it
    assert not any(k.startswith("levers.backup_") for k in keys)
    by_key = {lv.key: lv for lv in offered}
    assert by_key["levers.j1_instead_of_h1b"].kind == "widen" and by_key["levers.step3"].kind == "strengthen"
    # {specialty} is the first preferred specialty (internal medicine when none), {as_of} the year
    assert 'specialty = "internal_medicine"' in by_key["levers.usce_la_3m"].changes[0]
    assert "end_year = 2026" in by_key["levers.usce_la_3m"].changes[0]
    peds = sr.profile_from_data({"graduation_year": 2022, "preferences": {"specialties": ["pediatrics"]}})
    peds_levers = {lv.key: lv for lv in candidate_levers(peds, 2027)}
    assert 'specialty = "pediatrics"' in peds_levers["levers.usce_la_3m"].changes[0]
    assert "end_year = 2027" in peds_levers["levers.usce_la_3m"].changes[0]
    assert "levers.backup_internal_medicine" in peds_levers and "levers.backup_pediatrics" not in peds_levers
    for p in (fresh, peds):
        for lv in candidate_levers(p, 2026):
            apply_changes(p, list(lv.changes))  # every lever is a valid change


def test_candidate_levers_come_from_the_rule_sets_given(mini_rules: sr.RuleSet) -> None:
    p = sr.profile_from_data({"graduation_year": 2021, "visa": "h1b"})
    keys = [lv.key for lv in candidate_levers(p, 2026, mini_rules)]
    assert keys == [
        "mini.step2_ck_220",
        "mini.step2_ck_250",
        "mini.language_spanish",
        "mini.usce_la",
        "mini.publication",
        "mini.j1",
    ]


def test_levers_rank_by_programs_moved(catalog: sr.Catalog, mini_rules: sr.RuleSet) -> None:
    p = sr.profile_from_data(
        {"graduation_year": 2021, "visa": "j1", "ties": [{"kind": "lived", "region": "la_county", "state": "CA"}]}
    )
    ev = Evaluator(catalog, mini_rules, as_of=2026)
    results = levers(ev, p)
    keys = [r.lever.key for r in results]
    assert keys[0] == "mini.language_spanish"
    improved = [r.improved for r in results]
    assert improved == sorted(improved, reverse=True)
    # with no Step 2 CK yet, no Step 2 CK minimum applies (an absent score is never below one);
    # a score of 220 makes the programs that publish a higher minimum exclude the applicant, and
    # the low score halves the odds everywhere else (down a tier where that crosses a band)
    ck220 = next(r for r in results if r.lever.key == "mini.step2_ck_220")
    c220 = ck220.comparison
    assert ck220.worsened == c220.count("newly_excluded") + c220.count("tier_down")
    assert c220.count("newly_excluded") > 0 and c220.count("tier_down") > 0
    assert c220.count("chance_down") > 0 and c220.chance_gain < 0 and c220.count("chance_up") == 0
    assert keys.index("mini.step2_ck_250") < keys.index("mini.step2_ck_220")
    spanish = results[0]
    cs = spanish.comparison
    assert cs.count("tier_up") > 0 and cs.count("chance_up") > 0 and cs.chance_gain > 0
    assert cs.worsened == 0 and cs.count("chance_down") == 0
    assert ("mini.spanish", cs.count("chance_up") + cs.count("tier_up")) in cs.responsible()
    none = next(r for r in results if r.lever.key == "mini.publication")
    assert none.comparison.changes == ()
    data = spanish.to_dict()
    assert (data["key"], data["tier_up"], data["chance_up"]) == ("mini.language_spanish", cs.count("tier_up"), cs.count("chance_up"))
    assert data["chance_gain"] == pytest.approx(sum(c.after_chance - c.before_chance for c in cs.changes))


def _timed_levers(ev: Evaluator, p: sr.Profile) -> float:
    levers(ev, p)  # warm caches
    times = []
    for _ in range(2):
        t = time.perf_counter()
        levers(ev, p)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def test_levers_are_fast_with_the_mini_rules(catalog: sr.Catalog, mini_rules: sr.RuleSet, profile: sr.Profile) -> None:
    ev = Evaluator(catalog, mini_rules, as_of=2026)
    assert _timed_levers(ev, profile) < 1.0


@pytest.mark.skipif(shipped_rules_load() is not None, reason=str(shipped_rules_load()))
def test_levers_time_on_the_shipped_catalog(catalog: sr.Catalog, profile: sr.Profile, capsys: pytest.CaptureFixture[str]) -> None:
    ev = Evaluator(catalog, fixtures.shipped_rules(), as_of=2026)
    n = len(candidate_levers(profile, 2026))
    median = _timed_levers(ev, profile)
    with capsys.disabled():
        print(f"\nlevers: {n} variants on {len(catalog):,} programs, median {median * 1000:.0f} ms")
    assert median < 10.0


# --- the commands -----------------------------------------------------------------------------------


def test_whatif_command(tmp_path: Path) -> None:
    rules = write_mini(tmp_path)
    run = run_main("whatif", DEFAULT_PROFILE, "--rules", rules, "--as-of", "2026", "--set", "step2_ck.score=240", "--top", "5")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "What if: step2_ck.score=240"
    assert "no longer excluded" in lines[1]
    assert lines[2] == "Breadth: 20-30 -> 10-15"
    assert "Profile rules no longer firing: mini.low_step2" in run.out
    assert "excluded (mini.min_step2_ck)" in run.out and "-mini.min_step2_ck" in run.out
    assert all(len(line) <= 100 for line in lines)
    data = json.loads(
        run_main("whatif", DEFAULT_PROFILE, "--rules", rules, "--as-of", "2026", "--set", "step2_ck.score=240", "--format", "json").out
    )
    assert data["changes"] == ["step2_ck.score=240"]
    md = run_main("whatif", DEFAULT_PROFILE, "--rules", rules, "--as-of", "2026", "--set", "languages+=Spanish", "--format", "markdown")
    assert md.code == 0 and md.out.startswith("# What if: languages+=Spanish")


def test_whatif_command_errors(tmp_path: Path) -> None:
    rules = write_mini(tmp_path)
    line = one_clear_line(run_main("whatif", DEFAULT_PROFILE, "--rules", rules, "--set", "step2_ck.scroe=240"))
    assert line == (
        "smartpick-rules: --set step2_ck.scroe=240: input_error: `step2_ck` has no field `scroe` "
        "(did you mean `step2_ck.score`?)"
    )
    line = one_clear_line(run_main("whatif", DEFAULT_PROFILE, "--rules", rules))
    assert "the following arguments are required: --set" in line


def test_levers_command(tmp_path: Path) -> None:
    rules = write_mini(tmp_path)
    prof = tmp_path / "no_ck.toml"
    prof.write_text(
        'graduation_year = 2021\nvisa = "j1"\nname = "Applicant without Step 2 CK"\n'
        '[[ties]]\nkind = "lived"\nregion = "la_county"\nstate = "CA"\n',
        encoding="utf-8",
    )
    run = run_main("levers", prof, "--rules", rules, "--as-of", "2026")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "Levers for Applicant without Step 2 CK, ranked by programs moved (of 5,301; as of 2026)"
    first = next(line for line in lines if line.lstrip().startswith("1  "))
    assert "Speak Spanish" in first and "mini.spanish" in first
    assert any("Take Step 2 CK and score 220" in line and "mini.min_step2_ck" in line for line in lines)
    assert any(line.startswith("No effect: ") for line in lines)
    assert lines[-1] == f"  smartpick-rules whatif {prof} --set 'languages+=\"Spanish\"'"  # the real profile path
    assert all(len(line) <= 100 for line in lines[:-1])  # the command is left whole, to copy
    data = json.loads(run_main("levers", prof, "--rules", rules, "--as-of", "2026", "--format", "json").out)
    assert data["levers"][0]["key"] == "mini.language_spanish"
    assert data["levers"][0]["tier_up"] > 0
    # the suggested command runs as printed
    import shlex

    suggested = shlex.split(lines[-1])
    assert suggested[:3] == ["smartpick-rules", "whatif", str(prof)]
    again = run_main(*suggested[1:], "--rules", rules, "--as-of", "2026")
    assert again.code == 0, again.err
