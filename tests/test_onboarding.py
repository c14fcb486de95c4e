"""One minute from install to a list: `init`, `--example`, `python -m smartpick_rules`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import attrs
import pytest

import smartpick_rules as sr
from smartpick_rules.domain.examples import example_names, example_profile_path
from smartpick_rules.domain.fielddocs import describe_fields, record_classes
from smartpick_rules.domain.models import Profile
from test_cli_support import PROFILES, REPO, run_main


def test_init_writes_a_profile_that_evaluates(tmp_path: Path) -> None:
    run = run_main("init", "me.toml", cwd=tmp_path)
    assert run.code == 0, run.err
    assert "smartpick-rules evaluate me.toml" in run.out
    written = sr.load_profile(tmp_path / "me.toml")
    example = sr.load_profile(PROFILES / "default.toml")
    assert attrs.evolve(written, id=example.id, name=example.name) == example
    run = run_main("evaluate", "me.toml", "--as-of", "2026", "--top", "3", cwd=tmp_path)
    assert run.code == 0, run.err
    assert "Recommended programs for me" in run.out


def test_init_explains_every_field(tmp_path: Path) -> None:
    assert run_main("init", "p.toml", cwd=tmp_path).code == 0
    text = (tmp_path / "p.toml").read_text(encoding="utf-8")
    for cls in record_classes(Profile):
        for f in describe_fields(cls):
            # every field appears as a key, set or commented out, under its meaning
            assert f"{f.name} = " in text or f"[{f.name}]" in text or f"[[{f.name}]]" in text or f"{f.name} (" in text, f.name
            first_words = " ".join(f.doc.doc.split()[:4])
            assert first_words in " ".join(line.lstrip("# ") for line in text.splitlines()), f"meaning of {f.name}"
    assert "One of: none (no visa needed: a US citizen or permanent resident); j1 (a J-1 visa); h1b" in " ".join(
        line.lstrip("# ") for line in text.splitlines()
    )
    tomllib.loads(text)


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "profile.toml").write_text("x = 1\n", encoding="utf-8")
    run = run_main("init", cwd=tmp_path)
    assert run.code == 2
    assert "--force" in run.err
    assert (tmp_path / "profile.toml").read_text(encoding="utf-8") == "x = 1\n"
    assert run_main("init", "--force", "--example", "old_grad_visa", cwd=tmp_path).code == 0
    assert sr.load_profile(tmp_path / "profile.toml").visa.value == "h1b"


def test_every_example_is_reachable_by_name() -> None:
    names = example_names()
    assert set(names) == {p.stem for p in PROFILES.glob("*.toml")}
    for name in names:
        sr.load_profile(example_profile_path(name))
    run = run_main("init", "--list")
    assert run.out.split() == names


@pytest.mark.slow
def test_evaluate_by_example_name(tmp_path: Path) -> None:
    by_name = run_main("evaluate", "--example", "im_la_low_scores", "--as-of", "2026", "--format", "json", cwd=tmp_path)
    by_path = run_main("evaluate", PROFILES / "im_la_low_scores.toml", "--as-of", "2026", "--format", "json", cwd=tmp_path)
    assert by_name.code == 0, by_name.err
    assert by_name.out == by_path.out


def test_example_name_typo_and_conflicts() -> None:
    run = run_main("evaluate", "--example", "im_la_low_score")
    assert run.code == 2
    assert "did you mean `im_la_low_scores`" in run.err
    run = run_main("evaluate", PROFILES / "default.toml", "--example", "default")
    assert run.code == 2 and "not both" in run.err
    run = run_main("evaluate")
    assert run.code == 2 and "smartpick-rules init" in run.err


def test_python_dash_m() -> None:
    proc = subprocess.run([sys.executable, "-m", "smartpick_rules", "--version"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0
    assert proc.stdout.startswith("smartpick-rules ")


@pytest.mark.parametrize("name", ["explain", "whatif", "levers"])
def test_other_commands_take_example(name: str) -> None:
    extra = {"explain": ["im-la-004"], "whatif": ["--set", "step2_ck.score=235"], "levers": []}[name]
    run = run_main(name, "--example", "default", *extra, "--as-of", "2026")
    assert run.code == 0, run.err
