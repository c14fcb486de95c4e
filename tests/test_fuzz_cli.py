"""Property-based fuzzing of the command line, in process: one error type at every boundary.

``smartpick_rules.cli.main(argv, stdout, stderr)`` with generated files (rule sets, profiles and
catalogs: valid, perturbed, mutated or garbage) and generated arguments (every command, every
option, values that are wrong, missing, huge or full of control characters). Whatever the
input, the command line must:

* never exit 70 (an internal error) or with anything but 0, 1 or 2;
* never print a traceback;
* when it fails, say so in exactly one line on stderr, ``smartpick-rules...: ...``.

``SMARTPICK_FUZZ_SCALE`` multiplies the example counts (see tests/test_fuzz.py).
"""

from __future__ import annotations

import io
import json
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartpick_rules.cli import main
from test_fuzz import (
    PROFILE_DATA,
    csv_catalog,
    fuzz_settings,
    mutated,
    perturbed,
    program_lists,
    rule_file,
    toml_tables,
    toml_value,
)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::SyntaxWarning")]

TMP = Path(tempfile.mkdtemp(prefix="smartpick-test-fuzz-cli-"))
GOOD_CSV = (
    "id,name,specialty,state,region,program_type,positions,min_step2_ck,sponsors_j1\n"
    "a,Alpha,internal_medicine,CA,la_county,community,4,230,true\n"
    "b,Beta,internal_medicine,TX,out_of_state,university,2,,false\n"
)
NASTY_TEXT = st.sampled_from(["", " ", "-1", "0", "1e9", "nan", "999999999999999999999", "a\nb", "\x1b[31m", "\u202e", "é", "--", "-h", "x=y", "{}"])


