"""The builtin functions are defined once (language/functions.py) and every part that knows them
reads that definition: each evaluator handles each builtin, with the same values; the checker,
the lints, the docs and the JSON Schema know every builtin; and no other module keeps a list
of function names of its own.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smartpick_rules as sr
from fixtures import UNPLACED_PROGRAM, catalog
from smartpick_rules.analysis.check import check_expression
from smartpick_rules.analysis.lint import expr_range
from smartpick_rules.engines.durable import durable_unavailable_reason
from smartpick_rules.language.expr import Call, iter_nodes, parse_expression, program_nodes, to_source
from smartpick_rules.language.facts import ListFacts, ListItem
from smartpick_rules.language.functions import BUILTINS, Durable, Fold, Presence, Strict, TagTest
from smartpick_rules.language.interp import ScalarCompiler, Scope, evaluate_expr
from smartpick_rules.language.vector import ListColumns, ProgramColumns, VectorEvaluator
from smartpick_rules.ruleset.json_schema import rule_file_schema
from smartpick_rules.ruleset.load import load_rules_from_text

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "smartpick_rules"
REGISTRY = SRC / "language" / "functions.py"

#: per builtin, a program-stage expression calling it that reads the program, so the
#: vectorised evaluator computes the call itself rather than a constant. A new builtin without
#: a case here fails test_every_builtin_has_a_case.
PROGRAM_CASES: dict[str, list[str]] = {
    "has": ['has("big")', 'has("everywhere")', 'not has("big")'],
    "known": ["known(program.min_step2_ck)", "known(program.img_share)", "known(program.region)", "known(program.tags)"],
    "count": [
        "count(applicant.usce, item.months >= program.positions / 4)",
        'count(applicant.usce, item.region == program.region)',
    ],
    "total": [
        "total(applicant.usce, item.months * program.positions)",
        'total(applicant.usce, item.months, item.region != program.region)',
    ],
    "any": ["any(applicant.usce, item.months > program.positions)", 'any(applicant.usce, item.region == program.region)'],
    "all": ["all(applicant.usce, item.months > program.positions)", "all(applicant.usce, item.months <= program.img_share * 10)"],
    "len": ["len(program.tags)", "len(program.region)"],
    "min": ["min(program.positions, 6)", "min(program.min_step2_ck, applicant.step2_ck.score, 245)"],
    "max": ["max(program.positions, 6)", "max(program.img_share, 0.3)"],
    "abs": ["abs(program.positions - 6)", "abs(program.img_share - 0.5)"],
    "exp": ["exp(program.positions / 3)", "exp((applicant.step2_ck.score - program.min_step2_ck) / 10)"],
    "years_since": ["years_since(program.positions + 2015)", "years_since(program.min_step2_ck * 9)"],
}

#: per collection function, list-stage calls over list.programs (computed over columns)
LIST_CASES: dict[str, list[str]] = {
    "count": ["count(list.programs)", "count(list.programs, item.positions > 4)", 'count(list.programs, known(item.min_step2_ck))'],
    "total": ["total(list.programs, item.positions)", "total(list.programs, item.img_share, item.positions > 3)"],
    "any": ["any(list.programs, item.img_share > 0.4)", 'any(list.programs, item.region == "kern")'],
    "all": ["all(list.programs, item.img_share > 0.1)", "all(list.programs, item.positions >= 0)"],
}

program_data = st.fixed_dictionaries(
    {
        "region": st.sampled_from(["la_county", "kern", "out_of_state"]),
        "min_step2_ck": st.one_of(st.none(), st.integers(200, 250)),
        "positions": st.integers(0, 12),
        "img_share": st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 1.0])),
        "tags": st.lists(st.sampled_from(["img_friendly", "safety_net"]), unique=True),
    }
)


def _catalog(programs: list[dict[str, Any]]) -> sr.Catalog:
    return catalog(*programs, base=UNPLACED_PROGRAM)


def _profile(step2: int | None) -> sr.Profile:
    return sr.profile_from_data(
        {
            "graduation_year": 2019,
            "step2_ck": {"score": step2} if step2 is not None else None,
            "usce": [
                {"kind": "hands_on", "region": "kern", "months": 2},
                {"kind": "observership", "region": "la_county", "months": 5},
            ],
        }
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


# --- no second list -------------------------------------------------------------------------------


def _violations(path: Path) -> list[str]:
    """Places in ``path`` that define or test builtin names themselves."""
    names = set(BUILTINS)
    out: list[str] = []
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def strings(node: ast.AST) -> list[str]:
        return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]

    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "func" for s in sides):
                found = [v for s in sides for v in strings(s)]
                if found:
                    out.append(f"{where}: compares a call's function with {found}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Call":
            if node.args and isinstance(node.args[0], ast.Constant):
                out.append(f"{where}: builds a call of {node.args[0].value!r} by name")
        elif isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in names]
            if len(keys) >= 3:
                out.append(f"{where}: a table keyed by function names {keys}")
        elif isinstance(node, ast.Set | ast.Tuple | ast.List):
            items = [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in names]
            if len(items) >= 3:
                out.append(f"{where}: a list of function names {items}")
    return out


def test_nothing_else_defines_builtin_names() -> None:
    found = [v for p in sorted(SRC.rglob("*.py")) if p != REGISTRY for v in _violations(p)]
    assert not found, "builtin functions are defined in language/functions.py only:\n" + "\n".join(found)


def test_the_scan_finds_a_second_list(tmp_path: Path) -> None:
    # the scan above is only worth something if it sees the forms a second list takes
    bad = tmp_path / "second_list.py"
    bad.write_text(
        'COLLECTIONS = frozenset({"count", "total", "any", "all"})\n'
        'HELP = {"has": 1, "known": 1, "count": 2}\n'
        'def f(e):\n    return e.func == "has"\n'
        'def g(a):\n    return Call("any", (a,))\n',
        encoding="utf-8",
    )
    assert len(_violations(bad)) == 4


# --- every evaluator handles every builtin --------------------------------------------------------


def test_every_builtin_has_a_case() -> None:
    assert set(PROGRAM_CASES) == set(BUILTINS)
    assert set(LIST_CASES) == {name for name, spec in BUILTINS.items() if isinstance(spec.impl, Fold)}


def test_every_builtin_is_complete() -> None:
    for name, spec in BUILTINS.items():
        assert spec.name == name
        assert spec.forms and all(f.startswith(name + "(") for f in spec.forms), name
        assert spec.doc and "\n" not in spec.doc, name
        assert spec.returns in ("bool", "int", "float", "mixed"), name
        assert isinstance(spec.durable, Durable), name
        impl = spec.impl
        hooks: tuple[object, ...]
        if isinstance(impl, Fold):
            hooks = (impl.scalar, impl.vector, impl.columns)
        elif isinstance(impl, TagTest | Presence | Strict):
            hooks = (impl.scalar, impl.vector)
        else:
            raise AssertionError(f"{name}: unknown kind {impl!r}")
        assert all(callable(h) for h in hooks), name


@pytest.mark.parametrize("name", sorted(PROGRAM_CASES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(programs=st.lists(program_data, min_size=1, max_size=6), step2=st.one_of(st.none(), st.integers(190, 260)), tagged=st.data())
def test_scalar_compiled_and_vector_agree(name: str, programs: list[dict[str, Any]], step2: int | None, tagged: st.DataObject) -> None:
    catalog = _catalog(programs)
    n = len(catalog)
    big = np.array(tagged.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=np.bool_)
    scope = Scope(applicant=_profile(step2), tags=frozenset({"everywhere"}), as_of_year=2026)
    ev = VectorEvaluator(ProgramColumns(catalog), scope, {"big": big}, lambda i: frozenset({"everywhere", "big"} if big[i] else {"everywhere"}))
    compiler = ScalarCompiler()
    for text in PROGRAM_CASES[name]:
        e = parse_expression(text)
        assert any(isinstance(x, Call) and x.func == name for x in iter_nodes(e)), text
        # "everywhere" counts as a program-stage tag too, so has() of a tag the profile set is vectorised
        nodes = frozenset(program_nodes(e, frozenset({"big", "everywhere"})))
        assert id(e) in nodes, f"{text} does not read the program"
        vector = ev.as_obj(ev.ev_in(e, nodes))
        for i, p in enumerate(catalog.programs):
            row = attrs.evolve(scope, program=p, tags=scope.tags | ({"big"} if big[i] else set()))
            slow = evaluate_expr(e, row)
            fast = compiler(e)(row)
            assert _same(slow, fast) and type(slow) is type(fast), (text, slow, fast)
            want = None if slow is None else (float(slow) if isinstance(slow, int | float) and not isinstance(slow, bool) else slow)
            assert _same(vector[i], want), (text, i, vector[i], slow)


@pytest.mark.parametrize("name", sorted(LIST_CASES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs=st.lists(program_data, min_size=1, max_size=8))
def test_list_columns_agree_with_the_interpreter(name: str, programs: list[dict[str, Any]]) -> None:
    catalog = _catalog(programs)
    items = tuple(ListItem(p, 0.1, "reach", False, 0.0, ()) for p in catalog.programs)
    order = np.arange(len(catalog))[::-1]
    items = tuple(items[i] for i in order)
    facts = ListFacts(items, len(items), 0, 0, 0, len(items), 0, len(items), 0)
    columns = ListColumns(catalog, {}, order)
    scope = Scope(applicant=_profile(230), list=attrs.evolve(facts, columns=columns), as_of_year=2026)
    plain = Scope(applicant=_profile(230), list=facts, as_of_year=2026)
    for text in LIST_CASES[name]:
        e = parse_expression(text)
        assert isinstance(e, Call) and e.func == name
        over_columns = columns.collection(e, scope)
        assert over_columns is not NotImplemented, text
        item_by_item = evaluate_expr(e, plain)
        assert _same(over_columns, item_by_item) and type(over_columns) is type(item_by_item), (text, over_columns, item_by_item)
        assert _same(evaluate_expr(e, scope), item_by_item)


DURABLE = durable_unavailable_reason()


@pytest.mark.durable
@pytest.mark.skipif(DURABLE is not None, reason=f"durable engine unavailable: {DURABLE}")
def test_the_durable_engine_computes_every_builtin_as_native_does() -> None:
    rules = ['[ruleset]\nname = "fns"\n']
    rules.append('[[rule]]\nid = "fns.big"\nstage = "program"\nwhen = "program.positions > 5"\nthen = { tag = "big" }\n')
    rules.append('[[rule]]\nid = "fns.everywhere"\nstage = "profile"\nwhen = "true"\nthen = { tag = "everywhere" }\n')
    k = 0
    for name, cases in PROGRAM_CASES.items():
        for text in cases:
            spec = BUILTINS[name]
            cond = text if spec.returns == "bool" else f"{text} > 3"
            rules.append(f"[[rule]]\nid = \"fns.c{k}\"\nstage = \"program\"\nsalience = -1\nwhen = '''{cond}'''\nthen = {{ tag = \"t{k}\" }}\n")
            k += 1
    rs = load_rules_from_text([("fns.toml", "\n".join(rules))])
    catalog = _catalog(
        [
            {"region": r, "min_step2_ck": m, "positions": n, "img_share": s, "tags": t}
            for r, m, n, s, t in [
                ("kern", 230, 8, 0.5, ["img_friendly"]),
                ("la_county", None, 2, None, []),
                ("out_of_state", 245, 12, 0.0, ["safety_net", "img_friendly"]),
                ("kern", 210, 0, 1.0, []),
            ]
        ]
    )
    for step2 in (None, 236):
        profile = _profile(step2)
        native = sr.evaluate(profile, catalog, rs, as_of=2026)
        durable = sr.evaluate(profile, catalog, rs, as_of=2026, engine="durable")
        for pid in ("p0", "p1", "p2", "p3"):
            assert native.get(pid).tags == durable.get(pid).tags, (step2, pid)  # type: ignore[union-attr]


# --- the checker, the lints, the docs and the schema know every builtin ----------------------------


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_the_checker_enforces_each_arity(name: str) -> None:
    spec = BUILTINS[name]
    too_few = f"{name}()"
    _t, diags, _c = check_expression(parse_expression(too_few), "profile", want=None)
    assert [d.code for d in diags] == ["type_error"] and spec.takes() in diags[0].message, diags
    assert diags[0].help == spec.usage()
    if spec.max_args is not None:
        args = ", ".join(["1"] * (spec.max_args + 1))
        _t, diags, _c = check_expression(parse_expression(f"{name}({args})"), "profile", want=None)
        assert [d.code for d in diags] == ["type_error"], diags


def test_an_unknown_function_lists_every_builtin() -> None:
    _t, diags, _c = check_expression(parse_expression("cout(applicant.usce)"), "profile")
    assert diags[0].code == "unknown_function" and diags[0].suggestion == "count"
    assert diags[0].help is not None
    for name in BUILTINS:
        assert re.search(rf"\b{name}\b", diags[0].help), name


@pytest.mark.parametrize("name", sorted(n for n, s in BUILTINS.items() if s.value_range is not None))
def test_each_lint_range_holds_what_the_function_returns(name: str) -> None:
    # every value the interpreter computes for the cases lies within the range the lints assume
    catalog = _catalog(
        [
            {"region": "kern", "min_step2_ck": 230, "positions": 8, "img_share": 0.5, "tags": ["img_friendly"]},
            {"region": "la_county", "positions": 0, "img_share": 1.0},
        ]
    )
    for text in PROGRAM_CASES[name]:
        e = parse_expression(text)
        r = expr_range(e)
        for step2 in (200, 260):
            for p in catalog.programs:
                v = evaluate_expr(e, Scope(applicant=_profile(step2), program=p, as_of_year=2026, tags=frozenset({"big"})))
                if v is not None:
                    assert r.lo <= v <= r.hi, (text, v, r)


def test_the_docs_table_lists_every_builtin() -> None:
    text = (ROOT / "docs" / "rule-language.md").read_text(encoding="utf-8")
    table = text.split("<!-- generated:functions -->", 1)[1].split("<!-- /generated:functions -->", 1)[0]
    for spec in BUILTINS.values():
        for form in spec.forms:
            assert f"`{form}`" in table, form
        assert spec.doc in table


def test_the_schema_knows_every_builtin() -> None:
    expression = rule_file_schema()["$defs"]["expression"]
    for spec in BUILTINS.values():
        for form in spec.forms:
            assert form in expression["description"]
    validator = jsonschema.Draft202012Validator(rule_file_schema())

    def when(cond: str) -> dict[str, Any]:
        return {"ruleset": {"name": "t"}, "rule": [{"id": "a.b", "stage": "program", "when": cond, "then": {"tag": "x"}}]}

    for name, cases in PROGRAM_CASES.items():
        for case in cases:
            assert not list(validator.iter_errors(when(case))), case
        assert list(validator.iter_errors(when(f"{name}x(applicant.usce) > 1"))), name
    # everywhere an expression is written: when, odds, breadth, groups, levers, properties
    for data in (
        when("cout(applicant.usce) > 1"),
        {"ruleset": {"name": "t"}, "rule": [{"id": "a.b", "stage": "program", "when": "true", "then": {"odds": "ecks(1)"}}]},
        {"ruleset": {"name": "t"}, "group": [{"name": "g", "programs": "lenn(program.tags) > 1"}]},
        {"ruleset": {"name": "t"}, "lever": [{"id": "a.b", "title": "T", "set": ["x = 1"], "when": "hass('x')"}]},
        {"ruleset": {"name": "t"}, "property": [{"id": "a.b", "holds": "size(result.chosen) > 1"}]},
    ):
        assert list(validator.iter_errors(data)), data


def test_sources_print_back_with_the_registry_names() -> None:
    for cases in PROGRAM_CASES.values():
        for case in cases:
            assert parse_expression(to_source(parse_expression(case))) == parse_expression(case)
