"""Property-based fuzzing of every untrusted input: rule files, expressions, profiles, catalogs.

The one property: an input either gives a result or raises a ``SmartpickError`` subclass (for
the bare expression parser, its ``ExpressionError``). Any other exception fails the test, and
so does an example that runs for more than the deadline (a hang). Whatever loads is evaluated
and serialised, so the evaluator sees what the loaders let through.

The budget is bounded for CI (the whole module runs in well under a minute on two shared
cores). ``SMARTPICK_FUZZ_SCALE=20`` multiplies every example count for a longer run.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smartpick_rules as sr
from fixtures import PROGRAM
from smartpick_rules.analysis.check import check_expression
from smartpick_rules.language.expr import ExpressionError, parse_expression
from smartpick_rules.ruleset.load import load_rules_from_text

# Python's own parser warns about text like `1and`; parse_expression lets that warning through
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::SyntaxWarning")]

SCALE = float(os.environ.get("SMARTPICK_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> Any:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=timedelta(seconds=10),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        derandomize=SCALE == 1,  # CI: the same examples every run; long runs explore
        database=None,
    )


# -- fixed facts the loaded rule sets run against -------------------------------------------

PROFILE = sr.profile_from_data(
    {
        "graduation_year": 2017,
        "step1": {"score": 205, "attempts": 2},
        "step2_ck": {"score": 226},
        "visa": "j1",
        "languages": ["English", "Spanish"],
        "usce": [{"kind": "hands_on", "months": 3, "region": "la_county"}, {"kind": "observership", "months": 0}],
        "ties": [{"kind": "lived", "region": "la_county", "years": 2}],
        "preferences": {"application_budget": 40, "regions": ["la_county"]},
    }
)
PROGRAM_BASE = PROGRAM
CATALOG = sr.catalog_from_data(
    [
        {**PROGRAM_BASE, "id": "a", "min_step2_ck": 230, "img_share": 0.4, "tags": ["x"], "sponsors_j1": True},
        {**PROGRAM_BASE, "id": "b", "region": "kern", "positions": 0, "max_attempts": 1},
        {**PROGRAM_BASE, "id": "c", "region": "out_of_state", "program_type": "university", "min_step1": 300},
        {**PROGRAM_BASE, "id": "d", "region": "orange_county", "max_years_since_graduation": 0, "positions": 40},
    ]
)


def evaluate_or_refuse(rules: sr.RuleSet | None, profile: Any = PROFILE, catalog: Any = CATALOG) -> None:
    """Evaluate and serialise; a SmartpickError is an accepted outcome, anything else propagates."""
    try:
        rec = sr.evaluate(profile, catalog, rules, as_of=2026)
    except sr.SmartpickError:
        return
    text = rec.to_json()
    assert json.loads(text)["schema_version"] == 4
    for r in list(rec.programs)[:3]:
        rec.why_not(r.program.id)
        rec.explain(r.program.id)


def load_or_refuse(text: str) -> sr.RuleSet | None:
    try:
        return load_rules_from_text([("fuzz.toml", text)])
    except sr.RulesetError as exc:
        assert exc.diagnostics, "a RulesetError must carry diagnostics"
        return None


# -- a tiny TOML writer for the shapes generated here ----------------------------------------


def toml_value(v: Any) -> str:
    if v is None:
        return "{}"  # TOML has no null; an empty table is as wrong a value
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are TOML basic-string escapes
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_tables(name: str, rows: list[dict[str, Any]], array: bool = True) -> str:
    out = []
    for row in rows:
        out.append(f"[[{name}]]" if array else f"[{name}]")
        out.extend(f"{json.dumps(k)} = {toml_value(v)}" for k, v in row.items())
        out.append("")
    return "\n".join(out)


# -- expressions built from the language ---------------------------------------------------

NUMERIC = {
    "profile": ["applicant.step2_ck.score", "applicant.step1.attempts", "applicant.graduation_year",
                "applicant.research.publications", "applicant.leadership_roles", "len(applicant.languages)",
                "count(applicant.usce)", "total(applicant.usce, item.months)", "years_since(applicant.graduation_year)",
                "count(applicant.usce, item.months >= 1)"],
    "program": ["program.min_step2_ck", "program.min_step1", "program.positions", "program.img_share",
                "program.max_attempts", "program.max_years_since_graduation", "applicant.step2_ck.score",
                "count(program.tags)", "years_since(applicant.graduation_year)"],
    "list": ["list.size", "list.excluded_count", "list.likely_count", "list.reach_count", "list.la_county_count",
             "count(list.programs, item.chance > 0.05)", "total(list.programs, item.priority)", "applicant.step2_ck.score",
             "list.eligible_interviews", "total(list.programs, item.chance, 'x' in item.program_tags)",
             "list.chosen_count", "list.expected_interviews", "list.interview_target"],
}
ENUMS = {
    "profile": [("applicant.visa", ["j1", "h1b", "none", "x"]), ("applicant.applicant_type", ["us_img", "non_us_img"])],
    "program": [("program.region", ["la_county", "kern", "la_conty"]), ("program.program_type", ["community", "university"])],
    "list": [("applicant.visa", ["j1", "none"])],
}
OPTIONAL = {
    "profile": ["applicant.step2_ck.score", "applicant.step1.score", "applicant.step3"],
    "program": ["program.min_step2_ck", "program.img_share", "program.max_attempts"],
    "list": ["applicant.step2_ck.score"],
}
TAGS = ["t_a", "t_b", "low"]
NUMBERS = st.one_of(
    st.integers(-5, 400),
    st.integers(0, 3),
    st.sampled_from([0, 1, 0.5, -0.0, 230, 10**15, 10**15 + 1, -(10**15), 1e308, 1e-308]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
)


def number_text(x: float) -> str:
    return repr(x)


@st.composite
def numeric_expr(draw: st.DrawFn, stage: str, depth: int = 0) -> str:
    choice = draw(st.integers(0, 5 if depth < 3 else 1))
    if choice == 0:
        return draw(st.sampled_from(NUMERIC[stage]))
    if choice == 1:
        return number_text(draw(NUMBERS))
    if choice in (2, 3):
        op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
        return f"({draw(numeric_expr(stage, depth + 1))} {op} {draw(numeric_expr(stage, depth + 1))})"
    if choice == 4:
        fn = draw(st.sampled_from(["min", "max"]))
        args = draw(st.lists(numeric_expr(stage, depth + 1), min_size=2 if draw(st.integers(0, 9)) else 1, max_size=3))
        return f"{fn}({', '.join(args)})"
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return f"({draw(numeric_expr(stage, depth + 1))} if {draw(bool_expr(stage, depth + 1))} else {draw(numeric_expr(stage, depth + 1))})"
    if kind == 1:
        return f"exp({draw(numeric_expr(stage, depth + 1))})"
    if kind == 2 and stage == "program":
        return "estimate.screen"
    return f"abs({draw(numeric_expr(stage, depth + 1))})"


@st.composite
def bool_expr(draw: st.DrawFn, stage: str, depth: int = 0) -> str:
    choice = draw(st.integers(0, 7 if depth < 3 else 4))
    if choice == 0:
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"{draw(numeric_expr(stage))} {op} {draw(numeric_expr(stage))}"
    if choice == 1:
        path, values = draw(st.sampled_from(ENUMS[stage]))
        if draw(st.booleans()):
            return f"{path} {draw(st.sampled_from(['==', '!=']))} {json.dumps(draw(st.sampled_from(values)))}"
        return f"{path} in {json.dumps(draw(st.lists(st.sampled_from(values), max_size=3)))}"
    if choice == 2:
        return f"has({json.dumps(draw(st.sampled_from(TAGS)))})"
    if choice == 3:
        return f"known({draw(st.sampled_from(OPTIONAL[stage]))})"
    if choice == 4:
        return draw(st.sampled_from(["true", "false", '"spanish" in applicant.languages']))
    if choice == 5:
        return f"not ({draw(bool_expr(stage, depth + 1))})"
    op = draw(st.sampled_from([" and ", " or "]))
    parts = draw(st.lists(bool_expr(stage, depth + 1), min_size=2, max_size=3))
    return op.join(f"({p})" for p in parts)


def rare(draw: st.DrawFn) -> bool:
    """About one draw in twenty, for the wrong values a rule file is refused for."""
    return draw(st.integers(0, 19)) == 13


@st.composite
def effect(draw: st.DrawFn, stage: str) -> dict[str, Any]:
    eff: dict[str, Any] = {}
    if draw(st.booleans()):
        eff["tag"] = draw(st.sampled_from(TAGS)) if draw(st.booleans()) else draw(st.lists(st.sampled_from(TAGS), max_size=2))
    # hypothesis draws 0 far more often than 1 in n: a wrong value is drawn on another number
    if stage in ("profile", "program") and draw(st.booleans()):
        if rare(draw):
            eff["odds"] = draw(st.sampled_from([-1, 0, 1e7, -1e6, 1e-300]))
        else:
            eff["odds"] = draw(st.one_of(st.integers(1, 50), st.sampled_from([0.1, 0.5, 2.5]), numeric_expr(stage)))
    if stage != "list" and draw(st.integers(0, 4)) == 0:
        bad = st.sampled_from([0, 1.5, -1]) if rare(draw) else st.sampled_from([0.05, 0.5, 1])
        eff["chance_cap"] = draw(st.one_of(bad, numeric_expr(stage)))
    if draw(st.integers(0, 5)) == 0:
        eff["tier_at_most"] = "top" if rare(draw) else draw(st.sampled_from(["reach", "target", "likely"]))
    if rare(draw):
        eff["score"] = 1  # the score model's effect: refused, with what replaced it
    if stage == "program" and draw(st.integers(0, 5)) == 0:
        eff = {"estimate": {"scren" if rare(draw) else "screen": draw(st.one_of(st.integers(-10, 10), numeric_expr("program")))}}
        return eff
    if stage == "program":
        if draw(st.booleans()):
            eff["priority"] = draw(st.integers(-100, 100))
        if draw(st.integers(0, 3)) == 0:
            eff["exclude"] = draw(
                st.sampled_from(["out", "below {program.min_step2_ck}", "{program.name} {{x}}", "{program.__class__}", "{x"])
            )
        if rare(draw):
            eff["set"] = {"tier": "reach"}  # nothing to set in the program stage: refused
    if stage == "profile" and draw(st.integers(0, 4)) == 0:
        eff["set"] = {draw(st.sampled_from(["band", "level"])): draw(st.one_of(st.integers(0, 9), st.text(max_size=3)))}
    if stage == "list" and draw(st.booleans()):
        eff["breadth"] = {
            "min": draw(st.one_of(st.integers(0, 50), numeric_expr("list"))),
            "max": draw(st.one_of(st.integers(0, 200), numeric_expr("list"))),
        }
    if stage == "list" and draw(st.integers(0, 3)) == 0:
        eff["set"] = {"interview_target": -2 if rare(draw) else draw(st.sampled_from([0.5, 3, 8, 1e9]))}
    if stage == "list" and draw(st.integers(0, 3)) == 0:
        bound = draw(st.one_of(st.integers(0, 20), numeric_expr("list")))
        group = "nope" if rare(draw) else draw(st.sampled_from(["academic", "away"]))
        eff[draw(st.sampled_from(["at_most", "at_least"]))] = {group: bound}
    if draw(st.integers(0, 3)) == 0:
        eff["advice"] = draw(st.sampled_from(["do {applicant.step2_ck.score}", "plain", "{list.size}" if stage == "list" else "é"]))
    return eff or {"tag": draw(st.sampled_from(TAGS))}


@st.composite
def rule(draw: st.DrawFn, index: int) -> dict[str, Any]:
    stage = draw(st.sampled_from(["profile", "program", "list"]))
    when: Any = draw(bool_expr(stage))
    if draw(st.integers(0, 3)) == 0:
        when = [when, draw(bool_expr(stage))]
    r: dict[str, Any] = {"id": f"f.r{index}", "stage": stage, "when": when, "then": draw(effect(stage))}
    if draw(st.booleans()):
        r["salience"] = draw(st.integers(-10, 10))
    if draw(st.integers(0, 3)) == 0:
        own = {"profile": "{applicant.step1.score}", "program": "{program.min_step2_ck} {program.tags}", "list": "{list.size}"}
        r["explain"] = draw(st.sampled_from([own[stage], own[stage], "{list.size}", "x"]))
    return r


@st.composite
def rule_file(draw: st.DrawFn) -> str:
    header: dict[str, Any] = {"name": draw(st.sampled_from(["f"] * 8 + ["fuzz-set.2", "bad name"])), "version": "1"}
    if draw(st.integers(0, 9)) == 0:
        header["requires"] = [draw(st.sampled_from(["f", "other"]))]
    n = draw(st.integers(0, 6))
    rules = [draw(rule(i)) for i in range(n)]
    if rules and draw(st.integers(0, 12)) == 0:
        rules.append(dict(rules[0]))  # duplicate id
    text = toml_tables("ruleset", [header], array=False)
    if draw(st.integers(0, 4)) == 0:
        floor, target, likely, ceiling = sorted(draw(st.lists(st.floats(0.001, 0.999), min_size=4, max_size=4)))
        chance = {"floor": floor, "base": draw(st.floats(floor, ceiling)), "target": target, "likely": likely, "ceiling": ceiling}
        chance = {k: v for k, v in chance.items() if draw(st.booleans())}
        if rare(draw):
            chance[draw(st.sampled_from(["base", "likely", "bsae"]))] = draw(st.sampled_from([0, 1, -0.5, 2]))
        text += toml_tables("chance", [chance], array=False)
    if rare(draw):
        text += toml_tables("scoring", [{"base": 50}], array=False)  # the score model's table: refused
    if draw(st.booleans()):
        text += toml_tables("estimate", [{"name": "screen", "start": 1e9 if rare(draw) else draw(st.sampled_from([228, 0, -5]))}])
    if draw(st.booleans()):
        groups = [{"name": "academic", "programs": "program.program_type == 'university'"}]
        groups.append({"name": "away", "programs": "program.positions" if rare(draw) else draw(bool_expr("program"))})
        text += toml_tables("group", groups)
    if draw(st.integers(0, 3)) == 0:
        changes = [["scor = 1"], [], ["languages += x = y"]] if rare(draw) else [["step2_ck.score = 240"], ["languages += x"]]
        lever = {"id": "f.lever", "title": "T", "set": draw(st.sampled_from(changes))}
        if draw(st.booleans()):
            lever["kind"] = "other" if rare(draw) else draw(st.sampled_from(["widen", "strengthen"]))
        if draw(st.booleans()):
            lever["when"] = draw(bool_expr("profile"))
        text += toml_tables("lever", [lever])
    return text + toml_tables("rule", rules)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    text = draw(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 5))
        pos = draw(st.integers(0, max(len(text), 0)))
        if kind == 0:
            end = draw(st.integers(pos, min(len(text), pos + 20)))
            text = text[:pos] + text[end:]
        elif kind == 1:
            text = text[:pos] + draw(st.text(max_size=8)) + text[pos:]
        elif kind == 2:
            text = text[:pos] + draw(st.sampled_from(["[", "]", "{", "}", '"', "'''", "\n", "=", "[[rule]]\n", "\x00", "\ufeff"])) + text[pos:]
        elif kind == 3:
            lines = text.splitlines()
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines.insert(i, lines[draw(st.integers(0, len(lines) - 1))])
                text = "\n".join(lines)
        elif kind == 4:
            text = text[:pos]
        else:
            text = text.replace(draw(st.sampled_from(["program", "profile", "list", "true", "=", "odds", "has", "estimate", "academic"])),
                                draw(st.sampled_from(["", "x", "__class__", "program", "list", "1e999"])), 1)
    return text


# -- rule files ------------------------------------------------------------------------------


@fuzz_settings(240)
@given(rule_file())
def test_generated_rule_files_load_or_are_refused(text: str) -> None:
    rules = load_or_refuse(text)
    if rules is not None:
        evaluate_or_refuse(rules)


@fuzz_settings(300)
@given(mutated(rule_file()))
def test_mutated_rule_files_load_or_are_refused(text: str) -> None:
    rules = load_or_refuse(text)
    if rules is not None:
        evaluate_or_refuse(rules)


@fuzz_settings(200)
@given(st.text(max_size=300))
def test_garbage_rule_files_are_refused(text: str) -> None:
    rules = load_or_refuse(text)
    if rules is not None:
        evaluate_or_refuse(rules)


# -- expressions -----------------------------------------------------------------------------

TOKENS = ["applicant", "program", "list", "item", "derived", ".", "step2_ck", "score", "region", "(", ")", "[", "]",
          ",", " and ", " or ", " not ", " in ", "<", "==", "+", "*", "/", "%", "-", "**", "1", "0", "1e999", "'x'",
          '"la_county"', "has", "count", "known", "min", "__class__", "_x", "lambda", ":", "if", "else", " ",
          "\n", "\t", "\x00", "é", "🙂", "\u202e", "true", "none", "len", "years_since", "=", "!", "@", "~", "{", "}",
          "exp", "estimate", " if ", " else "]
token_exprs = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)


@fuzz_settings(800)
@given(st.one_of(token_exprs, st.text(max_size=80)))
def test_expression_parser_and_checker_refuse_or_accept(text: str) -> None:
    try:
        e = parse_expression(text)
    except ExpressionError as exc:
        assert exc.diagnostic.code in ("parse_error", "limit_exceeded", "unknown_field")
        return
    for stage in ("profile", "program", "list"):
        check_expression(e, stage)


@fuzz_settings(300)
@given(st.sampled_from(["profile", "program", "list"]).flatmap(lambda s: st.tuples(st.just(s), st.one_of(bool_expr(s), token_exprs))))
def test_any_condition_in_a_rule_loads_and_runs_or_is_refused(case: tuple[str, str]) -> None:
    stage, when = case
    then = {"tag": "hit"} if stage != "program" else {"tag": "hit", "odds": 2, "priority": 1}
    text = toml_tables("ruleset", [{"name": "f"}], array=False) + toml_tables(
        "rule", [{"id": "f.x", "stage": stage, "when": when, "then": then, "explain": "{applicant.step2_ck.score}"}]
    )
    rules = load_or_refuse(text)
    if rules is not None:
        evaluate_or_refuse(rules)


# -- profiles --------------------------------------------------------------------------------

NASTY = st.one_of(
    st.sampled_from([
        math.nan, math.inf, -math.inf, -1, -(10**20), 10**20, 10**12, 10**13, 1e308, -0.0, 0, "", "\x00", "\ufeff",
        "é\u202e", "230", "true", True, False, None, [], {}, [None], {"score": 1}, "la_county", 2**63, 1.5,
    ]),
    st.text(max_size=12),
    st.integers(),
    st.floats(),
)

PROFILE_DATA: dict[str, Any] = {
    "graduation_year": 2018,
    "step1": {"score": 210, "attempts": 1, "passed": True},
    "step2_ck": {"score": 224},
    "visa": "j1",
    "languages": ["English"],
    "usce": [{"kind": "hands_on", "months": 3, "region": "la_county", "end_year": 2024}],
    "letters": [{"specialty": "internal_medicine", "us": True}],
    "ties": [{"kind": "family", "region": "la_county", "years": 1}],
    "research": {"publications": 1},
    "community_work": [{"kind": "community_clinic", "months": 2}],
    "preferences": {"specialties": ["internal_medicine"], "application_budget": 60},
    "history": {"cycles": 1},
}


def leaf_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        out = [prefix] if prefix else []
        for k, v in data.items():
            out.extend(leaf_paths(v, (*prefix, k)))
        return out
    if isinstance(data, list):
        out = [prefix]
        for i, v in enumerate(data):
            out.extend(leaf_paths(v, (*prefix, i)))
        return out
    return [prefix]


def replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = replaced(data[path[0]], path[1:], value)
    return copy


def deleted(data: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k != path[0]}
        return [v for i, v in enumerate(data) if i != path[0]]
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = deleted(data[path[0]], path[1:])
    return copy


@st.composite
def perturbed(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with 1-3 changes: a value replaced by a nasty one, a key or item dropped, a key added."""
    data = base
    for _ in range(draw(st.integers(1, 3))):
        paths = leaf_paths(data)
        path = draw(st.sampled_from(paths)) if paths else ()
        action = draw(st.integers(0, 5))
        if action == 0 and path:
            data = deleted(data, path)
        elif action == 1 and isinstance(data, dict):
            data = {**data, draw(st.sampled_from(["unknown", "score", "__class__", "graduation_yr"])): draw(NASTY)}
        else:
            data = replaced(data, path, draw(NASTY))
    return data


