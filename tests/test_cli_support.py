"""Shared helpers for the command-line tests: a small rule set, a suite for it, and runners.

Most tests call ``run_main``: the ``main`` the ``smartpick-rules`` console script calls, in this
process with injected streams and real files, from a given working directory and without the
caller's ``SMARTPICK_*`` settings. ``run_cli`` runs a real subprocess of ``python -m
smartpick_rules`` and is kept for the smoke tests of what only a process shows: the entry point
itself, exit statuses as the shell sees them, output encoding, a broken pipe.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs

# re-exported: the CLI tests import their paths from here
from fixtures import DEFAULT_PROFILE as DEFAULT_PROFILE
from fixtures import PROFILES as PROFILES
from fixtures import REPO as REPO
from fixtures import SMALL_CATALOG as SMALL_CATALOG

MINI_RULES = """\
[ruleset]
name = "mini"
version = "1.2.0"
description = "A small rule set for the command-line tests"

[chance]
base = 0.1
target = 0.08
likely = 0.2

[[group]]
name = "academic"
programs = "program.program_type == 'university' or 'academic_flagship' in program.tags"

[[rule]]
id = "mini.min_step2_ck"
stage = "program"
salience = 100
when = ["known(program.min_step2_ck)", "applicant.step2_ck.score < program.min_step2_ck"]
then = { exclude = "Step 2 CK {applicant.step2_ck.score} is below the published minimum {program.min_step2_ck}" }
explain = "the program publishes a Step 2 CK minimum of {program.min_step2_ck}"
source = "Guide, Step Scores in Context"

[[rule]]
id = "mini.visa_j1"
stage = "program"
salience = 90
when = ["applicant.visa == 'j1'", "not program.sponsors_j1"]
then = { exclude = "needs a J-1 visa; the program does not sponsor it" }
source = "Guide"

[[rule]]
id = "mini.low_step2"
stage = "profile"
salience = 10
when = "applicant.step2_ck.score < 225"
then = { tag = "low_step2", odds = 0.5 }
explain = "Step 2 CK {applicant.step2_ck.score} is below 225"
source = "Guide"

[[rule]]
id = "mini.community"
stage = "program"
salience = 5
when = ["has('low_step2')", "program.program_type in ['community', 'county_safety_net']"]
then = { odds = 1.6 }
explain = "a {program.program_type} program weighs a low score less"
source = "Guide"

[[rule]]
id = "mini.la_ties"
stage = "program"
salience = 4
when = ["program.region == 'la_county'", "any(applicant.ties, item.region == 'la_county')"]
then = { odds = 1.5, priority = 8 }
source = "Guide"

[[rule]]
id = "mini.spanish"
stage = "program"
salience = 3
when = ["'spanish' in applicant.languages", "program.state == 'CA'"]
then = { odds = 1.6 }
source = "Guide"

[[rule]]
id = "mini.flagship"
stage = "program"
salience = 3
when = "'academic_flagship' in program.tags"
then = { chance_cap = 0.05, tier_at_most = "reach" }
source = "Guide"

[[rule]]
id = "mini.breadth_low"
stage = "list"
salience = 2
when = "has('low_step2')"
then = { breadth = { min = 20, max = 30 }, at_most = { academic = 3 }, advice = "Apply broadly: {list.size} programs are open to you" }
source = "Guide"

[[rule]]
id = "mini.breadth"
stage = "list"
salience = 1
when = "not has('low_step2')"
then = { breadth = { min = 10, max = 15 } }
source = "Guide"

[[lever]]
id = "mini.step2_ck_220"
title = "Take Step 2 CK and score 220"
when = "not known(applicant.step2_ck.score)"
set = ["step2_ck = { score = 220, passed = true, attempts = 1 }"]

[[lever]]
id = "mini.step2_ck_250"
title = "Take Step 2 CK and score 250"
when = "not known(applicant.step2_ck.score)"
set = ["step2_ck = { score = 250, passed = true, attempts = 1 }"]

