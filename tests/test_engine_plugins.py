"""Engines are plugins: entry points in the group ``smartpick_rules.engines``.

A fake third-party distribution (a ``.dist-info`` folder with ``entry_points.txt`` on
``sys.path``, which is all ``importlib.metadata`` reads) registers engines; ``engine="NAME"``
picks one, and broken ones are refused with the entry point and distribution named.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import smartpick_rules as sr
from smartpick_rules.engines import (
    ENTRY_POINT_GROUP,
    available_engines,
    get_engine,
    reload_engines,
    unavailable_engines,
)
from smartpick_rules.engines.native import NativeEngine
from test_cli_support import DEFAULT_PROFILE, PROFILES, one_clear_line, run_main

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = '''
"""A third-party engine: the native engine's decisions, counted (what a plugin author writes)."""

from smartpick_rules.engines.native import NativeEngine

CALLS = {"compile": 0, "run_profile": 0, "run_program": 0, "run_list": 0}


class CountingEngine:
    name = "counting"

    def __init__(self):
        self._inner = NativeEngine()

    def compile(self, plan, limits):
        CALLS["compile"] += 1
        return self._inner.compile(plan, limits)

    def run_profile(self, compiled, scope, budget):
        CALLS["run_profile"] += 1
        return self._inner.run_profile(compiled, scope, budget)

    def run_program(self, compiled, scope, catalog, budget, context=None, only=None):
        CALLS["run_program"] += 1
        return self._inner.run_program(compiled, scope, catalog, budget, context, only)

    def run_list(self, compiled, scope, budget):
        CALLS["run_list"] += 1
        return self._inner.run_list(compiled, scope, budget)


def make_counting():
    """A factory, the other thing an entry point may name."""
    engine = CountingEngine()
    engine.name = "factory"
    return engine


class NotAnEngine:
    name = "notanengine"

    def compile(self, plan, limits):
        return plan


class NeedsAService:
    name = "needsservice"

    @staticmethod
    def unavailable_reason():
        return "needsservice needs a rules server; set RULES_SERVER, or use engine=\\"native\\""

    compile = run_profile = run_program = run_list = CountingEngine.compile


class ExplodesOnStart:
    name = "explodes"

    def __init__(self):
        raise RuntimeError("no licence key")
