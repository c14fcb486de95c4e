"""Differential test: random rule sets, profiles and catalogs give byte-identical results on the
native and the durable engine.

Hypothesis writes small rule sets as TOML text (loaded by ``load_rules_from_text`` like any
rule file): every stage, tags read positively and negatively (within and across stages), every
comparison, ``in``/``not in``, arithmetic with division and ``%`` by values that may be zero,
``a if test else b``, the functions (``exp`` included), optional fields that are unknown, an
``[[estimate]]`` with its rules, ``[[group]]`` bounds, review rules reading the chosen list,
every effect (odds as numbers and expressions, chance and tier ceilings, priority, exclude). The native results are computed
here; the durable ones in one worker process for the whole test (tests/durable_worker.py), so a
crash in durable_rules' C extension fails the test instead of killing pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable_worker import DurableWorker, assert_same_results
from smartpick_rules.engines.durable import durable_unavailable_reason
from smartpick_rules.limits import DEFAULT_LIMITS
from smartpick_rules.ruleset.load import load_rules_from_text

REASON = durable_unavailable_reason()
pytestmark = [
    pytest.mark.durable,
    pytest.mark.skipif(REASON is not None, reason=f"durable engine unavailable: {REASON}"),
]

REGIONS = ["la_county", "orange_county", "kern", "san_diego", "out_of_state"]
TYPES = ["university", "community", "county_safety_net", "university_affiliated_community"]
SPECIALTIES = ["internal_medicine", "family_medicine", "pediatrics"]
STATES = ["CA", "NY", "TX"]
PROGRAM_TAGS = ["img_friendly", "academic_flagship", "rural"]

NUM_PROGRAM = [
    "program.positions",
    "program.min_step1",
    "program.min_step2_ck",
    "program.max_attempts",
    "program.max_years_since_graduation",
    "program.img_share",
]
NUM_APPLICANT = [
    "applicant.step1.score",
    "applicant.step2_ck.score",
    "applicant.step1.attempts",
    "applicant.graduation_year",
    "applicant.leadership_roles",
    "applicant.research.publications",
    "applicant.preferences.application_budget",
]
NUM_LIST = [
    "list.size",
    "list.excluded_count",
    "list.likely_count",
    "list.target_count",
    "list.reach_count",
    "list.la_county_count",
    "list.california_count",
    "list.eligible_interviews",
]
#: list facts known once the list is chosen: read only by review rules, which only advise
NUM_CHOSEN = [
    "list.chosen_count",
    "list.expected_interviews",
    "list.chosen_la_county_count",
    "list.chosen_out_of_state_count",
    "list.breadth_min",
    "list.breadth_max",
    "list.interview_target",
]
BOOL_PROGRAM = ["program.sponsors_j1", "program.sponsors_h1b", "program.usce_required"]
BOOL_APPLICANT = ["applicant.step1.passed", "applicant.history.applied_before", "applicant.preferences.long_term_la_plan"]
STR_PROGRAM = {
    "program.region": REGIONS,
    "program.program_type": TYPES,
    "program.specialty": SPECIALTIES,
    "program.state": STATES,
}
STR_APPLICANT = {"applicant.visa": ["none", "j1", "h1b"], "applicant.applicant_type": ["non_us_img", "us_md"]}

CONSTANTS = st.sampled_from([0, 1, 2, 3, 5, 10, 50, 215, 225, 240, 2015, 0.25, 0.5, 1e-05, 2.5e-07, 1e20, -3])


def _q(s: str) -> str:
    return '"' + s + '"'


@st.composite
def number(draw: st.DrawFn, stage: str, depth: int = 0, estimates: bool = False, chosen: bool = False) -> str:
    """A number; ``estimates``: may read ``estimate.screen``; ``chosen``: may read chosen-list facts."""
    fields = NUM_APPLICANT + (NUM_PROGRAM if stage == "program" else []) + (NUM_LIST if stage == "list" else [])
    if estimates and stage == "program":
        fields = [*fields, "estimate.screen"]
    if chosen and stage == "list":
        fields = [*fields, *NUM_CHOSEN]
    choices = ["field", "field", "const", "arith", "func", "if"] if depth < 2 else ["field", "const"]
    kind = draw(st.sampled_from(choices))
    if kind == "field":
        return draw(st.sampled_from(fields))
    if kind == "const":
        return repr(draw(CONSTANTS))
    def sub() -> str:
        return draw(number(stage, depth + 1, estimates, chosen))

    if kind == "arith":
        op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
        return f"({sub()} {op} {sub()})"
    if kind == "if":
        test = draw(condition(stage, [], [], depth + 1, estimates, chosen))
        return f"({sub()} if {test} else {sub()})"
    funcs = [
        lambda: f"-{draw(st.sampled_from(fields))}",
        lambda: f"abs({sub()})",
        lambda: f"min({sub()}, {sub()})",
        lambda: f"max({sub()}, {sub()}, 3)",
        lambda: f"exp({sub()} / 100)",
        lambda: "years_since(applicant.graduation_year)",
        lambda: f"count(applicant.usce, item.months >= {draw(st.sampled_from([1, 2, 3]))})",
        lambda: "total(applicant.usce, item.months)",
        lambda: "len(applicant.languages)",
    ]
    if stage == "program":
        funcs.append(lambda: "len(program.tags)")
    if stage == "list":
        funcs.append(lambda: f"count(list.programs, item.tier == {_q(draw(st.sampled_from(['reach', 'target', 'likely'])))})")
        funcs.append(lambda: "total(list.programs, item.positions, item.region == \"kern\")")
    return draw(st.sampled_from(funcs))()


@st.composite
def condition(
    draw: st.DrawFn, stage: str, pos_tags: list[str], neg_tags: list[str], depth: int = 0, estimates: bool = False, chosen: bool = False
) -> str:
    atoms = ["cmp", "cmp", "str", "bool", "known"]
    if pos_tags:
        atoms += ["has", "has"]
    if neg_tags:
        atoms.append("not_has")
    if stage == "program":
        atoms += ["tag_in", "any"]
    kinds = [*atoms, "and", "or", "not"] if depth < 2 else atoms
    kind = draw(st.sampled_from(kinds))
    strs = {**STR_APPLICANT, **(STR_PROGRAM if stage == "program" else {})}
    bools = BOOL_APPLICANT + (BOOL_PROGRAM if stage == "program" else [])
    if kind == "cmp":
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"{draw(number(stage, 0, estimates, chosen))} {op} {draw(number(stage, 0, estimates, chosen))}"
    if kind == "str":
        field = draw(st.sampled_from(sorted(strs)))
        values = strs[field]
        how = draw(st.sampled_from(["==", "!=", "in", "not in"]))
        if how in ("==", "!="):
            return f"{field} {how} {_q(draw(st.sampled_from(values)))}"
        items = draw(st.lists(st.sampled_from(values), max_size=3))
        return f"{field} {how} [{', '.join(_q(v) for v in items)}]"
    if kind == "bool":
        field = draw(st.sampled_from(bools))
        return draw(st.sampled_from([field, f"{field} == true", f"{field} != false"]))
    if kind == "known":
        fields = NUM_APPLICANT + (NUM_PROGRAM if stage == "program" else [])
        return f"known({draw(st.sampled_from(fields))})"
    if kind == "has":
        return f"has({_q(draw(st.sampled_from(pos_tags)))})"
    if kind == "not_has":
        return f"not has({_q(draw(st.sampled_from(neg_tags)))})"
    if kind == "tag_in":
        return f"{_q(draw(st.sampled_from(PROGRAM_TAGS)))} {draw(st.sampled_from(['in', 'not in']))} program.tags"
    if kind == "any":
        return draw(st.sampled_from(["any(applicant.ties, item.region == program.region)", "all(applicant.usce, item.letter)"]))
    if kind == "not":
        # under `not` a has() reads its tag negatively, and `not has()` positively
        return f"not ({draw(condition(stage, neg_tags, pos_tags, depth + 1, estimates, chosen))})"
    parts = draw(st.lists(condition(stage, pos_tags, neg_tags, depth + 1, estimates, chosen), min_size=2, max_size=3))
    return f" {kind} ".join(f"({p})" for p in parts)


def _within_limit(clause: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # nested and/or of long comparisons can pass Limits.max_expression_chars (2,000), which the
    # loader rightly refuses; the rule sets this test draws are meant to load
    return clause.filter(lambda c: len(c) <= DEFAULT_LIMITS.max_expression_length)


@st.composite
def rule_set(draw: st.DrawFn) -> str:
    """A rule set in every stage whose negation is stratified by construction.

    A stage's rules come in two layers with their own tags. Layer-1 rules read their own
    layer's tags positively only (cycles of positive reads are fine); layer-2 rules may also
    read layer-1 tags negatively. Tags of earlier stages are read either way. No cycle can pass
    through a negative read, so every generated rule set loads.
    """
    out = [
        "[ruleset]",
        'name = "gen"',
        'version = "1"',
        "[chance]",
        f"base = {draw(st.sampled_from([0.05, 0.2, 0.5]))}",
        "[[estimate]]",
        'name = "screen"',
        "start = 225",
        "[[group]]",
        'name = "academic"',
        "programs = \"program.program_type == 'university' or 'academic_flagship' in program.tags\"",
        "[[group]]",
        'name = "away"',
        "programs = \"program.region == 'out_of_state'\"",
    ]
    vocabulary = {"profile": (["pa", "pb"], ["pc", "pd"]), "program": (["ga", "gb"], ["gc", "gd"]), "list": (["la"], ["lb"])}
    counts = {"profile": draw(st.integers(1, 4)), "program": draw(st.integers(1, 9)), "list": draw(st.integers(0, 3))}
    breadth_used = False
    profile_tags: list[str] = []  # tags profile rules set: readable in the later stages
    for stage in ("profile", "program", "list"):
        earlier = profile_tags if stage != "profile" else []
        n = counts[stage]
        layer_of = [0 if k < (n + 1) // 2 else 1 for k in range(n)]
        plan = [draw(st.lists(st.sampled_from(vocabulary[stage][layer_of[k]]), max_size=2, unique=True)) for k in range(n)]
        set_in = [sorted({t for k in range(n) if layer_of[k] == layer for t in plan[k]}) for layer in (0, 1)]
        if stage == "profile":
            profile_tags = sorted(set(set_in[0]) | set(set_in[1]))
        for k, my_tags in enumerate(plan):
            if layer_of[k] == 0:
                pos, neg = [*earlier, *set_in[0]], list(earlier)
            else:
                pos, neg = [*earlier, *set_in[0], *set_in[1]], [*earlier, *set_in[0]]
            clauses = draw(st.lists(_within_limit(condition(stage, pos, neg, 0, stage == "program")), min_size=1, max_size=3))
            effects: list[str] = []
            if my_tags:
                effects.append("tag = [" + ", ".join(_q(t) for t in my_tags) + "]")
            if stage != "list" and draw(st.booleans()):
                effects.append(draw(st.sampled_from(ODDS[stage])))
            if stage != "list" and draw(st.integers(0, 4)) == 0:
                effects.append(draw(st.sampled_from(CAPS[stage])))
            if stage != "list" and draw(st.integers(0, 4)) == 0:
                effects.append(f"tier_at_most = {_q(draw(st.sampled_from(['reach', 'target', 'likely'])))}")
            if stage == "program":
                if draw(st.booleans()):
                    effects.append(f"priority = {draw(st.sampled_from([-2, 1, 10]))}")
                if draw(st.integers(0, 4)) == 0:
                    effects.append('exclude = "excluded: {program.id} {program.img_share}"')
            if stage == "profile" and draw(st.booleans()):
                value = draw(st.sampled_from(["1", "true", '"x"']))
                effects.append(f"set = {{ d{k} = {value} }}")
            if stage == "list":
                if not breadth_used and draw(st.booleans()):
                    breadth_used = True
                    effects.append('breadth = { min = "min(list.size, 5)", max = "list.size + 2" }')
                elif draw(st.booleans()):
                    effects.append(draw(st.sampled_from(LIST_BOUNDS)))
            if draw(st.integers(0, 3)) == 0:
                effects.append('advice = "advice ' + f"{stage}{k}" + '"')
            if not effects:
                effects.append('advice = "fired"' if stage == "list" else "odds = 1.5")
            out += [
                "",
                "[[rule]]",
                f'id = "gen.{stage}.r{k}"',
                f'stage = "{stage}"',
                f"salience = {100 + k}",  # distinct saliences: `set` targets never conflict
                "when = [" + ", ".join("'" + c + "'" for c in clauses) + "]",
                "then = { " + ", ".join(effects) + " }",
            ]
        if stage == "program":
            # the estimate's rules: they read the applicant, the program and profile tags only
            for k in range(draw(st.integers(0, 2))):
                when = draw(_within_limit(condition("program", list(profile_tags), list(profile_tags))))
                amount = draw(st.sampled_from(["3", "-4.5", "program.positions * 0.5", "2 if program.usce_required else -1"]))
                out += ["", "[[rule]]", f'id = "gen.estimate.e{k}"', 'stage = "program"', f"when = '{when}'", f'then = {{ estimate = {{ screen = "{amount}" }} }}']
        if stage == "list" and draw(st.booleans()):
            # a review rule: reads the chosen list, advises
            when = draw(_within_limit(condition("list", list(profile_tags), list(profile_tags), 0, False, True)))
            out += [
                "",
                "[[rule]]",
                'id = "gen.list.review"',
                'stage = "list"',
                f"when = '{when}'",
                'then = { advice = "{list.chosen_count} chosen, {list.expected_interviews} expected" }',
            ]
    return "\n".join(out) + "\n"


ODDS = {
    "profile": ["odds = 0.5", "odds = 2", "odds = 1.25", "odds = \"1.5 if applicant.leadership_roles > 1 else 0.8\""],
    "program": [
        "odds = 0.25",
        "odds = 7",
        "odds = \"exp((applicant.step2_ck.score - estimate.screen) / 10) if known(applicant.step2_ck.score) else 0.9\"",
        "odds = \"1 + program.positions / 4\"",
    ],
}
CAPS = {
    "profile": ["chance_cap = 0.3", "chance_cap = \"0.2 if applicant.visa == 'h1b' else 0.6\""],
    "program": ["chance_cap = 0.1", "chance_cap = \"min(0.9, 0.05 + program.positions / 20)\""],
}
LIST_BOUNDS = [
    "at_most = { academic = 2 }",
    "at_least = { away = \"min(list.size, 2)\" }",
    "set = { interview_target = 1.5 }",
    "at_most = { away = 1 }, at_least = { academic = 1 }",
]


@st.composite
def profile(draw: st.DrawFn) -> dict[str, Any]:
    def exam() -> dict[str, Any] | None:
        if draw(st.integers(0, 3)) == 0:
            return None
        return {
            "score": draw(st.sampled_from([None, 200, 215, 225, 240, 260])),
            "passed": draw(st.booleans()),
            "attempts": draw(st.integers(1, 3)),
        }

    data: dict[str, Any] = {
        "graduation_year": draw(st.sampled_from([2008, 2015, 2020, 2024])),
        "applicant_type": draw(st.sampled_from(["non_us_img", "us_md"])),
        "visa": draw(st.sampled_from(["none", "j1", "h1b"])),
        "leadership_roles": draw(st.integers(0, 3)),
        "languages": draw(st.lists(st.sampled_from(["English", "Spanish"]), max_size=2, unique=True)),
        "usce": [
            {"kind": "hands_on", "months": draw(st.sampled_from([0.5, 1, 3])), "letter": draw(st.booleans())}
            for _ in range(draw(st.integers(0, 2)))
        ],
        "ties": [{"kind": "lived", "region": draw(st.sampled_from(REGIONS))} for _ in range(draw(st.integers(0, 2)))],
        "research": {"publications": draw(st.integers(0, 3))},
        "history": {"applied_before": draw(st.booleans())},
        "preferences": {
            "application_budget": draw(st.sampled_from([None, 0, 80])),
            "long_term_la_plan": draw(st.booleans()),
        },
    }
    for name in ("step1", "step2_ck"):
        e = exam()
        if e is not None:
            data[name] = e
    return data


@st.composite
def catalog(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 12))
    programs = []
    for i in range(n):
        p: dict[str, Any] = {
            "id": f"p{i}",
            "name": f"Program {i}",
            "specialty": draw(st.sampled_from(SPECIALTIES)),
            "state": draw(st.sampled_from(STATES)),
            "region": draw(st.sampled_from(REGIONS)),
            "program_type": draw(st.sampled_from(TYPES)),
            "positions": draw(st.integers(0, 12)),
            "sponsors_j1": draw(st.booleans()),
            "sponsors_h1b": draw(st.booleans()),
            "usce_required": draw(st.booleans()),
            "tags": draw(st.lists(st.sampled_from(PROGRAM_TAGS), max_size=2, unique=True)),
        }
        optional = {
            "min_step1": st.sampled_from([200, 220, 240]),
            "min_step2_ck": st.sampled_from([210, 225, 250]),
            "max_attempts": st.integers(0, 3),
            "max_years_since_graduation": st.sampled_from([0, 3, 10]),
            "img_share": st.sampled_from([0.0, 1e-05, 0.3, 0.5, 1.0]),
        }
        for name, strategy in optional.items():
            if draw(st.booleans()):
                p[name] = draw(strategy)
        programs.append(p)
    return programs


@pytest.fixture(scope="module")
def worker() -> Iterator[DurableWorker]:
    w = DurableWorker()
    yield w
    w.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(rules=rule_set(), profiles=st.lists(profile(), min_size=1, max_size=3), programs=catalog())
def test_engines_agree(worker: DurableWorker, rules: str, profiles: list[dict[str, Any]], programs: list[dict[str, Any]]) -> None:
    load_rules_from_text([("gen.toml", rules)])  # every generated rule set is valid
    job = {
        "rules": {"texts": [["gen.toml", rules]]},
        "profiles": [{"data": p} for p in profiles],
        "catalogs": [{"data": programs}],
    }
    assert_same_results(job, worker.evaluate(job))
