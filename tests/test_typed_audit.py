"""Audit entries carry what their rule did as typed fields, and every reader uses those fields.

``effect`` stays the human text; exclusions, tier ceilings, priorities, tags, advice, set values,
estimates and list bounds are fields of their own (schema_version 3), written to JSON only when
the rule has that effect, and ``movement()``, the reports and ``explain`` read them rather than
the prose.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import attrs
import pytest

import smartpick_rules as sr
from smartpick_rules.results.recommendation import AuditEntry
from smartpick_rules.ruleset.load import load_rules_from_text

ROOT = Path(__file__).resolve().parent.parent

RULES = '''
[ruleset]
name = "typed"
version = "1"
[chance]
base = 0.2
[[estimate]]
name = "screen"
start = 220
[[group]]
name = "academic"
programs = "program.program_type == 'university'"
[[rule]]
id = "typed.low"
stage = "profile"
when = "applicant.step2_ck.score < 230"
then = { tag = "low", odds = 0.5, set = { band = "low", weight = 2 }, advice = "Retake nothing: {applicant.step2_ck.score} stands" }
[[rule]]
id = "typed.ceiling"
stage = "profile"
when = "has('low')"
then = { tier_at_most = "target", chance_cap = 0.6 }
[[rule]]
id = "typed.min"
stage = "program"
salience = 100
when = ["known(program.min_step2_ck)", "applicant.step2_ck.score < program.min_step2_ck"]
then = { exclude = "below the minimum of {program.min_step2_ck}" }
[[rule]]
id = "typed.univ_screen"
stage = "program"
when = "program.program_type == 'university'"
then = { estimate = { screen = 6 } }
[[rule]]
id = "typed.la"
stage = "program"
when = "program.region == 'la_county'"
then = { priority = 40, tag = ["la", "near"], advice = "Apply early to {program.name}" }
[[rule]]
id = "typed.vs_screen"
stage = "program"
when = "known(applicant.step2_ck.score)"
then = { odds = "exp((applicant.step2_ck.score - estimate.screen) / 10)", tier_at_most = "likely" }
[[rule]]
id = "typed.breadth"
stage = "list"
when = "true"
then = { breadth = { min = 2, max = "list.size" }, at_most = { academic = 1 }, at_least = { academic = 1 }, set = { interview_target = 3 } }
'''

CATALOG = [
    {"id": "la", "name": "LA Community", "specialty": "internal_medicine", "state": "CA", "region": "la_county", "program_type": "community"},
    {"id": "univ", "name": "Big University", "specialty": "internal_medicine", "state": "CA", "region": "kern", "program_type": "university", "positions": 4},
    {"id": "strict", "name": "Strict", "specialty": "internal_medicine", "state": "CA", "region": "kern", "program_type": "community", "min_step2_ck": 240},
]


@pytest.fixture(scope="module")
def rec() -> sr.Recommendation:
    profile = sr.profile_from_data({"graduation_year": 2020, "step2_ck": {"score": 224}})
    return sr.evaluate(profile, CATALOG, load_rules_from_text([("typed.toml", RULES)]), as_of=2026)


def _entry(entries: tuple[AuditEntry, ...], rule_id: str) -> AuditEntry:
    found = [a for a in entries if a.rule_id == rule_id]
    assert len(found) == 1, (rule_id, [a.rule_id for a in entries])
    return found[0]


def test_profile_entries_carry_their_effects(rec: sr.Recommendation) -> None:
    low = _entry(rec.profile_audit, "typed.low")
    assert low.tags == ("low",) and low.odds == 0.5 and low.advice is True
    assert low.sets == {"band": "low", "weight": 2}
    assert not low.excludes and low.tier_at_most is None and low.priority is None
    ceiling = _entry(rec.profile_audit, "typed.ceiling")
    assert ceiling.tier_at_most == "target" and ceiling.chance_cap == 0.6 and ceiling.tags == ()


def test_program_entries_carry_their_effects(rec: sr.Recommendation) -> None:
    strict = rec.get("strict")
    la = rec.get("la")
    univ = rec.get("univ")
    assert strict is not None and la is not None and univ is not None
    excluded = _entry(strict.audit, "typed.min")
    assert excluded.excludes and strict.excluded is not None and strict.excluded.rule_id == excluded.rule_id
    near = _entry(la.audit, "typed.la")
    assert near.priority == 40.0 and near.tags == ("la", "near") and near.advice is True
    assert [a.rule_id for a in la.advice] == ["typed.la"]
    screen = _entry(univ.audit, "typed.univ_screen")
    assert screen.estimates == ("screen",) and screen.odds is None
    moved = _entry(univ.audit, "typed.vs_screen")
    assert moved.tier_at_most == "likely" and moved.odds is not None and moved.odds < 1
    # the profile entries that move every program open its audit, with their fields
    assert _entry(univ.audit, "typed.ceiling").tier_at_most == "target"


def test_every_field_of_every_program_entry_is_its_rules(rec: sr.Recommendation) -> None:
    # the outcome builds entries by position, for speed: each field must land where it belongs
    rules = {r.id: r for r in load_rules_from_text([("typed.toml", RULES)]).rules}
    seen = 0
    for result in rec.programs:
        for a in result.audit:
            r = rules[a.rule_id]
            eff = r.then
            assert (a.ruleset, a.ruleset_version, a.stage, a.salience) == (r.ruleset, r.ruleset_version, r.stage, r.salience)
            assert (a.file, a.line, a.source) == (r.loc.file, r.loc.line, r.source)
            assert a.effect == eff.describe(a.odds)
            assert a.excludes is (eff.exclude is not None) and a.advice is (eff.advice is not None)
            assert a.tier_at_most == eff.tier_at_most and a.tags == eff.tags
            assert a.priority == (None if eff.priority is None else float(eff.priority))
            assert a.estimates == tuple(name for name, _v in eff.estimate)
            assert (a.breadth, dict(a.at_most), dict(a.at_least)) == (None, {}, {})
            assert isinstance(a.values, dict) and (a.chance_after is None or 0 <= a.chance_after <= 1)
            seen += 1
    assert seen >= 8


def test_list_entries_carry_the_bounds_they_set(rec: sr.Recommendation) -> None:
    breadth = _entry(rec.list_audit, "typed.breadth")
    assert breadth.breadth == (2, rec.breadth.eligible)
    assert breadth.at_most == {"academic": 1} and breadth.at_least == {"academic": 1}
    assert breadth.sets == {"interview_target": 3}
    assert (rec.breadth.min, rec.breadth.max) == breadth.breadth
    assert rec.breadth.at_most == breadth.at_most and rec.breadth.at_least == breadth.at_least


def test_an_odds_expression_shows_its_factor_in_the_effect(rec: sr.Recommendation) -> None:
    univ = rec.get("univ")
    assert univ is not None
    moved = _entry(univ.audit, "typed.vs_screen")
    assert moved.odds is not None
    assert moved.effect == f"odds x{sr.language.ir.format_value(round(moved.odds, 3))}; tier at most likely"  # type: ignore[attr-defined]
    assert "exp(" not in rec.explain("univ")
    # a number stays as written
    assert _entry(rec.profile_audit, "typed.low").effect.startswith("odds x0.5; tag low")


def test_movement_reads_the_typed_fields_not_the_prose() -> None:
    base = AuditEntry("r", "s", "1", "program", 0, "nothing to see", None, {}, None, "f", 1)
    assert base.movement() is None
    assert attrs.evolve(base, excludes=True).movement() == (1e9, "excluded")
    assert attrs.evolve(base, tier_at_most="reach").movement() == (1e8, "tier at most reach")
    # prose alone moves nothing: an old reader's words are not read
    assert attrs.evolve(base, effect="exclude; tier at most reach").movement() is None


def test_json_carries_each_effect_field_only_when_the_rule_has_it(rec: sr.Recommendation) -> None:
    data = json.loads(rec.to_json())
    assert data["schema_version"] == 4
    entries = {a["rule_id"]: a for p in data["programs"] for a in p["audit"]}
    # an excluded program is its id and exclusions; its whole trail is written with detail="full"
    # only for eligible programs, and the exclusion's entry is rebuilt live (rec.get)
    assert {r["rule_id"] for r in data["excluded_programs"]["reasons"]} == {"typed.min"}
    ex = next(r for r in rec.programs if r.excluded is not None)
    entry = next(a for a in ex.audit if a.rule_id == "typed.min")
    assert entry.excludes is True and entry.tier_at_most is None
    # a rule's fixed fields are written once, in the rules table
    assert "file" not in entries["typed.la"] and data["rules"]["typed.la"]["stage"] == "program"
    assert entries["typed.la"]["priority"] == 40.0 and entries["typed.la"]["tags"] == ["la", "near"]
    assert entries["typed.univ_screen"]["estimates"] == ["screen"] and "excludes" not in entries["typed.univ_screen"]
    assert "odds" in entries["typed.univ_screen"]  # the fields of schema 2 stay, null when unused
    listed = {a["rule_id"]: a for a in data["list_audit"]}
    assert listed["typed.breadth"]["breadth"] == [2, rec.breadth.eligible]
    assert listed["typed.breadth"]["at_most"] == {"academic": 1}
    back = sr.Recommendation.from_json(rec.to_json())
    assert back.to_json() == rec.to_json()
    assert back.list_audit == rec.list_audit and back.profile_audit == rec.profile_audit


def test_a_result_of_another_schema_version_is_refused_clearly(rec: sr.Recommendation) -> None:
    data = rec.to_dict()
    data["schema_version"] = 2
    with pytest.raises(sr.InputError) as err:
        sr.Recommendation.from_dict(data)
    assert err.value.code == "input_error" and "schema_version 2" in str(err.value)
    assert "audit-trail.md" in (err.value.diagnostics[0].help or "")


def test_the_reports_rank_by_the_typed_fields(rec: sr.Recommendation) -> None:
    from smartpick_rules.reports.common import reason_of

    strict = rec.get("strict")
    assert strict is not None
    assert reason_of(_entry(strict.audit, "typed.min"))[0] == -1
    la = rec.get("la")
    assert la is not None
    assert reason_of(_entry(la.audit, "typed.la"))[0] == 0
    assert [a.rule_id for a in strict.top_movers(1)] == ["typed.min"]


def test_no_reader_parses_the_effect_text() -> None:
    # `effect` is for people: code tests the typed fields (startswith, `in`, split, regular expressions)
    found = []
    patterns = ("search", "match", "fullmatch", "findall", "split", "sub")

    def is_effect(n: ast.AST) -> bool:
        return isinstance(n, ast.Attribute) and n.attr == "effect"

    for path in sorted((ROOT / "src" / "smartpick_rules").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and is_effect(node.value):
                found.append(f"{where}: .effect.{node.attr}")
            elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops) and any(map(is_effect, node.comparators)):
                found.append(f"{where}: `in ....effect`")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in patterns and any(map(is_effect, node.args)):
                found.append(f"{where}: a pattern over .effect")
    assert not found, found
