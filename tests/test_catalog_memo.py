"""Values that depend only on the catalog are computed once per catalog and give what computing
them again gives (``language/vector.py``, ``_catalog_memo``).

A rule set asks the same questions of the catalog for every applicant (``program.img_share >
0.3``); the program stage keeps those answers with the catalog's columns. What must hold: an
evaluation against a catalog that earlier evaluations warmed equals one against a fresh copy,
byte for byte; the work meter is charged the same either way, so whether ``Limits.max_work``
stops an evaluation never depends on what ran before; the kept arrays cannot be changed; the
store stays within its bound; the list stage, whose ``program.*`` includes this evaluation's
chances, keeps nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import numpy as np
import pytest

import smartpick_rules as sr
from smartpick_rules.domain.converter import converter
from smartpick_rules.language import vector
from smartpick_rules.language.interp import WorkMeter
from smartpick_rules.ruleset.load import load_rules_from_text
from smartpick_rules.runtime import session as session_module

ROOT = Path(__file__).resolve().parent.parent
PROFILES = sorted((ROOT / "examples" / "profiles").glob("*.toml"))


def _fresh(catalog: sr.Catalog) -> sr.Catalog:
    """The same programs as a new catalog object: nothing computed for it yet."""
    return sr.catalog_from_data([converter.unstructure(p) for p in catalog.programs])


def _store(catalog: sr.Catalog) -> vector.NodeStore:
    store = catalog.column_cache().get("nodes")
    return store if isinstance(store, vector.NodeStore) else vector.NodeStore()


@contextmanager
def _meters(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[WorkMeter]]:
    """Every evaluation's work meter, as ``evaluate`` opens it."""
    seen: list[WorkMeter] = []
    real = session_module.metered

    @contextmanager
    def spy(limit: int) -> Iterator[WorkMeter]:
        with real(limit) as meter:
            seen.append(meter)
            yield meter

    with monkeypatch.context() as m:
        m.setattr(session_module, "metered", spy)
        yield seen


def test_a_warm_catalog_gives_what_a_fresh_one_gives(shipped_rules: sr.RuleSet, small_catalog: sr.Catalog) -> None:
    warm = _fresh(small_catalog)
    profiles = [sr.load_profile(p) for p in PROFILES]
    # every profile once, so the store holds what all of them asked, then each again
    for prof in profiles:
        sr.evaluate(prof, warm, shipped_rules, as_of=2026)
    assert len(_store(warm).values) > 10
    for prof in profiles:
        again = sr.evaluate(prof, warm, shipped_rules, as_of=2026).to_json()
        assert again == sr.evaluate(prof, _fresh(small_catalog), shipped_rules, as_of=2026).to_json()


def test_another_year_is_another_value(small_catalog: sr.Catalog) -> None:
    # years_since() reads the evaluation's year: a value kept for 2026 is not 2030's
    rules = load_rules_from_text([("years.toml", YEAR_RULES)])
    prof = sr.profile_from_data({"graduation_year": 2019, "visa": "none"})
    warm = _fresh(small_catalog)
    for year in (2026, 2030, 2026):
        got = sr.evaluate(prof, warm, rules, as_of=year).to_json()
        assert got == sr.evaluate(prof, _fresh(small_catalog), rules, as_of=year).to_json()


YEAR_RULES = """
[ruleset]
name = "years"
version = "1"

[[rule]]
id = "years.old_program"
stage = "program"
when = "years_since(2000 + program.positions) > 15"
then = { odds = 0.5 }
"""


def test_work_is_charged_the_same_cold_and_warm(monkeypatch: pytest.MonkeyPatch, shipped_rules: sr.RuleSet, small_catalog: sr.Catalog) -> None:
    prof = sr.load_profile(ROOT / "examples" / "profiles" / "default.toml")
    cat = _fresh(small_catalog)
    with _meters(monkeypatch) as seen:
        sr.evaluate(prof, cat, shipped_rules, as_of=2026)
        sr.evaluate(prof, cat, shipped_rules, as_of=2026)
        sr.evaluate(prof, _fresh(small_catalog), shipped_rules, as_of=2026)
    cold, warm, cold_again = (m.used for m in seen)
    assert cold == warm == cold_again > 0
    # so the limit stops both or neither, whatever ran before
    for limit, ok in ((cold - 1, False), (cold, True)):
        limits = attrs.evolve(sr.DEFAULT_LIMITS, max_work=limit)
        for catalog in (_fresh(small_catalog), cat):
            if ok:
                sr.evaluate(prof, catalog, shipped_rules, as_of=2026, limits=limits)
            else:
                with pytest.raises(sr.EvaluationError) as info:
                    sr.evaluate(prof, catalog, shipped_rules, as_of=2026, limits=limits)
                assert info.value.code == "budget_exceeded"


