"""The ``smartpick-rules`` command end to end: real files, a real process, real output."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

import fixtures
import smartpick_rules as sr
from smartpick_rules.cli import Io, Progress
from smartpick_rules.ruleset.json_schema import rule_file_schema
from test_cli_support import (
    DEFAULT_PROFILE,
    SMALL_CATALOG,
    FakeTTY,
    one_clear_line,
    run_cli,
    run_main,
    shipped_rules_load,
    write_mini,
)


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return write_mini(tmp_path)


def _evaluate(mini: Path, *extra: str) -> list[str]:
    return ["evaluate", str(DEFAULT_PROFILE), "--rules", str(mini), "--as-of", "2026", *extra]


# --- evaluate ----------------------------------------------------------------------------------


def test_evaluate_table_fits_100_columns_and_shows_list_breadth_and_advice(mini: Path) -> None:
    run = run_main(*_evaluate(mini))
    assert run.code == 0, run.err
    assert run.err == ""
    lines = run.out.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    assert lines[0] == "Recommended programs for Default applicant (same as archetype A)"
    assert "as of 2026; engine native; 1 rule set: mini 1.2.0" in run.out
    flat = " ".join(run.out.split())
    assert re.search(
        r"Apply to 20-30 programs, with at most 3 university programs and big-name academic centres\. "
        r"This list has 30 \(\d+ likely, \d+ target, \d+ reach\)",
        flat,
    )
    assert re.search(r"expect about \d+\.\d interview invitations \(the sum of the chances\)", flat)
    assert "They are not the chance of matching" in flat
    assert "For and against you at every program (from your profile alone): - Step 2 CK 224 is below 225" in flat
    header = next(line for line in lines if line.lstrip().startswith("#  "))
    assert "tier" in header and "where" in header and "program" in header
    # 25 programs by default, ranked; every shown program is one of the chosen list
    ranks = [int(m.group(1)) for line in lines if (m := re.match(r"\s*(\d+)\s+(likely|target|reach)\s", line))]
    assert ranks == list(range(1, 26))
    assert "... 5 more in the list (--top N shows more)" in run.out
    assert "+ a community program weighs a low score less" in run.out  # the rule's own words
    assert "Excluded:" in run.out and "[mini.visa_j1]" in run.out and "[mini.min_step2_ck]" in run.out
    assert "Advice:" in run.out and "Apply broadly:" in run.out and "[mini.breadth_low]" in run.out
    assert "smartpick-rules explain " + str(DEFAULT_PROFILE) + " PROGRAM_ID" in flat  # the real profile, not PROFILE


def test_evaluate_top_and_width(mini: Path) -> None:
    run = run_main(*_evaluate(mini, "--top", "3", "--width", "140"))
    assert run.code == 0, run.err
    ranks = re.findall(r"^\s*(\d+)\s+(?:likely|target|reach)\s", run.out, flags=re.M)
    assert ranks == ["1", "2", "3"]
    assert max(len(line) for line in run.out.splitlines()) <= 140


def test_evaluate_matches_the_library(mini: Path) -> None:
    run = run_main(*_evaluate(mini, "--format", "json"))
    assert run.code == 0, run.err
    data = json.loads(run.out)
    rec = sr.evaluate(sr.load_profile(DEFAULT_PROFILE), sr.load_catalog(sr.sample_catalog_path()), sr.load_rules(mini), as_of=2026)
    assert data == json.loads(rec.to_json())
    assert data["provenance"]["as_of_year"] == 2026
    assert [r["name"] for r in data["provenance"]["rulesets"]] == ["mini"]
    back = sr.Recommendation.from_dict(data)
    assert back.breadth == rec.breadth


def test_evaluate_markdown(mini: Path) -> None:
    run = run_main(*_evaluate(mini, "--format", "markdown", "--top", "5"))
    assert run.code == 0, run.err
    assert run.out.startswith("# Recommended programs for Default applicant")
    assert "| # | tier | interview chance | program | where | why |" in run.out
    assert "They are not the chance of matching" in run.out
    assert len([line for line in run.out.splitlines() if re.match(r"\| \d+ \| (?:likely|target|reach) \|", line)]) == 5
    assert "## Advice" in run.out and "## Excluded" in run.out


def test_evaluate_html_to_a_file(mini: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run = run_main(*_evaluate(mini, "--format", "html", "--output", str(out)))
    assert run.code == 0, run.err
    assert run.out == f"Wrote the html report to {out}\n"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count('<details class="audit">') == 30
    assert "Content-Security-Policy" in text


def test_evaluate_small_catalog_and_default_as_of(mini: Path) -> None:
    run = run_main("evaluate", DEFAULT_PROFILE, "--rules", mini, "--catalog", SMALL_CATALOG)
    assert run.code == 0, run.err
    assert f"as of {time.localtime().tm_year}" in run.out


@pytest.mark.skipif(shipped_rules_load() is not None, reason=str(shipped_rules_load()))
def test_evaluate_defaults_to_the_shipped_rules_and_catalog() -> None:
    # a real process, end to end, the way the README runs it
    run = run_cli("evaluate", DEFAULT_PROFILE, "--as-of", "2026")
    assert run.code == 0, run.err
    rs = fixtures.shipped_rules()
    assert f"{len(rs.rulesets)} rule sets: base" in run.out
    assert all(len(line) <= 100 for line in run.out.splitlines())
    n = len(sr.load_catalog(sr.sample_catalog_path()))
    assert f"of {n:,} programs, by reason" in run.out


# --- explain -----------------------------------------------------------------------------------


def test_explain_shows_fired_rules_with_values_and_why_not(mini: Path) -> None:
    run = run_main("explain", DEFAULT_PROFILE, "im-la-004", "--rules", mini, "--as-of", "2026")
    assert run.code == 0, run.err
    rec = sr.evaluate(sr.load_profile(DEFAULT_PROFILE), sr.load_catalog(sr.sample_catalog_path()), sr.load_rules(mini), as_of=2026)
    assert run.out == rec.explain("im-la-004") + "\n\n(Tiers estimate the chance of an interview invitation, not of matching.)\n"
    assert "Rules that fired, in order:" in run.out
    assert "mini.low_step2" in run.out and "read: applicant.step2_ck.score = 224" in run.out
    assert "Rules considered but not fired (why not):" in run.out


def test_explain_json(mini: Path) -> None:
    run = run_main("explain", DEFAULT_PROFILE, "im-la-004", "--rules", mini, "--as-of", "2026", "--format", "json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["program"]["program"]["id"] == "im-la-004"
    assert {w["rule_id"] for w in data["why_not"]} >= {"mini.visa_j1"}


def test_explain_unknown_program_suggests_the_closest(mini: Path) -> None:
    line = one_clear_line(run_main("explain", DEFAULT_PROFILE, "im-la-0044", "--rules", mini))
    assert "no program `im-la-0044` in the catalog" in line
    assert "did you mean `im-la-004`?" in line


# --- errors: one clear line, exit 2, never a traceback ------------------------------------------


def test_missing_profile(mini: Path) -> None:
    line = one_clear_line(run_main("evaluate", "no/such/profile.toml", "--rules", mini))
    assert line == "smartpick-rules: no/such/profile.toml: io_error: no such file"


def test_exit_status_for_bad_input_is_2(mini: Path) -> None:
    # a real process: the status the shell sees, not main's return value
    assert run_cli("evaluate", "no/such/profile.toml", "--rules", mini).code == 2


def test_malformed_profile_names_file_line_and_field(tmp_path: Path, mini: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('graduation_year = 2020\nstep2_ck = { score = "high" }\n', encoding="utf-8")
    line = one_clear_line(run_main("evaluate", bad, "--rules", mini))
    assert line.startswith(f"smartpick-rules: {bad}:2:")
    assert "`step2_ck.score`: expected an integer" in line


def test_invalid_toml_profile(tmp_path: Path, mini: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("graduation_year = \n", encoding="utf-8")
    line = one_clear_line(run_main("evaluate", bad, "--rules", mini))
    assert f"{bad}:1:" in line and "parse_error: invalid TOML" in line


def test_broken_rule_file(tmp_path: Path) -> None:
    rules = tmp_path / "broken.toml"
    rules.write_text(
        '[ruleset]\nname = "broken"\n\n[[rule]]\nid = "broken.x"\nstage = "program"\n'
        'when = "program.regoin == \'la_county\'"\nthen = { odds = 2 }\n',
        encoding="utf-8",
    )
    line = one_clear_line(run_main("evaluate", DEFAULT_PROFILE, "--rules", rules))
    assert line.startswith(f"smartpick-rules: {rules}:7:")
    assert "unknown_field: broken.x:" in line and "did you mean `program.region`?" in line


def test_rule_file_of_the_score_model_says_what_replaced_it(tmp_path: Path) -> None:
    rules = tmp_path / "old.toml"
    rules.write_text(
        '[ruleset]\nname = "old"\n[scoring]\nbase = 50\n\n[[rule]]\nid = "old.x"\nstage = "program"\n'
        'when = "program.region == \'la_county\'"\nthen = { score = 5 }\n',
        encoding="utf-8",
    )
    run = run_main("evaluate", DEFAULT_PROFILE, "--rules", rules)
    assert run.code != 0 and run.out == "" and "Traceback" not in run.err
    assert run.err.splitlines() == [
        f"smartpick-rules: {rules}:3:1: schema_error: [scoring] is gone: programs no longer carry a score",
        f"smartpick-rules: {rules}:10:1: schema_error: old.x: `score` is gone: a rule moves a program's chance of an "
        "interview or its place in the list",
    ]
    run = run_main("check", rules)
    assert run.code != 0
    assert "old.x: `score` is gone: a rule moves a program's chance of an interview or its place in the list" in run.err + run.out
    assert "use `odds = 0.5` (halves the odds of an interview), `chance_cap = 0.05`, or `priority = 10`" in run.err + run.out


def test_missing_rules_path() -> None:
    line = one_clear_line(run_main("evaluate", DEFAULT_PROFILE, "--rules", "no/such/rules"))
    assert line == "smartpick-rules: no/such/rules: io_error: no such file or folder"


def test_bad_catalog(tmp_path: Path, mini: Path) -> None:
    cat = tmp_path / "cat.csv"
    cat.write_text("id,name,specialty,state,region,program_type\np1,P,internal_medicine,CA,la_conty,community\n", encoding="utf-8")
    line = one_clear_line(run_main("evaluate", DEFAULT_PROFILE, "--rules", mini, "--catalog", cat))
    assert line.startswith(f"smartpick-rules: {cat}:2:5:") and "region" in line


def test_unknown_engine(mini: Path) -> None:
    line = one_clear_line(run_main("evaluate", DEFAULT_PROFILE, "--rules", mini, "--engine", "rete9000"))
    assert "engine_unavailable: unknown engine `rete9000`" in line


def test_usage_errors_are_one_line() -> None:
    line = one_clear_line(run_main("evaluate"))
    assert line == (
        "smartpick-rules evaluate: a PROFILE is required (or --example NAME for a shipped example; "
        "`smartpick-rules init` writes one to edit)"
    )
    line = one_clear_line(run_main("evaluate", DEFAULT_PROFILE, "--format", "pdf"))
    assert "invalid choice: 'pdf'" in line
    line = one_clear_line(run_main("evaluate", DEFAULT_PROFILE, "--as-of", "next year"))
    assert "expected a year like 2026" in line
    line = one_clear_line(run_main("frobnicate"))
    assert "invalid choice: 'frobnicate'" in line


def test_no_command_prints_usage() -> None:
    run = run_main()
    assert run.code == 2
    assert "usage: smartpick-rules" in run.err and "a command is required" in run.err


def test_help_and_version() -> None:
    run = run_main("--help")
    assert run.code == 0
    for command in ("evaluate", "explain", "check", "test", "whatif", "levers", "schema", "compile"):
        assert command in run.out
    run = run_main("evaluate", "--help")
    assert run.code == 0 and "--top N" in run.out and "--format {table,json,markdown,html}" in run.out
    run = run_cli("--version")  # a real process: the entry point itself
    assert run.code == 0 and run.out.strip() == f"smartpick-rules {sr.__version__}"


def test_console_script_is_installed(mini: Path) -> None:
    import shutil
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "smartpick-rules"
    if not exe.exists():
        found = shutil.which("smartpick-rules")
        if found is None:
            pytest.skip("the smartpick-rules console script is not installed in this environment")
        exe = Path(found)
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("smartpick-rules ")


# --- schema and compile -------------------------------------------------------------------------


def test_schema_writes_the_rule_file_schema(tmp_path: Path) -> None:
    run = run_main("schema")
    assert run.code == 0, run.err
    assert json.loads(run.out) == json.loads(json.dumps(rule_file_schema()))
    out = tmp_path / "rules.schema.json"
    run = run_main("schema", "--output", out)
    assert run.code == 0 and json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(rule_file_schema()))


def test_schema_validates_a_rule_file(tmp_path: Path, mini: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import tomllib

    schema = json.loads(run_main("schema").out)
    jsonschema.validate(tomllib.loads((mini / "mini.toml").read_text(encoding="utf-8")), schema)


def test_compile_native_text(mini: Path) -> None:
    run = run_main("compile", mini)
    assert run.code == 0, run.err
    assert run.out.startswith("Compiled for the native engine")
    assert "mini 1.2.0  sha256 " in run.out
    assert "program stage: 6 rules in 1 stratum" in run.out
    assert 'once per evaluation: has("low_step2")' in run.out
    assert 'per program:         program.program_type in ["community", "county_safety_net"]' in run.out


def test_compile_native_json(mini: Path) -> None:
    run = run_main("compile", mini, "--engine", "native", "--format", "json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    ids = [r["id"] for r in data["stages"]["program"]["rules"]]
    assert ids[:2] == ["mini.min_step2_ck", "mini.visa_j1"]
    assert data["rulesets"][0]["sha256"] == sr.load_rules(mini).rulesets[0].sha256


def test_compile_durable(mini: Path) -> None:
    if "durable" not in _engines():
        run = run_main("compile", mini, "--engine", "durable")
        assert run.code == 2 and "engine_unavailable" in run.err and "Traceback" not in run.err
        pytest.skip("the durable engine cannot run here")
    run = run_main("compile", mini, "--engine", "durable")
    assert run.code == 0, run.err
    assert run.out.strip()
    try:
        json.loads(run.out)
    except json.JSONDecodeError:
        assert "mini" in run.out


def _engines() -> list[str]:
    from smartpick_rules.engines import available_engines

    return available_engines()


# --- in-process: injected streams and the progress indicator -------------------------------------


def test_main_with_injected_streams(mini: Path) -> None:
    run = run_main(*_evaluate(mini, "--top", "2"))
    assert run.code == 0 and run.err == ""
    assert "Recommended programs for" in run.out


def test_main_help_goes_to_the_injected_stream() -> None:
    run = run_main("--help")
    assert run.code == 0 and "usage: smartpick-rules" in run.out


def test_no_progress_indicator_when_stderr_is_not_a_terminal(mini: Path) -> None:
    io_ = Io(FakeTTY(), _NotTTY())
    with Progress(io_, "working") as progress:
        progress.update("still working")
        time.sleep(0.2)
    assert io_.err.getvalue() == ""  # type: ignore[attr-defined]


def test_progress_indicator_on_a_terminal_is_drawn_and_erased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    err = FakeTTY()
    io_ = Io(FakeTTY(), err)
    with Progress(io_, "evaluating 1,769 programs") as progress:
        time.sleep(0.3)
        progress.update("writing the \x1b]0;evil\x07report")
        time.sleep(0.3)
    text = err.getvalue()
    assert "evaluating 1,769 programs" in text
    assert "writing the ]0;evilreport" in text  # the step shown, its control characters removed
    assert "\x1b]0;" not in text and "\x07" not in text
    assert "\x1b[?25h" in text and text.endswith("\x1b[2K")  # transient: cursor shown again, line erased
    assert not [t for t in threading.enumerate() if "Live" in type(t).__name__ or t.name == "smartpick-progress"]


class _NotTTY(FakeTTY):
    def isatty(self) -> bool:
        return False


def test_a_path_named_twice_is_one_rule_set_and_one_error(tmp_path: Path) -> None:
    # found by the CLI fuzz test: `compile nope nope` printed the same error twice
    missing = tmp_path / "nope"
    run = run_main("compile", missing, missing)
    assert run.code == 2 and run.err.count("no such file or folder") == 1
