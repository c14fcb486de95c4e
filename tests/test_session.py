"""``Session``: one rule set and one catalog compiled once, evaluated against many profiles.

Its results are ``evaluate()``'s byte for byte; it offers explain, why-not, what-if and levers
on the same compiled rule set; the ``Recommendation`` it returns is a value (equal, picklable)
whose live why-not stays with the evaluation that produced it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
from pathlib import Path

import pytest

import smartpick_rules as sr
from smartpick_rules.whatif import Evaluator, levers, whatif
from test_cli_support import DEFAULT_PROFILE, PROFILES, write_mini

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def catalog() -> sr.Catalog:
    return sr.load_catalog(ROOT / "examples" / "small_catalog.csv")


@pytest.fixture(scope="module")
def rules() -> sr.RuleSet:
    return sr.load_rules()


@pytest.fixture(scope="module")
def mini_rules(tmp_path_factory: pytest.TempPathFactory) -> sr.RuleSet:
    return sr.load_rules(write_mini(tmp_path_factory.mktemp("mini")))


@pytest.fixture(scope="module")
def session(rules: sr.RuleSet, catalog: sr.Catalog) -> sr.Session:
    return sr.Session(rules, catalog, as_of=2026)


@pytest.fixture(scope="module")
def profiles() -> list[sr.Profile]:
    return [sr.load_profile(p) for p in sorted(PROFILES.glob("*.toml"))]


# -- the same results as evaluate() -------------------------------------------------------------


def test_a_session_gives_evaluates_results_byte_for_byte(
    session: sr.Session, rules: sr.RuleSet, catalog: sr.Catalog, profiles: list[sr.Profile]
) -> None:
    for p in profiles:
        assert session.evaluate(p).to_json() == sr.evaluate(p, catalog, rules, as_of=2026).to_json()


def test_a_session_with_the_mini_rules_and_plain_data(mini_rules: sr.RuleSet, catalog: sr.Catalog) -> None:
    data = {"graduation_year": 2021, "step2_ck": {"score": 224}, "visa": "j1"}
    programs = [{"id": p.id, "name": p.name, "specialty": p.specialty.value, "state": p.state, "region": p.region.value,
                 "program_type": p.program_type.value, "sponsors_j1": p.sponsors_j1} for p in catalog.programs]
    s = sr.Session(mini_rules, programs, as_of=2026)
    assert len(s.catalog) == len(catalog)
    assert s.evaluate(data).to_json() == sr.evaluate(data, programs, mini_rules, as_of=2026).to_json()


def test_none_means_the_shipped_rule_sets(catalog: sr.Catalog, rules: sr.RuleSet) -> None:
    s = sr.Session(None, catalog, as_of=2026)
    assert [r.sha256 for r in s.rules.rulesets] == [r.sha256 for r in rules.rulesets]
    assert sr.Session(None, catalog).rules is s.rules  # loaded once per process


def test_the_session_compiles_once_and_is_ready_before_the_first_profile(catalog: sr.Catalog) -> None:
    rules = sr.load_rules()
    before = set(rules.compiled_cache())
    s = sr.Session(rules, catalog, as_of=2026)
    made = set(rules.compiled_cache())
    assert made - before  # planned and compiled by the constructor
    compiled = sr.compile_ruleset(rules, "native")  # the session's: cached on the rule set
    s.evaluate(sr.load_profile(DEFAULT_PROFILE))
    assert set(rules.compiled_cache()) == made  # evaluating compiles nothing more
    assert sr.compile_ruleset(rules, "native") is compiled
    assert sr.Session(rules, catalog).plan is s.plan  # a second session shares the rule set's plan


def test_shared_inputs_are_refused_when_the_session_is_made(rules: sr.RuleSet) -> None:
    with pytest.raises(sr.InputError) as info:
        sr.Session(rules, [{"id": "x"}])
    assert info.value.diagnostics[0].field_path is not None
    with pytest.raises(sr.InputError, match="as_of must be a year"):
        sr.Session(rules, [], as_of=1200)
    with pytest.raises(sr.EngineUnavailable, match="unknown engine `nope`"):
        sr.Session(rules, [], engine="nope")


def test_a_bad_profile_names_its_field(session: sr.Session) -> None:
    with pytest.raises(sr.InputError) as info:
        session.evaluate({"graduation_year": 2021, "step2_ck": {"score": "high"}})
    assert info.value.diagnostics[0].field_path == "$.step2_ck.score"


def test_as_of_none_is_the_year_of_each_call(catalog: sr.Catalog, rules: sr.RuleSet) -> None:
    s = sr.Session(rules, catalog)
    assert s.as_of == dt.date.today().year
    assert s.evaluate(sr.load_profile(DEFAULT_PROFILE)).provenance.as_of_year == dt.date.today().year
    assert sr.Session(rules, catalog, as_of=dt.date(2025, 7, 1)).as_of == 2025


def test_what_a_session_holds(session: sr.Session, catalog: sr.Catalog) -> None:
    assert session.engine == "native" and session.limits == sr.DEFAULT_LIMITS and session.as_of == 2026
    assert session.ids == tuple(p.id for p in catalog.programs)
    assert repr(session).startswith(f"<Session: {len(session.rules.rules):,} rules from {len(session.rules.rulesets)} rule sets (base, ")
    assert repr(session).endswith(f"; {len(catalog)} programs; engine native; as of 2026>")
    with pytest.raises(AttributeError):
        session.rules = sr.load_rules()  # type: ignore[misc]


# -- explain and why-not ---------------------------------------------------------------------------


def test_explain_takes_a_profile_or_a_recommendation(session: sr.Session) -> None:
    profile = sr.load_profile(DEFAULT_PROFILE)
    rec = session.evaluate(profile)
    pid = rec.chosen()[0].program.id
    text = session.explain(rec, pid)
    assert text == rec.explain(pid) == session.explain(profile, pid)
    assert "Rules that fired, in order:" in text and "Rules considered but not fired (why not):" in text
    assert session.why_not(profile, pid) == session.why_not(rec, pid) == rec.why_not(pid)
    with pytest.raises(KeyError):
        session.explain(rec, "no-such-program")


def test_a_result_read_from_json_explains_what_fired_only(session: sr.Session) -> None:
    rec = session.evaluate(sr.load_profile(DEFAULT_PROFILE))
    pid = rec.chosen()[0].program.id
    stored = sr.Recommendation.from_json(rec.to_json())
    text = session.explain(stored, pid)
    assert "Rules that fired, in order:" in text and "why not" not in text
    with pytest.raises(ValueError, match="why-not needs the live evaluation"):
        session.why_not(stored, pid)


# -- what-if and levers ----------------------------------------------------------------------------


def test_whatif_and_levers_are_the_modules_on_the_same_session(mini_rules: sr.RuleSet) -> None:
    big = sr.load_catalog(sr.sample_catalog_path())
    profile = sr.load_profile(DEFAULT_PROFILE)
    s = sr.Session(mini_rules, big, as_of=2026)
    ev = Evaluator(big, mini_rules, as_of=2026)  # the name whatif had; a Session with the catalog first
    assert isinstance(ev, sr.Session) and ev.rules is s.rules and ev.catalog is s.catalog
    res = s.whatif(profile, ["step2_ck.score=240"])
    assert res.to_dict() == whatif(ev, profile, ["step2_ck.score=240"]).to_dict()
    assert res.comparison.count("unexcluded") > 0
    assert res.before.to_json() == s.evaluate(profile).to_json()
    assert [r.to_dict() for r in s.levers(profile)] == [r.to_dict() for r in levers(ev, profile)]
    # the profile as plain data, as a service receives it
    plain = json.loads(json.dumps({"graduation_year": 2021, "step2_ck": {"score": 224}, "visa": "j1"}))
    assert s.whatif(plain, ["step2_ck.score=240"]).comparison.count("unexcluded") > 0


def test_outcomes_are_the_decisions_of_evaluate(session: sr.Session) -> None:
    profile = sr.load_profile(DEFAULT_PROFILE)
    o = session.outcomes(profile)
    rec = session.evaluate(profile)
    for i, pid in enumerate(session.ids):
        r = rec.get(pid)
        assert r is not None and o.tiers[i] == r.tier
        assert (None if o.excluded[i] else float(o.chance[i])) == r.chance


# -- a Recommendation is a value --------------------------------------------------------------------


def test_a_recommendation_pickles_as_its_value(session: sr.Session) -> None:
    rec = session.evaluate(sr.load_profile(DEFAULT_PROFILE))
    copied = pickle.loads(pickle.dumps(rec))
    assert copied == rec and copied is not rec
    assert copied.to_json() == rec.to_json()
    # the same value JSON gives back (schema 4 writes excluded programs as ids and exclusions,
    # so the comparison is of what JSON holds)
    assert sr.Recommendation.from_json(copied.to_json()) == sr.Recommendation.from_json(rec.to_json())
    pid = rec.chosen()[0].program.id
    with pytest.raises(ValueError, match="why-not needs the live evaluation"):
        copied.why_not(pid)
    rec.why_not(pid)  # the original keeps its live evaluation
    assert copy.deepcopy(rec) == rec


def test_the_provenance_fingerprints_are_computed_when_read_and_are_the_same(session: sr.Session) -> None:
    """``evaluate`` leaves the catalog's and the profile's fingerprints to their first read; the
    values (and whatever reads them: equality, pickles, copies, JSON) are those worked out at once."""
    from smartpick_rules.domain.converter import unstructure
    from smartpick_rules.runtime.audit import catalog_sha256, sha256_of

    profile = sr.load_profile(DEFAULT_PROFILE)
    fresh = session.evaluate(profile).provenance
    assert "catalog_sha256" not in vars(fresh) and "profile_sha256" not in vars(fresh)
    pickled = pickle.loads(pickle.dumps(fresh))  # computed for the pickle, not by it
    assert vars(pickled)["catalog_sha256"] == catalog_sha256(session.catalog)
    assert vars(pickled)["profile_sha256"] == sha256_of(unstructure(profile))
    assert pickled == fresh and hash(pickled) == hash(fresh) and repr(pickled) == repr(fresh)
    assert sorted(vars(fresh)) == sorted(vars(pickled))  # nothing of the deferral is left
    assert copy.copy(session.evaluate(profile).provenance) == fresh
    with pytest.raises(AttributeError):
        _ = fresh.no_such_field  # type: ignore[attr-defined]


def test_equal_inputs_give_equal_recommendations(session: sr.Session, profiles: list[sr.Profile]) -> None:
    a, b = session.evaluate(profiles[0]), session.evaluate(profiles[0])
    assert a == b
    assert a != session.evaluate(profiles[1])
