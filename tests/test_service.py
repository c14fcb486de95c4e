"""The embedding example (examples/service): Starlette's test client, concurrent requests included."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the service example needs Starlette (pip install -e '.[service]')")
if importlib.util.find_spec("httpx2") is None and importlib.util.find_spec("httpx") is None:
    pytest.skip("Starlette's test client needs httpx2 (or httpx)", allow_module_level=True)

from starlette.testclient import TestClient

import smartpick_rules as sr
from test_cli_support import PROFILES, REPO, SMALL_CATALOG, write_mini


def _load_app_module() -> ModuleType:
    path = REPO / "examples" / "service" / "app.py"
    spec = importlib.util.spec_from_file_location("smartpick_service_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


app_module = _load_app_module()


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini(tmp_path_factory.mktemp("service"))


@pytest.fixture(scope="module")
def client(rules_dir: Path) -> Any:
    app = app_module.create_app([rules_dir], SMALL_CATALOG, as_of=2026)
    with TestClient(app) as c:
        yield c


def _profile(name: str) -> dict[str, Any]:
    return tomllib.loads((PROFILES / name).read_text(encoding="utf-8"))


def _expected(rules_dir: Path, profile: dict[str, Any]) -> dict[str, Any]:
    rec = sr.evaluate(profile, sr.load_catalog(SMALL_CATALOG), sr.load_rules(rules_dir), as_of=2026)
    return json.loads(rec.to_json())


def test_health(client: Any) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.text == "ok"


def test_rulesets(client: Any, rules_dir: Path) -> None:
    r = client.get("/rulesets")
    assert r.status_code == 200
    data = r.json()
    rs = sr.load_rules(rules_dir)
    assert data["rulesets"] == [{"name": "mini", "version": "1.2.0", "sha256": rs.rulesets[0].sha256}]
    assert data["rules"] == len(rs) and data["engine"] == "native"
    assert data["catalog"] == {"programs": len(sr.load_catalog(SMALL_CATALOG)), "source": SMALL_CATALOG.name}


def test_evaluate_returns_the_recommendation_json(client: Any, rules_dir: Path) -> None:
    profile = _profile("default.toml")
    r = client.post("/evaluate", json=profile)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == _expected(rules_dir, profile)
    back = sr.Recommendation.from_json(r.text)
    assert back.provenance.rulesets[0].name == "mini"


def test_as_of_query_parameter(client: Any) -> None:
    r = client.post("/evaluate?as_of=2030", json={"graduation_year": 2020})
    assert r.status_code == 200 and r.json()["provenance"]["as_of_year"] == 2030
    r = client.post("/evaluate?as_of=soon", json={"graduation_year": 2020})
    assert r.status_code == 422


def test_a_bad_profile_is_422_with_diagnostics(client: Any) -> None:
    r = client.post("/evaluate", json={"graduation_year": 2020, "step2_ck": {"score": "high"}, "visa": "j3"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid profile"
    paths = {d["field_path"] for d in body["diagnostics"]}
    assert "$.step2_ck.score" in paths and "$.visa" in paths
    assert all(d["severity"] == "error" and d["code"] for d in body["diagnostics"])


def test_a_missing_required_field_is_422(client: Any) -> None:
    r = client.post("/evaluate", json={"languages": ["Spanish"]})
    assert r.status_code == 422
    assert any("graduation_year" in (d["field_path"] or "") + d["message"] for d in r.json()["diagnostics"])


@pytest.mark.parametrize(("body", "status"), [(b"{not json", 400), (b"[1, 2]", 422), (b'"text"', 422)])
def test_malformed_bodies(client: Any, body: bytes, status: int) -> None:
    r = client.post("/evaluate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert r.json()["diagnostics"]


def test_a_huge_body_is_refused(client: Any) -> None:
    r = client.post("/evaluate", content=b" " * (app_module.MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_concurrent_requests_give_the_serial_results(client: Any, rules_dir: Path) -> None:
    profiles = [_profile(p.name) for p in sorted(PROFILES.glob("*.toml"))]
    expected = [_expected(rules_dir, p) for p in profiles]
    jobs = [(k % len(profiles)) for k in range(48)]

    def call(k: int) -> tuple[int, dict[str, Any]]:
        r = client.post("/evaluate", json=profiles[k])
        assert r.status_code == 200, r.text
        return k, r.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, jobs))
    for k, data in results:
        assert data == expected[k]


def test_the_shipped_defaults_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_cli_support import shipped_rules_load

    reason = shipped_rules_load()
    if reason:
        pytest.skip(reason)
    monkeypatch.delenv("SMARTPICK_RULES", raising=False)
    monkeypatch.setenv("SMARTPICK_CATALOG", str(SMALL_CATALOG))
    app = app_module.create_app(as_of=2026)
    with TestClient(app) as c:
        data = c.get("/rulesets").json()
        assert [r["name"] for r in data["rulesets"]][:1] == ["base"]
        r = c.post("/evaluate", json=_profile("default.toml"))
        assert r.status_code == 200 and r.json()["breadth"]["chosen"]
