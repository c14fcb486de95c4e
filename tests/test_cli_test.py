"""``smartpick-rules test`` and the pytest plugin: rule tests kept in TOML beside rule sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_support import REPO, run_main, shipped_rules_load, write_mini


def test_passing_suite_with_coverage(tmp_path: Path) -> None:
    folder = write_mini(tmp_path)
    run = run_main("test", folder)
    assert run.code == 0, run.out + run.err
    lines = run.out.splitlines()
    assert lines[0] == str(folder / "tests" / "mini.test.toml")
    assert "  PASS  a low Step 2 CK is tagged" in lines
    assert "  PASS  below the published minimum excludes" in lines
    assert "  PASS  a community program weighs a low score less" in lines
    cov = next(line for line in lines if line.startswith("coverage: "))
    assert cov.startswith("coverage: rules 4/9 fired (44.4%); clauses ")
    assert "rules no test fires: mini.breadth, mini.flagship, mini.la_ties, mini.spanish, mini.visa_j1" in run.out
    assert lines[-1] == "1 suite: 3 passed, 0 failed"


def test_failing_case_exits_1_and_says_what_was_expected(tmp_path: Path) -> None:
    folder = write_mini(tmp_path, failing=True)
    run = run_main("test", folder / "tests" / "mini.test.toml")
    assert run.code == 1
    assert "  FAIL  this expectation is wrong on purpose" in run.out
    assert "expected rule `mini.low_step2` to fire; it did not" in run.out
    assert f"{folder / 'tests' / 'mini.test.toml'}:" in run.out
    assert run.out.splitlines()[-1] == "1 suite: 3 passed, 1 failed"


def test_a_case_naming_a_rule_that_does_not_exist_fails(tmp_path: Path) -> None:
    """A renamed or removed rule must not leave its tests passing: `not_fired` of a rule that is
    gone would otherwise always hold."""
    folder = write_mini(tmp_path)
    (folder / "tests" / "stale.test.toml").write_text(
        '[suite]\nas_of = 2026\n\n[[case]]\nname = "a stale expectation"\n'
        'expect = { not_fired = ["mini.low_score_bonus"], odds = { "mini.renamed" = 2 } }\n',
        encoding="utf-8",
    )
    run = run_main("test", folder / "tests" / "stale.test.toml")
    assert run.code == 1
    assert "`mini.low_score_bonus` is not a rule of the rule sets under test" in run.out
    assert "`mini.renamed` is not a rule of the rule sets under test" in run.out


def test_a_constant_clause_is_not_counted_as_a_clause_to_cover(tmp_path: Path) -> None:
    """`when = "true"` has one outcome: full clause coverage must stay reachable."""
    folder = tmp_path / "rules"
    (folder / "tests").mkdir(parents=True)
    (folder / "t.toml").write_text(
        '[ruleset]\nname = "t"\n[[rule]]\nid = "t.always"\nstage = "list"\nwhen = "true"\nthen = { set = { interview_target = 8 } }\n'
        '[[rule]]\nid = "t.low"\nstage = "profile"\nwhen = "applicant.step2_ck.score < 225"\nthen = { tag = "low" }\n'
        '[[rule]]\nid = "t.read"\nstage = "profile"\nwhen = "has(\'low\')"\nthen = { advice = "low" }\n',
        encoding="utf-8",
    )
    (folder / "tests" / "t.test.toml").write_text(
        '[suite]\nas_of = 2026\n[[case]]\nname = "low"\napplicant = { step2_ck = { score = 220 } }\nexpect = { fired = ["t.always", "t.low", "t.read"] }\n'
        '[[case]]\nname = "not low"\napplicant = { step2_ck = { score = 240 } }\nexpect = { not_fired = ["t.low", "t.read"] }\n',
        encoding="utf-8",
    )
    run = run_main("test", folder, "--fail-under", "100", "--fail-under-clauses", "100")
    assert run.code == 0, run.out
    assert "coverage: rules 3/3 fired (100.0%); clauses 4/4 outcomes (100.0%)" in run.out


def test_fail_under(tmp_path: Path) -> None:
    folder = write_mini(tmp_path)
    run = run_main("test", folder, "--fail-under", "90")
    assert run.code == 1
    assert "rule coverage 44.4% is below --fail-under 90%" in run.out
    assert run_main("test", folder, "--fail-under", "30").code == 0
    run = run_main("test", folder, "--fail-under-clauses", "99")
    assert run.code == 1 and "clause coverage" in run.out


def test_verbose_lists_the_clauses(tmp_path: Path) -> None:
    folder = write_mini(tmp_path)
    run = run_main("test", folder, "--verbose")
    assert run.code == 0
    assert '  never true:  mini.visa_j1: applicant.visa == "j1"' in run.out  # no case has a J-1 applicant
    assert "  never false: mini.low_step2: applicant.step2_ck.score < 225" in run.out


def test_json(tmp_path: Path) -> None:
    folder = write_mini(tmp_path, failing=True)
    run = run_main("test", folder, "--format", "json")
    assert run.code == 1
    data = json.loads(run.out)
    assert (data["passed"], data["failed"]) == (3, 1)
    cases = data["suites"][0]["cases"]
    assert [c["passed"] for c in cases] == [True, True, True, False]
    assert data["coverage"][0]["rules"] == 9
    assert data["rule_percent"] == pytest.approx(55.56, abs=0.01)


def test_a_broken_suite_is_reported_not_raised(tmp_path: Path) -> None:
    folder = write_mini(tmp_path)
    (folder / "tests" / "broken.test.toml").write_text("[[case]]\nname = 1\n", encoding="utf-8")
    run = run_main("test", folder)
    assert run.code == 1
    assert "Traceback" not in run.err + run.out
    assert "  ERROR " in run.out
    assert run.out.splitlines()[-1] == "1 suite: 3 passed, 0 failed, 1 suite could not run"


def test_no_tests_found(tmp_path: Path) -> None:
    run = run_main("test", tmp_path)
    assert run.code == 2
    assert "no rule tests found (files named *.test.toml)" in run.err
    run = run_main("test", tmp_path / "missing")
    assert run.code == 2 and "no such file or folder" in run.err


def test_a_suite_for_a_custom_rule_set_extending_the_shipped_ones(tmp_path: Path) -> None:
    reason = shipped_rules_load()
    if reason:
        pytest.skip(reason)
    folder = tmp_path / "custom"
    (folder / "tests").mkdir(parents=True)
    (folder / "extra.toml").write_text(
        '[ruleset]\nname = "extra"\nversion = "0.1"\nrequires = ["base"]\n\n'
        '[[rule]]\nid = "extra.kern_bonus"\nstage = "program"\nwhen = "program.region == \'kern\'"\n'
        'then = { priority = 3 }\nsource = "local knowledge"\n',
        encoding="utf-8",
    )
    (folder / "tests" / "extra.test.toml").write_text(
        '[suite]\nas_of = 2026\n\n[[case]]\nname = "Kern programs come earlier"\n'
        'program = { region = "kern", state = "CA" }\nexpect = { fired = ["extra.kern_bonus"] }\n',
        encoding="utf-8",
    )
    run = run_main("test", "--with-shipped", folder)
    assert run.code == 0, run.out + run.err
    assert "coverage: rules 1/1 fired (100.0%)" in run.out
    # without the shipped rule sets the requirement cannot be met, and the suite says so
    run = run_main("test", folder)
    assert run.code == 1 and "unknown_ruleset" in run.out


@pytest.mark.skipif(shipped_rules_load() is not None, reason=str(shipped_rules_load()))
def test_the_shipped_rule_tests_by_default() -> None:
    from smartpick_rules.ruleset.load import shipped_rulesets_path

    if not list((shipped_rulesets_path() / "tests").glob("*.test.toml")):
        pytest.skip("no shipped rule tests yet")
    # the shipped properties are checked by test_shipped_properties.py
    run = run_main("test", "--no-properties")
    assert "Traceback" not in run.err
    assert run.out.splitlines()[-1].endswith("0 failed"), run.out[-2000:]
    assert run.code == 0


# --- the pytest plugin ----------------------------------------------------------------------------


def _pytest(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "smartpick_rules.testing.pytest_plugin", "-p", "no:cacheprovider", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_pytest_collects_each_case_as_an_item(tmp_path: Path) -> None:
    folder = write_mini(tmp_path)
    proc = _pytest(folder, "-v", "--rootdir", tmp_path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mini.test.toml::a low Step 2 CK is tagged PASSED" in proc.stdout
    assert "mini.test.toml::a community program weighs a low score less PASSED" in proc.stdout
    assert "3 passed" in proc.stdout


def test_pytest_reports_a_failing_case(tmp_path: Path) -> None:
    folder = write_mini(tmp_path, failing=True)
    proc = _pytest(folder, "--rootdir", tmp_path, cwd=tmp_path)
    assert proc.returncode == 1
    assert "rule test failed: this expectation is wrong on purpose" in proc.stdout
    assert "expected rule `mini.low_step2` to fire; it did not" in proc.stdout
    assert "1 failed, 3 passed" in proc.stdout


@pytest.mark.slow
def test_pytest_selects_cases_with_k(tmp_path: Path) -> None:
    folder = write_mini(tmp_path, failing=True)
    proc = _pytest(folder, "--rootdir", tmp_path, "-k", "community", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 3 deselected" in proc.stdout


@pytest.mark.slow
def test_pytest_reports_a_broken_suite_as_a_collection_error(tmp_path: Path) -> None:
    folder = write_mini(tmp_path)
    (folder / "tests" / "broken.test.toml").write_text("[[case]\n", encoding="utf-8")
    proc = _pytest(folder, "--rootdir", tmp_path, cwd=tmp_path)
    assert proc.returncode != 0
    assert "cannot load the rule tests" in proc.stdout and "parse_error" in proc.stdout


def test_the_entry_point_is_declared_or_reported() -> None:
    """The pytest11 entry point lives in pyproject.toml (maintained by the packaging owner)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    if "pytest11" not in text:
        pytest.skip("pyproject.toml declares no pytest11 entry point yet; use -p smartpick_rules.testing.pytest_plugin")
    assert "smartpick_rules.testing.pytest_plugin" in text
