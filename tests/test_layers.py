"""The package reads as the pipeline: lower layers never import higher ones (import-linter's
contract in pyproject.toml), and the wheel's package list stays in step with src/."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_layers_contract_is_kept() -> None:
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    sys.path.insert(0, str(ROOT / "src"))
    try:
        assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0
    finally:
        sys.path.remove(str(ROOT / "src"))


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    src = ROOT / "src"
    found = {
        ".".join(d.relative_to(src).parts)
        for d in (src / "smartpick_rules").rglob("*")
        if d.is_dir() and d.name != "__pycache__" and any(d.iterdir())
    } | {"smartpick_rules"}
    shipped = {
        "smartpick_rules.rulesets",
        "smartpick_rules.rulesets.specialties",
        "smartpick_rules.rulesets.tests",
        "smartpick_rules.examples",  # examples/profiles at the repository's root
    }
    assert found | shipped == listed


def test_shipped_rule_sets_sit_at_the_repository_root() -> None:
    from smartpick_rules.ruleset.load import shipped_rulesets_path

    path = shipped_rulesets_path()
    assert (path / "base.toml").is_file()
    assert (path / "specialties").is_dir()
