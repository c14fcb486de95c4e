"""The durable_rules engine gives byte-identical results to the native engine.

Every construct of the rule language is exercised by a small rule set below (comparisons,
and/or/not, in/not in, arithmetic, has() chains across strata and negated tags, every
function, optional fields that are unknown, every effect), plus the shipped rule sets and the
synthetic 100-rule set of the benchmark, over synthetic and sample catalogs and profiles
with unknowns. Durable evaluations run in a worker process (tests/durable_worker.py): a crash
in durable_rules' C extension fails the test, it does not kill pytest. Each crash found while
building the engine is a regression test here, next to the compile rule that avoids it.

On Python 3.13+ durable_rules does not import; these tests are then skipped with the reason,
and ``engine="durable"`` must fail with that reason.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

import smartpick_rules as sr
from durable_worker import ROOT, DurableWorker, assert_same_results
from smartpick_rules.engines import get_engine
from smartpick_rules.engines.durable import durable_unavailable_reason, fix_exponents
from smartpick_rules.ruleset.load import load_rules_from_text

REASON = durable_unavailable_reason()
needs_durable = pytest.mark.skipif(REASON is not None, reason=f"durable engine unavailable: {REASON}")
pytestmark = pytest.mark.durable

EXAMPLES = ROOT / "examples"
PROFILES = sorted((EXAMPLES / "profiles").glob("*.toml"))

# -- rule sets ------------------------------------------------------------------------------

COMPARISONS = r'''
[ruleset]
name = "cmp"
version = "1"

[[rule]]
id = "cmp.p.low"
stage = "profile"
when = "applicant.step2_ck.score < 230 or applicant.step1.score <= 210"
then = { tag = "low", odds = 0.818731 }

[[rule]]
id = "cmp.p.unknown_step1"
stage = "profile"
when = "not known(applicant.step1.score)"
then = { tag = "pf" }

[[rule]]
id = "cmp.p.visa"
stage = "profile"
when = ["applicant.visa != \"none\"", "applicant.applicant_type in [\"non_us_img\", \"us_img\"]"]
then = { tag = "needs_visa" }

[[rule]]
id = "cmp.min_ck"
stage = "program"
salience = 100
when = "applicant.step2_ck.score < program.min_step2_ck"
then = { exclude = "below the minimum {program.min_step2_ck}" }

[[rule]]
id = "cmp.min_ck_flipped"
stage = "program"
when = "program.min_step2_ck >= applicant.step2_ck.score"
then = { odds = 0.904837 }

[[rule]]
id = "cmp.const_left"
stage = "program"
when = "220 < program.min_step2_ck"
then = { odds = 0.951229 }

[[rule]]
id = "cmp.eq_ne"
stage = "program"
when = "program.min_step1 == 220 or program.max_attempts != 1"
then = { odds = 1.02532 }

[[rule]]
id = "cmp.le_ge"
stage = "program"
when = "program.positions <= 4 and program.positions >= 2"
then = { priority = 3 }

[[rule]]
id = "cmp.img_share_unknown"
stage = "program"
when = "not (program.img_share > 0.5)"
then = { odds = 1.16183 }

[[rule]]
id = "cmp.or_unknown"
stage = "program"
when = "program.img_share > 0.5 or program.positions > 10"
then = { odds = 1.05127, tag = "open" }

[[rule]]
id = "cmp.and_unknown_false"
stage = "program"
when = "not (program.img_share > 0.9 and program.positions > 1000)"
then = { odds = 1.01258 }

[[rule]]
id = "cmp.bools"
stage = "program"
when = ["has(\"needs_visa\")", "not program.sponsors_j1", "program.sponsors_h1b == false"]
then = { exclude = "no visa sponsorship" }

[[rule]]
id = "cmp.bool_field"
stage = "program"
when = "program.usce_required and not has(\"pf\")"
then = { tag = "usce_needed" }

[[rule]]
id = "cmp.in_strings"
stage = "program"
when = "program.region in [\"la_county\", \"orange_county\", \"inland_empire\", \"la_county\"]"
then = { odds = 1.49182, tag = "socal" }

[[rule]]
id = "cmp.not_in"
stage = "program"
when = "program.program_type not in [\"university\"] and program.state not in []"
then = { odds = 1.10517 }

[[rule]]
id = "cmp.in_numbers"
stage = "program"
when = "program.max_years_since_graduation in [1, 3.0, 5] or program.max_attempts not in [2, none]"
then = { odds = 0.927743 }

[[rule]]
id = "cmp.in_empty"
stage = "program"
when = "program.specialty in []"
then = { odds = 22026.5 }

[[rule]]
id = "cmp.known"
stage = "program"
when = ["known(program.img_share)", "not known(program.min_step1)", "known(applicant.step2_ck.score)"]
then = { odds = 1.03045 }

[[rule]]
id = "cmp.literal_true"
stage = "program"
when = "true"
then = { odds = 1.001 }

[[rule]]
id = "cmp.literal_false"
stage = "program"
when = "false or 1 > 2"
then = { odds = 19930.4 }

[[rule]]
id = "cmp.nested"
stage = "program"
when = "not (not (program.region == \"kern\" or (program.positions > 3 and not (program.sponsors_j1 or program.img_share < 0.2))))"
then = { odds = 1.28403 }

[[rule]]
id = "cmp.strings_escaped"
stage = "program"
when = "program.city != \"O'Neil \\\"Heights\\\" \\\\ é\" and program.name != \"\""
then = { odds = 1.00501 }

[[rule]]
id = "cmp.list_bools"
stage = "list"
when = "list.target_count + list.likely_count >= 1 and (list.reach_count > 2 or not (list.size > 10))"
then = { advice = "{list.likely_count} likely, {list.reach_count} reach" }
'''

ARITH_AND_FUNCTIONS = r'''
[ruleset]
name = "fun"
version = "1"

[[estimate]]
name = "screen"
start = 225

[[group]]
name = "academic"
programs = "program.program_type == \"university\" or \"academic_flagship\" in program.tags"

[[group]]
name = "local"
programs = "program.region in applicant.preferences.regions or has(\"usce\")"

[[rule]]
id = "fun.p.usce"
stage = "profile"
when = "count(applicant.usce, item.kind == \"hands_on\" or item.months >= 3) >= 1 and count(applicant.letters) > 0"
then = { tag = "usce", odds = 1.2214, set = { usce_band = "some", usce_bool = true, usce_num = 3 } }

[[rule]]
id = "fun.p.months"
stage = "profile"
when = "total(applicant.usce, item.months) >= 3 and total(applicant.usce, item.months, item.letter) > 0"
then = { tag = "months" }

[[rule]]
id = "fun.p.old"
stage = "profile"
salience = 5
when = "years_since(applicant.graduation_year) > 5 and abs(applicant.graduation_year - 2020) < 10"
then = { tag = "old", set = { usce_num = 1 } }

[[rule]]
id = "fun.p.any_all"
stage = "profile"
when = "any(applicant.ties, item.region == \"la_county\") or all(applicant.letters, item.us)"
then = { tag = "ties_or_us_letters" }

[[rule]]
id = "fun.p.len"
stage = "profile"
when = "len(applicant.languages) >= 1 and len(applicant.id) > 3 and (\"Spanish\" in applicant.languages or \"English\" in applicant.languages)"
then = { tag = "polyglot" }

[[rule]]
id = "fun.arith"
stage = "program"
when = "program.img_share * 100 >= 40 and program.positions + 1 > 3 and program.positions - 2 < 30"
then = { odds = 1.34986 }

[[rule]]
id = "fun.div_mod"
stage = "program"
when = "program.positions / 2 > 4 or program.positions % 3 == 1"
then = { odds = 0.904837 }

[[rule]]
id = "fun.div_zero"
stage = "program"
when = "not (program.positions / (program.positions - program.positions) > 1)"
then = { odds = 148.413 }

[[rule]]
id = "fun.div_zero_unknown"
stage = "program"
when = "not known(program.positions / (program.positions - program.positions)) and known(program.positions % 7)"
then = { odds = 1.01511 }

[[rule]]
id = "fun.neg"
stage = "program"
when = "-program.positions < -5 and -(program.img_share) > -0.5"
then = { odds = 1.05127 }

[[rule]]
id = "fun.min_max_abs"
stage = "program"
when = "max(program.positions, 5, 7) - min(program.positions, 3) > 4 and abs(program.positions - 12) <= 6"
then = { priority = 2 }

[[rule]]
id = "fun.years"
stage = "program"
when = "years_since(applicant.graduation_year) > program.max_years_since_graduation"
then = { exclude = "graduated too long ago for {program.name}" }

[[rule]]
id = "fun.tags_list"
stage = "program"
when = "\"img_friendly\" in program.tags and \"academic_flagship\" not in program.tags"
then = { odds = 1.2214, tag = "friendly" }

[[rule]]
id = "fun.region_pref"
stage = "program"
when = "program.region in applicant.preferences.regions"
then = { odds = 1.34986, priority = 10 }

[[rule]]
id = "fun.len_tags"
stage = "program"
when = "len(program.tags) >= 2 and len(program.name) > 10"
then = { odds = 1.0202 }

[[rule]]
id = "fun.any_program"
stage = "program"
when = "any(applicant.ties, item.region == program.region) or count(applicant.usce, item.region == program.region) >= 1"
then = { tag = "local", odds = 1.2214 }

[[rule]]
id = "fun.derived"
stage = "program"
when = ["derived.usce_band == \"some\"", "derived.usce_bool", "derived.usce_num > 1"]
then = { odds = 1.04081 }

[[rule]]
id = "fun.known_calc"
stage = "program"
when = "known(program.img_share * 2) and not known(program.min_step1 + 1)"
then = { odds = 1.07251 }

[[rule]]
id = "fun.exponent_floats"
stage = "program"
when = "program.img_share > 0.00001 and program.img_share * 1e20 > 1e19 and program.img_share < 12345678901234567.0"
then = { odds = 1.09417 }

[[rule]]
id = "fun.tiny_values"
stage = "program"
when = "program.img_share / 100000 < 0.000005"
then = { odds = 1.06184 }

[[rule]]
id = "fun.compare_bools"
stage = "program"
when = "has(\"usce\") == program.usce_required or (program.positions > 3) != program.sponsors_j1"
then = { odds = 0.980199 }

[[rule]]
id = "fun.list_counts"
stage = "list"
when = "count(list.programs, item.tier == \"reach\") > 3 or total(list.programs, item.positions, item.region == \"kern\") > 5"
then = { at_most = { academic = 4 }, at_least = { local = 2 }, set = { interview_target = 3 } }

[[rule]]
id = "fun.list_any"
stage = "list"
when = "any(list.programs, \"friendly\" in item.tags) and all(list.programs, item.chance >= 0 and item.priority > -1000)"
then = { breadth = { min = "min(list.size, 30)", max = "max(list.size, 10) + 5" } }

[[rule]]
id = "fun.list_eligible_interviews"
stage = "list"
salience = -5
when = "list.eligible_interviews > 1 and count(list.programs, \"img_friendly\" in item.program_tags) >= 1"
then = { breadth = { min = 2, max = 4 } }

[[rule]]
id = "fun.list_review"
stage = "list"
when = ["list.expected_interviews < list.interview_target or list.chosen_count < list.breadth_min", "list.chosen_la_county_count + list.chosen_california_count >= list.chosen_out_of_state_count"]
then = { advice = "{list.chosen_count} chosen, {list.expected_interviews} expected of {list.interview_target}" }

[[rule]]
id = "fun.screen_university"
stage = "program"
when = "program.program_type == \"university\""
then = { estimate = { screen = 6 } }

[[rule]]
id = "fun.screen_share"
stage = "program"
when = ["known(program.img_share)", "has(\"usce\") or program.positions > 3"]
then = { estimate = { screen = "-4 if program.img_share >= 0.3 else program.positions * 0.01" } }

[[rule]]
id = "fun.below_screen"
stage = "program"
when = ["known(applicant.step2_ck.score)", "applicant.step2_ck.score < estimate.screen"]
then = { tag = "below_screen", odds = "exp((applicant.step2_ck.score - estimate.screen) / 8)" }
explain = "under the estimated screen of {estimate.screen} by {estimate.screen - applicant.step2_ck.score}"

[[rule]]
id = "fun.if_else_when"
stage = "program"
when = "(10 if has(\"usce\") else 0) + (2 if program.img_share > 0.3 else -2) + program.positions > 12"
then = { chance_cap = "0.5 if program.positions > 20 else 0.9" }

[[rule]]
id = "fun.exp_when"
stage = "program"
when = "exp(program.positions / 10) > 2.5 and exp(-1000) >= 0"
then = { tier_at_most = "target", odds = "min(3, exp(program.positions / 50))" }

[[rule]]
id = "fun.p.exp"
stage = "profile"
when = "exp(years_since(applicant.graduation_year) / 10) > 1.6 or (1 if has(\"usce\") else 0) > 0"
then = { odds = "1.2 if has(\"usce\") else 0.9", chance_cap = 0.8 }
'''

CHAINS_AND_EFFECTS = r'''
[ruleset]
name = "chain"
version = "1"

[chance]
base = 0.05
target = 0.06
likely = 0.12

[[group]]
name = "academic"
programs = "program.program_type == \"university\""

[[rule]]
id = "chain.p.a"
stage = "profile"
when = "true"
then = { tag = "pa" }

[[rule]]
id = "chain.p.b"
stage = "profile"
when = "has(\"pa\") and applicant.leadership_roles >= 1"
then = { tag = "pb", set = { band = "b" } }

[[rule]]
id = "chain.p.neg"
stage = "profile"
when = "not has(\"pb\")"
then = { tag = "never" }

[[rule]]
id = "chain.p.neg2"
stage = "profile"
when = "not has(\"never\")"
then = { tag = "shared", advice = "profile advice {applicant.graduation_year}" }

[[rule]]
id = "chain.c"
stage = "program"
salience = 3
when = "has(\"b\")"
then = { tag = "c", odds = 1.10517 }

[[rule]]
id = "chain.b"
stage = "program"
when = "has(\"a\") and program.positions > 2"
then = { tag = "b", odds = 1.10517 }

[[rule]]
id = "chain.a"
stage = "program"
when = "program.region != \"out_of_state\" or program.sponsors_j1"
then = { tag = "a", odds = 1.10517 }

[[rule]]
id = "chain.not_c"
stage = "program"
when = "not has(\"c\") and has(\"a\")"
then = { tag = "not_c", odds = 0.740818, tier_at_most = "reach" }

[[rule]]
id = "chain.after_not_c"
stage = "program"
when = "has(\"not_c\") or (has(\"pb\") and program.positions > 20)"
then = { tag = "d", priority = 5 }

[[rule]]
id = "chain.not_d"
stage = "program"
salience = 10
when = "not has(\"d\") and not has(\"never\")"
then = { tier_note = 1 }

[[rule]]
id = "chain.shared_tag"
stage = "program"
when = "program.positions > 8"
then = { tag = "shared", odds = 1.05127 }

[[rule]]
id = "chain.reads_shared"
stage = "program"
when = "has(\"shared\") and not has(\"c\")"
then = { odds = 1.02532, advice = "advice for {program.id}" }

[[rule]]
id = "chain.mutual1"
stage = "program"
when = "has(\"m2\") or program.positions == 3"
then = { tag = "m1" }

[[rule]]
id = "chain.mutual2"
stage = "program"
when = "has(\"m1\") or program.positions == 4"
then = { tag = "m2", odds = 1.01005 }

[[rule]]
id = "chain.in_any"
stage = "program"
when = "any(applicant.ties, has(\"c\") and item.years > 0) or count(applicant.usce, has(\"m1\")) > 0"
then = { odds = 1.03355 }

[[rule]]
id = "chain.tier_likely"
stage = "program"
salience = 20
when = "has(\"c\") and program.img_share > 0.3"
then = { chance_cap = 0.5, tier_at_most = "likely", exclude = "excluded after all: {program.img_share}" }

[[rule]]
id = "chain.priority"
stage = "program"
when = "has(\"d\") and has(\"a\")"
then = { priority = -2.5, odds = 0.951229 }

[[rule]]
id = "chain.l.tag"
stage = "list"
when = "list.size > 5"
then = { tag = "big" }

[[rule]]
id = "chain.l.big"
stage = "list"
when = "has(\"big\") and has(\"pb\")"
then = { breadth = { min = 3, max = "list.size - 2" }, at_most = { academic = 2 }, advice = "big list: {list.size}" }

[[rule]]
id = "chain.l.not_big"
stage = "list"
salience = -1
when = "not has(\"big\")"
then = { breadth = { min = 1, max = 2 } }
'''.replace("then = { tier_note = 1 }", "then = { odds = 1.00501 }")

RULE_SETS = {"comparisons": COMPARISONS, "functions": ARITH_AND_FUNCTIONS, "chains": CHAINS_AND_EFFECTS}


def _edge_programs() -> list[dict[str, Any]]:
    """Programs with every optional field unset, extreme and awkward values."""
    base = {"name": "Edge", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community"}
    return [
        {**base, "id": "edge-empty"},
        {**base, "id": "edge-tiny", "img_share": 1e-05, "positions": 3, "city": "O'Neil \"Heights\" \\ é"},
        {**base, "id": "edge-zero", "img_share": 0.0, "positions": 0, "min_step2_ck": 300, "max_attempts": 0},
        {**base, "id": "edge-one", "img_share": 1.0, "positions": 4, "max_years_since_graduation": 0, "tags": ["img_friendly"]},
        {
            **base,
            "id": "edge-big",
            "region": "kern",
            "positions": 999_999,
            "img_share": 0.30000000000000004,
            "min_step1": 1,
            "sponsors_j1": True,
            "sponsors_h1b": True,
            "usce_required": True,
            "tags": ["img_friendly", "academic_flagship", "rural"],
        },
        {**base, "id": "edge-out", "region": "out_of_state", "state": "NY", "program_type": "university", "min_step2_ck": 230},
    ]


def _profile_specs() -> list[dict[str, Any]]:
    from synthetic import synthetic_profile

    specs: list[dict[str, Any]] = [{"toml": str(p)} for p in PROFILES[:4]]
    specs += [{"data": synthetic_profile(seed)} for seed in (1, 2, 7)]
    specs.append({"data": {"graduation_year": 2015}})  # nothing known
    return specs


def _constructs_job(name: str) -> dict[str, Any]:
    return {
        "rules": {"texts": [[f"{name}.toml", RULE_SETS[name]]]},
        "profiles": _profile_specs(),
        "catalogs": [
            {"synthetic": [150, 3]},
            {"data": _edge_programs()},
            {"data": _edge_programs()[3:4]},  # one program (a bug hypothesis found: n == 1 is not the profile stage)
            {"csv": str(EXAMPLES / "small_catalog.csv")},
        ],
    }


@pytest.fixture(scope="module")
def worker() -> Iterator[DurableWorker]:
    w = DurableWorker()
    yield w
    w.close()


# -- the rule sets all load (checked in this process, no durable needed) ----------------------


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_rule_sets_load(name: str) -> None:
    rs = load_rules_from_text([(f"{name}.toml", RULE_SETS[name])])
    assert len(rs.rules) > 10


# -- conformance ----------------------------------------------------------------------------


@needs_durable
@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_constructs_same_as_native(worker: DurableWorker, name: str) -> None:
    job = _constructs_job(name)
    assert_same_results(job, worker.evaluate(job))


@pytest.mark.slow
@needs_durable
def test_shipped_rule_sets_same_as_native(worker: DurableWorker) -> None:
    job = {
        "rules": {"shipped": True},
        "profiles": [{"toml": str(p)} for p in PROFILES],
        "catalogs": [{"csv": str(EXAMPLES / "small_catalog.csv")}, {"synthetic": [120, 5]}],
    }
    assert_same_results(job, worker.evaluate(job))


@needs_durable
def test_synthetic_100_rules_same_as_native(worker: DurableWorker) -> None:
    from synthetic import synthetic_profile, synthetic_rules_toml

    job = {
        "rules": {"texts": [["synthetic.toml", synthetic_rules_toml(100, seed=1)]]},
        "profiles": [{"data": synthetic_profile(s)} for s in (0, 3)],
        "catalogs": [{"synthetic": [400, 11]}],
    }
    assert_same_results(job, worker.evaluate(job))


@needs_durable
def test_threads_share_one_compiled_rule_set(worker: DurableWorker) -> None:
    """Four threads evaluating at once on one compiled rule set agree with each other and with native."""
    job = _constructs_job("chains")
    job["catalogs"] = [{"synthetic": [200, 8]}]
    reply = worker.request({**job, "op": "threads", "threads": 4})
    assert_same_results(job, reply["results"])


@pytest.mark.slow
@needs_durable
def test_memory_stays_flat(worker: DurableWorker) -> None:
    """States are deleted when an evaluation ends: 150 more evaluations do not grow the worker."""
    job = _constructs_job("functions")
    job["catalogs"] = [{"synthetic": [60, 2]}]
    job["profiles"] = job["profiles"][:1]
    reply = worker.request({**job, "op": "rss", "n": 150, "warmup": 30})
    # measured in the engine's worker processes, which hold durable_rules' states: without
    # deleting states this grows by ~170 MiB; the allocator alone moves it a few MiB
    assert reply["workers"] >= 1 and reply["before_kib"] > 0, reply
    assert reply["after_kib"] - reply["before_kib"] < 16 * 1024, reply


# -- regressions: each a crash or wrong answer found in durable_rules while building the engine ----

REGRESSIONS = {
    # deleting a state in which no fact ever matched segfaults: every state gets a sentinel fact
    "no_rule_matches": '''
[ruleset]
name = "r"
[[rule]]
id = "r.never"
stage = "program"
when = "program.positions > 100000000"
then = { odds = 1.10517 }
[[rule]]
id = "r.p.never"
stage = "profile"
when = "applicant.graduation_year < 1941"
then = { tag = "x" }
''',
    # durable runs its own state fact through the network after each action: a pattern of
    # absences only ("true", "not has") matched it forever. Every pattern starts with "candidate".
    "absence_only_patterns": '''
[ruleset]
name = "r"
[[rule]]
id = "r.p.true"
stage = "profile"
when = "true"
then = { tag = "t" }
[[rule]]
id = "r.p.not"
stage = "profile"
when = "not known(applicant.step3.score)"
then = { tag = "u" }
[[rule]]
id = "r.true"
stage = "program"
when = "true"
then = { odds = 1.10517 }
[[rule]]
id = "r.not"
stage = "program"
when = "not known(program.min_step1)"
then = { odds = 1.10517 }
''',
    # a fact matching two branches of an $or reaches the rule twice: fired once all the same
    "or_branches_both_true": '''
[ruleset]
name = "r"
[[rule]]
id = "r.or"
stage = "program"
when = "program.positions > 0 or program.positions > 1 or program.region == \\"la_county\\""
then = { odds = 1.10517, tag = "o" }
[[rule]]
id = "r.after"
stage = "program"
when = "has(\\"o\\") or program.positions >= 0"
then = { odds = 1.10517 }
''',
    # 64 rules matching one fact overflow the C core's alpha stack (error 303): chunks of <= 48
    "many_rules_one_stratum": "[ruleset]\nname = \"r\"\n"
    + "".join(
        f'[[rule]]\nid = "r.many{k:02d}"\nstage = "program"\nwhen = "program.positions >= {k % 3}"\nthen = {{ odds = 1.05127 }}\n'
        for k in range(110)
    ),
}


@needs_durable
@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression(worker: DurableWorker, name: str) -> None:
    job = {
        "rules": {"texts": [[f"{name}.toml", REGRESSIONS[name]]]},
        "profiles": [{"toml": str(PROFILES[0])}, {"data": {"graduation_year": 2015}}],
        "catalogs": [{"data": _edge_programs()}, {"synthetic": [100, 4]}],
    }
    assert_same_results(job, worker.evaluate(job))


def test_values_durable_cannot_compare_exactly_are_refused_loudly() -> None:
    """Inputs cap integers at 10**12, but models built in Python do not: an integer durable_rules
    cannot compare exactly with a double, or a NaN, is an error, never a wrong answer."""
    from smartpick_rules.engines.durable import Encoder

    enc = Encoder()
    assert enc.value('"x"', "x", 2**53) == '"x":9007199254740992'
    assert enc.value('"x"', "x", 1e-05) == '"x":1.0e-05'
    assert enc.value('"x"', "x", float("inf")) == '"x":1.0e999'
    assert enc.value('"x"', "x", None) is None
    for bad in (2**53 + 1, float("nan")):
        with pytest.raises(sr.EvaluationError) as info:
            enc.value('"x"', "x", bad)
        assert info.value.codes == ["unsupported"]


# -- compiling --------------------------------------------------------------------------------


@needs_durable
def test_generated_json_shape(worker: DurableWorker) -> None:
    import json

    text = worker.request({"op": "compile", "rules": {"texts": [["cmp.toml", COMPARISONS]]}})["json"]
    data = json.loads(text)
    program = data["stages"]["program"]
    rulesets = program["rulesets"]
    rule = next(rs["cmp.min_ck"] for rs in rulesets.values() if "cmp.min_ck" in rs)
    assert rule["run"] == "cmp.min_ck" and rule["cap"] == 65535
    conds = rule["all"][0]["m"]["$and"]
    assert conds[0] == {"candidate": True}
    assert conds[-1] == {"$nex": {"fired.cmp.min_ck": 1}}
    assert {"$ex": {"program.min_step2_ck": 1}} in conds  # field-to-field comparisons are guarded
    assert {"$lt": {"applicant.step2_ck.score": {"$m": "program.min_step2_ck"}}} in conds
    assert "cmp.literal_false" in program["never_fire"]
    assert all("sentinel:keep-state" in rs for rs in rulesets.values())
    # every rule of every stage is a single-fact pattern: correlated joins crash durable_rules
    for stage in data["stages"].values():
        for rs in stage["rulesets"].values():
            for rule in rs.values():
                assert len(rule["all"]) == 1 and list(rule["all"][0]) == ["m"], rule


def test_refuses_too_complex_rule_with_its_name() -> None:
    if REASON is not None:
        pytest.skip(f"durable engine unavailable: {REASON}")
    from smartpick_rules.engines.durable import compile_stage
    from smartpick_rules.plan import plan_ruleset

    clauses = " or ".join(f"(program.positions == {k} and program.img_share > 0.{k})" for k in range(1, 17))
    text = f'[ruleset]\nname = "x"\n[[rule]]\nid = "x.wide"\nstage = "program"\nwhen = "{clauses}"\nthen = {{ odds = 1.10517 }}\n'
    plan = plan_ruleset(load_rules_from_text([("x.toml", text)]))
    with pytest.raises(sr.RulesetError) as info:
        compile_stage(plan.program, {})  # compiling patterns only: no durable_rules call
    d = info.value.diagnostics[0]
    assert d.code == "unsupported" and d.rule_id == "x.wide"
    assert "and/or nodes" in d.message


def test_fix_exponents_outside_strings() -> None:
    assert fix_exponents('{"a":1e-05,"b":"1e-05","c":-2e+20,"d":1.5e-07}') == '{"a":1.0e-05,"b":"1e-05","c":-2.0e+20,"d":1.5e-07}'
    assert fix_exponents('{"s":"x\\"1e5","n":3e5}') == '{"s":"x\\"1e5","n":3.0e5}'
    assert fix_exponents("1.5e-07") == "1.5e-07" and fix_exponents("-1e+300") == "-1.0e+300"


def test_unavailable_engine_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """On 3.13 durable_rules does not import; engine="durable" then fails with the reason."""
    probe = durable_unavailable_reason.__wrapped__
    monkeypatch.setitem(sys.modules, "durable.engine", None)  # make the import fail
    monkeypatch.setattr(sys, "version_info", (3, 13, 0, "final", 0))
    reason = probe()
    assert reason is not None and "3.13" in reason and "PyEval_CallObject" in reason and 'engine="native"' in reason
    if REASON is not None:
        with pytest.raises(sr.EngineUnavailable) as info:
            get_engine("durable")
        assert REASON in str(info.value)
