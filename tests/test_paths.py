"""Paths confined (issue 11, item 5): rule-test suites load rules only from their own rule-set
folder or the shipped ones; non-regular files are refused everywhere, without blocking; messages
name paths as the user passed them, never where a link points."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import smartpick_rules as sr
from smartpick_rules.cli import main
from smartpick_rules.testing.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
RULE = '[ruleset]\nname = "{name}"\n[[rule]]\nid = "{name}.r"\nstage = "profile"\nwhen = "true"\nthen = {{ tag = "t_{name}" }}\n'
CASE = '\n[[case]]\nname = "c"\nexpect = { fired = [] }\n'


def tree(tmp_path: Path) -> tuple[Path, Path]:
    """tmp/mine/{a.toml, tests/}, tmp/other/secret.toml"""
    mine = tmp_path / "mine"
    (mine / "tests").mkdir(parents=True)
    (mine / "a.toml").write_text(RULE.format(name="a"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "secret.toml").write_text(RULE.format(name="secret"))
    return mine, other


@pytest.mark.parametrize("rules", ['["../../other"]', '["../../other/secret.toml"]', '["/etc"]', '["..", "../../other"]'])
def test_a_suite_may_not_load_rules_from_outside_its_folder(tmp_path: Path, rules: str) -> None:
    mine, _other = tree(tmp_path)
    suite = mine / "tests" / "x.test.toml"
    suite.write_text(f"[suite]\nrules = {rules}\n" + CASE)
    with pytest.raises(sr.InputError) as info:
        load_suite(suite)
    d = info.value.diagnostics[0]
    assert d.code == "io_error" and "outside this suite's rule-set folder" in d.message
    assert d.location.file == str(suite) and d.location.line == 2
    assert str(tmp_path) not in d.message  # the path as written, not where it resolves


def test_a_suite_may_not_reach_out_through_a_link(tmp_path: Path) -> None:
    mine, other = tree(tmp_path)
    (mine / "link").symlink_to(other)
    suite = mine / "tests" / "x.test.toml"
    suite.write_text('[suite]\nrules = ["../link"]\n' + CASE)
    with pytest.raises(sr.InputError) as info:
        load_suite(suite)
    assert info.value.code == "io_error"


def test_a_suite_loads_its_own_folder_and_the_shipped_rule_sets(tmp_path: Path) -> None:
    mine, _other = tree(tmp_path)
    suite = mine / "tests" / "x.test.toml"
    suite.write_text('[suite]\nrules = ["..", "../a.toml"]\n' + CASE)
    loaded = load_suite(suite)
    assert loaded.rules_paths == (os.path.normpath(mine), os.path.normpath(mine / "a.toml"))
    shipped = sr.load_rules.__globals__["shipped_rulesets_path"]()
    rel = os.path.relpath(shipped, suite.parent)
    suite.write_text(f'[suite]\nrules = ["{rel}"]\n' + CASE)
    assert load_suite(suite).rules_paths == (os.path.normpath(suite.parent / rel),)


def test_the_test_command_refuses_a_suite_reaching_out(tmp_path: Path) -> None:
    mine, _other = tree(tmp_path)
    (mine / "tests" / "x.test.toml").write_text('[suite]\nrules = ["../../other"]\n' + CASE)
    out, err = io.StringIO(), io.StringIO()
    status = main(["test", str(mine / "tests")], out, err)
    assert status != 0
    assert "outside this suite's rule-set folder" in out.getvalue() + err.getvalue()
    assert "secret" not in out.getvalue()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("where", ["folder", "file"])
def test_a_named_pipe_called_like_a_test_file_does_not_hang(tmp_path: Path, where: str) -> None:
    mine, _other = tree(tmp_path)
    fifo = mine / "tests" / "x.test.toml"
    os.mkfifo(fifo)
    target = mine / "tests" if where == "folder" else fifo
    code = textwrap.dedent(
        f"""
        import io, sys
        from smartpick_rules.cli import main
        out, err = io.StringIO(), io.StringIO()
        status = main(["test", {str(target)!r}], out, err)
        print(status, out.getvalue() + err.getvalue())
        """
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], timeout=20, capture_output=True, text=True, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("`test` blocked on a named pipe")
    assert done.stdout.split()[0] != "0"
    assert "not a regular file" in done.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("kind", ["profile.toml", "catalog.csv", "rules.toml"])
def test_named_pipes_are_refused_as_inputs(tmp_path: Path, kind: str) -> None:
    fifo = tmp_path / kind
    os.mkfifo(fifo)
    code = textwrap.dedent(
        f"""
        import smartpick_rules as sr
        try:
            {'sr.load_profile' if kind.startswith('profile') else 'sr.load_catalog' if kind.startswith('catalog') else 'sr.load_rules'}({str(fifo)!r})
        except sr.SmartpickError as exc:
            print(exc.code, exc.diagnostics[0].message)
        """
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], timeout=20, capture_output=True, text=True, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("a named pipe blocked the reader")
    assert done.stdout.startswith("io_error") and "regular file" in done.stdout


def test_the_symlink_refusal_names_the_link_not_its_target(tmp_path: Path) -> None:
    mine, other = tree(tmp_path)
    (mine / "escape.toml").symlink_to(other / "secret.toml")
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(sr.RulesetError) as info:
            sr.load_rules("mine")
    finally:
        os.chdir(old)
    d = info.value.diagnostics[0]
    assert d.location.file == os.path.join("mine", "escape.toml")
    assert "secret" not in d.message and str(tmp_path) not in d.message and "other" not in d.message


def test_a_suite_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    mine, _other = tree(tmp_path)
    suite = mine / "tests" / "x.test.toml"
    suite.write_bytes(b"[suite]\nname = \"\xff\"\n")
    with pytest.raises(sr.InputError) as info:
        load_suite(suite)
    assert info.value.code == "input_error"
