"""A pytest plugin that collects rule-test files (``*.test.toml``) as test items.

Each ``[[case]]`` of a suite is one pytest item, named after the case, so rule tests run under
``pytest`` beside the project's other tests, with pytest's selection (``-k``), reporting and
parallelism. Enable it with ``-p smartpick_rules.testing.pytest_plugin`` (it is also registered as the
``smartpick_rules`` entry point of the ``pytest11`` group, so installing the package enables it),
then point pytest at the files or folders::

    pytest -p smartpick_rules.testing.pytest_plugin rulesets/tests

A failing case reports every unmet expectation with the case's file and line. Rule sets are
loaded once per distinct set of rule paths and shared by the cases that test them.
``--smartpick-with-shipped`` loads the shipped rule sets as well, for suites that test a custom
rule set extending them.

``--smartpick-properties`` also collects one item per ``[[property]]`` the suite's rule sets
declare (docs/properties.md), checked with ``--smartpick-examples`` generated profiles (default
25) against ``--smartpick-catalog`` (default: the shipped sample catalog); a counterexample
fails the item with its report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..errors import SmartpickError
from ..language.ir import Property, RuleSet
from .suite import RuleTestCase, TestSuite, load_suite, run_case

__all__ = ["PropertyItem", "RuleCaseItem", "RuleSuiteFile"]

_RULES_CACHE = pytest.StashKey[dict[tuple[tuple[str, ...], bool], RuleSet]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smartpick-rules", "rule tests (*.test.toml)")
    group.addoption(
        "--smartpick-with-shipped",
        action="store_true",
        default=False,
        help="load the shipped rule sets as well as each suite's own rule paths",
    )
    group.addoption(
        "--smartpick-properties",
        action="store_true",
        default=False,
        help="also check the [[property]] tables of each suite's rule sets, one item per property",
    )
    group.addoption("--smartpick-examples", type=int, default=25, help="generated profiles per property (default: 25)")
    group.addoption("--smartpick-catalog", default=None, help="the catalog properties are checked against (default: the shipped sample)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(".test.toml"):
        return RuleSuiteFile.from_parent(parent, path=file_path)
    return None


class RuleTestFailure(Exception):
    """The expectations a case did not meet."""

    def __init__(self, case: RuleTestCase, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.case = case
        self.lines = lines


class RuleSuiteFile(pytest.File):
    """One ``*.test.toml`` file: its cases are the items."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            suite = load_suite(self.path)
        except SmartpickError as exc:
            raise self.CollectError(f"{self.path}: cannot load the rule tests: {exc.first_line()}") from None
        seen: dict[str, int] = {}
        for case in suite.cases:
            name = case.name
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} [{seen[name]}]"
            yield RuleCaseItem.from_parent(self, name=name, suite=suite, case=case)
        if self.config.getoption("smartpick_properties", default=False):
            try:
                rules = _load(self.config, suite)
            except SmartpickError as exc:
                raise self.CollectError(f"{self.path}: the rule sets under test do not load: {exc.first_line()}") from None
            roots = [Path(p).resolve() for p in suite.rules_paths]
            for prop in rules.properties:
                here = Path(prop.loc.file).resolve()
                if any(here == r or here.is_relative_to(r) for r in roots):
                    yield PropertyItem.from_parent(self, name=f"property {prop.id}", rules=rules, prop=prop, as_of=suite.as_of)


def _load(config: pytest.Config, suite: TestSuite) -> RuleSet:
    from ..ruleset.load import load_rules, shipped_rulesets_path

    with_shipped = bool(config.getoption("smartpick_with_shipped", default=False))
    cache = config.stash.setdefault(_RULES_CACHE, {})
    key = (suite.rules_paths, with_shipped)
    rs = cache.get(key)
    if rs is None:
        paths: list[str | Path] = [*suite.rules_paths]
        if with_shipped:
            paths.insert(0, shipped_rulesets_path())
        rs = load_rules(*paths)
        cache[key] = rs
    return rs


class PropertyItem(pytest.Item):
    """One ``[[property]]`` of the rule sets a suite tests, searched for a counterexample."""

    def __init__(self, *, rules: RuleSet, prop: Property, as_of: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rules = rules
        self.prop = prop
        self.as_of = as_of

    def runtest(self) -> None:
        from .properties import check_properties, example_profiles, render_violation

        examples = int(self.config.getoption("smartpick_examples", default=25))
        catalog = self.config.getoption("smartpick_catalog", default=None)
        report = check_properties(
            self.rules, catalog, examples=examples, properties=[self.prop], starts=example_profiles(), as_of=self.as_of
        )
        (result,) = report.results
        if result.status == "failed" and result.violation is not None:
            raise PropertyFailure(render_violation(self.prop, result.violation).splitlines())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, PropertyFailure):
            head = f"{self.prop.loc}: property failed: {self.prop.id}"
            return "\n".join([head, *(f"  {line}" for line in excinfo.value.lines)])
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return Path(self.prop.loc.file), (self.prop.loc.line - 1) if self.prop.loc.line else None, f"property: {self.prop.id}"


class PropertyFailure(Exception):
    """A counterexample, as report lines."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class RuleCaseItem(pytest.Item):
    """One ``[[case]]``."""

    def __init__(self, *, suite: TestSuite, case: RuleTestCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case

    def _rules(self) -> RuleSet:
        return _load(self.config, self.suite)

    def runtest(self) -> None:
        try:
            rules = self._rules()
        except SmartpickError as exc:
            raise RuleTestFailure(self.case, [f"the rule sets under test do not load: {exc.first_line()}"]) from None
        result, _rec = run_case(self.case, rules, self.suite.as_of)
        if result.error:
            raise RuleTestFailure(self.case, [result.error])
        if result.failures:
            raise RuleTestFailure(self.case, list(result.failures))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, RuleTestFailure):
            head = f"{self.case.location}: rule test failed: {self.case.name}"
            return "\n".join([head, *(f"  {line}" for line in excinfo.value.lines)])
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.case.location.line - 1 if self.case.location.line else None
        return self.path, line, f"rule test: {self.case.name}"