'''

ENTRY_POINTS = """
[smartpick_rules.engines]
counting = fake_engine_plugin:CountingEngine
factory = fake_engine_plugin:make_counting
broken = fake_engine_plugin_that_is_not_there:Engine
notanengine = fake_engine_plugin:NotAnEngine
misnamed = fake_engine_plugin:CountingEngine
needsservice = fake_engine_plugin:NeedsAService
explodes = fake_engine_plugin:ExplodesOnStart
"""


def _distribution(root: Path, name: str, entry_points: str) -> None:
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points), encoding="utf-8")


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fake distribution ``fake-smartpick-engines 1.0`` installed on ``sys.path``."""
    (tmp_path / "fake_engine_plugin.py").write_text(PLUGIN, encoding="utf-8")
    _distribution(tmp_path, "fake-smartpick-engines", ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    reload_engines()
    yield tmp_path
    sys.modules.pop("fake_engine_plugin", None)
    reload_engines()  # the next lookup reads the entry points without the fake distribution


@pytest.fixture(scope="module")
def catalog() -> sr.Catalog:
    return sr.load_catalog(ROOT / "examples" / "small_catalog.csv")


@pytest.fixture(scope="module")
def profile() -> sr.Profile:
    return sr.load_profile(DEFAULT_PROFILE)


def test_this_package_registers_its_engines_as_entry_points() -> None:
    """The native and durable engines are found the way a third party's is: through the group."""
    points = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert points["native"].value == "smartpick_rules.engines.native:NativeEngine"
    assert points["durable"].value == "smartpick_rules.engines.durable:DurableEngine"
    assert points["native"].dist is not None and points["native"].dist.name == "smartpick-rules"
    assert points["native"].load() is NativeEngine
    assert isinstance(get_engine("native"), NativeEngine)
    assert available_engines()[0] == "native"


def test_a_third_party_engine_is_picked_by_name(plugins: Path, catalog: sr.Catalog, profile: sr.Profile) -> None:
    rules = sr.load_rules()
    native = sr.evaluate(profile, catalog, rules, as_of=2026)
    counted = sr.evaluate(profile, catalog, rules, as_of=2026, engine="counting")
    calls = sys.modules["fake_engine_plugin"].CALLS
    assert calls["compile"] == 1 and calls["run_profile"] >= 1 and calls["run_program"] >= 1 and calls["run_list"] >= 1
    assert counted.provenance.engine == "counting"
    # the engine decides which rules fire; everything else is shared code: the same result
    assert counted.to_json() == native.to_json().replace('"engine": "native"', '"engine": "counting"')
    session = sr.Session(rules, catalog, engine="counting", as_of=2026)
    assert session.engine == "counting"
    assert session.evaluate(profile).to_json() == counted.to_json()
    assert calls["compile"] == 1  # compiled once, cached on the rule set
    assert {"counting", "factory", "needsservice"} - {"needsservice"} <= set(available_engines())


def test_an_entry_point_may_name_a_factory(plugins: Path) -> None:
    engine = get_engine("factory")
    assert engine.name == "factory" and type(engine).__name__ == "CountingEngine"
    assert get_engine("factory") is engine  # loaded once per process


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("broken", "failed to load: ModuleNotFoundError: No module named 'fake_engine_plugin_that_is_not_there'"),
        ("notanengine", "is not an Engine: it has no run_profile, run_program, run_list"),
        ("misnamed", "calls itself 'counting', not 'misnamed'"),
        ("explodes", "failed to start: RuntimeError: no licence key"),
    ],
)
def test_a_broken_plugin_is_refused_naming_it(plugins: Path, catalog: sr.Catalog, profile: sr.Profile, name: str, says: str) -> None:
    with pytest.raises(sr.EngineUnavailable) as info:
        sr.evaluate(profile, catalog, as_of=2026, engine=name)
    message = str(info.value)
    assert f"engine plugin `{name} = fake_engine_plugin" in message
    assert "(fake-smartpick-engines 1.0)" in message
    assert says in message
    assert info.value.code == "engine_unavailable"
    # listed as unavailable, with the same reason; never among the engines that run
    assert name not in available_engines()
    assert says in unavailable_engines()[name]


def test_an_engine_that_cannot_run_here_says_why(plugins: Path, catalog: sr.Catalog) -> None:
    with pytest.raises(sr.EngineUnavailable, match="needs a rules server; set RULES_SERVER"):
        sr.Session(None, catalog, engine="needsservice")
    assert "needsservice" not in available_engines()


def test_an_unknown_engine_lists_the_engines_that_run_and_the_group(plugins: Path, catalog: sr.Catalog) -> None:
    with pytest.raises(sr.EngineUnavailable) as info:
        sr.Session(None, catalog, engine="rete2000")
    d = info.value.diagnostics[0]
    assert d.message == "unknown engine `rete2000`"
    assert d.help is not None and d.help.startswith(f"engines: {', '.join(available_engines())};")
    assert "counting" in d.help and "broken" not in d.help and ENTRY_POINT_GROUP in d.help
    # names come from callers: an unknown one is not remembered
    from smartpick_rules import engines

    assert "rete2000" not in engines._loaded


def test_two_distributions_claiming_one_name_are_refused(plugins: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path_factory.mktemp("other")
    _distribution(other, "another-engine-pack", "[smartpick_rules.engines]\ncounting = fake_engine_plugin:CountingEngine\n")
    monkeypatch.syspath_prepend(str(other))
    importlib.invalidate_caches()
    reload_engines()
    with pytest.raises(sr.EngineUnavailable) as info:
        get_engine("counting")
    message = str(info.value)
    assert "registered more than once" in message
    assert "another-engine-pack 1.0" in message and "fake-smartpick-engines 1.0" in message
    assert "counting" not in available_engines() and "native" in available_engines()


def test_the_registry_is_read_once_until_reloaded(plugins: Path) -> None:
    get_engine("counting")
    (plugins / "fake_smartpick_engines-1.0.dist-info" / "entry_points.txt").write_text(
        "[smartpick_rules.engines]\nrenamed = fake_engine_plugin:CountingEngine\n", encoding="utf-8"
    )
    assert "counting" in available_engines()  # cached: the metadata is not read again per call
    reload_engines()
    importlib.invalidate_caches()
    assert "counting" not in available_engines()


def test_the_cli_takes_a_plugin_engine(plugins: Path) -> None:
    small = ROOT / "examples" / "small_catalog.csv"
    run = run_main("evaluate", DEFAULT_PROFILE, "--catalog", small, "--engine", "counting", "--as-of", "2026", "--format", "json")
    assert run.code == 0, run.err
    assert '"engine": "counting"' in run.out
    line = one_clear_line(run_main("evaluate", DEFAULT_PROFILE, "--engine", "broken", "--as-of", "2026"))
    assert "engine plugin `broken = fake_engine_plugin_that_is_not_there:Engine` (fake-smartpick-engines 1.0) failed to load" in line


def test_a_new_process_finds_an_installed_plugin(plugins: Path) -> None:
    """No reload, no registration call: installing the distribution is all it takes."""
    code = (
        "import smartpick_rules as sr\n"
        "print(sr.available_engines())\n"
        "rec = sr.evaluate(sr.load_profile(sr.example_profile_path('default')), "
        "sr.load_catalog(sr.sample_catalog_path())[:50], as_of=2026, engine='counting')\n"
        "print(rec.provenance.engine, len(rec.chosen()) > 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    engines, used = proc.stdout.splitlines()
    assert engines.startswith("['native'") and "'counting'" in engines and "'broken'" not in engines
    assert used == "counting True"


def _docs_plugin() -> str:
    """The plugin module docs/engines.md shows under "Writing an engine plugin"."""
    section = (ROOT / "docs" / "engines.md").read_text(encoding="utf-8").split("## Writing an engine plugin", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "docs/engines.md shows one plugin module"
    return blocks[0]


@pytest.fixture
def docs_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "smartpick_rowwise.py").write_text(_docs_plugin(), encoding="utf-8")
    _distribution(tmp_path, "smartpick-rowwise", "[smartpick_rules.engines]\nrowwise = smartpick_rowwise:RowwiseEngine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    reload_engines()
    yield
    sys.modules.pop("smartpick_rowwise", None)
    reload_engines()


def test_the_plugin_in_the_docs_gives_the_native_results(docs_plugin: None, catalog: sr.Catalog) -> None:
    rules = sr.load_rules()
    native = sr.Session(rules, catalog, as_of=2026)
    rowwise = sr.Session(rules, catalog, as_of=2026, engine="rowwise")
    assert "rowwise" in available_engines()
    for path in sorted(PROFILES.glob("*.toml")):
        profile = sr.load_profile(path)
        want = native.evaluate(profile).to_json().replace('"engine": "native"', '"engine": "rowwise"')
        assert rowwise.evaluate(profile).to_json() == want, path.name
