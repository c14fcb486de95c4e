"""The language, specified by example: every file in tests/cases/ is one behaviour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import smartpick_rules as sr
from case_runner import CASES, CaseFileError, all_case_files, case_rules, evaluate_case, outcome, read_case
from smartpick_rules.engines import available_engines

FILES = all_case_files()


def _id(p: Path) -> str:
    return str(p.relative_to(CASES).with_suffix(""))


@pytest.mark.parametrize("path", FILES, ids=[_id(p) for p in FILES])
def test_case(path: Path) -> None:
    case = read_case(path)
    want = case["want"]
    if "error_code" in want:
        with pytest.raises(sr.RulesetError) as info:
            case_rules(case)
        err = info.value
        assert want["error_code"] in err.codes, err
        d = next(d for d in err.diagnostics if d.code == want["error_code"])
        if "error_line" in want:
            assert d.location.line == want["error_line"], d.render()
        if "error_suggestion" in want:
            assert d.suggestion == want["error_suggestion"], d.render()
        if "error_message" in want:
            assert want["error_message"] in d.message, d.render()
        if "error_count" in want:
            assert len(err.diagnostics) == want["error_count"], err
        if "error_rule" in want:
            assert d.rule_id == want["error_rule"], d.render()
        assert d.location.file, "every diagnostic names its file"
        return
    if "evaluation_error" in want:
        with pytest.raises(sr.EvaluationError) as raised:
            evaluate_case(case)
        assert want["evaluation_error"] in str(raised.value), raised.value
        return
    rec = evaluate_case(case)
    results = {r.program.id: r for r in rec.programs}
    if "profile_tags" in want:
        assert sorted(rec.profile_tags) == sorted(want["profile_tags"])
    for pid, tags in want.get("tags", {}).items():
        assert sorted(results[pid].tags) == sorted(tags), pid
    for pid, chance in want.get("chances", {}).items():
        got = results[pid].chance
        assert got is not None and abs(got - chance) <= 1e-9, (pid, got)
    for pid, factors in want.get("odds", {}).items():
        shown = {a.rule_id: a.odds for a in results[pid].audit if a.odds is not None}
        assert shown.keys() == factors.keys(), (pid, shown)
        for rid, factor in factors.items():
            assert abs(shown[rid] - factor) <= 1e-9, (pid, rid, shown[rid])
    for pid, caps in want.get("caps", {}).items():
        shown = {a.rule_id: a.chance_cap for a in results[pid].audit if a.chance_cap is not None}
        assert shown == caps, (pid, shown)
    for pid, after in want.get("chance_after", {}).items():
        shown = {a.rule_id: a.chance_after for a in results[pid].audit if a.chance_after is not None}
        assert shown.keys() == after.keys(), (pid, shown)
        for rid, value in after.items():
            assert abs(shown[rid] - value) <= 1e-9, (pid, rid, shown[rid])
    for pid, tier in want.get("tiers", {}).items():
        assert results[pid].tier == tier, pid
    for pid, prio in want.get("priorities", {}).items():
        assert results[pid].priority == prio, pid
    if "excluded" in want:
        assert sorted(p for p, r in results.items() if r.excluded) == sorted(want["excluded"])
    for pid, rid in want.get("excluded_by", {}).items():
        assert results[pid].excluded is not None and results[pid].excluded.rule_id == rid
    for pid, reason in want.get("reasons", {}).items():
        assert results[pid].excluded is not None and results[pid].excluded.reason == reason
    for pid, fired in want.get("fired", {}).items():
        got = [a.rule_id for a in results[pid].audit if a.stage == "program"]
        assert sorted(got) == sorted(fired), pid
    if "advice" in want:
        assert [a.rule_id for a in rec.advice] == want["advice"]
    if "advice_text" in want:
        assert [a.message for a in rec.advice] == want["advice_text"]
    if "derived" in want:
        assert rec.derived == want["derived"]
    for pid, texts in want.get("explanations", {}).items():
        shown = {a.rule_id: a.explanation for a in results[pid].audit}
        for rid, text in texts.items():
            assert shown.get(rid) == text, (pid, rid, shown.get(rid))
    for pid, values in want.get("values", {}).items():
        shown = {a.rule_id: a.values for a in results[pid].audit}
        for rid, read in values.items():
            assert shown.get(rid) == read, (pid, rid, shown.get(rid))
    if "list_fired" in want:
        assert [a.rule_id for a in rec.list_audit] == want["list_fired"]
    if "breadth" in want:
        b = want["breadth"]
        assert (rec.breadth.min, rec.breadth.max) == (b["min"], b["max"])
        for key in ("interview_target", "at_most", "at_least", "stopped", "rule_id", "eligible"):
            if key in b:
                assert getattr(rec.breadth, key) == b[key], key
    if "chosen" in want:
        assert list(rec.breadth.chosen) == want["chosen"]
        assert [r.program.id for r in rec.chosen()] == want["chosen"]
        assert all(r.chosen == (r.program.id in want["chosen"]) for r in rec.programs)
    if "order" in want:
        assert [r.program.id for r in rec.programs] == want["order"]
    for pid, reason in want.get("left_off", {}).items():
        assert results[pid].left_off == reason, (pid, results[pid].left_off)
    for pid, groups in want.get("groups", {}).items():
        assert list(results[pid].groups) == groups, pid
    if "expected_interviews" in want:
        assert abs(rec.expected_interviews - want["expected_interviews"]) <= 1e-9, rec.expected_interviews
        assert abs(rec.expected_interviews - sum(r.chance or 0.0 for r in rec.chosen())) <= 1e-9
    if "shortfall" in want:
        s = want["shortfall"]
        if s is False:
            assert rec.shortfall is None, rec.shortfall
        else:
            assert rec.shortfall is not None
            for key, value in s.items():
                got = getattr(rec.shortfall, key)
                if key == "wideners":
                    got = [list(w) for w in got]
                assert got == value, (key, got)


TYPO_CASE = '''
note = "a case whose expectation is misspelt"
rules = """
[ruleset]
name = "t"
[[rule]]
id = "t.r"
stage = "profile"
when = "true"
then = { tag = "t" }
"""
'''


@pytest.mark.parametrize(
    ("want", "message"),
    [
        ('profile_tag = ["t"]', "unknown key `want.profile_tag`; did you mean `want.profile_tags`?"),
        ('breadth = { min = 1, max = 2, interview_targt = 3 }', "unknown key `want.breadth.interview_targt`; did you mean `want.breadth.interview_target`?"),
        ('shortfall = { wnated = 3 }', "unknown key `want.shortfall.wnated`; did you mean `want.shortfall.wanted`?"),
        ('error_line = 3', "`want.error_line` is only checked with `want.error_code`"),
    ],
)
def test_a_case_with_a_key_the_runner_does_not_read_is_refused(tmp_path: Path, want: str, message: str) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(TYPO_CASE + f"[want]\n{want}\n", encoding="utf-8")
    with pytest.raises(CaseFileError) as info:
        read_case(path)
    assert str(info.value) == f"{path}: case typo: {message}"


def test_an_unknown_top_level_key_in_a_case_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(TYPO_CASE + '[aplicant]\ngraduation_year = 2020\n[want]\nprofile_tags = ["t"]\n', encoding="utf-8")
    with pytest.raises(CaseFileError, match="unknown key `aplicant`; did you mean `applicant`"):
        read_case(path)


def test_the_rule_test_runner_refuses_an_unknown_expect_key_naming_file_case_and_key(tmp_path: Path) -> None:
    # the other data-case runner: `*.test.toml` suites beside rule sets (testing/suite.py)
    from smartpick_rules.testing.suite import load_suite

    path = tmp_path / "rules" / "tests" / "t.test.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[[case]]\nname = "ok"\nexpect = { fired = [] }\n\n[[case]]\nname = "typo"\nexpect = { fird = ["t.r"] }\n')
    with pytest.raises(sr.InputError) as info:
        load_suite(path)
    [d] = info.value.diagnostics
    assert (d.location.file, d.location.line) == (str(path), 5)
    assert "`case[1].expect.fird`: unknown field `fird`" in d.render()
    assert d.render().endswith("did you mean `fired`?")


RUN_DURABLE = """
import sys
sys.path.insert(0, {tests!r})
from case_runner import outcome, read_case
from pathlib import Path
print(outcome(read_case(Path({path!r})), engine="durable"))
"""


@pytest.mark.durable
@pytest.mark.skipif("durable" not in available_engines(), reason="durable_rules does not import on this Python")
@pytest.mark.parametrize(
    "path", [p for p in FILES if "error_code" not in read_case(p)["want"]], ids=lambda p: _id(p)
)
def test_case_same_on_durable(path: Path) -> None:
    """Each case gives byte-identical JSON (or the same evaluation error) on the durable engine
    (run in a subprocess: a crash in durable_rules' C extension fails this test instead of
    killing pytest)."""
    native = outcome(read_case(path))
    code = RUN_DURABLE.format(tests=str(Path(__file__).parent), path=str(path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == native
