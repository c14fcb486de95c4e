from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fixtures
import smartpick_rules as sr

# The command line keeps parsed rule files in the user's cache folder (ruleset.cache): the
# tests' commands, in process and in subprocesses, keep theirs in a folder of this run.
_CACHE = tempfile.mkdtemp(prefix="smartpick-tests-cache-")
atexit.register(shutil.rmtree, _CACHE, True)
os.environ["SMARTPICK_RULES_CACHE_DIR"] = _CACHE
os.environ.pop("SMARTPICK_RULES_NO_CACHE", None)


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