@fuzz_settings(500)
@given(perturbed(PROFILE_DATA))
def test_profiles_with_wrong_values_evaluate_or_are_refused(data: Any) -> None:
    try:
        prof = sr.profile_from_data(data)
    except sr.InputError as exc:
        assert exc.diagnostics
        return
    evaluate_or_refuse(None, prof)


TMP = Path(tempfile.mkdtemp(prefix="smartpick-test-fuzz-"))


@fuzz_settings(240)
@given(perturbed(PROFILE_DATA), st.sampled_from(["json", "toml"]), st.booleans())
def test_profile_files_load_or_are_refused(data: Any, fmt: str, bom: bool) -> None:
    if fmt == "json":
        text = json.dumps(data)  # NaN and Infinity come out as JSON's non-standard literals
    else:
        if not isinstance(data, dict):
            return
        tables = {k: v for k, v in data.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
        text = "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in data.items() if k not in tables and v is not None)
        text += "".join(toml_tables(k, v) for k, v in tables.items())
    path = TMP / f"profile.{fmt}"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8", errors="surrogatepass"))
    try:
        prof = sr.load_profile(path)
    except sr.InputError:
        return
    evaluate_or_refuse(None, prof)


# -- catalogs --------------------------------------------------------------------------------

FIELDS = ["id", "name", "specialty", "state", "region", "program_type", "city", "positions", "min_step1",
          "min_step2_ck", "max_attempts", "max_years_since_graduation", "sponsors_j1", "sponsors_h1b", "img_share",
          "usce_required", "tags"]
GOOD_CELL = {
    "id": st.sampled_from(["a", "b", "c", "d", "x y", "é"]),
    "name": st.text(max_size=6),
    "specialty": st.sampled_from(["internal_medicine", "pediatrics", "dermatology"]),
    "state": st.sampled_from(["CA", "NV", ""]),
    "region": st.sampled_from(["la_county", "kern", "out_of_state"]),
    "program_type": st.sampled_from(["community", "university"]),
    "city": st.text(max_size=5),
    "positions": st.integers(0, 50).map(str),
    "min_step1": st.sampled_from(["", "200", "230", "250"]),
    "min_step2_ck": st.sampled_from(["", "210", "230", "245.0"]),
    "max_attempts": st.sampled_from(["", "1", "2"]),
    "max_years_since_graduation": st.sampled_from(["", "3", "5"]),
    "sponsors_j1": st.sampled_from(["true", "false", "yes", ""]),
    "sponsors_h1b": st.sampled_from(["true", "false", "no", "0"]),
    "img_share": st.sampled_from(["", "0", "0.35", "1"]),
    "usce_required": st.sampled_from(["true", "false"]),
    "tags": st.sampled_from(["", "x", "x;y", "academic_flagship;spanish_speaking_population"]),
}
NASTY_CELL = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e400", "-1", "-0", "1e12", "99999999999999999999", "0x10", "1_000",
                     " 230 ", "230.5", "", " ", "\x00", "\ufeff", "é", "\u202e", "\r", "\n", '"', "TRUE", "None",
                     "la_conty", "1e-400", "٣", "²"]),
    st.text(max_size=8),
)


