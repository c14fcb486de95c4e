"""The example service against its own OpenAPI description (GET /openapi.json), with schemathesis.

schemathesis generates requests from the description (profiles from the library's profile
schema, and negative data: wrong types, missing fields, bad ``as_of``) and checks every answer:
no server error, a documented status, the documented content type and response schema.
Skipped where schemathesis is not installed (the ``dev`` extra has it).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the service example needs Starlette (pip install -e '.[service]')")
pytest.importorskip("uvicorn", reason="the service example needs uvicorn (pip install -e '.[service]')")
pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from test_cli_support import REPO, SMALL_CATALOG, write_mini

pytestmark = pytest.mark.slow  # run by CI and `pytest -m slow`


def _app_module() -> Any:
    name = "smartpick_service_example"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "service" / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    module = _app_module()
    rules = write_mini(tmp_path_factory.mktemp("service_openapi"))
    # a deadline far beyond any evaluation here: a 503 would be a finding, not load
    application = module.create_app(module.Settings(rules_only=(str(rules),), catalog=str(SMALL_CATALOG), as_of=2026, workers=1, deadline=120))
    yield application
    application.state.pool.shutdown()


@pytest.fixture(scope="module")
def api_schema(app: Any) -> Any:
    # the hypothesis strategies, not schemathesis's pytest plugin: its lazy fixture loading
    # reads a pytest internal (Node._nodeid) that pytest 9 no longer has
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_description_is_valid_openapi(app: Any) -> None:
    from starlette.testclient import TestClient

    with TestClient(app) as c:
        doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/evaluate", "/rulesets", "/health", "/openapi.json"}
    profile = doc["components"]["schemas"]["Profile"]
    assert "graduation_year" in profile["required"] and "$defs" not in profile


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.mark.parametrize(("path", "method"), [("/evaluate", "POST"), ("/rulesets", "GET"), ("/health", "GET"), ("/openapi.json", "GET")])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
@given(data=st.data())
def test_every_answer_matches_the_description(api_schema: Any, path: str, method: str, data: st.DataObject) -> None:
    # positive_data_acceptance is left out on purpose: the schema describes shape, and the
    # library may still refuse a well-shaped profile (422), as its own docs say
    case = data.draw(api_schema[path][method].as_strategy())
    case.call_and_validate(checks=CHECKS)
