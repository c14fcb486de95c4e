"""Schema 4: the compact JSON form, its detail levels and its round trip (issue 14, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import smartpick_rules as sr


@pytest.fixture(scope="module")
def rec() -> sr.Recommendation:
    examples = Path(__file__).resolve().parents[1] / "examples"
    catalog = sr.load_catalog(examples / "small_catalog.csv")
    return sr.evaluate(sr.load_profile(examples / "profiles" / "default.toml"), catalog, sr.load_rules(), as_of=2026)


def test_full_writes_eligible_programs_whole_and_excluded_ones_as_a_table(rec: sr.Recommendation) -> None:
    data = json.loads(rec.to_json())
    assert data["detail"] == "full" and data["schema_version"] == 4
    eligible = [r for r in rec.programs if r.excluded is None]
    excluded = [r for r in rec.programs if r.excluded is not None]
    assert [p["program"]["id"] for p in data["programs"]] == [r.program.id for r in eligible]
    table = data["excluded_programs"]
    reasons = table["reasons"]
    assert [row[0] for row in table["programs"]] == [r.program.id for r in excluded]
    for (pid, ks), r in zip(table["programs"], excluded, strict=True):
        assert [(reasons[k]["rule_id"], reasons[k]["reason"]) for k in ks] == [(x.rule_id, x.reason) for x in r.exclusions], pid


def test_a_programs_audit_holds_its_own_entries_and_the_profile_stage_is_written_once(rec: sr.Recommendation) -> None:
    data = json.loads(rec.to_json())
    first = rec.programs[0]
    n = sum(1 for a in first.audit if a.stage == "profile")
    assert n > 0 and [rid for rid, _c in data["profile_chance"]] == [a.rule_id for a in first.audit[:n]]
    assert [c for _rid, c in data["profile_chance"]] == [a.chance_after for a in first.audit[:n]]
    own = data["programs"][0]["audit"]
    assert [a["rule_id"] for a in own] == [a.rule_id for a in first.audit[n:]]
    assert all("file" not in a and "source" not in a for p in data["programs"] for a in p["audit"])
    assert data["rules"][own[0]["rule_id"]]["file"] == first.audit[n].file


def test_round_trip(rec: sr.Recommendation) -> None:
    text = rec.to_json()
    back = sr.Recommendation.from_json(text)
    assert back.to_json() == text
    assert sr.Recommendation.from_json(back.to_json()) == back
    live = {r.program.id: r for r in rec.programs}
    assert all(r == live[r.program.id] for r in back.programs)  # every field, the whole trail
    assert back.excluded_programs is not None
    assert [(e.program_id, e.exclusions) for e in back.excluded_programs] == [
        (r.program.id, r.exclusions) for r in rec.programs if r.excluded is not None
    ]
    assert back.exclusion_counts() == rec.exclusion_counts()
    assert back.profile_audit == rec.profile_audit and back.list_audit == rec.list_audit


def test_chosen_detail_writes_the_list_alone(rec: sr.Recommendation) -> None:
    data = json.loads(rec.to_json(detail="chosen"))
    assert data["detail"] == "chosen" and "excluded_programs" not in data
    assert [p["program"]["id"] for p in data["programs"]] == list(rec.breadth.chosen)
    back = sr.Recommendation.from_dict(data)
    assert back.detail == "chosen" and [r.program.id for r in back.chosen()] == list(rec.breadth.chosen)
    assert json.loads(back.to_json()) == data
    with pytest.raises(ValueError, match="only the recommended list"):
        back.to_json(detail="full")
    with pytest.raises(ValueError, match="detail"):
        rec.to_dict(detail="some")  # type: ignore[arg-type]


def test_a_document_that_names_what_it_does_not_hold_is_refused(rec: sr.Recommendation) -> None:
    data = json.loads(rec.to_json())
    data["rules"] = {}
    with pytest.raises(sr.InputError, match="rules table"):
        sr.Recommendation.from_dict(data)
    data = json.loads(rec.to_json())
    data["profile_chance"] = [["nope", 0.1]]
    with pytest.raises(sr.InputError, match="profile_chance"):
        sr.Recommendation.from_dict(data)