@st.composite
def csv_catalog(draw: st.DrawFn) -> str:
    header = list(FIELDS)
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.integers(0, 2))
        if kind == 0 and header:
            header.remove(draw(st.sampled_from(header)))
        elif kind == 1:
            header.append(draw(st.sampled_from([*FIELDS, "unknown", "Region", ""])))
        else:
            header = [h.upper() if draw(st.integers(0, 9)) == 0 else h for h in header]
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        row = []
        for h in header:
            cell = draw(NASTY_CELL) if draw(st.integers(0, 6)) == 0 else draw(GOOD_CELL.get(h, st.text(max_size=4)))
            row.append(cell)
        if draw(st.integers(0, 12)) == 0:
            row = row[:-1] if draw(st.booleans()) else [*row, "extra"]
        rows.append(row)
    buf = io.StringIO()
    csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows([header, *rows])
    text = buf.getvalue()
    if draw(st.integers(0, 8)) == 0:
        text = text.replace(",", draw(st.sampled_from([";", '"', ",,"])), draw(st.integers(1, 3)))
    return text


@fuzz_settings(500)
@given(csv_catalog(), st.sampled_from(["", "\ufeff", "\ufeff\ufeff"]))
def test_csv_catalogs_load_or_are_refused(text: str, bom: str) -> None:
    path = TMP / "catalog.csv"
    path.write_bytes((bom + text).encode("utf-8", errors="surrogatepass"))
    try:
        cat = sr.load_catalog(path)
    except sr.InputError as exc:
        assert exc.diagnostics
        return
    assert len({p.id for p in cat}) == len(cat), "duplicate ids must be refused"
    evaluate_or_refuse(None, catalog=cat)