[[lever]]
id = "mini.language_spanish"
title = "Speak Spanish"
when = "not any(applicant.languages, item == 'Spanish')"
set = ['languages += "Spanish"']

[[lever]]
id = "mini.usce_la"
title = "+3 months of hands-on USCE in LA"
set = ['usce += { kind = "hands_on", months = 3, specialty = "{specialty}", state = "CA", region = "la_county", end_year = {as_of} }']

[[lever]]
id = "mini.publication"
title = "+1 publication"
set = ["research.publications += 1"]

[[lever]]
id = "mini.j1"
title = "Accept a J-1 instead of an H-1B"
kind = "widen"
when = "applicant.visa == 'h1b'"
set = ['visa = "j1"']
"""

MINI_TESTS = """\
[suite]
as_of = 2026

[[case]]
name = "a low Step 2 CK is tagged"
applicant = { step2_ck = { score = 220 } }
expect = { fired = ["mini.low_step2"], tags = ["low_step2"] }

[[case]]
name = "below the published minimum excludes"
applicant = { step2_ck = { score = 220 } }
program = { min_step2_ck = 230 }
expect = { excluded_by = "mini.min_step2_ck" }

[[case]]
name = "a community program weighs a low score less"
applicant = { step2_ck = { score = 220 } }
program = { program_type = "community" }
# base odds 1/9, halved for the low score, x1.6 at a community program: odds 4/45
expect = { fired = ["mini.community"], odds = { "mini.low_step2" = 0.5, "mini.community" = 1.6 }, chance = 0.0816, tier = "target" }
"""

FAILING_CASE = """
[[case]]
name = "this expectation is wrong on purpose"
applicant = { step2_ck = { score = 240 } }
expect = { fired = ["mini.low_step2"] }
"""


def write_mini(tmp: Path, *, failing: bool = False) -> Path:
    """A rule-set folder ``rules/`` with mini.toml and tests/mini.test.toml; returns the folder."""
    folder = tmp / "rules"
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    (folder / "mini.toml").write_text(MINI_RULES, encoding="utf-8")
    (folder / "tests" / "mini.test.toml").write_text(MINI_TESTS + (FAILING_CASE if failing else ""), encoding="utf-8")
    return folder


@attrs.frozen
class Run:
    code: int
    out: str
    err: str


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPICK_")}
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("COLUMNS", None)
    return env


def run_cli(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> Run:
    """Run ``smartpick-rules ARGS`` as a user would: a new process, real files, real output."""
    proc = subprocess.run(
        [sys.executable, "-m", "smartpick_rules", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd or REPO,
        env=_env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def _as_a_user(cwd: Path) -> Iterator[None]:
    """The environment ``run_cli`` gives its subprocess, for the length of one in-process run."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SMARTPICK_") or k == "COLUMNS"}
    here = os.getcwd()
    for k in saved:
        del os.environ[k]
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.update(saved)


def run_main(*args: str | Path, tty: bool = False, cwd: Path | None = None) -> Run:
    """Run ``main`` in this process with injected streams (stderr a fake terminal if ``tty``),
    from ``cwd`` (default: the repository), as ``run_cli`` would run it."""
    from smartpick_rules.cli import main

    out = io.StringIO()
    err: io.StringIO = FakeTTY() if tty else io.StringIO()
    with _as_a_user(cwd or REPO):
        code = main([str(a) for a in args], stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


def one_clear_line(run: Run) -> str:
    """The error a failing command printed: exactly one line, no traceback."""
    assert run.code != 0, run
    assert "Traceback" not in run.err, run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert run.out == "", run.out
    return lines[0]


def shipped_rules_load() -> str | None:
    """Why the shipped rule sets cannot be used here, or None when they load."""
    import smartpick_rules as sr
    from fixtures import shipped_rules

    try:
        rs = shipped_rules()
    except sr.SmartpickError as exc:
        return f"the shipped rule sets do not load: {exc.first_line()}"
    if not len(rs):
        return "no shipped rule sets yet"
    return None
