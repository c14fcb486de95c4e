"""The executable's process set-up (smartpick_rules/console.py): it runs the same command line,
and it changes only its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc, os, sys
sys.argv = ["smartpick-rules", "--version"]
from smartpick_rules.console import run
status = run()
print(status, os.environ.get("OPENBLAS_NUM_THREADS"), gc.get_threshold()[0], gc.get_freeze_count() > 0)
"""


def probe(env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    version, values = out.stdout.splitlines()
    assert version.startswith("smartpick-rules ")
    return values.split()


def test_the_executable_sets_up_its_process_and_runs_the_command_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert probe(env) == ["0", "1", "100000", "True"]


def test_a_thread_count_the_user_set_is_kept() -> None:
    assert probe({**os.environ, "OPENBLAS_NUM_THREADS": "3"})[1] == "3"


def test_python_dash_m_runs_the_same_command() -> None:
    out = subprocess.run([sys.executable, "-m", "smartpick_rules", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.startswith("smartpick-rules ")


def test_importing_the_cli_changes_nothing_in_the_host_process() -> None:
    code = "import gc, os; t = gc.get_threshold(); import smartpick_rules.cli; print(gc.get_threshold() == t, 'OPENBLAS_NUM_THREADS' in os.environ)"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.split() == ["True", "False"]