def profile_text(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data)
    if not isinstance(data, dict):
        return "x = 1"
    tables = {k: v for k, v in data.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    text = "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in data.items() if k not in tables and v is not None)
    return text + "".join(toml_tables(k, v) for k, v in tables.items())


@st.composite
def files(draw: st.DrawFn) -> dict[str, Path]:
    """A profile, a catalog and a rule file, written to disk; each sometimes broken."""
    folder = Path(tempfile.mkdtemp(dir=TMP))
    out: dict[str, Path] = {}
    pfmt = draw(st.sampled_from(["toml", "json"]))
    pdata = PROFILE_DATA if draw(st.integers(0, 2)) == 0 else draw(perturbed(PROFILE_DATA))
    ptext = profile_text(pdata, pfmt)
    if draw(st.integers(0, 5)) == 0:
        ptext = draw(mutated(st.just(ptext)))
    out["profile"] = folder / f"profile.{pfmt}"
    out["profile"].write_bytes(ptext.encode("utf-8", errors="surrogatepass"))
    cfmt = draw(st.sampled_from(["csv", "csv", "json"]))
    if cfmt == "csv":
        ctext = GOOD_CSV if draw(st.booleans()) else draw(csv_catalog())
    else:
        ctext = json.dumps(draw(program_lists()))
    out["catalog"] = folder / f"catalog.{cfmt}"
    out["catalog"].write_bytes(ctext.encode("utf-8", errors="surrogatepass"))
    rtext = draw(rule_file())
    if draw(st.integers(0, 3)) == 0:
        rtext = draw(mutated(st.just(rtext)))
    out["rules"] = folder / "rules.toml"
    out["rules"].write_bytes(rtext.encode("utf-8", errors="surrogatepass"))
    (folder / "tests").mkdir()
    suite = draw(st.sampled_from(['[[case]]\nname = "c"\nexpect = { fired = [] }\n', '[suite]\nrules = ["../.."]\n', "[[case]]\n", "x"]))
    (folder / "tests" / "r.test.toml").write_text(suite)
    out["folder"] = folder
    return out


@st.composite
def argv(draw: st.DrawFn, paths: dict[str, Path]) -> list[str]:
    command = draw(st.sampled_from(["evaluate", "explain", "check", "test", "whatif", "levers", "schema", "compile", "", "evalute", "--version"]))
    args: list[str] = [command] if command else []
    profile, catalog, rules = str(paths["profile"]), str(paths["catalog"]), str(paths["rules"])
    if command in ("evaluate", "explain", "whatif", "levers"):
        args.append(draw(st.sampled_from([profile, profile, profile, str(paths["folder"] / "missing.toml"), str(paths["folder"])])))
        if draw(st.integers(0, 5)):  # the shipped sample catalog (1,769 programs) now and then: levers on it is slow
            args += ["--catalog", draw(st.sampled_from([catalog, catalog, str(paths["rules"])]))]
        if draw(st.booleans()):
            args += ["--rules", rules]
        if draw(st.integers(0, 3)) == 0:
            args.append("--with-shipped")
        if draw(st.integers(0, 3)) == 0:
            args += ["--as-of", draw(st.one_of(st.sampled_from(["2026", "1900", "0", "year"]), NASTY_TEXT))]
        if draw(st.integers(0, 5)) == 0:
            args += ["--engine", draw(st.sampled_from(["native", "durable", "rete", ""]))]
    if command == "evaluate":
        if draw(st.booleans()):
            args += ["--format", draw(st.sampled_from(["table", "json", "markdown", "html", "pdf"]))]
        if draw(st.integers(0, 2)) == 0:
            args += ["--top", draw(st.one_of(st.sampled_from(["0", "3", "100000"]), NASTY_TEXT))]
        if draw(st.integers(0, 2)) == 0:
            args += ["--width", draw(st.one_of(st.sampled_from(["1", "40", "0", "-5"]), NASTY_TEXT))]
    elif command == "explain":
        args.append(draw(st.one_of(st.sampled_from(["a", "b", "zz", ""]), NASTY_TEXT)))
        if draw(st.booleans()):
            args += ["--format", draw(st.sampled_from(["text", "json", "xml"]))]
    elif command == "whatif":
        for _ in range(draw(st.integers(0, 2))):
            change = draw(
                st.one_of(
                    st.sampled_from(["step2_ck.score=240", "languages+=spanish", "visa=\"j1\"", "nope=1", "step2_ck.score=" + "9" * 5000, "=", "a.b.c+=1"]),
                    NASTY_TEXT,
                )
            )
            args += ["--set", change]
        if draw(st.booleans()):
            args += ["--format", draw(st.sampled_from(["table", "json", "markdown"]))]
    elif command in ("check", "compile"):
        args += draw(st.lists(st.sampled_from([rules, str(paths["folder"]), profile, str(paths["folder"] / "nope")]), max_size=2))
        if command == "check" and draw(st.booleans()):
            args += draw(st.sampled_from([["--strict"], ["--format", "json"], ["--format", "yaml"]]))
        if command == "compile" and draw(st.booleans()):
            args += ["--engine", draw(st.sampled_from(["native", "durable", "x"]))]
    elif command == "test":
        args += draw(st.lists(st.sampled_from([str(paths["folder"] / "tests"), str(paths["folder"] / "tests" / "r.test.toml"), rules]), max_size=2))
        # the shipped rule sets' properties (no path given) search 15 properties on the sample
        # catalog, up to 30 s each: a small search keeps that path in the fuzz at a fuzz's pace
        args += ["--examples", "3", "--max-seconds", "2", "--sample", "60"]
        if draw(st.booleans()):
            args += ["--fail-under", draw(st.one_of(st.sampled_from(["50", "101", "-1"]), NASTY_TEXT))]
    if draw(st.integers(0, 4)) == 0:
        args.insert(draw(st.integers(0, len(args))), draw(st.one_of(NASTY_TEXT, st.sampled_from(["--unknown", "-x", "--output"]))))
    if command in ("evaluate", "explain", "schema") and draw(st.integers(0, 4)) == 0:
        args += ["--output", str(paths["folder"] / draw(st.sampled_from(["out.txt", "missing/out.txt", ""])))]
    return args


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(args, out, err)
    return status, out.getvalue(), err.getvalue()


def check_outcome(args: list[str], status: int, out: str, err: str) -> None:
    where = f"argv={args!r}\nstderr={err[-2000:]!r}"
    assert status in (0, 1, 2), f"exit {status}\n{where}"
    assert "Traceback" not in err and "Traceback" not in out, where
    assert "internal error" not in err, where
    if status == 2 and err:
        # one line per error: a usage error is one line, an input with several problems one
        # located line for each (`profile.toml:1:1: input_error: ...`)
        lines = [line for line in err.splitlines() if line.startswith("smartpick-rules")]
        assert lines and all(line.startswith("smartpick-rules: ") or line.startswith("smartpick-rules ") for line in lines), f"expected error lines\n{where}"
        if len(lines) > 1:
            assert all(": input_error: " in line or ": parse_error: " in line or "_error: " in line for line in lines), f"several lines that are not located errors\n{where}"
    elif status == 2:
        # check and test report what they found as their output
        assert args and args[0] in ("check", "test") and out, f"exit 2 with nothing said\n{where}"


@settings(fuzz_settings(60), deadline=timedelta(seconds=120))
@given(st.data())
def test_the_command_line_never_crashes(data: st.DataObject) -> None:
    paths = data.draw(files())
    args = data.draw(argv(paths))
    status, out, err = run(args)
    check_outcome(args, status, out, err)


@fuzz_settings(60)
@given(st.lists(st.one_of(NASTY_TEXT, st.text(max_size=12), st.sampled_from(["evaluate", "check", "--rules", "--format", "json", "-o"])), max_size=6))
def test_arbitrary_arguments_never_crash(args: list[str]) -> None:
    status, out, err = run(args)
    check_outcome(args, status, out, err)


def test_the_reproducers_of_issue_11_are_one_line_errors(tmp_path: Path) -> None:
    """The command-line inputs the issue found exiting 70: each now exits 2 with one line."""
    profile = tmp_path / "p.toml"
    profile.write_text("graduation_year = 2019\n")
    big = tmp_path / "big.toml"
    big.write_text("graduation_year = " + "9" * 5000 + "\n")
    dup = tmp_path / "dup.json"
    dup.write_text('{"graduation_year": 2019, "graduation_year": 2020}')
    for args in (
        ["evaluate", str(profile), "--width", "0"],
        ["evaluate", str(big)],
        ["evaluate", str(dup)],
        ["whatif", str(profile), "--set", "step2_ck.score=" + "9" * 5000],
    ):
        status, out, err = run(args)
        check_outcome(args, status, out, err)
        assert status == 2, (args, err)