PROGRAM_DATA: dict[str, Any] = {**PROGRAM_BASE, "id": "a", "positions": 4, "min_step2_ck": 230, "img_share": 0.2, "tags": ["x"]}


@st.composite
def program_lists(draw: st.DrawFn) -> Any:
    programs = []
    for i in range(draw(st.integers(0, 5))):
        p = draw(perturbed({**PROGRAM_DATA, "id": draw(st.sampled_from(["a", "b", "c", f"p{i}"]))}))
        programs.append(p)
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return programs
    if shape == 1:
        return {"programs": programs}
    if shape == 2:
        return {"program": programs, draw(st.sampled_from(["catalog", "$schema", "extra"])): "x"}
    return draw(NASTY)


@fuzz_settings(500)
@given(program_lists(), st.sampled_from(["json", "toml", "data"]))
def test_json_and_toml_catalogs_load_or_are_refused(data: Any, fmt: str) -> None:
    try:
        if fmt == "data":
            cat = sr.catalog_from_data(data)
        else:
            if fmt == "json":
                text = json.dumps(data)
            elif isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
                text = "".join(toml_tables(k, [x for x in v if isinstance(x, dict)]) for k, v in data.items())
            else:
                text = toml_tables("program", [x for x in data if isinstance(x, dict)]) if isinstance(data, list) else "x = 1"
            path = TMP / f"catalog.{fmt}"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            cat = sr.load_catalog(path)
    except sr.InputError as exc:
        assert exc.diagnostics
        return
    evaluate_or_refuse(None, catalog=cat)


@pytest.fixture(scope="module", autouse=True)
def _shipped_rules_loaded_once() -> None:
    """Evaluations with rules=None use the shipped rule sets; load them before the clock starts."""
    sr.evaluate(PROFILE, CATALOG, None, as_of=2026)
