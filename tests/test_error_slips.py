"""The error slips of issue 13, each a regression test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import smartpick_rules as sr
from test_cli_support import DEFAULT_PROFILE, REPO, run_main

CLASS_NAMES = re.compile(
    r"\b(?:VisaNeed|ApplicantType|Specialty|Region|ProgramType|ExperienceKind|TieKind|WorkKind|Exam|ClinicalExperience|"
    r"Letter|Tie|CommunityWork|Research|Preferences|MatchHistory|Profile|Program|ListFacts|ListItem)\b(?! \()"
)


def test_a_number_where_a_table_belongs(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text("graduation_year = 2021\nstep2_ck = 224\n", encoding="utf-8")
    run = run_main("evaluate", p)
    assert run.code == 2
    assert run.err.strip() == (
        f"smartpick-rules: {p}:2:1: input_error: `step2_ck`: expected a table (score, passed, attempts), got the number 224"
    )
    assert "iterable" not in run.err


def test_every_profile_error_is_listed(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('graduation_year = 2021\nstep2_ck = 224\nvisa = "j3"\nlanguages = "es"\n[research]\npapers = 2\n', encoding="utf-8")
    run = run_main("evaluate", p)
    assert run.code == 2
    lines = run.err.splitlines()
    assert len(lines) == 4, lines
    assert all(line.startswith(f"smartpick-rules: {p}:") for line in lines)
    assert "(and " not in run.err
    joined = "\n".join(lines)
    for part in ("`step2_ck`: expected a table", "`j3` is not one of the allowed values: none, j1, h1b", "`languages`: expected a list", "unknown field `papers`"):
        assert part in joined


def test_many_errors_are_listed_up_to_a_limit(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    rows = "\n".join(f'[[usce]]\nkind = "rotation{i}"' for i in range(30))
    p.write_text(f"graduation_year = 2021\n{rows}\n", encoding="utf-8")
    lines = run_main("evaluate", p).err.splitlines()
    assert len(lines) == 21 and lines[-1] == "smartpick-rules: ... and 10 more"


def test_no_internal_class_names_in_messages(tmp_path: Path) -> None:
    bad = [
        {"graduation_year": 2021, "visa": "j3"},
        {"graduation_year": 2021, "applicant_type": "martian"},
        {"graduation_year": 2021, "usce": [{"kind": "lecture"}]},
        {"graduation_year": 2021, "step2_ck": 224},
        {"graduation_year": 2021, "research": 3},
        {"graduation_year": 2021, "preferences": {"regions": ["mars"]}},
    ]
    for data in bad:
        with pytest.raises(sr.InputError) as info:
            sr.profile_from_data(data)
        assert not CLASS_NAMES.search(str(info.value)), str(info.value)
    rules = tmp_path / "t.toml"
    rules.write_text('[ruleset]\nname = "t"\nversion = "0"\n[[rule]]\nid = "t.a"\nstage = "profile"\nwhen = "applicant.step2_ck > 200"\nthen = { odds = 2 }\n', encoding="utf-8")
    run = run_main("check", rules)
    assert "record (score, passed, attempts" in run.out and not CLASS_NAMES.search(run.out), run.out


def test_str_of_an_input_error_for_plain_data_names_the_field() -> None:
    with pytest.raises(sr.InputError) as info:
        sr.profile_from_data({"graduation_year": 2021, "step2_ck": {"score": "high"}})
    assert str(info.value) == "<profile>: input_error: `step2_ck.score`: expected an integer, got the string 'high'"


def test_whatif_lists_changed_advice_once(tmp_path: Path) -> None:
    run = run_main("whatif", DEFAULT_PROFILE, "--as-of", "2026", "--set", "step2_ck.score=226")
    assert run.code == 0, run.err
    flat = " ".join(run.out.split())
    assert "Advice now reads [advice.frame_step2_improvement]" in flat
    assert "New advice [advice.frame_step2_improvement]" not in flat
    assert "Advice no longer given [advice.frame_step2_improvement]" not in flat


def test_readme_snippet_shows_each_programs_own_reasons() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "top_movers(2, include_profile=False)" in readme
    assert "r.score" not in readme  # the model is moving to chances; the snippet does not lean on scores
