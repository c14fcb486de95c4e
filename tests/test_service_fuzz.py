"""Property-based fuzzing of the example service (examples/service) through Starlette's test client.

The one property (issue 11): whatever the request — any JSON or bytes as the body, any
content type, headers, query string, method or path — the service answers a 2xx with the
result, or a 4xx whose body is JSON ``{"error": ..., "diagnostics": [...]}`` with every
diagnostic coded and located (a field path, or a file such as ``<request body>`` with its
line). Never a 500, never a non-JSON refusal. Valid-looking profiles are perturbed as a
careless client would (a value replaced, a key dropped or misspelt, a raw JSON token such as
``NaN``, a 5,000-digit number or a lone surrogate escape spliced in), so the evaluator sees
what the checks let through.

The budget is bounded for CI; ``SMARTPICK_FUZZ_SCALE=20`` multiplies every example count.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the service example needs Starlette (pip install -e '.[service]')")
pytest.importorskip("uvicorn", reason="the service example needs uvicorn (pip install -e '.[service]')")
if importlib.util.find_spec("httpx2") is None and importlib.util.find_spec("httpx") is None:
    pytest.skip("Starlette's test client needs httpx2 (or httpx)", allow_module_level=True)

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from test_cli_support import PROFILES, REPO, SMALL_CATALOG, write_mini

pytestmark = pytest.mark.slow  # run by CI and `pytest -m slow`

SCALE = float(os.environ.get("SMARTPICK_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> Any:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=timedelta(seconds=30),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
        derandomize=SCALE == 1,  # CI: the same examples every run; long runs explore
        database=None,
    )


def _load_app_module() -> Any:
    name = "smartpick_service_example"
    if name in sys.modules:  # loaded by test_service.py already
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "service" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


app_module = _load_app_module()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    rules = write_mini(tmp_path_factory.mktemp("service_fuzz"))
    # a deadline far beyond any evaluation here, so a 503 could only mean a bug
    settings_ = app_module.Settings(rules_only=(str(rules),), catalog=str(SMALL_CATALOG), as_of=2026, workers=1, queue=8, deadline=120)
    app = app_module.create_app(settings_)
    try:
        with TestClient(app) as c:
            yield c
    finally:
        app.state.pool.shutdown()


def check(r: Any) -> None:
    """The property every answer must have."""
    assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text[:2000])
    assert r.headers["content-type"] == "application/json", r.headers
    body = r.json()
    if r.status_code == 200:
        assert isinstance(body, dict) and "programs" in body
        return
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    diagnostics = body.get("diagnostics")
    assert isinstance(diagnostics, list) and diagnostics, body
    for d in diagnostics:
        assert isinstance(d.get("code"), str) and d["code"], d
        assert isinstance(d.get("message"), str) and d["message"], d
        assert d.get("file") or d.get("field_path"), d  # says where
        if d.get("file") == "<request body>" and d.get("field_path"):
            assert d["line"] >= 1, d  # a field in the body is placed at its line


# --- strategies --------------------------------------------------------------------------------

BASE_PROFILES = [tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(PROFILES.glob("*.toml"))]

#: raw JSON text no Python value serialises to, spliced in where a value goes
RAW_TOKENS = [
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000, "1" * 41, "-0", "1E+2", "0.1e-400",
    '"\\ud800"', '"\\udfff\\ud800"', '"a\\u0000b"', '"\\u202e"', '"\\ufeff"',
    "[" * 60 + "]" * 60, '{"a": 1, "a": 2}', '{"": {"": {"": []}}}', "true", "null", '""', "[]", "{}",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["j1", "J1", "h1b", "none", "hands_on", "hands-on", "la_county", "internal_medicine", "", " ", "2021"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)

PLACEHOLDER = "\x00raw\x00"


def leaf_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += leaf_paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += leaf_paths(v, (*prefix, i))
    return out


def replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = replaced(data[path[0]], path[1:], value)
    return copy


@st.composite
def profile_texts(draw: st.DrawFn) -> str:
    """A real profile, perturbed: values replaced, keys dropped or added, raw tokens spliced."""
    data: Any = json.loads(json.dumps(draw(st.sampled_from(BASE_PROFILES))))
    raw: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        paths = leaf_paths(data)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add", "raw"]))
        parent = path[:-1]
        if action == "delete" and path:
            container: Any = data
            for part in parent:
                container = container[part]
            if isinstance(container, dict):
                container = dict(container)
                container.pop(path[-1], None)
                data = replaced(data, parent, container)
        elif action == "add":
            target: Any = data
            for part in path:
                target = target[part]
            if isinstance(target, dict):
                key = draw(st.sampled_from(["vias", "step2", "graduation", "x", "$schema", "visa"]) | st.text(max_size=8))
                data = replaced(data, path, {**target, key: draw(json_values)})
        elif action == "raw":
            raw.append(draw(st.sampled_from(RAW_TOKENS)))
            data = replaced(data, path, PLACEHOLDER + str(len(raw) - 1))
        else:
            data = replaced(data, path, draw(json_values))
    text = json.dumps(data, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    for i, token in enumerate(raw):
        text = text.replace(json.dumps(PLACEHOLDER + str(i)), token)
    return text


def corrupted(text: str, data: st.DataObject) -> bytes:
    body = bytearray(text.encode("utf-8", "surrogatepass"))
    for _ in range(data.draw(st.integers(1, 3))):
        if not body:
            break
        at = data.draw(st.integers(0, len(body) - 1))
        how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if how == "flip":
            body[at] = data.draw(st.integers(0, 255))
        elif how == "cut":
            del body[at:]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    return bytes(body)


CONTENT_TYPES = [
    None, "application/json", "application/json; charset=utf-8", "application/problem+json",
    "application/json; charset=latin-1", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz", "application/JSON", "application/json;charset=", "*/*", "",
]
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
query_keys = st.sampled_from(["as_of", "asof", "year", "", "as_of[]"]) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="&=#"), max_size=8)
query_values = st.sampled_from(["2026", "1899", "2201", "0", "-1", "\uff12\uff10\uff12\uff16", "2026.0", "", "9" * 30]) | st.text(max_size=10)


# --- properties --------------------------------------------------------------------------------


@fuzz_settings(150)
@given(profile_texts(), st.sampled_from(CONTENT_TYPES))
def test_perturbed_profiles(client: Any, text: str, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type is not None else {}
    check(client.post("/evaluate", content=text.encode("utf-8", "surrogatepass"), headers=headers))


@fuzz_settings(120)
@given(json_values)
def test_any_json_value_as_the_body(client: Any, value: Any) -> None:
    check(client.post("/evaluate", content=json.dumps(value).encode(), headers={"content-type": "application/json"}))


@fuzz_settings(120)
@given(profile_texts(), st.data())
def test_corrupted_bodies(client: Any, text: str, data: st.DataObject) -> None:
    check(client.post("/evaluate", content=corrupted(text, data), headers={"content-type": "application/json"}))


@fuzz_settings(100)
@given(st.binary(max_size=600))
def test_any_bytes_as_the_body(client: Any, body: bytes) -> None:
    check(client.post("/evaluate", content=body, headers={"content-type": "application/json"}))


@fuzz_settings(100)
@given(
    st.lists(st.tuples(query_keys, query_values), max_size=3),
    st.one_of(st.none(), st.sampled_from(CONTENT_TYPES[1:]), header_values),
    st.dictionaries(st.sampled_from(["x-anything", "accept", "accept-encoding", "expect", "content-encoding", "transfer-encoding-x", "user-agent"]), header_values, max_size=3),
)
def test_query_strings_and_headers(client: Any, query: list[tuple[str, str]], content_type: str | None, extra: dict[str, str]) -> None:
    headers = dict(extra)
    if content_type is not None:
        headers["content-type"] = content_type
    body = json.dumps(BASE_PROFILES[0]).encode()
    check(client.post("/evaluate", params=query, content=body, headers=headers))


@fuzz_settings(60)
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    st.sampled_from(["/", "/evaluate", "/evaluate/", "/rulesets", "/health", "/EVALUATE", "/%00", "/../etc/passwd", "/evaluate%2f", "//evaluate"])
    | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#"), max_size=20).map(lambda s: "/" + s),
)
def test_any_method_and_path(client: Any, method: str, path: str) -> None:
    r = client.request(method, path, content=b"{}", headers={"content-type": "application/json"})
    if method == "HEAD" or (r.status_code == 200 and path.rstrip("/") in ("/health", "/rulesets")):
        assert r.status_code < 500
        return
    check(r)


@pytest.mark.parametrize("token", RAW_TOKENS)
def test_every_raw_token_in_every_field_of_a_profile(client: Any, token: str) -> None:
    # exhaustive over the fields of one profile, where the fuzzing samples
    base = BASE_PROFILES[0]
    for key in base:
        text = json.dumps({**base, key: PLACEHOLDER}).replace(json.dumps(PLACEHOLDER), token)
        check(client.post("/evaluate", content=text.encode(), headers={"content-type": "application/json"}))
