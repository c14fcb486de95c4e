from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fixtures
import smartpick_rules as sr


# Session-scoped: with pytest-xdist each worker loads these once, not once per module.
@pytest.fixture(scope="session")
def shipped_rules() -> sr.RuleSet:
    return fixtures.shipped_rules()


@pytest.fixture(scope="session")
def small_catalog() -> sr.Catalog:
    return fixtures.small_catalog()


@pytest.fixture(scope="session")
def sample_catalog() -> sr.Catalog:
    return fixtures.sample_catalog()


@pytest.fixture(scope="session")
def default_profile() -> sr.Profile:
    return fixtures.default_profile()