def test_a_runaway_node_is_stopped_while_it_is_computed(monkeypatch: pytest.MonkeyPatch, small_catalog: sr.Catalog) -> None:
    # computing a kept value charges the evaluation's meter as it goes: its limit stops the work
    # before the value is complete, and nothing half-done is kept
    rules = load_rules_from_text([("years.toml", YEAR_RULES)])
    prof = sr.profile_from_data({"graduation_year": 2019, "visa": "none"})
    cat = _fresh(small_catalog)
    with pytest.raises(sr.EvaluationError):
        sr.evaluate(prof, cat, rules, as_of=2026, limits=attrs.evolve(sr.DEFAULT_LIMITS, max_work=1))
    assert not _store(cat).values


def test_kept_values_are_read_only(shipped_rules: sr.RuleSet, small_catalog: sr.Catalog) -> None:
    cat = _fresh(small_catalog)
    sr.evaluate(sr.load_profile(PROFILES[0]), cat, shipped_rules, as_of=2026)
    arrays = _store(cat).arrays()
    assert arrays
    for a in arrays:
        with pytest.raises(ValueError, match="read-only"):
            a[...] = a


def test_the_store_keeps_within_its_bound(monkeypatch: pytest.MonkeyPatch, shipped_rules: sr.RuleSet, small_catalog: sr.Catalog) -> None:
    n = len(small_catalog)
    monkeypatch.setattr(vector, "CATALOG_MEMO_ELEMENTS", 6 * n)
    cat = _fresh(small_catalog)
    for path in PROFILES[:4]:
        prof = sr.load_profile(path)
        got = sr.evaluate(prof, cat, shipped_rules, as_of=2026).to_json()
        store = _store(cat)
        assert store.elements <= 6 * n
        assert got == sr.evaluate(prof, _fresh(small_catalog), shipped_rules, as_of=2026).to_json()


LIST_RULES = """
[ruleset]
name = "list_reads"
version = "1"

[[rule]]
id = "list_reads.big"
stage = "program"
when = ["applicant.visa == 'j1'", "program.positions > 5"]
then = { odds = 8 }

[[rule]]
id = "list_reads.count"
stage = "list"
when = "count(list.programs, item.chance > 0.1 and item.positions > 5) >= 1"
then = { advice = "{count(list.programs, item.chance > 0.1 and item.positions > 5)} programs above 10%" }
"""


def test_the_list_stage_keeps_nothing_across_evaluations(small_catalog: sr.Catalog) -> None:
    # item.chance > 0.1 is program.chance over the list's columns: this evaluation's, never kept
    rules = load_rules_from_text([("list_reads.toml", LIST_RULES)])
    j1 = sr.profile_from_data({"graduation_year": 2019, "visa": "j1"})
    none = sr.profile_from_data({"graduation_year": 2019, "visa": "none"})
    cat = _fresh(small_catalog)
    first = sr.evaluate(j1, cat, rules, as_of=2026)
    second = sr.evaluate(none, cat, rules, as_of=2026)
    assert [a.message for a in first.advice] != [a.message for a in second.advice]
    assert second.to_json() == sr.evaluate(none, _fresh(small_catalog), rules, as_of=2026).to_json()
    assert first.to_json() == sr.evaluate(j1, _fresh(small_catalog), rules, as_of=2026).to_json()


def test_equal_nodes_of_other_rule_sets_share_one_value(small_catalog: sr.Catalog) -> None:
    cat = _fresh(small_catalog)
    prof = sr.profile_from_data({"graduation_year": 2019, "visa": "none"})
    sr.evaluate(prof, cat, load_rules_from_text([("years.toml", YEAR_RULES)]), as_of=2026)
    before = dict(_store(cat).values)
    other = YEAR_RULES.replace('name = "years"', 'name = "other"').replace("years.old_program", "other.rule")
    sr.evaluate(prof, cat, load_rules_from_text([("other.toml", other)]), as_of=2026)
    after = _store(cat).values
    assert set(after) == set(before)
    assert all(after[k] is before[k] for k in before)
    assert np.all([isinstance(k, tuple) for k in after])


def test_a_pickled_catalog_leaves_the_kept_answers_behind(shipped_rules: sr.RuleSet, small_catalog: sr.Catalog) -> None:
    import pickle

    cat = _fresh(small_catalog)
    prof = sr.load_profile(PROFILES[0])
    before = sr.evaluate(prof, cat, shipped_rules, as_of=2026).to_json()
    assert _store(cat).values
    again = pickle.loads(pickle.dumps(cat))
    assert not _store(again).values
    assert sr.evaluate(prof, again, shipped_rules, as_of=2026).to_json() == before
